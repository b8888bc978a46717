import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { collectorConfigSchema } from '../collector/config.ts';
import { ReportStore } from '../collector/reports/report-store.ts';
import { createStateBackup } from '../collector/state-backup/create.ts';
import type { Manifest } from '../collector/state-backup/manifest.ts';
import { restoreStateBackup } from '../collector/state-backup/restore.ts';
import { storeStats } from '../collector/state-backup/snapshot.ts';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';
import { connectClient, publish } from './helpers/mqtt-client.ts';
import { freePort, startInfluxDB, tempDir, waitFor, type InfluxServer } from './helpers/servers.ts';
import { startSmtpServer, type SmtpTestServer } from './helpers/smtp-server.ts';
import { writeReportNotifyFile } from './helpers/report-notify.ts';

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
      alerts: { path: path('alerts'), outboxPath: path('outbox'), ...(extra.alerts as object) },
      uptime: { path: path('uptime') },
      reports: { path: path('reports'), ...(extra.reports as object) },
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
    // No notification file, so no outbox yet; no agent backup check and no monthly report, so no
    // report store (it is made when first needed): listed as not included, with the reason.
    expect(manifest.stores.map((s) => s.name).sort()).toEqual(STORE_FILES.filter((s) => s !== 'outbox').sort());
    expect(manifest.notIncluded).toEqual([
      { key: 'alerts.outboxPath', path: join(source.dir, 'outbox.sqlite'), reason: 'no such file (that part of the collector has not run)' },
      { key: 'reports.path', path: join(source.dir, 'reports.sqlite'), reason: 'no such file (that part of the collector has not run)' },
    ]);
    expect(run.stdout).toContain(`not included: reports.path (${join(source.dir, 'reports.sqlite')}): no such file`);
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
    // The archive has no report store: none is written (the restored collector makes it when it needs one).
    expect(existsSync(join(dir, 'reports.sqlite'))).toBe(false);

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

// The report store and the monthly reports as mailed: a collector that made last month's report
// (the store says the monthly report has been on since 2020) and whose first mail got a
// temporary refusal, so its delivery is pending; an agent's backup check summed into the store.
// Restored into a fresh install whose reports.monthly.dir is elsewhere, the restored collector
// mails the pending report from the restored copies.
describe('izleme backup: the report store and the monthly report copies', () => {
  let smtp: SmtpTestServer;
  let source: CollectorProcess | undefined;
  let restored: CollectorProcess | undefined;

  beforeAll(async () => {
    smtp = await startSmtpServer();
  });
  afterAll(async () => {
    await restored?.stop();
    await source?.stop();
    await smtp?.stop();
  });

  it('backs up the store (schema version, rows) and the copies; restore brings both back owner-only, and the pending report is mailed from the copies', async () => {
    const files = tempDir('backup-reports-files');
    const notifyFile = join(files, 'notify.yaml');
    writeReportNotifyFile(notifyFile, smtp.port);
    const monthly = { channel: 'eposta', recipients: ['ahmet'], retry: { initialMs: 1_000, maxMs: 1_000 } };
    const sourceDir = tempDir('backup-reports-source');
    const sourceCopies = join(sourceDir, 'raporlar');
    const seed = ReportStore.open(join(sourceDir, 'reports.sqlite'));
    seed.remember('monthly.since', String(Date.parse('2020-01-01T00:00:00Z')));
    seed.close();
    smtp.failNext(1);
    source = await startCollectorProcess(
      { storage: { type: 'influx-v1', url: `http://127.0.0.1:${await freePort()}`, database: 'monitoring' }, alerts: { notifyFile }, reports: { institution: 'Iğdır Belediyesi', monthly: { ...monthly, dir: sourceCopies } } },
      { dir: sourceDir, apiUrl: `http://127.0.0.1:${await freePort()}`, mqttUrl: `mqtt://127.0.0.1:${await freePort()}` } as CollectorProcess,
    );
    const client = await connectClient(source.mqttUrl!);
    const ts = Date.now();
    await publish(client, 'muni/v1/merkez/srv-yedek/metrics', { v: 1, ts, metrics: [{ name: 'backup_file', tags: { instance: 'ebys-sql' }, fields: { ok: 1, status: 'ok', files: 4, size_bytes: 1024 } }] });
    client.end();
    const store = ReportStore.open(join(sourceDir, 'reports.sqlite'));
    let month = '';
    try {
      await waitFor('the month made, its mail refused for now, the check summed', async () => {
        month = store.reports()[0]?.month ?? '';
        return month !== '' && store.deliveries(month)[0]?.attempts === 1 && store.checkHours(ts - 3_600_000, ts + 3_600_000).length === 1;
      });
      expect(store.deliveries(month)).toMatchObject([{ address: 'ahmet@igdir.bel.tr', state: 'pending', lastError: expect.stringContaining('refused for now') }]);
    } finally {
      store.close();
    }
    const made = readdirSync(join(sourceCopies, month)).sort();
    expect(made).toContain('mail.json');
    expect(made).toHaveLength(4);

    const archive = join(tempDir('backup-reports-out'), 'state.tar.gz');
    const created = await izleme('backup', 'create', '--config', join(sourceDir, 'collector.yaml'), '--output', archive);
    expect(created, created.stderr).toMatchObject({ code: 0 });
    expect(created.stdout).toMatch(new RegExp(`\\n {2}store reports {3}schema v1 {2}backup_checks 1, deliveries 1, meta 1, monthly_reports 1, schema_version 1\\n`));
    expect(created.stdout).toContain(`  reports reports.monthly.dir: 4 files of 1 month (${month}), `);
    const manifest = manifestOf(archive);
    expect(manifest.stores.find((s) => s.name === 'reports')).toMatchObject({ key: 'reports.path', path: join(sourceDir, 'reports.sqlite'), member: 'stores/reports.sqlite', schemaVersion: 1, rows: { backup_checks: 1, monthly_reports: 1, deliveries: 1 } });
    const copies = manifest.files.filter((f) => f.key === 'reports.monthly.dir');
    expect(copies.map((f) => f.member)).toEqual(made.map((name) => `files/reports.monthly.dir/${month}/${name}`));
    expect(copies.map((f) => f.path)).toEqual(made.map((name) => join(sourceCopies, month, name)));
    await source.stop();
    source = undefined;

    // A fresh install: the copies go to another directory than on the old host.
    const dir = tempDir('backup-reports-restored');
    const newFiles = tempDir('backup-reports-restored-files');
    const newCopies = join(dir, 'aylik-raporlar');
    const [apiPort, mqttPort] = [await freePort(), await freePort()];
    const extra = {
      storage: { type: 'influx-v1', url: `http://127.0.0.1:${await freePort()}`, database: 'monitoring' },
      alerts: { notifyFile: join(newFiles, 'notify.yaml') },
      reports: { institution: 'Iğdır Belediyesi', monthly: { ...monthly, dir: newCopies } },
    };
    const config = installConfig(dir, apiPort, mqttPort, extra);
    const run = await izleme('backup', 'restore', archive, '--config', config);
    expect(run, run.stderr).toMatchObject({ code: 0 });
    expect(run.stdout).toContain(`  store reports   ${join(dir, 'reports.sqlite')}  backup_checks 1, deliveries 1, meta 1, monthly_reports 1, schema_version 1`);
    expect(run.stdout).toContain(`  reports reports.monthly.dir: 4 files of 1 month (${month}) into ${newCopies}`);
    expect(mode(join(dir, 'reports.sqlite'))).toBe(0o600);
    expect(storeStats(join(dir, 'reports.sqlite')).rows).toEqual(manifest.stores.find((s) => s.name === 'reports')!.rows);
    expect(mode(join(newCopies, month))).toBe(0o700);
    for (const name of made) {
      expect(readFileSync(join(newCopies, month, name)), name).toEqual(readFileSync(join(sourceCopies, month, name)));
      expect(mode(join(newCopies, month, name)), name).toBe(0o600);
    }
    const back = ReportStore.open(join(dir, 'reports.sqlite'));
    try {
      // Where the restored store says the month's files are: where they were restored.
      expect(back.report(month)).toMatchObject({ month, dir: join(newCopies, month) });
      expect(back.report(month)!.files.sort()).toEqual(made.filter((n) => n !== 'mail.json'));
      expect(back.checkHours(ts - 3_600_000, ts + 3_600_000)).toMatchObject([{ site: 'merkez', device: 'srv-yedek', job: 'ebys-sql', checks: 1, byStatus: { ok: 1 } }]);
      // Sent at the restored collector's first tick, once due (a second after the refusal).
      const due = back.deliveries(month)[0]!.nextAt;
      await waitFor('the pending delivery due', async () => Date.now() >= due);
    } finally {
      back.close();
    }

    // The restored collector sends the pending delivery, read from the restored copies; the month is not made again.
    rmSync(sourceCopies, { recursive: true });
    restored = await startCollectorProcess(extra, { dir, apiUrl: `http://127.0.0.1:${apiPort}`, mqttUrl: `mqtt://127.0.0.1:${mqttPort}` } as CollectorProcess);
    await waitFor('the pending monthly report mailed by the restored collector', async () => smtp.received.some((m) => m.envelope.to.includes('ahmet@igdir.bel.tr')));
    const mail = smtp.received.find((m) => m.envelope.to.includes('ahmet@igdir.bel.tr'))!;
    const saved = JSON.parse(readFileSync(join(newCopies, month, 'mail.json'), 'utf8')) as { subject: string };
    expect(mail.mail.subject).toBe(saved.subject);
    expect(mail.mail.attachments.map((a) => [a.filename, a.content.toString('utf8')]).sort()).toEqual(made.filter((n) => n !== 'mail.json').map((n) => [n, readFileSync(join(newCopies, month, n), 'utf8')]));
    const after = ReportStore.open(join(dir, 'reports.sqlite'));
    try {
      await waitFor('the delivery recorded as sent', async () => after.deliveries(month)[0]?.state === 'sent');
      expect(after.reports()).toHaveLength(1);
    } finally {
      after.close();
    }
  }, 90_000);
});

// The bound on report copies, and a collector without a report store, with the real create and
// restore code in this process.
describe('state backup: report copies bounded, report store absent', () => {
  const T = Date.UTC(2026, 10, 1, 4);

  /** A month's copies as the collector writes them: three files and mail.json, `size` bytes each. */
  function writeMonth(dir: string, month: string, size: number): void {
    mkdirSync(join(dir, month), { recursive: true });
    for (const name of [`rapor-${month}.html`, `erisilebilirlik-${month}.csv`, `kesintiler-${month}.csv`, 'mail.json']) writeFileSync(join(dir, month, name), Buffer.alloc(size, month.at(-1)!));
  }

  it('the newest `keep` months whole until the bound, the rest listed with the reason; only month directories and regular files', async () => {
    const dir = tempDir('backup-copies-bound');
    const copies = join(dir, 'raporlar');
    for (const month of ['2026-06', '2026-07', '2026-08', '2026-09', '2026-10']) writeMonth(copies, month, 1_000);
    writeFileSync(join(copies, 'notlar.txt'), 'not a month');
    mkdirSync(join(copies, 'eski'));
    mkdirSync(join(copies, '2026-10', 'alt'));
    writeFileSync(join(copies, '2026-10', 'kopya (1).html'), 'x');
    symlinkSync('/etc/passwd', join(copies, '2026-10', 'passwd.html'));
    const config = collectorConfigSchema.parse({
      security: { path: join(dir, 'security.sqlite') },
      registry: { path: join(dir, 'registry.sqlite') },
      alerts: { path: join(dir, 'alerts.sqlite'), outboxPath: join(dir, 'outbox.sqlite') },
      uptime: { path: join(dir, 'uptime.sqlite') },
      backups: { path: join(dir, 'backups.sqlite') },
      queue: { path: ':memory:' },
      reports: { path: join(dir, 'reports.sqlite'), monthly: { channel: 'eposta', recipients: ['ahmet'], dir: copies, keep: 4 } },
    });
    const output = join(dir, 'state.tar.gz');
    // 2026-10 holds 4,001 bytes, each other month 4,000: two months fit in 9,000, not three.
    const { manifest } = await createStateBackup({ config, configFile: undefined, output, now: new Date(T), reportCopiesMaxBytes: 9_000 });
    expect(manifest.stores).toEqual([]);
    expect([...new Set(manifest.files.map((f) => f.member.split('/')[2]))]).toEqual(['2026-10', '2026-09']);
    expect(manifest.files.filter((f) => f.member.includes('2026-10')).map((f) => f.member.split('/')[3])).toEqual(['erisilebilirlik-2026-10.csv', 'kesintiler-2026-10.csv', 'mail.json', 'rapor-2026-10.html']);
    const notes = manifest.notIncluded.filter((n) => n.key === 'reports.monthly.dir');
    expect(notes).toEqual([
      { key: 'reports.monthly.dir', path: join(copies, '2026-10', 'kopya (1).html'), reason: 'a file name the monthly report does not write' },
      { key: 'reports.monthly.dir', path: join(copies, '2026-08'), reason: expect.stringMatching(/^report copies are bounded to 8\.8 KiB, newest months first \(this month has 3\.9 KiB\); izleme report --month 2026-08 makes it again/) },
      { key: 'reports.monthly.dir', path: join(copies, '2026-07'), reason: expect.stringContaining('report copies are bounded') },
      { key: 'reports.monthly.dir', path: join(copies, '2026-06'), reason: 'older than the newest 4 months (reports.monthly.keep); the collector deletes it' },
    ]);
    // Not there yet, and made lazily: the report store's absence is a note, not a failure.
    expect(manifest.notIncluded).toContainEqual({ key: 'reports.path', path: join(dir, 'reports.sqlite'), reason: 'no such file (that part of the collector has not run)' });
    const members = execFileSync('tar', ['-tzf', output], { encoding: 'utf8' }).trim().split('\n');
    expect(members.filter((m) => m.startsWith('files/'))).toHaveLength(8);

    // Restored without a report store in the archive: the copies come back, no report store is made.
    const target = tempDir('backup-copies-restored');
    const newConfig = join(target, 'collector.yaml');
    writeFileSync(newConfig, stringify({ api: { port: 0 }, security: { path: join(target, 'security.sqlite') }, registry: { path: join(target, 'registry.sqlite') }, queue: { path: ':memory:' }, reports: { path: join(target, 'reports.sqlite'), monthly: { channel: 'eposta', recipients: ['ahmet'], dir: join(target, 'r') } } }));
    const report = await restoreStateBackup({ archive: output, configFile: newConfig, force: false });
    expect(report.stores).toEqual([]);
    expect(report.reportCopies).toEqual({ dir: join(target, 'r'), months: ['2026-09', '2026-10'], files: 8 });
    expect(readdirSync(join(target, 'r', '2026-09')).sort()).toEqual(['erisilebilirlik-2026-09.csv', 'kesintiler-2026-09.csv', 'mail.json', 'rapor-2026-09.html']);
    expect(existsSync(join(target, 'reports.sqlite'))).toBe(false);

    // A configuration without reports.monthly: the copies are skipped, in one line.
    const plain = join(tempDir('backup-copies-plain'), 'collector.yaml');
    writeFileSync(plain, stringify({ api: { port: 0 }, security: { path: join(dirname(plain), 'security.sqlite') }, registry: { path: join(dirname(plain), 'registry.sqlite') }, queue: { path: ':memory:' } }));
    const skipped = await restoreStateBackup({ archive: output, configFile: plain, force: false });
    expect(skipped.reportCopies).toBeUndefined();
    expect(skipped.skipped).toContain('8 monthly report copies (files/reports.monthly.dir/…): the configuration names no reports.monthly');
  });

  it('refuses an archive whose report copy member is not <month>/<file>, before writing anything', async () => {
    const dir = tempDir('backup-copies-odd');
    writeMonth(join(dir, 'raporlar'), '2026-10', 10);
    const config = collectorConfigSchema.parse({ security: { path: join(dir, 'security.sqlite') }, registry: { path: join(dir, 'registry.sqlite') }, queue: { path: ':memory:' }, reports: { path: join(dir, 'reports.sqlite'), monthly: { channel: 'eposta', recipients: ['ahmet'], dir: join(dir, 'raporlar') } } });
    const output = join(dir, 'state.tar.gz');
    await createStateBackup({ config, configFile: undefined, output, now: new Date(T) });
    // Re-packed by hand with a member that would climb out of the month's directory.
    const work = tempDir('backup-copies-odd-work');
    execFileSync('tar', ['-xzf', output, '-C', work]);
    const manifestFile = join(work, 'manifest.json');
    writeFileSync(manifestFile, readFileSync(manifestFile, 'utf8').replace('files/reports.monthly.dir/2026-10/mail.json', 'files/reports.monthly.dir/mail.json'));
    execFileSync('mv', [join(work, 'files/reports.monthly.dir/2026-10/mail.json'), join(work, 'files/reports.monthly.dir/mail.json')]);
    const odd = join(work, 'odd.tar.gz');
    execFileSync('tar', ['-czf', odd, '-C', work, 'manifest.json', 'files']);
    const target = tempDir('backup-copies-odd-target');
    const newConfig = join(target, 'collector.yaml');
    writeFileSync(newConfig, stringify({ api: { port: 0 }, security: { path: join(target, 'security.sqlite') }, registry: { path: join(target, 'registry.sqlite') }, queue: { path: ':memory:' }, reports: { path: join(target, 'reports.sqlite'), monthly: { channel: 'eposta', recipients: ['ahmet'], dir: join(target, 'r') } } }));
    await expect(restoreStateBackup({ archive: odd, configFile: newConfig, force: false })).rejects.toThrow('files/reports.monthly.dir/mail.json is not a monthly report copy (files/reports.monthly.dir/<YYYY-MM>/<file>); nothing was restored');
    expect(readdirSync(target)).toEqual(['collector.yaml']);
  });
});
