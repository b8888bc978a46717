import { readFile } from 'node:fs/promises';
import { platform } from 'node:os';
import type { Metric } from '../../src/contract/schemas.ts';
import type { Source } from '../sources/types.ts';

/** Pure: /proc/mdstat → one `raid` metric per md array. `[2/1] [U_]` means one of two members is missing. */
export function parseMdstat(text: string): Metric[] {
  const metrics: Metric[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const head = /^(md\d+)\s*:\s*(\w+)(?:\s+\(([^)]*)\))?\s+(\w+)/.exec(lines[i]!);
    if (!head) continue;
    const status = /\[(\d+)\/(\d+)\]\s+\[([U_]+)\]/.exec(lines[i + 1] ?? '');
    const total = status ? Number(status[1]) : 0;
    const active = status ? Number(status[2]) : 0;
    const recovering = /recovery|resync|reshape/.exec(lines[i + 2] ?? '')?.[0];
    const degraded = head[2] !== 'active' || active < total;
    const state = [head[2], degraded ? 'degraded' : 'clean', recovering].filter(Boolean).join(', ');
    metrics.push({ name: 'raid', tags: { instance: head[1]! }, fields: { degraded, active_devices: active, total_devices: total, state } });
  }
  return metrics;
}

export const raidSource: Source = {
  name: 'raid',
  cadence: 'slow',
  async collect() {
    // Windows storage spaces / vendor RAID need vendor tools: not covered yet (docs/agent.md).
    if (platform() !== 'linux') return [];
    const text = await readFile('/proc/mdstat', 'utf8').catch(() => '');
    return parseMdstat(text);
  },
};
