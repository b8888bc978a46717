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

/**
 * Pure: interfaces worth a series. Container and VM plumbing (veth…, cali…, vnet…, docker's
 * br-<id>) comes and goes with random names: as tags they would grow the database without bound.
 */
export function isMonitoredIface(name: string): boolean {
  return !/^(lo|veth.*|cali.*|vnet\d+|br-[0-9a-f]{12}|docker\d+|flannel.*|cni\d+|tap.*|Loopback.*)$/.test(name);
}

/** Pure: counters now and before → one `net` metric; rates appear from the second reading on, and not after a counter reset. */
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

/** Pure: the previous reading per interface → this reading's metrics. */
export function netMetrics(current: readonly IfaceCounters[], previous: ReadonlyMap<string, IfaceCounters> | undefined, elapsedMs: number): Metric[] {
  return current.filter((c) => isMonitoredIface(c.iface)).map((c) => netMetric(c, previous?.get(c.iface), elapsedMs));
}

/** Pure: si.networkStats('*') (Get-NetAdapterStatistics on Windows) → counters. It knows no link speed. */
export function countersFromSiNetworkStats(stats: readonly { iface: string; operstate: string; rx_bytes: number; tx_bytes: number; rx_errors: number; tx_errors: number; rx_dropped: number; tx_dropped: number }[]): IfaceCounters[] {
  return stats.map((s) => ({ iface: s.iface, up: s.operstate === 'up', speedMbps: null, rxBytes: s.rx_bytes, txBytes: s.tx_bytes, rxErrors: s.rx_errors, txErrors: s.tx_errors, rxDropped: s.rx_dropped, txDropped: s.tx_dropped }));
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

const isLinux = platform() === 'linux';

async function readCounters(): Promise<IfaceCounters[]> {
  if (isLinux) return Promise.all((await readdir('/sys/class/net')).filter(isMonitoredIface).map(readLinuxIface));
  return countersFromSiNetworkStats(await si.networkStats('*'));
}

let last: { at: number; byIface: Map<string, IfaceCounters> } | undefined;

export const netSource: Source = {
  name: 'net',
  // Linux reads /sys; elsewhere systeminformation runs PowerShell, so only on the slow cadence
  // (rates are then averages over hardwareIntervalS).
  cadence: isLinux ? 'fast' : 'slow',
  async collect() {
    const now = Date.now();
    const counters = await readCounters();
    const metrics = netMetrics(counters, last?.byIface, now - (last?.at ?? now));
    last = { at: now, byIface: new Map(counters.map((c) => [c.iface, c])) };
    return metrics;
  },
};
