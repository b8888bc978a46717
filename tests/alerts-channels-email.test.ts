import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressObject } from 'mailparser';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PermanentDeliveryError, type NotificationChannel, type OutgoingMessage, type Recipient } from '../collector/alerts/channels/channel.ts';
import { emailChannel } from '../collector/alerts/channels/email.ts';
import { webhookChannel } from '../collector/alerts/channels/webhook.ts';
import { createLogger } from '../src/log.ts';
import { startHttpStub, startSilentServer, type HttpStub, type SilentServer } from './helpers/loopback-stubs.ts';
import { tempDir } from './helpers/servers.ts';
import { startSmtpServer, type SmtpTestServer } from './helpers/smtp-server.ts';

// The e-mail channel against a real SMTP server (smtp-server on loopback, certificates from the
// project's private CA script) and the webhook channel against real local HTTP servers.

const USER = 'izleme';
const PASSWORD = 'Gizli-Şifre-42!';
const FROM = 'Belediye İzleme <izleme@belediye.gov.tr>';
const TURKISH = 'ğüşıöçİ ĞÜŞIÖÇ';
const ACK_URL = 'https://izleme.belediye.gov.tr/alarmlar/onayla?bildirim=n-1001&anahtar=3f9c2a7d1e5b48c0a6f4e2d19b7c5a30e8f1d2c4b6a8e0f2';

const recipient: Recipient = { name: 'Ayşe Yılmaz', address: 'ayse.yilmaz@belediye.gov.tr', language: 'tr' };
const alert = (id = 'n-1001'): OutgoingMessage => ({
  id,
  subject: 'UPS aküye geçti — Kültür Merkezi',
  text: `Kültür Merkezi UPS cihazı aküyle çalışıyor, kalan süre 18 dakika.\nKarakterler: ${TURKISH}\nOnaylamak için: ${ACK_URL}\n`,
  html: `<p>Kültür Merkezi UPS cihazı <b>aküyle</b> çalışıyor, kalan süre 18 dakika.</p><p>Karakterler: ${TURKISH}</p><p><a href="${ACK_URL}">Onayla</a></p>`,
  short: `UPS aküde: Kültür Merkezi, 18 dk. ${TURKISH}`,
});

let pki: string;
let secured: SmtpTestServer;
let plainWithAuth: SmtpTestServer;
let relay: SmtpTestServer;
const channels: NotificationChannel[] = [];
const logLines: string[] = [];
const log = createLogger({ name: 'test', level: 'debug', write: (line) => logLines.push(line) });

beforeAll(async () => {
  pki = tempDir('smtp-pki');
  for (const args of [['ca'], ['server', 'smtp', '127.0.0.1']]) execFileSync('bash', ['deploy/pki/private-ca.sh', pki, ...args], { stdio: 'pipe' });
  secured = await startSmtpServer({ tls: { keyFile: join(pki, 'smtp.key'), certFile: join(pki, 'smtp.pem'), mode: 'starttls' }, auth: { user: USER, password: PASSWORD } });
  plainWithAuth = await startSmtpServer({ auth: { user: USER, password: PASSWORD } });
  relay = await startSmtpServer();
});
afterEach(async () => {
  await Promise.all(channels.splice(0).map((channel) => channel.close()));
});
afterAll(async () => {
  await Promise.all([secured, plainWithAuth, relay].map((server) => server?.stop()));
});

function mailChannel(config: Record<string, unknown>, name = 'eposta'): NotificationChannel {
  const channel = emailChannel.create(name, emailChannel.schema.parse({ host: '127.0.0.1', from: FROM, timeoutMs: 5_000, ...config }), log);
  channels.push(channel);
  return channel;
}
/** The usual setup: STARTTLS with the private CA, a password. */
const securedChannel = (extra: Record<string, unknown> = {}) => mailChannel({ port: secured.port, auth: { user: USER, password: PASSWORD }, caFile: join(pki, 'ca.pem'), ...extra });
const signal = () => new AbortController().signal;
const firstAddress = (field: AddressObject | AddressObject[] | undefined) => (Array.isArray(field) ? field[0] : field)?.value[0];

/** mailparser leaves an unknown header as sent: undo the RFC 2047 Q encoding nodemailer gives a non-ASCII value. */
function decodeWord(value: string): string {
  const q = /^=\?UTF-8\?Q\?(.*)\?=$/i.exec(value)?.[1];
  if (q === undefined) return value;
  const bytes = q.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, '%$1');
  return decodeURIComponent(bytes);
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected the send to fail');
    },
    (error: Error) => error,
  );
}

describe('e-mail channel', () => {
  it('delivers a Turkish alert over STARTTLS with the private CA: recipient, subject, text, HTML and ack link intact', async () => {
    const before = secured.received.length;
    const receipt = await securedChannel().send(recipient, alert(), signal());
    const [got] = secured.received.slice(before);
    expect(got).toBeDefined();
    const { mail } = got!;
    expect(got!.secure).toBe(true);
    expect(got!.user).toBe(USER);
    expect(got!.envelope).toEqual({ from: 'izleme@belediye.gov.tr', to: ['ayse.yilmaz@belediye.gov.tr'] });
    expect(firstAddress(mail.to)).toEqual({ name: 'Ayşe Yılmaz', address: 'ayse.yilmaz@belediye.gov.tr' });
    expect(firstAddress(mail.from)).toEqual({ name: 'Belediye İzleme', address: 'izleme@belediye.gov.tr' });
    expect(mail.subject).toBe('UPS aküye geçti — Kültür Merkezi');
    expect(mail.text?.trimEnd()).toBe(alert().text.trimEnd());
    expect(mail.html).toContain(`Karakterler: ${TURKISH}`);
    expect(mail.html).toContain(`<a href="${ACK_URL}">Onayla</a>`);
    expect(mail.messageId).toBe('<n-1001@belediye.gov.tr>');
    expect(mail.headers.get('x-belediye-izleme-notification')).toBe('n-1001');
    expect(mail.headers.get('content-language')).toBe('tr');
    expect(receipt.providerId).toBe('<n-1001@belediye.gov.tr>');
  });

  it('gives the same notification the same Message-ID on every send, also for an id that is not msg-id text', async () => {
    const channel = securedChannel();
    const before = secured.received.length;
    for (const id of ['n-77', 'n-77', 'olay 42/ç <x>', 'olay 42/ç <x>']) await channel.send(recipient, alert(id), signal());
    const ids = secured.received.slice(before).map((r) => r.mail.messageId);
    expect(ids[0]).toBe('<n-77@belediye.gov.tr>');
    expect(ids[1]).toBe(ids[0]);
    expect(ids[2]).toMatch(/^<[0-9a-f]{32}@belediye\.gov\.tr>$/);
    expect(ids[3]).toBe(ids[2]);
    expect(decodeWord(String(secured.received.at(-1)?.mail.headers.get('x-belediye-izleme-notification')))).toBe('olay 42/ç <x>');
  });

  it('sends over TLS from the first byte (security: tls)', async () => {
    const smtps = await startSmtpServer({ tls: { keyFile: join(pki, 'smtp.key'), certFile: join(pki, 'smtp.pem'), mode: 'implicit' }, auth: { user: USER, password: PASSWORD } });
    try {
      await mailChannel({ port: smtps.port, security: 'tls', auth: { user: USER, password: PASSWORD }, caFile: join(pki, 'ca.pem') }).send(recipient, alert(), signal());
      expect(smtps.received).toHaveLength(1);
      expect(smtps.received[0]?.secure).toBe(true);
      expect(smtps.received[0]?.mail.subject).toBe('UPS aküye geçti — Kültür Merkezi');
    } finally {
      await smtps.stop();
    }
  });

  it('refuses a server without STARTTLS when security is starttls: no password, no message in clear', async () => {
    // This server would take a password and a message in clear: the client must not offer either.
    const error = await failure(mailChannel({ port: plainWithAuth.port, auth: { user: USER, password: PASSWORD } }).send(recipient, alert(), signal()));
    expect(error).not.toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toMatch(/STARTTLS/i);
    expect(plainWithAuth.counts).toEqual({ auth: 0, mailFrom: 0 });
    expect(plainWithAuth.received).toHaveLength(0);
  });

  it('refuses a server certificate the private CA did not sign (no caFile given): retryable, nothing sent', async () => {
    const before = { ...secured.counts, received: secured.received.length };
    const error = await failure(mailChannel({ port: secured.port, auth: { user: USER, password: PASSWORD } }).send(recipient, alert(), signal()));
    expect(error).not.toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toMatch(/unable to verify the first certificate.*caFile must name the CA/);
    expect({ ...secured.counts, received: secured.received.length }).toEqual(before);
  });

  it('sends in clear only with security: none (a local relay) and warns about it once', async () => {
    logLines.length = 0;
    const channel = mailChannel({ port: relay.port, security: 'none' });
    await channel.send(recipient, alert('n-1'), signal());
    await channel.send(recipient, alert('n-2'), signal());
    expect(relay.received.map((r) => [r.secure, r.mail.messageId])).toEqual([
      [false, '<n-1@belediye.gov.tr>'],
      [false, '<n-2@belediye.gov.tr>'],
    ]);
    expect(logLines.filter((line) => line.includes('without encryption'))).toHaveLength(1);
  });

  it('maps a wrong password (535) to PermanentDeliveryError that does not contain the password', async () => {
    logLines.length = 0;
    const wrong = 'Yanlış-Parola-99';
    const before = secured.received.length;
    const error = await failure(securedChannel({ auth: { user: USER, password: wrong } }).send(recipient, alert(), signal()));
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toMatch(/535/);
    const everything = [error.message, JSON.stringify(error), String(error.stack), ...logLines].join('\n');
    for (const secret of [wrong, Buffer.from(wrong).toString('base64'), Buffer.from(`\0${USER}\0${wrong}`).toString('base64')]) expect(everything).not.toContain(secret);
    expect(secured.received.length).toBe(before);
  });

  it('keeps the password out of the error even when the server repeats it in its reply', async () => {
    const careless = await startSmtpServer({ tls: { keyFile: join(pki, 'smtp.key'), certFile: join(pki, 'smtp.pem'), mode: 'starttls' }, auth: { user: USER, password: PASSWORD }, echoCredentials: true });
    try {
      const wrong = 'Yanlış-Parola-99';
      const error = await failure(mailChannel({ port: careless.port, auth: { user: USER, password: wrong }, caFile: join(pki, 'ca.pem') }).send(recipient, alert(), signal()));
      expect(error).toBeInstanceOf(PermanentDeliveryError);
      expect(error.message).toMatch(/535 5\.7\.8 Authentication credentials invalid for \[redacted\] \(\[redacted\]\)/);
      expect(error.message).not.toContain(wrong);
    } finally {
      await careless.stop();
    }
  });

  it('maps a rejected recipient (550) to PermanentDeliveryError', async () => {
    secured.rejectRecipient('eski.personel@belediye.gov.tr');
    const before = secured.received.length;
    const error = await failure(securedChannel().send({ ...recipient, address: 'eski.personel@belediye.gov.tr' }, alert(), signal()));
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toMatch(/550/);
    expect(secured.received.length).toBe(before);
  });

  it('maps a temporary 451 to a retryable error, and the retry is delivered', async () => {
    const channel = securedChannel();
    const before = secured.received.length;
    secured.failNext(1);
    const error = await failure(channel.send(recipient, alert('n-451'), signal()));
    expect(error).not.toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toMatch(/451/);
    expect(secured.received.length).toBe(before);
    await channel.send(recipient, alert('n-451'), signal());
    expect(secured.received.at(-1)?.mail.messageId).toBe('<n-451@belediye.gov.tr>');
  });

  it('fails with a retryable connection error while the server is down, and delivers once it is back', async () => {
    const channel = securedChannel({ timeoutMs: 3_000 });
    await channel.send(recipient, alert('n-before'), signal());
    await secured.stop();
    try {
      const started = Date.now();
      const error = await failure(channel.send(recipient, alert('n-down'), signal()));
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(error).not.toBeInstanceOf(PermanentDeliveryError);
      expect(error.message).toMatch(/ECONNREFUSED|ECONNECTION|ESOCKET/);
    } finally {
      await secured.start();
    }
    await channel.send(recipient, alert('n-down'), signal());
    expect(secured.received.at(-1)?.mail.messageId).toBe('<n-down@belediye.gov.tr>');
  });

  describe('against a server that accepts the connection and never greets', () => {
    let silent: SilentServer;
    beforeAll(async () => {
      silent = await startSilentServer();
    });
    afterAll(() => silent.close());
    const silentPort = () => Number(new URL(silent.url).port);

    it('gives up after timeoutMs with a retryable error', async () => {
      const started = Date.now();
      const error = await failure(mailChannel({ port: silentPort(), security: 'none', timeoutMs: 1_000 }).send(recipient, alert(), signal()));
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(900);
      expect(elapsed).toBeLessThan(4_000);
      expect(error).not.toBeInstanceOf(PermanentDeliveryError);
      expect(error.message).toMatch(/ETIMEDOUT|greeting/i);
    });

    it('rejects promptly when the signal aborts', async () => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 200);
      const started = Date.now();
      const error = await failure(mailChannel({ port: silentPort(), security: 'none', timeoutMs: 15_000 }).send(recipient, alert(), controller.signal));
      expect(Date.now() - started).toBeLessThan(1_500);
      expect(error.message).toMatch(/aborted/);
    });
  });

  it('does not send when the signal is already aborted', async () => {
    const before = { ...secured.counts, received: secured.received.length };
    const error = await failure(securedChannel().send(recipient, alert(), AbortSignal.abort()));
    expect(error.message).toMatch(/aborted/);
    expect({ mailFrom: secured.counts.mailFrom, received: secured.received.length }).toEqual({ mailFrom: before.mailFrom, received: before.received });
  });

  it('refuses hostile or malformed recipient addresses before talking to the server', async () => {
    const channel = securedChannel();
    const before = secured.counts.mailFrom;
    for (const address of ['', 'not-an-address', 'ayse@belediye.gov.tr\r\nBcc: herkes@example.com', 'Ayşe <ayse@belediye.gov.tr>', 'a@belediye.gov.tr, b@belediye.gov.tr', 'a@@belediye.gov.tr', 'x'.repeat(10_000)]) {
      const error = await failure(channel.send({ ...recipient, address }, alert(), signal()));
      expect(error, address).toBeInstanceOf(PermanentDeliveryError);
      expect(error.message).not.toContain('herkes@example.com');
    }
    expect(secured.counts.mailFrom).toBe(before);
  });

  it('cannot be made to add headers or recipients through the name, subject or id', async () => {
    const before = secured.received.length;
    const injected = '\r\nBcc: kotu@saldirgan.example';
    await securedChannel().send({ ...recipient, name: `Ayşe${injected}` }, { ...alert(`n-9${injected}`), subject: `Konu${injected}` }, signal());
    const [got] = secured.received.slice(before);
    expect(got?.envelope.to).toEqual(['ayse.yilmaz@belediye.gov.tr']);
    expect(got?.mail.bcc).toBeUndefined();
    expect([...(got?.mail.headers.keys() ?? [])]).not.toContain('bcc');
    expect(got?.mail.messageId).toMatch(/^<[0-9a-f]{32}@belediye\.gov\.tr>$/);
  });

  describe('configuration', () => {
    const issuesOf = (input: Record<string, unknown>) => {
      const result = emailChannel.schema.safeParse({ host: 'smtp.belediye.gov.tr', from: FROM, ...input });
      return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    };

    it('has the documented defaults', () => {
      expect(emailChannel.schema.parse({ host: 'smtp.belediye.gov.tr', from: FROM })).toEqual({
        host: 'smtp.belediye.gov.tr',
        from: FROM,
        port: 587,
        security: 'starttls',
        rejectUnauthorized: true,
        timeoutMs: 15_000,
      });
    });

    it('names the bad field', () => {
      expect(issuesOf({ pasword: 'x' }).join()).toMatch(/pasword/);
      expect(issuesOf({ port: 0 })[0]).toMatch(/^port:/);
      expect(issuesOf({ security: 'ssl' })[0]).toMatch(/^security:/);
      expect(issuesOf({ from: 'izleme' })[0]).toMatch(/^from: expected one address/);
      expect(issuesOf({ from: 'a@belediye.gov.tr, b@belediye.gov.tr' })[0]).toMatch(/^from:/);
      expect(issuesOf({ replyTo: 'Ayşe <ayse@belediye.gov.tr>\r\nBcc: x@y.z' })[0]).toMatch(/^replyTo:/);
      expect(issuesOf({ security: 'none', auth: { user: USER, password: PASSWORD } })[0]).toMatch(/^auth: a password is never sent over an unencrypted connection/);
      expect(issuesOf({ auth: { user: USER } })[0]).toMatch(/^auth\.password:/);
    });

    it('says which caFile it cannot read', () => {
      expect(() => mailChannel({ port: secured.port, caFile: '/nonexistent/ca.pem' })).toThrow(/caFile \/nonexistent\/ca\.pem: ENOENT/);
    });
  });
});

describe('webhook channel', () => {
  let stub: HttpStub;
  beforeAll(async () => {
    stub = await startHttpStub();
  });
  afterAll(() => stub.close());

  const hook = (config: Record<string, unknown> = {}) => {
    const channel = webhookChannel.create('sohbet', webhookChannel.schema.parse({ timeoutMs: 2_000, ...config }), log);
    channels.push(channel);
    return channel;
  };
  const to = (address: string): Recipient => ({ name: 'NOC kanalı', address, language: 'tr' });

  it('POSTs the notification as UTF-8 JSON with the configured headers', async () => {
    stub.answer(204);
    const before = stub.requests.length;
    await hook({ headers: { Authorization: 'Bearer webhook-token-123', 'X-Kaynak': 'belediye-izleme' } }).send(to(`${stub.url}/hooks/abc?kanal=noc`), alert(), signal());
    const [request] = stub.requests.slice(before);
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe('/hooks/abc?kanal=noc');
    expect(request?.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(request?.headers.authorization).toBe('Bearer webhook-token-123');
    expect(request?.headers['x-kaynak']).toBe('belediye-izleme');
    const message = alert();
    expect(JSON.parse(request?.body ?? '')).toEqual({ id: message.id, subject: message.subject, text: message.text, short: message.short });
  });

  it('treats 4xx (but 408 and 429) and redirects as permanent, 408, 429 and 5xx as retryable', async () => {
    const channel = hook();
    for (const [status, permanent] of [[400, true], [401, true], [404, true], [301, true], [408, false], [429, false], [500, false], [503, false]] as const) {
      stub.answer(status, status === 301 ? '' : '{"hata":"ayrıntı"}');
      const error = await failure(channel.send(to(`${stub.url}/gizli-yol-token`), alert(), signal()));
      expect(error instanceof PermanentDeliveryError, `HTTP ${status}`).toBe(permanent);
      expect(error.message).toContain(`HTTP ${status}`);
      // The path can hold the webhook's secret: errors name only the origin.
      expect(error.message).not.toContain('gizli-yol-token');
    }
  });

  it('refuses addresses that are not http(s) URLs without credentials, without a request', async () => {
    const channel = hook();
    const before = stub.requests.length;
    for (const address of ['', 'ftp://127.0.0.1/x', 'file:///etc/passwd', 'javascript:alert(1)', 'not a url', `http://kullanici:parola@${new URL(stub.url).host}/x`]) {
      const error = await failure(channel.send(to(address), alert(), signal()));
      expect(error, address).toBeInstanceOf(PermanentDeliveryError);
      expect(error.message).not.toContain('parola');
    }
    expect(stub.requests.length).toBe(before);
  });

  it('gives up on a server that never answers after timeoutMs, and on abort at once', async () => {
    const silent = await startSilentServer();
    try {
      let started = Date.now();
      const timedOut = await failure(hook({ timeoutMs: 500 }).send(to(`${silent.url}/hook`), alert(), signal()));
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(timedOut).not.toBeInstanceOf(PermanentDeliveryError);
      expect(timedOut.message).toMatch(/no answer within 500 ms/);

      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      started = Date.now();
      const aborted = await failure(hook({ timeoutMs: 10_000 }).send(to(`${silent.url}/hook`), alert(), controller.signal));
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(aborted.message).toMatch(/aborted/);
    } finally {
      await silent.close();
    }
  });

  it('reads at most 64 KB of an answer that never ends, and counts the 2xx as delivered', async () => {
    let written = 0;
    const endless: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(16 * 1024, 'x');
      const timer = setInterval(() => {
        if (!res.destroyed) written += chunk.length;
        res.write(chunk);
      }, 5);
      res.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => endless.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = endless.address() as { port: number };
      const started = Date.now();
      await hook({ timeoutMs: 5_000 }).send(to(`http://127.0.0.1:${port}/hook`), alert(), signal());
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(written).toBeLessThan(1024 * 1024);
    } finally {
      endless.closeAllConnections();
      await new Promise((resolve) => endless.close(resolve));
    }
  });

  it('names the bad field in its configuration', () => {
    const issues = (input: Record<string, unknown>) => {
      const result = webhookChannel.schema.safeParse(input);
      return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    };
    expect(webhookChannel.schema.parse({})).toEqual({ headers: {}, timeoutMs: 10_000 });
    expect(issues({ headers: { 'Bad Header': 'x' } })).toEqual(['headers.Bad Header: not a valid HTTP header name']);
    expect(issues({ headers: { 'Content-Type': 'text/plain' } })).toEqual(['headers.Content-Type: this header is set by the channel']);
    expect(issues({ headers: { Authorization: 'Bearer x\r\nX-Injected: 1' } })[0]).toMatch(/^headers\.Authorization: a header value must not contain line breaks/);
    expect(issues({ url: 'http://x' }).join()).toMatch(/url/);
    expect(issues({ timeoutMs: 'uzun' })[0]).toMatch(/^timeoutMs:/);
  });
});
