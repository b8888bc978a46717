import { execFileSync } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { promises as dns } from 'node:dns';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RuleEngine } from '../collector/alerts/engine.ts';
import { parseRules } from '../collector/alerts/rules-loader.ts';
import { planDevices } from '../collector/devices/device-plan.ts';
import { DeviceUnreachableError, type DeviceDriver, type DeviceSession, type PollOutcome } from '../collector/devices/driver.ts';
import { DRIVERS } from '../collector/devices/drivers/index.ts';
import { probeDnsDriver } from '../collector/devices/drivers/probe-dns.ts';
import { probeHttpDriver } from '../collector/devices/drivers/probe-http.ts';
import { fping, FpingBatcher, parseFpingCounts, pingFields, probeIcmpDriver } from '../collector/devices/drivers/probe-icmp.ts';
import { probeLdapDriver } from '../collector/devices/drivers/probe-ldap.ts';
import { probeSmtpDriver } from '../collector/devices/drivers/probe-smtp.ts';
import { probeTcpDriver } from '../collector/devices/drivers/probe-tcp.ts';
import { probeTlsDriver } from '../collector/devices/drivers/probe-tls.ts';
import { deviceEntrySchema, devicesFileSchema } from '../collector/devices/inventory.ts';
import { DevicePoller } from '../collector/devices/poller.ts';
import { loadProfiles } from '../collector/devices/profile-loader.ts';
import { metricsToPoints, stateToPoint } from '../collector/ingest/map-points.ts';
import { metricSchema, type DeviceMessage } from '../src/contract/schemas.ts';
import type { DeviceAddress } from '../src/contract/topics.ts';
import { createLogger } from '../src/log.ts';
import { startSmtpServer, type SmtpTestServer } from './helpers/smtp-server.ts';
import { freePort, startProcess, tempDir, waitFor, type ManagedProcess } from './helpers/servers.ts';
import { createLines, removeLines, sh, type Line } from './helpers/netns.ts';

// Uptime probes against real peers: HTTP(S) and TLS servers on loopback, dnsmasq, the
// smtp-server package, fping to loopback and to two network namespaces standing for two
// internet lines (veth pairs; loss by an iptables statistic rule inside a namespace), and the
// real DevicePoller. Needs root (namespaces, iptables), as CI has.

const PROFILES = loadProfiles();
const MIN = 60_000;

/** The alert rules proposed for the probes (the lead adds them to default-rules.yaml); checked here on the real rule engine. */
const PROPOSED_RULES = `
rules:
  - id: service_down
    type: state
    severity: critical
    category: systems
    match: { measurement: device_state, field: reason, kinds: [service] }
    in: ["unreachable: timeout", "unreachable: refused", "unreachable: error"]
    for: 1m
    message:
      tr: "{{site}} / {{device}} hizmeti çalışmıyor ({{value}})"
      en: "Service {{site}} / {{device}} is down ({{value}})"
  - id: line_down
    type: state
    severity: critical
    category: network
    match: { measurement: device_state, field: reason, kinds: [link] }
    in: ["unreachable: timeout", "unreachable: error"]
    for: 1m
    message:
      tr: "{{site}} / {{device}} hattı kesildi: ping yanıtı yok"
      en: "Line {{site}} / {{device}} is down: no ping replies"
  - id: line_packet_loss
    type: threshold
    severity: warning
    category: network
    match: { measurement: probe, field: loss_pct, kinds: [link] }
    above: 10
    clear: 2
    for: 5m
    message:
      tr: "{{site}} / {{device}} hattında paket kaybı %{{value}}"
      en: "{{value}} % packet loss on line {{site}} / {{device}}"
  - id: line_latency_high
    type: threshold
    severity: warning
    category: network
    match: { measurement: probe, field: rtt_ms, kinds: [link] }
    above: 150
    clear: 100
    for: 10m
    message:
      tr: "{{site}} / {{device}} hattında gecikme {{value}} ms"
      en: "Round-trip time on line {{site}} / {{device}} is {{value}} ms"
  - id: tls_certificate_expiring
    type: threshold
    severity: warning
    category: systems
    match: { measurement: probe, field: cert_days_left }
    below: 30
    message:
      tr: "{{site}} / {{device}}: TLS sertifikasının süresi {{value}} gün içinde doluyor, yenileyin"
      en: "{{site}} / {{device}}: the TLS certificate expires in {{value}} days, renew it"
  - id: tls_certificate_expired
    type: threshold
    severity: critical
    category: systems
    match: { measurement: probe, field: cert_days_left }
    below: 0
    message:
      tr: "{{site}} / {{device}}: TLS sertifikasının süresi doldu, ziyaretçiler hata görüyor"
      en: "{{site}} / {{device}}: the TLS certificate has expired, visitors get an error"
  - id: smtp_starttls_missing
    type: state
    severity: warning
    category: systems
    match: { measurement: probe, field: starttls_ok }
    in: [0]
    for: 10m
    message:
      tr: "{{site}} / {{device}}: posta sunucusu STARTTLS sunmuyor, e-postalar şifresiz gidiyor"
      en: "{{site}} / {{device}}: the mail server does not offer STARTTLS, mail travels unencrypted"
`;
const proposedRules = () => new RuleEngine(parseRules(PROPOSED_RULES, 'proposed-rules.yaml'), { maxPointAgeMs: 10 * MIN });

// ── helpers ───────────────────────────────────────────────────────────────────

const sessions: DeviceSession[] = [];
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const session of sessions.splice(0)) session.close();
  for (const close of closers.splice(0).reverse()) await close();
});

interface ProbeEntry {
  address: string;
  options?: Record<string, unknown>;
  timeoutMs?: number;
  intervalS?: number;
  id?: string;
}

function open(driver: DeviceDriver, entry: ProbeEntry): DeviceSession {
  const device = deviceEntrySchema.parse({ site: 'merkez', id: entry.id ?? 'hedef', address: entry.address, profile: driver.name, options: entry.options ?? {}, timeoutMs: entry.timeoutMs, intervalS: entry.intervalS });
  const session = driver.open({ device, profile: PROFILES.get(driver.name)!, credential: undefined });
  sessions.push(session);
  return session;
}

/** One poll's `probe` fields; every metric must fit the contract. */
async function probe(driver: DeviceDriver, entry: ProbeEntry, pollMs = 20_000): Promise<Record<string, unknown>> {
  const outcome = await open(driver, entry).poll(AbortSignal.timeout(pollMs));
  return fieldsOf(outcome);
}

function fieldsOf(outcome: PollOutcome): Record<string, unknown> {
  expect(outcome.metrics).toHaveLength(1);
  expect(outcome.events).toEqual([]);
  expect(outcome.problems).toEqual([]);
  const [metric] = outcome.metrics;
  expect(metricSchema.safeParse(metric).success).toBe(true);
  expect(metric!.name).toBe('probe');
  expect(metric!.tags).toBeUndefined();
  return metric!.fields;
}

async function down(driver: DeviceDriver, entry: ProbeEntry, pollMs = 20_000): Promise<DeviceUnreachableError> {
  const error = await open(driver, entry)
    .poll(AbortSignal.timeout(pollMs))
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(error).toBeInstanceOf(DeviceUnreachableError);
  return error as DeviceUnreachableError;
}


async function listen<S extends HttpServer | TcpServer>(server: S): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  closers.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as { port: number }).port;
}

/** A TCP server that runs `script` for every connection and records what clients send. */
async function scripted(script: (socket: Socket) => void): Promise<{ port: number; received: Buffer[] }> {
  const received: Buffer[] = [];
  const server = createTcpServer((socket) => {
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', () => {});
    script(socket);
  });
  return { port: await listen(server), received };
}

const receivedText = (received: Buffer[]) => Buffer.concat(received).toString('latin1');

let pki: string;
beforeAll(() => {
  pki = tempDir('probes-pki');
  for (const args of [['ca'], ['server', 'web', '127.0.0.1', 'localhost']]) execFileSync('bash', ['deploy/pki/private-ca.sh', pki, ...args], { stdio: 'pipe' });
  // The certificate a forgotten renewal leaves: self-signed, 10 days left.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(pki, 'short.key'), '-out', join(pki, 'short.pem'), '-days', '10', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'pipe' });
});

// ── device list validation ────────────────────────────────────────────────────

describe('options in the device list', () => {
  const plan = (profile: string, options: Record<string, unknown>, address = '10.0.0.1') =>
    planDevices({ devices: devicesFileSchema.parse({ devices: [{ site: 'merkez', id: 'p', address, profile, options }] }), secrets: {}, profiles: PROFILES, drivers: DRIVERS, defaultIntervalS: 60 });

  it('ships one profile per probe, of kind link (ICMP) or service, needing no credential', () => {
    const kinds = Object.fromEntries(['icmp', 'tcp', 'http', 'tls', 'dns', 'smtp', 'ldap'].map((type) => [type, PROFILES.get(`probe-${type}`)?.kind]));
    expect(kinds).toEqual({ icmp: 'link', tcp: 'service', http: 'service', tls: 'service', dns: 'service', smtp: 'service', ldap: 'service' });
    for (const driver of [probeIcmpDriver, probeTcpDriver, probeHttpDriver, probeTlsDriver, probeDnsDriver, probeSmtpDriver, probeLdapDriver]) {
      expect(DRIVERS.get(driver.name)).toBe(driver);
      expect(PROFILES.get(driver.name)?.driver).toBe(driver.name);
      expect(driver.credential).toBe('none');
    }
    expect(plan('probe-http', { keyword: 'Giriş', expectStatus: [200, '300-302'] }, 'https://e.belediye.gov.tr/giris')).toMatchObject({ errors: [], plans: [{ kind: 'service' }] });
    expect(plan('probe-icmp', { count: 5, sourceAddress: '192.0.2.10' })).toMatchObject({ errors: [], plans: [{ kind: 'link' }] });
  });

  it.each([
    ['probe-icmp', { count: 0 }, /\.options\.count: at least 1 ping/],
    ['probe-icmp', { count: 'üç' }, /\.options\.count: expected a number of pings/],
    ['probe-icmp', { sourceAddress: 'hat-2' }, /\.options\.sourceAddress: expected an IP address of this machine/],
    ['probe-icmp', { periodMs: 5 }, /\.options\.periodMs: at least 20 ms/],
    ['probe-tcp', { port: 70_000 }, /\.options\.port: expected a port from 1 to 65535/],
    ['probe-http', { keyword: '' }, /\.options\.keyword: empty/],
    ['probe-http', { method: 'POST' }, /\.options\.method: expected GET or HEAD/],
    ['probe-http', { expectStatus: '200-99' }, /\.options\.expectStatus: expected a status like 200 or a range like "200-399"/],
    ['probe-http', { expectStatus: '399-200' }, /\.options\.expectStatus: the range must go from low to high/],
    ['probe-http', { expectStatus: [200, 9000] }, /\.options\.expectStatus\.1: expected a status like 200/],
    ['probe-http', { path: '//evil.example/x' }, /\.options\.path: expected a path like "\/giris"/],
    ['probe-http', { method: 'HEAD', keyword: 'Giriş' }, /\.options\.keyword: a HEAD answer has no body to search/],
    ['probe-http', { keywrd: 'Giriş' }, /\.options: Unrecognized key: "keywrd"/],
    ['probe-tls', { servername: '10.0.0.1' }, /\.options\.servername: expected a host name \(not an IP address\)/],
    ['probe-tls', { tlsVerify: 'hayır' }, /\.options\.tlsVerify: expected true or false/],
    ['probe-dns', {}, /\.options\.name: expected the name to ask for/],
    ['probe-dns', { name: 'e.belediye.gov.tr', type: 'SRV' }, /\.options\.type: expected A, AAAA, MX or TXT/],
    ['probe-smtp', { starttls: 1 }, /\.options\.starttls: expected true or false/],
    ['probe-ldap', { bindDn: 'cn=admin' }, /\.options: Unrecognized key: "bindDn"/],
  ])('%s refuses %j, naming the field', (profile, options, message) => {
    const { plans, errors } = plan(profile, options);
    expect(plans).toEqual([]);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.join('\n')).toMatch(/^devices\[0\] \(merkez\/p\)/);
    expect(errors.join('\n')).toMatch(message);
  });

  it.each([
    ['probe-tcp', '10.0.0.1', {}, /merkez\/hedef: address "10\.0\.0\.1" has no port \(write host:port or set options\.port\)/],
    ['probe-tcp', '10.0.0.1:22', { port: 23 }, /address "10\.0\.0\.1:22" and options\.port 23 name different ports/],
    ['probe-tcp', 'sunucu adı:80', {}, /address "sunucu adı:80" is not a host name or IP address/],
    ['probe-http', 'https://izleme:parola@e.belediye.gov.tr/', {}, /holds a user name or password: probes are anonymous/],
    ['probe-http', 'ftp://dosya.belediye.gov.tr', {}, /address "ftp:\/\/dosya\.belediye\.gov\.tr" is ftp:\/\/, not http:\/\/ or https:\/\//],
    ['probe-http', 'http://[zz::1]/', {}, /is not a URL \(https:\/\/host\/path\) or host\[:port\]/],
    ['probe-http', 'https://e.belediye.gov.tr/', { caFile: '/yok/ca.pem' }, /options\.caFile: cannot read \/yok\/ca\.pem \(ENOENT\)/],
    ['probe-icmp', '-f', {}, /address "-f" must be an IP address or host name/],
    ['probe-icmp', '10.0.0.1:7', {}, /ICMP has no port/],
    ['probe-icmp', 'fd00::1', { sourceAddress: '10.0.0.2' }, /are not of the same IP version/],
    ['probe-dns', 'dns.belediye.local', { name: 'e.belediye.gov.tr' }, /is not a DNS server address \(IP or IP:port\)/],
    ['probe-ldap', 'ldaps://dizin.belediye.local:99999', {}, /has no valid port/],
  ])('%s refuses the address %s with a clear message when the session opens', (driver, address, options, message) => {
    expect(() => open(DRIVERS.get(driver)!, { address, options })).toThrow(message);
  });
});

// ── TCP ───────────────────────────────────────────────────────────────────────

describe('probe-tcp', () => {
  it('is up when the port accepts and refused when it is closed', async () => {
    const port = await listen(createTcpServer((socket) => socket.end()));
    const up = await probe(probeTcpDriver, { address: '127.0.0.1', options: { port } });
    expect(up).toMatchObject({ ok: 1 });
    expect(up.latency_ms).toBeGreaterThan(0);
    expect(up.latency_ms).toBeLessThan(1_000);
    expect(await probe(probeTcpDriver, { address: `127.0.0.1:${port}`, options: { sourceAddress: '127.0.0.1' } })).toMatchObject({ ok: 1 });
    const closed = await down(probeTcpDriver, { address: `127.0.0.1:${await freePort()}` });
    expect(closed).toMatchObject({ reason: 'refused', message: expect.stringMatching(/^TCP 127\.0\.0\.1:\d+: connection refused$/) });
    const foreign = await down(probeTcpDriver, { address: `127.0.0.1:${port}`, options: { sourceAddress: '192.0.2.77' } });
    expect(foreign).toMatchObject({ reason: 'error', message: expect.stringContaining('options.sourceAddress is not an address of this machine') });
  });
});

// ── HTTP(S) ───────────────────────────────────────────────────────────────────

const PAGE = '<!doctype html><html><head><title>e-Belediye Girişi</title></head><body><h1>e-Belediye Girişi</h1></body></html>';
const webRoutes: RequestListener = (req, res) => {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  switch (path) {
    case '/giris':
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
      return;
    case '/bakim':
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end('Bakım çalışması');
      return;
    case '/yavas': {
      const timer = setTimeout(() => res.end(PAGE), 3_000);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    case '/buyuk':
      // The keyword only after 1.5 MB: beyond what the probe reads.
      res.writeHead(200).end(Buffer.concat([Buffer.alloc(1_500_000, 'a'), Buffer.from('e-Belediye Girişi')]));
      return;
    case '/sonsuz': {
      // A page that never ends.
      res.writeHead(200);
      const more = () => {
        if (!res.destroyed) res.write(Buffer.alloc(65_536, 'x'), () => setImmediate(more));
      };
      more();
      return;
    }
    case '/yonlendir':
      res.writeHead(302, { location: '/giris' }).end();
      return;
    case '/dongu':
      res.writeHead(302, { location: '/dongu' }).end();
      return;
    default:
      res.writeHead(404).end();
  }
};

describe('probe-http', () => {
  let base: string;
  beforeAll(async () => {
    const server = createHttpServer(webRoutes);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    return () => {
      server.closeAllConnections();
      server.close();
    };
  });

  it('is up with the status, the keyword found (UTF-8, case-sensitive) and the bytes of the page', async () => {
    const up = await probe(probeHttpDriver, { address: `${base}/giris`, options: { keyword: 'e-Belediye Girişi' } });
    expect(up).toMatchObject({ ok: 1, status_code: 200, keyword_found: 1, bytes: Buffer.byteLength(PAGE) });
    expect(up.latency_ms).toBeGreaterThan(0);
    expect(await probe(probeHttpDriver, { address: base.slice('http://'.length), options: { path: '/giris', method: 'HEAD' } })).toMatchObject({ ok: 1, status_code: 200, bytes: 0 });
    const lowerCase = await down(probeHttpDriver, { address: `${base}/giris`, options: { keyword: 'e-belediye girişi' } });
    expect(lowerCase).toMatchObject({ reason: 'error', message: 'keyword not found: "e-belediye girişi" is not in the page (HTTP 200)' });
  });

  it('is down on 503, unless 503 is what is expected', async () => {
    expect(await down(probeHttpDriver, { address: `${base}/bakim` })).toMatchObject({ reason: 'error', message: 'HTTP 503' });
    expect(await probe(probeHttpDriver, { address: `${base}/bakim`, options: { expectStatus: 503 } })).toMatchObject({ ok: 1, status_code: 503 });
    expect(await down(probeHttpDriver, { address: `${base}/yok`, options: { expectStatus: ['200-299', 301] } })).toMatchObject({ message: 'HTTP 404' });
  });

  it('is down with reason timeout when the answer is slower than the timeout, and gives up at the timeout', async () => {
    const started = Date.now();
    const slow = await down(probeHttpDriver, { address: `${base}/yavas`, timeoutMs: 1_000 });
    expect(slow).toMatchObject({ reason: 'timeout', message: expect.stringMatching(/no answer in time/) });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await down(probeHttpDriver, { address: `http://127.0.0.1:${await freePort()}/` })).toMatchObject({ reason: 'refused' });
  });

  it('reads no more than 1 MB: a keyword beyond it is not found, an endless page still ends the probe', async () => {
    expect(await down(probeHttpDriver, { address: `${base}/buyuk`, options: { keyword: 'e-Belediye Girişi' } })).toMatchObject({ message: expect.stringContaining('keyword not found') });
    const endless = await probe(probeHttpDriver, { address: `${base}/sonsuz` }, 10_000);
    expect(endless.bytes).toBeGreaterThanOrEqual(1024 * 1024);
    expect(endless.bytes).toBeLessThan(2 * 1024 * 1024);
  });

  it('follows redirects only when asked, at most 5', async () => {
    expect(await probe(probeHttpDriver, { address: `${base}/yonlendir` })).toMatchObject({ ok: 1, status_code: 302 });
    expect(await down(probeHttpDriver, { address: `${base}/yonlendir`, options: { expectStatus: 200 } })).toMatchObject({ message: 'HTTP 302' });
    expect(await probe(probeHttpDriver, { address: `${base}/yonlendir`, options: { followRedirects: true, keyword: 'Girişi' } })).toMatchObject({ ok: 1, status_code: 200, keyword_found: 1 });
    expect(await down(probeHttpDriver, { address: `${base}/dongu`, options: { followRedirects: true } })).toMatchObject({ reason: 'error', message: expect.stringContaining('more than 5 redirects') });
  });

  it('says so when the peer does not speak HTTP', async () => {
    const ssh = await scripted((socket) => socket.write('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'));
    const error = await down(probeHttpDriver, { address: `127.0.0.1:${ssh.port}` });
    expect(error.reason).toBe('error');
    expect(error.message).toMatch(/^HTTP 127\.0\.0\.1:\d+: .*(Parse Error|Expected HTTP)/);
  });

  it('HTTPS: trusts the private CA with caFile, refuses an unknown CA, accepts it with tlsVerify: false', async () => {
    const server = createHttpsServer({ key: readFileSync(join(pki, 'web.key')), cert: readFileSync(join(pki, 'web.pem')) }, webRoutes);
    const port = await listen(server);
    const url = `https://127.0.0.1:${port}/giris`;
    expect(await probe(probeHttpDriver, { address: url, options: { caFile: join(pki, 'ca.pem'), keyword: 'Girişi', sourceAddress: '127.0.0.1' } })).toMatchObject({ ok: 1, status_code: 200, keyword_found: 1 });
    const untrusted = await down(probeHttpDriver, { address: url });
    expect(untrusted).toMatchObject({ reason: 'error', message: expect.stringMatching(/certificate not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\); set options\.caFile, or tlsVerify: false/) });
    expect(await probe(probeHttpDriver, { address: url, options: { tlsVerify: false } })).toMatchObject({ ok: 1, status_code: 200 });
  });
});

// ── TLS certificate expiry ────────────────────────────────────────────────────

describe('probe-tls', () => {
  async function tlsServer(name: string): Promise<number> {
    return listen(createTlsServer({ key: readFileSync(join(pki, `${name}.key`)), cert: readFileSync(join(pki, `${name}.pem`)) }, (socket) => socket.end()));
  }

  it('reads 9-10 days left from a certificate made with -days 10, and the proposed rule warns', async () => {
    const port = await tlsServer('short');
    const fields = await probe(probeTlsDriver, { address: `127.0.0.1:${port}`, options: { tlsVerify: false } });
    expect(fields.ok).toBe(1);
    expect(fields.cert_days_left).toBeGreaterThanOrEqual(9);
    expect(fields.cert_days_left).toBeLessThanOrEqual(10);
    expect(Math.abs((fields.cert_expires_at as number) - (Date.now() + 10 * 86_400_000))).toBeLessThan(120_000);

    const engine = proposedRules();
    const now = Date.now();
    const points = metricsToPoints({ site: 'merkez', device: 'e-belediye-tls' }, 'service', { v: 1, ts: now, metrics: [{ name: 'probe', fields: fields as Record<string, number> }] });
    const changes = engine.observe(points, now);
    expect(changes.map((c) => [c.alert.rule, c.to, c.alert.value])).toEqual([['tls_certificate_expiring', 'firing', fields.cert_days_left]]);
  });

  it('checks the certificate when tlsVerify is on: self-signed is down, trusted through caFile and servername is up', async () => {
    const port = await tlsServer('short');
    const untrusted = await down(probeTlsDriver, { address: `127.0.0.1:${port}` });
    expect(untrusted).toMatchObject({ reason: 'error', message: expect.stringMatching(/certificate not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\)/) });
    // A self-signed certificate is its own CA; its name is localhost, so the IP address needs servername.
    const wrongName = await down(probeTlsDriver, { address: `127.0.0.1:${port}`, options: { caFile: join(pki, 'short.pem') } });
    expect(wrongName.message).toMatch(/certificate not trusted \(ERR_TLS_CERT_ALTNAME_INVALID\)/);
    expect(await probe(probeTlsDriver, { address: `127.0.0.1:${port}`, options: { caFile: join(pki, 'short.pem'), servername: 'localhost' } })).toMatchObject({ ok: 1 });
  });

  it('a two-year certificate from the private CA does not warn', async () => {
    const port = await tlsServer('web');
    const fields = await probe(probeTlsDriver, { address: `127.0.0.1:${port}`, options: { caFile: join(pki, 'ca.pem') } });
    expect(fields.cert_days_left).toBeGreaterThan(700);
    const now = Date.now();
    expect(proposedRules().observe(metricsToPoints({ site: 'merkez', device: 'web' }, 'service', { v: 1, ts: now, metrics: [{ name: 'probe', fields: fields as Record<string, number> }] }), now)).toEqual([]);
  });

  it('is down when there is no TLS server, or the peer is not speaking TLS', async () => {
    expect(await down(probeTlsDriver, { address: `127.0.0.1:${await freePort()}` })).toMatchObject({ reason: 'refused' });
    const plain = await scripted((socket) => socket.end('220 posta ESMTP\r\n'));
    expect(await down(probeTlsDriver, { address: `127.0.0.1:${plain.port}`, options: { tlsVerify: false } })).toMatchObject({ reason: 'error', message: expect.stringMatching(/^TLS 127\.0\.0\.1:\d+: /) });
  });
});

// ── DNS ───────────────────────────────────────────────────────────────────────

describe('probe-dns', () => {
  let server: string;
  let dnsmasq: ManagedProcess;
  beforeAll(async () => {
    const port = await freePort();
    server = `127.0.0.1:${port}`;
    dnsmasq = startProcess('dnsmasq', [
      `--port=${port}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      '--no-resolv',
      '--no-hosts',
      '--conf-file=/dev/null',
      '--pid-file=',
      '--user=root',
      '--keep-in-foreground',
      '--address=/izleme.belediye.local/10.1.2.3',
      // Names under belediye.local that are not configured get NXDOMAIN, never go upstream.
      '--local=/belediye.local/',
      '--mx-host=belediye.local,posta.belediye.local,10',
      '--txt-record=belediye.local,v=spf1 mx -all',
    ]);
    const resolver = new dns.Resolver({ timeout: 200, tries: 1 });
    resolver.setServers([server]);
    await waitFor(`dnsmasq on ${server} (${dnsmasq.output()})`, async () => (await resolver.resolve4('izleme.belediye.local')).length === 1, 10_000);
    return () => dnsmasq.stop();
  });

  it('answers A, MX and TXT questions, with the expected value', async () => {
    expect(await probe(probeDnsDriver, { address: server, options: { name: 'izleme.belediye.local', expect: '10.1.2.3' } })).toMatchObject({ ok: 1, answers: 1 });
    expect(await probe(probeDnsDriver, { address: server, options: { name: 'belediye.local', type: 'MX', expect: 'Posta.Belediye.Local.' } })).toMatchObject({ ok: 1, answers: 1 });
    expect(await probe(probeDnsDriver, { address: server, options: { name: 'belediye.local', type: 'TXT', expect: 'v=spf1 mx -all', sourceAddress: '127.0.0.1' } })).toMatchObject({ ok: 1, answers: 1 });
  });

  it('is down on a wrong answer, NXDOMAIN and a missing record type', async () => {
    expect(await down(probeDnsDriver, { address: server, options: { name: 'izleme.belediye.local', expect: '10.9.9.9' } })).toMatchObject({
      reason: 'error',
      message: 'DNS A izleme.belediye.local: wrong answer, "10.9.9.9" is not among ["10.1.2.3"]',
    });
    expect(await down(probeDnsDriver, { address: server, options: { name: 'yok.belediye.local' } })).toMatchObject({ reason: 'error', message: 'DNS A yok.belediye.local: NXDOMAIN (the name does not exist)' });
    expect(await down(probeDnsDriver, { address: server, options: { name: 'dis.example.com' } })).toMatchObject({ reason: 'error', message: expect.stringContaining('REFUSED') });
  });

  it('is down with reason timeout for a server that does not answer, refused for a closed port', async () => {
    const silent: UdpSocket = createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => silent.close(() => resolve())));
    const started = Date.now();
    expect(await down(probeDnsDriver, { address: `127.0.0.1:${silent.address().port}`, options: { name: 'izleme.belediye.local' }, timeoutMs: 500 })).toMatchObject({ reason: 'timeout' });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await down(probeDnsDriver, { address: `127.0.0.1:${await freePort()}`, options: { name: 'izleme.belediye.local' }, timeoutMs: 1_000 })).toMatchObject({ reason: 'refused' });
  });
});

// ── SMTP ──────────────────────────────────────────────────────────────────────

describe('probe-smtp', () => {
  const smtp = async (options: Parameters<typeof startSmtpServer>[0] = {}): Promise<SmtpTestServer> => {
    const server = await startSmtpServer(options);
    closers.push(() => server.stop());
    return server;
  };

  it('reads the 220 greeting of a real SMTP server and tells whether EHLO offers STARTTLS', async () => {
    const withTls = await smtp({ tls: { keyFile: join(pki, 'web.key'), certFile: join(pki, 'web.pem'), mode: 'starttls' } });
    expect(await probe(probeSmtpDriver, { address: `127.0.0.1:${withTls.port}`, options: { starttls: true } })).toMatchObject({ ok: 1, banner_ok: 1, starttls_ok: 1 });
    const clear = await smtp();
    const fields = await probe(probeSmtpDriver, { address: `127.0.0.1:${clear.port}`, options: { starttls: true } });
    expect(fields).toMatchObject({ ok: 1, banner_ok: 1, starttls_ok: 0 });
    expect(await probe(probeSmtpDriver, { address: `127.0.0.1:${clear.port}` })).toEqual({ ok: 1, banner_ok: 1, latency_ms: expect.any(Number) });
    expect(clear.counts.mailFrom).toBe(0);
    const now = Date.now();
    const engine = proposedRules();
    const points = metricsToPoints({ site: 'merkez', device: 'posta' }, 'service', { v: 1, ts: now, metrics: [{ name: 'probe', fields: fields as Record<string, number> }] });
    expect(engine.observe(points, now).map((c) => [c.alert.rule, c.to])).toEqual([['smtp_starttls_missing', 'pending']]);
  });

  it('takes a multi-line greeting sent in pieces, and says QUIT', async () => {
    const server = await scripted((socket) => {
      socket.write('220-posta.belediye.gov.tr ESMTP\r\n22');
      setTimeout(() => socket.write('0 Hoş geldiniz\r\n'), 50);
    });
    expect(await probe(probeSmtpDriver, { address: `127.0.0.1:${server.port}` })).toMatchObject({ ok: 1, banner_ok: 1 });
    await waitFor('QUIT', async () => receivedText(server.received) === 'QUIT\r\n', 2_000);
  });

  it.each([
    ['a 554 greeting', (s: Socket) => s.write('554 5.3.2 Hizmet verilemiyor\r\n'), 'error', /greeting 554 5\.3\.2 Hizmet verilemiyor/],
    ['a peer that is not SMTP', (s: Socket) => s.write('SSH-2.0-OpenSSH_9.2p1\r\n'), 'error', /not an SMTP answer \("SSH-2\.0-OpenSSH_9\.2p1"\)/],
    ['an endless greeting', (s: Socket) => s.write(`${'220-uzun satir\r\n'.repeat(1_000)}`), 'error', /answer longer than 8192 bytes/],
    ['a server that closes at once', (s: Socket) => s.end(), 'error', /connection closed before an answer/],
    ['a server that never greets', () => {}, 'timeout', /no answer in time/],
  ])('is down on %s', async (_what, script, reason, message) => {
    const server = await scripted(script);
    expect(await down(probeSmtpDriver, { address: `127.0.0.1:${server.port}`, timeoutMs: 500 })).toMatchObject({ reason, message: expect.stringMatching(message) });
  });
});

// ── LDAP ──────────────────────────────────────────────────────────────────────

// slapd is not installed here and ldapjs is not a dependency: these servers stand in for a
// directory server. They check the probe's request byte for byte against RFC 4511 §4.2 and
// answer with BER built below, as a directory would.

/** RFC 4511 §4.2: LDAPMessage{ messageID 1, BindRequest{ version 3, name "", simple "" } }, implicit tags. */
const ANONYMOUS_BIND = '30 0c 02 01 01 60 07 02 01 03 04 00 80 00'.replaceAll(' ', '');
/** RFC 4511 §4.3: LDAPMessage{ messageID 2, UnbindRequest NULL }. */
const UNBIND = '30 05 02 01 02 42 00'.replaceAll(' ', '');

function ber(tag: number, ...content: (Buffer | string)[]): Buffer {
  const body = Buffer.concat(content.map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c)));
  const length = body.length < 0x80 ? Buffer.from([body.length]) : body.length < 0x100 ? Buffer.from([0x81, body.length]) : Buffer.from([0x82, body.length >> 8, body.length & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, body]);
}
const int = (tag: number, value: number) => ber(tag, Buffer.from([value]));
const bindResponse = (resultCode: number, diagnostic = '') => ber(0x30, int(0x02, 1), ber(0x61, int(0x0a, resultCode), ber(0x04), ber(0x04, diagnostic)));

async function directory(answer: (socket: Socket) => void): Promise<{ port: number; received: Buffer[] }> {
  return scripted((socket) => {
    let request = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      request = Buffer.concat([request, chunk]);
      if (request.length === ANONYMOUS_BIND.length / 2) {
        expect(request.toString('hex')).toBe(ANONYMOUS_BIND);
        answer(socket);
      }
    });
  });
}

describe('probe-ldap', () => {
  it('is up when the directory answers the anonymous bind, then unbinds', async () => {
    const server = await directory((socket) => socket.write(bindResponse(0)));
    expect(await probe(probeLdapDriver, { address: `ldap://127.0.0.1:${server.port}` })).toMatchObject({ ok: 1, bind_ok: 1, result_code: 0 });
    await waitFor('unbind', async () => Buffer.concat(server.received).toString('hex') === ANONYMOUS_BIND + UNBIND, 2_000);
  });

  it('is up with bind_ok 0 when anonymous binds are refused (53), also for a long answer sent byte by byte', async () => {
    const diagnostic = `anonim bağlantı kapalı: ${'ayrıntı '.repeat(12)}`;
    const answer = bindResponse(53, diagnostic);
    expect(answer[1]).toBe(0x81); // long-form length
    const server = await directory((socket) => {
      const send = (at: number) => {
        if (at < answer.length) socket.write(answer.subarray(at, at + 1), () => setTimeout(() => send(at + 1), 1));
      };
      send(0);
    });
    expect(await probe(probeLdapDriver, { address: `127.0.0.1:${server.port}` })).toMatchObject({ ok: 1, bind_ok: 0, result_code: 53 });
  });

  it.each([
    ['a notice of disconnection', (s: Socket) => s.write(ber(0x30, int(0x02, 0), ber(0x78, int(0x0a, 52), ber(0x04), ber(0x04), ber(0x8a, '1.3.6.1.4.1.1466.20036')))), /the server ended the session \(notice of disconnection, result 52\)/],
    ['an HTTP answer', (s: Socket) => s.write('HTTP/1.1 400 Bad Request\r\n\r\n'), /not an LDAP answer \(starts with 0x48\)/],
    ['an answer to another operation', (s: Socket) => s.write(ber(0x30, int(0x02, 1), ber(0x65, int(0x0a, 0), ber(0x04), ber(0x04)))), /not an LDAP answer \(operation 0x65 to message 1\)/],
    ['a length of 4 GB', (s: Socket) => s.write(Buffer.from('3084ffffffff', 'hex')), /not an LDAP answer \(length of 4 bytes\)/],
    ['a server that hangs up', (s: Socket) => s.end(), /connection closed before an answer/],
  ])('is down on %s', async (_what, answer, message) => {
    const server = await directory(answer);
    expect(await down(probeLdapDriver, { address: `127.0.0.1:${server.port}`, timeoutMs: 2_000 })).toMatchObject({ reason: 'error', message: expect.stringMatching(message) });
  });

  it('speaks LDAPS (TLS on connect) with the private CA, and is refused on a closed port', async () => {
    const server = createTlsServer({ key: readFileSync(join(pki, 'web.key')), cert: readFileSync(join(pki, 'web.pem')) }, (socket) => {
      socket.once('data', (request: Buffer) => {
        expect(request.toString('hex')).toBe(ANONYMOUS_BIND);
        socket.write(bindResponse(0));
      });
      socket.on('error', () => {});
    });
    const port = await listen(server);
    expect(await probe(probeLdapDriver, { address: `ldaps://127.0.0.1:${port}`, options: { caFile: join(pki, 'ca.pem') } })).toMatchObject({ ok: 1, bind_ok: 1 });
    expect(await down(probeLdapDriver, { address: `ldaps://127.0.0.1:${port}` })).toMatchObject({ reason: 'error', message: expect.stringContaining('certificate not trusted') });
    expect(await down(probeLdapDriver, { address: `ldap://127.0.0.1:${await freePort()}` })).toMatchObject({ reason: 'refused' });
  });
});

// ── ICMP through fping ────────────────────────────────────────────────────────

describe('probe-icmp', () => {
  it('reads fping -C output and computes loss, RTT and jitter', () => {
    const results = parseFpingCounts(
      ['10.0.0.1       : 10.0 - 14.0 11.0', 'ICMP Host Unreachable from 10.0.0.254 for ICMP Echo sent to 10.0.0.9', '10.0.0.9       : - - - -', 'fd00::5        : 0.05 0.07 0.04 0.06', ''].join('\n'),
    );
    expect([...results]).toEqual([
      ['10.0.0.1', [10, null, 14, 11]],
      ['10.0.0.9', [null, null, null, null]],
      ['fd00::5', [0.05, 0.07, 0.04, 0.06]],
    ]);
    // Jitter: |14 − 10| and |11 − 14| between successive replies → 3.5.
    expect(pingFields([10, null, 14, 11])).toEqual({ ok: 1, latency_ms: 11.667, loss_pct: 25, rtt_ms: 11.667, rtt_min_ms: 10, rtt_max_ms: 14, jitter_ms: 3.5 });
    expect(pingFields([null, null, null])).toBeUndefined();
    expect(pingFields([0.2, null, null])).toEqual({ ok: 1, latency_ms: 0.2, loss_pct: 66.67, rtt_ms: 0.2, rtt_min_ms: 0.2, rtt_max_ms: 0.2 });
  });

  it('pings loopback and a name from /etc/hosts', async () => {
    const fields = await probe(probeIcmpDriver, { address: '127.0.0.1', options: { count: 3, periodMs: 20 } });
    expect(fields).toMatchObject({ ok: 1, loss_pct: 0 });
    expect(fields.rtt_min_ms).toBeLessThanOrEqual(fields.rtt_ms as number);
    expect(fields.rtt_max_ms).toBeGreaterThanOrEqual(fields.rtt_ms as number);
    expect(fields.jitter_ms).toBeGreaterThanOrEqual(0);
    expect(await probe(probeIcmpDriver, { address: 'localhost', options: { count: 1 } })).toMatchObject({ ok: 1, loss_pct: 0 });
  });

  it('polls 200 targets at once with ONE fping process', async () => {
    const targets = Array.from({ length: 200 }, (_, i) => open(probeIcmpDriver, { address: `127.0.0.${i + 1}`, id: `h${i + 1}`, options: { count: 2, periodMs: 20 }, timeoutMs: 500 }));
    const before = fping.spawned;
    const outcomes = await Promise.all(targets.map((s) => s.poll(AbortSignal.timeout(20_000))));
    expect(fping.spawned - before).toBe(1);
    expect(outcomes.map((o) => fieldsOf(o)).every((f) => f.ok === 1 && f.loss_pct === 0)).toBe(true);
  });

  it('bounds a run (more targets start another run at once) and shares one target asked for twice', async () => {
    const batcher = new FpingBatcher({ windowMs: 60_000, maxTargets: 50 });
    const settings = { count: 1, periodMs: 20, timeoutMs: 500 };
    const signal = AbortSignal.timeout(20_000);
    const started = Date.now();
    // With a minute-long window, 100 targets are only quick if each run of 50 starts as soon as it is full.
    const full = await Promise.all(Array.from({ length: 100 }, (_, i) => batcher.ping(`127.0.1.${i + 1}`, settings, signal)));
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(batcher.spawned).toBe(2);
    expect(full.every((rtts) => rtts.length === 1 && rtts[0] !== null)).toBe(true);
    const shortWindow = new FpingBatcher({ windowMs: 50, maxTargets: 50 });
    const twice = await Promise.all([shortWindow.ping('127.0.2.1', settings, signal), shortWindow.ping('127.0.2.1', settings, signal), shortWindow.ping('127.0.2.2', settings, signal)]);
    expect(shortWindow.spawned).toBe(1);
    expect(twice.every((rtts) => rtts[0] !== null)).toBe(true);
  });

  it('a poll that gives up leaves the run without taking the others down', async () => {
    const batcher = new FpingBatcher({ windowMs: 100, maxTargets: 500 });
    const settings = { count: 2, periodMs: 20, timeoutMs: 300 };
    const quitter = batcher.ping('127.0.3.1', settings, AbortSignal.timeout(20)).catch((e: unknown) => e);
    const stayer = batcher.ping('127.0.3.2', settings, AbortSignal.timeout(10_000));
    expect(await quitter).toMatchObject({ name: 'TimeoutError' });
    expect((await stayer).every((rtt) => rtt !== null)).toBe(true);
    expect(batcher.spawned).toBe(1);
  });

  it('refuses pings that cannot fit in the interval: the poller would cut them and show a healthy line as down', () => {
    expect(() => open(probeIcmpDriver, { address: '127.0.0.1', intervalS: 1 })).toThrow(/merkez\/hedef: 3 pings every 500 ms with a 1000 ms timeout take up to 2100 ms, longer than intervalS 1: lower options\.count/);
    expect(() => open(probeIcmpDriver, { address: '127.0.0.1', intervalS: 1, options: { count: 2, periodMs: 100 }, timeoutMs: 500 })).not.toThrow();
  });

  it('says why when fping cannot run with the source address, and refuses a host name that does not resolve', async () => {
    const bad = await open(probeIcmpDriver, { address: '127.0.0.1', options: { sourceAddress: '192.0.2.77' } })
      .poll(AbortSignal.timeout(10_000))
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(Error);
    expect((bad as Error).message).toMatch(/^fping failed \(exit 4\): .*cannot bind source address/);
    expect(await down(probeIcmpDriver, { address: 'yok.invalid', options: { count: 1 } })).toMatchObject({ reason: 'error', message: expect.stringMatching(/^ICMP yok\.invalid: host name not found \((ENOTFOUND|EAI_AGAIN)\)$/) });
  });
});

// ── Two internet lines: network namespaces ────────────────────────────────────


describe('two internet lines (network namespaces, veth pairs)', () => {
  const lines: Line[] = [];

  beforeAll(() => {
    lines.push(...createLines('line', 200, 2));
  });
  afterAll(() => {
    removeLines(lines);
  });

  const icmp = (line: Line, options: Record<string, unknown> = {}) => open(probeIcmpDriver, { address: line.remote, id: line.ns, options: { count: 3, periodMs: 50, sourceAddress: line.local, ...options }, timeoutMs: 300 });
  const poll = (session: DeviceSession) => session.poll(AbortSignal.timeout(10_000));

  it('probes each line through its own source address, one fping run per line', async () => {
    const [line1, line2] = lines as [Line, Line];
    const before = fping.spawned;
    const [one, two] = await Promise.all([poll(icmp(line1)), poll(icmp(line2))]);
    expect(fping.spawned - before).toBe(2);
    expect(fieldsOf(one)).toMatchObject({ ok: 1, loss_pct: 0 });
    expect(fieldsOf(two)).toMatchObject({ ok: 1, loss_pct: 0 });
  });

  it('line 2 going down: its probe is unreachable (timeout) while line 1 stays up; back up, it answers again', async () => {
    const [line1, line2] = lines as [Line, Line];
    sh('ip', ['-n', line2.ns, 'link', 'set', line2.nsVeth, 'down']);
    try {
      const [one, two] = await Promise.allSettled([poll(icmp(line1)), poll(icmp(line2))]);
      expect(one.status === 'fulfilled' && fieldsOf(one.value)).toMatchObject({ ok: 1, loss_pct: 0 });
      expect(two.status === 'rejected' && two.reason).toMatchObject({ name: 'DeviceUnreachableError', reason: 'timeout', message: `ICMP ${line2.remote}: no echo reply to 3 pings` });
      // A TCP service behind the dead line times out as well (nothing refuses: nothing answers).
      expect(await down(probeTcpDriver, { address: `${line2.remote}:80`, options: { sourceAddress: line2.local }, timeoutMs: 500 })).toMatchObject({ reason: 'timeout' });
    } finally {
      sh('ip', ['-n', line2.ns, 'link', 'set', line2.nsVeth, 'up']);
    }
    await waitFor('line 2 back', async () => fieldsOf(await poll(icmp(line2))).loss_pct === 0, 10_000, 200);
    expect(await down(probeTcpDriver, { address: `${line2.remote}:80`, options: { sourceAddress: line2.local } })).toMatchObject({ reason: 'refused' });
  });

  it('random loss on a line (iptables statistic drop inside the namespace) is loss_pct, not down, and the loss rule fires', async () => {
    const [line1] = lines as [Line];
    const rule = ['INPUT', '-p', 'icmp', '-m', 'statistic', '--mode', 'random', '--probability', '0.5', '-j', 'DROP'];
    sh('ip', ['netns', 'exec', line1.ns, 'iptables', '-A', ...rule]);
    let fields: Record<string, unknown>;
    try {
      fields = fieldsOf(await poll(icmp(line1, { count: 20, periodMs: 20 })));
    } finally {
      sh('ip', ['netns', 'exec', line1.ns, 'iptables', '-D', ...rule]);
    }
    expect(fields.ok).toBe(1);
    expect(fields.loss_pct).toBeGreaterThanOrEqual(20);
    expect(fields.loss_pct).toBeLessThanOrEqual(80);
    const engine = proposedRules();
    const now = Date.now();
    const at = (t: number) => metricsToPoints({ site: 'merkez', device: 'hat-1' }, 'link', { v: 1, ts: t, metrics: [{ name: 'probe', fields: fields as Record<string, number> }] });
    expect(engine.observe(at(now - 6 * MIN), now - 6 * MIN).map((c) => [c.alert.rule, c.to])).toEqual([['line_packet_loss', 'pending']]);
    expect(engine.observe(at(now), now).map((c) => [c.alert.rule, c.to, c.alert.value])).toEqual([['line_packet_loss', 'firing', fields.loss_pct]]);
    expect(fieldsOf(await poll(icmp(line1, { count: 10, periodMs: 20 })))).toMatchObject({ loss_pct: 0 });
  });

  it('through the real poller: line 2 down goes offline (reason timeout) and the proposed rule alerts for line 2 only', async () => {
    const [, line2] = lines as [Line, Line];
    const devices = lines.map((line, i) => ({ site: 'merkez', id: `hat-${i + 1}`, address: line.remote, profile: 'probe-icmp', intervalS: 1, timeoutMs: 300, options: { count: 2, periodMs: 50, sourceAddress: line.local } }));
    const { plans, errors } = planDevices({ devices: devicesFileSchema.parse({ devices }), secrets: {}, profiles: PROFILES, drivers: DRIVERS, defaultIntervalS: 60 });
    expect(errors).toEqual([]);
    const delivered: { address: DeviceAddress; message: DeviceMessage; at: number }[] = [];
    const poller = new DevicePoller({ drivers: DRIVERS, concurrency: 4, language: 'tr', deliver: (address, message, at) => delivered.push({ address, message, at }), log: createLogger({ name: 'test', write: () => {} }) });
    closers.push(() => poller.close());
    poller.update(plans);
    const states = (device: string) => delivered.filter((d) => d.address.device === device && d.message.channel === 'state').map((d) => d.message.body as { state: string; reason?: string });
    await waitFor('both lines online', async () => states('hat-1').length > 0 && states('hat-2').length > 0, 10_000);
    expect([...states('hat-1'), ...states('hat-2')].map((s) => s.state)).toEqual(['online', 'online']);

    sh('ip', ['-n', line2.ns, 'link', 'set', line2.nsVeth, 'down']);
    const downAt = Date.now();
    try {
      await waitFor('line 2 offline', async () => states('hat-2').at(-1)?.state === 'offline', 10_000);
      const metricsOfLine1 = () => delivered.filter((d) => d.address.device === 'hat-1' && d.message.channel === 'metrics' && d.at > downAt).length;
      await waitFor('line 1 still measured', async () => metricsOfLine1() >= 2, 10_000);
    } finally {
      sh('ip', ['-n', line2.ns, 'link', 'set', line2.nsVeth, 'up']);
    }
    expect(states('hat-1').map((s) => s.state)).toEqual(['online']);
    expect(states('hat-2').at(-1)).toMatchObject({ state: 'offline', reason: 'unreachable: timeout' });
    expect(poller.stats().unreachable).toBeGreaterThanOrEqual(1);

    const engine = proposedRules();
    const now = Date.now();
    engine.observe([stateToPoint({ site: 'merkez', device: 'hat-1' }, 'link', true, '', now - 2 * MIN), stateToPoint({ site: 'merkez', device: 'hat-2' }, 'link', false, states('hat-2').at(-1)!.reason!, now - 2 * MIN)], now - 2 * MIN);
    expect(engine.tick(now).map((c) => [c.alert.rule, c.alert.labels.device, c.to])).toEqual([['line_down', 'hat-2', 'firing']]);

    await waitFor('line 2 online again', async () => states('hat-2').at(-1)?.state === 'online', 10_000);
  });
});

// ── One dead target does not delay the others ─────────────────────────────────

describe('through the real DevicePoller', () => {
  it('a dead HTTP target (2 s timeout) does not delay live ones polled every second', async () => {
    const live = await listen(createHttpServer((_req, res) => res.end(PAGE)));
    // Accepts and never answers; records when each probe connected.
    const hung: number[] = [];
    const dead = await scripted(() => hung.push(Date.now()));
    const devices = [
      ...[1, 2, 3].map((n) => ({ site: 'merkez', id: `web-${n}`, address: `http://127.0.0.1:${live}/giris`, profile: 'probe-http', intervalS: 1, options: { keyword: 'Girişi' } })),
      { site: 'merkez', id: 'olu', address: `127.0.0.1:${dead.port}`, profile: 'probe-http', intervalS: 3, timeoutMs: 2_000 },
    ];
    const { plans, errors } = planDevices({ devices: devicesFileSchema.parse({ devices }), secrets: {}, profiles: PROFILES, drivers: DRIVERS, defaultIntervalS: 60 });
    expect(errors).toEqual([]);
    const delivered: { device: string; message: DeviceMessage; at: number }[] = [];
    const poller = new DevicePoller({ drivers: DRIVERS, concurrency: 2, language: 'tr', deliver: (address, message, at) => delivered.push({ device: address.device, message, at }), log: createLogger({ name: 'test', write: () => {} }) });
    closers.push(() => poller.close());
    poller.update(plans);

    await waitFor('the dead target offline', async () => delivered.some((d) => d.device === 'olu' && d.message.channel === 'state'), 15_000);
    const offline = delivered.find((d) => d.device === 'olu')!;
    expect(offline.message.body).toMatchObject({ state: 'offline', kind: 'service', reason: 'unreachable: timeout' });
    // The dead target's poll hung for its 2 s timeout…
    const hungFrom = hung[0]!;
    expect(offline.at - hungFrom).toBeGreaterThanOrEqual(1_900);
    // …and meanwhile every live target was polled, and answered, on its 1 s interval.
    for (const id of ['web-1', 'web-2', 'web-3']) {
      const polls = delivered.filter((d) => d.device === id && d.message.channel === 'metrics' && d.at >= hungFrom && d.at <= offline.at);
      expect(polls.length, id).toBeGreaterThanOrEqual(1);
      const probeFields = polls.map((d) => (d.message.body as { metrics: { name: string; fields: Record<string, unknown> }[] }).metrics.find((m) => m.name === 'probe')?.fields);
      expect(probeFields.every((f) => f?.ok === 1 && f.keyword_found === 1)).toBe(true);
    }
    expect(delivered.filter((d) => d.device.startsWith('web-') && d.message.channel === 'state').map((d) => (d.message.body as { state: string }).state)).toEqual(['online', 'online', 'online']);
    expect(poller.stats().unreachable).toBeGreaterThanOrEqual(1);
  });
});
