import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import express, { type ErrorRequestHandler } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAlertService, type AlertService } from '../collector/alerts/alert-service.ts';
import { RuleEngine } from '../collector/alerts/engine.ts';
import { parseRules } from '../collector/alerts/rules-loader.ts';
import { apiAuthentication } from '../collector/api/auth.ts';
import { backupsRouter, heartbeatRouter } from '../collector/api/routes/heartbeats.ts';
import { openApiDocument } from '../collector/api/routes/openapi.ts';
import { HttpError } from '../collector/api/validate.ts';
import { startBackupService, type BackupService } from '../collector/backups/backup-service.ts';
import { cronFiresEveryYear, nextCronTime, parseCron } from '../collector/backups/cron.ts';
import { backupPoints, evaluateJob, type BackupRun, type RestoreDrill } from '../collector/backups/evaluate.ts';
import { backupsFileSchema, loadBackupJobs, type BackupJob } from '../collector/backups/jobs.ts';
import { collectorConfigSchema } from '../collector/config.ts';
import type { Point } from '../collector/model/point.ts';
import { SecurityStore } from '../collector/security/store.ts';
import { SelfMetrics } from '../collector/self-metrics.ts';
import { createLogger } from '../src/log.ts';

// The backup rules proposed for collector/alerts/default-rules.yaml, checked here against the
// real rule engine and alert service.
const PROPOSED_RULES = `
rules:
  - id: backup_missed
    type: state
    severity: critical
    category: systems
    match: { measurement: backup, field: missed }
    in: [1]
    message:
      tr: "{{site}} / {{device}} yedeği zamanında gelmedi: yedekleme işi beklenen saatte rapor vermedi"
      en: "Backup {{site}} / {{device}} was missed: the job did not report when it was due"
  - id: backup_failed
    type: state
    severity: critical
    category: systems
    match: { measurement: backup, field: failed }
    in: [1]
    message:
      tr: "{{site}} / {{device}} yedeklemesi başarısız oldu"
      en: "Backup {{site}} / {{device}} failed"
  - id: backup_too_small
    type: state
    severity: warning
    category: systems
    match: { measurement: backup, field: too_small }
    in: [1]
    message:
      tr: "{{site}} / {{device}}: son yedek beklenenden küçük, eksik yedeklenmiş olabilir"
      en: "{{site}} / {{device}}: the last backup is smaller than expected, it may be incomplete"
  - id: backup_restore_drill_overdue
    type: state
    severity: warning
    category: systems
    match: { measurement: backup, field: drill_overdue }
    in: [1]
    message:
      tr: "{{site}} / {{device}}: geri yükleme tatbikatının zamanı geçti"
      en: "{{site}} / {{device}}: a restore drill is overdue"
  - id: backup_restore_drill_failed
    type: state
    severity: warning
    category: systems
    match: { measurement: backup, field: drill_failed }
    in: [1]
    message:
      tr: "{{site}} / {{device}}: son geri yükleme tatbikatı başarısız oldu"
      en: "{{site}} / {{device}}: the last restore drill failed"
`;

const H = 3_600_000;
const D = 24 * H;
const at = (text: string) => Date.parse(text);

const job = (fields: Record<string, unknown>): BackupJob => backupsFileSchema.parse({ jobs: [{ id: 'gece-yedek', site: 'merkez', ...fields }] }).jobs[0]!;
const run = (status: BackupRun['status'], time: number, extra: Partial<BackupRun> = {}): BackupRun =>
  status === 'started' ? { startedAt: time, endedAt: null, status, sizeBytes: null, durationS: null, message: null, ...extra } : { startedAt: null, endedAt: time, status, sizeBytes: null, durationS: null, message: null, ...extra };
const drill = (result: RestoreDrill['result'], time: number): RestoreDrill => ({ at: time, result, notes: 'test', actor: 'api:test' });

describe('cron schedules', () => {
  it('refuses bad fields, naming the field', () => {
    expect(() => parseCron('61 * * * *')).toThrow('minute field: 61 is out of range 0-59');
    expect(() => parseCron('* 24 * * *')).toThrow('hour field: 24 is out of range 0-23');
    expect(() => parseCron('* * 0 * *')).toThrow('day-of-month field: 0 is out of range 1-31');
    expect(() => parseCron('* * * 13 *')).toThrow('month field: 13 is out of range 1-12');
    expect(() => parseCron('* * * * 8')).toThrow('day-of-week field: 8 is out of range 0-7');
    expect(() => parseCron('*/0 * * * *')).toThrow('minute field: a step of 0 never advances');
    expect(() => parseCron('* 5-1 * * *')).toThrow('hour field: range "5-1" runs backwards');
    expect(() => parseCron('x * * * *')).toThrow('minute field: "x" is not a number');
    expect(() => parseCron('0 2 * *')).toThrow('expected 5 fields');
  });

  it('reads lists, ranges, steps and names', () => {
    const cron = parseCron('*/20 1-3,22 * jan,jul mon-fri');
    expect(cron).toMatchObject({ minutes: [0, 20, 40], hours: [1, 2, 3, 22], months: [1, 7], weekdays: [1, 2, 3, 4, 5], daysRestricted: false, weekdaysRestricted: true });
    expect(parseCron('5/15 * * * 7').minutes).toEqual([5, 20, 35, 50]);
    expect(parseCron('0 0 * * 5-7').weekdays).toEqual([0, 5, 6]);
  });

  // Europe/Istanbul has been UTC+3 all year since September 2016, so the expected instants below are written with +03:00.
  const istanbul = (cron: string, after: string) => new Date(nextCronTime(parseCron(cron), at(after), 'Europe/Istanbul')!).toISOString();
  const iso = (text: string) => new Date(at(text)).toISOString();

  it('finds the next time in Istanbul time, strictly after the given instant', () => {
    expect(istanbul('0 2 * * *', '2026-03-10T02:30:00+03:00')).toBe(iso('2026-03-11T02:00:00+03:00'));
    expect(istanbul('0 2 * * *', '2026-03-11T01:59:59+03:00')).toBe(iso('2026-03-11T02:00:00+03:00'));
    expect(istanbul('0 2 * * *', '2026-03-11T02:00:00+03:00')).toBe(iso('2026-03-12T02:00:00+03:00'));
    // 23:30 UTC is already the next day in Istanbul.
    expect(istanbul('0 2 * * *', '2026-03-10T23:30:00Z')).toBe(iso('2026-03-12T02:00:00+03:00'));
  });

  it('handles month and year edges', () => {
    // April has no 31st.
    expect(istanbul('0 3 31 * *', '2026-04-15T00:00:00+03:00')).toBe(iso('2026-05-31T03:00:00+03:00'));
    // Midnight of 1 February in Istanbul is still 31 January in UTC.
    expect(istanbul('0 0 1 * *', '2026-01-31T23:59:00+03:00')).toBe('2026-01-31T21:00:00.000Z');
    expect(istanbul('30 23 31 12 *', '2026-12-31T23:30:00+03:00')).toBe(iso('2027-12-31T23:30:00+03:00'));
    expect(istanbul('0 0 29 2 *', '2026-03-01T00:00:00+03:00')).toBe(iso('2028-02-29T00:00:00+03:00'));
  });

  it('matches either day field when both are restricted, both otherwise (Vixie cron)', () => {
    // 2026-04-03 and 04-10 are Fridays, 04-13 a Monday.
    expect(istanbul('0 9 13 * fri', '2026-04-01T00:00:00+03:00')).toBe(iso('2026-04-03T09:00:00+03:00'));
    expect(istanbul('0 9 13 * fri', '2026-04-10T09:00:00+03:00')).toBe(iso('2026-04-13T09:00:00+03:00'));
    expect(istanbul('*/15 9-17 * * mon-fri', '2026-04-10T17:50:00+03:00')).toBe(iso('2026-04-13T09:00:00+03:00'));
  });

  it('skips a wall time the clocks jump over (Europe/Berlin, 29 March 2026)', () => {
    const next = nextCronTime(parseCron('30 2 * * *'), at('2026-03-28T03:00:00+01:00'), 'Europe/Berlin');
    expect(new Date(next!).toISOString()).toBe(iso('2026-03-30T02:30:00+02:00'));
  });

  it('knows schedules that do not fire every year', () => {
    expect(cronFiresEveryYear(parseCron('0 0 30 2 *'))).toBe(false);
    expect(cronFiresEveryYear(parseCron('0 0 29 2 *'))).toBe(false);
    expect(cronFiresEveryYear(parseCron('0 0 31 4,6 *'))).toBe(false);
    expect(cronFiresEveryYear(parseCron('0 0 31 4,5 *'))).toBe(true);
    expect(cronFiresEveryYear(parseCron('0 0 30 2 mon'))).toBe(true);
  });
});

describe('backups.yaml', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backups-yaml-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const refusal = (jobs: unknown[]) => {
    const file = join(dir, 'backups.yaml');
    writeFileSync(file, JSON.stringify({ jobs }));
    try {
      loadBackupJobs(file);
    } catch (error) {
      return (error as Error).message;
    }
    return 'accepted';
  };
  const base = { id: 'gece', site: 'merkez', schedule: { every: '1d' }, grace: '1h' };

  it('refuses absurd schedules, naming the field', () => {
    expect(refusal([{ ...base, schedule: { every: '30s' } }])).toMatch(/backups\.yaml:\n {2}jobs\[0\]\.schedule\.every: at least "1m"/);
    expect(refusal([{ ...base, schedule: { every: '400d' } }])).toContain('jobs[0].schedule.every: at most "366d"');
    expect(refusal([{ ...base, grace: '8d' }])).toContain('jobs[0].grace: at most "7d"');
    expect(refusal([{ ...base, grace: '0' }])).toContain('jobs[0].grace: at least "1s"');
    expect(refusal([{ ...base, schedule: { cron: '0 2 30 2 *' } }])).toContain('jobs[0].schedule.cron: "0 2 30 2 *" does not fire in every year');
    expect(refusal([{ ...base, schedule: { cron: '0 2 * *' } }])).toContain('jobs[0].schedule.cron: "0 2 * *": expected 5 fields');
    expect(refusal([{ ...base, schedule: { cron: '0 2 * * *', timezone: 'Europe/Ankara' } }])).toContain('jobs[0].schedule.timezone: expected an IANA time zone');
    expect(refusal([{ ...base, schedule: { every: '1d', cron: '0 2 * * *' } }])).toContain('jobs[0].schedule.every: give exactly one of every');
    expect(refusal([{ ...base, schedule: { every: '1d', timezone: 'Europe/Istanbul' } }])).toContain('jobs[0].schedule.timezone: timezone applies to cron schedules only');
    expect(refusal([{ ...base, schedule: { every: 86400 } }])).toContain('jobs[0].schedule.every');
    expect(refusal([{ ...base, drillEvery: '1h' }])).toContain('jobs[0].drillEvery: at least "1d"');
    expect(refusal([{ ...base, minSizeBytes: -1 }])).toContain('jobs[0].minSizeBytes');
    expect(refusal([base, { ...base }])).toContain('jobs[1].id: job "gece" is defined twice');
    expect(refusal([{ ...base, restoreTestOf: 'yok' }])).toContain('jobs[0].restoreTestOf: no job "yok" in this file');
    expect(refusal([{ ...base, retries: 3 }])).toContain('retries');
  });

  it('reads a valid file with its defaults', () => {
    writeFileSync(join(dir, 'ok.yaml'), 'jobs:\n  - { id: gece, site: merkez, schedule: { cron: "0 2 * * *" }, grace: 2h, drillEvery: 90d }\n');
    const [parsed] = loadBackupJobs(join(dir, 'ok.yaml'));
    expect(parsed).toMatchObject({ owner: 'systems', grace: 2 * H, drillEvery: 90 * D, schedule: { text: '0 2 * * *', timezone: 'Europe/Istanbul' } });
  });
});

describe('evaluation at an injected time', () => {
  const t0 = at('2026-03-01T02:40:00+03:00');
  const daily = job({ schedule: { every: '1d' }, grace: '2h' });

  it('a period job is ok until due, late within grace, then missed', () => {
    const runs = [run('success', t0, { sizeBytes: 5e9 })];
    expect(evaluateJob(daily, runs, [], t0 + 23 * H, 0)).toMatchObject({ state: 'ok', lastSuccessAt: t0, nextExpectedAt: t0 + D, ageS: 23 * 3600, lastSizeBytes: 5e9 });
    expect(evaluateJob(daily, runs, [], t0 + D, 0).state).toBe('late');
    expect(evaluateJob(daily, runs, [], t0 + D + 2 * H - 1, 0).state).toBe('late');
    expect(evaluateJob(daily, runs, [], t0 + D + 2 * H, 0).state).toBe('missed');
  });

  it('a job that never reported is due one period after it became known', () => {
    expect(evaluateJob(daily, [], [], t0 + D - 1, t0)).toMatchObject({ state: 'ok', lastSuccessAt: null, ageS: null, nextExpectedAt: t0 + D });
    expect(evaluateJob(daily, [], [], t0 + D + 2 * H, t0).state).toBe('missed');
  });

  it('a cron job in Istanbul time is due at its next slot after the last success', () => {
    const nightly = job({ schedule: { cron: '0 2 * * *' }, grace: '2h' });
    const runs = [run('success', at('2026-01-10T02:40:00+03:00'))];
    expect(evaluateJob(nightly, runs, [], at('2026-01-11T01:59:00+03:00'), 0)).toMatchObject({ state: 'ok', nextExpectedAt: at('2026-01-11T02:00:00+03:00') });
    expect(evaluateJob(nightly, runs, [], at('2026-01-11T03:59:00+03:00'), 0).state).toBe('late');
    expect(evaluateJob(nightly, runs, [], at('2026-01-11T04:00:00+03:00'), 0).state).toBe('missed');
    expect(evaluateJob(nightly, [run('success', at('2026-01-31T02:30:00+03:00'))], [], at('2026-01-31T12:00:00+03:00'), 0).nextExpectedAt).toBe(at('2026-02-01T02:00:00+03:00'));
  });

  it('a monthly cron job crosses month and year ends', () => {
    const monthly = job({ schedule: { cron: '0 1 1 * *' }, grace: '1d' });
    const january = [run('success', at('2026-01-01T01:30:00+03:00'))];
    expect(evaluateJob(monthly, january, [], at('2026-01-31T23:00:00+03:00'), 0)).toMatchObject({ state: 'ok', nextExpectedAt: at('2026-02-01T01:00:00+03:00') });
    expect(evaluateJob(monthly, january, [], at('2026-02-01T12:00:00+03:00'), 0).state).toBe('late');
    expect(evaluateJob(monthly, january, [], at('2026-02-02T01:00:00+03:00'), 0).state).toBe('missed');
    expect(evaluateJob(monthly, [run('success', at('2026-12-01T01:10:00+03:00'))], [], at('2026-12-15T00:00:00+03:00'), 0).nextExpectedAt).toBe(at('2027-01-01T01:00:00+03:00'));
  });

  it('a failure holds until the next success, whatever the time', () => {
    const runs = [run('success', t0), run('failure', t0 + D, { message: 'disk dolu' })];
    expect(evaluateJob(daily, runs, [], t0 + D + 60_000, 0)).toMatchObject({ state: 'failed', lastMessage: 'disk dolu', lastSuccessAt: t0 });
    expect(evaluateJob(daily, runs, [], t0 + 30 * D, 0).state).toBe('failed');
    expect(evaluateJob(daily, [...runs, run('success', t0 + D + H)], [], t0 + D + 2 * H, 0).state).toBe('ok');
  });

  it('a start without an end is running for grace, then late, one more grace later missed', () => {
    const runs = [run('success', t0), run('started', t0 + D)];
    expect(evaluateJob(daily, runs, [], t0 + D + H, 0).state).toBe('running');
    expect(evaluateJob(daily, runs, [], t0 + D + 2 * H, 0).state).toBe('late');
    expect(evaluateJob(daily, runs, [], t0 + D + 4 * H - 1, 0).state).toBe('late');
    expect(evaluateJob(daily, runs, [], t0 + D + 4 * H, 0).state).toBe('missed');
    // Started early (by hand) and hung: missed too, though the schedule is not due yet.
    const early = [run('success', t0), run('started', t0 + H)];
    expect(evaluateJob(daily, early, [], t0 + 4 * H, 0).state).toBe('late');
    expect(evaluateJob(daily, early, [], t0 + 5 * H, 0).state).toBe('missed');
    // A retry after a failure is running, not failed.
    expect(evaluateJob(daily, [run('failure', t0), run('started', t0 + H)], [], t0 + H + 1, 0).state).toBe('running');
  });

  it('a success below minSizeBytes is too small until a success of the right size', () => {
    const sized = job({ schedule: { every: '1d' }, grace: '2h', minSizeBytes: 1_000_000 });
    const small = [run('success', t0, { sizeBytes: 10 })];
    expect(evaluateJob(sized, small, [], t0 + H, 0)).toMatchObject({ state: 'too_small', tooSmall: true });
    // Lateness is the headline, the size problem stays flagged.
    expect(evaluateJob(sized, small, [], t0 + D + H, 0)).toMatchObject({ state: 'late', tooSmall: true });
    expect(evaluateJob(sized, [...small, run('success', t0 + D, { sizeBytes: 2_000_000 })], [], t0 + D + H, 0)).toMatchObject({ state: 'ok', tooSmall: false });
    // No size reported: nothing to judge.
    expect(evaluateJob(sized, [run('success', t0)], [], t0 + H, 0)).toMatchObject({ state: 'ok', tooSmall: false });
  });

  it('a restore drill is overdue drillEvery after the last passed one; a failed one does not count', () => {
    const drilled = job({ schedule: { every: '1d' }, grace: '2h', drillEvery: '90d' });
    const known = t0;
    expect(evaluateJob(drilled, [], [], known + 90 * D - 1, known)).toMatchObject({ drillOverdue: false, drillDueAt: known + 90 * D, lastDrillAt: null });
    expect(evaluateJob(drilled, [], [], known + 90 * D, known).drillOverdue).toBe(true);
    const drills = [drill('passed', known + 80 * D)];
    expect(evaluateJob(drilled, [], drills, known + 100 * D, known)).toMatchObject({ drillOverdue: false, drillDueAt: known + 170 * D, drillAgeDays: 20, drillFailed: false });
    const failedAfter = [...drills, drill('failed', known + 95 * D)];
    expect(evaluateJob(drilled, [], failedAfter, known + 100 * D, known)).toMatchObject({ drillOverdue: false, drillFailed: true, lastDrillAt: known + 95 * D, lastDrillResult: 'failed', drillAgeDays: 20 });
    expect(evaluateJob(drilled, [], failedAfter, known + 170 * D, known).drillOverdue).toBe(true);
    expect(evaluateJob(daily, [], [], known + 1_000 * D, known)).toMatchObject({ drillOverdue: false, drillDueAt: null });
  });

  it('becomes backup points the proposed rules alert on, and resolve on', () => {
    const drilled = job({ schedule: { every: '1d' }, grace: '2h', drillEvery: '90d', minSizeBytes: 1_000_000, owner: 'gis' });
    const engine = new RuleEngine(parseRules(PROPOSED_RULES, 'proposed'), { maxPointAgeMs: 600_000 });
    const now = t0 + 91 * D;
    const missed = evaluateJob(drilled, [run('success', t0, { sizeBytes: 10, durationS: 12 })], [], now, t0);
    const [point] = backupPoints(drilled, missed, now);
    expect(point).toEqual({
      measurement: 'backup',
      tags: { site: 'merkez', device: 'gece-yedek', kind: 'other', owner: 'gis' },
      fields: { status: 'missed', ok: 0, missed: 1, failed: 0, too_small: 1, drill_overdue: 1, drill_failed: 0, age_s: 91 * 86_400, size_bytes: 10, duration_s: 12 },
      time: now,
    });
    const fired = engine.observe([point!], now).map((c) => `${c.alert.rule}:${c.to}`);
    expect(fired.sort()).toEqual(['backup_missed:firing', 'backup_restore_drill_overdue:firing', 'backup_too_small:firing']);
    const failed = evaluateJob(drilled, [run('failure', now)], [drill('failed', now)], now + 1, now);
    expect(engine.observe(backupPoints(drilled, failed, now + 1), now + 1).map((c) => `${c.alert.rule}:${c.to}`).sort()).toEqual([
      'backup_failed:firing',
      'backup_missed:resolved',
      'backup_restore_drill_failed:firing',
      'backup_restore_drill_overdue:resolved',
      'backup_too_small:resolved',
    ]);
  });
});

describe('heartbeats over HTTP', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backups-http-'));
  const file = join(dir, 'backups.yaml');
  const storePath = join(dir, 'heartbeats.sqlite');
  const JOBS = `
jobs:
  - id: dosya-gece
    site: merkez
    description: Dosya sunucusu gece yedeği
    schedule: { cron: "0 2 * * *" }
    grace: 2h
    drillEvery: 90d
  - id: nas-kopya
    site: kultur-merkezi
    schedule: { every: 1d }
    grace: 1h
    minSizeBytes: 1000000
  - id: sql-dump
    site: merkez
    schedule: { every: 1d }
    grace: 1s
  - id: robocopy-arsiv
    site: merkez
    schedule: { every: 1d }
    grace: 1h
  - id: geri-yukleme-testi
    site: merkez
    schedule: { every: 7d }
    grace: 1h
    restoreTestOf: dosya-gece
`;
  const logLines: string[] = [];
  const written: Point[] = [];
  const metrics = new SelfMetrics();
  let security: SecurityStore;
  let alerts: AlertService;
  let service: BackupService;
  let server: Server;
  let base: string;
  const api: Record<'read' | 'operator' | 'admin', string> = { read: '', operator: '', admin: '' };

  beforeAll(async () => {
    writeFileSync(file, JOBS);
    writeFileSync(join(dir, 'rules.yaml'), PROPOSED_RULES);
    const log = createLogger({ name: 'test', level: 'debug', write: (line) => logLines.push(line) });
    security = SecurityStore.open(join(dir, 'security.sqlite'));
    for (const role of ['read', 'operator', 'admin'] as const) api[role] = security.createApiToken({ name: role, role, actor: 'test' }).token;
    const config = collectorConfigSchema.parse({ alerts: { path: join(dir, 'alerts.sqlite'), rulesFile: join(dir, 'rules.yaml') } });
    // The write queue's end of the pipeline: what would go to InfluxDB.
    alerts = startAlertService(config, { enqueue: (points) => (written.push(...points), true) }, metrics, log);
    service = startBackupService({ file, path: storePath }, alerts.sink, metrics, log, { evaluateEveryMs: 200 });
    // As createApiApp assembles it: heartbeats (with their own body parsers) first, then the body parsers, the API token check, the protected routes.
    const app = express();
    app.set('query parser', 'simple');
    app.use(heartbeatRouter(service));
    app.use(express.json({ limit: '64kb' }));
    app.use('/api/v1', apiAuthentication(security, 'tokens'));
    app.use(backupsRouter(service, security));
    const onError: ErrorRequestHandler = (error: unknown, _req, res, _next) => {
      const status = error instanceof HttpError ? error.status : ((error as { status?: number }).status ?? 500);
      res.status(status).json({ error: status >= 500 ? 'internal error' : (error as Error).message });
    };
    app.use(onError);
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    service?.close();
    alerts?.close();
    security?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = async (method: string, path: string, options: { auth?: keyof typeof api; json?: unknown; form?: string; raw?: string } = {}) => {
    const headers: Record<string, string> = {};
    if (options.auth) headers.authorization = `Bearer ${api[options.auth]}`;
    let body: string | undefined;
    if (options.json !== undefined) [headers['content-type'], body] = ['application/json', JSON.stringify(options.json)];
    if (options.raw !== undefined) [headers['content-type'], body] = ['application/json', options.raw];
    if (options.form !== undefined) [headers['content-type'], body] = ['application/x-www-form-urlencoded', options.form];
    const response = await fetch(`${base}${path}`, { method, headers, body });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: (text ? JSON.parse(text) : undefined) as Record<string, unknown> & { error?: string } };
  };
  const evaluation = async (id: string) => {
    const { body } = await call('GET', '/api/v1/backups', { auth: 'read' });
    return (body.jobs as { id: string; evaluation: Record<string, unknown> }[]).find((j) => j.id === id)!.evaluation;
  };
  const newToken = async (jobId: string) => {
    const { status, body } = await call('POST', `/api/v1/backups/${jobId}/tokens`, { auth: 'admin' });
    expect(status).toBe(201);
    return body as { id: string; token: string };
  };
  /** A counter's value from /metrics text; 0 before its first increment. */
  const counter = (name: string, label = '') => Number(new RegExp(`^${name}${label ? `\\{${label}\\}` : ''} (\\d+)$`, 'm').exec(metrics.renderPrometheus())?.[1] ?? 0);
  const refused = (reason: string) => counter('collector_backup_heartbeats_refused_total', `reason="${reason}"`);
  const alertOf = (rule: string, device: string) => alerts.store.list({}).find((a) => a.rule === rule && a.labels.device === device);
  const waitFor = async (check: () => boolean | Promise<boolean>, timeoutMs = 5_000) => {
    const end = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  it('makes a token for an admin only, shows it once and keeps only its hash', async () => {
    expect(await call('POST', '/api/v1/backups/nas-kopya/tokens', { auth: 'read' })).toMatchObject({ status: 403 });
    expect(await call('POST', '/api/v1/backups/nas-kopya/tokens')).toMatchObject({ status: 401 });
    expect(await call('POST', '/api/v1/backups/yok/tokens', { auth: 'admin' })).toMatchObject({ status: 404, body: { error: 'no backup job yok in backups.yaml' } });
    const created = await newToken('nas-kopya');
    expect(created).toMatchObject({ job: 'nas-kopya', path: `/hb/${created.token}` });
    expect(created.token).toMatch(/^bk_[A-Za-z0-9_-]{32}$/);
    const listing = await call('GET', '/api/v1/backups?site=kultur-merkezi', { auth: 'read' });
    expect(listing.body.jobs).toEqual([expect.objectContaining({ id: 'nas-kopya', tokens: [expect.objectContaining({ id: created.id, createdBy: 'api:admin' })] })]);
    expect(JSON.stringify(listing.body)).not.toContain(created.token.slice(3));
    expect(statSync(storePath).mode & 0o777).toBe(0o600);
    const db = new DatabaseSync(storePath, { readOnly: true });
    const rows = db.prepare('SELECT * FROM tokens WHERE id = ?').all(created.id) as Record<string, unknown>[];
    db.close();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.hash).toBe(createHash('sha256').update(created.token).digest('hex'));
    expect(JSON.stringify(rows)).not.toContain(created.token.slice(3));
    expect(security.auditLog(5)).toContainEqual(expect.objectContaining({ actor: 'api:admin', action: 'backup_token.create', target: 'backup:nas-kopya' }));
  });

  it('takes success reports as a plain GET, a JSON POST and a form POST', async () => {
    const { token } = await newToken('nas-kopya');
    expect(await call('GET', `/hb/${token}?size=5000000&duration=754.2`)).toMatchObject({ status: 200, body: { ok: true, job: 'nas-kopya', state: 'ok' } });
    expect(await call('POST', `/hb/${token}`, { json: { size: 6_000_000, message: 'robocopy bitti' } })).toMatchObject({ status: 200, body: { state: 'ok' } });
    expect(await evaluation('nas-kopya')).toMatchObject({ lastSizeBytes: 6_000_000, lastMessage: 'robocopy bitti' });
    expect(await call('POST', `/hb/${token}`, { form: 'size=7000000&duration=12' })).toMatchObject({ status: 200, body: { state: 'ok' } });
    const now = Date.now();
    const state = await evaluation('nas-kopya');
    expect(state).toMatchObject({ state: 'ok', lastSizeBytes: 7_000_000, lastDurationS: 12, ageS: 0, tooSmall: false });
    expect(state.lastSuccessAt as number).toBeGreaterThan(now - 5_000);
    expect(counter('collector_backup_heartbeats_total', 'kind="success"')).toBe(3);
    expect(written.filter((p) => p.measurement === 'backup' && p.tags.device === 'nas-kopya').at(-1)).toMatchObject({ tags: { site: 'kultur-merkezi', kind: 'other', owner: 'systems' }, fields: { status: 'ok', ok: 1, size_bytes: 7_000_000, duration_s: 12 } });
  });

  it('flags a backup that is too small, and clears it with one of the right size', async () => {
    const { token } = await newToken('nas-kopya');
    expect(await call('GET', `/hb/${token}?size=10`)).toMatchObject({ status: 200, body: { state: 'too_small' } });
    expect(alertOf('backup_too_small', 'nas-kopya')).toMatchObject({ state: 'firing', severity: 'warning', labels: { site: 'kultur-merkezi' } });
    expect(await call('GET', `/hb/${token}?size=2000000`)).toMatchObject({ status: 200, body: { state: 'ok' } });
    expect(alertOf('backup_too_small', 'nas-kopya')).toMatchObject({ state: 'resolved' });
  });

  it('a failure report fails the job and alerts until the next success', async () => {
    const { token } = await newToken('robocopy-arsiv');
    expect(await call('POST', `/hb/${token}/fail`, { form: 'message=Hedef+disk+dolu' })).toMatchObject({ status: 200, body: { state: 'failed' } });
    expect(await evaluation('robocopy-arsiv')).toMatchObject({ state: 'failed', lastMessage: 'Hedef disk dolu' });
    expect(alertOf('backup_failed', 'robocopy-arsiv')).toMatchObject({ state: 'firing', severity: 'critical', category: 'systems' });
    expect(await call('GET', `/hb/${token}`)).toMatchObject({ status: 200, body: { state: 'ok' } });
    expect(alertOf('backup_failed', 'robocopy-arsiv')).toMatchObject({ state: 'resolved' });
  });

  it('in real time: a start without an end is running, late after grace, missed after another; a late success clears it', async () => {
    const { token } = await newToken('sql-dump');
    const started = Date.now();
    expect(await call('GET', `/hb/${token}/start`)).toMatchObject({ status: 200, body: { state: 'running' } });
    await waitFor(async () => (await evaluation('sql-dump')).state === 'late');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    await waitFor(async () => (await evaluation('sql-dump')).state === 'missed');
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
    // The periodic evaluation (every 200 ms here, 30 s in service) carries it to the alert.
    await waitFor(() => alertOf('backup_missed', 'sql-dump')?.state === 'firing');
    expect(await call('POST', `/hb/${token}`, { json: { size: 123456 } })).toMatchObject({ status: 200, body: { state: 'ok' } });
    expect(await evaluation('sql-dump')).toMatchObject({ state: 'ok', lastSizeBytes: 123456 });
    expect((await evaluation('sql-dump')).lastDurationS as number).toBeGreaterThanOrEqual(2);
    expect(alertOf('backup_missed', 'sql-dump')).toMatchObject({ state: 'resolved' });
  });

  it('records restore drills from operators (audited) and from an automated restore test', async () => {
    expect(await call('POST', '/api/v1/backups/dosya-gece/drills', { auth: 'read', json: { result: 'passed', notes: 'x' } })).toMatchObject({ status: 403 });
    expect((await call('POST', '/api/v1/backups/dosya-gece/drills', { auth: 'operator', json: { result: 'maybe', notes: 'x' } })).body.error).toBe('invalid body field result: expected "passed" or "failed"');
    expect((await call('POST', '/api/v1/backups/dosya-gece/drills', { auth: 'operator', json: { result: 'passed' } })).body.error).toContain('invalid body field notes: required');
    expect(await call('POST', '/api/v1/backups/yok/drills', { auth: 'operator', json: { result: 'passed', notes: 'x' } })).toMatchObject({ status: 404 });
    const failedDrill = await call('POST', '/api/v1/backups/dosya-gece/drills', { auth: 'operator', json: { result: 'failed', notes: 'muhasebe klasörü geri yüklenemedi' } });
    expect(failedDrill).toMatchObject({ status: 201, body: { evaluation: { drillFailed: true, lastDrillResult: 'failed' } } });
    expect(alertOf('backup_restore_drill_failed', 'dosya-gece')).toMatchObject({ state: 'firing' });
    expect(security.auditLog(5)).toContainEqual(expect.objectContaining({ actor: 'api:operator', action: 'backup.drill', target: 'backup:dosya-gece', detail: { result: 'failed', notes: 'muhasebe klasörü geri yüklenemedi' } }));
    const { token } = await newToken('geri-yukleme-testi');
    expect(await call('GET', `/hb/${token}?message=20+dosya+geri+yuklendi+ve+dogrulandi`)).toMatchObject({ status: 200 });
    const after = await evaluation('dosya-gece');
    expect(after).toMatchObject({ drillFailed: false, lastDrillResult: 'passed', drillOverdue: false });
    expect(after.drillDueAt as number).toBeGreaterThan(Date.now() + 89 * D);
    expect(alertOf('backup_restore_drill_failed', 'dosya-gece')).toMatchObject({ state: 'resolved' });
  });

  it('refuses unknown and revoked tokens with 404, counted', async () => {
    const before = refused('unknown_token');
    expect(await call('GET', `/hb/bk_${randomBytes(24).toString('base64url')}`)).toMatchObject({ status: 404, body: { error: 'unknown heartbeat token (never issued, or revoked)' } });
    expect(await call('POST', '/hb/nonsense/start')).toMatchObject({ status: 404 });
    const { id, token } = await newToken('robocopy-arsiv');
    expect(await call('DELETE', `/api/v1/backups/robocopy-arsiv/tokens/${id}`, { auth: 'operator' })).toMatchObject({ status: 403 });
    expect(await call('DELETE', `/api/v1/backups/nas-kopya/tokens/${id}`, { auth: 'admin' })).toMatchObject({ status: 404 });
    expect(await call('DELETE', `/api/v1/backups/robocopy-arsiv/tokens/${id}`, { auth: 'admin' })).toMatchObject({ status: 204 });
    expect(await call('DELETE', `/api/v1/backups/robocopy-arsiv/tokens/${id}`, { auth: 'admin' })).toMatchObject({ status: 404 });
    expect((await call('DELETE', '/api/v1/backups/robocopy-arsiv/tokens/xyz', { auth: 'admin' })).body.error).toContain('invalid path parameter id');
    expect(await call('GET', `/hb/${token}/fail`)).toMatchObject({ status: 404 });
    expect(refused('unknown_token')).toBe(before + 3);
    expect(security.auditLog(5)).toContainEqual(expect.objectContaining({ action: 'backup_token.revoke', detail: { id } }));
  });

  it('refuses malformed reports with 400 naming the field, counted, and records nothing', async () => {
    const { token } = await newToken('nas-kopya');
    const before = { count: refused('malformed'), state: await evaluation('nas-kopya') };
    const cases: [string, { form?: string; json?: unknown; raw?: string } | undefined, string][] = [
      ['?size=abc', undefined, 'invalid heartbeat field size: expected a whole number of bytes'],
      ['?size=-5', undefined, 'invalid heartbeat field size: expected a whole number of bytes'],
      ['?size=1e30', undefined, 'invalid heartbeat field size: expected a whole number of bytes'],
      ['?size=12.5', undefined, 'invalid heartbeat field size: expected a whole number of bytes'],
      ['?size=1&size=2', undefined, 'invalid heartbeat field size'],
      ['?duration=abc', undefined, 'invalid heartbeat field duration: expected seconds'],
      ['?duration=99999999', undefined, 'invalid heartbeat field duration: at most 2678400 seconds'],
      ['?sizee=1', undefined, 'sizee'],
      ['', { json: { size: 1e30 } }, 'invalid heartbeat field size: is larger than any backup'],
      ['', { json: { size: -1 } }, 'invalid heartbeat field size: expected a whole number of bytes'],
      ['', { json: { message: 42 } }, 'invalid heartbeat field message: expected text'],
      ['', { form: 'size=big' }, 'invalid heartbeat field size'],
      ['', { raw: '{"size": 12' }, 'the heartbeat body does not parse'],
    ];
    for (const [query, body, message] of cases) {
      const response = await call(body ? 'POST' : 'GET', `/hb/${token}${query}`, body ?? {});
      expect({ query, body, status: response.status, error: response.body.error }).toEqual({ query, body, status: 400, error: expect.stringContaining(message) });
    }
    const oversized = await call('POST', `/hb/${token}/fail`, { form: `message=${'x'.repeat(5_000)}` });
    expect(oversized).toMatchObject({ status: 413, body: { error: 'the heartbeat body is larger than 4 kB' } });
    expect(refused('malformed')).toBe(before.count + cases.length + 1);
    expect(await evaluation('nas-kopya')).toEqual({ ...before.state, ageS: expect.any(Number) });
    // A long message is cut, not refused: the report matters more than its log.
    expect(await call('GET', `/hb/${token}?message=${'y'.repeat(800)}`)).toMatchObject({ status: 200 });
    expect(((await evaluation('nas-kopya')).lastMessage as string).length).toBe(500);
  });

  it('answers a flood with 429 per token, counted; other tokens go on', async () => {
    const flooded = await newToken('robocopy-arsiv');
    const other = await newToken('robocopy-arsiv');
    const before = refused('rate_limited');
    for (let i = 0; i < 60; i++) expect((await call('GET', `/hb/${flooded.token}`)).status).toBe(200);
    const refusedOne = await call('GET', `/hb/${flooded.token}`);
    expect(refusedOne).toMatchObject({ status: 429, body: { error: expect.stringContaining('more than 60 heartbeats a minute for job "robocopy-arsiv"') } });
    expect(refusedOne.headers.get('retry-after')).toBe('60');
    expect(refused('rate_limited')).toBe(before + 1);
    expect(await call('GET', `/hb/${other.token}`)).toMatchObject({ status: 200 });
  });

  it('refuses a bad backups.yaml edit naming the field and keeps the jobs; takes a good one, retiring removed jobs', async () => {
    const errorsBefore = counter('collector_backup_config_errors_total');
    writeFileSync(file, JOBS.replace('every: 7d', 'every: 10s'));
    await waitFor(() => counter('collector_backup_config_errors_total') > errorsBefore);
    expect(logLines.join('\n')).toMatch(/backups.yaml not reloaded.*jobs\[4\]\.schedule\.every: at least \\"1m\\"/);
    expect(((await call('GET', '/api/v1/backups', { auth: 'read' })).body.jobs as unknown[]).length).toBe(5);
    writeFileSync(file, `${JOBS.replace(/  - id: sql-dump\n(.+\n){3}/, '')}  - { id: yeni-is, site: merkez, schedule: { every: 1d }, grace: 1h }\n`);
    await waitFor(async () => ((await call('GET', '/api/v1/backups', { auth: 'read' })).body.jobs as { id: string }[]).some((j) => j.id === 'yeni-is'));
    const ids = ((await call('GET', '/api/v1/backups', { auth: 'read' })).body.jobs as { id: string }[]).map((j) => j.id);
    expect(ids).not.toContain('sql-dump');
    expect(written.filter((p) => p.measurement === 'backup' && p.tags.device === 'sql-dump').at(-1)).toMatchObject({ fields: { status: 'removed', missed: 0, failed: 0 } });
  });

  it('documents every backup route in the OpenAPI document', () => {
    const documented = new Set(Object.entries(openApiDocument.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)));
    const routes: string[] = [];
    for (const router of [heartbeatRouter(undefined), backupsRouter(undefined, security)]) {
      for (const layer of router.stack) {
        const route = layer.route as { path: string; methods: Record<string, boolean> } | undefined;
        if (route) for (const method of Object.keys(route.methods)) routes.push(`${method} ${route.path.replace(/:(\w+)/g, '{$1}')}`);
      }
    }
    expect(routes).toHaveLength(10);
    expect(routes.filter((r) => !documented.has(r))).toEqual([]);
  });
});
