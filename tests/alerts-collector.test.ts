import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { StoredAlert } from '../collector/alerts/alert-store.ts';
import { startAgentProcess } from './helpers/agent-process.ts';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';
import { startInfluxDB, tempDir, waitFor, type InfluxServer, type ManagedProcess } from './helpers/servers.ts';
import { startSnmpsim, type SnmpsimServer } from './helpers/snmp-servers.ts';

// Alerts from the default rules, evaluated by the real collector on the real stream: an agent
// killed with SIGKILL, a UPS in snmpsim going on battery and back. Alerts are stored (API),
// written to InfluxDB, acknowledged and silenced over the API, and survive a collector restart.

describe('alerts in the collector', () => {
  let influx: InfluxServer;
  let sim: SnmpsimServer;
  let collector: CollectorProcess;
  let agent: ManagedProcess;
  let config: Record<string, unknown>;
  const api = async <T>(path: string, init?: RequestInit): Promise<T> => (await (await fetch(`${collector.apiUrl}${path}`, init)).json()) as T;
  const alertsOf = async (rule: string) => (await api<{ alerts: StoredAlert[] }>('/api/v1/alerts?limit=1000')).alerts.filter((a) => a.rule === rule);

  beforeAll(async () => {
    influx = await startInfluxDB();
    sim = await startSnmpsim({ ups: 'ups-mib-online.snmprec' });
    const dir = tempDir('alerts');
    writeFileSync(join(dir, 'devices.yaml'), stringify({ devices: [{ site: 'kultur-merkezi', id: 'ups-giris', address: sim.address, profile: 'ups-mib', credential: 'ups', intervalS: 1 }] }));
    writeFileSync(join(dir, 'secrets.yaml'), stringify({ ups: { snmp: { version: '2c', community: 'ups' } } }));
    chmodSync(join(dir, 'secrets.yaml'), 0o600);
    config = { storage: { type: 'influx-v1', url: influx.url }, queue: { flushIntervalMs: 200 }, devices: { file: join(dir, 'devices.yaml'), secretsFile: join(dir, 'secrets.yaml') } };
    collector = await startCollectorProcess(config);
    agent = startAgentProcess({ site: 'merkez', device: 'srv-dosya', kind: 'server', mqttUrl: collector.mqttUrl! });
    await waitFor('srv-dosya online', async () => (await api<{ devices: { device: string; online: boolean }[] }>('/api/v1/devices')).devices.some((d) => d.device === 'srv-dosya' && d.online), 30_000);
  });
  afterAll(async () => {
    await agent?.stop('SIGKILL');
    await collector?.stop();
    await sim?.stop();
    await influx?.stop();
  });

  it('a server agent killed with SIGKILL fires server_offline, stored and written to InfluxDB', async () => {
    await agent.stop('SIGKILL');
    await waitFor('server_offline firing', async () => (await alertsOf('server_offline')).some((a) => a.state === 'firing'), 20_000);
    const [alert] = await alertsOf('server_offline');
    expect(alert).toMatchObject({ severity: 'critical', category: 'systems', labels: { site: 'merkez', device: 'srv-dosya', kind: 'server' }, value: 'lwt' });
    await waitFor('alert point in InfluxDB', async () => (await influx.query('monitoring', `SELECT last(message) FROM alerts WHERE rule = 'server_offline' AND "state" = 'firing'`)).length > 0, 20_000);
    const [series] = await influx.query('monitoring', `SELECT last(message) FROM alerts WHERE rule = 'server_offline'`);
    expect(String(series!.values[0]![1])).toContain('srv-dosya sunucusundan veri gelmiyor');
  });

  it('a UPS going on battery fires ups_on_battery; back on mains it resolves', async () => {
    sim.serve('ups', 'ups-mib-on-battery.snmprec');
    await waitFor('ups_on_battery firing', async () => (await alertsOf('ups_on_battery')).some((a) => a.state === 'firing'), 20_000);
    sim.serve('ups', 'ups-mib-online.snmprec');
    await waitFor('ups_on_battery resolved', async () => (await alertsOf('ups_on_battery')).some((a) => a.state === 'resolved'), 20_000);
    const [episode] = await alertsOf('ups_on_battery');
    const detail = await api<StoredAlert & { history: { transition: string }[] }>(`/api/v1/alerts/${episode!.id}`);
    expect(detail.history.map((h) => h.transition)).toEqual(['firing', 'resolved']);
    expect(detail.resolvedAt! - detail.firedAt!).toBeGreaterThan(0);
  });

  it('acknowledges over the API (audited) and refuses to acknowledge a resolved alert', async () => {
    const [offline] = await alertsOf('server_offline');
    const acked = await api<StoredAlert>(`/api/v1/alerts/${offline!.id}/ack`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ comment: 'bakıyorum' }) });
    expect(acked).toMatchObject({ ackBy: expect.any(String), state: 'firing' });
    const [ups] = await alertsOf('ups_on_battery');
    const refused = await fetch(`${collector.apiUrl}/api/v1/alerts/${ups!.id}/ack`, { method: 'POST' });
    expect(refused.status).toBe(409);
    const bad = await fetch(`${collector.apiUrl}/api/v1/alerts/not-an-id/ack`, { method: 'POST' });
    expect(bad.status).toBe(400);
    const silence = await fetch(`${collector.apiUrl}/api/v1/silences`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ matchers: { site: 'kultur-merkezi' }, durationMinutes: 60, comment: 'elektrik çalışması' }) });
    expect(silence.status).toBe(201);
    const empty = await fetch(`${collector.apiUrl}/api/v1/silences`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ matchers: {}, durationMinutes: 60, comment: 'x' }) });
    expect(empty.status).toBe(400);
  });

  it('a restarted collector keeps the firing alert (same episode, still acknowledged), not a new one', async () => {
    const [before] = await alertsOf('server_offline');
    await collector.stop();
    collector = await startCollectorProcess(config, collector);
    await new Promise((r) => setTimeout(r, 2_000));
    const after = await alertsOf('server_offline').catch((error: unknown) => {
      throw new Error(`${String(error)}\n${collector.process.output()}`);
    });
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ id: before!.id, state: 'firing', ackBy: before!.ackBy });
  });
});
