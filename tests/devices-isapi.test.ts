import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { metricSchema } from '../src/contract/schemas.ts';
import { DeviceUnreachableError, type DeviceSession, type PollOutcome } from '../collector/devices/driver.ts';
import { hikvisionIsapiDriver, HIKVISION_ISAPI_PATHS, MAX_CHANNELS, MAX_DISKS, parseIsapiAddress } from '../collector/devices/drivers/hikvision-isapi.ts';
import { deviceEntrySchema } from '../collector/devices/inventory.ts';
import { profileSchema } from '../collector/devices/profile.ts';
import type { Credential } from '../collector/devices/secrets.ts';
import { startFakeIsapi, type FakeIsapi, type FakeIsapiOptions } from './helpers/fake-isapi.ts';
import { freePort, tempDir } from './helpers/servers.ts';

// The Hikvision ISAPI driver against tests/helpers/fake-isapi.ts: no real NVR can run here, so
// a local server answers with the documented ISAPI messages behind real Digest authentication.

const PASSWORD = 'Nvr.Parola-2024';
const profile = profileSchema.parse(parse(readFileSync(new URL('../collector/devices/profiles/hikvision-isapi.yaml', import.meta.url), 'utf8')));

const servers: FakeIsapi[] = [];
const sessions: DeviceSession[] = [];
afterEach(async () => {
  for (const session of sessions.splice(0)) session.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function fake(options: FakeIsapiOptions = {}): Promise<FakeIsapi> {
  const server = await startFakeIsapi({ password: PASSWORD, ...options });
  servers.push(server);
  return server;
}

function open(address: string, options: { password?: string; timeoutMs?: number; credential?: Credential } = {}): DeviceSession {
  const device = deviceEntrySchema.parse({ site: 'merkez', id: 'nvr-1', address, profile: 'hikvision-isapi', credential: 'nvr', timeoutMs: options.timeoutMs ?? 2_000 });
  const credential = options.credential ?? { http: { username: 'admin', password: options.password ?? PASSWORD } };
  const session = hikvisionIsapiDriver.open({ device, profile, credential });
  sessions.push(session);
  return session;
}

const poll = (session: DeviceSession, ms = 10_000) => session.poll(AbortSignal.timeout(ms));

async function unreachable(promise: Promise<unknown>): Promise<DeviceUnreachableError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeviceUnreachableError);
  return error as DeviceUnreachableError;
}

const MIB = 1024 * 1024;
const disk = (outcome: PollOutcome, id: string) => outcome.metrics.find((m) => m.name === 'nvr_disk' && m.tags?.disk === id)?.fields;
const channel = (outcome: PollOutcome, id: string) => outcome.metrics.find((m) => m.name === 'nvr_channel' && m.tags?.channel === id)?.fields;

describe('hikvision-isapi driver', () => {
  it('has a profile that validates and names the driver', () => {
    expect(profile).toMatchObject({ id: 'hikvision-isapi', driver: 'hikvision-isapi', kind: 'nvr' });
    expect(hikvisionIsapiDriver.name).toBe(profile.driver);
  });

  it('reads a healthy NVR into exact disk and channel metrics that fit the contract', async () => {
    const nvr = await fake();
    const outcome = await poll(open(nvr.address));
    expect(outcome).toEqual({
      metrics: [
        { name: 'nvr_disk', tags: { disk: '1' }, fields: { ok: 1, status: 'ok', capacity_bytes: 1907729 * MIB, free_bytes: 476932 * MIB, used_pct: 75 } },
        { name: 'nvr_disk', tags: { disk: '2' }, fields: { ok: 1, status: 'idle', capacity_bytes: 953869 * MIB, free_bytes: 953869 * MIB, used_pct: 0 } },
        { name: 'nvr_channel', tags: { channel: '1' }, fields: { online: 1, recording: 1, video_loss: 0 } },
        { name: 'nvr_channel', tags: { channel: '2' }, fields: { online: 1, recording: 1, video_loss: 0 } },
        { name: 'nvr_channel', tags: { channel: '3' }, fields: { online: 0, recording: 0, video_loss: 1 } },
      ],
      events: [],
      problems: [],
    });
    for (const metric of outcome.metrics) expect(metricSchema.safeParse(metric).success).toBe(true);
  });

  it('shows a failed disk and a channel that went offline and stopped recording on the next poll', async () => {
    const nvr = await fake();
    const session = open(nvr.address);
    expect(disk(await poll(session), '1')).toMatchObject({ ok: 1, status: 'ok' });
    nvr.state.disks[0]!.status = 'error';
    nvr.state.disks[1]!.freeMb = 0;
    Object.assign(nvr.state.channels[1]!, { online: false, recording: false, videoLoss: true });
    const next = await poll(session);
    expect(disk(next, '1')).toMatchObject({ ok: 0, status: 'error' });
    expect(disk(next, '2')).toMatchObject({ ok: 1, free_bytes: 0, used_pct: 100 });
    expect(channel(next, '2')).toEqual({ online: 0, recording: 0, video_loss: 1 });
    expect(channel(next, '1')).toEqual({ online: 1, recording: 1, video_loss: 0 });
  });

  it('authenticates once and then reuses the nonce, following stale=true when it expires', async () => {
    const nvr = await fake({ nonceUses: 4 });
    const session = open(nvr.address);
    for (let i = 0; i < 4; i++) expect((await poll(session)).problems).toEqual([]);
    // 12 documents in 4 polls: one challenge to start, then a stale nonce every 4 requests.
    expect(nvr.stats.authorized).toBe(12);
    expect(nvr.stats.stale).toBe(2);
    expect(nvr.stats.challenged).toBe(1 + nvr.stats.stale);
  });

  it('retries once on a new connection when the NVR dropped the kept-alive one', async () => {
    const nvr = await fake({ resetKeptAlive: true });
    const session = open(nvr.address);
    for (let i = 0; i < 2; i++) expect(await poll(session)).toMatchObject({ problems: [], metrics: expect.arrayContaining([expect.objectContaining({ name: 'nvr_disk' })]) });
    // Every request after the first on a connection was dropped and sent again.
    expect(nvr.stats.resets).toBe(nvr.stats.requests - nvr.stats.resets - 1);
    expect(nvr.stats.authorized).toBe(6);
  });

  it('answers servers without qop, with SHA-256, and Basic only when the server asks for Basic', async () => {
    for (const options of [{ qop: false }, { algorithm: 'SHA-256' as const }, { auth: 'basic' as const }]) {
      const nvr = await fake(options);
      const outcome = await poll(open(nvr.address));
      expect(outcome.metrics, JSON.stringify(options)).toHaveLength(5);
      expect(nvr.stats.challenged).toBe(1);
    }
  });

  it('refuses a missing or forged digest (the fake checks the hash for real)', async () => {
    const nvr = await fake();
    const url = `http://${nvr.address}${HIKVISION_ISAPI_PATHS.storage}`;
    const bare = await fetch(url);
    expect(bare.status).toBe(401);
    const challenge = bare.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/^Digest qop="auth", realm="[^"]+", nonce="[0-9a-f]{32}"/);
    const nonce = /nonce="([^"]+)"/.exec(challenge)![1];
    const realm = /realm="([^"]+)"/.exec(challenge)![1];
    const opaque = /opaque="([^"]+)"/.exec(challenge)![1];
    const forged = `Digest username="admin", realm="${realm}", nonce="${nonce}", uri="${HIKVISION_ISAPI_PATHS.storage}", algorithm=MD5, response="${'0'.repeat(32)}", opaque="${opaque}", qop=auth, nc=00000001, cnonce="abc"`;
    expect((await fetch(url, { headers: { authorization: forged } })).status).toBe(401);
    expect(nvr.stats.authorized).toBe(0);
  });

  it('reports a wrong password as unreachable: auth, without the password in the message', async () => {
    const nvr = await fake();
    const wrong = 'Yanlis-Parola-9';
    const error = await unreachable(poll(open(nvr.address, { password: wrong })));
    expect(error.reason).toBe('auth');
    expect(error.message).toMatch(/401.*admin.*refused/);
    for (const secret of [wrong, PASSWORD]) {
      expect(error.message).not.toContain(secret);
      expect(String(error.stack)).not.toContain(secret);
    }
  });

  it('gives up with reason auth on a challenge it cannot answer and on a nonce that is always stale', async () => {
    const sha512 = await fake({ algorithm: 'SHA-512-256' });
    const unanswerable = await unreachable(poll(open(sha512.address)));
    expect(unanswerable.reason).toBe('auth');
    expect(unanswerable.message).toMatch(/no challenge this client can answer \(offered: Digest .*algorithm=SHA-512-256/);
    const alwaysStale = await fake({ nonceUses: 0 });
    const stale = await unreachable(poll(open(alwaysStale.address)));
    expect(stale.reason).toBe('auth');
    expect(stale.message).toMatch(/still HTTP 401 after 3 attempts/);
    expect(alwaysStale.stats.stale).toBe(2);
  });

  it('times out within the configured timeout when the NVR never answers', async () => {
    const nvr = await fake({ state: { failure: 'hang' } });
    const started = Date.now();
    const error = await unreachable(poll(open(nvr.address, { timeoutMs: 300 })));
    expect(error.reason).toBe('timeout');
    expect(error.message).toMatch(/no answer within 300 ms/);
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('stops when the poll is aborted by its caller', async () => {
    const nvr = await fake({ state: { failure: 'hang' } });
    const error = await unreachable(open(nvr.address, { timeoutMs: 5_000 }).poll(AbortSignal.timeout(200)));
    expect(error.reason).toBe('timeout');
    expect(error.message).toMatch(/aborted/);
  });

  it('polls a healthy NVR quickly while another one hangs', async () => {
    const hanging = await fake({ state: { failure: 'hang' } });
    const healthy = await fake();
    const started = Date.now();
    const [stuck, fine] = await Promise.allSettled([
      poll(open(hanging.address, { timeoutMs: 1_500 })),
      poll(open(healthy.address, { timeoutMs: 1_500 })).then((outcome) => ({ outcome, ms: Date.now() - started })),
    ]);
    expect(fine.status).toBe('fulfilled');
    if (fine.status === 'fulfilled') {
      expect(fine.value.outcome.metrics).toHaveLength(5);
      expect(fine.value.ms).toBeLessThan(1_000);
    }
    expect(stuck.status).toBe('rejected');
    if (stuck.status === 'rejected') expect((stuck.reason as DeviceUnreachableError).reason).toBe('timeout');
  });

  it('reports a closed port as unreachable: refused', async () => {
    const error = await unreachable(poll(open(`127.0.0.1:${await freePort()}`)));
    expect(error.reason).toBe('refused');
  });

  it('turns garbage and cut documents into problems, not crashes', async () => {
    const nvr = await fake({ state: { failure: 'garbage' } });
    const session = open(nvr.address);
    const garbage = await poll(session);
    expect(garbage.metrics).toEqual([]);
    expect(garbage.problems).toEqual([expect.stringMatching(/^storage: not well-formed XML/), expect.stringMatching(/^channels: not well-formed XML/), expect.stringMatching(/^workingstatus: not JSON/)]);
    nvr.state.failure = 'truncated';
    const truncated = await poll(session);
    expect(truncated.metrics).toEqual([]);
    expect(truncated.problems).toEqual([expect.stringMatching(/^storage: not well-formed XML/), expect.stringMatching(/^channels: not well-formed XML/), expect.stringMatching(/^workingstatus: not JSON/)]);
    nvr.state.failure = undefined;
    expect((await poll(session)).problems).toEqual([]);
  });

  it('refuses 10 MB answers with a clear error instead of buffering them', async () => {
    const nvr = await fake({ state: { failure: 'huge' } });
    const error = await unreachable(poll(open(nvr.address)));
    expect(error.reason).toBe('error');
    // The XML documents come chunked (counted while read), the JSON one declares its length.
    expect(error.message).toMatch(/Storage: response larger than the 2097152 bytes allowed/);
    expect(error.message).toMatch(/channels\/status: response larger than the 2097152 bytes allowed/);
    expect(error.message).toMatch(/workingstatus\?format=json: response of 10485760 bytes, more than the 2097152 allowed/);
  });

  it('skips values of the wrong type, a missing id and a huge string, keeping the rest', async () => {
    const nvr = await fake({ state: { failure: 'wrongTypes' } });
    const outcome = await poll(open(nvr.address));
    expect(outcome.problems).toEqual([
      'disk 1 capacity: expected a number of MB (got "abc")',
      `disk 2 status: longer than 64 characters (got "${'x'.repeat(40)}"… 300 characters)`,
      'channel 1 online: expected true or false (got "maybe")',
      'channels InputProxyChannelStatus[1].id: missing',
      'channel 1 record: expected 0 or 1 (got "yes")',
    ]);
    expect(disk(outcome, '1')).toEqual({ ok: 1, status: 'ok', free_bytes: 476932 * MIB });
    expect(disk(outcome, '2')).toEqual({ capacity_bytes: 953869 * MIB, free_bytes: 953869 * MIB, used_pct: 0 });
    // Channel 1 keeps WorkingStatus's online; channel 2, without an InputProxy id, still has its WorkingStatus state.
    expect(channel(outcome, '1')).toEqual({ online: 1, video_loss: 0 });
    expect(channel(outcome, '2')).toEqual({ online: 1, recording: 1, video_loss: 0 });
  });

  it('handles odd documents: an empty list, another root, a disk known by name only, duplicates', async () => {
    const nvr = await fake();
    const session = open(nvr.address);
    nvr.state.raw = {
      '/ISAPI/ContentMgmt/Storage': '<storage xmlns="http://www.hikvision.com/ver20/XMLSchema"><hddList/></storage>',
      '/ISAPI/ContentMgmt/InputProxy/channels/status': '<ResponseStatus><statusCode>4</statusCode></ResponseStatus>',
      '/ISAPI/System/workingstatus': '{"JSON_WorkingStatus": {"ChanStatus": []}}',
    };
    expect(await poll(session)).toEqual({
      metrics: [],
      events: [],
      problems: ['channels: expected <InputProxyChannelStatusList>', 'workingstatus: expected {"WorkingStatus": {"ChanStatus": [...]}}'],
    });
    nvr.state.raw = {
      '/ISAPI/ContentMgmt/Storage': '<hik:storage xmlns:hik="http://www.hikvision.com/ver20/XMLSchema"><hik:hddList><hik:hdd><hik:hddName>sata-1</hik:hddName><hik:status>ok</hik:status><hik:capacity>100</hik:capacity><hik:freeSpace>150.5</hik:freeSpace></hik:hdd></hik:hddList></hik:storage>',
      '/ISAPI/ContentMgmt/InputProxy/channels/status': '<InputProxyChannelStatusList><InputProxyChannelStatus><id>7</id><online>true</online></InputProxyChannelStatus><InputProxyChannelStatus><id>7</id><online>false</online></InputProxyChannelStatus></InputProxyChannelStatusList>',
      '/ISAPI/System/workingstatus': '{"WorkingStatus": {"ChanStatus": [{"chanNo": 7, "online": 0, "record": 0, "signal": 0}]}}',
    };
    const odd = await poll(session);
    expect(odd.metrics).toEqual([
      { name: 'nvr_disk', tags: { disk: 'sata-1' }, fields: { ok: 1, status: 'ok', capacity_bytes: 100 * MIB, free_bytes: 150.5 * MIB } },
      { name: 'nvr_channel', tags: { channel: '7' }, fields: { online: 1, recording: 0, video_loss: 0 } },
    ]);
    expect(odd.problems).toEqual(['disk sata-1: freeSpace 150.5 MB is larger than capacity 100 MB', 'channels: channel 7 listed twice, kept the first']);
  });

  it('treats a 404 on one endpoint as a problem and all of them as unreachable', async () => {
    const nvr = await fake({ state: { missing: ['/ISAPI/System/workingstatus'] } });
    const session = open(nvr.address);
    const outcome = await poll(session);
    expect(outcome.problems).toEqual(['/ISAPI/System/workingstatus?format=json: HTTP 404 (not supported by this firmware)']);
    expect(channel(outcome, '3')).toEqual({ online: 0 });
    expect(disk(outcome, '1')).toMatchObject({ ok: 1 });
    nvr.state.missing = ['/ISAPI/System/workingstatus', '/ISAPI/ContentMgmt/Storage', '/ISAPI/ContentMgmt/InputProxy/channels/status'];
    const error = await unreachable(poll(session));
    expect(error.reason).toBe('error');
    expect(error.message).toMatch(/^no ISAPI endpoint answered: .*Storage: HTTP 404/);
  });

  it('keeps at most MAX_DISKS disks and MAX_CHANNELS channels from a device that reports thousands', async () => {
    const nvr = await fake();
    nvr.state.disks = Array.from({ length: 1000 }, (_, i) => ({ id: String(i + 1), name: `hdd${i + 1}`, status: 'ok', capacityMb: 1000, freeMb: 500 }));
    nvr.state.channels = Array.from({ length: 600 }, (_, i) => ({ id: i + 1, online: true, recording: true, videoLoss: false }));
    // WorkingStatus names 100 other channels, which would take the union past the bound.
    nvr.state.raw = { '/ISAPI/System/workingstatus': JSON.stringify({ WorkingStatus: { ChanStatus: Array.from({ length: 100 }, (_, i) => ({ chanNo: 601 + i, online: 1, record: 1, signal: 0 })) } }) };
    const outcome = await poll(open(nvr.address));
    expect(outcome.metrics.filter((m) => m.name === 'nvr_disk')).toHaveLength(MAX_DISKS);
    expect(outcome.metrics.filter((m) => m.name === 'nvr_channel').map((m) => m.tags?.channel)).toEqual(Array.from({ length: MAX_CHANNELS }, (_, i) => String(i + 1)));
    expect(outcome.problems).toEqual([`storage: 1000 reported, kept the first ${MAX_DISKS}`, `channels: 600 reported, kept the first ${MAX_CHANNELS}`, `channels: ${MAX_CHANNELS + 100} in all, kept the first ${MAX_CHANNELS}`]);
  });

  it('speaks HTTPS: verifies the certificate by default, skips it only with https+insecure://', async () => {
    const dir = tempDir('isapi-tls');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=nvr.belediye.local', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const tls = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
    rmSync(dir, { recursive: true, force: true });
    const nvr = await fake({ tls });
    const error = await unreachable(poll(open(`https://${nvr.address}`)));
    expect(error.reason).toBe('error');
    expect(error.message).toMatch(/self[- ]signed/i);
    expect((await poll(open(`https+insecure://${nvr.address}`))).metrics).toHaveLength(5);
  });

  it('says clearly what is wrong with an address or a credential', () => {
    expect(parseIsapiAddress('10.0.0.5')).toEqual({ https: false, host: '10.0.0.5', port: 80, rejectUnauthorized: true });
    expect(parseIsapiAddress('HTTPS://nvr.local:8443')).toEqual({ https: true, host: 'nvr.local', port: 8443, rejectUnauthorized: true });
    expect(parseIsapiAddress('https+insecure://[fd00::5]')).toEqual({ https: true, host: 'fd00::5', port: 443, rejectUnauthorized: false });
    expect(() => parseIsapiAddress('ftp://10.0.0.5')).toThrow(/expected host, host:port, https:\/\/host/);
    expect(() => parseIsapiAddress('10.0.0.5:99999')).toThrow(/expected host/);
    expect(() => open('10.0.0.5', { credential: { snmp: { version: '2c', community: 'public' } } })).toThrow(/merkez\/nvr-1: the hikvision-isapi driver needs a credential of the form \{ http: \{ username, password \} \}/);
  });
});
