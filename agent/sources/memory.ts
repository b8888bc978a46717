import { readFile } from 'node:fs/promises';
import { freemem, platform, totalmem } from 'node:os';
import type { Metric } from '../../src/contract/schemas.ts';
import { round, type Source } from './types.ts';

/** Pure: /proc/meminfo text → mem and swap metrics. */
export function parseMeminfo(text: string): Metric[] {
  const kb = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)/.exec(line);
    if (m) kb.set(m[1]!, Number(m[2]) * 1024);
  }
  const total = kb.get('MemTotal') ?? 0;
  const available = kb.get('MemAvailable') ?? (kb.get('MemFree') ?? 0) + (kb.get('Cached') ?? 0);
  const used = total - available;
  const metrics: Metric[] = [{ name: 'mem', fields: { total_bytes: total, used_bytes: used, available_bytes: available, used_pct: total ? round((used / total) * 100) : 0 } }];
  const swapTotal = kb.get('SwapTotal') ?? 0;
  const swapUsed = swapTotal - (kb.get('SwapFree') ?? 0);
  metrics.push({ name: 'swap', fields: { total_bytes: swapTotal, used_bytes: swapUsed, used_pct: swapTotal ? round((swapUsed / swapTotal) * 100) : 0 } });
  return metrics;
}

export const memorySource: Source = {
  name: 'memory',
  cadence: 'fast',
  async collect() {
    if (platform() === 'linux') return parseMeminfo(await readFile('/proc/meminfo', 'utf8'));
    // Elsewhere the os module answers without spawning; swap comes with the slow cadence on Windows.
    const total = totalmem();
    const available = freemem();
    return [{ name: 'mem', fields: { total_bytes: total, used_bytes: total - available, available_bytes: available, used_pct: round(((total - available) / total) * 100) } }];
  },
};
