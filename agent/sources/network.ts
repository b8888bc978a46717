import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { platform } from 'node:os';
import si from 'systeminformation';
import type { Metric } from '../../src/contract/schemas.ts';
import { ratePerSecond, round, type Source } from './types.ts';

export interface IfaceCounters {
  iface: string;
  up: boolean;
  speedMbps: number | null;
  rxBytes: number;
  txBytes: number;
  rxErrors: number;
  txErrors: number;
  rxDropped: number;
  txDropped: number;
}

/** Pure: counters now and before → one `net` metric; rates appear from the second reading on. */
export function netMetric(current: IfaceCounters, previous: IfaceCounters | undefined, elapsedMs: number): Metric {
  const fields: Metric['fields'] = {
    up: current.up,
    rx_errors: current.rxErrors,
    tx_errors: current.txErrors,
    rx_dropped: current.rxDropped,
    tx_dropped: current.txDropped,
  };
  if (current.speedMbps !== null && current.speedMbps > 0) fields.speed_mbps = current.speedMbps;
  const rx = ratePerSecond(previous?.rxBytes, current.rxBytes, elapsedMs);
  const tx = ratePerSecond(previous?.txBytes, current.txBytes, elapsedMs);
  if (rx !== undefined) fields.rx_bps = round(rx * 8);
  if (tx !== undefined) fields.tx_bps = round(tx * 8);
  return { name: 'net', tags: { iface: current.iface.slice(0, 128) }, fields };
}

const number = async (path: string) => Number((await readFile(path, 'utf8').catch(() => '')).trim() || Number.NaN);

async function readLinuxIface(iface: string): Promise<IfaceCounters> {
  const dir = join('/sys/class/net', iface);
  const stat = (name: string) => number(join(dir, 'statistics', name)).then((v) => (Number.isNaN(v) ? 0 : v));
  const [operstate, speed, rxBytes, txBytes, rxErrors, txErrors, rxDropped, txDropped] = await Promise.all([
    readFile(join(dir, 'operstate'), 'utf8').catch(() => 'unknown'),
    number(join(dir, 'speed')),
    stat('rx_bytes'),
    stat('tx_bytes'),
    stat('rx_errors'),
    stat('tx_errors'),
    stat('rx_dropped'),
    stat('tx_dropped'),
  ]);
  return { iface, up: operstate.trim() === 'up', speedMbps: Number.isNaN(speed) ? null : speed, rxBytes, txBytes, rxErrors, txErrors, rxDropped, txDropped };
}

async function readCounters(): Promise<IfaceCounters[]> {
  if (platform() === 'linux') {
    const names = (await readdir('/sys/class/net')).filter((n) => n !== 'lo');
    return Promise.all(names.map(readLinuxIface));
  }
  const stats = await si.networkStats('*');
  return stats.map((s) => ({ iface: s.iface, up: s.operstate === 'up', speedMbps: null, rxBytes: s.rx_bytes, txBytes: s.tx_bytes, rxErrors: s.rx_errors, txErrors: s.tx_errors, rxDropped: s.rx_dropped, txDropped: s.tx_dropped }));
}

function networkSource(cadence: Source['cadence'], active: () => boolean): Source {
  let last: { at: number; byIface: Map<string, IfaceCounters> } | undefined;
  return {
    name: `network-${cadence}`,
    cadence,
    async collect() {
      if (!active()) return [];
      const now = Date.now();
      const counters = await readCounters();
      const metrics = counters.map((c) => netMetric(c, last?.byIface.get(c.iface), now - (last?.at ?? now)));
      last = { at: now, byIface: new Map(counters.map((c) => [c.iface, c])) };
      return metrics;
    },
  };
}

// Linux reads /sys on every interval; elsewhere systeminformation spawns PowerShell, so the
// counters are read on the slow cadence instead.
export const networkFastSource = networkSource('fast', () => platform() === 'linux');
export const networkSlowSource = networkSource('slow', () => platform() !== 'linux');
