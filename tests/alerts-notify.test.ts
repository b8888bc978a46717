import { chmodSync, writeFileSync } from 'node:fs';
import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { StoredAlert } from '../collector/alerts/alert-store.ts';
import { startAgentProcess } from './helpers/agent-process.ts';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';
import { connectClient, publish } from './helpers/mqtt-client.ts';
import { startInfluxDB, tempDir, waitFor, type InfluxServer } from './helpers/servers.ts';
import { startFakeNetgsm, type FakeGateway, type NetgsmDelivery } from './helpers/sms-gateways.ts';
import { startSmtpServer, type SmtpTestServer } from './helpers/smtp-server.ts';
import { startSnmpsim, type SnmpsimServer } from './helpers/snmp-servers.ts';

// Alerts all the way to people: the real collector with a notification file, a real SMTP
// server receiving the mails, a stand-in for Netgsm's documented SMS API (the real one cannot
// be reached from here), a UPS in snmpsim, a real agent killed, 500 devices of one site behind
// an uplink.

const NETGSM = { username: '8503051234', password: 'netgsm-parola-77', headers: ['BELEDIYE'] };

describe('alert notifications by e-mail and SMS', () => {
  let influx: InfluxServer;
  let sim: SnmpsimServer;
  let smtp: SmtpTestServer;
  let netgsm: FakeGateway<NetgsmDelivery, { code: string; status?: number }>;
  let silent: Socket;
  let collector: CollectorProcess;
  let config: Record<string, unknown>;
  let dir: string;
  const clients: MqttClient[] = [];
  const mailsTo = (address: string) => smtp.received.filter((m) => m.envelope.to.includes(address));
  const smsTo = (number: string) => netgsm.delivered.filter((d) => d.no === number);
  const api = async <T>(path: string, init?: RequestInit): Promise<T> => (await (await fetch(`${collector.apiUrl}${path}`, init)).json()) as T;
  const alertsOf = async (rule: string) => (await api<{ alerts: StoredAlert[] }>('/api/v1/alerts?limit=1000')).alerts.filter((a) => a.rule === rule);
  const devices = (uplinkAddress: string) => ({
    devices: [
      { site: 'kultur-merkezi', id: 'ups-giris', address: sim.address, profile: 'ups-mib', credential: 'ups', intervalS: 1 },
      { site: 'bakim-evi', id: 'ups-bakim', address: sim.address, profile: 'ups-mib', credential: 'ups-bakim', intervalS: 1 },
      { site: 'merkez', id: 'sw-ilce-uplink', address: uplinkAddress, profile: 'ups-mib', credential: 'uplink', intervalS: 1, timeoutMs: 300, retries: 0 },
    ],
  });

  beforeAll(async () => {
    influx = await startInfluxDB();
    sim = await startSnmpsim({ ups: 'ups-mib-online.snmprec', 'ups-bakim': 'ups-mib-online.snmprec', uplink: 'ups-mib-online.snmprec' });
    smtp = await startSmtpServer();
    netgsm = await startFakeNetgsm(NETGSM);
    silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
    dir = tempDir('notify');
    writeFileSync(join(dir, 'devices.yaml'), stringify(devices(sim.address)));
    writeFileSync(join(dir, 'secrets.yaml'), stringify({ ups: { snmp: { version: '2c', community: 'ups' } }, 'ups-bakim': { snmp: { version: '2c', community: 'ups-bakim' } }, uplink: { snmp: { version: '2c', community: 'uplink' } } }));
    chmodSync(join(dir, 'secrets.yaml'), 0o600);
    // Faster than the defaults, so the test runs in seconds: no for-durations, short waits.
    writeFileSync(join(dir, 'rules.yaml'), stringify({ rules: [{ id: 'device_unreachable', type: 'state', severity: 'critical', category: 'network', match: { measurement: 'device_state', field: 'online', kinds: ['switch', 'ups'] }, in: [0], message: { tr: '{{site}} / {{device}} cihazına ulaşılamıyor', en: '{{site}} / {{device}} is unreachable' } }] }));
    writeFileSync(
      join(dir, 'notify.yaml'),
      stringify({
        publicUrl: 'http://izleme.belediye.local:8080',
        channels: {
          eposta: { type: 'email', host: '127.0.0.1', port: smtp.port, security: 'none', from: 'Belediye İzleme <izleme@belediye.gov.tr>', timeoutMs: 2000 },
          sms: { type: 'sms-netgsm', username: NETGSM.username, password: '${NETGSM_PASSWORD}', sender: 'BELEDIYE', url: `${netgsm.url}/sms/rest/v2/send`, timeoutMs: 2000 },
        },
        outbox: { retry: { initialMs: 200, maxMs: 1000 }, health: { failures: 3, failingMs: 60_000 } },
        contacts: [
          { id: 'ahmet', name: 'Ahmet Yılmaz', email: 'ahmet@belediye.gov.tr', phone: '0532 111 22 33', language: 'tr' },
          { id: 'mehmet', name: 'Mehmet Kaya', email: 'mehmet@belediye.gov.tr', phone: '+90 532 444 55 66', language: 'tr' },
          { id: 'ayse', name: 'Ayşe Demir', email: 'ayse@belediye.gov.tr', phone: '0533 777 88 99', language: 'en' },
        ],
        teams: [
          { id: 'donanim', name: 'Donanım', members: ['ahmet'], manager: 'mehmet', onDuty: { rotation: 'weekly', handoff: '2026-01-05T08:30', order: ['ahmet'] } },
          { id: 'sistem', name: 'Sistem', members: ['ayse'], manager: 'mehmet', onDuty: { rotation: 'weekly', handoff: '2026-01-05T08:30', order: ['ayse'] } },
        ],
        routes: [
          { match: { categories: ['power'] }, team: 'donanim', offHours: { channels: ['eposta', 'sms'], to: 'onDuty' }, groupWait: '1s', repeat: '0', escalate: { after: '6s', to: 'manager', channels: ['sms'] } },
          { team: 'sistem', offHours: { channels: ['eposta', 'sms'], to: 'onDuty' }, groupWait: '2s', repeat: '0' },
        ],
        maintenance: [{ id: 'bakim-calismasi', sites: ['bakim-evi'], from: '2026-01-01T00:00', to: '2030-01-01T00:00', reason: 'elektrik panosu yenileniyor' }],
        dependencies: [{ site: 'ilce', upstream: ['merkez/sw-ilce-uplink'] }],
      }),
    );
    process.env.NETGSM_PASSWORD = NETGSM.password;
    config = {
      storage: { type: 'influx-v1', url: influx.url },
      queue: { flushIntervalMs: 200 },
      registry: { heartbeatTimeoutS: 2 },
      devices: { file: join(dir, 'devices.yaml'), secretsFile: join(dir, 'secrets.yaml') },
      alerts: { rulesFile: join(dir, 'rules.yaml'), notifyFile: join(dir, 'notify.yaml') },
    };
    collector = await startCollectorProcess(config);
  });
  afterAll(async () => {
    for (const c of clients) c.end(true);
    await collector?.stop();
    silent?.close();
    await netgsm?.close();
    await smtp?.stop();
    await sim?.stop();
    await influx?.stop();
  });

  it('a UPS on battery: mail and SMS in Turkish to the on-duty technician, escalated to the manager by SMS, which survives a collector restart', async () => {
    sim.serve('ups', 'ups-mib-on-battery.snmprec');
    await waitFor('mail to ahmet', async () => mailsTo('ahmet@belediye.gov.tr').length > 0, 20_000);
    const mail = mailsTo('ahmet@belediye.gov.tr')[0]!.mail;
    expect(mail.subject).toBe('[KRİTİK] kultur-merkezi / ups-giris: şebeke elektriği kesildi, UPS aküden besliyor');
    expect(mail.text).toMatch(/Üstlen: http:\/\/izleme\.belediye\.local:8080\/ack\/[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}/);
    await waitFor('SMS to ahmet', async () => smsTo('5321112233').length > 0, 10_000);
    expect(smsTo('5321112233')[0]!.msg).toContain('şebeke elektriği kesildi');
    // Killed before the escalation is due; the restarted collector still escalates, and does not page ahmet twice.
    await collector.stop('SIGKILL');
    collector = await startCollectorProcess(config, collector);
    await waitFor('escalation SMS to mehmet', async () => smsTo('5324445566').length > 0, 20_000);
    expect(smsTo('5324445566')[0]!.msg).toMatch(/^YÜKSELTİLDİ: /);
    expect(mailsTo('ahmet@belediye.gov.tr')).toHaveLength(1);
    expect(smsTo('5321112233')).toHaveLength(1);
  });

  it('back on mains: a resolved notice; the same kind of fault in a maintenance window is recorded but not sent', async () => {
    sim.serve('ups', 'ups-mib-online.snmprec');
    await waitFor('resolved mail', async () => mailsTo('ahmet@belediye.gov.tr').some((m) => m.mail.subject?.startsWith('[ÇÖZÜLDÜ]')), 20_000);
    sim.serve('ups-bakim', 'ups-mib-on-battery.snmprec');
    await waitFor('maintenance alert recorded', async () => (await alertsOf('ups_on_battery')).some((a) => a.labels.site === 'bakim-evi' && a.state === 'firing'), 20_000);
    await new Promise((r) => setTimeout(r, 3_000));
    const [bakim] = (await alertsOf('ups_on_battery')).filter((a) => a.labels.site === 'bakim-evi');
    expect(bakim!.suppressed).toBe('maintenance:bakim-calismasi');
    expect(smtp.received.some((m) => m.mail.subject?.includes('bakim-evi'))).toBe(false);
  });

  it('the acknowledge link acknowledges only with its button (POST), and a forged link is refused', async () => {
    sim.serve('ups', 'ups-mib-on-battery.snmprec');
    await waitFor('second on-battery mail', async () => mailsTo('ahmet@belediye.gov.tr').filter((m) => m.mail.subject?.startsWith('[KRİTİK]')).length >= 2, 20_000);
    const text = mailsTo('ahmet@belediye.gov.tr').filter((m) => m.mail.subject?.startsWith('[KRİTİK]')).at(-1)!.mail.text!;
    const path = /\/ack\/[A-Za-z0-9_.-]+/.exec(text)![0];
    const page = await fetch(`${collector.apiUrl}${path}`);
    expect(await page.text()).toContain('Üstleniyorum');
    const id = path.split('/')[2]!.split('.')[0]!;
    expect((await api<StoredAlert>(`/api/v1/alerts/${id}`)).ackAt).toBeNull();
    expect((await fetch(`${collector.apiUrl}/ack/${id}.AAAAAAAAAAAAAAAAAAAAAA`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${collector.apiUrl}${path}`, { method: 'POST' })).status).toBe(200);
    expect(await api<StoredAlert>(`/api/v1/alerts/${id}`)).toMatchObject({ ackBy: 'mail-link' });
    sim.serve('ups', 'ups-mib-online.snmprec');
  });

  it('a site behind a failed uplink: its 500 devices going offline are counted in the uplink alert, not paged one by one', async () => {
    const before = smtp.received.length;
    // The uplink stops answering; then the site's devices fall silent (heartbeat timeout after 3 s).
    writeFileSync(join(dir, 'devices.yaml'), stringify(devices(`127.0.0.1:${silent.address().port}`)));
    await waitFor('uplink unreachable alert', async () => (await alertsOf('device_unreachable')).some((a) => a.labels.device === 'sw-ilce-uplink' && a.state === 'firing'), 20_000);
    // 500 devices connect (50 at a time) and say they are online; then they fall silent.
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(
        Array.from({ length: 50 }, async (_, j) => {
          const device = `pc-${String(batch * 50 + j).padStart(3, '0')}`;
          const client = await connectClient(collector.mqttUrl!, { clientId: `ilce/${device}` });
          await publish(client, `muni/v1/ilce/${device}/state`, { v: 1, ts: Date.now(), state: 'online', kind: 'server', intervalS: 1 }, { retain: true });
          clients.push(client);
        }),
      );
    }
    for (const c of clients) c.end(true);
    await waitFor('500 consequences recorded', async () => (await alertsOf('server_offline')).filter((a) => a.labels.site === 'ilce' && a.consequenceOf !== null).length === 500, 60_000);
    await new Promise((r) => setTimeout(r, 4_000));
    const newMails = smtp.received.slice(before);
    expect(newMails.filter((m) => m.mail.subject?.includes('ilce /'))).toEqual([]);
    expect(newMails.filter((m) => m.mail.subject?.includes('sw-ilce-uplink'))).toHaveLength(1);
  });

  it('a server agent killed with SIGKILL: mail and SMS to the systems team, in English for an English-speaking contact', async () => {
    const agent = startAgentProcess({ site: 'merkez', device: 'srv-dosya', kind: 'server', mqttUrl: collector.mqttUrl! });
    await waitFor('srv-dosya online', async () => (await api<{ devices: { device: string; online: boolean }[] }>('/api/v1/devices?site=merkez')).devices.some((d) => d.device === 'srv-dosya' && d.online), 30_000);
    await agent.stop('SIGKILL');
    await waitFor('mail to ayse', async () => mailsTo('ayse@belediye.gov.tr').some((m) => m.mail.subject?.includes('srv-dosya')), 20_000);
    expect(mailsTo('ayse@belediye.gov.tr').find((m) => m.mail.subject?.includes('srv-dosya'))!.mail.subject).toBe('[CRITICAL] No data from server merkez / srv-dosya (agent offline: lwt)');
    await waitFor('SMS to ayse', async () => smsTo('5337778899').some((d) => d.msg.includes('srv-dosya')), 10_000);
    expect(mailsTo('ahmet@belediye.gov.tr').some((m) => m.mail.subject?.includes('srv-dosya'))).toBe(false);
  });

  it('SMTP down: the mail waits and is retried; the SMS says the mail channel fails; the mail arrives once SMTP is back', async () => {
    await smtp.stop();
    const before = smsTo('5337778899').length;
    sim.serve('ups', 'ups-mib-on-battery.snmprec');
    await waitFor('channel failing SMS to the systems team', async () => smsTo('5337778899').slice(before).some((d) => d.msg.includes('eposta')), 30_000);
    await smtp.start();
    await waitFor('the held-up mail delivered', async () => mailsTo('ahmet@belediye.gov.tr').filter((m) => m.mail.subject?.startsWith('[KRİTİK]')).length >= 3, 30_000);
    expect(collector.process.output()).not.toContain(NETGSM.password);
  });
});
