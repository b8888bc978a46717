import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { decodeDeviceMessage } from '../src/contract/decode.ts';
import { inventoryMessageSchema, metricsMessageSchema } from '../src/contract/schemas.ts';
import { connectClient } from './helpers/mqtt-client.ts';
import { startMosquitto, startProcess, tempDir, waitFor, type ManagedProcess, type MosquittoServer } from './helpers/servers.ts';

const run = promisify(execFile);

function agentConfig(values: Record<string, unknown>, previousBootTimeMs?: number): string {
  const dir = tempDir('agent');
  const file = join(dir, 'agent.yaml');
  const stateDir = join(dir, 'state');
  if (previousBootTimeMs !== undefined) {
    mkdirSync(stateDir);
    writeFileSync(join(stateDir, 'state.json'), JSON.stringify({ bootTimeMs: previousBootTimeMs }));
  }
  writeFileSync(file, stringify({ stateDir, ...values }));
  return file;
}

describe('a real agent process against Mosquitto (MQTT 5)', () => {
  let mosquitto: MosquittoServer;
  let watcher: MqttClient;
  const seen: { topic: string; payload: Buffer; retain: boolean }[] = [];
  beforeAll(async () => {
    mosquitto = await startMosquitto();
    watcher = await connectClient(mosquitto.url, { protocolVersion: 5, clientId: 'noc-izleyici' });
    watcher.on('message', (topic, payload, packet) => seen.push({ topic, payload, retain: packet.retain }));
    await watcher.subscribeAsync('muni/v1/#', { qos: 1 });
  });
  afterAll(async () => {
    watcher?.end(true);
    await mosquitto?.stop();
  });

  const messages = (device: string, channel: string) => seen.filter((m) => m.topic === `muni/v1/zabita/${device}/${channel}`);
  const start = (device: string, previousBootTimeMs?: number): ManagedProcess =>
    startProcess(process.execPath, ['agent/main.ts', '--config', agentConfig({ site: 'zabita', device, intervalS: 1, mqtt: { url: mosquitto.url } }, previousBootTimeMs)]);

  it('publishes birth, metrics on schedule and inventory, all valid under the contract; last will on SIGKILL', async () => {
    const agent = start('pc-01');
    await waitFor('three metrics messages', async () => messages('pc-01', 'metrics').length >= 3, 20_000);
    await waitFor('inventory', async () => messages('pc-01', 'inventory').length >= 1, 20_000);
    const [birth] = messages('pc-01', 'state');
    expect(JSON.parse(birth!.payload.toString())).toMatchObject({ state: 'online', kind: 'server', intervalS: 1, agent: { name: 'belediye-agent' } });
    for (const m of seen.filter((s) => s.topic.startsWith('muni/v1/zabita/pc-01/'))) {
      const decoded = decodeDeviceMessage(m.topic, m.payload);
      expect(decoded.ok, decoded.ok ? '' : decoded.detail).toBe(true);
    }
    const inventory = inventoryMessageSchema.parse(JSON.parse(messages('pc-01', 'inventory')[0]!.payload.toString()));
    expect(inventory.inventory.os?.platform).toBe('linux');
    expect(inventory.inventory.software?.length).toBeGreaterThan(10);
    expect(inventory.inventory.users).toBeUndefined();

    await agent.stop('SIGKILL');
    await waitFor('last will', async () => messages('pc-01', 'state').some((m) => JSON.parse(m.payload.toString()).reason === 'lwt'), 15_000);

    // A late subscriber still learns the device state and inventory: both are retained.
    const late = await connectClient(mosquitto.url, { protocolVersion: 5, clientId: 'gec-gelen' });
    const retained: string[] = [];
    late.on('message', (topic, _p, packet) => packet.retain && retained.push(topic));
    await late.subscribeAsync('muni/v1/zabita/pc-01/+', { qos: 1 });
    await waitFor('retained state and inventory', async () => retained.length >= 2, 5_000);
    expect(retained.sort()).toEqual(['muni/v1/zabita/pc-01/inventory', 'muni/v1/zabita/pc-01/state']);
    late.end(true);
  });

  it('reports a reboot seen in the state file, and publishes a clean offline state on SIGTERM', async () => {
    const agent = start('pc-02', Date.UTC(2024, 0, 1));
    await waitFor('birth', async () => messages('pc-02', 'state').length >= 1, 15_000);
    await waitFor('reboot event', async () => messages('pc-02', 'event').length >= 1, 15_000);
    const reboot = decodeDeviceMessage('muni/v1/zabita/pc-02/event', messages('pc-02', 'event')[0]!.payload);
    expect(reboot.ok && reboot.message.body).toMatchObject({ type: 'reboot', severity: 'warning', data: { previous_boot_time_ms: Date.UTC(2024, 0, 1) } });
    await agent.stop('SIGTERM');
    expect(agent.child.exitCode).toBe(0);
    await waitFor('shutdown state', async () => messages('pc-02', 'state').some((m) => JSON.parse(m.payload.toString()).reason === 'shutdown'), 5_000);
  });
});

describe('agent CLI', () => {
  it('--once prints one sample and the inventory as contract-valid JSON, without a broker', async () => {
    const { stdout } = await run(process.execPath, ['agent/main.ts', '--config', agentConfig({ site: 'merkez', device: 'kurulum-test', mqtt: { url: 'mqtt://127.0.0.1:1' } }), '--once'], { timeout: 60_000, maxBuffer: 32 * 1024 * 1024 });
    const out = JSON.parse(stdout) as { metrics: unknown; inventory: unknown; device: string };
    expect(out.device).toBe('kurulum-test');
    const metrics = metricsMessageSchema.parse(out.metrics);
    expect(metrics.metrics.map((m) => m.name)).toEqual(expect.arrayContaining(['cpu', 'mem', 'fs', 'net', 'system']));
    expect(metrics.metrics.find((m) => m.name === 'net')?.fields).toHaveProperty('rx_bps');
    inventoryMessageSchema.parse(out.inventory);
  });

  it('refuses a bad configuration with exit code 2 and a message naming the field', async () => {
    const failure = await run(process.execPath, ['agent/main.ts', '--config', agentConfig({ site: 'Zabıta Müdürlüğü', mqtt: { url: 'mqtt://x:1883' }, intervalS: 'sık' })]).catch((e: { code: number; stderr: string }) => e);
    expect(failure).toMatchObject({ code: 2 });
    const stderr = (failure as { stderr: string }).stderr;
    expect(stderr).toMatch(/site: expected lower-case/);
    expect(stderr).toMatch(/intervalS/);
    expect(stderr).not.toMatch(/at .*\.ts:\d+/);
  });

  it('refuses an unreadable TLS file by field, before connecting', async () => {
    const failure = await run(process.execPath, ['agent/main.ts', '--config', agentConfig({ site: 'zabita', mqtt: { url: 'mqtts://127.0.0.1:8883', caFile: '/yok/ca.crt' } })]).catch((e: { code: number; stderr: string }) => e);
    expect(failure).toMatchObject({ code: 2, stderr: expect.stringContaining('mqtt.caFile: cannot read /yok/ca.crt: ENOENT') });
  });

  it('refuses a missing configuration file clearly', async () => {
    const failure = await run(process.execPath, ['agent/main.ts', '--config', '/yok/agent.yaml']).catch((e: { code: number; stderr: string }) => e);
    expect(failure).toMatchObject({ code: 2, stderr: expect.stringContaining('cannot read configuration file /yok/agent.yaml: ENOENT') });
  });
});
