import { execFile } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { MaintenanceEntry, Silence, StoredAlert } from '../collector/alerts/alert-store.ts';
import type { AuditEntry } from '../collector/security/store.ts';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';
import { startInfluxDB, tempDir, waitFor, type InfluxServer } from './helpers/servers.ts';
import { startSmtpServer, type SmtpTestServer } from './helpers/smtp-server.ts';
import { startSnmpsim, type SnmpsimServer } from './helpers/snmp-servers.ts';

// Working with alerts over the API and the admin CLI against the real collector process (API
// tokens on), a real SMTP server receiving the notification mails, and two UPSes in snmpsim that
// go on battery: maintenance windows and silences, made over the API or by the CLI on the
// alert store while the collector runs, keep the alerts they cover from being mailed, and the
// alerts are still recorded with the reason. The CLI is run as an administrator runs it, with
// the collector's own configuration file.

const run = promisify(execFile);
const CLI_ACTOR = `cli:${userInfo().username}`;
const MAIL = 'nobet@belediye.gov.tr';
const MINUTE = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

interface CliResult {
  code: number;
  out: unknown;
  err: string;
}

describe('alerts, silences and maintenance windows over the API and the admin CLI', () => {
  let influx: InfluxServer;
  let sim: SnmpsimServer;
  let smtp: SmtpTestServer;
  let collector: CollectorProcess;
  let operator: string;
  let reader: string;

  const cli = async (...args: string[]): Promise<CliResult> => {
    try {
      const { stdout } = await run(process.execPath, ['--disable-warning=ExperimentalWarning', 'collector/admin.ts', '--config', join(collector.dir, 'collector.yaml'), ...args], { encoding: 'utf8' });
      return { code: 0, out: JSON.parse(stdout), err: '' };
    } catch (error) {
      const failed = error as { code?: number; stderr?: string };
      return { code: failed.code ?? -1, out: undefined, err: failed.stderr ?? String(error) };
    }
  };
  const cliOk = async <T>(...args: string[]): Promise<T> => {
    const result = await cli(...args);
    expect(result, `admin ${args.join(' ')}`).toMatchObject({ code: 0 });
    return result.out as T;
  };
  const api = async (method: string, path: string, token: string | undefined, body?: unknown) => {
    const response = await fetch(`${collector.apiUrl}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  };
  const upsAlerts = async (site: string) => ((await api('GET', `/api/v1/alerts?site=${site}&limit=1000`, reader)).body.alerts as StoredAlert[]).filter((a) => a.rule === 'ups_on_battery');
  const firing = async (site: string) => (await upsAlerts(site)).find((a) => a.state === 'firing');
  // Critical: the UPS on battery. (Swapping a recording also turns the UPS's uptime back, a warning of its own.)
  const mailsAbout = (site: string) => smtp.received.filter((m) => m.envelope.to.includes(MAIL) && m.mail.subject?.startsWith(`[KRİTİK] ${site} /`));
  /** Longer than the route's groupWait: a notification that was going to be sent has been. */
  const afterGroupWait = () => new Promise((r) => setTimeout(r, 3_000));
  const audit = async () => cliOk<AuditEntry[]>('audit', '--limit', '1000');

  beforeAll(async () => {
    influx = await startInfluxDB();
    sim = await startSnmpsim({ kultur: 'ups-mib-online.snmprec', spor: 'ups-mib-online.snmprec' });
    smtp = await startSmtpServer();
    const dir = tempDir('alerts-admin');
    writeFileSync(
      join(dir, 'devices.yaml'),
      stringify({
        devices: [
          { site: 'kultur-merkezi', id: 'ups-giris', address: sim.address, profile: 'ups-mib', credential: 'kultur', intervalS: 1 },
          { site: 'spor-salonu', id: 'ups-salon', address: sim.address, profile: 'ups-mib', credential: 'spor', intervalS: 1 },
        ],
      }),
    );
    writeFileSync(join(dir, 'secrets.yaml'), stringify({ kultur: { snmp: { version: '2c', community: 'kultur' } }, spor: { snmp: { version: '2c', community: 'spor' } } }));
    chmodSync(join(dir, 'secrets.yaml'), 0o600);
    writeFileSync(
      join(dir, 'notify.yaml'),
      stringify({
        channels: { eposta: { type: 'email', host: '127.0.0.1', port: smtp.port, security: 'none', from: 'Belediye İzleme <izleme@belediye.gov.tr>', timeoutMs: 2000 } },
        contacts: [{ id: 'nobetci', name: 'Nöbetçi Teknisyen', email: MAIL, language: 'tr' }],
        teams: [{ id: 'noc', name: 'NOC', members: ['nobetci'] }],
        routes: [{ team: 'noc', offHours: { channels: ['eposta'], to: 'team' }, groupWait: '1s', repeat: '0' }],
      }),
    );
    collector = await startCollectorProcess({
      storage: { type: 'influx-v1', url: influx.url },
      queue: { flushIntervalMs: 200 },
      security: { apiAuth: 'tokens' },
      devices: { file: join(dir, 'devices.yaml'), secretsFile: join(dir, 'secrets.yaml') },
      alerts: { notifyFile: join(dir, 'notify.yaml') },
    });
    operator = (await cliOk<{ token: string }>('api-token', 'create', '--name', 'noc-operator', '--role', 'operator')).token;
    reader = (await cliOk<{ token: string }>('api-token', 'create', '--name', 'noc-ekran', '--role', 'read')).token;
  });
  afterAll(async () => {
    await collector?.stop();
    await smtp?.stop();
    await sim?.stop();
    await influx?.stop();
  });

  it('a maintenance window made over the API: the UPS on battery in it is recorded as suppressed and not mailed; the same fault outside it is mailed', async () => {
    const now = Date.now();
    const body = { sites: ['spor-salonu'], from: iso(now - MINUTE), to: iso(now + 60 * MINUTE), reason: 'jeneratör yük testi' };
    expect((await api('POST', '/api/v1/maintenance', undefined, body)).status).toBe(401);
    expect(await api('POST', '/api/v1/maintenance', reader, body)).toMatchObject({ status: 403, body: { error: 'role read may not do this (needs operator)' } });
    const created = await api('POST', '/api/v1/maintenance', operator, body);
    expect(created).toMatchObject({ status: 201, body: { sites: ['spor-salonu'], devices: [], from: now - MINUTE, to: now + 60 * MINUTE, reason: 'jeneratör yük testi', createdBy: 'api:noc-operator' } });
    const window = created.body as unknown as MaintenanceEntry;
    expect(window.id).toMatch(/^mnt_[0-9a-f]{12}$/);
    expect((await api('GET', '/api/v1/maintenance', reader)).body.maintenance).toEqual([window]);

    sim.serve('spor', 'ups-mib-on-battery.snmprec');
    sim.serve('kultur', 'ups-mib-on-battery.snmprec');
    await waitFor('the mail about the UPS outside the window', async () => mailsAbout('kultur-merkezi').length === 1, 20_000);
    await waitFor('the UPS in the window recorded as suppressed', async () => (await firing('spor-salonu'))?.suppressed === `maintenance:${window.id}`, 20_000);
    await afterGroupWait();
    expect(mailsAbout('spor-salonu')).toEqual([]);
    expect(mailsAbout('kultur-merkezi')).toHaveLength(1);
    expect((await audit()).find((e) => e.action === 'maintenance.create')).toMatchObject({ actor: 'api:noc-operator', target: window.id, detail: { sites: ['spor-salonu'], reason: 'jeneratör yük testi' } });

    expect((await api('DELETE', `/api/v1/maintenance/${window.id}`, reader)).status).toBe(403);
    expect((await api('DELETE', `/api/v1/maintenance/${window.id}`, operator)).status).toBe(204);
    expect(await api('DELETE', `/api/v1/maintenance/${window.id}`, operator)).toMatchObject({ status: 404, body: { error: `no maintenance window ${window.id}` } });
    expect((await api('GET', '/api/v1/maintenance', reader)).body.maintenance).toEqual([]);
    expect((await audit()).find((e) => e.action === 'maintenance.remove')).toMatchObject({ actor: 'api:noc-operator', target: window.id });
  });

  it('the CLI lists and acknowledges alerts (the running collector sees the acknowledgement); a resolved alert cannot be acknowledged', async () => {
    const listed = await cliOk<StoredAlert[]>('alerts', 'list', '--state', 'firing', '--site', 'kultur-merkezi');
    expect(listed.map((a) => [a.rule, a.labels.device])).toEqual([['ups_on_battery', 'ups-giris']]);
    expect(await cliOk<StoredAlert[]>('alerts', 'list', '--limit', '1')).toHaveLength(1);
    const id = listed[0]!.id;

    const acked = await cliOk<StoredAlert>('alerts', 'ack', id, '--comment', 'jeneratör çalıştırıldı');
    expect(acked).toMatchObject({ id, ackBy: CLI_ACTOR });
    expect((await api('GET', `/api/v1/alerts/${id}`, reader)).body).toMatchObject({ ackBy: CLI_ACTOR, history: expect.arrayContaining([expect.objectContaining({ transition: 'acknowledged', detail: CLI_ACTOR })]) });
    expect((await audit()).find((e) => e.action === 'alert.acknowledge')).toMatchObject({ actor: CLI_ACTOR, target: id, detail: { comment: 'jeneratör çalıştırıldı' } });

    sim.serve('kultur', 'ups-mib-online.snmprec');
    await waitFor('the alert resolved', async () => (await upsAlerts('kultur-merkezi')).find((a) => a.id === id)?.state === 'resolved', 20_000);
    expect(await cli('alerts', 'ack', id)).toMatchObject({ code: 1, err: `alert ${id} is resolved: nothing to acknowledge\n` });
  });

  it('a silence and a maintenance window made by the CLI while the collector runs count for the next alert that fires; once removed, the fault is mailed again', async () => {
    sim.serve('spor', 'ups-mib-online.snmprec');
    await waitFor('the UPS in the former window back on mains', async () => (await firing('spor-salonu')) === undefined, 20_000);
    const mailed = mailsAbout('kultur-merkezi').length;
    const silence = await cliOk<Silence>('silence', 'add', '--site', 'kultur-merkezi', '--rule', 'ups_on_battery', '--minutes', '30', '--comment', 'akü grubu değişiyor');
    expect(silence).toMatchObject({ matchers: { site: 'kultur-merkezi', rule: 'ups_on_battery' }, createdBy: CLI_ACTOR, comment: 'akü grubu değişiyor' });
    expect(silence.endsAt - silence.startsAt).toBe(30 * MINUTE);
    const now = Date.now();
    const window = await cliOk<MaintenanceEntry>('maintenance', 'add', '--site', 'spor-salonu', '--device', 'ups-salon', '--from', iso(now - MINUTE), '--to', iso(now + 120 * MINUTE), '--reason', 'pano bakımı');
    expect(window).toMatchObject({ sites: [], devices: ['spor-salonu/ups-salon'], from: now - MINUTE, to: now + 120 * MINUTE, createdBy: CLI_ACTOR });
    expect(await cliOk<Silence[]>('silence', 'list')).toEqual([silence]);
    expect(await cliOk<MaintenanceEntry[]>('maintenance', 'list')).toEqual([window]);
    expect((await api('GET', '/api/v1/silences', reader)).body.silences).toEqual([silence]);
    expect((await api('GET', '/api/v1/maintenance', reader)).body.maintenance).toEqual([window]);

    sim.serve('kultur', 'ups-mib-on-battery.snmprec');
    sim.serve('spor', 'ups-mib-on-battery.snmprec');
    await waitFor('the silenced alert recorded', async () => (await firing('kultur-merkezi'))?.suppressed === `silence:${silence.id}`, 20_000);
    await waitFor('the alert in the CLI window recorded', async () => (await firing('spor-salonu'))?.suppressed === `maintenance:${window.id}`, 20_000);
    await afterGroupWait();
    expect(mailsAbout('kultur-merkezi')).toHaveLength(mailed);
    expect(mailsAbout('spor-salonu')).toEqual([]);

    expect(await cliOk('silence', 'remove', silence.id)).toEqual({ removed: silence.id });
    expect(await cli('silence', 'remove', silence.id)).toMatchObject({ code: 1, err: `no silence ${silence.id}\n` });
    expect(await cliOk('maintenance', 'remove', window.id)).toEqual({ removed: window.id });
    expect(await cli('maintenance', 'remove', window.id)).toMatchObject({ code: 1, err: `no maintenance window ${window.id}\n` });
    const entries = (await audit()).filter((e) => e.actor === CLI_ACTOR).map((e) => `${e.action} ${e.target}`);
    expect(entries).toEqual(expect.arrayContaining([`silence.create ${silence.id}`, `silence.remove ${silence.id}`, `maintenance.create ${window.id}`, `maintenance.remove ${window.id}`]));

    // Without the silence the next episode of the same fault is mailed again; a window that opens later does not count yet.
    const later = await cliOk<MaintenanceEntry>('maintenance', 'add', '--site', 'kultur-merkezi', '--from', iso(Date.now() + 60 * MINUTE), '--to', iso(Date.now() + 90 * MINUTE), '--reason', 'yarınki bakım');
    sim.serve('kultur', 'ups-mib-online.snmprec');
    await waitFor('back on mains', async () => (await firing('kultur-merkezi')) === undefined, 20_000);
    sim.serve('kultur', 'ups-mib-on-battery.snmprec');
    await waitFor('the fault mailed again', async () => mailsAbout('kultur-merkezi').length === mailed + 1, 20_000);
    expect((await firing('kultur-merkezi'))?.suppressed).toBeNull();
    expect(await cliOk('maintenance', 'remove', later.id)).toEqual({ removed: later.id });
  });

  it('API: a bad maintenance window gets 400 naming the field, an unknown id 404; nothing is stored', async () => {
    const now = Date.now();
    const good = { sites: ['spor-salonu'], from: iso(now), to: iso(now + 60 * MINUTE), reason: 'bakım' };
    const refused = async (body: unknown, field: string, message: RegExp) => {
      const answer = await api('POST', '/api/v1/maintenance', operator, body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.error).toMatch(new RegExp(`^invalid body field ${field.replace(/[[\]]/g, '\\$&')}: `));
      expect(answer.body.error).toMatch(message);
    };
    await refused({ ...good, to: iso(now - MINUTE) }, 'to', /must be after from/);
    await refused({ ...good, sites: undefined }, 'sites', /at least one site or device/);
    await refused({ ...good, sites: [] }, 'sites', /at least one site or device/);
    await refused({ ...good, to: iso(now + 31 * 24 * 60 * MINUTE) }, 'to', /at most 30 days/);
    await refused({ ...good, from: iso(now - 120 * MINUTE), to: iso(now - 60 * MINUTE) }, 'to', /in the past/);
    await refused({ ...good, reason: undefined }, 'reason', /required/);
    await refused({ ...good, reason: '   ' }, 'reason', /say why/);
    await refused({ ...good, from: '2026-03-01T22:00' }, 'from', /with its UTC offset/);
    await refused({ ...good, from: 1772391600000 }, 'from', /with its UTC offset/);
    await refused({ ...good, devices: ['spor-salonu'] }, 'devices[0]', /site\/device/);
    await refused({ ...good, sites: ["x'; DROP TABLE maintenance; --"] }, 'sites[0]', /expected an id/);
    await refused({ ...good, everything: true }, '', /everything/);
    expect((await api('POST', '/api/v1/maintenance', operator, '{"sites": [')).status).toBe(400);
    expect(await api('DELETE', '/api/v1/maintenance/mnt_000000000000', operator)).toMatchObject({ status: 404, body: { error: 'no maintenance window mnt_000000000000' } });
    expect(await api('DELETE', '/api/v1/maintenance/..%2Fsil_1', operator)).toMatchObject({ status: 400, body: { error: expect.stringContaining('invalid path parameter id') } });
    expect((await api('GET', '/api/v1/maintenance', reader)).body.maintenance).toEqual([]);
    expect((await fetch(`${collector.apiUrl}/readyz`)).ok).toBe(true);
  });

  it('CLI: bad input gets an error naming the flag and exit code 2, an unknown id exit code 1; nothing is stored', async () => {
    const now = Date.now();
    const window = (...flags: string[]) => cli('maintenance', 'add', ...flags);
    const times = ['--from', iso(now), '--to', iso(now + 60 * MINUTE)];
    expect(await window('--site', 'spor-salonu', '--from', iso(now), '--to', iso(now - MINUTE), '--reason', 'x')).toMatchObject({ code: 2, err: expect.stringMatching(/^--to: must be after from\n/) });
    expect(await window(...times, '--reason', 'x')).toMatchObject({ code: 2, err: expect.stringMatching(/^--site: name at least one site or device/) });
    expect(await window('--device', 'ups-salon', ...times, '--reason', 'x')).toMatchObject({ code: 2, err: expect.stringMatching(/^--site: required with --device/) });
    expect(await window('--site', 'spor-salonu', '--from', iso(now), '--to', iso(now + 31 * 24 * 60 * MINUTE), '--reason', 'x')).toMatchObject({ code: 2, err: expect.stringMatching(/^--to: a window lasts at most 30 days/) });
    expect(await window('--site', 'spor-salonu', ...times)).toMatchObject({ code: 2, err: expect.stringMatching(/^--reason: required/) });
    expect(await window('--site', 'spor-salonu', '--from', 'yarın', '--to', iso(now + MINUTE), '--reason', 'x')).toMatchObject({ code: 2, err: expect.stringMatching(/^--from: expected a date and time with its UTC offset/) });
    expect(await window('--site', 'Spor Salonu', ...times, '--reason', 'x')).toMatchObject({ code: 2, err: expect.stringMatching(/^--site: expected an id/) });
    expect(await cli('maintenance', 'remove', 'mnt_000000000000')).toMatchObject({ code: 1, err: 'no maintenance window mnt_000000000000\n' });
    expect(await cli('maintenance', 'remove', "mnt_1' OR 1=1")).toMatchObject({ code: 2, err: expect.stringMatching(/^<id>: expected a maintenance window id/) });
    expect(await cli('silence', 'add', '--site', 'spor-salonu', '--minutes', 'yarım saat', '--comment', 'x')).toMatchObject({ code: 2, err: expect.stringMatching(/^--minutes: /) });
    expect(await cli('silence', 'add', '--site', 'spor-salonu', '--minutes', '30')).toMatchObject({ code: 2, err: expect.stringMatching(/^--comment: /) });
    expect(await cli('silence', 'add', '--minutes', '30', '--comment', 'x')).toMatchObject({ code: 2, err: expect.stringMatching(/^--site: required/) });
    expect(await cli('silence', 'remove', 'sil_000000000000')).toMatchObject({ code: 1, err: 'no silence sil_000000000000\n' });
    expect(await cli('alerts', 'ack', 'AAAAAAAAAAAAAAAA')).toMatchObject({ code: 1, err: 'no alert AAAAAAAAAAAAAAAA\n' });
    expect(await cli('alerts', 'ack')).toMatchObject({ code: 2, err: expect.stringMatching(/^<id>: /) });
    expect(await cli('alerts', 'list', '--state', 'yanıyor')).toMatchObject({ code: 2, err: expect.stringMatching(/^--state: /) });
    expect(await cli('maintenance', 'extend')).toMatchObject({ code: 2, err: expect.stringMatching(/^unknown command "maintenance extend"/) });
    expect(await cliOk('maintenance', 'list')).toEqual([]);
    expect(await cliOk('silence', 'list')).toEqual([]);
  });
});
