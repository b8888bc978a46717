import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentDeliveryError, type NotificationChannel, type OutgoingMessage, type Recipient } from '../collector/alerts/channels/channel.ts';
import { encodeUserData, fitSms, planSms, splitSms, userDataHeader } from '../collector/alerts/channels/sms-encoding.ts';
import { formatTurkishMobile, smsHttpChannel } from '../collector/alerts/channels/sms-http.ts';
import { smsIletiMerkeziChannel } from '../collector/alerts/channels/sms-iletimerkezi.ts';
import { smsNetgsmChannel } from '../collector/alerts/channels/sms-netgsm.ts';
import { smsSmppChannel } from '../collector/alerts/channels/sms-smpp.ts';
import { createLogger } from '../src/log.ts';
import { startFakeIletiMerkezi, startFakeNetgsm, startFakeSmsc, type FakeSmsc } from './helpers/sms-gateways.ts';
import { startHttpStub, startSilentServer, type HttpStub, type SilentServer } from './helpers/loopback-stubs.ts';
import { freePort, waitFor } from './helpers/servers.ts';

// SMS channels against peers on loopback: the fake Netgsm, İleti Merkezi and SMSC in
// helpers/sms-gateways.ts follow the providers' public documentation (the real services cannot
// be reached from here); the generic gateway talks to a recording HTTP stub.

const UPS = 'Kültür Merkezi UPS aküye geçti, kalan süre 12 dk';
const FIBER = 'İTFAİYE fiber bağlantısı kesildi';
const TR = { allowTurkishShift: true };
const NO_TR = { allowTurkishShift: false };

const logLines: string[] = [];
const log = createLogger({ name: 'test', level: 'debug', write: (line) => logLines.push(line) });
const ayse: Recipient = { name: 'Ayşe (nöbetçi)', address: '+90 532 123 45 67', language: 'tr' };
let sequence = 0;
function sms(short: string): OutgoingMessage {
  return { subject: short, text: short, html: short, short, id: `n-${++sequence}` };
}
const never = () => new AbortController().signal;

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the send to fail');
}

describe('SMS encoding plan', () => {
  it('plain ASCII is GSM 7-bit: 160 in one part, 153 per part beyond', () => {
    expect(planSms('UPS on battery at Kultur Merkezi', TR)).toEqual({ encoding: 'gsm7', segments: 1, septetsOrChars: 32, perSegment: 160 });
    expect(planSms('a'.repeat(160), TR).segments).toBe(1);
    expect(planSms('a'.repeat(161), TR)).toEqual({ encoding: 'gsm7', segments: 2, septetsOrChars: 161, perSegment: 153 });
    expect(planSms('a'.repeat(306), TR).segments).toBe(2);
    expect(planSms('a'.repeat(307), TR).segments).toBe(3);
    expect(planSms('', TR)).toEqual({ encoding: 'gsm7', segments: 1, septetsOrChars: 0, perSegment: 160 });
  });

  it('Turkish alert texts use the Turkish single shift table (155 / 149), or UCS-2 when it is not allowed', () => {
    // ü is in the default alphabet; ç is an ESC pair in the Turkish table.
    expect(planSms(UPS, TR)).toEqual({ encoding: 'gsm7-turkish', segments: 1, septetsOrChars: UPS.length + 1, perSegment: 155 });
    expect(planSms(UPS, NO_TR)).toEqual({ encoding: 'ucs2', segments: 1, septetsOrChars: UPS.length, perSegment: 70 });
    // İ İ ğ ı ı: five ESC pairs in 32 characters.
    expect(planSms(FIBER, TR)).toEqual({ encoding: 'gsm7-turkish', segments: 1, septetsOrChars: 37, perSegment: 155 });
    expect(planSms(`ş${'a'.repeat(153)}`, TR).segments).toBe(1);
    expect(planSms(`ş${'a'.repeat(154)}`, TR)).toEqual({ encoding: 'gsm7-turkish', segments: 2, septetsOrChars: 156, perSegment: 149 });
  });

  it('extension characters cost two septets and need no national table', () => {
    expect(planSms('€[]{}^~\\|', TR)).toEqual({ encoding: 'gsm7', segments: 1, septetsOrChars: 18, perSegment: 160 });
    expect(planSms('€'.repeat(80), NO_TR).segments).toBe(1);
    expect(planSms('€'.repeat(81), NO_TR).segments).toBe(2);
  });

  it('emoji and other non-GSM characters need UCS-2, a surrogate pair counting two', () => {
    expect(planSms('UPS 🔋 aküde', TR)).toEqual({ encoding: 'ucs2', segments: 1, septetsOrChars: 12, perSegment: 70 });
    expect(planSms(`aa${'🔋'.repeat(34)}`, TR).segments).toBe(1);
    expect(planSms(`aaa${'🔋'.repeat(34)}`, TR)).toEqual({ encoding: 'ucs2', segments: 2, septetsOrChars: 71, perSegment: 67 });
    expect(planSms('Kat 2 – arşiv', TR).encoding).toBe('ucs2');
    expect(planSms('\ud800 lone surrogate', TR).encoding).toBe('ucs2');
  });

  it('parts never split an ESC pair or a surrogate pair', () => {
    const ext = splitSms(`${'a'.repeat(152)}€${'a'.repeat(10)}`, NO_TR);
    expect(ext.parts).toEqual(['a'.repeat(152), `€${'a'.repeat(10)}`]);
    const turkish = splitSms('ş'.repeat(78), TR);
    expect(turkish.parts.map((p) => p.length)).toEqual([74, 4]);
    const emoji = splitSms(`aaa${'🔋'.repeat(34)}`, TR);
    expect(emoji.parts).toEqual([`aaa${'🔋'.repeat(32)}`, '🔋🔋']);
    expect(emoji.parts.every((p) => p.isWellFormed())).toBe(true);
  });

  it('encodes the 3GPP TS 23.038 septet values and UTF-16BE', () => {
    expect([...encodeUserData('@a€', 'gsm7')]).toEqual([0x00, 0x61, 0x1b, 0x65]);
    expect([...encodeUserData('ğİçış\\', 'gsm7-turkish')]).toEqual([0x1b, 0x67, 0x1b, 0x49, 0x1b, 0x63, 0x1b, 0x69, 0x1b, 0x73, 0x1b, 0x2f]);
    expect([...encodeUserData('Çü', 'gsm7-turkish')]).toEqual([0x09, 0x7e]);
    expect([...encodeUserData('ş🔋', 'ucs2')]).toEqual([0x01, 0x5f, 0xd8, 0x3d, 0xdd, 0x0b]);
    expect(() => encodeUserData('ğ', 'gsm7')).toThrow(/U\+011F is not in the gsm7 alphabet/);
  });

  it('builds the user data headers the capacities are derived from', () => {
    expect([...userDataHeader('gsm7')]).toEqual([]);
    expect([...userDataHeader('gsm7-turkish')]).toEqual([3, 0x24, 1, 1]);
    expect([...userDataHeader('ucs2', { ref: 7, total: 3, seq: 2 })]).toEqual([5, 0x00, 3, 7, 3, 2]);
    expect([...userDataHeader('gsm7-turkish', { ref: 300, total: 2, seq: 1 })]).toEqual([8, 0x00, 3, 300 & 0xff, 2, 1, 0x24, 1, 1]);
  });
});

describe('fitting a text into a number of parts', () => {
  const long = Array.from({ length: 12 }, (_, i) => `${i + 1}. ${UPS}`).join(' ');

  it('leaves a text that fits alone', () => {
    expect(fitSms(UPS, 1, TR)).toBe(UPS);
  });

  it('cuts a long 7-bit text at whole characters, ending in "..." so it stays 7-bit', () => {
    const cut = fitSms(long, 3, TR);
    expect(cut.endsWith('...')).toBe(true);
    expect(long.startsWith(cut.slice(0, -3))).toBe(true);
    const plan = planSms(cut, TR);
    expect(plan).toMatchObject({ encoding: 'gsm7-turkish', segments: 3 });
    // Close to full: three parts of 149 septets, less at most the ellipsis and one two-septet letter.
    expect(plan.septetsOrChars).toBeGreaterThan(3 * 149 - 6);
    expect(planSms(fitSms(long, 1, NO_TR), NO_TR)).toMatchObject({ encoding: 'ucs2', segments: 1 });
  });

  it('ends a UCS-2 text in "…" and never splits an emoji', () => {
    const cut = fitSms(`Kazan dairesi 🔥 ${'🔥'.repeat(100)}`, 2, TR);
    expect(cut.endsWith('…')).toBe(true);
    expect(cut.isWellFormed()).toBe(true);
    expect(planSms(cut, TR).segments).toBe(2);
  });

  it('normalises a decomposed İ so the text stays 7-bit', () => {
    const decomposed = 'I\u0307TFAI\u0307YE';
    expect(planSms(decomposed, TR).encoding).toBe('ucs2');
    expect(fitSms(decomposed, 1, TR)).toBe('İTFAİYE');
  });

  it('handles a huge text quickly and refuses a part count outside 1-255', () => {
    const started = Date.now();
    const cut = fitSms('ğ'.repeat(1_000_000), 3, TR);
    expect(planSms(cut, TR).segments).toBe(3);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(() => fitSms(UPS, 0, TR)).toThrow(RangeError);
  });
});

describe('Turkish mobile numbers', () => {
  it('normalises the usual ways of writing one', () => {
    for (const written of ['5321234567', '05321234567', '0532 123 45 67', '+90 (532) 123-45-67', '905321234567', '00905321234567']) {
      expect(formatTurkishMobile(written, 'national')).toBe('5321234567');
    }
    expect(formatTurkishMobile('0532 123 45 67', 'international')).toBe('905321234567');
    expect(formatTurkishMobile('0532 123 45 67', 'e164')).toBe('+905321234567');
  });

  it('refuses landlines, foreign numbers and non-numbers', () => {
    for (const bad of ['0212 555 12 12', '+4915112345678', 'ayse@belediye.bel.tr', '532123456', '53212345678', '', '5321234567; DROP']) {
      expect(formatTurkishMobile(bad, 'national')).toBeUndefined();
    }
  });
});

describe('generic HTTP gateway (sms-http)', () => {
  let stub: HttpStub;
  const hostile = 'Ali & Veli <b>"acil"</b> 100% ş=1+1\nikinci satır \\ son';
  beforeAll(async () => {
    stub = await startHttpStub();
  });
  afterAll(() => stub.close());

  function channel(config: Record<string, unknown>): NotificationChannel {
    return smsHttpChannel.create('gateway', smsHttpChannel.schema.parse({ timeoutMs: 2_000, ...config }), log);
  }
  const last = () => stub.requests[stub.requests.length - 1]!;

  it('form bodies arrive intact, with the number in the configured format', async () => {
    stub.answer(200, 'OK');
    const c = channel({ url: `${stub.url}/send`, body: 'user={{user}}&to={{to}}&text={{text}}&ref={{id}}', params: { user: 'belediye' }, phoneFormat: 'international' });
    const message = sms(hostile);
    const receipt = await c.send(ayse, message, never());
    const form = new URLSearchParams(last().body);
    expect(last().method).toBe('POST');
    expect(last().headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect([form.get('user'), form.get('to'), form.get('text'), form.get('ref')]).toEqual(['belediye', '905321234567', hostile, message.id]);
    expect(receipt).toEqual({ providerId: undefined, segments: 1 });
  });

  it('JSON bodies arrive intact', async () => {
    stub.answer(200, '{"ok":true}');
    const c = channel({ url: `${stub.url}/json`, contentType: 'application/json', body: '{"to":"{{to}}","msg":"{{text}}"}', phoneFormat: 'e164' });
    await c.send(ayse, sms(hostile), never());
    expect(JSON.parse(last().body)).toEqual({ to: '+905321234567', msg: hostile });
  });

  it('XML bodies arrive intact', async () => {
    stub.answer(200, '<ok/>');
    const c = channel({ url: `${stub.url}/xml`, contentType: 'text/xml; charset=utf-8', body: '<sms><to>{{to}}</to><text>{{text}}</text></sms>' });
    await c.send(ayse, sms(hostile), never());
    const parsed = new XMLParser({ parseTagValue: false, trimValues: false }).parse(last().body) as { sms: { to: string; text: string } };
    expect(parsed.sms).toEqual({ to: '5321234567', text: hostile });
  });

  it('GET query strings arrive intact, with Basic authentication when configured', async () => {
    stub.answer(200, '00 4711');
    const c = channel({ url: `${stub.url}/get?to={{to}}&text={{text}}`, method: 'GET', basicAuth: { username: 'u', password: 'p4ss' }, successMatch: '^00 (\\d+)' });
    const receipt = await c.send(ayse, sms(hostile), never());
    const url = new URL(last().url, stub.url);
    expect([last().method, url.searchParams.get('to'), url.searchParams.get('text')]).toEqual(['GET', '5321234567', hostile]);
    expect(last().headers.authorization).toBe(`Basic ${Buffer.from('u:p4ss').toString('base64')}`);
    expect(receipt.providerId).toBe('4711');
  });

  it('reads the answer: no success match is final unless it matches retryMatch; 401 is final, 5xx and 429 are retried', async () => {
    const c = channel({ url: `${stub.url}/get?to={{to}}&text={{text}}`, method: 'GET', params: { password: 'gizli-parola' }, successMatch: '^00 (\\d+)', retryMatch: '^100' });
    stub.answer(200, '30 gizli-parola hatali');
    const refused = await failure(c.send(ayse, sms(UPS), never()));
    expect(refused).toBeInstanceOf(PermanentDeliveryError);
    expect(refused.message).toContain('30 [redacted] hatali');
    stub.answer(200, '100');
    expect(await failure(c.send(ayse, sms(UPS), never()))).not.toBeInstanceOf(PermanentDeliveryError);
    stub.answer(401, '');
    expect(await failure(c.send(ayse, sms(UPS), never()))).toBeInstanceOf(PermanentDeliveryError);
    for (const status of [500, 503, 429]) {
      stub.answer(status, 'busy');
      const error = await failure(c.send(ayse, sms(UPS), never()));
      expect(error).not.toBeInstanceOf(PermanentDeliveryError);
      expect(error.message).toContain(`HTTP ${status}`);
    }
  });

  it('a number that is not a Turkish mobile is refused for good without a request', async () => {
    const before = stub.requests.length;
    const c = channel({ url: `${stub.url}/send`, body: 'to={{to}}&text={{text}}' });
    const error = await failure(c.send({ ...ayse, address: 'ayse@belediye.bel.tr' }, sms(UPS), never()));
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toContain('Ayşe (nöbetçi)');
    expect(stub.requests.length).toBe(before);
  });

  it('configuration mistakes are reported at the field', () => {
    const issues = (config: Record<string, unknown>) => {
      const result = smsHttpChannel.schema.safeParse(config);
      return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(issues({ url: 'http://x/send', body: 'to={{to}}&text={{text}}&p={{pasword}}', params: { password: 'x' } })).toEqual([expect.stringMatching(/^body: \{\{pasword\}\} is not available/)]);
    expect(issues({ url: 'http://x/send', body: 'to={{to}}' })).toEqual(['body: the request must contain {{text}}']);
    expect(issues({ url: 'http://x/send?to={{to}}&text={{text}}', method: 'GET', body: 'x' })).toEqual([expect.stringMatching(/^body: a GET request has no body/)]);
    expect(issues({ url: 'http://x/send', body: 'to={{to}}&text={{text}}', contentType: 'text/plain' })).toEqual([expect.stringMatching(/^contentType: expected one of/)]);
    expect(issues({ url: 'http://x/send', body: 'to={{to}}&text={{text}}', successMatch: '(' })).toEqual(['successMatch: not a valid regular expression']);
    expect(issues({ url: 'http://x/send', body: 'to={{to}}&text={{text}}', headers: { 'X-Text': '{{text}}' } })).toEqual([expect.stringMatching(/^headers.X-Text: \{\{text\}\} is not available/)]);
    expect(issues({ url: 'ftp://x', body: '{{to}}{{text}}' })).toEqual([expect.stringMatching(/^url: expected an http/)]);
  });
});

describe('Netgsm (sms-netgsm, REST v2)', () => {
  const account = { username: '8508001234', password: 'N3tgsm-Parola', headers: ['BELEDIYE'] };
  let fake: Awaited<ReturnType<typeof startFakeNetgsm>>;
  let silent: SilentServer;
  beforeAll(async () => {
    fake = await startFakeNetgsm(account);
    silent = await startSilentServer();
  });
  afterAll(async () => {
    await fake.close();
    await silent.close();
  });

  const channel = (overrides: Record<string, unknown> = {}) =>
    smsNetgsmChannel.create('netgsm', smsNetgsmChannel.schema.parse({ username: account.username, password: account.password, sender: 'BELEDIYE', url: `${fake.url}/sms/rest/v2/send`, timeoutMs: 500, ...overrides }), log);

  it('a Turkish alert arrives intact, to 5XXXXXXXXX, from the sender name, with encoding TR', async () => {
    const receipt = await channel().send(ayse, sms(UPS), never());
    const delivery = fake.delivered.at(-1)!;
    expect(delivery).toMatchObject({ no: '5321234567', msgheader: 'BELEDIYE', encoding: 'TR', shown: UPS });
    expect(receipt).toEqual({ providerId: delivery.jobid, segments: 1 });
  });

  it('a text without Turkish letters goes without encoding (billed as plain GSM)', async () => {
    await channel().send(ayse, sms('UPS on battery, 12 min left'), never());
    expect(fake.delivered.at(-1)).toMatchObject({ encoding: undefined, shown: 'UPS on battery, 12 min left' });
  });

  it('a long alert is cut to maxSegments before sending', async () => {
    const receipt = await channel({ maxSegments: 2 }).send(ayse, sms(`${FIBER}. `.repeat(20)), never());
    const msg = fake.delivered.at(-1)!.msg;
    expect(msg.endsWith('...')).toBe(true);
    expect(planSms(msg, TR).segments).toBe(2);
    expect(receipt.segments).toBe(2);
  });

  it('wrong credentials and an unknown sender are permanent, and the password is in no message or log', async () => {
    const wrong = await failure(channel({ password: 'yanlis-parola-123' }).send(ayse, sms(UPS), never()));
    expect(wrong).toBeInstanceOf(PermanentDeliveryError);
    expect(wrong.message).toContain('code 30');
    expect(wrong.message).not.toContain('yanlis-parola-123');
    const sender = await failure(channel({ sender: 'BASKA' }).send(ayse, sms(UPS), never()));
    expect(sender).toBeInstanceOf(PermanentDeliveryError);
    expect(sender.message).toContain('code 40');
    expect(logLines.join('\n')).not.toMatch(/yanlis-parola-123|N3tgsm-Parola/);
  });

  it('an invalid number is permanent and never reaches Netgsm', async () => {
    const before = fake.requests;
    expect(await failure(channel().send({ ...ayse, address: '0212 555 12 12' }, sms(UPS), never()))).toBeInstanceOf(PermanentDeliveryError);
    expect(fake.requests).toBe(before);
  });

  it('rate limits and system errors are retried', async () => {
    for (const failureCase of [{ code: '80' }, { code: '100' }, { code: '100', status: 500 }]) {
      fake.failNext(failureCase);
      const error = await failure(channel().send(ayse, sms(UPS), never()));
      expect(error).not.toBeInstanceOf(PermanentDeliveryError);
    }
  });

  it('Netgsm down or hanging is a retryable error within the timeout', async () => {
    const port = await freePort();
    const down = await failure(channel({ url: `http://127.0.0.1:${port}/sms/rest/v2/send` }).send(ayse, sms(UPS), never()));
    expect(down).not.toBeInstanceOf(PermanentDeliveryError);
    expect(down.message).toMatch(/could not be reached \(ECONNREFUSED\)/);
    const started = Date.now();
    const hanging = await failure(channel({ url: `${silent.url}/sms/rest/v2/send` }).send(ayse, sms(UPS), never()));
    expect(hanging).not.toBeInstanceOf(PermanentDeliveryError);
    expect(hanging.message).toContain('no answer');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("honours the caller's signal", async () => {
    const error = await failure(channel({ url: `${silent.url}/sms/rest/v2/send`, timeoutMs: 60_000 }).send(ayse, sms(UPS), AbortSignal.timeout(200)));
    expect(error.message).toContain('cancelled');
  });

  it('the sender name is limited to 11 characters', () => {
    const result = smsNetgsmChannel.schema.safeParse({ username: 'u', password: 'p', sender: 'BUYUKSEHIRBEL' });
    expect(result.success ? [] : result.error.issues.map((i) => i.path.join('.'))).toEqual(['sender']);
  });
});

describe('İleti Merkezi (sms-iletimerkezi)', () => {
  const account = { key: 'a1b2c3d4e5', hash: 'f00dfeedcafe0123456789', senders: ['BELEDIYE'] };
  let fake: Awaited<ReturnType<typeof startFakeIletiMerkezi>>;
  let silent: SilentServer;
  beforeAll(async () => {
    fake = await startFakeIletiMerkezi(account);
    silent = await startSilentServer();
  });
  afterAll(async () => {
    await fake.close();
    await silent.close();
  });

  const channel = (overrides: Record<string, unknown> = {}) =>
    smsIletiMerkeziChannel.create(
      'iletimerkezi',
      smsIletiMerkeziChannel.schema.parse({ apiKey: account.key, secretHash: account.hash, sender: 'BELEDIYE', url: `${fake.url}/v1/send-sms/json`, timeoutMs: 500, ...overrides }),
      log,
    );

  it('a Turkish alert arrives intact, as a transactional order from the sender title', async () => {
    const receipt = await channel().send(ayse, sms(FIBER), never());
    const delivery = fake.delivered.at(-1)!;
    expect(delivery).toMatchObject({ number: '5321234567', sender: 'BELEDIYE', iys: '0', text: FIBER });
    expect(receipt).toEqual({ providerId: delivery.orderId, segments: 1 });
  });

  it('sends 905XXXXXXXXX when configured', async () => {
    await channel({ phoneFormat: 'international' }).send(ayse, sms(UPS), never());
    expect(fake.delivered.at(-1)).toMatchObject({ number: '905321234567', text: UPS });
  });

  it('a wrong hash and an unapproved sender are permanent, and the secrets are in no message', async () => {
    const wrong = await failure(channel({ secretHash: 'deadbeef-wrong' }).send(ayse, sms(UPS), never()));
    expect(wrong).toBeInstanceOf(PermanentDeliveryError);
    expect(wrong.message).toContain('code 401');
    expect(wrong.message).not.toMatch(/deadbeef-wrong|a1b2c3d4e5/);
    const sender = await failure(channel({ sender: 'BASKA' }).send(ayse, sms(UPS), never()));
    expect(sender).toBeInstanceOf(PermanentDeliveryError);
    expect(sender.message).toContain('code 450');
  });

  it('an invalid number is permanent: refused here, or by İleti Merkezi (466)', async () => {
    const before = fake.requests;
    expect(await failure(channel().send({ ...ayse, address: '12345' }, sms(UPS), never()))).toBeInstanceOf(PermanentDeliveryError);
    expect(fake.requests).toBe(before);
    fake.failNext(466);
    expect(await failure(channel().send(ayse, sms(UPS), never()))).toBeInstanceOf(PermanentDeliveryError);
  });

  it('no balance and an unavailable service are retried', async () => {
    for (const code of [402, 503]) {
      fake.failNext(code);
      const error = await failure(channel().send(ayse, sms(UPS), never()));
      expect(error).not.toBeInstanceOf(PermanentDeliveryError);
    }
  });

  it('İleti Merkezi down or hanging is a retryable error within the timeout', async () => {
    const port = await freePort();
    expect(await failure(channel({ url: `http://127.0.0.1:${port}/v1/send-sms/json` }).send(ayse, sms(UPS), never()))).not.toBeInstanceOf(PermanentDeliveryError);
    const started = Date.now();
    const hanging = await failure(channel({ url: `${silent.url}/v1/send-sms/json` }).send(ayse, sms(UPS), never()));
    expect(hanging).not.toBeInstanceOf(PermanentDeliveryError);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('a sender title with Turkish letters is refused in the configuration', () => {
    const result = smsIletiMerkeziChannel.schema.safeParse({ apiKey: 'k', secretHash: 'h', sender: 'BELEDİYE' });
    expect(result.success ? [] : result.error.issues.map((i) => i.path.join('.'))).toEqual(['sender']);
  });
});

describe('SMPP (sms-smpp)', () => {
  const account = { systemId: 'belediye', password: 'smpp1234' };
  let smsc: FakeSmsc;
  const open: NotificationChannel[] = [];
  beforeAll(async () => {
    smsc = await startFakeSmsc(account);
  });
  afterAll(async () => {
    await Promise.all(open.map((c) => c.close()));
    await smsc.close();
  });

  function channel(overrides: Record<string, unknown> = {}): NotificationChannel {
    const c = smsSmppChannel.create('smpp', smsSmppChannel.schema.parse({ url: smsc.url, systemId: account.systemId, password: account.password, sender: 'BELEDIYE', timeoutMs: 1_000, ...overrides }), log);
    open.push(c);
    return c;
  }
  const long = `${UPS}. Jeneratör devreye girmedi, bilgi işlem müdürlüğü ekibi şu an sahada; ikinci kat sunucu odası ısınıyor, klima arızalı.`;

  it('binds and delivers a Turkish alert as UCS-2 to 905XXXXXXXXX', async () => {
    const receipt = await channel().send(ayse, sms(UPS), never());
    expect(smsc.messages.at(-1)).toEqual({ from: 'BELEDIYE', to: '905321234567', text: UPS, parts: 1, dataCoding: 0x08, turkishShift: false });
    expect(smsc.parts.at(-1)).toMatchObject({ sourceTon: 5, destinationTon: 1, esmClass: 0, udh: [] });
    expect(receipt).toEqual({ providerId: expect.stringMatching(/^m\d+$/), segments: 1 });
  });

  it('a GSM text goes as data_coding 0 with its extension characters intact', async () => {
    const text = 'Sicaklik 41C [limit 35] {oda-2} ~ 100€ | A\\B ^';
    await channel().send(ayse, sms(text), never());
    expect(smsc.messages.at(-1)).toMatchObject({ text, dataCoding: 0x00, parts: 1 });
  });

  it('a long Turkish message goes in the predicted number of concatenated parts and reassembles', async () => {
    const predicted = planSms(long, NO_TR);
    expect(predicted).toMatchObject({ encoding: 'ucs2', segments: 3 });
    const before = smsc.parts.length;
    const receipt = await channel().send(ayse, sms(long), never());
    const parts = smsc.parts.slice(before);
    expect(parts.length).toBe(predicted.segments);
    expect(new Set(parts.map((p) => p.concat?.ref)).size).toBe(1);
    expect(parts.map((p) => [p.concat?.seq, p.concat?.total, p.esmClass & 0x40])).toEqual([
      [1, 3, 0x40],
      [2, 3, 0x40],
      [3, 3, 0x40],
    ]);
    expect(smsc.messages.at(-1)).toMatchObject({ text: long, parts: 3 });
    expect(receipt.segments).toBe(3);
  });

  it('with nationalLanguageShift the same message stays 7-bit with the Turkish shift IE in every part', async () => {
    const predicted = planSms(long, TR);
    expect(predicted).toMatchObject({ encoding: 'gsm7-turkish', segments: 2 });
    const before = smsc.parts.length;
    const receipt = await channel({ nationalLanguageShift: true }).send(ayse, sms(long), never());
    const parts = smsc.parts.slice(before);
    expect(parts.map((p) => [p.dataCoding, p.turkishShift, p.concat?.seq])).toEqual([
      [0, true, 1],
      [0, true, 2],
    ]);
    expect(smsc.messages.at(-1)).toMatchObject({ text: long, parts: 2, turkishShift: true });
    expect(receipt.segments).toBe(2);
  });

  it('a wrong password or system id is permanent, and the password is in no message', async () => {
    const wrong = await failure(channel({ password: 'yanlis12' }).send(ayse, sms(UPS), never()));
    expect(wrong).toBeInstanceOf(PermanentDeliveryError);
    expect(wrong.message).toContain('0x0000000e');
    expect(wrong.message).not.toContain('yanlis12');
    expect(await failure(channel({ systemId: 'baskasi' }).send(ayse, sms(UPS), never()))).toBeInstanceOf(PermanentDeliveryError);
  });

  it('an invalid number is permanent; the SMSC refusing a destination is permanent, throttling is retried', async () => {
    const c = channel();
    expect(await failure(c.send({ ...ayse, address: '+4915112345678' }, sms(UPS), never()))).toBeInstanceOf(PermanentDeliveryError);
    smsc.failNext(0x0b);
    expect(await failure(c.send(ayse, sms(UPS), never()))).toBeInstanceOf(PermanentDeliveryError);
    smsc.failNext(0x58);
    const throttled = await failure(c.send(ayse, sms(UPS), never()));
    expect(throttled).not.toBeInstanceOf(PermanentDeliveryError);
    expect(throttled.message).toContain('0x00000058');
    await c.send(ayse, sms(FIBER), never());
    expect(smsc.messages.at(-1)!.text).toBe(FIBER);
  });

  it('binds again after the connection is lost', async () => {
    const c = channel();
    await c.send(ayse, sms(UPS), never());
    const binds = smsc.binds;
    const noticed = logLines.length;
    smsc.dropSessions();
    await waitFor('the channel to notice the lost session', async () => logLines.slice(noticed).some((l) => l.includes('SMPP session closed')), 5_000, 20);
    await c.send(ayse, sms(FIBER), never());
    expect(smsc.binds).toBe(binds + 1);
    expect(smsc.messages.at(-1)!.text).toBe(FIBER);
  });

  it('an SMSC that no longer sees the session bound (0x04) gets a new bind on the next message', async () => {
    const c = channel();
    await c.send(ayse, sms(UPS), never());
    const binds = smsc.binds;
    smsc.failNext(0x04);
    expect(await failure(c.send(ayse, sms(UPS), never()))).not.toBeInstanceOf(PermanentDeliveryError);
    await waitFor('the session to be dropped', async () => {
      await c.send(ayse, sms(FIBER), never());
      return true;
    }, 5_000, 50);
    expect(smsc.binds).toBe(binds + 1);
  });

  it('keeps an idle session alive with enquire_link', async () => {
    const c = channel({ enquireLinkMs: 1_000 });
    await c.send(ayse, sms(UPS), never());
    const before = smsc.enquireLinks;
    await new Promise((r) => setTimeout(r, 1_600));
    expect(smsc.enquireLinks).toBeGreaterThan(before);
  });

  it('an SMSC that is down or never answers the bind is a retryable error within the timeout', async () => {
    const port = await freePort();
    const down = await failure(channel({ url: `smpp://127.0.0.1:${port}` }).send(ayse, sms(UPS), never()));
    expect(down).not.toBeInstanceOf(PermanentDeliveryError);
    expect(down.message).toContain('ECONNREFUSED');
    const silent = await startSilentServer();
    try {
      const started = Date.now();
      const hanging = await failure(channel({ url: silent.url.replace('http:', 'smpp:') }).send(ayse, sms(UPS), never()));
      expect(hanging).not.toBeInstanceOf(PermanentDeliveryError);
      expect(hanging.message).toContain('no bind answer');
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await silent.close();
    }
  });

  it("honours the caller's signal while binding", async () => {
    const silent = await startSilentServer();
    try {
      const started = Date.now();
      const error = await failure(channel({ url: silent.url.replace('http:', 'smpp:'), timeoutMs: 30_000 }).send(ayse, sms(UPS), AbortSignal.timeout(200)));
      expect(error.message).toContain('cancelled');
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await silent.close();
    }
  });

  it('close unbinds, and a closed channel sends nothing', async () => {
    const c = channel();
    await c.send(ayse, sms(UPS), never());
    const unbinds = smsc.unbinds;
    await c.close();
    expect(smsc.unbinds).toBe(unbinds + 1);
    expect(await failure(c.send(ayse, sms(UPS), never()))).not.toBeInstanceOf(PermanentDeliveryError);
    expect(logLines.join('\n')).not.toMatch(/smpp1234|yanlis12/);
  });
});
