import type { Metric } from '../../src/contract/schemas.ts';

// A metric family. `fast` sources run every interval and must not spawn processes; `slow`
// ones run on the hardware cadence and may (smartctl, WMI on Windows).
export interface Source {
  name: string;
  cadence: 'fast' | 'slow';
  collect(): Promise<Metric[]>;
}

/** Turns two counter readings into a per-second rate; a counter that went backwards (reboot, wrap) gives no rate. */
export function ratePerSecond(previous: number | undefined, current: number, elapsedMs: number): number | undefined {
  if (previous === undefined || elapsedMs <= 0 || current < previous) return undefined;
  return ((current - previous) * 1000) / elapsedMs;
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
