import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../collector/broker/embedded.ts';
import { openBrokerOptions } from './helpers/broker-options.ts';
import { tempDir } from './helpers/servers.ts';

// The embedded broker's TLS listener, with a certificate made here by openssl for 127.0.0.1.
let broker: EmbeddedBroker;
const received: string[] = [];
let dir: string;

beforeAll(async () => {
  dir = tempDir('tls');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=izleme.belediye.local', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  broker = await startEmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    tls: { port: 0, keyFile: join(dir, 'key.pem'), certFile: join(dir, 'cert.pem'), clientCerts: 'none' },
    handler: async (topic) => {
      received.push(topic);
    },
    log: { log: () => {} },
    ...openBrokerOptions,
  });
});
afterAll(async () => broker?.close());

it('accepts devices over TLS that trust the certificate, and refuses those that do not', async () => {
  const url = `mqtts://127.0.0.1:${broker.tlsPort}`;
  const device = await mqtt.connectAsync(url, { protocolVersion: 4, ca: readFileSync(join(dir, 'cert.pem')), reconnectPeriod: 0 });
  await device.publishAsync('muni/v1/merkez/bi-pc01/metrics', JSON.stringify({ v: 1, ts: Date.now(), metrics: [{ name: 'cpu', fields: { usage_pct: 1 } }] }), { qos: 1 });
  await device.endAsync();
  expect(received).toEqual(['muni/v1/merkez/bi-pc01/metrics']);
  await expect(mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 3000 })).rejects.toThrow(/self[- ]signed|certificate/i);
  // plain TCP keeps serving beside TLS
  const plain = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { protocolVersion: 4, reconnectPeriod: 0 });
  await plain.endAsync();
});
