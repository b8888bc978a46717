import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { freePort, startProcess, tempDir, waitFor, type ManagedProcess } from './helpers/servers.ts';

// The README's first command (`npm start` runs this script after installing what is missing):
// InfluxDB, the collector and an agent for this host, with this host in InfluxDB within 30 s.
let stack: ManagedProcess | undefined;
afterAll(async () => stack?.stop('SIGKILL'));

it('starts a working local stack that shows this host in InfluxDB within 30 s, and stops cleanly', async () => {
  const [influx, mqtt, api] = [await freePort(), await freePort(), await freePort()];
  const dir = tempDir('stack');
  const started = Date.now();
  stack = startProcess(process.execPath, ['scripts/local-stack.ts'], {
    env: { ...process.env, INFLUX_URL: `http://127.0.0.1:${influx}`, MQTT_PORT: String(mqtt), API_PORT: String(api), LOCAL_STACK_DIR: dir, SITE: 'test-yerel' },
  });
  await waitFor('the stack to report this host', async () => stack!.output().includes('Local stack is running'), 30_000, 200);
  expect(Date.now() - started).toBeLessThan(30_000);
  // Security is on as in production: no token, no answer; the stack's admin token works.
  expect((await fetch(`http://127.0.0.1:${api}/api/v1/devices`)).status).toBe(401);
  const token = readFileSync(join(dir, 'api-token'), 'utf8').trim();
  const devices = (await (await fetch(`http://127.0.0.1:${api}/api/v1/devices?site=test-yerel`, { headers: { authorization: `Bearer ${token}` } })).json()) as { devices: { online: boolean }[] };
  expect(devices.devices).toHaveLength(1);
  expect(devices.devices[0]?.online).toBe(true);
  await stack.stop('SIGINT');
  expect(stack.child.exitCode).toBe(0);
  await expect(fetch(`http://127.0.0.1:${api}/healthz`)).rejects.toThrow();
}, 60_000);
