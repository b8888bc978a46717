import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { backupJobSchema } from '../agent/backup/config.ts';
import { backupSource } from '../agent/sources/backup.ts';
import { HeartbeatStore } from '../collector/backups/heartbeat-store.ts';
import { loadBackupJobs } from '../collector/backups/jobs.ts';
import { loadCollectorConfig, type CollectorConfig } from '../collector/config.ts';
import { createMessageSink } from '../collector/ingest/ingest.ts';
import { DeviceRegistry } from '../collector/registry/device-registry.ts';
import { heartbeatJobMonth } from '../collector/reports/backups-section.ts';
import { readBackupsSection } from '../collector/reports/gather.ts';
import { startReportService, type ReportService } from '../collector/reports/report-service.ts';
import { ReportStore } from '../collector/reports/report-store.ts';
import { dueMonth, nextAttempt, runTime } from '../collector/reports/schedule.ts';
import { monthPeriod } from '../collector/uptime/availability.ts';
import { buildMonthlyReport, renderHtml } from '../collector/uptime/monthly-report.ts';
import { OutageLog } from '../collector/uptime/outage-log.ts';
import { createLogger } from '../src/log.ts';
import { tempDir } from './helpers/servers.ts';
import { startSmtpServer, type ReceivedMail, type SmtpTestServer } from './helpers/smtp-server.ts';

// The automatic monthly report: its backups section from a real heartbeat store and from the
// real agent backup source's output taken through the collector's real ingest path into the
// report store; the schedule run by an injected clock across the 1st (no waiting for a month),
// the mails received by a real SMTP server (smtp-server on loopback) and parsed back; a month
// missed while the collector was down made once at the next start; configuration mistakes named.

const TZ = 'Europe/Istanbul';
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** "2026-10-20T10:02" Istanbul time (UTC+3 all year since 2016) → epoch ms. */
const ist = (local: string) => Date.parse(`${local}:00+03:00`);
const INSTITUTION = 'Iğdır Belediyesi';
const OCTOBER = monthPeriod(2026, 10, TZ);

const logLines: string[] = [];
const log = createLogger({ name: 'test', level: 'debug', write: (line) => logLines.push(line) });

interface Install {
  dir: string;
  configFile: string;
  notifyFile: string;
  config: CollectorConfig;
}

/** A collector configuration with every store in `dir`, a notification file with an e-mail channel to the test server. */
function install(smtpPort: number, monthly: Record<string, unknown> | undefined, extra: { contacts?: unknown[]; channels?: Record<string, unknown> } = {}): Install {
  const dir = tempDir('reports');
  const notifyFile = join(dir, 'notify.yaml');
  writeFileSync(
    notifyFile,
    stringify({
      timezone: TZ,
      channels: { eposta: { type: 'email', host: '127.0.0.1', port: smtpPort, security: 'none', from: 'Belediye İzleme <izleme@igdir.bel.tr>', timeoutMs: 5_000 }, sms: { type: 'webhook' }, ...extra.channels },
      contacts: extra.contacts ?? [
        { id: 'ahmet', name: 'Ahmet Yılmaz', email: 'ahmet@igdir.bel.tr' },
        { id: 'gul', name: 'Gül Şahin', phone: '0532 111 22 33' },
      ],
      teams: [{ id: 'bilgi-islem', name: 'Bilgi İşlem', members: ['ahmet'] }],
      routes: [{ team: 'bilgi-islem', offHours: { channels: ['eposta'], to: 'team' } }],
    }),
  );
  const backupsFile = join(dir, 'backups.yaml');
  writeFileSync(
    backupsFile,
    stringify({
      jobs: [
        { id: 'sql-gunluk', site: 'merkez', description: 'SQL Server günlük tam yedek', schedule: { cron: '0 2 * * *', timezone: TZ }, grace: '2h', drillEvery: '90d' },
        { id: 'nas-kopya', site: 'itfaiye', schedule: { every: '7d' }, grace: '1d' },
      ],
    }),
  );
  const configFile = join(dir, 'collector.yaml');
  writeFileSync(
    configFile,
    stringify({
      registry: { path: join(dir, 'registry.sqlite') },
      alerts: { path: join(dir, 'alerts.sqlite'), notifyFile, outboxPath: join(dir, 'outbox.sqlite') },
      backups: { file: backupsFile, path: join(dir, 'backups.sqlite') },
      uptime: { path: join(dir, 'uptime.sqlite') },
      reports: { path: join(dir, 'reports.sqlite'), institution: INSTITUTION, ...(monthly ? { monthly: { dir: join(dir, 'raporlar'), ...monthly } } : {}) },
    }),
  );
  return { dir, configFile, notifyFile, config: loadCollectorConfig(configFile, {}) };
}

/** October's heartbeats: sql-gunluk succeeds at 02:30 every day but the 10th (nothing) and the 20th (fails); nas-kopya weekly, with a gap. */
function writeHeartbeats(config: CollectorConfig): void {
  const store = HeartbeatStore.open(config.backups.path);
  store.knownSince('sql-gunluk', ist('2026-09-01T00:00'));
  store.knownSince('nas-kopya', ist('2026-09-01T00:00'));
  store.finish('sql-gunluk', 'success', ist('2026-09-30T02:30'), { sizeBytes: 600e6 }, '10.0.0.5');
  for (let day = 1; day <= 31; day++) {
    const date = `2026-10-${String(day).padStart(2, '0')}`;
    if (day === 10) continue;
    store.start('sql-gunluk', ist(`${date}T02:00`), '10.0.0.5');
    store.finish('sql-gunluk', day === 20 ? 'failure' : 'success', ist(`${date}T${day === 20 ? '02:40' : '02:30'}`), day === 20 ? { message: 'disk dolu' } : { sizeBytes: 600e6 }, '10.0.0.5');
  }
  // A November run: not October's.
  store.finish('sql-gunluk', 'success', ist('2026-11-01T02:30'), { sizeBytes: 600e6 }, '10.0.0.5');
  for (const at of ['2026-09-26T03:00', '2026-10-03T03:00', '2026-10-10T03:00', '2026-10-26T03:00']) store.finish('nas-kopya', 'success', ist(at), {}, '10.0.0.9');
  store.addDrill('sql-gunluk', { at: ist('2026-10-15T11:00'), result: 'passed', notes: 'test sunucusuna geri yüklendi', actor: 'api:ahmet' });
  store.addDrill('sql-gunluk', { at: ist('2026-10-25T11:00'), result: 'failed', notes: 'yedek açılmadı', actor: 'api:ahmet' });
  store.close();
}

/** Outages of October in the outage log (one line down 45 minutes). */
function writeOutages(config: CollectorConfig): void {
  const outages = OutageLog.open(config.uptime.path);
  const line = { site: 'merkez', device: 'hat-turktelekom', kind: 'link', reason: 'timeout' };
  outages.record({ ...line, online: false, at: ist('2026-10-12T09:00') });
  outages.record({ ...line, online: true, at: ist('2026-10-12T09:45') });
  outages.record({ ...line, device: 'hat-superonline', online: true, at: ist('2026-10-01T00:00') });
  outages.close();
}

/**
 * The agent's backup source, run for real on files in a temp dir, its metrics sent through the
 * collector's ingest (message sink with a real device registry) into `observe`, as if they were
 * reported at `ts`. The source judges the files' age against the real clock: `age` sets it.
 */
async function agentChecks(config: CollectorConfig, observe: (points: import('../collector/model/point.ts').Point[]) => void, script: { ts: number; ageMs: number }[]): Promise<void> {
  const dir = tempDir('agent-yedek');
  const files = [0, 1, 2].map((i) => {
    const path = join(dir, `ebys-${i}.bak`);
    writeFileSync(path, randomBytes(64 * 1024));
    return path;
  });
  const registry = DeviceRegistry.open(config.registry.path);
  const accept = createMessageSink({ registry, sink: { enqueue: (points) => (observe([...points]), true) }, observer: { accepted: () => {}, rejected: () => {}, transition: () => {} } });
  const source = backupSource([backupJobSchema.parse({ id: 'ebys-sql', path: join(dir, 'ebys-*.bak'), maxAge: '26h' })]);
  for (const { ts, ageMs } of script) {
    files.forEach((path, i) => {
      const at = (Date.now() - ageMs - (2 - i) * DAY) / 1000;
      utimesSync(path, at, at);
    });
    const metrics = await source.collect();
    const message = { channel: 'metrics' as const, body: { v: 1 as const, ts, metrics } };
    accept({ site: 'merkez', device: 'srv-yedek' }, message, ts);
    // An MQTT redelivery of the same message: not a second check.
    if (ts === script[0]!.ts) accept({ site: 'merkez', device: 'srv-yedek' }, message, ts);
  }
  registry.close();
}

const AGENT_SCRIPT = [
  { ts: ist('2026-10-05T12:00'), ageMs: HOUR },
  { ts: ist('2026-10-06T12:00'), ageMs: HOUR },
  { ts: ist('2026-10-07T12:00'), ageMs: HOUR },
  // The nightly backup stopped: the newest file grows older than maxAge (26 h).
  { ts: ist('2026-10-29T12:00'), ageMs: 3 * DAY },
  { ts: ist('2026-10-30T12:00'), ageMs: 4 * DAY },
  // November: not October's.
  { ts: ist('2026-11-02T12:00'), ageMs: HOUR },
];

describe('the backups section', () => {
  it('counts heartbeat runs, missed runs and drills, and the agent checks taken through ingest into the report store', async () => {
    const setup = install(25, undefined);
    writeHeartbeats(setup.config);
    const store = ReportStore.open(setup.config.reports.path);
    await agentChecks(setup.config, (points) => void store.observe(points), AGENT_SCRIPT);
    store.close();

    const now = ist('2026-11-01T07:00');
    const section = readBackupsSection(setup.config, OCTOBER, now)!;
    expect(section.jobs).toEqual([
      {
        job: 'nas-kopya', site: 'itfaiye', description: null, succeeded: 3, failed: 0,
        // Due Oct 17 and Oct 24 with nothing reported by their grace; the Oct 26 run answers for Oct 31.
        missed: 2, lastSuccess: ist('2026-10-26T03:00'), drillsPassed: 0, drillsFailed: 0, lastDrill: null,
      },
      {
        job: 'sql-gunluk', site: 'merkez', description: 'SQL Server günlük tam yedek', succeeded: 29, failed: 1, missed: 1,
        lastSuccess: ist('2026-10-31T02:30'), drillsPassed: 1, drillsFailed: 1, lastDrill: { at: ist('2026-10-25T11:00'), result: 'failed' },
      },
    ]);
    expect(section.checks).toHaveLength(1);
    const [check] = section.checks;
    // Five October checks (the redelivered one not counted twice): three ok, two out of date.
    expect(check).toMatchObject({ site: 'merkez', device: 'srv-yedek', job: 'ebys-sql', checks: 5, byStatus: { ok: 3, missed: 2 }, lastOk: ist('2026-10-07T12:00'), lastAt: ist('2026-10-30T12:00'), lastStatus: 'missed' });
    expect(check!.lastDetail).toMatch(/^newest backup ebys-2\.bak is 4 d old \(allowed: 26 h\)$/);

    // In the report: both tables, Turkish labels and number formats.
    const report = buildMonthlyReport({ month: { year: 2026, month: 10 }, period: OCTOBER, timezone: TZ, now, targets: [], outages: [], maintenance: [], causes: { alerts: [], dependencies: [] }, backups: section, institution: INSTITUTION });
    const html = renderHtml(report, { language: 'tr' });
    expect(html).toContain('<h1>Iğdır Belediyesi — Erişilebilirlik Raporu — Ekim 2026</h1>');
    expect(html).toContain('<h3>Zamanlanmış yedekleme işleri (çalışma bildirimleri)</h3>');
    expect(html).toContain('<td>sql-gunluk (SQL Server günlük tam yedek)</td><td>merkez</td><td class="num">29</td><td class="num">1</td><td class="num">1</td><td>31.10.2026 02:30</td><td>1 başarılı, 1 başarısız</td><td>25.10.2026 11:00 (başarısız)</td>');
    expect(html).toContain('<td>merkez</td><td>srv-yedek</td><td>ebys-sql</td><td class="num">5</td><td class="num">%60,0</td><td>güncel değil: 2</td><td>07.10.2026 12:00</td><td>güncel değil: newest backup ebys-2.bak is 4 d old (allowed: 26 h)</td>');
    const english = renderHtml(report, { language: 'en' });
    expect(english).toContain('<td class="num">60.0%</td><td>out of date: 2</td>');
    // A one-site report shows that site's backups only.
    const itfaiye = buildMonthlyReport({ month: { year: 2026, month: 10 }, period: OCTOBER, timezone: TZ, now, targets: [{ site: 'itfaiye', device: 'hat', kind: 'link' }], outages: [], maintenance: [], causes: { alerts: [], dependencies: [] }, backups: section, site: 'itfaiye' });
    expect(itfaiye.backups).toEqual({ jobs: [section.jobs[0]], checks: [] });
  });

  it('counts a missed run only after its grace, and none before the job was known', () => {
    const [job] = loadBackupJobs(join(install(25, undefined).dir, 'backups.yaml'));
    const runs = [{ startedAt: null, endedAt: ist('2026-10-01T02:30'), status: 'success' as const, sizeBytes: 1, durationS: 1, message: null }];
    // Oct 2 02:00 due, grace 2 h: at 03:59 not yet missed, at 04:00 missed.
    expect(heartbeatJobMonth(job!, runs, [], OCTOBER, ist('2026-10-02T03:59'), ist('2026-09-01T00:00')).missed).toBe(0);
    expect(heartbeatJobMonth(job!, runs, [], OCTOBER, ist('2026-10-02T04:00'), ist('2026-09-01T00:00')).missed).toBe(1);
    // Known only since Oct 20: nothing before is missed; Oct 21 … Oct 31 are.
    expect(heartbeatJobMonth(job!, [], [], OCTOBER, ist('2026-11-01T07:00'), ist('2026-10-20T12:00')).missed).toBe(11);
  });

  it('skips points that are not backup checks or lack what a check needs', () => {
    const store = ReportStore.open(':memory:');
    const base = { measurement: 'backup_file', tags: { site: 'merkez', device: 'srv', kind: 'server', instance: 'sql' }, fields: { ok: 1, status: 'ok' }, time: ist('2026-10-05T12:00') };
    const counted = store.observe([
      { ...base, measurement: 'backup' },
      { ...base, tags: { site: 'merkez', device: 'srv', kind: 'server' } },
      { ...base, fields: { ok: 1 } },
      { ...base, fields: { ok: 0, status: 42 } },
      { ...base, time: Number.NaN },
      { ...base, fields: { ok: 0, status: 'yeni_durum' } },
    ]);
    expect(counted).toBe(1);
    expect(store.checkHours(OCTOBER.from, OCTOBER.to)).toMatchObject([{ checks: 1, byStatus: { other: 1 }, lastOk: null, lastStatus: 'yeni_durum' }]);
    store.close();
  });
});

describe('the schedule', () => {
  const at = { hour: 7, minute: 0 };
  it('makes the previous month from the 1st at the configured local time, in the configured zone', () => {
    const since = ist('2026-01-01T00:00');
    expect(dueMonth(ist('2026-11-01T06:59'), at, TZ, since)).toEqual({ year: 2026, month: 9 });
    expect(dueMonth(ist('2026-11-01T07:00'), at, TZ, since)).toEqual({ year: 2026, month: 10 });
    expect(dueMonth(ist('2026-11-30T23:59'), at, TZ, since)).toEqual({ year: 2026, month: 10 });
    expect(dueMonth(Date.parse('2027-01-01T06:00:00Z'), at, TZ, since)).toEqual({ year: 2026, month: 12 });
    // Berlin in winter is UTC+1: 07:00 there is 06:00 UTC.
    expect(runTime({ year: 2026, month: 10 }, at, 'Europe/Berlin')).toBe(Date.parse('2026-11-01T06:00:00Z'));
    // A month that ended before the report was first configured is never made.
    expect(dueMonth(ist('2026-11-01T07:00'), at, TZ, ist('2026-11-01T00:00'))).toBeNull();
    expect(dueMonth(ist('2026-11-01T07:00'), at, TZ, ist('2026-10-31T23:59'))).toEqual({ year: 2026, month: 10 });
  });

  it('retries with backoff, gives up after giveUpAfter or at once on a permanent refusal', () => {
    const policy = { initialMs: MIN, maxMs: HOUR, giveUpAfter: DAY };
    const created = ist('2026-11-01T07:00');
    expect(nextAttempt(policy, 1, created, created, false, () => 1)).toBe(created + MIN);
    expect(nextAttempt(policy, 3, created, created, false, () => 1)).toBe(created + 4 * MIN);
    expect(nextAttempt(policy, 20, created, created, false, () => 1)).toBe(created + HOUR);
    expect(nextAttempt(policy, 20, created, created + DAY - HOUR / 2, false, () => 1)).toBeNull();
    expect(nextAttempt(policy, 1, created, created, true)).toBeNull();
  });
});

describe('the automatic monthly report, mailed', () => {
  let smtp: SmtpTestServer;
  const services: ReportService[] = [];
  beforeAll(async () => {
    smtp = await startSmtpServer();
  });
  afterAll(async () => {
    await Promise.all(services.map((s) => s.close()));
    await smtp.stop();
  });

  const start = (config: CollectorConfig, clock: { now: number }, tickMs = 0) => {
    const service = startReportService(config, { log, now: () => clock.now, tickMs, env: {} });
    services.push(service);
    return service;
  };
  const mailsTo = (address: string) => smtp.received.filter((m) => m.envelope.to.includes(address));
  const attachment = (mail: ReceivedMail, name: string) => mail.mail.attachments.find((a) => a.filename === name);

  it('crossing the 1st at 07:00: one mail per recipient and month, institution in subject and body, Turkish intact, HTML and CSV attached, copies kept and bounded', async () => {
    const setup = install(smtp.port, { at: '07:00', language: 'tr', channel: 'eposta', recipients: ['ahmet', 'bilgiislem@igdir.bel.tr'], keep: 1 });
    writeHeartbeats(setup.config);
    writeOutages(setup.config);
    const clock = { now: ist('2026-10-20T12:00') };
    let service = start(setup.config, clock);
    await agentChecks(setup.config, (points) => service.observe(points), AGENT_SCRIPT.slice(0, 5));

    const before = smtp.received.length;
    for (const local of ['2026-10-31T23:59', '2026-11-01T00:00', '2026-11-01T06:59']) {
      clock.now = ist(local);
      await service.tick();
    }
    expect(smtp.received.length).toBe(before);

    clock.now = ist('2026-11-01T07:00');
    await service.tick();
    for (const local of ['2026-11-01T07:01', '2026-11-01T12:00', '2026-11-15T07:00', '2026-11-30T23:59']) {
      clock.now = ist(local);
      await service.tick();
    }
    const ahmet = mailsTo('ahmet@igdir.bel.tr');
    expect(ahmet).toHaveLength(1);
    expect(mailsTo('bilgiislem@igdir.bel.tr')).toHaveLength(1);
    const [mail] = ahmet;
    expect(mail!.mail.subject).toBe('Iğdır Belediyesi — Ekim 2026 Erişilebilirlik Raporu');
    expect(mail!.mail.to).toMatchObject({ value: [{ name: 'Ahmet Yılmaz', address: 'ahmet@igdir.bel.tr' }] });
    expect(mail!.mail.text).toContain('Iğdır Belediyesi');
    expect(mail!.mail.text).toContain('Ekim 2026 erişilebilirlik raporu ektedir: rapor-2026-10.html, erisilebilirlik-2026-10.csv, kesintiler-2026-10.csv.');
    // One line of two down 45 minutes: the site (and the department) stays up; the line's outage is counted.
    expect(mail!.mail.text).toContain('Daire geneli erişilebilirlik: %100,000 (hedeflerde 1 kesinti).');
    expect(mail!.mail.text).toContain('Yedekleme işleri: 2 iş, 32 başarılı, 1 başarısız, 3 kaçırılan çalışma.');
    expect(mail!.mail.text).toContain('Yedek dosyası denetimleri: 1 iş, 2 sorunlu denetim.');
    expect(mail!.mail.html).toContain('<h1>Iğdır Belediyesi</h1>');
    expect(mail!.mail.messageId).toMatch(/^<izleme-rapor-2026-10-[0-9a-f]{16}@igdir\.bel\.tr>$/);
    expect(mail!.mail.attachments.map((a) => [a.filename, a.contentType])).toEqual([
      ['rapor-2026-10.html', 'text/html'],
      ['erisilebilirlik-2026-10.csv', 'text/csv'],
      ['kesintiler-2026-10.csv', 'text/csv'],
    ]);
    const html = attachment(mail!, 'rapor-2026-10.html')!.content.toString('utf8');
    expect(html).toContain('<h1>Iğdır Belediyesi — Erişilebilirlik Raporu — Ekim 2026</h1>');
    expect(html).toContain('<td>sql-gunluk (SQL Server günlük tam yedek)</td><td>merkez</td><td class="num">29</td>');
    expect(html).toContain('<td>ebys-sql</td><td class="num">5</td><td class="num">%60,0</td>');
    const csv = attachment(mail!, 'erisilebilirlik-2026-10.csv')!.content.toString('utf8');
    expect(csv.startsWith('\uFEFFKapsam;Yerleşke;Hedef;Tür;Dönem;Süre (dk);Planlı bakım (dk);Kesinti (dk);Erişilebilirlik (%)')).toBe(true);
    expect(csv).toContain('Hedef;merkez;hat-turktelekom;link;Ekim 2026;44640,00;0,00;45,00;99,899;1;45,00');
    const outagesCsv = attachment(mail!, 'kesintiler-2026-10.csv')!.content.toString('utf8');
    expect(outagesCsv).toContain('merkez;hat-turktelekom;link;12.10.2026 09:00;12.10.2026 09:45;45,00;45,00;Hat;timeout');

    // The copy on disk is what was sent.
    const october = join(setup.dir, 'raporlar', '2026-10');
    expect(readFileSync(join(october, 'rapor-2026-10.html'), 'utf8')).toBe(html);
    expect(JSON.parse(readFileSync(join(october, 'mail.json'), 'utf8')).subject).toBe(mail!.mail.subject);

    // A restart on the same day sends nothing again.
    await service.close();
    clock.now = ist('2026-11-01T08:00');
    service = start(setup.config, clock);
    await service.tick();
    expect(mailsTo('ahmet@igdir.bel.tr')).toHaveLength(1);

    // December 1st: November's report, one more mail each; only the newest month is kept on disk (keep: 1).
    clock.now = ist('2026-12-01T07:00');
    await service.tick();
    await service.tick();
    expect(mailsTo('ahmet@igdir.bel.tr').map((m) => m.mail.subject)).toEqual(['Iğdır Belediyesi — Ekim 2026 Erişilebilirlik Raporu', 'Iğdır Belediyesi — Kasım 2026 Erişilebilirlik Raporu']);
    expect(mailsTo('bilgiislem@igdir.bel.tr')).toHaveLength(2);
    // Pruning runs daily: the next day's tick removes October's copy.
    clock.now = ist('2026-12-02T07:00');
    await service.tick();
    expect(readdirSync(join(setup.dir, 'raporlar'))).toEqual(['2026-11']);
  });

  it('makes a month missed while the collector was down at its next start, once; both languages in one mail', async () => {
    const setup = install(smtp.port, { at: '06:30', language: 'both', channel: 'eposta', recipients: ['yonetim@igdir.bel.tr'] });
    writeOutages(setup.config);
    const clock = { now: ist('2026-10-20T12:00') };
    // First start in October, then down from Oct 31 to Nov 3.
    await start(setup.config, clock).close();
    expect(mailsTo('yonetim@igdir.bel.tr')).toHaveLength(0);

    clock.now = ist('2026-11-03T10:15');
    // The start's own tick (tickMs > 0) makes it, without waiting for a timer.
    const service = start(setup.config, clock, HOUR);
    await service.tick();
    await service.close();
    clock.now = ist('2026-11-03T11:00');
    const again = start(setup.config, clock, HOUR);
    await again.tick();
    const mails = mailsTo('yonetim@igdir.bel.tr');
    expect(mails).toHaveLength(1);
    expect(mails[0]!.mail.subject).toBe('Iğdır Belediyesi — Ekim 2026 Erişilebilirlik Raporu / Availability Report, October 2026');
    expect(mails[0]!.mail.text).toContain('The availability report for October 2026 is attached');
    expect(mails[0]!.mail.attachments.map((a) => a.filename)).toEqual(['rapor-2026-10.html', 'erisilebilirlik-2026-10.csv', 'kesintiler-2026-10.csv', 'report-2026-10.html', 'availability-2026-10.csv', 'outages-2026-10.csv']);
    expect(attachment(mails[0]!, 'report-2026-10.html')!.content.toString('utf8')).toContain('<h1>Iğdır Belediyesi — Availability Report — October 2026</h1>');
  });

  it('retries a temporary refusal later, stops at a permanent one; durable across a restart', async () => {
    const setup = install(smtp.port, { at: '07:00', channel: 'eposta', recipients: ['gecici@igdir.bel.tr', 'yok@igdir.bel.tr'], retry: { initialMs: 60_000, maxMs: 600_000 } });
    smtp.rejectRecipient('yok@igdir.bel.tr');
    const clock = { now: ist('2026-10-20T12:00') };
    let service = start(setup.config, clock);
    clock.now = ist('2026-11-01T07:00');
    smtp.failNext(1);
    await service.tick();
    const store = () => {
      const s = ReportStore.open(setup.config.reports.path);
      const list = s.deliveries('2026-10');
      s.close();
      return list;
    };
    const first = store();
    const temporary = first.find((d) => d.address === 'gecici@igdir.bel.tr')!;
    expect(temporary).toMatchObject({ state: 'pending', attempts: 1, lastError: expect.stringMatching(/451/) });
    expect(temporary.nextAt).toBeGreaterThan(clock.now);
    expect(first.find((d) => d.address === 'yok@igdir.bel.tr')).toMatchObject({ state: 'failed', attempts: 1, lastError: expect.stringMatching(/refused for good: 550/) });
    expect(mailsTo('gecici@igdir.bel.tr')).toHaveLength(0);

    // Restarted before the retry is due: nothing; after it: sent once.
    await service.close();
    service = start(setup.config, clock);
    await service.tick();
    expect(mailsTo('gecici@igdir.bel.tr')).toHaveLength(0);
    clock.now = temporary.nextAt;
    await service.tick();
    await service.tick();
    expect(mailsTo('gecici@igdir.bel.tr')).toHaveLength(1);
    expect(store().map((d) => [d.address, d.state, d.attempts])).toEqual([
      ['gecici@igdir.bel.tr', 'sent', 2],
      ['yok@igdir.bel.tr', 'failed', 1],
    ]);
    // The address is personal data: masked in the log.
    const givenUp = logLines.filter((l) => l.includes('monthly report not mailed: given up'));
    expect(givenUp.some((l) => l.includes('y***@igdir.bel.tr') && l.includes('550'))).toBe(true);
    expect(logLines.some((l) => l.includes('yok@igdir.bel.tr'))).toBe(false);
  });
});

describe('configuration mistakes', () => {
  const refusal = (monthly: Record<string, unknown>, extra: Parameters<typeof install>[2] = {}): string => {
    try {
      const setup = install(25, monthly, extra);
      startReportService(setup.config, { log, tickMs: 0, env: {} });
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error('expected a refusal');
  };
  const base = { channel: 'eposta', recipients: ['ahmet'] };

  it('names every recipient and channel mistake with its key and the notification file', () => {
    const message = refusal({ ...base, recipients: ['ahmet', 'ayse', 'gul', 'bilgi@igdir.bel.tr', 'ahmet@igdir.bel.tr'] });
    expect(message).toMatch(/^invalid monthly report configuration:\n/);
    expect(message).toMatch(/ {2}reports\.monthly\.recipients\[1\]: no contact "ayse" in \S+notify\.yaml\n/);
    expect(message).toMatch(/ {2}reports\.monthly\.recipients\[2\]: contact "gul" in \S+notify\.yaml has no email address\n/);
    expect(message).toMatch(/ {2}reports\.monthly\.recipients: ahmet@igdir\.bel\.tr is given twice/);
    expect(refusal({ ...base, channel: 'eposta2' })).toMatch(/reports\.monthly\.channel: no channel "eposta2" in \S+notify\.yaml \(channels there: eposta, sms\)/);
    expect(refusal({ ...base, channel: 'sms' })).toMatch(/reports\.monthly\.channel: channel "sms" in \S+notify\.yaml is of type webhook; the report is mailed, it needs an email channel/);
  });

  it('refuses a monthly report without a notification file', () => {
    const setup = install(25, base);
    const config = { ...setup.config, alerts: { ...setup.config.alerts, notifyFile: undefined } };
    expect(() => startReportService(config, { log, tickMs: 0, env: {} })).toThrow(/reports\.monthly\.channel: the report is mailed through an e-mail channel of the notification file, and alerts\.notifyFile is not set/);
  });

  it('refuses malformed values in collector.yaml, naming the field', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...base, recipients: [] }, /reports\.monthly\.recipients: at least one recipient/],
      [{ ...base, recipients: ['Ahmet Yılmaz'] }, /reports\.monthly\.recipients\[0\]: "Ahmet Yılmaz" is neither a contact id of the notification file \(e\.g\. "ahmet"\) nor one e-mail address/],
      [{ ...base, recipients: ['ahmet', 'ahmet'] }, /reports\.monthly\.recipients\[1\]: "ahmet" is listed twice/],
      [{ ...base, at: '7:00' }, /reports\.monthly\.at: expected a local time like "07:00", got "7:00"/],
      [{ ...base, at: '24:00' }, /reports\.monthly\.at: expected a local time like "07:00"/],
      [{ ...base, language: 'de' }, /reports\.monthly\.language: expected tr, en or both/],
      [{ ...base, timezone: 'Istanbul' }, /reports\.monthly\.timezone: expected an IANA time zone/],
      [{ recipients: ['ahmet'] }, /reports\.monthly\.channel: /],
      [{ ...base, keep: 0 }, /reports\.monthly\.keep: /],
      [{ ...base, giveUpAfter: '10s' }, /reports\.monthly\.giveUpAfter: between "1m" and "31d"/],
    ];
    for (const [monthly, message] of cases) expect(() => install(25, monthly), JSON.stringify(monthly)).toThrow(message);
  });
});
