import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { DEFAULT_RULES_FILE } from '../collector/alerts/rules-loader.ts';
import { OutageLog } from '../collector/uptime/outage-log.ts';
import { agentConfigFile, startAgentWithConfig } from './helpers/agent-process.ts';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';
import { startInfluxDB, tempDir, waitFor, type InfluxServer, type ManagedProcess } from './helpers/servers.ts';
import { startSmtpServer, type SmtpTestServer } from './helpers/smtp-server.ts';
import { createLines, removeLines, sh, type Line } from './helpers/netns.ts';

// Backups and uptime end to end, the way a municipality runs them: the real collector process
// with a notification file, a real SMTP server receiving the mails, InfluxDB, a real agent
// checking backup files the test writes into temp dirs with controlled modification times, a
// backup script's heartbeats over real HTTP, an HTTP service on loopback stopped and started
// again, and two internet lines as network namespaces (veth pairs; needs root, as CI has).

const DB = 'monitoring';
const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const AGENT = { site: 'merkez', device: 'srv-yedek' };
const TO = 'nobetci@belediye.gov.tr';

/** Writes `content` as `name` in `dir`, last modified `ageMs` ago. */
function put(dir: string, name: string, content: Buffer, ageMs: number): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  age(path, ageMs);
  return path;
}
function age(path: string, ageMs: number): void {
  const at = (Date.now() - ageMs) / 1000;
  utimesSync(path, at, at);
}
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** A real tar.gz (the system's tar) of `bytes` random bytes. */
function tarGz(work: string, bytes: number): Buffer {
  const src = join(work, `icerik-${randomBytes(4).toString('hex')}`);
  mkdirSync(src);
  writeFileSync(join(src, 'veri.bin'), randomBytes(bytes));
  const out = `${src}.tar.gz`;
  sh('tar', ['-czf', out, '-C', src, 'veri.bin']);
  return readFileSync(out);
}

/** The shipped rule with its `for` taken out, so the test does not wait a minute. */
function immediate(id: string): Record<string, unknown> {
  const rules = (parse(readFileSync(DEFAULT_RULES_FILE, 'utf8')) as { rules: Record<string, unknown>[] }).rules;
  const rule = rules.find((r) => r.id === id);
  if (!rule) throw new Error(`no default rule ${id}`);
  return { ...rule, for: '0s' };
}


describe('backups and uptime through real e-mail', () => {
  let influx: InfluxServer;
  let smtp: SmtpTestServer;
  let collector: CollectorProcess;
  let agent: ManagedProcess;
  let web: Server;
  let webPort: number;
  const lines: Line[] = [];
  const dirs: Record<'gece' | 'arsiv' | 'kucuk' | 'sql' | 'uzak' | 'work', string> = { gece: '', arsiv: '', kucuk: '', sql: '', uzak: '', work: '' };

  const subjects = () => smtp.received.filter((m) => m.envelope.to.includes(TO)).map((m) => m.mail.subject ?? '');
  const api = async <T>(path: string, init?: RequestInit): Promise<T> => {
    const response = await fetch(`${collector.apiUrl}${path}`, init);
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  const device = async (site: string, id: string) => (await api<{ devices: { device: string; online: boolean }[] }>(`/api/v1/devices?site=${site}`)).devices.find((d) => d.device === id);
  const listenWeb = () => new Promise<void>((resolve) => web.listen(webPort, '127.0.0.1', resolve));

  beforeAll(async () => {
    influx = await startInfluxDB();
    smtp = await startSmtpServer();

    // Two internet lines: a veth pair into a namespace each; the far end answers pings.
    lines.push(...createLines('e2e', 201, 2));

    web = createServer((_req, res) => res.end('<title>e-Belediye</title>'));
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    webPort = (web.address() as { port: number }).port;

    // Healthy backups to begin with: the newest of each a while old, older ones a day apart.
    for (const key of Object.keys(dirs) as (keyof typeof dirs)[]) dirs[key] = tempDir(`e2e-${key}`);
    [2 * DAY, DAY, 10 * MIN].forEach((ms, i) => put(dirs.gece, `gece-${i + 1}.bak`, randomBytes(20_000), ms));
    put(dirs.arsiv, 'arsiv-1.tar.gz', tarGz(dirs.work, 60_000), 30 * MIN);
    [5, 4, 3, 2, 1].forEach((days, i) => put(dirs.kucuk, `kucuk-${i + 1}.bak`, randomBytes(50_000), days * DAY));
    put(dirs.kucuk, 'kucuk-6.bak', randomBytes(50_000), 30 * MIN);
    const db1 = randomBytes(30_000);
    put(dirs.sql, 'db-1.bak', db1, 30 * MIN);
    put(dirs.sql, 'db-1.bak.sha256', Buffer.from(`${sha256(db1)}  db-1.bak\n`), 30 * MIN);
    // A backup that must also reach another building: its copy never arrives.
    put(dirs.uzak, 'uzak-1.bak', randomBytes(20_000), 30 * MIN);

    const dir = tempDir('e2e');
    writeFileSync(
      join(dir, 'devices.yaml'),
      stringify({
        devices: [
          { site: 'merkez', id: 'e-belediye', address: `http://127.0.0.1:${webPort}/`, profile: 'probe-http', intervalS: 1, timeoutMs: 500, options: { keyword: 'e-Belediye' } },
          ...lines.map((line, i) => ({ site: 'merkez', id: `hat-${i + 1}`, address: line.remote, profile: 'probe-icmp', intervalS: 1, timeoutMs: 300, options: { count: 2, periodMs: 50, sourceAddress: line.local } })),
        ],
      }),
    );
    writeFileSync(join(dir, 'rules.yaml'), stringify({ rules: [immediate('service_down'), immediate('line_down'), immediate('backup_offsite_missing')] }));
    writeFileSync(
      join(dir, 'backups.yaml'),
      stringify({
        jobs: [
          { id: 'sql-gunluk', site: 'merkez', description: 'SQL Server günlük tam yedek', schedule: { every: '1d' }, grace: '3s' },
          { id: 'dosya-gece', site: 'merkez', description: 'dosya sunucusu rsync', schedule: { every: '1d' }, grace: '3s' },
        ],
      }),
    );
    writeFileSync(
      join(dir, 'notify.yaml'),
      stringify({
        channels: { eposta: { type: 'email', host: '127.0.0.1', port: smtp.port, security: 'none', from: 'Belediye İzleme <izleme@belediye.gov.tr>', timeoutMs: 2000 } },
        // More than the 10 mails a quarter-hour one person gets by default: the rest would be held for a summary.
        outbox: { retry: { initialMs: 200, maxMs: 1000 }, rateLimit: { perRecipient: 100 } },
        contacts: [{ id: 'nobetci', name: 'Nöbetçi Teknisyen', email: TO, language: 'tr' }],
        teams: [{ id: 'bilgi-islem', name: 'Bilgi İşlem', members: ['nobetci'] }],
        routes: [{ team: 'bilgi-islem', offHours: { channels: ['eposta'], to: 'team' }, groupWait: '1s', repeat: '0' }],
      }),
    );
    collector = await startCollectorProcess({
      storage: { type: 'influx-v1', url: influx.url },
      queue: { flushIntervalMs: 200 },
      devices: { file: join(dir, 'devices.yaml') },
      alerts: { rulesFile: join(dir, 'rules.yaml'), notifyFile: join(dir, 'notify.yaml') },
      backups: { file: join(dir, 'backups.yaml') },
    });
    agent = startAgentWithConfig(
      agentConfigFile({
        ...AGENT,
        kind: 'server',
        intervalS: 5,
        // The slow cadence's minimum: the backup checks run every 10 s.
        hardwareIntervalS: 10,
        mqtt: { url: collector.mqttUrl },
        backups: [
          { id: 'gece', path: join(dirs.gece, '*.bak'), maxAge: '1h' },
          { id: 'arsiv', path: join(dirs.arsiv, '*.tar.gz'), maxAge: '26h', verifyArchive: true },
          { id: 'kucuk', path: join(dirs.kucuk, '*.bak'), maxAge: '26h' },
          { id: 'sql', path: join(dirs.sql, '*.bak'), maxAge: '26h', checksum: { sidecar: '.sha256' } },
          { id: 'uzak', path: join(dirs.uzak, '*.bak'), maxAge: '26h', offsite: { role: 'primary', pair: 'uzak-kopya' } },
        ],
      }),
    );
  });

  afterAll(async () => {
    await agent?.stop();
    await collector?.stop();
    await new Promise<void>((resolve) => {
      if (!web?.listening) return resolve();
      web.closeAllConnections();
      web.close(() => resolve());
    });
    removeLines(lines);
    await smtp?.stop();
    await influx?.stop();
  });

  it('heartbeats over real HTTP: a /fail report is mailed as backup_failed; a run started and never ended is running, then late', async () => {
    const token = async (job: string) => (await api<{ token: string }>(`/api/v1/backups/${job}/tokens`, { method: 'POST' })).token;
    const [failing, hung] = [await token('sql-gunluk'), await token('dosya-gece')];
    expect((await fetch(`${collector.apiUrl}/hb/${failing}/start`)).status).toBe(200);
    const report = await fetch(`${collector.apiUrl}/hb/${failing}/fail`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'message=disk dolu' });
    expect(await report.json()).toEqual({ ok: true, job: 'sql-gunluk', state: 'failed' });
    await waitFor('backup_failed mail', async () => subjects().includes('[KRİTİK] merkez / sql-gunluk yedeklemesi başarısız oldu'), 15_000);

    const startedAt = Date.now();
    expect(await (await fetch(`${collector.apiUrl}/hb/${hung}/start`)).json()).toEqual({ ok: true, job: 'dosya-gece', state: 'running' });
    const state = async () => (await api<{ jobs: { id: string; evaluation: { state: string } }[] }>('/api/v1/backups')).jobs.find((j) => j.id === 'dosya-gece')!.evaluation.state;
    await waitFor('the hung run late', async () => (await state()) === 'late', 10_000);
    // Late begins one grace (3 s) after the start.
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(2_900);
    // A forged token is refused over HTTP and changes nothing.
    expect((await fetch(`${collector.apiUrl}/hb/bk_${'x'.repeat(40)}/fail`)).status).toBe(404);
  });

  it('backup files checked by the agent: a missed run, a truncated tar.gz, a shrunken file and a checksum mismatch are each mailed by their rule', async () => {
    const statuses = async () => {
      const series = await influx.query(DB, `SELECT last(status) FROM backup_file WHERE device = '${AGENT.device}' GROUP BY instance`);
      return Object.fromEntries(series.map((s) => [s.tags!.instance!, s.values[0]![1]]));
    };
    await waitFor('all five backups checked and healthy', async () => {
      const now = await statuses();
      return ['arsiv', 'gece', 'kucuk', 'sql', 'uzak'].every((job) => now[job] === 'ok');
    }, 30_000, 500);
    // The agent's other checks (a full disk of the test machine) may alert too: only backup mails count here.
    const backupMail = (s: string) => s.includes(`${AGENT.device}: `) && /yede[kğ]/.test(s) && !s.includes('uzak kopyası');
    expect(subjects().filter(backupMail)).toEqual([]);

    // The night's run did not happen: the newest backup is now two hours old (allowed: one).
    age(join(dirs.gece, 'gece-3.bak'), 120 * MIN);
    // Cut short while being copied: the gzip stream ends early.
    const archive = tarGz(dirs.work, 60_000);
    put(dirs.arsiv, 'arsiv-2.tar.gz', archive.subarray(0, archive.length - 200), 5 * MIN);
    // A dump that stopped early: 2 kB where the previous ones were 50 kB.
    put(dirs.kucuk, 'kucuk-7.bak', randomBytes(2_000), 5 * MIN);
    // The backup does not match its sidecar.
    put(dirs.sql, 'db-2.bak', randomBytes(30_000), 5 * MIN);
    put(dirs.sql, 'db-2.bak.sha256', Buffer.from(`${sha256(randomBytes(30_000))}  db-2.bak\n`), 5 * MIN);

    const expected = [
      `[KRİTİK] ${AGENT.device}: gece yedeği zamanında alınmamış ya da bulunamıyor (missed)`,
      `[KRİTİK] ${AGENT.device}: arsiv yedek arşivi okunamıyor (bozuk ya da yarım)`,
      `[UYARI] ${AGENT.device}: kucuk yedeği olağandan çok küçük (boş ya da yarım kalmış olabilir)`,
      `[KRİTİK] ${AGENT.device}: sql yedeğinin SHA-256 sağlama toplamı tutmuyor ya da sağlama dosyası yok`,
    ];
    await waitFor('four backup mails', async () => expected.every((s) => subjects().includes(s)), 30_000, 250);
    // One mail each, and nothing else about these backups (the truncated archive is not also "too small").
    expect(subjects().filter(backupMail).sort()).toEqual([...expected].sort());
    expect(await statuses()).toEqual({ arsiv: 'unreadable', gece: 'missed', kucuk: 'too_small', sql: 'checksum_bad', uzak: 'ok' });
  });

  it('an off-site copy that never arrives is mailed as backup_offsite_missing', async () => {
    const subject = `[KRİTİK] ${AGENT.device}: uzak yedeğinin uzak kopyası yok: ikinci konumda hiç yedek dosyası görünmüyor`;
    await waitFor('off-site missing mail', async () => subjects().includes(subject), 40_000, 250);
    const [series] = await influx.query(DB, `SELECT last(state) FROM backup_offsite WHERE instance = 'uzak'`);
    expect(series?.values[0]?.[1]).toBe('missing');
  });

  it('a web service stopped for 5 s and started again: one outage of the right length in the outage log and InfluxDB, mailed as service_down and resolved', async () => {
    await waitFor('e-belediye online', async () => (await device('merkez', 'e-belediye'))?.online === true, 15_000);
    await new Promise<void>((resolve) => {
      web.closeAllConnections();
      web.close(() => resolve());
    });
    const stoppedAt = Date.now();
    await new Promise((r) => setTimeout(r, 5_000));
    await listenWeb();
    const restartedAt = Date.now();

    const log = OutageLog.open(join(collector.dir, 'uptime.sqlite'), { readOnly: true });
    try {
      const outages = () => log.outages({ from: stoppedAt - MIN, to: Date.now() + MIN, site: 'merkez', device: 'e-belediye' });
      await waitFor('the outage closed', async () => outages().some((o) => o.end !== null), 15_000);
      const [outage, ...more] = outages();
      expect(more).toEqual([]);
      expect(outage).toMatchObject({ kind: 'service', reason: 'unreachable: refused', cause: 'device' });
      expect(Math.abs(outage!.end! - outage!.start - (restartedAt - stoppedAt))).toBeLessThanOrEqual(2_000);
      expect(outage!.start).toBeGreaterThanOrEqual(stoppedAt);
      expect(outage!.start - stoppedAt).toBeLessThanOrEqual(2_000);
    } finally {
      log.close();
    }
    const closed = async () => (await influx.query(DB, `SELECT duration_s, reason FROM outages WHERE device = 'e-belediye' AND duration_s > 0`))[0]?.values ?? [];
    await waitFor('the closed outage in InfluxDB', async () => (await closed()).length > 0, 10_000);
    const rows = await closed();
    expect(rows).toHaveLength(1);
    expect(Math.abs((rows[0]![1] as number) - 5)).toBeLessThanOrEqual(2);

    await waitFor('service_down mail and its resolution', async () => subjects().some((s) => s.startsWith('[ÇÖZÜLDÜ]') && s.includes('e-belediye')), 15_000);
    const mails = subjects().filter((s) => s.includes('e-belediye'));
    expect(mails).toHaveLength(2);
    expect(mails[0]).toBe('[KRİTİK] merkez / e-belediye hizmeti çalışmıyor (unreachable: refused)');
    expect(mails[1]).toMatch(/^\[ÇÖZÜLDÜ\] merkez \/ e-belediye hizmeti çalışmıyor/);
  });

  it('internet line 2 going down is mailed as line_down for line 2 only; line 1 stays up', async () => {
    await waitFor('both lines online', async () => (await device('merkez', 'hat-1'))?.online === true && (await device('merkez', 'hat-2'))?.online === true, 15_000);
    const [, line2] = lines as [Line, Line];
    sh('ip', ['-n', line2.ns, 'link', 'set', line2.nsVeth, 'down']);
    try {
      await waitFor('line_down mail for hat-2', async () => subjects().includes('[KRİTİK] merkez / hat-2 hattı kesildi: ping yanıtı yok'), 15_000);
      // Meanwhile line 1 answered every second and was never taken for down (its outage log stays empty, below).
      expect(await device('merkez', 'hat-1')).toMatchObject({ online: true });
    } finally {
      sh('ip', ['-n', line2.ns, 'link', 'set', line2.nsVeth, 'up']);
    }
    await waitFor('hat-2 back online', async () => (await device('merkez', 'hat-2'))?.online === true, 15_000);
    expect(subjects().filter((s) => s.includes('hat-1'))).toEqual([]);
    const log = OutageLog.open(join(collector.dir, 'uptime.sqlite'), { readOnly: true });
    try {
      expect(log.outages({ from: 0, to: Date.now() + MIN, site: 'merkez', device: 'hat-1' })).toEqual([]);
      expect(log.outages({ from: 0, to: Date.now() + MIN, site: 'merkez', device: 'hat-2' })).toMatchObject([{ kind: 'link', cause: 'link' }]);
    } finally {
      log.close();
    }
  });

  it('the run that started and never ended is missed at the next evaluation, and mailed as backup_missed', async () => {
    // The service evaluates every job every 30 s; the run went from late to missed 6 s after its start.
    await waitFor('backup_missed mail', async () => subjects().includes('[KRİTİK] merkez / dosya-gece yedeği zamanında gelmedi: yedekleme işi beklenen saatte rapor vermedi'), 40_000, 250);
    // The failed job stays failed, not missed: one mail each.
    expect(subjects().filter((s) => s.includes('sql-gunluk') || s.includes('dosya-gece'))).toHaveLength(2);
  });
});
