import mqtt from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEmbeddedBroker, type BrokerRefusal, type EmbeddedBroker } from '../collector/broker/embedded.ts';
import { openBrokerOptions } from './helpers/broker-options.ts';
import { connectClient, publish } from './helpers/mqtt-client.ts';

// The connection limit of the embedded broker: one client too many is closed at once and
// counted, those already connected keep working.

let broker: EmbeddedBroker;
const refusals: BrokerRefusal[] = [];
const received: string[] = [];

beforeAll(async () => {
  broker = await startEmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    handler: async (topic) => {
      received.push(topic);
    },
    log: { log: () => {} },
    ...openBrokerOptions,
    limits: { ...openBrokerOptions.limits, maxConnections: 2 },
    onRefused: (reason) => refusals.push(reason),
  });
});
afterAll(async () => broker?.close());

it('closes connections over the limit and counts them; the others are unaffected', async () => {
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const first = await connectClient(url, { clientId: 'merkez/a' });
  const second = await connectClient(url, { clientId: 'merkez/b' });
  const third = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 3_000, clientId: 'merkez/c' });
  const outcome = await new Promise<string>((resolve) => {
    third.once('connect', () => resolve('connected'));
    third.once('close', () => resolve('closed'));
  });
  third.end(true);
  expect(outcome).toBe('closed');
  expect(refusals).toEqual(['connections']);
  await publish(first, 'muni/v1/merkez/a/metrics', { v: 1, ts: Date.now(), metrics: [{ name: 'cpu', fields: { usage_pct: 1 } }] });
  await publish(second, 'muni/v1/merkez/b/metrics', { v: 1, ts: Date.now(), metrics: [{ name: 'cpu', fields: { usage_pct: 1 } }] });
  expect(received).toEqual(['muni/v1/merkez/a/metrics', 'muni/v1/merkez/b/metrics']);
  first.end(true);
  second.end(true);
});
