import { readFile } from 'node:fs/promises';
import { freemem, platform, totalmem } from 'node:os';
import type { Metric } from '../../src/contract/schemas.ts';
import { round, type Source } from './types.ts';

/** Pure: /proc/meminfo → bytes by key (the file says kB and means KiB). */
export function parseMeminfo(text: string): Map<string, number> {
  const bytes = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)/.exec(line);
    if (m) bytes.set(m[1]!, Number(m[2]) * 1024);
  }
  return bytes;
}

/** Pure: `available` is what can be allocated without swapping, not merely free. */
export function memMetric(totalBytes: number, availableBytes: number): Metric {
  const used = totalBytes - availableBytes;
  return { name: 'mem', fields: { total_bytes: totalBytes, used_bytes: used, available_bytes: availableBytes, used_pct: totalBytes > 0 ? round((used / totalBytes) * 100) : 0 } };
}

/** Pure: kernels before 3.14 have no MemAvailable; free + page cache is the usual estimate there. */
export function memMetricFromMeminfo(info: Map<string, number>): Metric {
  const available = info.get('MemAvailable') ?? (info.get('MemFree') ?? 0) + (info.get('Cached') ?? 0);
  return memMetric(info.get('MemTotal') ?? 0, available);
}

export function memSourceFor(os: NodeJS.Platform): Source {
  return {
    name: 'mem',
    cadence: 'fast',
    async collect() {
      if (os === 'linux') return [memMetricFromMeminfo(parseMeminfo(await readFile('/proc/meminfo', 'utf8')))];
      // Node's os module asks the kernel directly (GlobalMemoryStatusEx on Windows): no process.
      return [memMetric(totalmem(), freemem())];
    },
  };
}

export const memSource: Source = memSourceFor(platform());
