import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createApiApp } from '../collector/api/app.ts';
import { Readiness } from '../collector/lifecycle/readiness.ts';
import { runStopSteps, stopBoundMs } from '../collector/lifecycle/stop-steps.ts';
import { DeviceRegistry } from '../collector/registry/device-registry.ts';
import { SecurityStore } from '../collector/security/store.ts';
import { SelfMetrics } from '../collector/self-metrics.ts';
import { Spool } from '../collector/storage/spool.ts';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';
import { connectClient, publish } from './helpers/mqtt-client.ts';
import { freePort, startInfluxDB, startMosquitto, waitFor, type InfluxServer, type MosquittoServer } from './helpers/servers.ts';

// The collector as a municipality runs it: stopped by systemd or docker (SIGTERM) while InfluxDB
// is down or hung, and started again; readiness while it is still reaching its broker. Real
// collector processes, a real InfluxDB killed or frozen, a real Mosquitto that appears late.

const DB = 'monitoring';
const STOP_LIMIT_MS = 10_000;
/** The order app.ts must stop in: API, producers, what points go to, stores. */
const STOP_ORDER = ['api', 'timers', 'devices', 'broker', 'notifications', 'backups', 'offsite', 'site-state', 'alerts', 'outages', 'self-metrics', 'queue', 'spool', 'writer', 'registry', 'security'];

const message = (ts: number, seq: number) => ({ v: 1, ts, seq, metrics: [{ name: 'cpu', fields: { usage_pct: seq } }] });

/** Sends SIGTERM and measures until the process has exited (the helper would SIGKILL it after 10 s). */
async function timedStop(collector: CollectorProcess): Promise<{ ms: number; code: number | null; signal: NodeJS.Signals | null }> {
  const started = performance.now();
  await collector.stop('SIGTERM');
  return { ms: performance.now() - started, code: collector.process.child.exitCode, signal: collector.process.child.signalCode };
}

/** The cpu points of a device still in the spool file, read with the collector's own spool code. */
function spooledCpu(dir: string, device: string): number[] {
  const spool = Spool.open(join(dir, 'spool.sqlite'), { sync: 'normal' });
  try {
    const batch = spool.readBatch(0, Number.MAX_SAFE_INTEGER);
    return (batch?.points ?? []).filter((p) => p.measurement === 'cpu' && p.tags.device === device).map((p) => p.time);
  } finally {
    spool.close();
  }
}

/** The "collector stopped" log line's steps, in the order they ran. */
function stopSteps(output: string): string[] {
  const line = output.split('\n').find((l) => l.includes('"msg":"collector stopped"'));
  if (!line) throw new Error(`no "collector stopped" line in:\n${output}`);
  return Object.keys((JSON.parse(line) as { stepsMs: Record<string, number> }).stepsMs);
}

async function cpuTimes(influx: InfluxServer, device: string): Promise<number[]> {
  const series = await influx.query(DB, `SELECT usage_pct FROM cpu WHERE device = '${device}'`).catch(() => []);
  return series[0]?.values.map((v) => v[0] as number) ?? [];
}

describe('stopping with InfluxDB down', () => {
  let influx: InfluxServer;
  let collector: CollectorProcess | undefined;
  let device: MqttClient | undefined;
  afterAll(async () => {
    device?.end(true);
    await collector?.stop('SIGKILL');
    await influx?.stop();
  });

  const config = () => ({ storage: { type: 'influx-v1', url: influx.url, database: DB, timeoutMs: 10_000 }, queue: { flushIntervalMs: 200 } });

  it('ends within 10 s with InfluxDB killed, keeps every point in the spool, and the next start writes them once', async () => {
    influx = await startInfluxDB();
    collector = await startCollectorProcess(config());
    device = await connectClient(collector.mqttUrl!, { clientId: 'merkez.srv-stop' });
    const base = Date.now() - 3_600_000;
    await publish(device, 'muni/v1/merkez/srv-stop/metrics', message(base, 0));
    await waitFor('the first point in InfluxDB', async () => (await cpuTimes(influx, 'srv-stop')).length === 1);

    await influx.kill();
    // Acknowledged by the broker (QoS 1) only once in the spool.
    for (let seq = 1; seq <= 40; seq++) await publish(device, 'muni/v1/merkez/srv-stop/metrics', message(base + seq * 1000, seq));
    await waitFor('a failed write (InfluxDB is down)', async () => (await collector!.metric('collector_write_errors_total')) > 0);
    device.end(true);
    device = undefined;

    const stop = await timedStop(collector);
    console.log(`stop with InfluxDB killed: ${(stop.ms / 1000).toFixed(2)} s`);
    expect(stop).toMatchObject({ code: 0, signal: null });
    expect(stop.ms).toBeLessThanOrEqual(STOP_LIMIT_MS);
    expect(stopSteps(collector.process.output())).toEqual(STOP_ORDER);
    // The first point may still be there too: InfluxDB can have taken it before the collector heard so (its replay overwrites it).
    expect(spooledCpu(collector.dir, 'srv-stop').filter((t) => t > base)).toEqual(Array.from({ length: 40 }, (_, i) => base + (i + 1) * 1000));

    await influx.restart();
    collector = await startCollectorProcess(config(), collector);
    const expected = Array.from({ length: 41 }, (_, i) => base + i * 1000);
    await waitFor('the spooled points in InfluxDB', async () => (await cpuTimes(influx, 'srv-stop')).length === 41, 30_000);
    expect(await cpuTimes(influx, 'srv-stop')).toEqual(expected);
    await waitFor('the spool drained', async () => (await collector!.metric('collector_queue_depth')) === 0);
  }, 120_000);

  it('ends within 10 s with InfluxDB hung (frozen with SIGSTOP: writes neither answer nor fail)', async () => {
    await collector?.stop();
    collector = await startCollectorProcess(config(), collector);
    device = await connectClient(collector.mqttUrl!, { clientId: 'merkez.srv-hung' });
    const base = Date.now() - 1_800_000;
    await publish(device, 'muni/v1/merkez/srv-hung/metrics', message(base, 0));
    await waitFor('the first point in InfluxDB', async () => (await cpuTimes(influx, 'srv-hung')).length === 1);

    influx.process.child.kill('SIGSTOP');
    try {
      for (let seq = 1; seq <= 10; seq++) await publish(device, 'muni/v1/merkez/srv-hung/metrics', message(base + seq * 1000, seq));
      device.end(true);
      device = undefined;
      const stop = await timedStop(collector);
      console.log(`stop with InfluxDB hung: ${(stop.ms / 1000).toFixed(2)} s`);
      expect(stop).toMatchObject({ code: 0, signal: null });
      expect(stop.ms).toBeLessThanOrEqual(STOP_LIMIT_MS);
      // The write that hung may yet land when InfluxDB wakes; the spool keeps every point regardless.
      expect(spooledCpu(collector.dir, 'srv-hung').filter((t) => t > base)).toEqual(Array.from({ length: 10 }, (_, i) => base + (i + 1) * 1000));
    } finally {
      influx.process.child.kill('SIGCONT');
    }
    collector = await startCollectorProcess(config(), collector);
    await waitFor('the spooled points in InfluxDB', async () => (await cpuTimes(influx, 'srv-hung')).length === 11, 30_000);
  }, 120_000);
});

describe('readiness', () => {
  let mosquitto: MosquittoServer | undefined;
  let collector: CollectorProcess | undefined;
  afterAll(async () => {
    await collector?.stop('SIGKILL');
    await mosquitto?.stop();
  });

  it('/readyz is 503 while the external broker cannot be reached (the API is up, /healthz 200), and 200 once it connects', async () => {
    const brokerPort = await freePort();
    // Nothing listens on the broker's port yet; storage is not needed to be ready.
    collector = await startCollectorProcess({ broker: { mode: 'external', url: `mqtt://127.0.0.1:${brokerPort}` }, storage: { type: 'influx-v1', url: `http://127.0.0.1:${await freePort()}`, database: DB } }, undefined, { until: 'live' });
    const readyz = async () => {
      const response = await fetch(`${collector!.apiUrl}/readyz`);
      return { status: response.status, body: (await response.json()) as unknown };
    };
    expect(await readyz()).toEqual({ status: 503, body: { status: 'starting' } });
    expect((await fetch(`${collector.apiUrl}/healthz`)).status).toBe(200);

    mosquitto = await startMosquitto('', brokerPort);
    await waitFor('/readyz 200 after the broker connected', async () => (await readyz()).status === 200, 30_000);
    expect(await readyz()).toEqual({ status: 200, body: { status: 'ready' } });
    expect(collector.process.output()).toContain('"msg":"collector started"');
  }, 60_000);
});

describe('/readyz follows the collector through its phases', () => {
  let server: Server | undefined;
  const stores: { close(): void }[] = [];
  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve));
    for (const store of stores.splice(0)) store.close();
  });

  it('starting 503, ready 200, stopping 503; a stopping collector never turns ready again', async () => {
    const readiness = new Readiness();
    const registry = DeviceRegistry.open(':memory:');
    const security = SecurityStore.open(':memory:');
    stores.push(registry, security);
    const app = createApiApp({ registry, security, metrics: new SelfMetrics(), alerts: undefined, apiAuth: 'open', phase: () => readiness.phase, onDeviceRevoked: () => {} });
    server = createServer(app);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const readyz = async () => {
      const response = await fetch(`${url}/readyz`);
      return [response.status, ((await response.json()) as { status: string }).status];
    };
    expect(await readyz()).toEqual([503, 'starting']);
    readiness.ready();
    expect(await readyz()).toEqual([200, 'ready']);
    readiness.stopping();
    expect(await readyz()).toEqual([503, 'stopping']);
    readiness.ready();
    expect(await readyz()).toEqual([503, 'stopping']);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });
});

describe('stop steps', () => {
  it('run in order, each within its bound: a hanging step and a failing one are reported and the later steps still run', async () => {
    const ran: string[] = [];
    const steps = [
      { name: 'api', boundMs: 1_000, run: () => void ran.push('api') },
      { name: 'hangs', boundMs: 200, run: () => (ran.push('hangs'), new Promise<void>(() => {})) },
      {
        name: 'throws',
        boundMs: 1_000,
        run: () => {
          ran.push('throws');
          throw new Error('disk gone');
        },
      },
      { name: 'rejects', boundMs: 1_000, run: async () => (ran.push('rejects'), Promise.reject(new Error('socket reset'))) },
      { name: 'stores', boundMs: 1_000, run: async () => void ran.push('stores') },
    ];
    const started = performance.now();
    const outcomes = await runStopSteps(steps);
    const elapsed = performance.now() - started;
    expect(ran).toEqual(['api', 'hangs', 'throws', 'rejects', 'stores']);
    expect(outcomes.map((o) => [o.name, o.result, o.error])).toEqual([
      ['api', 'done', undefined],
      ['hangs', 'overran', undefined],
      ['throws', 'failed', 'disk gone'],
      ['rejects', 'failed', 'socket reset'],
      ['stores', 'done', undefined],
    ]);
    // The hanging step held the stop for its bound, not longer.
    expect(outcomes[1]!.ms).toBeGreaterThanOrEqual(195);
    expect(elapsed).toBeLessThan(1_000);
    expect(stopBoundMs(steps)).toBe(4_200);
  });
});
