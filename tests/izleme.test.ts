import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { StoredAlert } from '../collector/alerts/alert-store.ts';
import { DEFAULT_CONFIG_FILE } from '../collector/cli/collector-config.ts';
import type { DeviceSummary } from '../collector/registry/device-registry.ts';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';
import { connectClient, publish } from './helpers/mqtt-client.ts';
import { freePort, tempDir, waitFor } from './helpers/servers.ts';

// The izleme CLI as an administrator runs it on the collector host: a real process against the
// files of a real, running collector (security on), found through the collector's configuration
// file. It refuses to work on files the collector does not use, and never creates a store.

const exec = promisify(execFile);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function izleme(...args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await exec(process.execPath, ['--disable-warning=ExperimentalWarning', 'collector/izleme.ts', ...args], { encoding: 'utf8' });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? String(error) };
  }
}

describe('izleme without the collector', () => {
  it('--help lists the commands and how the configuration is found; each command has its usage', async () => {
    const help = await izleme('--help');
    expect(help.code).toBe(0);
    for (const command of ['admin', 'devices', 'alerts', 'report', 'discover', 'backup']) expect(help.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    expect(help.stdout).toContain(`${DEFAULT_CONFIG_FILE} by default, another file with --config FILE`);
    expect(await izleme('devices', '--help')).toMatchObject({ code: 0, stdout: expect.stringMatching(/^usage: izleme devices /) });
    expect(await izleme('help', 'admin')).toMatchObject({ code: 0, stdout: expect.stringMatching(/^usage: izleme admin /) });
    expect(await izleme()).toMatchObject({ code: 2, stderr: expect.stringContaining('usage: izleme <command>') });
    expect(await izleme('dashboards')).toMatchObject({ code: 2, stderr: expect.stringMatching(/^izleme: unknown command "dashboards"/) });
  });

  it.skipIf(existsSync(DEFAULT_CONFIG_FILE))('without --config reads the installed configuration, and says so when there is none', async () => {
    for (const args of [['devices'], ['alerts'], ['admin', 'api-token', 'create', '--name', 'noc', '--role', 'admin']]) {
      const run = await izleme(...args);
      expect(run, args.join(' ')).toMatchObject({ code: 2, stdout: '' });
      expect(run.stderr).toBe(`no collector configuration at ${DEFAULT_CONFIG_FILE} (the default): give the running collector's configuration file with --config FILE\n`);
    }
  });

  it('names a --config file that does not exist', async () => {
    const missing = join(tempDir('izleme'), 'collector.yaml');
    expect(await izleme('devices', '--config', missing)).toMatchObject({ code: 2, stderr: `--config: no such file ${missing}: give the running collector's configuration file\n` });
  });

  it('refuses to create a store the configuration names but the collector has not made, and creates nothing', async () => {
    const dir = tempDir('izleme');
    const data = join(dir, 'data');
    const config = join(dir, 'collector.yaml');
    writeFileSync(config, stringify({ security: { path: join(data, 'security.sqlite') }, registry: { path: join(data, 'registry.sqlite') }, alerts: { path: join(data, 'alerts.sqlite') } }));
    const cases: [string[], string, string][] = [
      [['admin', '--config', config, 'enrollment-token', 'create', '--site', 'merkez'], 'security store', 'security.path'],
      [['admin', '--config', config, 'audit'], 'security store', 'security.path'],
      [['devices', '--config', config], 'device registry', 'registry.path'],
      [['alerts', '--config', config], 'alert store', 'alerts.path'],
    ];
    for (const [args, what, key] of cases) {
      const run = await izleme(...args);
      expect(run, args.join(' ')).toMatchObject({ code: 1, stdout: '' });
      expect(run.stderr).toMatch(new RegExp(`^no ${what} at ${join(data, '[a-z]+\\.sqlite')}\\. Refusing to create a new, empty one`));
      expect(run.stderr).toContain(`check ${key} in ${config}, or give the running collector's configuration with --config FILE`);
    }
    expect(existsSync(data)).toBe(false);
  });

  it('says a relative store path is taken from the current directory, not the collector\'s', async () => {
    const dir = tempDir('izleme');
    const config = join(dir, 'collector.yaml');
    writeFileSync(config, stringify({ registry: { path: './izleme-test-nowhere/registry.sqlite' } }));
    const run = await izleme('devices', '--config', config);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`no device registry at ${join(process.cwd(), 'izleme-test-nowhere/registry.sqlite')} (registry.path is relative`);
    expect(existsSync('izleme-test-nowhere')).toBe(false);
  });

  it('answers bad options with the command\'s usage', async () => {
    const config = join(tempDir('izleme'), 'collector.yaml');
    writeFileSync(config, '{}\n');
    expect(await izleme('devices', '--config', config, '--state', 'yarı')).toMatchObject({ code: 2, stderr: expect.stringMatching(/^--state: expected online or offline\nusage: izleme devices/) });
    expect(await izleme('alerts', '--config', config, '--state', 'yanıyor')).toMatchObject({ code: 2, stderr: expect.stringMatching(/^--state: .*\nusage: izleme alerts/) });
    expect(await izleme('alerts', '--renk', 'kırmızı')).toMatchObject({ code: 2, stderr: expect.stringMatching(/^Unknown option '--renk'.*\nusage: izleme alerts/s) });
    expect(await izleme('devices', '--config', config, 'merkez')).toMatchObject({ code: 2, stderr: expect.stringMatching(/^unexpected "merkez"/) });
  });

  it('backup without create or restore answers with its usage (tests/state-backup.test.ts runs it)', async () => {
    expect(await izleme('backup')).toMatchObject({ code: 2, stdout: '', stderr: expect.stringMatching(/^izleme backup: give create or restore\nusage: izleme backup create/) });
    expect(await izleme('backup', '--help')).toMatchObject({ code: 0, stdout: expect.stringMatching(/^usage: izleme backup create \[--config FILE\] \[--output FILE\]/) });
  });
});

describe('izleme against a running collector', () => {
  let collector: CollectorProcess;
  let config: string;
  const clients: MqttClient[] = [];
  const ok = async (...args: string[]) => {
    const run = await izleme(...args);
    expect(run, `izleme ${args.join(' ')}: ${run.stderr}`).toMatchObject({ code: 0 });
    return run.stdout;
  };
  const json = async <T>(...args: string[]) => JSON.parse(await ok(...args)) as T;

  beforeAll(async () => {
    // Storage is not part of this: points wait in the spool for an InfluxDB that never comes.
    collector = await startCollectorProcess({ storage: { type: 'influx-v1', url: `http://127.0.0.1:${await freePort()}`, database: 'monitoring' }, security: { deviceAuth: 'credentials', apiAuth: 'tokens' } });
    config = join(collector.dir, 'collector.yaml');
  });
  afterAll(async () => {
    for (const client of clients) client.end(true);
    await collector?.stop();
  });

  it('admin makes tokens in the running collector\'s own store: its API and enrollment accept them', async () => {
    const apiToken = await json<{ token: string }>('admin', '--config', config, 'api-token', 'create', '--name', 'noc-admin', '--role', 'admin');
    expect((await fetch(`${collector.apiUrl}/api/v1/devices`, { headers: { authorization: `Bearer ${apiToken.token}` } })).status).toBe(200);

    const enrollment = await json<{ token: string; site: string }>('admin', '--config', config, 'enrollment-token', 'create', '--site', 'merkez', '--uses', '2');
    expect(enrollment.site).toBe('merkez');
    const response = await fetch(`${collector.apiUrl}/api/v1/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: enrollment.token, site: 'merkez', device: 'srv-izleme' }) });
    expect(response.status).toBe(201);
    const credentials = (await response.json()) as { username: string; password: string; clientId: string };
    // The enrolled device's credentials work on the broker: the collector knows the device.
    clients.push(await connectClient(collector.mqttUrl!, credentials));

    const audit = await json<{ actor: string; action: string }[]>('admin', '--config', config, 'audit', '--limit', '10');
    expect(audit.filter((e) => e.actor === `cli:${userInfo().username}`).map((e) => e.action)).toEqual(expect.arrayContaining(['api_token.create', 'enrollment_token.create']));
  });

  it('devices lists the registry: site, device, kind, state, last seen; filters by state and site; --json', async () => {
    const issue = async (device: string) => json<{ username: string; password: string; clientId: string }>('admin', '--config', config, 'device', 'credentials', `kultur/${device}`);
    const online = await connectClient(collector.mqttUrl!, await issue('srv-dosya'));
    const leaving = await connectClient(collector.mqttUrl!, await issue('pc-kiosk'));
    clients.push(online, leaving);
    const now = Date.now();
    await publish(online, 'muni/v1/kultur/srv-dosya/state', { v: 1, ts: now, state: 'online', kind: 'server', intervalS: 60 });
    await publish(online, 'muni/v1/kultur/srv-dosya/metrics', { v: 1, ts: now, metrics: [{ name: 'cpu', fields: { usage_pct: 12 } }] });
    await publish(leaving, 'muni/v1/kultur/pc-kiosk/state', { v: 1, ts: now, state: 'online', kind: 'kiosk', intervalS: 60 });
    await publish(leaving, 'muni/v1/kultur/pc-kiosk/state', { v: 1, ts: now + 1, state: 'offline', kind: 'kiosk', reason: 'shutdown' });

    type Listed = Pick<DeviceSummary, 'site' | 'device' | 'kind' | 'online' | 'offlineReason'>;
    const pick = (d: DeviceSummary): Listed => ({ site: d.site, device: d.device, kind: d.kind, online: d.online, offlineReason: d.offlineReason });
    await waitFor('both devices in the registry file', async () => (await json<DeviceSummary[]>('devices', '--config', config, '--json', '--site', 'kultur')).filter((d) => !d.online).length === 1);
    expect((await json<DeviceSummary[]>('devices', '--config', config, '--json', '--site', 'kultur')).map(pick)).toEqual([
      { site: 'kultur', device: 'pc-kiosk', kind: 'kiosk', online: false, offlineReason: 'shutdown' },
      { site: 'kultur', device: 'srv-dosya', kind: 'server', online: true, offlineReason: null },
    ]);

    const table = (await ok('devices', '--config', config)).split('\n');
    expect(table[0]).toMatch(/^SITE\s+DEVICE\s+KIND\s+STATE\s+LAST SEEN$/);
    const row = (device: string) => table.find((line) => line.includes(` ${device} `)) ?? '';
    expect(row('srv-dosya')).toMatch(/^kultur\s+srv-dosya\s+server\s+online\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d \(\d+ s ago\)$/);
    expect(row('pc-kiosk')).toMatch(/^kultur\s+pc-kiosk\s+kiosk\s+offline \(shutdown\)\s+\d{4}-/);

    const offline = (await ok('devices', '--config', config, '--state', 'offline')).split('\n').filter(Boolean);
    expect(offline.slice(1).map((line) => line.split(/\s+/).slice(0, 2).join('/'))).toEqual(['kultur/pc-kiosk']);
    expect(await ok('devices', '--config', config, '--site', 'zabita')).toBe('no devices\n');
  });

  it('alerts lists the active alerts; ack acknowledges one through the admin command (audited)', async () => {
    expect(await ok('alerts', '--config', config)).toBe('no alerts\n');
    const device = await connectClient(collector.mqttUrl!, await json<{ username: string; password: string; clientId: string }>('admin', '--config', config, 'device', 'credentials', 'merkez/srv-yedek'));
    clients.push(device);
    await publish(device, 'muni/v1/merkez/srv-yedek/state', { v: 1, ts: Date.now(), state: 'online', kind: 'server', intervalS: 60 });
    await publish(device, 'muni/v1/merkez/srv-yedek/metrics', { v: 1, ts: Date.now(), metrics: [{ name: 'smart', tags: { disk: 'sdb' }, fields: { passed: false } }] });

    await waitFor('the SMART alert in the alert store', async () => (await json<StoredAlert[]>('alerts', '--config', config, '--json')).some((a) => a.rule === 'smart_failing'));
    const [alert] = (await json<StoredAlert[]>('alerts', '--config', config, '--json')).filter((a) => a.rule === 'smart_failing');
    expect(alert).toMatchObject({ state: 'firing', severity: 'critical', labels: { site: 'merkez', device: 'srv-yedek', instance: 'sdb' } });

    const table = (await ok('alerts', 'list', '--config', config, '--site', 'merkez')).split('\n');
    expect(table[0]).toMatch(/^ID\s+SEVERITY\s+STATE\s+SITE\s+DEVICE\s+RULE\s+SINCE\s+NOTE$/);
    expect(table[1]).toMatch(new RegExp(`^${alert!.id}\\s+critical\\s+firing\\s+merkez\\s+srv-yedek\\s+smart_failing\\s+\\d{4}-\\d\\d-\\d\\d `));
    expect(await ok('alerts', '--config', config, '--site', 'kultur')).toBe('no alerts\n');

    expect(await json('alerts', 'ack', alert!.id, '--config', config, '--comment', 'disk sipariş edildi')).toMatchObject({ id: alert!.id, ackBy: `cli:${userInfo().username}` });
    expect((await ok('alerts', '--config', config)).split('\n')[1]).toMatch(new RegExp(`acknowledged by cli:${userInfo().username}$`));
    const audit = await json<{ actor: string; action: string; target: string; detail: unknown }[]>('admin', '--config', config, 'audit', '--limit', '5');
    expect(audit).toContainEqual(expect.objectContaining({ actor: `cli:${userInfo().username}`, action: 'alert.acknowledge', target: alert!.id, detail: { comment: 'disk sipariş edildi' } }));
  });

  it('report takes the outage log from the collector\'s configuration', async () => {
    const out = join(tempDir('izleme-report'), 'rapor');
    mkdirSync(out);
    const month = new Date(Date.now() - 40 * 24 * 3_600_000).toISOString().slice(0, 7);
    const files = (await ok('report', '--config', config, '--month', month, '--out', out)).trim().split('\n');
    expect(files).toHaveLength(3);
    for (const file of files) expect(existsSync(file)).toBe(true);
  });
});
