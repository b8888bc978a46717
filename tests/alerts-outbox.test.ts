import { statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { PermanentDeliveryError, type NotificationChannel, type Recipient } from '../collector/alerts/channels/channel.ts';
import { maskAddress, maskInText, Outbox, OutboxInputError, SUMMARY_SHORT_MAX, type EnqueueItem, type OutboxEntry, type OutboxOptions, type Severity } from '../collector/alerts/outbox.ts';
import { createLogger } from '../src/log.ts';
import { startSilentServer, type SilentServer } from './helpers/loopback-stubs.ts';
import { startProcess, tempDir, waitFor } from './helpers/servers.ts';

// The outbox against a real HTTP "gateway" on loopback that the test starts, stops and makes
// refuse, through a minimal channel that POSTs each message to it (the project's webhook
// channel did not exist yet when this was written). The restart case kills a real child process
// with SIGKILL in the middle of its retries and continues from the same file.

interface Received {
  at: number;
  id: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  short: string;
}

interface Gateway {
  url: string;
  /** Messages it accepted (2xx), in arrival order. */
  received: Received[];
  /** Every request, accepted or not. */
  requests: number;
  answer: { status: number; body?: string; delayMs: number };
  peak: { total: number; perRecipient: number };
  up: () => Promise<void>;
  down: () => Promise<void>;
}

const gateways: Gateway[] = [];
const silentServers: SilentServer[] = [];
const outboxes: Outbox[] = [];
const logLines: string[] = [];
const log = createLogger({ name: 'outbox-test', level: 'debug', write: (line) => logLines.push(line) });

afterEach(async () => {
  await Promise.all(outboxes.splice(0).map((o) => o.close()));
  await Promise.all(gateways.splice(0).map((g) => g.down()));
  await Promise.all(silentServers.splice(0).map((s) => s.close()));
});

async function startGateway(): Promise<Gateway> {
  const active = new Map<string, number>();
  let total = 0;
  let server: Server | undefined;
  let port = 0;
  const gateway: Gateway = {
    url: '',
    received: [],
    requests: 0,
    answer: { status: 200, delayMs: 0 },
    peak: { total: 0, perRecipient: 0 },
    async up() {
      server = createServer((req, res) => {
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (chunk: string) => (body += chunk));
        req.on('end', async () => {
          gateway.requests++;
          const message = JSON.parse(body) as Omit<Received, 'at'>;
          total++;
          active.set(message.to, (active.get(message.to) ?? 0) + 1);
          gateway.peak.total = Math.max(gateway.peak.total, total);
          gateway.peak.perRecipient = Math.max(gateway.peak.perRecipient, active.get(message.to)!);
          await new Promise((r) => setTimeout(r, gateway.answer.delayMs));
          total--;
          active.set(message.to, active.get(message.to)! - 1);
          const { status, body: text } = gateway.answer;
          if (status < 300) gateway.received.push({ at: Date.now(), ...message });
          res.writeHead(status, { 'content-type': 'application/json' }).end(text ?? JSON.stringify({ id: `gw-${gateway.received.length}` }));
        });
      });
      await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
      port = (server.address() as { port: number }).port;
      gateway.url = `http://127.0.0.1:${port}/send`;
    },
    async down() {
      if (!server?.listening) return;
      server.closeAllConnections();
      await new Promise((resolve) => server!.close(resolve));
    },
  };
  await gateway.up();
  gateways.push(gateway);
  return gateway;
}

/** POSTs the message as JSON; 4xx is a refusal for good, anything else is retried. */
function gatewayChannel(name: string, url: string): { channel: NotificationChannel; attempts: number[] } {
  const attempts: number[] = [];
  const channel: NotificationChannel = {
    name,
    addressKind: 'phone',
    async send(recipient, message, signal) {
      attempts.push(Date.now());
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: message.id, to: recipient.address, subject: message.subject, text: message.text, html: message.html, short: message.short }),
        signal,
      });
      const body = await response.text();
      if (response.ok) return { providerId: (JSON.parse(body) as { id: string }).id };
      if (response.status >= 400 && response.status < 500 && response.status !== 429) throw new PermanentDeliveryError(`gateway refused the message: ${response.status} ${body}`);
      throw new Error(`gateway answered ${response.status}`);
    },
    close: async () => {},
  };
  return { channel, attempts };
}

const ayse: Recipient = { name: 'Ayşe Yılmaz', address: '+905321234567', language: 'tr' };
const mehmet: Recipient = { name: 'Mehmet Öz', address: '0 532 765 43 21', language: 'tr' };
const john: Recipient = { name: 'John Smith', address: 'john.smith@belediye.gov.tr', language: 'en' };

let counter = 0;
function item(channel: string, recipient: Recipient, subject: string, severity: Severity = 'warning'): EnqueueItem {
  const id = `n-${++counter}`;
  return { notificationId: id, channel, recipient, severity, message: { id, subject, text: `${subject}\nAyrıntı: şube İğdır`, html: `<p>${subject}</p>`, short: subject } };
}

interface Events {
  delivered: OutboxEntry[];
  failed: { entry: OutboxEntry; error: Error }[];
  health: { channel: string; healthy: boolean; lastError?: string; at: number }[];
}

function openOutbox(file: string, channels: NotificationChannel[], settings: Partial<OutboxOptions> = {}): { outbox: Outbox; events: Events } {
  const events: Events = { delivered: [], failed: [], health: [] };
  const outbox = Outbox.open(file, {
    channels: new Map(channels.map((c) => [c.name, c])),
    log,
    retry: { initialMs: 50, maxMs: 200 },
    timeoutMs: 3_000,
    ...settings,
    onDelivered: (entry) => events.delivered.push(entry),
    onFailed: (entry, error) => events.failed.push({ entry, error }),
    onChannelHealth: (channel, healthy, lastError) => events.health.push({ channel, healthy, at: Date.now(), ...(lastError ? { lastError } : {}) }),
  });
  outboxes.push(outbox);
  return { outbox, events };
}

const file = (name = 'outbox.sqlite') => join(tempDir('outbox'), name);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('outbox delivery over a local HTTP gateway', () => {
  it('delivers each notification once, in order per recipient, several recipients at a time', async () => {
    const gateway = await startGateway();
    gateway.answer.delayMs = 80;
    const gw = gatewayChannel('gw', gateway.url);
    const { outbox, events } = openOutbox(file(), [gw.channel], { concurrency: 4 });
    const items = [
      ...[1, 2, 3, 4].map((i) => item('gw', ayse, `UPS akü ile çalışıyor — İğdır şubesi #${i}`)),
      ...[1, 2, 3, 4].map((i) => item('gw', mehmet, `Fiber hat kesildi #${i}`)),
      item('gw', john, 'Disk almost full', 'critical'),
    ];
    const { ids, refused } = outbox.enqueue(items);
    expect(refused).toBe(0);
    expect(ids.every((id) => typeof id === 'number')).toBe(true);
    outbox.start();

    await waitFor('9 deliveries', async () => events.delivered.length === 9, 10_000);
    await sleep(300);
    expect(gateway.received.map((r) => r.id).sort()).toEqual(items.map((i) => i.message.id).sort());
    // Order per recipient is the order of enqueue; one at a time per recipient, several recipients at once.
    expect(gateway.received.filter((r) => r.to === ayse.address).map((r) => r.id)).toEqual(items.slice(0, 4).map((i) => i.message.id));
    expect(gateway.received.filter((r) => r.to === mehmet.address).map((r) => r.id)).toEqual(items.slice(4, 8).map((i) => i.message.id));
    expect(gateway.peak.perRecipient).toBe(1);
    expect(gateway.peak.total).toBeGreaterThanOrEqual(2);
    expect(gateway.received[0]?.subject).toBe('UPS akü ile çalışıyor — İğdır şubesi #1');
    expect(gateway.received[0]?.text).toContain('Ayrıntı: şube İğdır');
    // The receipt's provider id is kept on the entry.
    expect(events.delivered.every((e) => e.state === 'sent' && e.attempts === 1 && e.providerId?.startsWith('gw-'))).toBe(true);
    expect(outbox.stats()).toMatchObject({ pending: 0, held: 0, sent: 9, failed: 0, refused: 0, inFlight: 0, channels: { gw: { sent: 9 } } });
    const listed = outbox.list({ state: 'sent', limit: 3 });
    expect(listed).toHaveLength(3);
    expect(listed[0]).toMatchObject({ subject: 'Disk almost full', recipient: { name: 'John Smith', address: 'j***@belediye.gov.tr' } });
  });

  it('retries with growing delays while the gateway is down and delivers once after it returns', async () => {
    const gateway = await startGateway();
    await gateway.down();
    const gw = gatewayChannel('gw', gateway.url);
    const { outbox, events } = openOutbox(file(), [gw.channel], { retry: { initialMs: 100, maxMs: 1_600 } });
    outbox.enqueue([item('gw', ayse, 'Sunucu yanıt vermiyor')]);
    outbox.start();

    await waitFor('4 attempts', async () => gw.attempts.length >= 4, 10_000);
    const gaps = gw.attempts.slice(1).map((t, i) => t - gw.attempts[i]!);
    // Full jitter draws from [base/2, base] with base = 100, 200, 400 ms: each gap at least half its base.
    expect(gaps[0]).toBeGreaterThanOrEqual(45);
    expect(gaps[1]).toBeGreaterThanOrEqual(95);
    expect(gaps[2]).toBeGreaterThanOrEqual(195);
    const [waiting] = outbox.list({ state: 'pending' });
    expect(waiting?.attempts).toBeGreaterThanOrEqual(4);
    expect(waiting?.lastError).toBeTruthy();

    await gateway.up();
    await waitFor('delivered after the outage', async () => events.delivered.length === 1, 10_000);
    await sleep(300);
    expect(gateway.received).toHaveLength(1);
    expect(events.delivered[0]?.attempts).toBe(gw.attempts.length);
    expect(events.failed).toHaveLength(0);
  });

  it('fails at once, without retrying, when the gateway refuses with 400; the number it echoes is masked', async () => {
    const gateway = await startGateway();
    gateway.answer = { status: 400, body: `{"error":"invalid number ${ayse.address.slice(1)}"}`, delayMs: 0 };
    const gw = gatewayChannel('gw', gateway.url);
    const { outbox, events } = openOutbox(file(), [gw.channel]);
    outbox.enqueue([item('gw', ayse, 'Yazıcı toner az', 'info')]);
    outbox.start();

    await waitFor('failed', async () => events.failed.length === 1, 5_000);
    await sleep(400); // several retry delays: none comes
    expect(gateway.requests).toBe(1);
    const { entry, error } = events.failed[0]!;
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(entry).toMatchObject({ state: 'failed', attempts: 1 });
    for (const text of [error.message, entry.lastError!, outbox.list({ state: 'failed' })[0]!.lastError!]) {
      expect(text).toContain('400');
      expect(text).not.toContain('5321234567');
      expect(text).toContain('+90 5** *** 45 67');
    }
    expect(outbox.stats()).toMatchObject({ failed: 1, pending: 0 });
  });

  it('gives up after maxAttempts when every attempt times out against a server that never answers', async () => {
    const silent = await startSilentServer();
    silentServers.push(silent);
    const gw = gatewayChannel('gw', silent.url);
    const { outbox, events } = openOutbox(file(), [gw.channel], { timeoutMs: 200, maxAttempts: 2 });
    outbox.enqueue([item('gw', john, 'Camera offline')]);
    const started = Date.now();
    outbox.start();

    await waitFor('given up', async () => events.failed.length === 1, 5_000);
    expect(gw.attempts).toHaveLength(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2 * 200);
    expect(events.failed[0]?.error).not.toBeInstanceOf(PermanentDeliveryError);
    expect(events.failed[0]?.entry).toMatchObject({ state: 'failed', attempts: 2 });
    expect(events.failed[0]?.entry.lastError).toMatch(/timeout|200 ms|abort/i);
  });

  it('gives up on an entry older than maxAgeMs while the gateway stays down', async () => {
    const gateway = await startGateway();
    await gateway.down();
    const gw = gatewayChannel('gw', gateway.url);
    const { outbox, events } = openOutbox(file(), [gw.channel], { maxAgeMs: 400, maxAttempts: 1_000 });
    outbox.enqueue([item('gw', ayse, 'Klima arızası')]);
    outbox.start();
    await waitFor('expired', async () => events.failed.length === 1, 5_000);
    expect(gw.attempts.length).toBeGreaterThan(1);
    expect(events.failed[0]!.entry.updatedAt - events.failed[0]!.entry.createdAt).toBeGreaterThanOrEqual(400);
  });

  it('keeps an entry for a channel that is not configured and sends it once a reload brings the channel', async () => {
    const gateway = await startGateway();
    const { outbox, events } = openOutbox(file(), []);
    outbox.enqueue([item('sonra', mehmet, 'Jeneratör devrede')]);
    outbox.start();
    await waitFor('a failed attempt', async () => (outbox.list({ state: 'pending' })[0]?.attempts ?? 0) >= 2, 5_000);
    expect(outbox.list()[0]?.lastError).toContain('"sonra" is not configured');

    outbox.setChannels(new Map([['sonra', gatewayChannel('sonra', gateway.url).channel]]));
    await waitFor('delivered after the reload', async () => events.delivered.length === 1, 5_000);
    expect(gateway.received.map((r) => r.subject)).toEqual(['Jeneratör devrede']);
    // A missing channel is a configuration matter, not a channel failing.
    expect(events.health).toHaveLength(0);
  });
});

describe('outbox across a crash', () => {
  it('continues after the process was killed with SIGKILL in the middle of its retries: each notification delivered exactly once', { timeout: 60_000 }, async () => {
    const gateway = await startGateway();
    await gateway.down();
    const path = file();
    const items = [item('gw', ayse, 'UPS akü modunda'), item('gw', ayse, 'UPS şebekeye döndü', 'info'), item('gw', mehmet, 'Switch yeniden başladı')];
    const script = join(tempDir('outbox-child'), 'child.mjs');
    const module = (relative: string) => JSON.stringify(pathToFileURL(join(import.meta.dirname, '..', relative)).href);
    // The child's channel only has to fail while the gateway is down; delivery is the parent's.
    writeFileSync(
      script,
      `import { Outbox } from ${module('collector/alerts/outbox.ts')};
import { createLogger } from ${module('src/log.ts')};
const [file, url, items] = process.argv.slice(2);
const channel = {
  name: 'gw', addressKind: 'phone', close: async () => {},
  async send(recipient, message, signal) {
    const response = await fetch(url, { method: 'POST', body: JSON.stringify({ id: message.id, to: recipient.address }), signal });
    if (!response.ok) throw new Error('gateway answered ' + response.status);
    return {};
  },
};
const outbox = Outbox.open(file, { channels: new Map([['gw', channel]]), log: createLogger({ name: 'child', level: 'debug' }), retry: { initialMs: 100, maxMs: 400 }, health: { failures: 2 } });
outbox.enqueue(JSON.parse(items));
outbox.start();
`,
    );
    const child = startProcess(process.execPath, [script, path, gateway.url, JSON.stringify(items)]);
    const retriesOf = (id: number) => child.output().split('\n').filter((l) => l.includes('will retry') && l.includes(`"entry":${id},`)).length;
    await waitFor('the child retrying, its channel reported unhealthy', async () => retriesOf(1) >= 2 && child.output().includes('notification channel unhealthy'), 20_000);
    await child.stop('SIGKILL');
    expect(child.child.signalCode).toBe('SIGKILL');
    const retriedBeforeKill = retriesOf(1);
    // Its logs name the recipients masked, never the numbers.
    expect(child.output()).toContain('+90 5** *** 45 67');
    expect(child.output()).not.toMatch(/5321234567|532 765 43 21|5327654321/);

    await gateway.up();
    const gw = gatewayChannel('gw', gateway.url);
    const { outbox, events } = openOutbox(path, [gw.channel], { health: { failures: 2 } });
    expect(outbox.stats().pending).toBe(3);
    outbox.start();
    await waitFor('all three delivered', async () => events.delivered.length === 3, 10_000);
    await sleep(500);
    expect(gateway.received.map((r) => r.id).sort()).toEqual(items.map((i) => i.message.id).sort());
    expect(gateway.received.filter((r) => r.to === ayse.address).map((r) => r.subject)).toEqual(['UPS akü modunda', 'UPS şebekeye döndü']);
    // The attempts made before the crash were kept; the unhealthy state too, so its recovery is reported.
    expect(events.delivered.find((e) => e.id === 1)!.attempts).toBeGreaterThanOrEqual(retriedBeforeKill + 1);
    expect(events.health.map((h) => [h.channel, h.healthy])).toEqual([['gw', true]]);
  });

  it('close() waits for a hung send only as long as allowed and leaves the entry in the file for the next start', async () => {
    const silent = await startSilentServer();
    silentServers.push(silent);
    const path = file();
    const gw = gatewayChannel('gw', silent.url);
    const first = openOutbox(path, [gw.channel], { timeoutMs: 20_000, closeTimeoutMs: 200 });
    first.outbox.enqueue([item('gw', john, 'Power restored')]);
    first.outbox.start();
    await waitFor('send in flight', async () => gw.attempts.length === 1, 5_000);
    const closing = Date.now();
    await first.outbox.close();
    expect(Date.now() - closing).toBeLessThan(2_000);
    expect(() => first.outbox.enqueue([item('gw', john, 'late')])).toThrow(/closed/);

    expect(statSync(path).mode & 0o777).toBe(0o600);
    const second = openOutbox(path, [gw.channel]);
    // The abandoned send is not counted as a failed attempt.
    expect(second.outbox.list()).toMatchObject([{ state: 'pending', attempts: 0, subject: 'Power restored' }]);
  });

  it('purges finished entries older than retentionDays on open and keeps unfinished ones', async () => {
    const gateway = await startGateway();
    const path = file();
    const first = openOutbox(path, [gatewayChannel('gw', gateway.url).channel]);
    first.outbox.enqueue([item('gw', ayse, 'eski ve gönderildi'), item('yok', ayse, 'eski ama gönderilmedi')]);
    first.outbox.start();
    await waitFor('delivered', async () => first.events.delivered.length === 1, 5_000);
    await first.outbox.close();

    const db = new DatabaseSync(path);
    db.prepare('UPDATE entries SET updated_at = updated_at - ?').run(31 * 86_400_000);
    db.close();
    const second = openOutbox(path, [], { retentionDays: 30 });
    expect(second.outbox.list().map((e) => [e.subject, e.state])).toEqual([['eski ama gönderilmedi', 'pending']]);
    expect(logLines.some((l) => l.includes('old notification outbox entries purged') && l.includes('"removed":1'))).toBe(true);
  });
});

describe('recipient rate limit', () => {
  it('sends perRecipient messages per window, then ONE summary naming the held ones; other recipients are unaffected; none lost', { timeout: 30_000 }, async () => {
    const gateway = await startGateway();
    const gw = gatewayChannel('gw', gateway.url);
    const windowMs = 1_500;
    const { outbox, events } = openOutbox(file(), [gw.channel], { rateLimit: { perRecipient: 5, windowMs }, concurrency: 4 });
    const toAyse = Array.from({ length: 20 }, (_, i) => item('gw', ayse, i === 10 ? 'Disk <%5> & RAID bozuk' : `Uyarı ${i + 1}: bağlantı koptu`, i === 12 ? 'critical' : 'warning'));
    const toMehmet = [1, 2, 3].map((i) => item('gw', mehmet, `Mehmet ${i}`));
    const toJohn = Array.from({ length: 7 }, (_, i) => item('gw', john, `Alert ${i + 1}`, 'info'));
    outbox.enqueue([...toAyse, ...toMehmet, ...toJohn]);
    outbox.start();

    await waitFor('both summaries', async () => events.delivered.filter((e) => e.kind === 'summary').length === 2, 10_000);
    await sleep(300);
    const forAyse = gateway.received.filter((r) => r.to === ayse.address);
    expect(forAyse.map((r) => r.id).slice(0, 5)).toEqual(toAyse.slice(0, 5).map((i) => i.message.id));
    expect(forAyse).toHaveLength(6);
    const summary = forAyse[5]!;
    expect(summary.subject).toBe('15 bildirim bekletildi');
    // Sent when the window of the first five had passed, not before.
    expect(summary.at - forAyse[0]!.at).toBeGreaterThanOrEqual(windowMs - 20);
    for (const held of toAyse.slice(5)) expect(summary.text).toContain(held.message.subject);
    expect(summary.text).toContain('en fazla 5 bildirim');
    expect(summary.html).toContain('Disk &#60;%5&#62; &#38; RAID bozuk');
    expect(summary.html).not.toContain('<%5>');
    expect(summary.short.startsWith('15 bildirim bekletildi: Uyarı 6: bağlantı koptu; ')).toBe(true);
    expect(summary.short.length).toBeLessThanOrEqual(SUMMARY_SHORT_MAX);
    expect(summary.short).toMatch(/ … \+\d+$/);

    // Another recipient on the same channel got all of his at once, long before the window opened again.
    const forMehmet = gateway.received.filter((r) => r.to === mehmet.address);
    expect(forMehmet.map((r) => r.subject)).toEqual(['Mehmet 1', 'Mehmet 2', 'Mehmet 3']);
    expect(Math.max(...forMehmet.map((r) => r.at)) - forAyse[0]!.at).toBeLessThan(windowMs / 2);
    // An English recipient gets an English summary.
    const forJohn = gateway.received.filter((r) => r.to === john.address);
    expect(forJohn.map((r) => r.subject)).toEqual(['Alert 1', 'Alert 2', 'Alert 3', 'Alert 4', 'Alert 5', '2 notifications held back']);
    expect(forJohn[5]!.text).toContain('At most 5 notifications go to one recipient per 2 s');
    expect(forJohn[5]!.short).toBe('2 notifications held back: Alert 6; Alert 7');

    // Nothing lost: every notification is sent or named by a summary that was sent.
    const entries = outbox.list({ limit: 1_000 });
    expect(entries).toHaveLength(20 + 3 + 7 + 2);
    const summaryEntry = entries.find((e) => e.kind === 'summary' && e.recipient.name === ayse.name)!;
    expect(summaryEntry).toMatchObject({ state: 'sent', severity: 'critical' });
    const summarised = entries.filter((e) => e.state === 'summarised');
    expect(summarised).toHaveLength(15 + 2);
    expect(summarised.filter((e) => e.summaryId === summaryEntry.id).map((e) => e.notificationId).sort()).toEqual(toAyse.slice(5).map((i) => i.notificationId).sort());
    expect(outbox.stats()).toMatchObject({ pending: 0, held: 0, sent: 5 + 1 + 3 + 5 + 1, summarised: 17, failed: 0 });
    expect(gateway.received).toHaveLength(15);
  });
});

describe('channel health', () => {
  it('reports a channel unhealthy once after K failed attempts and healthy once on its next success', async () => {
    const gateway = await startGateway();
    await gateway.down();
    const gw = gatewayChannel('gw', gateway.url);
    const { outbox, events } = openOutbox(file(), [gw.channel], { health: { failures: 3, failingMs: 600_000 }, retry: { initialMs: 30, maxMs: 60 } });
    outbox.enqueue([item('gw', ayse, 'Kamera kayıt yapmıyor')]);
    outbox.start();

    await waitFor('7 failed attempts', async () => gw.attempts.length >= 7, 10_000);
    expect(events.health).toHaveLength(1);
    expect(events.health[0]).toMatchObject({ channel: 'gw', healthy: false });
    expect(events.health[0]!.lastError).toBeTruthy();
    // Fired with the third failure: after the third attempt, before the fourth.
    expect(events.health[0]!.at).toBeGreaterThanOrEqual(gw.attempts[2]!);
    expect(events.health[0]!.at).toBeLessThanOrEqual(gw.attempts[3]!);

    await gateway.up();
    await waitFor('delivered', async () => events.delivered.length === 1, 5_000);
    outbox.enqueue([item('gw', ayse, 'Kamera yeniden kayıtta')]);
    await waitFor('second delivered', async () => events.delivered.length === 2, 5_000);
    expect(events.health.map((h) => h.healthy)).toEqual([false, true]);
  });

  it('reports a channel unhealthy when it has been failing longer than failingMs, even with few attempts', async () => {
    const gateway = await startGateway();
    await gateway.down();
    const gw = gatewayChannel('gw', gateway.url);
    const { outbox, events } = openOutbox(file(), [gw.channel], { health: { failures: 1_000, failingMs: 300 }, retry: { initialMs: 100, maxMs: 100 } });
    outbox.enqueue([item('gw', mehmet, 'Hat düştü')]);
    outbox.start();
    await waitFor('unhealthy', async () => events.health.length === 1, 5_000);
    expect(events.health[0]).toMatchObject({ channel: 'gw', healthy: false });
    expect(events.health[0]!.at - gw.attempts[0]!).toBeGreaterThanOrEqual(300);
    expect(gw.attempts.length).toBeLessThan(10);
  });
});

describe('bounded outbox', () => {
  it('refuses and counts what does not fit: a new info one is turned away, a new critical one pushes out the oldest info one', async () => {
    const gateway = await startGateway();
    const path = file();
    const first = openOutbox(path, [gatewayChannel('gw', gateway.url).channel], { maxPending: 3 });
    const { outbox } = first;
    expect(outbox.enqueue(['i1', 'i2', 'i3'].map((s) => item('gw', ayse, s, 'info'))).refused).toBe(0);
    expect(outbox.enqueue([item('gw', ayse, 'i4', 'info')])).toEqual({ ids: [null], refused: 1 });
    const critical = outbox.enqueue([item('gw', ayse, 'c1', 'critical')]);
    expect(critical.refused).toBe(0);
    expect(typeof critical.ids[0]).toBe('number');
    expect(outbox.enqueue([item('gw', ayse, 'c2', 'critical'), item('gw', mehmet, 'c3', 'warning')]).refused).toBe(0);
    // Nothing info-level left to push out: the new one is refused, whatever its severity.
    expect(outbox.enqueue([item('gw', mehmet, 'c4', 'critical')]).refused).toBe(1);

    expect(outbox.stats()).toMatchObject({ pending: 3, refused: 5, channels: { gw: { pending: 3, refused: 5 } } });
    expect(outbox.list({ state: 'refused' }).map((e) => e.subject).sort()).toEqual(['i1', 'i2', 'i3']);
    expect(logLines.some((l) => l.includes('notification outbox full'))).toBe(true);

    await outbox.close();
    const second = openOutbox(path, [gatewayChannel('gw', gateway.url).channel], { maxPending: 3 });
    expect(second.outbox.stats().refused).toBe(5);
    second.outbox.start();
    await waitFor('three delivered', async () => second.events.delivered.length === 3, 5_000);
    expect(gateway.received.map((r) => r.subject).sort()).toEqual(['c1', 'c2', 'c3']);
  });
});

describe('hostile input', () => {
  it('refuses a malformed batch as a whole, naming the bad field, and writes nothing', () => {
    const { outbox } = openOutbox(':memory:', []);
    const good = item('gw', ayse, 'iyi');
    const cases: [unknown, RegExp][] = [
      [[good, { ...item('gw', ayse, 'x'), severity: 'panic' }], /\[1\]\.severity/],
      [[{ ...good, recipient: { ...ayse, address: '   ' } }], /\[0\]\.recipient\.address/],
      [[{ ...good, message: { ...good.message, subject: 'ş'.repeat(5_000) } }], /\[0\]\.message\.subject/],
      [[{ ...good, extra: 1 }], /extra/],
      [{ notificationId: 'x' }, /expected array/i],
      [[null], /\[0\]/],
    ];
    for (const [input, field] of cases) {
      expect(() => outbox.enqueue(input as EnqueueItem[])).toThrow(OutboxInputError);
      expect(() => outbox.enqueue(input as EnqueueItem[])).toThrow(field);
    }
    expect(outbox.stats()).toMatchObject({ pending: 0, refused: 0 });
    expect(() => outbox.list({ state: 'bogus' as never })).toThrow(/state/);
    expect(() => outbox.list({ limit: -1 })).toThrow(/limit/);
  });

  it('gives up an entry damaged on disk without blocking the recipient or the worker', async () => {
    const gateway = await startGateway();
    const path = file();
    const first = openOutbox(path, []);
    first.outbox.enqueue([item('gw', ayse, 'bozuk'), item('gw', ayse, 'sağlam')]);
    await first.outbox.close();
    const db = new DatabaseSync(path);
    db.prepare(`UPDATE entries SET message = '{"subject":' WHERE id = 1`).run();
    db.close();

    const { outbox, events } = openOutbox(path, [gatewayChannel('gw', gateway.url).channel]);
    expect(outbox.list().map((e) => e.subject)).toEqual(['sağlam', '?']);
    outbox.start();
    await waitFor('the readable one delivered', async () => events.delivered.length === 1, 5_000);
    expect(gateway.received.map((r) => r.subject)).toEqual(['sağlam']);
    expect(events.failed.map((f) => [f.entry.id, f.error.message])).toEqual([[1, 'entry damaged on disk: message unreadable']]);
  });

  it('refuses a file that is not an outbox with a clear error', () => {
    const path = file();
    writeFileSync(path, 'bu bir veritabanı değil '.repeat(100));
    expect(() => Outbox.open(path, { channels: new Map(), log })).toThrow(/cannot open the notification outbox .*outbox\.sqlite: file is not a database/);
  });

  it('refuses bad settings with the field named', () => {
    const base = { channels: new Map(), log };
    expect(() => Outbox.open(':memory:', { ...base, rateLimit: { perRecipient: 0, windowMs: 1_000 } })).toThrow(/rateLimit\.perRecipient/);
    expect(() => Outbox.open(':memory:', { ...base, retry: { initialMs: 1_000, maxMs: 10 } })).toThrow(/retry\.maxMs/);
    expect(() => Outbox.open(':memory:', { ...base, maxPendng: 3 } as OutboxOptions)).toThrow(/maxPendng/);
  });
});

describe('addresses are masked (KVKK)', () => {
  it('masks phone numbers in every usual Turkish form, e-mail addresses and webhook URLs', () => {
    for (const phone of ['+905321234567', '905321234567', '05321234567', '5321234567', '+90 (532) 123-45-67', '0532 123 45 67']) expect(maskAddress(phone)).toBe('+90 5** *** 45 67');
    expect(maskAddress('+4915123456789')).toBe('+49 ******* 67 89');
    expect(maskAddress('ali.veli@belediye.gov.tr')).toBe('a***@belediye.gov.tr');
    expect(maskAddress('şule@belediye.gov.tr')).toBe('ş***@belediye.gov.tr');
    expect(maskAddress('https://hooks.example.com/services/T000/B000/s3cr3t?token=x')).toBe('https://hooks.example.com/***');
    expect(maskAddress('https://user:pw@chat.example.com/hook')).toBe('https://chat.example.com/***');
    for (const junk of ['', 'adres yok', 'x'.repeat(100_000), '@', 'a@', 'http://[bad']) expect(maskAddress(junk)).toBe('***');
    const text = maskInText('550 5.1.1 <ali.veli@belediye.gov.tr>: rejected; number 905321234567 and +90 532 765 43 21 invalid');
    expect(text).not.toMatch(/ali\.veli|5321234567|765 43 21/);
    expect(text).toContain('a***@belediye.gov.tr');
  });

  it('no log line of this file carries a full address, and the masked ones are there', () => {
    const all = logLines.join('\n');
    expect(all).toContain('+90 5** *** 45 67');
    expect(all).toContain('+90 5** *** 43 21');
    expect(all).toContain('j***@belediye.gov.tr');
    expect(all).not.toMatch(/5321234567|532 765 43 21|5327654321|john\.smith/);
  });
});
