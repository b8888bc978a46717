import type { Metric } from '../../src/contract/schemas.ts';

// A metric family. `fast` sources run every interval and must not spawn processes; `slow`
// ones run on the hardware cadence and may (smartctl, PowerShell on Windows).
export interface Source {
  name: string;
  cadence: 'fast' | 'slow';
  collect(): Promise<Metric[]>;
}

/** Turns two counter readings into a per-second rate; a counter that went backwards (reboot, wrap, driver reload) gives no rate. */
export function ratePerSecond(previous: number | undefined, current: number, elapsedMs: number): number | undefined {
  if (previous === undefined || elapsedMs <= 0 || current < previous) return undefined;
  return ((current - previous) * 1000) / elapsedMs;
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Rejects when `promise` has not settled after `ms`; the work itself goes on (nothing here can cancel a syscall). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
