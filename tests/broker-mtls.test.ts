import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEmbeddedBroker, type BrokerRefusal, type EmbeddedBroker } from '../collector/broker/embedded.ts';
import { SecurityStore } from '../collector/security/store.ts';
import { openBrokerOptions } from './helpers/broker-options.ts';
import { tempDir } from './helpers/servers.ts';

// Mutual TLS with a private CA made by deploy/pki/private-ca.sh, the script docs/security.md
// tells a municipality to use: the handshake refuses a device without a certificate of the
// CA, and a certificate only vouches for the device named in its CN.

let broker: EmbeddedBroker;
let pki: string;
const store = SecurityStore.open(':memory:');
const refusals: BrokerRefusal[] = [];
const received: string[] = [];
const issued = store.issueDeviceCredentials({ site: 'merkez', device: 'bi-pc01' }, 'test');

beforeAll(async () => {
  pki = tempDir('pki');
  const script = (...args: string[]) => execFileSync('bash', ['deploy/pki/private-ca.sh', pki, ...args], { stdio: 'pipe' });
  script('ca');
  script('server', 'collector', 'izleme.belediye.local', '127.0.0.1');
  script('device', 'merkez/bi-pc01');
  script('device', 'merkez/bi-pc02');
  broker = await startEmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    tls: { port: 0, keyFile: join(pki, 'collector.key'), certFile: join(pki, 'collector.pem'), caFile: join(pki, 'ca.pem'), clientCerts: 'require' },
    handler: async (topic) => {
      received.push(topic);
    },
    log: { log: () => {} },
    ...openBrokerOptions,
    verifyDevice: (username, password) => store.verifyDevice(username, password),
    onRefused: (reason) => refusals.push(reason),
  });
});
afterAll(async () => {
  await broker?.close();
  store.close();
});

const connectAs = (certificate: string | undefined) =>
  mqtt.connectAsync(`mqtts://127.0.0.1:${broker.tlsPort}`, {
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 3_000,
    ca: readFileSync(join(pki, 'ca.pem')),
    ...(certificate ? { cert: readFileSync(join(pki, `${certificate}.pem`)), key: readFileSync(join(pki, `${certificate}.key`)) } : {}),
    username: issued.username,
    password: issued.password,
    clientId: issued.username,
  });

it('accepts a device with its own certificate and credentials', async () => {
  const device = await connectAs('merkez_bi-pc01');
  await device.publishAsync('muni/v1/merkez/bi-pc01/metrics', JSON.stringify({ v: 1, ts: Date.now(), metrics: [{ name: 'cpu', fields: { usage_pct: 1 } }] }), { qos: 1 });
  await device.endAsync();
  expect(received).toEqual(['muni/v1/merkez/bi-pc01/metrics']);
});

it('refuses a device without a client certificate in the TLS handshake', async () => {
  await expect(connectAs(undefined)).rejects.toThrow(/certificate|handshake|socket hang up|ECONNRESET/i);
});

it('refuses the credentials of one device with the certificate of another', async () => {
  await expect(connectAs('merkez_bi-pc02')).rejects.toThrow(/Not authorized|Connection refused/i);
  expect(refusals).toEqual(['auth']);
});
