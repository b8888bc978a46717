import type { MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';
import { connectClient, publish } from './helpers/mqtt-client.ts';
import { startInfluxDB, waitFor, type InfluxServer } from './helpers/servers.ts';

// InfluxDB down for two minutes under a steady stream, and the collector killed with SIGKILL in
// the middle of the outage: every message the broker acknowledged must end up in InfluxDB
// exactly once. Real processes, killed for real.

const DB = 'monitoring';
const OUTAGE_MS = 120_000;
const RATE_MS = 50; // 20 messages a second, 3 points each

const message = (ts: number, seq: number) => ({
  v: 1,
  ts,
  seq,
  metrics: [
    { name: 'cpu', fields: { usage_pct: seq % 100, load1: 0.5 } },
    { name: 'mem', fields: { used_pct: 40 } },
    { name: 'net', tags: { iface: 'eno1' }, fields: { rx_bps: seq, up: true } },
  ],
});

describe('durable spool: InfluxDB outage plus a collector crash', () => {
  let influx: InfluxServer;
  let collector: CollectorProcess;
  let device: MqttClient;
  afterAll(async () => {
    device?.end(true);
    await collector?.stop();
    await influx?.stop();
  });

  it('loses nothing and duplicates nothing', { timeout: OUTAGE_MS + 120_000 }, async () => {
    influx = await startInfluxDB();
    const config = { storage: { type: 'influx-v1', url: influx.url, database: DB, timeoutMs: 2_000 }, queue: { flushIntervalMs: 200, batchSize: 500 } };
    collector = await startCollectorProcess(config);
    device = await connectClient(collector.mqttUrl!, { clientId: 'merkez.srv-steady', reconnectPeriod: 300 });

    // The device publishes one QoS 1 message at a time and counts it only when the broker acknowledged it.
    const base = Date.now() - 3_600_000;
    let acknowledged = 0;
    let stopped = false;
    const stream = (async () => {
      for (let seq = 0; !stopped; seq++) {
        await publish(device, 'muni/v1/merkez/srv-steady/metrics', message(base + seq * 1000, seq));
        acknowledged++;
        await new Promise((r) => setTimeout(r, RATE_MS));
      }
    })();

    await waitFor('first points stored', async () => (await count(influx)) > 20, 20_000);
    await influx.kill();
    const outageStart = Date.now();
    await new Promise((r) => setTimeout(r, OUTAGE_MS / 2));
    const beforeCrash = acknowledged;
    await collector.stop('SIGKILL');
    collector = await startCollectorProcess(config, collector);
    await new Promise((r) => setTimeout(r, Math.max(0, outageStart + OUTAGE_MS - Date.now())));
    // Both halves of the outage carried traffic: the crash did not stop the stream for good.
    expect(beforeCrash).toBeGreaterThan(200);
    expect(acknowledged - beforeCrash).toBeGreaterThan(200);
    expect(await collector.metric('collector_queue_depth')).toBeGreaterThan(1000);
    await influx.restart();
    await new Promise((r) => setTimeout(r, 2_000));
    stopped = true;
    await stream;

    const expected = acknowledged;
    await waitFor(`all ${expected} messages in InfluxDB`, async () => (await count(influx)) >= expected, 60_000);
    // Every acknowledged message once: exactly one cpu point per timestamp sent, none missing.
    expect(await count(influx)).toBe(expected);
    const times = (await influx.query(DB, `SELECT usage_pct FROM cpu WHERE device = 'srv-steady'`))[0]?.values.map((v) => v[0] as number) ?? [];
    expect(new Set(times).size).toBe(expected);
    expect(times.every((t, i) => t === base + i * 1000)).toBe(true);
    expect(await collector.metric('collector_points_dropped_total')).toBe(0);
    await waitFor('spool drained', async () => (await collector.metric('collector_queue_depth')) === 0, 10_000);
  });
});

async function count(influx: InfluxServer): Promise<number> {
  try {
    const series = await influx.query(DB, `SELECT count(usage_pct) FROM cpu WHERE device = 'srv-steady'`);
    return Number(series[0]?.values[0]?.[1] ?? 0);
  } catch {
    return 0; // the database is created by the collector's first write
  }
}
