import { readFile } from 'node:fs/promises';
import { platform } from 'node:os';
import type { Metric } from '../../src/contract/schemas.ts';
import { ratePerSecond, round, type Source } from './types.ts';

export interface DiskTotals {
  readBytes: number;
  writeBytes: number;
  reads: number;
  writes: number;
}

/** Pure: /proc/diskstats → totals over whole physical disks (partitions and virtual devices left out to avoid double counting). */
export function parseDiskstats(text: string): DiskTotals {
  const totals: DiskTotals = { readBytes: 0, writeBytes: 0, reads: 0, writes: 0 };
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    const name = f[2];
    if (!name || f.length < 10) continue;
    if (!/^(sd[a-z]+|vd[a-z]+|xvd[a-z]+|hd[a-z]+|nvme\d+n\d+|mmcblk\d+)$/.test(name)) continue;
    totals.reads += Number(f[3]);
    totals.readBytes += Number(f[5]) * 512;
    totals.writes += Number(f[7]);
    totals.writeBytes += Number(f[9]) * 512;
  }
  return totals;
}

export function diskioMetric(previous: DiskTotals | undefined, current: DiskTotals, elapsedMs: number): Metric | undefined {
  const readBps = ratePerSecond(previous?.readBytes, current.readBytes, elapsedMs);
  const writeBps = ratePerSecond(previous?.writeBytes, current.writeBytes, elapsedMs);
  const readIops = ratePerSecond(previous?.reads, current.reads, elapsedMs);
  const writeIops = ratePerSecond(previous?.writes, current.writes, elapsedMs);
  if (readBps === undefined || writeBps === undefined || readIops === undefined || writeIops === undefined) return undefined;
  return { name: 'diskio', fields: { read_bps: round(readBps), write_bps: round(writeBps), read_iops: round(readIops), write_iops: round(writeIops) } };
}

let last: { at: number; totals: DiskTotals } | undefined;

export function diskioSourceFor(os: NodeJS.Platform): Source {
  return {
    name: 'diskio',
    cadence: 'fast',
    async collect() {
      // Windows exposes disk counters only through WMI/PowerShell: not on the fast path (docs/agent.md).
      if (os !== 'linux') return [];
      const now = Date.now();
      const totals = parseDiskstats(await readFile('/proc/diskstats', 'utf8'));
      const metric = diskioMetric(last?.totals, totals, now - (last?.at ?? now));
      last = { at: now, totals };
      return metric ? [metric] : [];
    },
  };
}

export const diskioSource: Source = diskioSourceFor(platform());
