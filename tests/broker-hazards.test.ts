import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { connectExternalBroker } from '../collector/broker/external.ts';
import { subscribeAllowed } from '../collector/security/policy.ts';
import { startMosquitto, waitFor, type MosquittoServer } from './helpers/servers.ts';

// The two broker hazards of docs/broker.md, reproduced for real and shown harmless in the
// collector's configuration.

const run = promisify(execFile);

describe('hazard 1: aedes/mqemitter stack overflow under a QoS 0 flood', () => {
  const flood = async (mode: 'plain' | 'collector') => {
    const result = await run(process.execPath, ['tests/fixtures/aedes-flood.ts', mode, '100', '2000'], { timeout: 90_000, maxBuffer: 10 * 1024 * 1024 }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
    );
    return result;
  };

  it('kills a default aedes 1.2.0 with RangeError inside mqemitter/qlobber', async () => {
    const { code, stderr } = await flood('plain');
    expect(code).not.toBe(0);
    expect(stderr).toContain('RangeError: Maximum call stack size exceeded');
    expect(stderr).toMatch(/mqemitter|qlobber/);
  }, 120_000);

  it('leaves the collector’s embedded broker running, with every message ingested', async () => {
    const { code, stdout, stderr } = await flood('collector');
    expect(stderr).not.toContain('RangeError');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ mode: 'collector', sent: 200_000, received: 200_000 });
  }, 120_000);

  it('lets network clients subscribe only to exact command topics', () => {
    expect(subscribeAllowed(undefined, 'muni/v1/merkez/bi-pc01/cmd')).toBe(true);
    for (const topic of ['#', 'muni/#', 'muni/v1/+/+/metrics', 'muni/v1/merkez/bi-pc01/metrics', 'muni/v1/+/bi-pc01/cmd']) expect(subscribeAllowed(undefined, topic), topic).toBe(false);
  });
});

describe('hazard 2: Mosquitto dropping a QoS 1 flood on its way to the collector', () => {
  const PUBLISHERS = 20;
  const EACH = 2000;
  let mosquitto: MosquittoServer | undefined;
  afterEach(async () => mosquitto?.stop());

  const shippedLimits = () => {
    const text = readFileSync('deploy/mosquitto/mosquitto.conf', 'utf8');
    return text.slice(text.indexOf('# --- limits'), text.indexOf('# --- end of limits'));
  };

  async function floodQoS1(url: string): Promise<number> {
    const payload = JSON.stringify({ v: 1, ts: Date.now(), metrics: [{ name: 'cpu', fields: { usage_pct: 1 } }] });
    const clients = await Promise.all(
      Array.from({ length: PUBLISHERS }, (_, i) => new Promise<MqttClient>((resolve) => {
        const c = mqtt.connect(url, { protocolVersion: 5, clientId: `yayinci-${i}`, reconnectPeriod: 0 });
        c.once('connect', () => resolve(c));
      })),
    );
    await Promise.all(clients.map((c, i) => Promise.all(Array.from({ length: EACH }, () => c.publishAsync(`muni/v1/flood/p${i}/metrics`, payload, { qos: 1 })))));
    for (const c of clients) c.end(true);
    return PUBLISHERS * EACH;
  }

  // The same slow consumer in both runs: one message per event-loop turn, like an ingest under load.
  const slowHandler = (counter: { n: number }) => async () => {
    counter.n++;
    await new Promise((r) => setImmediate(r));
  };

  it('loses a large share with Mosquitto’s defaults (an MQTT 3.1.1 subscriber: 20 in flight, 1,000 queued)', async () => {
    mosquitto = await startMosquitto();
    const counter = { n: 0 };
    const handler = slowHandler(counter);
    const subscriber = await mqtt.connectAsync(mosquitto.url, { protocolVersion: 4, clientId: 'abone-varsayilan', reconnectPeriod: 0 });
    subscriber.handleMessage = (_packet, callback) => void handler().then(() => callback());
    await subscriber.subscribeAsync('muni/v1/+/+/+', { qos: 1 });
    const sent = await floodQoS1(mosquitto.url);
    await new Promise((r) => setTimeout(r, 3000));
    await subscriber.endAsync(true);
    expect(counter.n).toBeLessThan(sent * 0.7);
  }, 120_000);

  it('delivers every message with the shipped limits', async () => {
    mosquitto = await startMosquitto(shippedLimits());
    const counter = { n: 0 };
    const ingest = await connectExternalBroker({ url: mosquitto.url, clientId: 'collector-shipped', shareGroup: 'collectors', handler: slowHandler(counter), log: { log: () => {} } });
    const sent = await floodQoS1(mosquitto.url);
    await waitFor(`all ${sent} messages`, async () => counter.n >= sent, 60_000);
    await ingest.close();
    expect(counter.n).toBe(sent);
  }, 120_000);
});
