import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { LANGUAGES, t, type Lang, type TextKey } from '../dashboard-config/src/i18n.ts';
import { buildDashboards } from '../dashboard-config/src/index.ts';
import { agentConfigFile, startAgentWithConfig } from './helpers/agent-process.ts';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';
import { extractPanelQueries, renderQuery } from './helpers/panel-queries.ts';
import { freePort, startInfluxDB, tempDir, waitFor, type InfluxSeries, type InfluxServer, type ManagedProcess } from './helpers/servers.ts';
import { startSnmpsim, type SnmpsimServer } from './helpers/snmp-servers.ts';

// Every panel of the Backup verification and Network and fiber uptime dashboards, run against a
// real InfluxDB filled by the real collector process and a real agent process:
// - backup heartbeats over HTTP (/hb/<token>) for the jobs of a backups.yaml: one succeeds twice,
//   one reports a failure, a restore drill is recorded over the API;
// - the agent checking backup files in temp dirs (real tar.gz archives made by the system's tar):
//   a primary and its off-site copy one day behind, and a dump whose SHA-256 sidecar does not match;
// - probes from the collector's device list: HTTP on a server of this test, which is taken down
//   and brought back (one outage opened and closed), TCP on a listening port, TCP on a port nobody
//   listens on (an outage still open), ICMP to 127.0.0.1 through fping, and a switch (snmpsim
//   serving a Cisco recording) whose fiber link to itfaiye goes down between polls.

const SITE = 'merkez';
const DB = 'monitoring';
const ALL = '.*';
const HOUR_MS = 3_600_000;
const DAY_S = 86_400;

const WEB = 'e-belediye';
const TCP = 'ebys';
const DEAD = 'eski-portal';
const LINE = 'hat-turktelekom';
const SWITCH = 'sw-kat2';
const JOB_OK = 'sql-gunluk';
const JOB_FAILING = 'dosya-sunucusu';
const FILES_PRIMARY = 'arsiv';
const FILES_COPY = 'arsiv-kopya';
const FILES_BAD_SUM = 'muhasebe-dump';

/** The variable of each dashboard's device dropdown. */
const DASHBOARDS = [
  { uid: 'uptime', variable: 'target' },
  { uid: 'backups', variable: 'job' },
] as const;

function listen(server: HttpServer | TcpServer, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
}

/** A tar.gz of `files` text files, made by the system's tar, modified `ageMs` ago. */
function archive(path: string, files: number, ageMs: number): void {
  const src = tempDir('tar-src');
  for (let i = 0; i < files; i++) writeFileSync(join(src, `belge-${i}.txt`), `belge ${i}\n`.repeat(200));
  execFileSync('tar', ['-czf', path, '-C', src, '.']);
  backdate(path, ageMs);
}

function backdate(path: string, ageMs: number): void {
  const at = new Date(Date.now() - ageMs);
  utimesSync(path, at, at);
}

describe('Backup verification and Network and fiber uptime dashboards on data from the real collector and agent', () => {
  let influx: InfluxServer;
  let sim: SnmpsimServer;
  let collector: CollectorProcess;
  let agent: ManagedProcess;
  const web = createHttpServer((_req, res) => res.end('e-Belediye giriş'));
  const tcp = createTcpServer((socket) => socket.end());
  /** When the test took the web server down and brought it back. */
  const webDown = { closedAt: 0, reopenedAt: 0 };
  /** The time range every panel is rendered for (Grafana's $__from, $__to), set once the data is in. */
  let range = { from: 0, to: 0 };

  const rows = async (q: string) => (await influx.query(DB, q))[0]?.values ?? [];
  const latest = async (measurement: string, field: string, where: string) => (await rows(`SELECT last("${field}") FROM "${measurement}" WHERE ${where}`))[0]?.[1];
  const api = async (path: string, body?: unknown) => {
    const response = await fetch(`${collector.apiUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as Record<string, unknown>;
  };

  beforeAll(async () => {
    influx = await startInfluxDB();
    sim = await startSnmpsim({ cisco: 'switch-cisco.snmprec' });
    const [webPort, tcpPort, deadPort] = [await freePort(), await freePort(), await freePort()];
    await listen(web, webPort);
    await listen(tcp, tcpPort);
    const dir = tempDir('dashboards-uptime');

    const secrets = join(dir, 'secrets.yaml');
    writeFileSync(secrets, stringify({ cisco: { snmp: { version: '2c', community: 'cisco' } } }));
    chmodSync(secrets, 0o600);
    const probe = (id: string, address: string, profile: string, extra: Record<string, unknown> = {}) => ({ site: SITE, id, address, profile, intervalS: 1, ...extra });
    const devices = [
      probe(WEB, `http://127.0.0.1:${webPort}/`, 'probe-http', { options: { keyword: 'e-Belediye' } }),
      probe(TCP, `127.0.0.1:${tcpPort}`, 'probe-tcp'),
      probe(DEAD, `127.0.0.1:${deadPort}`, 'probe-tcp'),
      // Two pings 100 ms apart with a 500 ms timeout fit in the 1 s interval.
      probe(LINE, '127.0.0.1', 'probe-icmp', { timeoutMs: 500, options: { count: 2, periodMs: 100 } }),
      probe(SWITCH, sim.address, 'if-mib', { credential: 'cisco', links: [{ iface: 'Te1/0/1', to: 'zabita' }, { iface: 'Te1/0/2', to: 'itfaiye' }] }),
    ];
    writeFileSync(join(dir, 'devices.yaml'), stringify({ devices }));
    writeFileSync(
      join(dir, 'backups.yaml'),
      stringify({
        jobs: [
          { id: JOB_OK, site: SITE, description: 'SQL Server günlük tam yedek', schedule: { every: '1d' }, grace: '2h', minSizeBytes: 1_000_000, drillEvery: '90d' },
          { id: JOB_FAILING, site: SITE, owner: 'systems', schedule: { cron: '0 2 * * *', timezone: 'Europe/Istanbul' }, grace: '2h' },
        ],
      }),
    );
    collector = await startCollectorProcess({
      storage: { type: 'influx-v1', url: influx.url },
      queue: { flushIntervalMs: 200 },
      devices: { file: join(dir, 'devices.yaml'), secretsFile: secrets },
      backups: { file: join(dir, 'backups.yaml') },
    });

    // The agent's backups: last night's archive and two older ones; the off-site copy holds
    // the two older ones only (one day behind); a dump whose sidecar digest is wrong.
    const [primary, copy, dumps] = [join(dir, 'birincil'), join(dir, 'uzak'), join(dir, 'dump')] as const;
    for (const d of [primary, copy, dumps]) mkdirSync(d);
    archive(join(primary, 'arsiv-01.tar.gz'), 20, 49 * HOUR_MS);
    archive(join(primary, 'arsiv-02.tar.gz'), 21, 25 * HOUR_MS);
    archive(join(primary, 'arsiv-03.tar.gz'), 22, 1 * HOUR_MS);
    for (const [name, ageMs] of [['arsiv-01.tar.gz', 49 * HOUR_MS], ['arsiv-02.tar.gz', 25 * HOUR_MS]] as const) {
      copyFileSync(join(primary, name), join(copy, name));
      backdate(join(copy, name), ageMs);
    }
    writeFileSync(join(dumps, 'muhasebe.bak'), 'muhasebe veritabanı yedeği\n'.repeat(1000));
    writeFileSync(join(dumps, 'muhasebe.bak.sha256'), `${createHash('sha256').update('başka bir dosya').digest('hex')}  muhasebe.bak\n`);
    for (const name of ['muhasebe.bak', 'muhasebe.bak.sha256']) backdate(join(dumps, name), 2 * HOUR_MS);
    agent = startAgentWithConfig(
      agentConfigFile({
        site: SITE,
        device: 'yedek-sunucu',
        kind: 'server',
        intervalS: 10,
        // The slow cadence the backup checks run on; 10 s is its minimum.
        hardwareIntervalS: 10,
        mqtt: { url: collector.mqttUrl },
        backups: [
          { id: FILES_PRIMARY, path: join(primary, 'arsiv-*.tar.gz'), maxAge: '26h', verifyArchive: true, offsite: { role: 'primary', pair: FILES_COPY } },
          { id: FILES_COPY, path: join(copy, 'arsiv-*.tar.gz'), maxAge: '26h', verifyArchive: true, offsite: { role: 'copy', pair: FILES_PRIMARY } },
          { id: FILES_BAD_SUM, path: join(dumps, '*.bak'), maxAge: '26h', checksum: { sidecar: '.sha256' } },
        ],
      }),
    );

    // Heartbeats as a backup script sends them, a failure, and a restore drill.
    const token = async (job: string) => String((await api(`/api/v1/backups/${job}/tokens`)).token);
    const [okToken, failingToken] = [await token(JOB_OK), await token(JOB_FAILING)];
    for (const size of [1_900_000, 2_000_000]) expect((await fetch(`${collector.apiUrl}/hb/${okToken}?size=${size}&duration=55`)).status).toBe(200);
    expect((await fetch(`${collector.apiUrl}/hb/${failingToken}/fail`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'disk dolu' }) })).status).toBe(200);
    await api(`/api/v1/backups/${JOB_OK}/drills`, { result: 'passed', notes: 'SQL yedeği test sunucusuna geri yüklendi, tablolar sayıldı' });

    // The web service's outage: down after it answered, back after a few polls.
    await waitFor('the web service online', async () => (await latest('device_state', 'online', `"device" = '${WEB}'`)) === 1, 30_000, 200);
    webDown.closedAt = Date.now();
    web.close();
    web.closeAllConnections();
    await waitFor('the web service offline', async () => (await latest('device_state', 'online', `"device" = '${WEB}'`)) === 0, 20_000, 200);
    await new Promise((r) => setTimeout(r, 2_500));
    await listen(web, webPort);
    webDown.reopenedAt = Date.now();
    await waitFor('the outage closed', async () => (await rows(`SELECT "duration_s" FROM "outages" WHERE "device" = '${WEB}' AND "duration_s" >= 0`)).length === 1, 20_000, 200);

    // The fiber cut, after the link was seen up.
    const link2 = `"device" = '${SWITCH}' AND "iface" = 'Te1/0/2'`;
    await waitFor('the fiber link up', async () => (await latest('interface', 'oper_up', link2)) === 1, 40_000, 250);
    sim.serve('cisco', 'switch-cisco-link-down.snmprec');
    await waitFor('the fiber link down', async () => (await latest('interface', 'oper_up', link2)) === 0, 30_000, 250);

    await waitFor('the dead target\'s open outage', async () => (await latest('outages', 'open', `"device" = '${DEAD}'`)) === 1, 20_000, 200);
    await waitFor('RTT of the line', async () => Number(await latest('probe', 'jitter_ms', `"device" = '${LINE}'`)) >= 0, 20_000, 200);
    await waitFor(
      'the heartbeat jobs evaluated',
      async () => (await latest('backup', 'status', `"device" = '${JOB_FAILING}'`)) === 'failed' && (await latest('backup', 'drill_age_days', `"device" = '${JOB_OK}'`)) !== undefined,
      20_000,
      200,
    );
    // Hashing and listing run behind the collection; a later collection carries their verdicts.
    await waitFor(
      'the agent\'s verdicts on every backup file',
      async () =>
        (await latest('backup_file', 'archive_ok', `"instance" = '${FILES_PRIMARY}'`)) === 1 &&
        (await latest('backup_file', 'newest_sha256', `"instance" = '${FILES_COPY}'`)) !== undefined &&
        (await latest('backup_file', 'status', `"instance" = '${FILES_BAD_SUM}'`)) === 'checksum_bad',
      60_000,
      500,
    );
    range = { from: Date.now() - HOUR_MS, to: Date.now() };
  }, 180_000);

  afterAll(async () => {
    await agent?.stop();
    await collector?.stop();
    web.close();
    web.closeAllConnections();
    tcp.close();
    await sim?.stop();
    await influx?.stop();
  });

  const dashboard = (lang: Lang, uid: string) => buildDashboards(lang).find((d) => d.uid === uid)!.json as never;

  /** A panel's query as Grafana sends it for the last hour: `$site` and the device variable set (a name, or `.*` for All). */
  function render(query: string, variable: string, device: string, site = ALL): string {
    const withRange = query.replaceAll('$__from', String(range.from)).replaceAll('$__to', String(range.to)).replaceAll(`$${variable}`, device);
    return renderQuery(withRange, { site, host: device, timeFilter: `time >= ${range.from}ms AND time <= ${range.to}ms`, interval: '1s' });
  }

  /** Runs the panel titled `title` (an i18n key, English dashboard), All selected. */
  const panel = async (uid: (typeof DASHBOARDS)[number]['uid'], title: TextKey): Promise<InfluxSeries[]> => {
    const { variable } = DASHBOARDS.find((d) => d.uid === uid)!;
    const found = extractPanelQueries(dashboard('en', uid)).find((q) => q.panel === t('en', title));
    if (!found) throw new Error(`${uid} has no panel "${t('en', title)}"`);
    return influx.query(DB, render(found.query, variable, ALL));
  };
  /** The rows of a table panel's series as objects: tags and columns. */
  const table = (series: InfluxSeries[]) => series.flatMap((s) => s.values.map((v) => ({ ...s.tags, ...Object.fromEntries(s.columns.map((c, i) => [c, v[i]])) }) as Record<string, unknown>));
  const only = (series: InfluxSeries[], where: Record<string, string>) => {
    const found = table(series).filter((row) => Object.entries(where).every(([k, v]) => row[k] === v));
    expect(found, JSON.stringify(where)).toHaveLength(1);
    return found[0]!;
  };

  it.each(LANGUAGES)('every panel and variable query returns series, for All and for the site, with a value in every column (%s)', async (lang) => {
    const empty: string[] = [];
    let count = 0;
    for (const { uid, variable } of DASHBOARDS) {
      for (const q of extractPanelQueries(dashboard(lang, uid))) {
        // A misspelt field among several still gives a series, but its column stays empty everywhere.
        const columns = new Map<string, boolean>();
        for (const site of [ALL, SITE]) {
          const rendered = render(q.query, variable, ALL, site);
          const series = await influx.query(DB, rendered).catch((error: Error) => {
            empty.push(`${q.dashboard} / ${q.panel}: ${error.message}`);
            return null;
          });
          if (series && series.length === 0) empty.push(`${q.dashboard} / ${q.panel} (site ${site}): no series for ${rendered}`);
          for (const s of series ?? []) s.columns.forEach((c, i) => columns.set(c, (columns.get(c) ?? false) || s.values.some((v) => v[i] !== null)));
          count++;
        }
        for (const [c, filled] of columns) if (!filled) empty.push(`${q.dashboard} / ${q.panel}: column ${c} is empty`);
      }
    }
    expect(empty).toEqual([]);
    // (9 uptime + 9 backup panels + 2 variables each) × 2 renderings.
    expect(count).toBe((9 + 2 + 9 + 2) * 2);
  });

  it('backups: the failed job shows Failed in red, the good one its size, run time, age and drill; the counts of jobs and files not OK', async () => {
    const jobs = await panel('backups', 'backupJobs');
    expect(only(jobs, { device: JOB_FAILING })).toMatchObject({ site: SITE, owner: 'systems', status: 'failed', age_s: null });
    const good = only(jobs, { device: JOB_OK });
    expect(good).toMatchObject({ status: 'ok', size_bytes: 2_000_000, duration_s: 55 });
    expect(Number(good.age_s)).toBeLessThan(300);
    expect(only(await panel('backups', 'drills'), { device: JOB_OK })).toMatchObject({ drill_age_days: 0, drill_overdue: 0, drill_failed: 0 });
    expect(only(await panel('backups', 'backupJobsNotOk'), {}).not_ok).toBe(1);
    expect(only(await panel('backups', 'backupFilesNotOk'), {}).not_ok).toBe(1);
    const history = (await panel('backups', 'backupHistory')).find((s) => s.tags?.device === JOB_FAILING)!;
    expect(history.values.map((v) => v[1]).filter((v) => v !== null)).toContain(0);

    // The status cell's colour and text come from the mapping: red "Başarısız" / "Failed".
    for (const [lang, text] of [['tr', 'Başarısız'], ['en', 'Failed']] as const) {
      const json = dashboard(lang, 'backups') as { panels: { title: string; fieldConfig: { overrides: { matcher: { options: string }; properties: { id: string; value: unknown }[] }[] } }[] };
      const statusColumn = json.panels.find((p) => p.title === t(lang, 'backupJobs'))!.fieldConfig.overrides.find((o) => o.matcher.options === 'status')!;
      expect(statusColumn.properties).toContainEqual({ id: 'custom.cellOptions', value: { type: 'color-background' } });
      const mapping = statusColumn.properties.find((p) => p.id === 'mappings')!.value as { options: Record<string, { text: string; color: string }> }[];
      expect(mapping[0]!.options.failed).toMatchObject({ text, color: 'red' });
      expect(mapping[0]!.options.ok).toMatchObject({ color: 'green' });
    }
  });

  it('backups: a malformed heartbeat is refused naming the field and leaves the job as it was', async () => {
    const token = String((await api(`/api/v1/backups/${JOB_OK}/tokens`)).token);
    const response = await fetch(`${collector.apiUrl}/hb/${token}?size=-1`);
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('size');
    expect(only(await panel('backups', 'backupJobs'), { device: JOB_OK })).toMatchObject({ status: 'ok', size_bytes: 2_000_000 });
  });

  it('backups: the agent\'s files — a readable archive near its usual size, a checksum mismatch, the off-site copy a day behind', async () => {
    const files = await panel('backups', 'backupFiles');
    const primary = only(files, { instance: FILES_PRIMARY });
    expect(primary).toMatchObject({ device: 'yedek-sunucu', status: 'ok', archive_ok: 1, newest_name: 'arsiv-03.tar.gz' });
    expect(Number(primary.size_ratio)).toBeGreaterThan(0.9);
    const bad = only(files, { instance: FILES_BAD_SUM });
    expect(bad).toMatchObject({ status: 'checksum_bad', checksum_ok: 0 });
    expect(String(bad.detail)).toContain('SHA-256');

    const offsite = await panel('backups', 'offsite');
    const [p, c] = [only(offsite, { instance: FILES_PRIMARY }), only(offsite, { instance: FILES_COPY })];
    expect([p.offsite_role, p.offsite_pair, c.offsite_role, c.offsite_pair]).toEqual(['primary', FILES_COPY, 'copy', FILES_PRIMARY]);
    expect([p.newest_name, c.newest_name]).toEqual(['arsiv-03.tar.gz', 'arsiv-02.tar.gz']);
    expect(p.newest_sha256).not.toBe(c.newest_sha256);
    // The lag the description tells how to read: the copy's age minus its primary's.
    expect(Math.abs(Number(c.age_s) - Number(p.age_s) - DAY_S)).toBeLessThanOrEqual(60);
  });

  it('uptime: the outage lasted as long as the web server was down, to the second; its availability is below 100 %, the open outage counts up to now', async () => {
    const outage = only(await panel('uptime', 'outageList'), { device: WEB });
    const transitions = await rows(`SELECT "online" FROM "device_state" WHERE "device" = '${WEB}' AND time >= ${range.from}ms`);
    const downAt = transitions.find((v) => v[1] === 0)![0] as number;
    const upAt = transitions.findLast((v) => v[1] === 1)![0] as number;
    expect(outage).toMatchObject({ kind: 'service', start_ms: downAt, end_ms: upAt, reason: 'unreachable: refused' });
    expect(Math.abs(Number(outage.duration_s) - (upAt - downAt) / 1000)).toBeLessThanOrEqual(0.5);
    // Polled every second: the outage starts and ends within a poll of the server going down and up.
    expect(Math.abs(Number(outage.duration_s) - (webDown.reopenedAt - webDown.closedAt) / 1000)).toBeLessThanOrEqual(1.5);

    const availability = await panel('uptime', 'availability');
    const webRow = only(availability, { device: WEB });
    expect(webRow).toMatchObject({ outages: 1, downtime_s: outage.duration_s });
    expect(Number(webRow.availability_pct)).toBeLessThan(100);
    expect(Number(webRow.availability_pct)).toBeCloseTo(100 - (Number(outage.duration_s) * 100) / 3600, 6);
    const opened = (await rows(`SELECT "start_ms" FROM "outages" WHERE "device" = '${DEAD}' AND "open" = 1`))[0]![1] as number;
    expect(Number(only(availability, { device: DEAD }).downtime_s)).toBeCloseTo((range.to - opened) / 1000, 3);
    // Never down: not listed (100 %).
    expect(table(availability).map((r) => r.device)).not.toContain(TCP);
  });

  it('uptime: state now per target and per site, the fiber cut, RTT and loss of the line', async () => {
    const targets = await panel('uptime', 'targetsNow');
    expect(only(targets, { device: DEAD })).toMatchObject({ online: 0, reason: 'unreachable: refused' });
    for (const device of [WEB, TCP, LINE]) expect(only(targets, { device }).online).toBe(1);
    const sites = await panel('uptime', 'sitesNow');
    expect(only(sites, { site: SITE, kind: 'service' })).toMatchObject({ up: 2, total: 3 });
    expect(Number(only(sites, { site: SITE, kind: 'service' }).up_pct)).toBeCloseTo(200 / 3, 6);
    expect(only(sites, { site: SITE, kind: 'link' })).toMatchObject({ up: 1, total: 1, up_pct: 100 });

    const fiber = await panel('uptime', 'fiberLinks');
    const cut = only(fiber, { iface: 'Te1/0/2' });
    expect(cut).toMatchObject({ device: SWITCH, link: 'itfaiye', oper_up: 0 });
    expect(Number(cut.availability_pct)).toBeLessThan(100);
    expect(Number(cut.availability_pct)).toBeGreaterThan(0);
    expect(only(fiber, { iface: 'Te1/0/1' })).toMatchObject({ oper_up: 1, availability_pct: 100 });

    const timeline = (await panel('uptime', 'outageTimeline')).find((s) => s.tags?.device === WEB)!;
    const states = timeline.values.map((v) => v[1]).filter((v) => v !== null);
    expect(states).toContain(0);
    expect(states.at(-1)).toBe(1);

    const rtt = (await panel('uptime', 'rtt')).find((s) => s.tags?.device === LINE)!;
    const last = rtt.values.filter((v) => v[1] !== null).at(-1)!;
    // Loopback answers in well under a millisecond or two.
    expect(Number(last[rtt.columns.indexOf('rtt')])).toBeLessThan(50);
    const loss = (await panel('uptime', 'loss')).find((s) => s.tags?.device === LINE)!;
    expect(new Set(loss.values.map((v) => v[1]).filter((v) => v !== null))).toEqual(new Set([0]));
    // Only services have a response time there: the line's ping RTT has its own panel.
    expect((await panel('uptime', 'responseTime')).map((s) => s.tags?.device).sort()).toEqual([TCP, WEB].sort());
  });
});
