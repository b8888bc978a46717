import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { Manifest } from '../collector/state-backup/manifest.ts';
import { storeStats } from '../collector/state-backup/snapshot.ts';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';
import { connectClient, publish } from './helpers/mqtt-client.ts';
import { freePort, startInfluxDB, tempDir, waitFor, type InfluxServer } from './helpers/servers.ts';

// izleme backup create / restore on real processes: a collector with security on, under ingest
// (a publisher sending metrics to its embedded broker the whole time), an enrolled device, an
// alert and an outage; the archive made while it runs is restored into a fresh install whose
// collector then knows the same devices, credentials, alerts and outages, and accepts the old
// device with its old password. Also: the collector's own nightly backup, and every refusal.

const exec = promisify(execFile);
type Run = { code: number; stdout: string; stderr: string };

async function izleme(...args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await exec(process.execPath, ['--disable-warning=ExperimentalWarning', 'collector/izleme.ts', ...args], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? String(error) };
  }
}

const manifestOf = (archive: string) => JSON.parse(execFileSync('tar', ['-xzOf', archive, 'manifest.json'], { encoding: 'utf8' })) as Manifest;
const mode = (path: string) => statSync(path).mode & 0o777;
const STORE_FILES = ['security', 'registry', 'alerts', 'outbox', 'uptime', 'backups', 'spool'];

/** What startCollectorProcess writes for a directory, for restoring into it before the collector there starts. */
function installConfig(dir: string, apiPort: number, mqttPort: number, extra: Record<string, unknown>): string {
  const file = join(dir, 'collector.yaml');
  const path = (name: string) => join(dir, `${name}.sqlite`);
  writeFileSync(
    file,
    stringify({
      ...extra,
      api: { host: '127.0.0.1', port: apiPort },
      broker: { mode: 'embedded', host: '127.0.0.1', port: mqttPort },
      registry: { path: path('registry') },
      queue: { path: path('spool') },
      alerts: { path: path('alerts'), outboxPath: path('outbox') },
      uptime: { path: path('uptime') },
      backups: { path: path('backups'), ...(extra.backups as object) },
      security: { path: path('security'), deviceAuth: 'credentials', apiAuth: 'tokens' },
    }),
  );
  return file;
}

describe('izleme backup: a running collector under ingest, restored into a fresh install', () => {
  let influx: InfluxServer;
  let source: CollectorProcess;
  let sourceConfig: string;
  let selfDir: string;
  let restored: CollectorProcess | undefined;
  let archive: string;
  let apiToken: string;
  let device: { username: string; password: string; clientId: string };
  const clients: MqttClient[] = [];
  const auth = () => ({ authorization: `Bearer ${apiToken}` });

  beforeAll(async () => {
    influx = await startInfluxDB();
    const files = tempDir('backup-source-files');
    writeFileSync(join(files, 'backups.yaml'), stringify({ jobs: [{ id: 'sql-gunluk', site: 'merkez', schedule: { every: '1d' }, grace: '2h' }] }));
    selfDir = join(files, 'self-backups');
    mkdirSync(selfDir);
    // Three older archives: the first self-backup keeps the newest two (keep: 2) and deletes the rest.
    for (const day of ['20260101', '20260102', '20260103']) writeFileSync(join(selfDir, `belediye-izleme-state-${day}T023000Z.tar.gz`), 'old');
    source = await startCollectorProcess({
      storage: { type: 'influx-v1', url: influx.url, database: 'monitoring' },
      security: { deviceAuth: 'credentials', apiAuth: 'tokens' },
      backups: { file: join(files, 'backups.yaml') },
      selfBackup: { dir: selfDir, site: 'merkez', keep: 2, schedule: { every: '1d' } },
    });
    sourceConfig = join(source.dir, 'collector.yaml');
    const admin = async (...args: string[]) => JSON.parse((await izleme('admin', '--config', sourceConfig, ...args)).stdout) as Record<string, string>;
    apiToken = (await admin('api-token', 'create', '--name', 'noc-admin', '--role', 'admin')).token!;
    const enrollment = await admin('enrollment-token', 'create', '--site', 'merkez', '--uses', '5');
    const response = await fetch(`${source.apiUrl}/api/v1/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: enrollment.token, site: 'merkez', device: 'srv-yedek' }) });
    expect(response.status).toBe(201);
    device = (await response.json()) as typeof device;
    const client = await connectClient(source.mqttUrl!, device);
    clients.push(client);
    const now = Date.now();
    await publish(client, 'muni/v1/merkez/srv-yedek/state', { v: 1, ts: now, state: 'online', kind: 'server', intervalS: 60 });
    // An alert (SMART failing) and an outage (a kiosk that went offline).
    await publish(client, 'muni/v1/merkez/srv-yedek/metrics', { v: 1, ts: now, metrics: [{ name: 'smart', tags: { disk: 'sdb' }, fields: { passed: false } }] });
    const kiosk = await connectClient(source.mqttUrl!, await admin('device', 'credentials', 'merkez/kiosk-01'));
    clients.push(kiosk);
    await publish(kiosk, 'muni/v1/merkez/kiosk-01/state', { v: 1, ts: now, state: 'online', kind: 'kiosk', intervalS: 60 });
    await publish(kiosk, 'muni/v1/merkez/kiosk-01/state', { v: 1, ts: now + 1, state: 'offline', kind: 'kiosk', reason: 'shutdown' });
    await waitFor('the alert and the outage stored', async () => {
      const alerts = (await (await fetch(`${source.apiUrl}/api/v1/alerts?state=firing`, { headers: auth() })).json()) as { alerts?: unknown[] } | unknown[];
      const list = Array.isArray(alerts) ? alerts : (alerts.alerts ?? []);
      return list.length > 0 && (storeStats(join(source.dir, 'uptime.sqlite')).rows.outages ?? 0) > 0;
    });
  }, 60_000);

  afterAll(async () => {
    for (const client of clients) client.end(true);
    await restored?.stop();
    await source?.stop();
    await influx?.stop();
  });

  it('create: one archive of every store and configuration file, made while the collector ingests, mode 600, with a manifest', async () => {
    // Ingest the whole time: a device sending a metric every 5 ms, each acknowledged by the broker.
    const publisher = clients[0]!;
    let acked = 0;
    let publishing = true;
    const loop = (async () => {
      for (let i = 0; publishing; i++) {
        await publish(publisher, 'muni/v1/merkez/srv-yedek/metrics', { v: 1, ts: Date.now(), metrics: [{ name: 'cpu', fields: { usage_pct: i % 100 } }] });
        acked++;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await waitFor('ingest under way', async () => acked > 50);
    archive = join(tempDir('backup-out'), 'state.tar.gz');
    const ackedBefore = acked;
    const started = performance.now();
    const run = await izleme('backup', 'create', '--config', sourceConfig, '--output', archive);
    const seconds = (performance.now() - started) / 1000;
    const ackedDuring = acked - ackedBefore;
    publishing = false;
    await loop;
    expect(run, run.stderr).toMatchObject({ code: 0 });
    expect(run.stdout).toMatch(new RegExp(`^backup written: ${archive} \\(\\d+\\.\\d KiB, \\d+\\.\\d\\d s\\)`));
    expect(ackedDuring).toBeGreaterThan(0);
    expect(mode(archive)).toBe(0o600);
    const manifest = manifestOf(archive);
    // No notification file, so no outbox yet: listed as not included, with the reason.
    expect(manifest.stores.map((s) => s.name).sort()).toEqual(STORE_FILES.filter((s) => s !== 'outbox').sort());
    expect(manifest.notIncluded).toEqual([{ key: 'alerts.outboxPath', path: join(source.dir, 'outbox.sqlite'), reason: 'no such file (that part of the collector has not run)' }]);
    const rows = (name: string) => manifest.stores.find((s) => s.name === name)!.rows;
    expect(rows('security')).toMatchObject({ device_credentials: 2, api_tokens: 1, enrollment_tokens: 1 });
    expect(rows('registry').devices).toBe(2);
    expect(rows('alerts').alerts).toBeGreaterThanOrEqual(1);
    expect(rows('uptime').outages).toBeGreaterThanOrEqual(1);
    for (const store of manifest.stores) expect(store.schemaVersion, store.name).toBe(1);
    expect(manifest.files.map((f) => f.key)).toEqual(['config', 'backups.file']);
    const members = execFileSync('tar', ['-tzf', archive], { encoding: 'utf8' }).trim().split('\n');
    expect(members[0]).toBe('manifest.json');
    expect(members).toEqual(expect.arrayContaining(['stores/security.sqlite', 'files/config/collector.yaml', 'files/backups.file/backups.yaml']));
    process.stdout.write(`[measured] archive ${statSync(archive).size} bytes, create ${seconds.toFixed(2)} s under ingest (${ackedDuring} messages acknowledged meanwhile)\n`);
  }, 60_000);

  it('restore into a fresh install: same devices, credentials, alerts, outages and audit; the device connects with its OLD credentials and its data is accepted', async () => {
    const dir = tempDir('backup-restored');
    const files = tempDir('backup-restored-files');
    const [apiPort, mqttPort] = [await freePort(), await freePort()];
    const extra = { storage: { type: 'influx-v1', url: influx.url, database: 'restored' }, backups: { file: join(files, 'backups.yaml') } };
    const config = installConfig(dir, apiPort, mqttPort, extra);
    const run = await izleme('backup', 'restore', archive, '--config', config);
    expect(run, run.stderr).toMatchObject({ code: 0 });
    expect(run.stdout).toContain('(configuration: the existing one names the paths)');
    const manifest = manifestOf(archive);
    for (const store of manifest.stores) {
      const path = join(dir, `${store.name}.sqlite`);
      expect(mode(path), path).toBe(0o600);
      expect(storeStats(path).rows, store.name).toEqual(store.rows);
    }
    expect(readFileSync(join(files, 'backups.yaml'), 'utf8')).toContain('sql-gunluk');
    expect(mode(join(files, 'backups.yaml'))).toBe(0o600);

    restored = await startCollectorProcess({ ...extra, security: { deviceAuth: 'credentials', apiAuth: 'tokens' } }, { dir, apiUrl: `http://127.0.0.1:${apiPort}`, mqttUrl: `mqtt://127.0.0.1:${mqttPort}` } as CollectorProcess);
    // The old admin token works on the new collector, and it knows the same devices and alerts.
    const devices = (await (await fetch(`${restored.apiUrl}/api/v1/devices`, { headers: auth() })).json()) as { devices?: { device: string }[] } | { device: string }[];
    const list = Array.isArray(devices) ? devices : devices.devices!;
    expect(list.map((d) => d.device).sort()).toEqual(['kiosk-01', 'srv-yedek']);
    const alerts = await izleme('alerts', '--config', join(dir, 'collector.yaml'), '--json', '--state', 'firing');
    expect(JSON.parse(alerts.stdout)).toContainEqual(expect.objectContaining({ rule: 'smart_failing', labels: expect.objectContaining({ device: 'srv-yedek' }) }));

    await expect(connectClient(restored.mqttUrl!, { ...device, password: 'not-the-password' })).rejects.toThrow();
    const client = await connectClient(restored.mqttUrl!, device);
    clients.push(client);
    const ts = Date.now();
    await publish(client, 'muni/v1/merkez/srv-yedek/metrics', { v: 1, ts, metrics: [{ name: 'cpu', fields: { usage_pct: 42.5 } }] });
    await waitFor('the old device\'s point in InfluxDB, written by the restored collector', async () => {
      const series = await influx.query('restored', `SELECT usage_pct FROM cpu WHERE device = 'srv-yedek' AND time = ${ts}ms`).catch(() => []);
      return series.length > 0 && series[0]!.values[0]![1] === 42.5;
    });
    // Nothing was enrolled again: the credentials are the ones from the backup.
    const audit = storeStats(join(dir, 'security.sqlite')).rows;
    expect(audit.device_credentials).toBe(2);
    expect(audit.audit_log).toBeGreaterThanOrEqual(manifest.stores.find((s) => s.name === 'security')!.rows.audit_log!);
  }, 90_000);

  it('restore refuses while a collector runs there, refuses to overwrite stores holding data without --force, and replaces them with it', async () => {
    const config = join(restored!.dir, 'collector.yaml');
    const running = await izleme('backup', 'restore', archive, '--config', config);
    expect(running.code).toBe(1);
    expect(running.stderr).toMatch(/^izleme backup restore: a collector seems to run \(.*security\.sqlite is open in another process.*; the collector API port 127\.0\.0\.1:\d+ \(api\.port in .*\) answers\): stop it first/s);
    await restored!.stop();
    const refused = await izleme('backup', 'restore', archive, '--config', config);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('refusing to overwrite, nothing was restored:');
    expect(refused.stderr).toContain(`${join(restored!.dir, 'security.sqlite')} (security store (security.path)) holds data`);
    expect(refused.stderr).toContain('give --force to replace these');
    const forced = await izleme('backup', 'restore', archive, '--config', config, '--force');
    expect(forced, forced.stderr).toMatchObject({ code: 0 });
    expect(storeStats(join(restored!.dir, 'security.sqlite')).rows).toEqual(manifestOf(archive).stores.find((s) => s.name === 'security')!.rows);
    restored = undefined;
  }, 60_000);

  it('a tampered archive (a member changed, the manifest not) is refused by its hash and nothing is written', async () => {
    const work = tempDir('backup-tamper');
    execFileSync('tar', ['-xzf', archive, '-C', work]);
    const store = join(work, 'stores/registry.sqlite');
    const bytes = readFileSync(store);
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
    writeFileSync(store, bytes);
    const tampered = join(work, 'tampered.tar.gz');
    execFileSync('tar', ['-czf', tampered, '-C', work, 'manifest.json', 'stores', 'files']);
    const fresh = tempDir('backup-fresh');
    const config = installConfig(fresh, await freePort(), await freePort(), {});
    const run = await izleme('backup', 'restore', tampered, '--config', config);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/does not match its manifest, nothing was restored:\n {2}stores\/registry\.sqlite: SHA-256 [0-9a-f]{64} does not match the manifest's [0-9a-f]{64}/);
    expect(readdirSync(fresh)).toEqual(['collector.yaml']);
  });

  it('a truncated archive, and a file that is no archive, are refused with a clear error', async () => {
    const dir = tempDir('backup-truncated');
    const truncated = join(dir, 'truncated.tar.gz');
    const whole = readFileSync(archive);
    writeFileSync(truncated, whole.subarray(0, Math.floor(whole.length / 2)));
    const config = installConfig(dir, await freePort(), await freePort(), {});
    const run = await izleme('backup', 'restore', truncated, '--config', config);
    expect(run).toMatchObject({ code: 1, stdout: '' });
    expect(run.stderr).toMatch(/^izleme backup restore: .*truncated\.tar\.gz is truncated/);
    const notArchive = join(dir, 'notes.tar.gz');
    writeFileSync(notArchive, 'yedek değil\n');
    expect((await izleme('backup', 'restore', notArchive, '--config', config)).stderr).toMatch(/notes\.tar\.gz is not a gzip archive or is damaged/);
    expect((await izleme('backup', 'restore', join(dir, 'missing.tar.gz'), '--config', config)).stderr).toContain('no such archive');
    expect(readdirSync(dir).filter((f) => f.endsWith('.sqlite'))).toEqual([]);
    expect(await izleme('backup', 'restore', '--config', config)).toMatchObject({ code: 2, stderr: expect.stringContaining('restore takes one archive') });
    expect(await izleme('backup', 'tar')).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown command "tar"') });
  });

  it('the collector\'s own backup: a job of its backup verification, the archive written at once on a new install, only the newest `keep` kept', async () => {
    await waitFor('the self-backup archive', async () => readdirSync(selfDir).some((f) => f.endsWith('.tar.gz') && !f.includes('T023000Z')));
    await waitFor('the self-backup job reported ok', async () => {
      const body = (await (await fetch(`${source.apiUrl}/api/v1/backups`, { headers: auth() })).json()) as { jobs: { id: string; evaluation: { state: string } }[] };
      return body.jobs.find((j) => j.id === 'izleme-self-backup')?.evaluation.state === 'ok';
    });
    const archives = readdirSync(selfDir).filter((f) => f.endsWith('.tar.gz')).sort();
    expect(archives).toHaveLength(2);
    expect(archives[0]).toBe('belediye-izleme-state-20260103T023000Z.tar.gz');
    const own = join(selfDir, archives[1]!);
    expect(mode(own)).toBe(0o600);
    const body = (await (await fetch(`${source.apiUrl}/api/v1/backups`, { headers: auth() })).json()) as { jobs: { id: string; site: string; evaluation: { lastSizeBytes: number } }[] };
    expect(body.jobs.map((j) => j.id).sort()).toEqual(['izleme-self-backup', 'sql-gunluk']);
    expect(body.jobs.find((j) => j.id === 'izleme-self-backup')).toMatchObject({ site: 'merkez', evaluation: { lastSizeBytes: statSync(own).size } });
    expect(manifestOf(own).stores.map((s) => s.name)).toContain('security');
  });
});

describe('the collector\'s own backup failing', () => {
  it('a self-backup that cannot be written is reported failed (the backup_failed alert follows), and the collector goes on', async () => {
    const files = tempDir('backup-failing');
    const notADir = join(files, 'not-a-directory');
    writeFileSync(notADir, 'a file where the backup directory should be');
    const collector = await startCollectorProcess({ storage: { type: 'influx-v1', url: `http://127.0.0.1:${await freePort()}`, database: 'monitoring' }, selfBackup: { dir: notADir, site: 'merkez' } });
    try {
      await waitFor('the self-backup job failed', async () => {
        const body = (await (await fetch(`${collector.apiUrl}/api/v1/backups`)).json()) as { jobs: { id: string; evaluation: { state: string; lastMessage: string | null } }[] };
        const job = body.jobs.find((j) => j.id === 'izleme-self-backup');
        return job?.evaluation.state === 'failed' && /not-a-directory/.test(job.evaluation.lastMessage ?? '');
      });
      await waitFor('the backup_failed alert', async () => {
        const response = (await (await fetch(`${collector.apiUrl}/api/v1/alerts?state=active`)).json()) as { alerts?: { rule: string }[] } | { rule: string }[];
        const list = Array.isArray(response) ? response : (response.alerts ?? []);
        return list.some((a) => a.rule === 'backup_failed');
      });
      expect((await fetch(`${collector.apiUrl}/readyz`)).status).toBe(200);
    } finally {
      await collector.stop();
    }
  }, 60_000);
});

// Kept out of the way of the copies above: restoring the archived configuration where none exists.
describe('restore onto a host without a configuration', () => {
  it('writes the archived collector.yaml to --config and puts the stores where it names them', async () => {
    const dir = tempDir('backup-archived-config');
    const data = join(dir, 'data');
    const config = installConfig(dir, await freePort(), await freePort(), {});
    const registry = join(dir, 'registry.sqlite');
    // A store made by a short-lived collector-less run: the registry with one device.
    const { DeviceRegistry } = await import('../collector/registry/device-registry.ts');
    const r = DeviceRegistry.open(registry);
    r.recordState({ site: 'merkez', device: 'pc-1' }, { v: 1, ts: 1, state: 'online', kind: 'pc' } as never, Date.now());
    r.close();
    const archiveFile = join(dir, 'a.tar.gz');
    expect(await izleme('backup', 'create', '--config', config, '--output', archiveFile)).toMatchObject({ code: 0 });
    const target = join(data, 'collector.yaml');
    // The archived configuration names the old paths: the restore goes there, so the old files must be gone (a new host).
    copyFileSync(registry, `${registry}.kept`);
    execFileSync('rm', ['-f', registry, `${registry}-wal`, `${registry}-shm`]);
    const run = await izleme('backup', 'restore', archiveFile, '--config', target);
    expect(run, run.stderr).toMatchObject({ code: 0 });
    expect(run.stdout).toContain('the archived one, written to --config');
    expect(readFileSync(target, 'utf8')).toBe(readFileSync(config, 'utf8'));
    expect(mode(target)).toBe(0o600);
    expect(storeStats(registry).rows.devices).toBe(1);
    expect(existsSync(join(dir, 'security.sqlite'))).toBe(false);
  });
});
