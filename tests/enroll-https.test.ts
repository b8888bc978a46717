import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { agentConfigFile, startAgentWithConfig } from './helpers/agent-process.ts';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';
import { startInfluxDB, tempDir, waitFor, type InfluxServer, type ManagedProcess } from './helpers/servers.ts';

// Enrollment carries a token one way and a password the other: over HTTPS with the collector's
// certificate from the municipality's private CA (deploy/pki/private-ca.sh), as documented.

let influx: InfluxServer;
let collector: CollectorProcess;
let agent: ManagedProcess | undefined;
let pki: string;

beforeAll(async () => {
  pki = tempDir('pki');
  for (const args of [['ca'], ['server', 'collector', '127.0.0.1']]) execFileSync('bash', ['deploy/pki/private-ca.sh', pki, ...args], { stdio: 'pipe' });
  influx = await startInfluxDB();
  collector = await startCollectorProcess({
    storage: { type: 'influx-v1', url: influx.url },
    security: { deviceAuth: 'credentials', apiAuth: 'tokens' },
    api: { tls: { keyFile: join(pki, 'collector.key'), certFile: join(pki, 'collector.pem') } },
  });
});
afterAll(async () => {
  await agent?.stop('SIGKILL');
  await collector?.stop();
  await influx?.stop();
});

const enrollmentToken = () =>
  (JSON.parse(execFileSync(process.execPath, ['collector/admin.ts', '--config', join(collector.dir, 'collector.yaml'), 'enrollment-token', 'create', '--site', 'merkez'], { encoding: 'utf8' })) as { token: string }).token;

it('enrolls an agent over HTTPS that trusts the private CA, and its data arrives', async () => {
  const file = agentConfigFile({ site: 'merkez', device: 'pc-https', kind: 'pc', intervalS: 1, mqtt: { url: collector.mqttUrl }, enrollment: { url: collector.apiUrl, token: enrollmentToken(), caFile: join(pki, 'ca.pem') } });
  agent = startAgentWithConfig(file);
  await waitFor('cpu points of pc-https', async () => Number((await influx.query('monitoring', `SELECT count(usage_pct) FROM cpu WHERE device = 'pc-https'`).catch(() => []))[0]?.values[0]?.[1] ?? 0) >= 1, 30_000);
});

it('is not reachable by a client that does not trust the CA', async () => {
  const refused = await new Promise<Error>((resolve) => {
    const req = request(`${collector.apiUrl}/healthz`, () => resolve(new Error('answered')));
    req.on('error', resolve);
    req.end();
  });
  expect(refused.message).toMatch(/self[- ]signed|unable to verify|certificate/i);
  const trusted = await new Promise<number>((resolve, reject) => {
    const req = request(`${collector.apiUrl}/healthz`, { ca: readFileSync(join(pki, 'ca.pem')) }, (res) => resolve(res.statusCode ?? 0));
    req.on('error', reject);
    req.end();
  });
  expect(trusted).toBe(200);
});
