import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALERT_SCHEMA, AlertStore } from '../collector/alerts/alert-store.ts';
import { OUTBOX_SCHEMA, Outbox } from '../collector/alerts/outbox.ts';
import { HEARTBEAT_SCHEMA, HeartbeatStore } from '../collector/backups/heartbeat-store.ts';
import { DeviceRegistry, REGISTRY_SCHEMA } from '../collector/registry/device-registry.ts';
import { REPORT_STORE_SCHEMA, ReportStore } from '../collector/reports/report-store.ts';
import { SECURITY_SCHEMA, SecurityStore } from '../collector/security/store.ts';
import { latestVersion, schemaVersion, StoreVersionError, type StoreSchema } from '../collector/storage/schema-version.ts';
import { SPOOL_SCHEMA, Spool } from '../collector/storage/spool.ts';
import { OUTAGE_SCHEMA, OutageLog } from '../collector/uptime/outage-log.ts';
import { createLogger } from '../src/log.ts';

// A newer collector opens the files the previous release wrote: tests/fixtures/stores/v1 was
// written by release 1's code (make-fixtures.ts). Each file is copied (the committed fixture is
// never touched), opened with today's code, read back, written, and opened again. A future
// schema change that forgets its migration fails here.

const FIXTURES = new URL('./fixtures/stores/v1/', import.meta.url).pathname;
const T = Date.UTC(2026, 0, 15, 8, 0, 0);
const log = createLogger({ name: 'store-upgrade', level: 'error' });
const fixtureSecrets = JSON.parse(readFileSync(join(FIXTURES, 'secrets.json'), 'utf8')) as { device: { username: string; password: string }; apiToken: string };

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'store-upgrade-'));
  cpSync(FIXTURES, dir, { recursive: true });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const versionOf = (file: string) => {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return schemaVersion(db);
  } finally {
    db.close();
  }
};

describe('release 1 store files open with the current code', () => {
  it('device registry: devices, states and inventory read back, a new device is written', () => {
    const file = join(dir, 'registry.sqlite');
    const registry = DeviceRegistry.open(file);
    expect(registry.list().map((d) => [d.site, d.device, d.kind, d.online])).toEqual([
      ['merkez', 'bi-pc014', 'pc', true],
      ['zabita', 'ups-1', 'ups', false],
    ]);
    expect(registry.get({ site: 'merkez', device: 'bi-pc014' })).toMatchObject({ agent: { name: 'belediye-agent', version: '0.1.0' }, inventoryHash: 'inv-hash-1', lastSeen: T + 5_000 });
    expect(registry.inventory({ site: 'merkez', device: 'bi-pc014' })).toEqual({ os: { hostname: 'BI-PC014' } });
    registry.recordState({ site: 'merkez', device: 'yeni-pc' }, { v: 1, ts: T, state: 'online', kind: 'pc' } as never, T + 10_000);
    registry.close();
    const again = DeviceRegistry.open(file);
    expect(again.list()).toHaveLength(3);
    again.close();
    expect(versionOf(file)).toBe(latestVersion(REGISTRY_SCHEMA));
  });

  it('security store: the old device password and API token still verify, the audit log reads back, a new credential is written', () => {
    const file = join(dir, 'security.sqlite');
    expect(versionOf(file)).toBe(0);
    const security = SecurityStore.open(file);
    expect(security.verifyDevice(fixtureSecrets.device.username, fixtureSecrets.device.password)).toEqual({ site: 'merkez', device: 'bi-pc014' });
    expect(security.verifyDevice(fixtureSecrets.device.username, 'wrong')).toBeUndefined();
    expect(security.verifyApiToken(fixtureSecrets.apiToken)).toMatchObject({ name: 'noc-admin', role: 'admin' });
    expect(security.deviceCredentials().map((c) => c.username).sort()).toEqual(['merkez/bi-pc014', 'merkez/kiosk-01']);
    expect(security.auditLog().map((e) => e.action)).toContain('fixture.written');
    expect(security.enrollmentTokens()[0]).toMatchObject({ site: 'merkez', uses: 1, maxUses: 5 });
    security.issueDeviceCredentials({ site: 'merkez', device: 'kiosk-02' }, 'cli:test');
    security.close();
    expect(versionOf(file)).toBe(latestVersion(SECURITY_SCHEMA));
    const again = SecurityStore.open(file);
    expect(again.deviceCredentials()).toHaveLength(3);
    again.close();
  });

  it('alert store: the firing alert, its history, silence and maintenance read back; an acknowledgement is written', () => {
    const file = join(dir, 'alerts.sqlite');
    const alerts = AlertStore.open(file);
    const [firing] = alerts.active();
    expect(firing).toMatchObject({ rule: 'disk_almost_full', state: 'firing', since: T, firedAt: T + 60_000, labels: { site: 'merkez', device: 'bi-pc014' } });
    expect(alerts.history(firing!.id).map((h) => h.transition)).toEqual(['pending', 'firing']);
    expect(alerts.silences(T + 1_000).map((s) => s.id)).toEqual(['sil_fixture']);
    expect(alerts.maintenance(T + 1_000).map((m) => m.id)).toEqual(['mnt_0123456789ab']);
    alerts.acknowledge(firing!.id, 'cli:test', T + 120_000);
    alerts.close();
    const again = AlertStore.open(file);
    expect(again.get(firing!.id)).toMatchObject({ ackBy: 'cli:test', ackAt: T + 120_000 });
    again.close();
    expect(versionOf(file)).toBe(latestVersion(ALERT_SCHEMA));
  });

  it('notification outbox: the pending notification reads back and a new one is queued', async () => {
    const file = join(dir, 'outbox.sqlite');
    const outbox = Outbox.open(file, { channels: new Map(), log });
    expect(outbox.list().map((e) => [e.notificationId, e.channel, e.state, e.subject])).toEqual([['n-fixture-1', 'email', 'pending', 'CPU yüksek']]);
    const message = { subject: 'yeni', text: 't', html: '<p>t</p>', short: 't', id: 'n-2' };
    expect(outbox.enqueue([{ notificationId: 'n-2', channel: 'sms', recipient: { name: 'N', address: '+905551112233', language: 'tr' }, message, severity: 'critical' }]).refused).toBe(0);
    expect(outbox.stats().pending).toBe(2);
    await outbox.close();
    expect(versionOf(file)).toBe(latestVersion(OUTBOX_SCHEMA));
  });

  it('outage log: closed and open outages read back (also read-only, as the report opens it); a new outage is written', () => {
    const file = join(dir, 'uptime.sqlite');
    const report = OutageLog.open(file, { readOnly: true });
    expect(report.outages({ from: T - 1, to: T + 86_400_000 })).toHaveLength(2);
    report.close();
    const outages = OutageLog.open(file);
    expect(outages.outages({ from: T - 1, to: T + 86_400_000 }).map((o) => [o.device, o.start, o.end])).toEqual([
      ['ups-1', T, T + 600_000],
      ['sw-1', T + 700_000, null],
    ]);
    expect(outages.record({ site: 'merkez', device: 'sw-1', kind: 'switch', online: true, reason: 'birth', at: T + 800_000 })).toMatchObject({ end: T + 800_000 });
    outages.close();
    expect(versionOf(file)).toBe(latestVersion(OUTAGE_SCHEMA));
  });

  it('heartbeat store: runs, drills and the job read back; a new run is written', () => {
    const file = join(dir, 'backups.sqlite');
    const store = HeartbeatStore.open(file);
    expect(store.runs('sql-gunluk')).toEqual([expect.objectContaining({ status: 'success', sizeBytes: 734_003_200, startedAt: T, endedAt: T + 120_000 })]);
    expect(store.drills('sql-gunluk')).toEqual([expect.objectContaining({ result: 'passed', at: T + 200_000 })]);
    expect(store.tokens('sql-gunluk')).toHaveLength(1);
    expect(store.knownSince('sql-gunluk', T + 999_999)).toBe(T);
    store.finish('sql-gunluk', 'failure', T + 86_400_000, { message: 'disk dolu' }, '10.0.0.9');
    store.close();
    const again = HeartbeatStore.open(file);
    expect(again.runs('sql-gunluk')).toHaveLength(2);
    again.close();
    expect(versionOf(file)).toBe(latestVersion(HEARTBEAT_SCHEMA));
  });

  it('report store (new in release 1, schema version 1): backup checks, the month made and its deliveries read back; a check and a delivery are written', () => {
    const file = join(dir, 'reports.sqlite');
    expect(versionOf(file)).toBe(1);
    const store = ReportStore.open(file);
    expect(store.checkHours(T - 1, T + 3_600_000)).toEqual([expect.objectContaining({ site: 'merkez', device: 'srv-yedek', job: 'ebys-sql', checks: 2, byStatus: { ok: 1, too_small: 1 }, lastOk: T, lastStatus: 'too_small' })]);
    expect(store.remember('monthly.since', 'ignored')).toBe(String(T - 86_400_000 * 60));
    expect(store.reports()).toEqual([{ month: '2025-12', generatedAt: T, dir: 'data/reports/2025-12', files: ['rapor-2025-12.html', 'erisilebilirlik-2025-12.csv', 'kesintiler-2025-12.csv'] }]);
    expect(store.deliveries('2025-12').map((d) => [d.address, d.state, d.attempts])).toEqual([
      ['ahmet@belediye.local', 'sent', 1],
      ['bilgiislem@belediye.local', 'pending', 1],
    ]);
    expect(store.dueDeliveries(T + 60_000).map((d) => d.lastError)).toEqual(['451 4.3.0 try again later']);
    store.observe([{ measurement: 'backup_file', tags: { site: 'merkez', device: 'srv-yedek', instance: 'ebys-sql' }, fields: { status: 'ok' }, time: T + 1_200_000 }]);
    store.markSent(store.deliveries('2025-12')[1]!.id, T + 120_000);
    store.close();
    const again = ReportStore.open(file);
    expect(again.checkHours(T - 1, T + 3_600_000)[0]).toMatchObject({ checks: 3, lastStatus: 'ok', lastOk: T + 1_200_000 });
    expect(again.dueDeliveries(T + 86_400_000)).toEqual([]);
    again.close();
    expect(versionOf(file)).toBe(latestVersion(REPORT_STORE_SCHEMA));
  });

  it('spool: the points left in it replay, new points are appended', () => {
    const file = join(dir, 'spool.sqlite');
    const spool = Spool.open(file, { sync: 'normal' });
    expect(spool.depth).toBe(1);
    expect(spool.readBatch(0, 100)?.points).toEqual([{ measurement: 'cpu', tags: { site: 'merkez', device: 'bi-pc014' }, fields: { usage_pct: 97 }, time: T }]);
    spool.append([{ measurement: 'cpu', tags: { site: 'merkez', device: 'bi-pc014' }, fields: { usage_pct: 12 }, time: T + 10_000 }]);
    spool.close();
    const again = Spool.open(file, { sync: 'normal' });
    expect(again.depth).toBe(2);
    again.close();
    expect(versionOf(file)).toBe(latestVersion(SPOOL_SCHEMA));
  });
});

describe('a store file written by a newer collector is refused, not opened and damaged', () => {
  const stores: { file: string; schema: StoreSchema; open: (path: string) => unknown }[] = [
    { file: 'registry.sqlite', schema: REGISTRY_SCHEMA, open: (p) => DeviceRegistry.open(p) },
    { file: 'security.sqlite', schema: SECURITY_SCHEMA, open: (p) => SecurityStore.open(p) },
    { file: 'alerts.sqlite', schema: ALERT_SCHEMA, open: (p) => AlertStore.open(p) },
    { file: 'outbox.sqlite', schema: OUTBOX_SCHEMA, open: (p) => Outbox.open(p, { channels: new Map(), log }) },
    { file: 'uptime.sqlite', schema: OUTAGE_SCHEMA, open: (p) => OutageLog.open(p) },
    { file: 'backups.sqlite', schema: HEARTBEAT_SCHEMA, open: (p) => HeartbeatStore.open(p) },
    { file: 'spool.sqlite', schema: SPOOL_SCHEMA, open: (p) => Spool.open(p, { sync: 'normal' }) },
    { file: 'reports.sqlite', schema: REPORT_STORE_SCHEMA, open: (p) => ReportStore.open(p) },
  ];
  const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

  for (const store of stores) {
    it(`${store.schema.name}: version ${latestVersion(store.schema) + 1} is refused with a clear message and the file is unchanged`, () => {
      const file = join(dir, store.file);
      // What a future release would do: its migration 2 and version row.
      const db = new DatabaseSync(file);
      db.exec(`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (${latestVersion(store.schema) + 1}); CREATE TABLE future_table (x TEXT);`);
      db.close();
      const before = sha(file);
      let error: unknown;
      try {
        store.open(file);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(StoreVersionError);
      expect((error as Error).message).toContain(`${file}: this ${store.schema.name} has schema version ${latestVersion(store.schema) + 1}, written by a newer collector`);
      expect((error as Error).message).toContain(`knows versions up to ${latestVersion(store.schema)}`);
      expect(sha(file)).toBe(before);
      // Not taken for a damaged file and moved aside (the spool does that with unreadable files).
      expect(readdirSync(dir).filter((f) => f.includes('damaged'))).toEqual([]);
      expect(existsSync(file)).toBe(true);
    });
  }

  it('the outage report (read-only) refuses a newer outage log too', () => {
    const file = join(dir, 'uptime.sqlite');
    const db = new DatabaseSync(file);
    db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (99);');
    db.close();
    expect(() => OutageLog.open(file, { readOnly: true })).toThrow(/schema version 99, written by a newer collector/);
  });
});
