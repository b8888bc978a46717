import { once } from 'node:events';
import { readFileSync, statSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConnectionGuard } from '../collector/broker/connection-guard.ts';
import { configChanges, flattenConfig } from '../collector/security/config-audit.ts';
import { enrollmentRefusal, publishRefusal, roleAllows, subscribeAllowed } from '../collector/security/policy.ts';
import { formatToken, hashSecret, newSecret, parseToken, secretMatches } from '../collector/security/secrets.ts';
import { SecurityStore } from '../collector/security/store.ts';
import { tempDir } from './helpers/servers.ts';

// The pure decisions and the store, without a broker; the connection guard over a real
// loopback socket pair.

const merkez = { site: 'merkez', device: 'bi-pc01' };

describe('access policy', () => {
  it('orders the API roles read < operator < admin', () => {
    expect(roleAllows('admin', 'operator')).toBe(true);
    expect(roleAllows('operator', 'read')).toBe(true);
    expect(roleAllows('read', 'operator')).toBe(false);
    expect(roleAllows('operator', 'admin')).toBe(false);
  });

  it('lets a device publish only as itself, retained only on state and inventory', () => {
    expect(publishRefusal(merkez, 'muni/v1/merkez/bi-pc01/metrics', false)).toBeUndefined();
    expect(publishRefusal(merkez, 'muni/v1/merkez/bi-pc01/state', true)).toBeUndefined();
    expect(publishRefusal(merkez, 'muni/v1/merkez/bi-pc01/inventory', true)).toBeUndefined();
    expect(publishRefusal(merkez, 'muni/v1/merkez/bi-pc02/metrics', false)).toBe('publishes as merkez/bi-pc02');
    expect(publishRefusal(merkez, 'muni/v1/zabita/bi-pc01/event', false)).toBe('publishes as zabita/bi-pc01');
    expect(publishRefusal(merkez, 'muni/v1/merkez/bi-pc01/event', true)).toBe('retained message on event');
    // Commands come from the collector, never from a device — not even to itself.
    expect(publishRefusal(merkez, 'muni/v1/merkez/bi-pc02/cmd', false)).toMatch(/^not a device topic: unknown channel "cmd"/);
    expect(publishRefusal(merkez, 'baska/konu', false)).toMatch(/^not a device topic/);
  });

  it('lets a device subscribe to its own command topic only; without identity, to exact command topics', () => {
    expect(subscribeAllowed(merkez, 'muni/v1/merkez/bi-pc01/cmd')).toBe(true);
    for (const topic of ['muni/v1/merkez/bi-pc02/cmd', 'muni/v1/merkez/+/cmd', '#', 'muni/v1/merkez/bi-pc01/metrics', 'muni/v1/merkez/bi-pc01/#']) expect(subscribeAllowed(merkez, topic), topic).toBe(false);
    expect(subscribeAllowed(undefined, 'muni/v1/merkez/bi-pc02/cmd')).toBe(true);
    expect(subscribeAllowed(undefined, 'muni/v1/+/+/cmd')).toBe(false);
  });

  it('explains why an enrollment token cannot be used, checking revocation, expiry, uses and site', () => {
    const token = { site: 'merkez', expiresAt: 2_000, maxUses: 2, uses: 0, revokedAt: null };
    expect(enrollmentRefusal(token, 'merkez', 1_000)).toBeUndefined();
    expect(enrollmentRefusal(undefined, 'merkez', 1_000)).toBe('unknown enrollment token');
    expect(enrollmentRefusal({ ...token, revokedAt: 500 }, 'merkez', 1_000)).toBe('enrollment token has been revoked');
    expect(enrollmentRefusal(token, 'merkez', 2_000)).toBe('enrollment token expired at 1970-01-01T00:00:02.000Z');
    expect(enrollmentRefusal({ ...token, uses: 2 }, 'merkez', 1_000)).toBe('enrollment token is used up (2 of 2 uses)');
    expect(enrollmentRefusal(token, 'zabita', 1_000)).toBe('enrollment token is for site "merkez", not "zabita"');
  });
});

describe('configuration audit', () => {
  it('lists what changed between two configurations, never a secret', () => {
    const before = flattenConfig({ limits: { messagesPerSecond: 100 }, storage: { url: 'http://a:8086', token: 'gizli-1' }, api: { port: 8080 } });
    const after = flattenConfig({ limits: { messagesPerSecond: 50 }, storage: { url: 'http://a:8086', token: 'gizli-2' }, api: { port: 8080, tls: { certFile: '/etc/c.pem' } } });
    expect(configChanges(before, after)).toEqual(['api.tls.certFile: (unset) → "/etc/c.pem"', 'limits.messagesPerSecond: 100 → 50']);
    expect(JSON.stringify(after)).not.toContain('gizli');
    expect(configChanges(after, after)).toEqual([]);
  });
});

describe('secrets', () => {
  it('formats and parses tokens, and refuses anything else', () => {
    const secret = newSecret();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(parseToken('enr', formatToken('enr', 'a1b2c3d4e5f6', secret))).toEqual({ id: 'a1b2c3d4e5f6', secret });
    expect(parseToken('api', formatToken('enr', 'a1b2c3d4e5f6', secret))).toBeUndefined();
    for (const bad of ['', 'enr_', 'enr_a1b2c3d4e5f6', `enr_A1B2C3D4E5F6.${secret}`, `enr_a1b2c3d4e5f6.${secret}x`, `enr_a1b2c3d4e5f6.${secret.slice(1)}`]) expect(parseToken('enr', bad), bad).toBeUndefined();
  });

  it('matches a secret against its hash only', () => {
    const secret = newSecret();
    const hash = hashSecret(secret);
    expect(hash).not.toContain(secret);
    expect(secretMatches(secret, hash)).toBe(true);
    expect(secretMatches(newSecret(), hash)).toBe(false);
    expect(secretMatches(secret, 'not-hex')).toBe(false);
  });
});

describe('SecurityStore', () => {
  it('enrolls once per token use, refuses a second enrollment of an enrolled device, and lets it enroll again after revocation', () => {
    const store = SecurityStore.open(':memory:');
    const { token } = store.createEnrollmentToken({ site: 'merkez', maxUses: 3, expiresAt: Date.now() + 60_000, actor: 'test' });
    const first = store.enroll(token, merkez);
    expect(first).toMatchObject({ ok: true, username: 'merkez/bi-pc01' });
    const password = (first as { password: string }).password;
    expect(store.verifyDevice('merkez/bi-pc01', password)).toEqual(merkez);
    expect(store.enroll(token, merkez)).toMatchObject({ ok: false, reason: expect.stringMatching(/already enrolled/) });
    expect(store.revokeDevice(merkez, 'test')).toBe(true);
    expect(store.verifyDevice('merkez/bi-pc01', password)).toBeUndefined();
    expect(store.revokedSince(Date.now() - 5_000)).toEqual(['merkez/bi-pc01']);
    const again = store.enroll(token, merkez);
    expect(again.ok).toBe(true);
    expect(store.verifyDevice('merkez/bi-pc01', (again as { password: string }).password)).toEqual(merkez);
    // A refused attempt does not spend a use: two successes out of three.
    expect(store.enrollmentTokens()[0]).toMatchObject({ uses: 2, maxUses: 3 });
    store.close();
  });

  it('rotates: the new password works, the old one stops', () => {
    const store = SecurityStore.open(':memory:');
    const issued = store.issueDeviceCredentials(merkez, 'test');
    const rotated = store.rotateDeviceCredentials(issued.username, issued.password);
    expect(rotated?.password).not.toBe(issued.password);
    expect(store.verifyDevice(issued.username, issued.password)).toBeUndefined();
    expect(store.verifyDevice(issued.username, rotated!.password)).toEqual(merkez);
    expect(store.rotateDeviceCredentials(issued.username, issued.password)).toBeUndefined();
    store.close();
  });

  it('keeps only hashes: no issued secret is anywhere in its file', () => {
    const path = join(tempDir('security'), 'security.sqlite');
    const store = SecurityStore.open(path);
    const enrollment = store.createEnrollmentToken({ site: 'merkez', maxUses: 1, expiresAt: Date.now() + 60_000, actor: 'test' });
    const enrolled = store.enroll(enrollment.token, merkez) as { password: string };
    const api = store.createApiToken({ name: 'noc', role: 'read', actor: 'test' });
    expect(store.verifyApiToken(api.token)).toMatchObject({ name: 'noc', role: 'read' });
    store.close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const bytes = ['', '-wal'].map((suffix) => { try { return readFileSync(path + suffix).toString('latin1'); } catch { return ''; } }).join('');
    for (const secret of [enrollment.token.split('.')[1]!, enrolled.password, api.token.split('.')[1]!]) expect(bytes.includes(secret)).toBe(false);
  });
});

/** A loopback socket pair: what a client writes arrives at the guard on the server side. */
async function guardedPair(limits: { maxPacketBytes: number; messagesPerSecond: number; burst: number }) {
  const events = { oversize: [] as number[], malformed: 0, throttled: 0 };
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  const [socket] = (await once(server, 'connection')) as [Socket];
  const guard = new ConnectionGuard(socket, limits, { oversize: (n) => events.oversize.push(n), malformed: () => events.malformed++, throttled: () => events.throttled++ });
  const received: Buffer[] = [];
  guard.on('data', (chunk: Buffer) => received.push(chunk));
  const close = () => {
    client.destroy();
    guard.destroy();
    server.close();
  };
  return { client, guard, events, received: () => Buffer.concat(received), close };
}

/** A minimal PUBLISH packet (QoS 0) with a one-byte remaining length. */
const publishPacket = (payload: string) => {
  const topic = Buffer.from('muni/v1/a/b/metrics');
  const body = Buffer.concat([Buffer.from([0, topic.length]), topic, Buffer.from(payload)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
};

describe('ConnectionGuard', () => {
  it('passes packets through unchanged, split across any chunk boundaries', async () => {
    const pair = await guardedPair({ maxPacketBytes: 1024, messagesPerSecond: 1000, burst: 1000 });
    const stream = Buffer.concat([publishPacket('a'), Buffer.from([0xc0, 0x00]), publishPacket('bb')]);
    for (const byte of stream) pair.client.write(Buffer.from([byte]));
    await new Promise((r) => setTimeout(r, 200));
    expect(pair.received().equals(stream)).toBe(true);
    expect(pair.events).toEqual({ oversize: [], malformed: 0, throttled: 0 });
    pair.close();
  });

  it('refuses a packet from the length in its header, before its body arrives', async () => {
    const pair = await guardedPair({ maxPacketBytes: 1024, messagesPerSecond: 1000, burst: 1000 });
    const closed = once(pair.guard, 'close');
    // 10 MB announced: 0x30, then 10485760 as a varint; no body is ever sent.
    pair.client.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x05]));
    await closed;
    expect(pair.events.oversize).toEqual([1 + 4 + 10 * 1024 * 1024]);
    pair.close();
  });

  it('refuses a remaining length longer than four bytes as malformed', async () => {
    const pair = await guardedPair({ maxPacketBytes: 1024, messagesPerSecond: 1000, burst: 1000 });
    const closed = once(pair.guard, 'close');
    pair.client.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
    await closed;
    expect(pair.events.malformed).toBe(1);
    pair.close();
  });

  it('lets a burst through at once and holds the rest back to the rate, losing nothing', async () => {
    const pair = await guardedPair({ maxPacketBytes: 1024, messagesPerSecond: 20, burst: 5 });
    const packets = Array.from({ length: 15 }, (_, i) => publishPacket(`m${i}`));
    pair.client.write(Buffer.concat(packets));
    await new Promise((r) => setTimeout(r, 100));
    const early = pair.received().length;
    expect(early).toBeGreaterThanOrEqual(Buffer.concat(packets.slice(0, 5)).length);
    expect(early).toBeLessThan(Buffer.concat(packets.slice(0, 10)).length);
    expect(pair.events.throttled).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(pair.received().equals(Buffer.concat(packets))).toBe(true);
    pair.close();
  });
});
