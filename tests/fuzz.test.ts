import { connect, type Socket } from 'node:net';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeDeviceMessage, REJECT_REASONS } from '../src/contract/decode.ts';
import { DEVICE_KINDS, MAX_PAYLOAD_BYTES, METRIC_TAG_KEYS } from '../src/contract/schemas.ts';
import { DEVICE_CHANNELS, ID_PATTERN } from '../src/contract/topics.ts';
import { serverHardwareMetrics } from './fixtures/recorded-devices.ts';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';
import { connectClient, publish } from './helpers/mqtt-client.ts';
import { startInfluxDB, waitFor, type InfluxServer } from './helpers/servers.ts';
import { mulberry32 } from './helpers/prng.ts';

// Fuzzing the collector's two doors: raw bytes on the broker's TCP port (the connection guard
// and aedes' parser) and random payloads on valid device topics (decode → registry → storage).
// The run is random but seeded: FUZZ_SEED=<seed> replays a failure case for case.

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() >>> 0;
const RAW_CASES = 3_000;
const PAYLOAD_CASES = 3_000;
const DB = 'monitoring';
const SITE = 'merkez';
const NAME = /^[a-z][a-z0-9_]{0,63}$/;


class Rng {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

// ---- MQTT 3.1.1 encoding, by hand so that every byte can be wrong on purpose ----

function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

function mqttString(s: string | Buffer): Buffer {
  const bytes = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function packet(firstByte: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([firstByte]), varint(body.length), body]);
}

function connectPacket(clientId: string): Buffer {
  // protocol name, level 4, flags: clean session, keep-alive 60 s
  return packet(0x10, Buffer.concat([mqttString('MQTT'), Buffer.from([4, 0x02, 0, 60]), mqttString(clientId)]));
}

function publishPacket(topic: string | Buffer, payload: Buffer, qos: 0 | 1, messageId = 1): Buffer {
  const id = qos > 0 ? Buffer.from([messageId >> 8, messageId & 0xff]) : Buffer.alloc(0);
  return packet(0x30 | (qos << 1), Buffer.concat([mqttString(topic), id, payload]));
}

const PINGREQ = Buffer.from([0xc0, 0x00]);
const PINGRESP = Buffer.from([0xd0, 0x00]);
/** The packet size the guard enforces: the collector's default payload limit plus 1 KB of headers. */
const MAX_PACKET_BYTES = MAX_PAYLOAD_BYTES + 1024;

// ---- Part 1 cases: bytes sent on a fresh socket or after a CONNECT that was acknowledged ----

interface RawCase {
  label: string;
  bytes: Buffer;
  /** Sent before any CONNECT on a new socket; otherwise on an established session. */
  preConnect: boolean;
  /** The guard must count it: a 5-byte length, or an announced size over the limit, at a packet boundary. */
  expect?: 'malformed' | 'oversize';
}

const TOPICS_HOSTILE: readonly (string | Buffer)[] = [
  '',
  '#',
  '+',
  'muni/#',
  'muni/v1/+/srv/metrics',
  `muni/v1/${SITE}/#`,
  '$SYS/broker/uptime',
  '/',
  '//////',
  'muni/v1/merkez/srv\u0000/metrics',
  `muni/v1/${SITE}/şube/metrics`,
  'x'.repeat(65_535),
  Buffer.from([0xc3, 0x28]),
  Buffer.from([0xff, 0xfe, 0xfd]),
  Buffer.from([0xed, 0xa0, 0x80]), // an encoded UTF-16 surrogate, invalid in UTF-8
  Buffer.concat([Buffer.from(`muni/v1/${SITE}/`), Buffer.from([0xc0, 0xaf]), Buffer.from('/metrics')]), // overlong '/'
];

function rawCase(rng: Rng, n: number): RawCase {
  const validPublish = () => publishPacket(`muni/v1/${SITE}/fz-raw-${rng.int(4)}/${rng.pick(DEVICE_CHANNELS)}`, rng.bytes(rng.int(64)), rng.chance(0.5) ? 1 : 0, 1 + rng.int(65_535));
  switch (rng.int(12)) {
    case 0:
      return { label: 'random bytes before CONNECT', bytes: rng.bytes(1 + rng.int(rng.chance(0.1) ? 4096 : 64)), preConnect: true };
    case 1: {
      const bytes = Buffer.from(connectPacket(`fz-raw-c${n}`));
      for (let flips = 1 + rng.int(4); flips > 0; flips--) bytes[rng.int(bytes.length)]! ^= 1 << rng.int(8);
      return { label: 'CONNECT with flipped bits', bytes, preConnect: true };
    }
    case 2:
      return { label: 'random bytes after CONNECT', bytes: rng.bytes(1 + rng.int(256)), preConnect: false };
    case 3: {
      const bytes = Buffer.from(validPublish());
      for (let flips = 1 + rng.int(6); flips > 0; flips--) bytes[rng.int(bytes.length)]! ^= 1 << rng.int(8);
      return { label: 'PUBLISH with flipped bits', bytes, preConnect: false };
    }
    case 4: {
      const bytes = validPublish();
      return { label: 'truncated PUBLISH', bytes: bytes.subarray(0, rng.int(bytes.length)), preConnect: false };
    }
    case 5: {
      // four continuation bits in a row: a remaining length MQTT does not allow
      const length = Buffer.from([0x80 | rng.int(128), 0x80 | rng.int(128), 0x80 | rng.int(128), 0x80 | rng.int(128), rng.int(128)]);
      return { label: '5-byte remaining length', bytes: Buffer.concat([Buffer.from([rng.pick([0x30, 0x32, 0x82, 0xc0, 0x10])]), length, rng.bytes(rng.int(32))]), preConnect: rng.chance(0.2), expect: 'malformed' };
    }
    case 6: {
      const announced = rng.pick([268_435_455, 16_777_216, MAX_PACKET_BYTES + 1, MAX_PACKET_BYTES + 1 + rng.int(100_000_000)]);
      return { label: `absurd remaining length ${announced}`, bytes: Buffer.concat([Buffer.from([rng.pick([0x30, 0x32, 0x10, 0x82])]), varint(announced), rng.bytes(rng.int(64))]), preConnect: rng.chance(0.2), expect: 'oversize' };
    }
    case 7: {
      // a remaining length that disagrees with the body: shorter or longer, never over the limit
      const body = validPublish().subarray(2);
      const announced = rng.chance(0.5) ? rng.int(body.length) : body.length + 1 + rng.int(1_000);
      return { label: 'wrong remaining length', bytes: Buffer.concat([Buffer.from([0x32]), varint(announced), body]), preConnect: false };
    }
    case 8:
      return { label: 'unknown packet type', bytes: packet(rng.pick([0x00, 0xf0]) | rng.int(16), rng.bytes(rng.int(32))), preConnect: rng.chance(0.3) };
    case 9: {
      // reserved flags and reserved QoS 3
      const type = rng.pick([0x30 | 0x06, 0x80, 0x81, 0xa0, 0xc1, 0xe1, 0x20, 0x90, 0x10]);
      return { label: 'reserved flags or server-only packet', bytes: packet(type, rng.bytes(rng.int(16))), preConnect: false };
    }
    case 10: {
      const topic = rng.pick(TOPICS_HOSTILE);
      return { label: 'PUBLISH to a hostile topic', bytes: publishPacket(topic, Buffer.from('{"v":1}'), rng.chance(0.5) ? 1 : 0), preConnect: false };
    }
    default: {
      // a topic length beyond the packet
      const topicLength = Buffer.from([0xff, 0xff]);
      return { label: 'topic length beyond the packet', bytes: packet(0x30, Buffer.concat([topicLength, Buffer.from('muni/v1')])), preConnect: false };
    }
  }
}

type Outcome = 'closed' | 'alive' | 'hung';

/** One socket to the broker that remembers what came back since the last mark. */
class RawConnection {
  readonly socket: Socket;
  private received = Buffer.alloc(0);
  closed = false;
  private wake: (() => void) | undefined;

  constructor(port: number) {
    this.socket = connect({ port, host: '127.0.0.1' });
    this.socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]).subarray(-64);
      this.wake?.();
    });
    // ECONNRESET and EPIPE are how a broker that hung up looks from here
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  /** Sends bytes, then waits for `until` to be seen, the socket to close, or the time to pass. */
  async send(bytes: Buffer, until: Buffer, timeoutMs: number): Promise<Outcome> {
    this.received = Buffer.alloc(0);
    if (!this.closed) this.socket.write(bytes);
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && !this.received.includes(until) && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, deadline - Date.now());
      });
    }
    this.wake = undefined;
    if (this.received.includes(until)) return 'alive';
    return this.closed ? 'closed' : 'hung';
  }

  destroy(): void {
    this.socket.destroy();
  }
}

// ---- Part 2 payloads ----

const TURKISH = ['ş', 'Ş', 'ğ', 'Ğ', 'ı', 'İ', 'ç', 'Ç', 'ö', 'Ö', 'ü', 'Ü'];
const HOSTILE_PIECES = [...TURKISH, 'a', 'z', '0', ' ', ',', '=', '\\', '"', "'", '\n', '\r', '\t', '#', '+', '/', '\u0000', '😀', '\ud800', '\u202e', 'NaN', 'Infinity', '-0', '1e309', 'null', 'true'];
const KEYS = ['v', 'ts', 'seq', 'metrics', 'name', 'tags', 'fields', 'state', 'kind', 'hash', 'inventory', 'type', 'severity', 'message', 'data', '__proto__', 'constructor', 'prototype', 'time', 'toString', 'hasOwnProperty', ...METRIC_TAG_KEYS];
const NUMBERS = ['0', '-0', '1', '-1', '0.5', '9007199254740993', '1e308', '-1e308', '1e999', '-1e999', '5e-324', '1e-400', '123456789012345678901234567890', '1577836800000', '-1577836800000'];
const METRIC_NAMES = ['cpu', 'mem', 'fs', 'net', 'temp', 'smart', 'events', 'device_state', 'collector', 'constructor', 'time', 'fz_a', 'fz_b'];
const FIELD_NAMES = ['usage_pct', 'used_bytes', 'value', 'count', 'time', 'constructor', 'online', 'fz_x'];

function hostileString(rng: Rng, max = 40): string {
  const parts: string[] = [];
  for (let n = rng.int(max); n > 0; n--) parts.push(rng.pick(HOSTILE_PIECES));
  return parts.join('');
}

/** Random JSON text; written by hand because an object literal cannot own a `__proto__` key. */
function jsonText(rng: Rng, depth: number): string {
  switch (depth > 0 ? rng.int(7) : rng.int(4)) {
    case 0:
      return rng.pick(['null', 'true', 'false']);
    case 1:
      return rng.pick(NUMBERS);
    case 2:
      return JSON.stringify(hostileString(rng));
    case 3:
      return String(rng.next() * 1e6);
    case 4:
    case 5: {
      const entries: string[] = [];
      for (let n = rng.int(5); n > 0; n--) entries.push(`${JSON.stringify(rng.chance(0.8) ? rng.pick(KEYS) : hostileString(rng, 8))}:${jsonText(rng, depth - 1)}`);
      return `{${entries.join(',')}}`;
    }
    default: {
      const items: string[] = [];
      for (let n = rng.int(5); n > 0; n--) items.push(jsonText(rng, depth - 1));
      return `[${items.join(',')}]`;
    }
  }
}

function fieldValue(rng: Rng): unknown {
  return rng.pick([() => rng.next() * 100, () => rng.int(2) === 1, () => hostileString(rng), () => -rng.int(1_000_000)])();
}

/** A message that is valid for its channel more often than not, with hostile strings inside. */
function nearValid(rng: Rng, channel: string, now: number): Record<string, unknown> {
  const ts = now - rng.int(3_600_000);
  const record = (pool: readonly string[]) => Object.fromEntries(Array.from({ length: 1 + rng.int(4) }, () => [rng.pick(pool), fieldValue(rng)]));
  switch (channel) {
    case 'metrics':
      return {
        v: 1,
        ts,
        seq: rng.int(1_000),
        metrics: Array.from({ length: 1 + rng.int(4) }, () => ({
          name: rng.pick(METRIC_NAMES),
          ...(rng.chance(0.6) ? { tags: { [rng.pick(METRIC_TAG_KEYS)]: hostileString(rng) || 'x' } } : {}),
          fields: record(FIELD_NAMES),
        })),
      };
    case 'state':
      return { v: 1, ts, state: rng.pick(['online', 'offline']), kind: rng.pick(DEVICE_KINDS), reason: hostileString(rng), intervalS: 1 + rng.int(100), agent: { name: hostileString(rng, 10), version: '1.0.0' } };
    case 'inventory':
      return {
        v: 1,
        ts,
        hash: rng.bytes(8 + rng.int(24)).toString('hex'),
        inventory: { system: { manufacturer: hostileString(rng), serial: hostileString(rng) }, os: { hostname: hostileString(rng) }, users: [hostileString(rng, 10)] },
      };
    default:
      return { v: 1, ts, type: rng.pick(METRIC_NAMES), severity: rng.pick(['info', 'warning', 'critical']), message: hostileString(rng, 200), data: record(FIELD_NAMES) };
  }
}

/** Replaces, removes or wraps one value somewhere inside a parsed message. */
function mutate(rng: Rng, message: unknown): unknown {
  const slots: [Record<string, unknown> | unknown[], string | number][] = [];
  const walk = (value: unknown) => {
    if (Array.isArray(value)) {
      value.forEach((item, i) => {
        slots.push([value, i]);
        walk(item);
      });
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        slots.push([value as Record<string, unknown>, k]);
        walk(v);
      }
    }
  };
  walk(message);
  for (let n = 1 + rng.int(3); n > 0 && slots.length > 0; n--) {
    const [parent, key] = rng.pick(slots);
    const current = (parent as Record<string | number, unknown>)[key];
    const replacement = rng.pick([
      () => JSON.parse(jsonText(rng, 2)) as unknown,
      () => [current],
      // String() throws on an object without a prototype (JSON.parse of a "__proto__" key can make one).
      () => (typeof current === 'object' && current !== null ? JSON.stringify(current) : String(current)),
      () => rng.pick([Number.MAX_VALUE, -Number.MAX_VALUE, 2 ** 53 + 1, -1, 0, 1e21, 0.1]),
      () => rng.pick(['NaN', 'Infinity', '-Infinity', '', '1e309']),
      () => undefined,
      () => ({ time: 1, constructor: { prototype: { polluted: 1 } } }),
    ])();
    (parent as Record<string | number, unknown>)[key] = replacement;
  }
  return message;
}

/** Text-level damage JSON.stringify cannot produce: `__proto__` keys, number literals beyond float, cut-offs. */
function damageText(rng: Rng, text: string): string {
  switch (rng.int(4)) {
    case 0:
      return text.slice(0, rng.int(text.length));
    case 1: {
      const at = text.indexOf('{', rng.int(text.length));
      return at < 0 ? text : `${text.slice(0, at + 1)}"__proto__":{"polluted":"yes","v":1},${text.slice(at + 1)}`;
    }
    case 2:
      return text.replace(/\d+(\.\d+)?/, rng.pick(['1e999', '-1e999', `1${'0'.repeat(400)}`, 'NaN', '0x10', '01']));
    default: {
      const bytes = Buffer.from(text);
      for (let flips = 1 + rng.int(3); flips > 0; flips--) bytes[rng.int(bytes.length)]! ^= 1 << rng.int(8);
      return bytes.toString('latin1');
    }
  }
}

function payloadCase(rng: Rng, now: number): { label: string; payload: Buffer } {
  const channel = rng.pick(DEVICE_CHANNELS);
  switch (rng.int(9)) {
    case 0:
      return { label: 'random JSON', payload: Buffer.from(jsonText(rng, 5)) };
    case 1:
      return { label: 'random bytes', payload: rng.bytes(rng.int(512)) };
    case 2:
    case 3:
      return { label: 'near-valid message', payload: Buffer.from(JSON.stringify(nearValid(rng, channel, now))) };
    case 4:
      return { label: 'mutated near-valid message', payload: Buffer.from(JSON.stringify(mutate(rng, nearValid(rng, channel, now)))) };
    case 5:
      return { label: 'mutated hardware metrics', payload: Buffer.from(JSON.stringify(mutate(rng, serverHardwareMetrics(now - rng.int(60_000))))) };
    case 6:
      return { label: 'damaged JSON text', payload: Buffer.from(damageText(rng, JSON.stringify(rng.chance(0.5) ? serverHardwareMetrics(now) : nearValid(rng, channel, now))), 'latin1') };
    case 7: {
      // 50 000 levels of `{"a":` stay under the packet size limit (a bigger packet closes the connection)
      const depth = rng.pick([100, 10_000, 50_000]);
      const [open, close] = rng.chance(0.5) ? ['[', ']'] : ['{"a":', '}'];
      return { label: `nesting ${depth} deep`, payload: Buffer.from(`${open.repeat(depth)}1${rng.chance(0.8) ? close.repeat(depth) : ''}`) };
    }
    default:
      return {
        label: 'wrong types where objects are expected',
        payload: Buffer.from(JSON.stringify(rng.pick([[serverHardwareMetrics(now)], { v: 1, ts: now, metrics: { name: 'cpu' } }, { v: '1', ts: String(now), metrics: [] }, { v: 1, ts: now, metrics: [[{ name: 'cpu', fields: { usage_pct: 1 } }]] }, 'metrics', 42]))),
      };
  }
}

// ---- the run ----

async function countPoints(influx: InfluxServer, q: string): Promise<number> {
  const series = await influx.query(DB, q);
  return Number(series[0]?.values[0]?.[1] ?? 0);
}

describe(`fuzzing the collector (FUZZ_SEED=${SEED})`, () => {
  let influx: InfluxServer;
  let collector: CollectorProcess;
  const alive = (context: string) => {
    expect(collector.process.child.exitCode, `collector exited ${context} (FUZZ_SEED=${SEED})\n${collector.process.output().slice(-3_000)}`).toBeNull();
  };

  beforeAll(async () => {
    console.log(`fuzz seed: FUZZ_SEED=${SEED}`);
    influx = await startInfluxDB();
    collector = await startCollectorProcess({
      storage: { type: 'influx-v1', url: influx.url, database: DB },
      queue: { flushIntervalMs: 200 },
      // the fuzz run publishes thousands of messages a second from one connection
      limits: { messagesPerSecond: 100_000, burstMessages: 100_000 },
    });
    // A well-formed message first fixes the field types of this week's shard: InfluxDB keeps the
    // first type a field gets, so fuzzed strings must not come first for the final check to mean anything.
    const device = await connectClient(collector.mqttUrl!, { clientId: 'fz-baseline' });
    await publish(device, `muni/v1/${SITE}/fz-baseline/metrics`, serverHardwareMetrics(Date.now()));
    device.end(true);
    await waitFor('baseline point', async () => (await countPoints(influx, `SELECT count(usage_pct) FROM cpu WHERE device = 'fz-baseline'`)) === 1);
  });
  afterAll(async () => {
    await collector?.stop();
    await influx?.stop();
  });

  it('survives malformed MQTT packets on the raw TCP port and refuses them', async () => {
    const rng = new Rng(SEED);
    const port = Number(new URL(collector.mqttUrl!).port);
    const cases = Array.from({ length: RAW_CASES }, (_, n) => rawCase(rng, n));
    const before = { malformed: await collector.metric('collector_mqtt_refused_total{reason="malformed"}'), oversize: await collector.metric('collector_mqtt_refused_total{reason="oversize"}') };
    const outcomes: Record<Outcome, number> = { closed: 0, alive: 0, hung: 0 };
    let connections = 0;
    let next = 0;
    const started = Date.now();

    // A few workers, each keeping one session as long as the broker keeps it.
    const worker = async (w: number) => {
      let session: RawConnection | undefined;
      const open = () => (connections++, new RawConnection(port));
      while (next < cases.length) {
        const n = next++;
        const c = cases[n]!;
        const repro = () => `case ${n} (${c.label}, ${c.preConnect ? 'before' : 'after'} CONNECT): ${c.bytes.subarray(0, 64).toString('hex')}… FUZZ_SEED=${SEED}`;
        let outcome: Outcome;
        if (c.preConnect) {
          const socket = open();
          outcome = await socket.send(Buffer.concat([c.bytes, PINGREQ]), PINGRESP, 100);
          socket.destroy();
        } else {
          if (!session || session.closed) {
            session = open();
            const connack = await session.send(connectPacket(`fz-raw-w${w}-${n}`), Buffer.from([0x20, 0x02, 0x00, 0x00]), 2_000);
            expect(connack, `a valid CONNECT was not acknowledged before ${repro()}`).toBe('alive');
          }
          // The PINGREQ probe says whether the session survived in step with the broker.
          outcome = await session.send(Buffer.concat([c.bytes, PINGREQ]), PINGRESP, 100);
          if (outcome !== 'alive') {
            session.destroy();
            session = undefined;
          }
        }
        outcomes[outcome]++;
        if (collector.process.child.exitCode !== null) alive(`during ${repro()}`);
      }
      session?.destroy();
    };
    await Promise.all(Array.from({ length: 6 }, (_, w) => worker(w)));
    console.log(`raw TCP: ${RAW_CASES} cases over ${connections} connections in ${Date.now() - started} ms`, outcomes);

    alive('after the raw TCP run');
    const expected = { malformed: cases.filter((c) => c.expect === 'malformed').length, oversize: cases.filter((c) => c.expect === 'oversize').length };
    // Every bad header at a packet boundary is counted by the guard; random bytes may add more.
    await waitFor('guard refusals counted', async () => (await collector.metric('collector_mqtt_refused_total{reason="malformed"}')) - before.malformed >= expected.malformed);
    expect(await collector.metric('collector_mqtt_refused_total{reason="oversize"}'), `FUZZ_SEED=${SEED}`).toBeGreaterThanOrEqual(before.oversize + expected.oversize);
    expect(outcomes.closed, `FUZZ_SEED=${SEED}`).toBeGreaterThan(RAW_CASES / 4);
    // After all of that a well-behaved client still gets a session.
    const probe = new RawConnection(port);
    expect(await probe.send(Buffer.concat([connectPacket('fz-raw-after'), PINGREQ]), PINGRESP, 2_000)).toBe('alive');
    probe.destroy();
  });

  it('survives random payloads on valid device topics, and counts each as accepted or rejected exactly as the contract decides', async () => {
    const rng = new Rng(SEED ^ 0x9e3779b9);
    const metricsBefore = async () =>
      Object.fromEntries(
        await Promise.all([
          ...REJECT_REASONS.map(async (r) => [`rejected:${r}`, await collector.metric(`collector_messages_rejected_total{reason="${r}"}`)] as const),
          ...DEVICE_CHANNELS.map(async (c) => [`accepted:${c}`, await collector.metric(`collector_messages_in_total{channel="${c}"}`)] as const),
        ]),
      ) as Record<string, number>;
    const before = await metricsBefore();
    const oracle: Record<string, number> = Object.fromEntries(Object.keys(before).map((k) => [k, 0]));
    const labels = new Map<string, number>();
    let client: MqttClient = await connectClient(collector.mqttUrl!, { clientId: 'fz-payloads' });
    const started = Date.now();

    const cases = Array.from({ length: PAYLOAD_CASES }, (_, n) => {
      const topic = `muni/v1/${SITE}/fz-${rng.int(8)}/${rng.pick(DEVICE_CHANNELS)}`;
      // two payloads just over the size limit (the packet itself is still within the guard's)
      const { label, payload } = n === 7 || n === 1_500 ? { label: 'payload over the size limit', payload: Buffer.alloc(MAX_PAYLOAD_BYTES + 10, 0x20) } : payloadCase(rng, Date.now());
      return { n, topic, label, payload };
    });
    for (let i = 0; i < cases.length; i += 50) {
      const batch = cases.slice(i, i + 50);
      if (client.disconnected || !client.connected) client = await connectClient(collector.mqttUrl!, { clientId: 'fz-payloads' });
      await Promise.all(
        batch.map(async ({ n, topic, label, payload }) => {
          // A broker that stops acknowledging is a finding too: fail with the case, not a test timeout.
          let timer: NodeJS.Timeout | undefined;
          const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no PUBACK within 5 s')), 5_000)));
          await Promise.race([publish(client, topic, payload), timeout])
            .catch((error: unknown) => {
              throw new Error(`publish of case ${n} (${label}) to ${topic} failed: ${String(error)}; payload ${payload.subarray(0, 200).toString('hex')} FUZZ_SEED=${SEED}`);
            })
            .finally(() => clearTimeout(timer));
          const decoded = decodeDeviceMessage(topic, payload);
          const key = decoded.ok ? `accepted:${decoded.message.channel}` : `rejected:${decoded.reason}`;
          oracle[key] = (oracle[key] ?? 0) + 1;
          labels.set(`${label} → ${key}`, (labels.get(`${label} → ${key}`) ?? 0) + 1);
        }),
      );
      if (collector.process.child.exitCode !== null) alive(`during payload cases ${i}..${i + 49}`);
    }
    client.end(true);
    console.log(`payloads: ${PAYLOAD_CASES} cases in ${Date.now() - started} ms`, Object.fromEntries([...labels].sort()));

    alive('after the payload run');
    const after = await metricsBefore();
    const delta = Object.fromEntries(Object.keys(before).map((k) => [k, after[k]! - before[k]!]));
    expect(delta, `counters vs. decodeDeviceMessage run locally, FUZZ_SEED=${SEED}`).toEqual(oracle);
    expect(delta['rejected:json']).toBeGreaterThan(0);
    expect(delta['rejected:schema']).toBeGreaterThan(0);
    expect(delta['rejected:size']).toBe(2);
    expect(delta['accepted:metrics']).toBeGreaterThan(0);
  });

  it('still stores a well-formed message, answers /healthz, and wrote nothing the contract does not allow', async () => {
    const ts = Date.now();
    const device = await connectClient(collector.mqttUrl!, { clientId: 'fz-after' });
    await publish(device, `muni/v1/${SITE}/fz-after/metrics`, serverHardwareMetrics(ts));
    device.end(true);
    await waitFor('the well-formed message after the fuzz run', async () => (await countPoints(influx, `SELECT count(usage_pct) FROM cpu WHERE device = 'fz-after'`)) === 1);
    const smart = await influx.query(DB, `SELECT last(passed) FROM smart WHERE device = 'fz-after' GROUP BY disk`);
    expect(Object.fromEntries(smart.map((s) => [s.tags?.disk, s.values[0]?.[1]]))).toEqual({ sda: 1, sdb: 0 });
    expect((await fetch(`${collector.apiUrl}/healthz`)).status).toBe(200);
    alive('at the end');

    // Any metric name of the contract may become a measurement, so the check is the contract's rules.
    const measurements = (await influx.query(DB, 'SHOW MEASUREMENTS'))[0]?.values.map((v) => String(v[0])) ?? [];
    expect(measurements.filter((m) => !NAME.test(m)), `measurements outside the contract, FUZZ_SEED=${SEED}`).toEqual([]);
    expect(measurements).toEqual(expect.arrayContaining(['cpu', 'smart', 'collector']));
    const tagKeys = new Set((await influx.query(DB, 'SHOW TAG KEYS')).flatMap((s) => s.values.map((v) => String(v[0]))));
    // Fuzzed values can fire alerts (a file system "99 % full") and fuzzed devices go offline: the
    // collector's own alerts and outages measurements add rule, category and cause.
    const allowedTags = new Set<string>(['site', 'device', 'kind', 'type', 'severity', 'instance', 'rule', 'category', 'cause', ...METRIC_TAG_KEYS]);
    expect([...tagKeys].filter((k) => !allowedTags.has(k)), `tag keys outside the contract, FUZZ_SEED=${SEED}`).toEqual([]);
    const fieldKeys = new Set((await influx.query(DB, 'SHOW FIELD KEYS')).flatMap((s) => s.values.map((v) => String(v[0]))));
    expect([...fieldKeys].filter((k) => !NAME.test(k)), `field keys outside the contract, FUZZ_SEED=${SEED}`).toEqual([]);
    const tagValues = async (key: string) => new Set((await influx.query(DB, `SHOW TAG VALUES WITH KEY = "${key}"`)).flatMap((s) => s.values.map((v) => String(v[1]))));
    expect([...(await tagValues('site'))].filter((v) => !ID_PATTERN.test(v)), `FUZZ_SEED=${SEED}`).toEqual([]);
    expect([...(await tagValues('device'))].filter((v) => !ID_PATTERN.test(v)), `FUZZ_SEED=${SEED}`).toEqual([]);
    expect([...(await tagValues('kind'))].filter((v) => !(DEVICE_KINDS as readonly string[]).includes(v)), `FUZZ_SEED=${SEED}`).toEqual([]);
    // timestamps stay within what the contract accepts: from 2020 to a day ahead
    expect(await influx.query(DB, `SELECT * FROM /.*/ WHERE time < '2020-01-01T00:00:00Z' OR time > now() + 25h LIMIT 1`), `FUZZ_SEED=${SEED}`).toEqual([]);
    // Storage may refuse contract-valid points (a field type conflict between devices), but never
    // a line the collector failed to encode. The log kept is the last 20 kB, which holds this run's.
    const refusals = collector.process.output().match(/HTTP 400: .{0,160}/g) ?? [];
    // A timestamp the contract accepts (after 2020) can be older than the database's retention (400 days): InfluxDB drops it, the collector counts it.
    expect(refusals.filter((r) => !/field type conflict|invalid field name|points beyond retention policy dropped/.test(r)), `FUZZ_SEED=${SEED}`).toEqual([]);
    console.log(`stored: ${measurements.length} measurements; quarantined points: ${await collector.metric('collector_points_quarantined_total')}`);
  });
});
