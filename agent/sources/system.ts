import { readdir } from 'node:fs/promises';
import { platform, uptime } from 'node:os';
import type { Metric } from '../../src/contract/schemas.ts';
import type { Source } from './types.ts';

/** Boot time rounded to 10 s: uptime and clock are read at slightly different moments. */
export function bootTimeMs(now: number, uptimeS: number): number {
  return Math.round((now - uptimeS * 1000) / 10_000) * 10_000;
}

export function systemMetric(now: number, uptimeS: number, processes: number | undefined): Metric {
  const fields: Metric['fields'] = { uptime_s: Math.round(uptimeS), boot_time_ms: bootTimeMs(now, uptimeS) };
  if (processes !== undefined) fields.processes = processes;
  return { name: 'system', fields };
}

export function systemSourceFor(os: NodeJS.Platform): Source {
  return {
    name: 'system',
    cadence: 'fast',
    async collect() {
      const processes = os === 'linux' ? (await readdir('/proc')).filter((d) => /^\d+$/.test(d)).length : undefined;
      return [systemMetric(Date.now(), uptime(), processes)];
    },
  };
}

export const systemSource: Source = systemSourceFor(platform());
