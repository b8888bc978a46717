import { readFile } from 'node:fs/promises';
import { platform } from 'node:os';
import si from 'systeminformation';
import type { Metric } from '../../src/contract/schemas.ts';
import { parseMeminfo } from './mem.ts';
import { round, type Source } from './types.ts';

export function swapMetric(totalBytes: number, usedBytes: number): Metric {
  return { name: 'swap', fields: { total_bytes: totalBytes, used_bytes: usedBytes, used_pct: totalBytes > 0 ? round((usedBytes / totalBytes) * 100) : 0 } };
}

export function swapMetricFromMeminfo(info: Map<string, number>): Metric {
  const total = info.get('SwapTotal') ?? 0;
  return swapMetric(total, total - (info.get('SwapFree') ?? 0));
}

/** Pure: si.mem() output; on Windows its swap figures are the page files (Win32_PageFileUsage). */
export function swapMetricFromSi(mem: { swaptotal: number; swapused: number }): Metric {
  return swapMetric(mem.swaptotal, mem.swapused);
}

const isLinux = platform() === 'linux';

export const swapSource: Source = {
  name: 'swap',
  // Outside Linux the page file size comes from PowerShell: slow cadence only.
  cadence: isLinux ? 'fast' : 'slow',
  async collect() {
    if (isLinux) return [swapMetricFromMeminfo(parseMeminfo(await readFile('/proc/meminfo', 'utf8')))];
    return [swapMetricFromSi(await si.mem())];
  },
};
