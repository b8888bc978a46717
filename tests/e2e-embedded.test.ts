import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { birth, rebootEvent, serverHardwareMetrics } from './fixtures/recorded-devices.ts';
import { startAgentProcess } from './helpers/agent-process.ts';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';
import { connectClient, publish } from './helpers/mqtt-client.ts';
import { startInfluxDB, waitFor, type InfluxServer, type ManagedProcess } from './helpers/servers.ts';

// The whole spine on real servers: a real agent process → the collector's embedded broker →
// InfluxDB 1.6.7, the registry and the HTTP API; then hostile input against the same collector.

const DB = 'monitoring';
const SITE = 'merkez';

async function countPoints(influx: InfluxServer, q: string): Promise<number> {
  const series = await influx.query(DB, q);
  return Number(series[0]?.values[0]?.[1] ?? 0);
}

describe('agent → embedded broker → collector → InfluxDB', () => {
  let influx: InfluxServer;
  let collector: CollectorProcess;
  let agent: ManagedProcess;
  let device: MqttClient;

  beforeAll(async () => {
    influx = await startInfluxDB();
    collector = await startCollectorProcess({ storage: { type: 'influx-v1', url: influx.url, database: DB }, queue: { flushIntervalMs: 200 } });
    agent = startAgentProcess({ site: SITE, device: 'srv-e2e', mqttUrl: collector.mqttUrl! });
  });
  afterAll(async () => {
    device?.end(true);
    await agent?.stop('SIGKILL');
    await collector?.stop();
    await influx?.stop();
  });

  it('stores the real agent’s health samples in InfluxDB with site/device/kind tags', async () => {
    await waitFor('cpu points of srv-e2e', async () => (await countPoints(influx, `SELECT count(usage_pct) FROM cpu WHERE device = 'srv-e2e'`)) >= 2, 30_000);
    const cpu = await influx.query(DB, `SELECT last(usage_pct) FROM cpu WHERE device = 'srv-e2e' GROUP BY site, kind`);
    expect(cpu[0]?.tags).toEqual({ site: SITE, kind: 'server' });
    const value = cpu[0]?.values[0]?.[1];
    expect(typeof value).toBe('number');
    expect(value as number).toBeGreaterThanOrEqual(0);
    expect(value as number).toBeLessThanOrEqual(100);
    // every family the agent collects on any Linux machine
    for (const measurement of ['mem', 'fs', 'net', 'system']) {
      expect(await influx.query(DB, `SELECT * FROM ${measurement} WHERE device = 'srv-e2e' LIMIT 1`), measurement).not.toHaveLength(0);
    }
    const mounts = await influx.query(DB, `SHOW TAG VALUES FROM fs WITH KEY = "mount" WHERE device = 'srv-e2e'`);
    expect(mounts[0]?.values.map((v) => v[1])).toContain('/');
  });

  it('registers the device with its inventory, queryable over the API', async () => {
    await waitFor('inventory in the registry', async () => {
      const response = await fetch(`${collector.apiUrl}/api/v1/devices/${SITE}/srv-e2e/inventory`);
      return response.ok;
    });
    const detail = (await (await fetch(`${collector.apiUrl}/api/v1/devices/${SITE}/srv-e2e`)).json()) as Record<string, unknown>;
    expect(detail).toMatchObject({ site: SITE, device: 'srv-e2e', kind: 'server', online: true });
    const inventory = (await (await fetch(`${collector.apiUrl}/api/v1/devices/${SITE}/srv-e2e/inventory`)).json()) as { os?: { platform?: string } };
    expect(JSON.stringify(inventory)).toContain('linux');
    const state = await influx.query(DB, `SELECT last(online) FROM device_state WHERE device = 'srv-e2e'`);
    expect(state[0]?.values[0]?.[1]).toBe(1);
  });

  it('marks the agent offline from its last will when it is killed', async () => {
    await agent.stop('SIGKILL');
    await waitFor('offline state in InfluxDB', async () => {
      const rows = await influx.query(DB, `SELECT last(online), reason FROM device_state WHERE device = 'srv-e2e'`);
      return rows[0]?.values[0]?.[1] === 0;
    }, 20_000);
    const rows = await influx.query(DB, `SELECT online, reason FROM device_state WHERE device = 'srv-e2e' ORDER BY time DESC LIMIT 1`);
    expect(rows[0]?.values[0]?.[2]).toBe('lwt');
    const detail = (await (await fetch(`${collector.apiUrl}/api/v1/devices/${SITE}/srv-e2e`)).json()) as Record<string, unknown>;
    expect(detail.online).toBe(false);
  });

  it('refuses hostile input with a counted reason and keeps serving', async () => {
    device = await connectClient(collector.mqttUrl!, { clientId: 'kiosk-01' });
    const ts = Date.now();
    const before = {
      json: await collector.metric('collector_messages_rejected_total{reason="json"}'),
      schema: await collector.metric('collector_messages_rejected_total{reason="schema"}'),
      topic: await collector.metric('collector_messages_rejected_total{reason="topic"}'),
    };
    await publish(device, `muni/v1/${SITE}/kiosk-01/metrics`, '{"v":1,"ts":');
    await publish(device, `muni/v1/${SITE}/kiosk-01/metrics`, { v: 1, ts, metrics: [{ name: 'cpu', fields: { usage_pct: 'çok' .repeat(200) } }] });
    await publish(device, `muni/v1/${SITE}/kiosk-01/metrics`, { v: 1, ts, metrics: [{ name: 'cpu', tags: { user: 'ayse.yilmaz' }, fields: { usage_pct: 1 } }] });
    await publish(device, `muni/v1/${SITE}/kiosk-01/gizli`, { v: 1, ts });
    await publish(device, 'rastgele/konu', 'merhaba');
    await publish(device, `muni/v1/${SITE}/kiosk-01/metrics`, Buffer.from([0xff, 0xfe, 0x00, 0x01]));
    // the same client's good message after all that still lands
    await publish(device, `muni/v1/${SITE}/kiosk-01/metrics`, { v: 1, ts: ts + 1, metrics: [{ name: 'cpu', fields: { usage_pct: 42 } }] });

    await waitFor('good kiosk point', async () => (await countPoints(influx, `SELECT count(usage_pct) FROM cpu WHERE device = 'kiosk-01'`)) === 1);
    expect(await collector.metric('collector_messages_rejected_total{reason="json"}')).toBe(before.json + 2);
    expect(await collector.metric('collector_messages_rejected_total{reason="schema"}')).toBe(before.schema + 2);
    expect(await collector.metric('collector_messages_rejected_total{reason="topic"}')).toBeGreaterThanOrEqual(before.topic + 1);
    expect((await fetch(`${collector.apiUrl}/healthz`)).ok).toBe(true);
    expect(collector.process.child.exitCode).toBeNull();
  });

  it('refuses an oversized payload without dropping the connection of others', async () => {
    const other = await connectClient(collector.mqttUrl!, { clientId: 'kiosk-02' });
    const big = JSON.stringify({ v: 1, ts: Date.now(), metrics: [{ name: 'cpu', fields: { x: 1 } }], pad: 'x'.repeat(600 * 1024) });
    // Refused from the packet header, before its body is read: the sender's connection is closed.
    const closed = new Promise<void>((resolve) => other.once('close', () => resolve()));
    other.publish(`muni/v1/${SITE}/kiosk-02/metrics`, big, { qos: 1 });
    await closed;
    other.end(true);
    expect(await collector.metric('collector_mqtt_refused_total{reason="oversize"}')).toBe(1);
    await publish(device, `muni/v1/${SITE}/kiosk-01/metrics`, { v: 1, ts: Date.now(), metrics: [{ name: 'cpu', fields: { usage_pct: 43 } }] });
    await waitFor('kiosk-01 still delivering', async () => (await countPoints(influx, `SELECT count(usage_pct) FROM cpu WHERE device = 'kiosk-01'`)) === 2);
    expect(await countPoints(influx, `SELECT count(x) FROM cpu WHERE device = 'kiosk-02'`)).toBe(0);
  });

  it('writes events and hardware families sent by a device with sensors', async () => {
    const server = await connectClient(collector.mqttUrl!, { clientId: 'srv-kayit' });
    const ts = Date.now();
    await publish(server, `muni/v1/${SITE}/srv-kayit/state`, birth(ts), { retain: true });
    await publish(server, `muni/v1/${SITE}/srv-kayit/metrics`, serverHardwareMetrics(ts));
    await publish(server, `muni/v1/${SITE}/srv-kayit/event`, rebootEvent(ts));
    server.end(true);
    await waitFor('reboot event', async () => (await countPoints(influx, `SELECT count("count") FROM events WHERE device = 'srv-kayit' AND type = 'reboot'`)) === 1);
    const smart = await influx.query(DB, `SELECT last(passed) FROM smart WHERE device = 'srv-kayit' GROUP BY disk`);
    expect(Object.fromEntries(smart.map((s) => [s.tags?.disk, s.values[0]?.[1]]))).toEqual({ sda: 1, sdb: 0 });
    const events = await influx.query(DB, `SELECT message FROM events WHERE device = 'srv-kayit'`);
    expect(events[0]?.values[0]?.[1]).toBe('Sistem yeniden başlatıldı');
  });
});
