import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { freePort, startProcess, tempDir, waitFor, type ManagedProcess } from '../tests/helpers/servers.ts';

// Shared by the collector benchmarks: the collector as a separate process on loopback, its
// /metrics, and a simulated fleet (lightweight MQTT publishers speaking the real contract).

export function metricsPayload(ts: number, seq: number, n: number): string {
  // Shaped like a real agent's fast message: 7 metrics, ~40 fields.
  return JSON.stringify({
    v: 1,
    ts,
    seq,
    metrics: [
      { name: 'cpu', fields: { usage_pct: (n % 100) + 0.5, user_pct: 10.2, system_pct: 3.1, load1: 0.4, load5: 0.3, load15: 0.2, cores: 4 } },
      { name: 'mem', fields: { total_bytes: 17179869184, used_bytes: 8589934592, available_bytes: 8589934592, used_pct: 50 } },
      { name: 'swap', fields: { total_bytes: 2147483648, used_bytes: 0, used_pct: 0 } },
      { name: 'fs', tags: { mount: '/' }, fields: { size_bytes: 107374182400, used_bytes: 53687091200, free_bytes: 53687091200, used_pct: 50, fstype: 'ext4' } },
      { name: 'fs', tags: { mount: '/var' }, fields: { size_bytes: 107374182400, used_bytes: 10737418240, free_bytes: 96636764160, used_pct: 10, fstype: 'ext4' } },
      { name: 'net', tags: { iface: 'eth0' }, fields: { rx_bps: 120000, tx_bps: 80000, rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0, up: true, speed_mbps: 1000 } },
      { name: 'net', tags: { iface: 'eth1' }, fields: { rx_bps: 1000, tx_bps: 800, rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0, up: true, speed_mbps: 1000 } },
    ],
  });
}
export const POINTS_PER_MESSAGE = 7;
/** One field per measurement of metricsPayload that every point has, and its points per message: counts every stored point. */
export const COUNTED_FIELDS = [
  { measurement: 'cpu', field: 'usage_pct', perMessage: 1 },
  { measurement: 'mem', field: 'used_pct', perMessage: 1 },
  { measurement: 'swap', field: 'used_pct', perMessage: 1 },
  { measurement: 'fs', field: 'used_pct', perMessage: 2 },
  { measurement: 'net', field: 'rx_bps', perMessage: 2 },
] as const;

export interface BenchCollector {
  process: ManagedProcess;
  apiPort: number;
  mqttUrl: string;
  /** The spool file, or ':memory:'. */
  spoolPath: string;
  stop: () => Promise<void>;
}

/**
 * The collector with its production defaults (embedded broker, influx-v1 writer, batches of
 * 5,000, 1 s flush), all state in a temp dir. Device and API authentication are off: security
 * is not what the benchmarks measure.
 */
export async function startBenchCollector(influxUrl: string, spool: 'disk' | 'memory' = 'disk'): Promise<BenchCollector> {
  const dir = tempDir('bench-collector');
  const [mqttPort, apiPort] = [await freePort(), await freePort()];
  const spoolPath = spool === 'disk' ? join(dir, 'spool.sqlite') : ':memory:';
  const config = join(dir, 'collector.yaml');
  writeFileSync(
    config,
    stringify({
      broker: { mode: 'embedded', host: '127.0.0.1', port: mqttPort },
      storage: { type: 'influx-v1', url: influxUrl },
      api: { host: '127.0.0.1', port: apiPort },
      registry: { path: join(dir, 'registry.sqlite') },
      queue: { path: spoolPath },
      security: { path: join(dir, 'security.sqlite'), deviceAuth: 'open', apiAuth: 'open' },
      alerts: { path: join(dir, 'alerts.sqlite'), outboxPath: join(dir, 'outbox.sqlite') },
      uptime: { path: join(dir, 'uptime.sqlite') },
      backups: { path: join(dir, 'backups.sqlite') },
    }),
  );
  const proc = startProcess(process.execPath, ['--disable-warning=ExperimentalWarning', 'collector/main.ts', '--config', config], { env: { ...process.env, LOG_LEVEL: 'warn' } });
  await waitFor('collector', async () => (await fetch(`http://127.0.0.1:${apiPort}/readyz`)).ok);
  return {
    process: proc,
    apiPort,
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    spoolPath,
    stop: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The collector's /metrics (Prometheus text), each family summed over its labels. */
export async function scrapeMetrics(apiPort: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{.*\})? (\S+)$/.exec(line);
    if (match) values.set(match[1]!, (values.get(match[1]!) ?? 0) + Number(match[2]));
  }
  return values;
}

/** Waits until the birth messages are written: the database exists and the queue is empty. */
export async function waitForFirstWrites(apiPort: number): Promise<void> {
  await waitFor('first writes', async () => {
    const m = await scrapeMetrics(apiPort);
    return m.get('collector_points_written_total')! > 0 && m.get('collector_queue_depth') === 0;
  });
}

export interface Fleet {
  site: string;
  ids: string[];
  clients: MqttClient[];
  /** Last timestamp used per device: one point per device and millisecond, so none overwrites another. */
  lastTs: number[];
}

/** Connects `devices` clients as `<site>.<prefix>-<i>`, 100 at a time, each sending its birth message. */
export async function connectFleet(url: string, site: string, prefix: string, devices: number): Promise<Fleet> {
  const ids = Array.from({ length: devices }, (_, i) => `${prefix}-${i}`);
  const clients: MqttClient[] = [];
  for (let i = 0; i < devices; i += 100) {
    const batch = await Promise.all(
      ids.slice(i, i + 100).map(async (id) => {
        const c = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: `${site}.${id}`, reconnectPeriod: 0, keepalive: 120 });
        await c.publishAsync(`muni/v1/${site}/${id}/state`, JSON.stringify({ v: 1, ts: Date.now(), state: 'online', kind: 'pc', intervalS: 10 }), { qos: 1, retain: true });
        return c;
      }),
    );
    clients.push(...batch);
  }
  return { site, ids, clients, lastTs: ids.map(() => 0) };
}

export interface PublishCounts {
  sent: number;
  acked: number;
  failed: number;
  /** Acknowledged messages per device of the fleet. */
  ackedPerDevice: number[];
}

export const publishCounts = (fleet: Fleet): PublishCounts => ({ sent: 0, acked: 0, failed: 0, ackedPerDevice: fleet.ids.map(() => 0) });

/** Publishes one metrics message from device `n` at QoS 1; resolves when it is acknowledged or failed (counted). */
export function publishMetrics(fleet: Fleet, n: number, counts: PublishCounts): Promise<void> {
  const ts = Math.max(Date.now(), fleet.lastTs[n]! + 1);
  fleet.lastTs[n] = ts;
  const seq = counts.sent++;
  return new Promise((resolve) => {
    fleet.clients[n]!.publish(`muni/v1/${fleet.site}/${fleet.ids[n]}/metrics`, metricsPayload(ts, seq, n), { qos: 1 }, (error) => {
      if (error) counts.failed++;
      else {
        counts.acked++;
        counts.ackedPerDevice[n]!++;
      }
      resolve();
    });
  });
}

/** Publishes `rate` messages a second round-robin over the fleet, in 50 ms ticks, until `stop(tick)`; acknowledgements are not awaited. */
export async function publishAtRate(fleet: Fleet, rate: number, counts: PublishCounts, stop: (tick: number) => boolean): Promise<void> {
  const start = Date.now();
  const perTick = rate / 20;
  for (let tick = 0; !stop(tick); tick++) {
    const due = start + tick * 50;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    const count = Math.round(perTick * (tick + 1)) - Math.round(perTick * tick);
    for (let k = 0; k < count; k++) void publishMetrics(fleet, counts.sent % fleet.clients.length, counts);
  }
}

export function closeFleet(fleet: Fleet): void {
  for (const c of fleet.clients) c.end(true);
}
