import { execFile } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { promisify } from 'node:util';
import snmp from 'net-snmp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceEntrySchema, type DeviceEntry } from '../collector/devices/inventory.ts';
import { profileSchema, type TrapSpec } from '../collector/devices/profile.ts';
import { MAX_VARBINDS, startTrapReceiver, type ReceivedTrap, type TrapReceiver, type TrapReceiverError, type TrapReceiverStats } from '../collector/devices/traps/receiver.ts';
import { cutText, deviceForSource, STANDARD_TRAPS, trapToEvent } from '../collector/devices/traps/trap-to-event.ts';
import { CONTRACT_VERSION, describeIssues, eventMessageSchema } from '../src/contract/schemas.ts';
import { ID_PATTERN } from '../src/contract/topics.ts';
import { waitFor } from './helpers/servers.ts';
import { mulberry32 } from './helpers/prng.ts';

// The receiver against Debian's snmptrap/snmpinform (net-snmp 5.9) on a random loopback UDP
// port, and trap → event as pure functions. Hostile input comes as raw UDP datagrams.

const run = promisify(execFile);

const COMMUNITY = 'trap-community-7f3a';
const SHA_AES = { user: 'trapuser', authProtocol: 'sha', authKey: 'auth-key-91c2e', privProtocol: 'aes', privKey: 'priv-key-5d7b0' } as const;
const SHA256_AES256 = { user: 'trapuser256', authProtocol: 'sha256', authKey: 'auth-key-256-aa', privProtocol: 'aes256b', privKey: 'priv-key-256-bb' } as const;
/** What must never show in a trap or an error: the credentials, and the wrong ones we send. */
const SECRETS = [COMMUNITY, SHA_AES.authKey, SHA_AES.privKey, SHA256_AES256.authKey, SHA256_AES256.privKey, 'wrong-community-xyz', 'wrong-auth-key-1', 'wrong-priv-key-1'];
/** The sender's engine ID: snmptrap needs one for v3 traps (the sender is authoritative). */
const ENGINE_ID = '0x80001f8880c0ffee0102030405';

const IF_ENTRY = '1.3.6.1.2.1.2.2.1';
const UPS_ON_BATTERY = '1.3.6.1.2.1.33.2.1';
const UPS_SECONDS_ON_BATTERY = '1.3.6.1.2.1.33.1.2.2.0';
const UPS_MINUTES_REMAINING = '1.3.6.1.2.1.33.1.2.3.0';
const UPS_LOW_BATT_TIME = '1.3.6.1.2.1.33.1.9.7.0';

// The fuzz seed; a failing run replays with TRAP_FUZZ_SEED=<n>.
const FUZZ_SEED = Number(process.env.TRAP_FUZZ_SEED ?? 20_240_611);

function validEvent(event: ReturnType<typeof trapToEvent>): void {
  const parsed = eventMessageSchema.safeParse({ v: CONTRACT_VERSION, ts: Date.now(), ...event });
  expect(parsed.success, parsed.success ? '' : describeIssues(parsed.error)).toBe(true);
}

describe('trap receiver with real senders', () => {
  let receiver: TrapReceiver;
  const traps: ReceivedTrap[] = [];
  const errors: TrapReceiverError[] = [];
  let target: string;

  beforeAll(async () => {
    receiver = await startTrapReceiver({
      host: '127.0.0.1',
      port: 0,
      communities: [COMMUNITY],
      users: [SHA_AES, SHA256_AES256],
      onTrap: (trap) => traps.push(trap),
      onError: (error) => errors.push(error),
    });
    target = `127.0.0.1:${receiver.port}`;
  });
  afterAll(() => receiver?.close());

  const snmptrap = (...args: string[]) => run('snmptrap', args, { timeout: 10_000 });
  const v3 = (user: { user: string; authKey: string; privKey: string }, auth = 'SHA', priv = 'AES') => ['-v', '3', '-e', ENGINE_ID, '-u', user.user, '-l', 'authPriv', '-a', auth, '-A', user.authKey, '-x', priv, '-X', user.privKey];

  async function arrival(what: string, match: (trap: ReceivedTrap) => boolean): Promise<ReceivedTrap> {
    await waitFor(what, async () => traps.some(match), 5_000, 20);
    return traps.find(match)!;
  }
  /** Waits until `counter` moved by `by`; what was delivered meanwhile is in `traps`. */
  async function counted(counter: keyof TrapReceiverStats, before: TrapReceiverStats, by = 1): Promise<void> {
    await waitFor(`${counter} + ${by}`, async () => receiver.stats()[counter] === before[counter] + by, 5_000, 20);
  }

  it('listens on the port it chose and reports it', () => {
    expect(receiver.port).toBeGreaterThan(0);
    expect(receiver.port).not.toBe(162);
    expect(receiver.address).toBe('127.0.0.1');
  });

  it('v1 generic linkDown: trap OID per RFC 3584, agent address, uptime, varbinds with their types', async () => {
    await snmptrap('-v', '1', '-c', COMMUNITY, target, '1.3.6.1.4.1.8072.2.3', '10.1.2.3', '2', '0', '4321', `${IF_ENTRY}.1.3`, 'i', '3', `${IF_ENTRY}.7.3`, 'i', '1', `${IF_ENTRY}.8.3`, 'i', '2', `${IF_ENTRY}.2.3`, 's', 'GigabitEthernet0/3');
    const trap = await arrival('v1 linkDown', (t) => t.version === '1' && t.uptime === 4321);
    expect(trap).toMatchObject({
      version: '1',
      inform: false,
      trapOid: '1.3.6.1.6.3.1.1.5.3',
      enterprise: '1.3.6.1.4.1.8072.2.3',
      agentAddress: '10.1.2.3',
      source: { address: '127.0.0.1' },
    });
    expect(trap.varbinds).toEqual([
      { oid: `${IF_ENTRY}.1.3`, type: 'Integer', value: 3 },
      { oid: `${IF_ENTRY}.7.3`, type: 'Integer', value: 1 },
      { oid: `${IF_ENTRY}.8.3`, type: 'Integer', value: 2 },
      { oid: `${IF_ENTRY}.2.3`, type: 'OctetString', value: 'GigabitEthernet0/3' },
    ]);
    expect(Math.abs(trap.receivedAt - Date.now())).toBeLessThan(10_000);

    // The whole path: the built-in linkDown spec makes the event.
    const event = trapToEvent(trap, {}, 'tr');
    expect(event).toEqual({
      type: 'link_down',
      severity: 'warning',
      message: 'Arayüz bağlantısı kesildi',
      data: { trap_oid: '1.3.6.1.6.3.1.1.5.3', if_index: 3, if_descr: 'GigabitEthernet0/3', if_descr_index: 3, if_admin_status: 1, if_admin_status_index: 3, if_oper_status: 2, if_oper_status_index: 3 },
    });
    validEvent(event);
  });

  it('v1 enterprise-specific trap: enterprise.0.specific', async () => {
    await snmptrap('-v', '1', '-c', COMMUNITY, target, '1.3.6.1.4.1.8072.2.3', '10.1.2.4', '6', '17', '55', '1.3.6.1.4.1.8072.2.3.2.1', 's', 'disk full');
    const trap = await arrival('v1 enterprise-specific', (t) => t.version === '1' && t.uptime === 55);
    expect(trap.trapOid).toBe('1.3.6.1.4.1.8072.2.3.0.17');
    expect(trap.agentAddress).toBe('10.1.2.4');
    expect(trap.varbinds).toEqual([{ oid: '1.3.6.1.4.1.8072.2.3.2.1', type: 'OctetString', value: 'disk full' }]);
  });

  it('a v1 trap with a generic-trap outside 0–6 is malformed, not delivered', async () => {
    // snmptrap refuses such a trap; net-snmp's own session sends whatever number it is given.
    const session = snmp.createSession('127.0.0.1', COMMUNITY, { version: snmp.Version1, trapPort: receiver.port });
    const before = receiver.stats();
    try {
      await new Promise<void>((resolve, reject) => session.trap(9, [], { upTime: 909 }, (error) => (error ? reject(error) : resolve())));
      await counted('malformed', before);
    } finally {
      session.close();
    }
    expect(traps.filter((t) => t.uptime === 909)).toEqual([]);
    expect(errors.at(-1)).toMatchObject({ kind: 'malformed', message: 'v1 trap with generic-trap 9 (expected 0–6)' });
  });

  it('v2c upsTrapOnBattery: snmpTrapOID.0 and sysUpTime.0 become trapOid and uptime, the rest stay varbinds', async () => {
    await snmptrap('-v', '2c', '-c', COMMUNITY, target, '7777', UPS_ON_BATTERY, UPS_MINUTES_REMAINING, 'i', '25', UPS_SECONDS_ON_BATTERY, 'i', '120', UPS_LOW_BATT_TIME, 'i', '5');
    const trap = await arrival('v2c upsTrapOnBattery', (t) => t.trapOid === UPS_ON_BATTERY);
    expect(trap).toMatchObject({ version: '2c', inform: false, uptime: 7777 });
    expect(trap.agentAddress).toBeUndefined();
    expect(trap.varbinds).toEqual([
      { oid: UPS_MINUTES_REMAINING, type: 'Integer', value: 25 },
      { oid: UPS_SECONDS_ON_BATTERY, type: 'Integer', value: 120 },
      { oid: UPS_LOW_BATT_TIME, type: 'Integer', value: 5 },
    ]);
  });

  it('v2c value types: UTF-8 text, binary as hex, OID, IpAddress, counters, Counter64 as a number, long values cut', async () => {
    const long = 'ş'.repeat(300);
    await snmptrap(
      '-v', '2c', '-c', COMMUNITY, target, '8888', '1.3.6.1.4.1.99999.0.1',
      '1.3.6.1.4.1.99999.1', 's', 'Başkanlık binası — UPS 2',
      '1.3.6.1.4.1.99999.2', 'x', '00FF10A0',
      '1.3.6.1.4.1.99999.3', 'o', '1.3.6.1.4.1.9.1.516',
      '1.3.6.1.4.1.99999.4', 'a', '10.20.30.40',
      '1.3.6.1.4.1.99999.5', 'c', '4000000000',
      '1.3.6.1.4.1.99999.6', 'u', '77',
      '1.3.6.1.4.1.99999.7', 't', '99',
      '1.3.6.1.4.1.99999.8', 'C', '9007199254740993',
      '1.3.6.1.4.1.99999.9', 's', long,
      '1.3.6.1.4.1.99999.10', 'x', 'AB'.repeat(300),
      '1.3.6.1.4.1.99999.11', 'n', '',
    );
    const trap = await arrival('v2c types', (t) => t.uptime === 8888);
    const byOid = Object.fromEntries(trap.varbinds.map((vb) => [vb.oid.replace('1.3.6.1.4.1.99999.', ''), vb]));
    expect(byOid['1']).toEqual({ oid: '1.3.6.1.4.1.99999.1', type: 'OctetString', value: 'Başkanlık binası — UPS 2' });
    expect(byOid['2']).toMatchObject({ type: 'OctetString', value: '00ff10a0' });
    expect(byOid['3']).toMatchObject({ type: 'OID', value: '1.3.6.1.4.1.9.1.516' });
    expect(byOid['4']).toMatchObject({ type: 'IpAddress', value: '10.20.30.40' });
    expect(byOid['5']).toMatchObject({ type: 'Counter32', value: 4_000_000_000 });
    expect(byOid['6']).toMatchObject({ type: 'Gauge32', value: 77 });
    expect(byOid['7']).toMatchObject({ type: 'TimeTicks', value: 99 });
    // Above 2^53 a Counter64 is the nearest double.
    expect(byOid['8']).toMatchObject({ type: 'Counter64', value: 9007199254740992 });
    expect(byOid['9']).toMatchObject({ type: 'OctetString', value: long.slice(0, 256) });
    expect(byOid['10']).toMatchObject({ type: 'OctetString', value: 'ab'.repeat(128) });
    expect(byOid['11']).toMatchObject({ type: 'Null', value: '' });
  });

  it('keeps at most 64 varbinds', async () => {
    const many = Array.from({ length: 70 }, (_, i) => [`1.3.6.1.4.1.99999.50.${i}`, 'i', String(i)]).flat();
    await snmptrap('-v', '2c', '-c', COMMUNITY, target, '6464', '1.3.6.1.4.1.99999.0.2', ...many);
    const trap = await arrival('70 varbinds', (t) => t.uptime === 6464);
    expect(trap.varbinds).toHaveLength(MAX_VARBINDS);
    expect(trap.varbinds.at(-1)).toEqual({ oid: '1.3.6.1.4.1.99999.50.63', type: 'Integer', value: 63 });
  });

  it('v3 authPriv traps (SHA/AES and SHA-256/AES-256): no engine ID configured on the receiver', async () => {
    // For a trap the sender is the authoritative engine: net-snmp localises the user's keys
    // with the msgAuthoritativeEngineID in the message, so it needs no per-sender engine ID
    // (snmptrapd needs `createUser -e`).
    await snmptrap(...v3(SHA_AES), target, '3001', '1.3.6.1.6.3.1.1.5.1', '1.3.6.1.2.1.1.5.0', 's', 'ups-arsiv');
    await snmptrap(...v3(SHA256_AES256, 'SHA-256', 'AES-256'), target, '3002', '1.3.6.1.6.3.1.1.5.2');
    const sha = await arrival('v3 SHA/AES', (t) => t.uptime === 3001);
    expect(sha).toMatchObject({ version: '3', inform: false, trapOid: '1.3.6.1.6.3.1.1.5.1', varbinds: [{ oid: '1.3.6.1.2.1.1.5.0', type: 'OctetString', value: 'ups-arsiv' }] });
    const sha256 = await arrival('v3 SHA-256/AES-256', (t) => t.uptime === 3002);
    expect(sha256).toMatchObject({ version: '3', trapOid: '1.3.6.1.6.3.1.1.5.2' });
  });

  it('v3 and v2c INFORMs are delivered and acknowledged (snmpinform exits 0 only on the response)', async () => {
    // snmpinform discovers the receiver's engine ID first (the receiver is authoritative for an INFORM).
    await run('snmpinform', ['-v', '3', '-u', SHA_AES.user, '-l', 'authPriv', '-a', 'SHA', '-A', SHA_AES.authKey, '-x', 'AES', '-X', SHA_AES.privKey, '-t', '2', '-r', '1', target, '4001', '1.3.6.1.6.3.1.1.5.4']);
    await run('snmpinform', ['-v', '2c', '-c', COMMUNITY, '-t', '2', '-r', '1', target, '4002', '1.3.6.1.6.3.1.1.5.4']);
    expect(await arrival('v3 inform', (t) => t.uptime === 4001)).toMatchObject({ version: '3', inform: true, trapOid: '1.3.6.1.6.3.1.1.5.4' });
    expect(await arrival('v2c inform', (t) => t.uptime === 4002)).toMatchObject({ version: '2c', inform: true });
  });

  it('a wrong community is not delivered, counted, and reported without the community', async () => {
    const before = receiver.stats();
    await snmptrap('-v', '2c', '-c', 'wrong-community-xyz', target, '5001', UPS_ON_BATTERY);
    await counted('badCommunity', before);
    await snmptrap('-v', '1', '-c', 'wrong-community-xyz', target, '1.3.6.1.4.1.8072.2.3', '10.1.2.3', '2', '0', '5002');
    await counted('badCommunity', before, 2);
    expect(traps.filter((t) => t.uptime === 5001 || t.uptime === 5002)).toEqual([]);
    expect(receiver.stats().received).toBe(before.received);
    const reported = errors.filter((e) => e.kind === 'badCommunity');
    expect(reported.at(-1)).toMatchObject({ message: 'v1/v2c notification with an unknown community', source: { address: '127.0.0.1' } });
  });

  it('v3 with a wrong key, an unknown user or below authPriv is not delivered and is counted', async () => {
    const before = receiver.stats();
    await snmptrap(...v3({ ...SHA_AES, authKey: 'wrong-auth-key-1' }), target, '5101', '1.3.6.1.6.3.1.1.5.1');
    await snmptrap(...v3({ ...SHA_AES, privKey: 'wrong-priv-key-1' }), target, '5102', '1.3.6.1.6.3.1.1.5.1');
    // SHA-256 user sent with SHA-1: wrong protocol is a wrong digest.
    await snmptrap(...v3(SHA256_AES256, 'SHA', 'AES-256'), target, '5103', '1.3.6.1.6.3.1.1.5.1');
    await snmptrap('-v', '3', '-e', ENGINE_ID, '-u', SHA_AES.user, '-l', 'authNoPriv', '-a', 'SHA', '-A', SHA_AES.authKey, target, '5104', '1.3.6.1.6.3.1.1.5.1');
    await snmptrap('-v', '3', '-e', ENGINE_ID, '-u', SHA_AES.user, '-l', 'noAuthNoPriv', target, '5105', '1.3.6.1.6.3.1.1.5.1');
    await counted('badAuth', before, 5);
    await snmptrap(...v3({ ...SHA_AES, user: 'intruder' }), target, '5106', '1.3.6.1.6.3.1.1.5.1');
    await counted('badUser', before);
    expect(traps.filter((t) => t.uptime !== undefined && t.uptime >= 5101 && t.uptime <= 5106)).toEqual([]);
    expect(errors.filter((e) => e.kind === 'badAuth').map((e) => e.message)).toEqual(
      expect.arrayContaining(['SNMPv3 authentication failed (wrong authentication key or protocol)', 'SNMPv3 decryption failed (wrong privacy key or protocol)', 'SNMPv3 notification below authPriv']),
    );
  });

  it('a v3 noAuthNoPriv trap with an empty user name is refused (net-snmp would let it through)', async () => {
    // snmptrap refuses an empty user name, so net-snmp's own session is the sender here.
    const session = snmp.createV3Session('127.0.0.1', { name: '', level: snmp.SecurityLevel.noAuthNoPriv }, { trapPort: receiver.port });
    const before = receiver.stats();
    try {
      await new Promise<void>((resolve, reject) => session.trap(UPS_ON_BATTERY, [], { upTime: 5201 }, (error) => (error ? reject(error) : resolve())));
      await counted('badUser', before);
    } finally {
      session.close();
    }
    expect(traps.filter((t) => t.uptime === 5201)).toEqual([]);
    expect(errors.at(-1)).toMatchObject({ kind: 'badUser', message: 'SNMPv3 notification without a user (noAuthNoPriv) refused' });
  });

  it('a v3 INFORM from an unknown user is answered with a Report by net-snmp and never reaches us (not countable)', async () => {
    // RFC 3414: a reportable message from an unknown user gets usmStatsUnknownUserNames back;
    // net-snmp sends that Report itself and does not call the receiver's callback.
    const before = receiver.stats();
    const refused = run('snmpinform', ['-v', '3', '-u', 'intruder', '-l', 'authPriv', '-a', 'SHA', '-A', SHA_AES.authKey, '-x', 'AES', '-X', SHA_AES.privKey, '-t', '2', '-r', '0', target, '5301', '1.3.6.1.6.3.1.1.5.1']);
    await expect(refused).rejects.toMatchObject({ stderr: expect.stringContaining('Unknown user name') });
    expect(receiver.stats()).toEqual(before);
    expect(traps.filter((t) => t.uptime === 5301)).toEqual([]);
  });

  describe('hostile datagrams', () => {
    let sender: Socket;
    beforeAll(async () => {
      sender = createSocket('udp4');
      await new Promise<void>((resolve) => sender.bind(0, '127.0.0.1', resolve));
    });
    afterAll(() => new Promise<void>((resolve) => sender.close(() => resolve())));

    const total = (s: TrapReceiverStats) => Object.values(s).reduce((a, b) => a + b, 0);
    const send = (packet: Buffer) => new Promise<void>((resolve, reject) => sender.send(packet, receiver.port, '127.0.0.1', (error) => (error ? reject(error) : resolve())));

    /** Sends in batches and waits until every datagram is accounted for in the stats (no silent drop, no kernel buffer overflow). */
    async function sendAll(packets: Buffer[]): Promise<void> {
      const start = total(receiver.stats());
      for (let i = 0; i < packets.length; i += 50) {
        const batch = packets.slice(i, i + 50);
        await Promise.all(batch.map(send));
        await waitFor(`datagrams ${i}..${i + batch.length} accounted for`, async () => total(receiver.stats()) === start + i + batch.length, 5_000, 10);
      }
    }

    it('a v3 message that makes net-snmp throw outside its own try/catch is counted, not a crash', async () => {
      // net-snmp 3.29.2 writes a Report for a reportable message from an unknown user and its
      // writer throws RangeError for a msgID above 2^31−1, from inside the socket listener.
      const before = receiver.stats();
      await send(v3Message([0x01, 0x00, 0x00, 0x00, 0x00], 'intruder'));
      await counted('malformed', before);
      expect(errors.at(-1)).toMatchObject({ kind: 'malformed', message: expect.stringMatching(/^net-snmp failed on the packet: .*32-bit/), source: { address: '127.0.0.1', port: sender.address().port } });
    });

    it(`1000 random datagrams and every truncation of real trap packets: all counted, a valid trap still arrives (seed ${FUZZ_SEED})`, async () => {
      const random = mulberry32(FUZZ_SEED);
      const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
      const garbage = Array.from({ length: 1000 }, (_, i) => {
        const body = bytes(1 + Math.floor(random() * 400));
        // Every other one looks like an SNMP message (SEQUENCE, version) to get past the first byte.
        return i % 2 === 0 ? body : Buffer.concat([Buffer.from([0x30, Math.min(body.length + 3, 127), 0x02, 0x01, [0, 1, 3][i % 3]!]), body]);
      });
      const real = [
        await capture((to) => ['-v', '1', '-c', COMMUNITY, to, '1.3.6.1.4.1.8072.2.3', '10.1.2.3', '2', '0', '1', `${IF_ENTRY}.1.3`, 'i', '3']),
        await capture((to) => ['-v', '2c', '-c', COMMUNITY, to, '2', UPS_ON_BATTERY, UPS_MINUTES_REMAINING, 'i', '25']),
        await capture((to) => [...v3(SHA_AES), to, '3', '1.3.6.1.6.3.1.1.5.1']),
      ];
      const truncated = real.flatMap((packet) => Array.from({ length: packet.length - 1 }, (_, n) => packet.subarray(0, n + 1)));
      const before = receiver.stats();
      const delivered = traps.length;

      await sendAll([...garbage, ...truncated]);

      const after = receiver.stats();
      expect(after.malformed - before.malformed).toBeGreaterThan(900);
      // net-snmp stops reading varbinds where the data ends, so a v1/v2c trap cut inside its last
      // varbind still decodes: it arrives without that varbind. A cut v3 trap never passes
      // authentication (the digest covers the whole message).
      const fromFlood = traps.slice(delivered);
      expect(after.received - before.received).toBe(fromFlood.length);
      for (const trap of fromFlood) {
        expect(['1 1.3.6.1.6.3.1.1.5.3 1', `2c ${UPS_ON_BATTERY} 2`]).toContain(`${trap.version} ${trap.trapOid} ${trap.uptime}`);
        expect(trap.varbinds).toEqual([]);
      }

      // A v2c trap cut inside its snmpTrapOID.0 varbind decodes but is no notification.
      expect(errors.some((e) => e.kind === 'malformed' && e.message === 'notification without snmpTrapOID.0')).toBe(true);

      const afterFlood = traps.length;
      await send(real[1]!);
      await waitFor('the valid trap after the flood', async () => traps.slice(afterFlood).some((t) => t.trapOid === UPS_ON_BATTERY && t.varbinds.length === 1), 5_000, 20);
    }, 60_000);

    it('other SNMP PDUs (a GetRequest with the right community) are counted as unsupported', async () => {
      const before = receiver.stats();
      await run('snmpget', ['-v', '2c', '-c', COMMUNITY, '-t', '0.3', '-r', '0', target, '1.3.6.1.2.1.1.3.0']).catch(() => undefined);
      await counted('unsupported', before);
    });
  });

  it('nothing delivered or reported carries a community, user name or key', () => {
    const exposed = JSON.stringify({ traps, errors });
    for (const secret of [...SECRETS, SHA_AES.user, SHA256_AES256.user, 'intruder']) expect(exposed).not.toContain(secret);
    expect(errors.length).toBeGreaterThan(0);
    expect(traps.length).toBeGreaterThan(0);
  });

  /** A real packet as snmptrap sends it, caught on a plain UDP socket. */
  async function capture(args: (target: string) => string[]): Promise<Buffer> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    try {
      const packet = new Promise<Buffer>((resolve) => socket.once('message', resolve));
      await snmptrap(...args(`127.0.0.1:${socket.address().port}`));
      return await packet;
    } finally {
      socket.close();
    }
  }
});

describe('trap receiver lifecycle', () => {
  it('refuses to start on a port in use, naming it', async () => {
    const taken = createSocket('udp4');
    await new Promise<void>((resolve) => taken.bind(0, '127.0.0.1', resolve));
    const { port } = taken.address();
    try {
      await expect(startTrapReceiver({ host: '127.0.0.1', port, communities: [], users: [], onTrap: () => {} })).rejects.toThrow(
        new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`),
      );
    } finally {
      taken.close();
    }
  });

  it('close() frees the port (twice is harmless)', async () => {
    const receiver = await startTrapReceiver({ host: '127.0.0.1', port: 0, communities: [COMMUNITY], users: [], onTrap: () => {} });
    await receiver.close();
    await receiver.close();
    const again = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.bind(receiver.port, '127.0.0.1', resolve);
    });
    again.close();
  });

  it('an onTrap that throws is counted and reported; the next trap still arrives', async () => {
    const seen: number[] = [];
    const errors: TrapReceiverError[] = [];
    const receiver = await startTrapReceiver({
      host: '127.0.0.1',
      port: 0,
      communities: [COMMUNITY],
      users: [],
      onTrap: (trap) => {
        seen.push(trap.uptime ?? -1);
        if (trap.uptime === 1) throw new Error('storage is down');
      },
      onError: (error) => errors.push(error),
    });
    try {
      for (const uptime of ['1', '2']) await run('snmptrap', ['-v', '2c', '-c', COMMUNITY, `127.0.0.1:${receiver.port}`, uptime, UPS_ON_BATTERY]);
      await waitFor('both traps', async () => seen.length === 2, 5_000, 20);
      expect(seen).toEqual([1, 2]);
      expect(receiver.stats()).toMatchObject({ received: 2, handlerErrors: 1 });
      expect(errors).toEqual([{ kind: 'handlerErrors', message: 'onTrap failed: storage is down', source: { address: '127.0.0.1', port: expect.any(Number) } }]);
    } finally {
      await receiver.close();
    }
  });

  it('listens on IPv6 loopback', async () => {
    const seen: ReceivedTrap[] = [];
    const receiver = await startTrapReceiver({ host: '::1', port: 0, communities: [COMMUNITY], users: [], onTrap: (trap) => seen.push(trap) });
    try {
      await run('snmptrap', ['-v', '2c', '-c', COMMUNITY, `udp6:[::1]:${receiver.port}`, '9', UPS_ON_BATTERY]);
      await waitFor('trap over IPv6', async () => seen.length === 1, 5_000, 20);
      expect(seen[0]).toMatchObject({ source: { address: '::1' }, trapOid: UPS_ON_BATTERY });
    } finally {
      await receiver.close();
    }
  });
});

describe('trapToEvent', () => {
  const UPS_SPECS: Record<string, TrapSpec> = {
    [UPS_ON_BATTERY]: {
      type: 'ups_on_battery',
      severity: 'critical',
      message: { en: 'UPS is on battery', tr: 'UPS aküye geçti' },
      data: { minutes_remaining: '1.3.6.1.2.1.33.1.2.3', seconds_on_battery: '1.3.6.1.2.1.33.1.2.2' },
    },
  };
  const upsTrap = {
    trapOid: UPS_ON_BATTERY,
    varbinds: [
      { oid: UPS_MINUTES_REMAINING, type: 'Integer', value: 25 },
      { oid: UPS_SECONDS_ON_BATTERY, type: 'Integer', value: 120 },
      { oid: UPS_LOW_BATT_TIME, type: 'Integer', value: 5 },
    ],
  };

  it('the built-in table is valid profile trap configuration', () => {
    expect(() => profileSchema.shape.traps.parse(STANDARD_TRAPS)).not.toThrow();
    expect(Object.keys(STANDARD_TRAPS).sort()).toEqual(['1.3.6.1.6.3.1.1.5.1', '1.3.6.1.6.3.1.1.5.2', '1.3.6.1.6.3.1.1.5.3', '1.3.6.1.6.3.1.1.5.4', '1.3.6.1.6.3.1.1.5.5']);
  });

  it('a known trap in Turkish and English: the spec named varbinds by OID prefix, scalars (.0) without an index', () => {
    const tr = trapToEvent(upsTrap, UPS_SPECS, 'tr');
    const en = trapToEvent(upsTrap, UPS_SPECS, 'en');
    expect(tr).toEqual({ type: 'ups_on_battery', severity: 'critical', message: 'UPS aküye geçti', data: { trap_oid: UPS_ON_BATTERY, minutes_remaining: 25, seconds_on_battery: 120 } });
    expect(en).toEqual({ ...tr, message: 'UPS is on battery' });
    validEvent(tr);
    validEvent(en);
  });

  it('a varbind named by its full instance OID also matches; a missing one is left out', () => {
    const specs = { [UPS_ON_BATTERY]: { ...UPS_SPECS[UPS_ON_BATTERY]!, data: { low_batt_time: UPS_LOW_BATT_TIME, load_pct: '1.3.6.1.2.1.33.1.4.4.1.5' } } };
    expect(trapToEvent(upsTrap, specs, 'en').data).toEqual({ trap_oid: UPS_ON_BATTERY, low_batt_time: 5 });
  });

  it('row indexes: a number, a compound index as text, none when the value is the index itself', () => {
    const specs: Record<string, TrapSpec> = {
      '1.3.6.1.4.1.9.9.91.2.0.1': { type: 'sensor_threshold', severity: 'warning', message: { en: 'Sensor threshold', tr: 'Sensör eşiği aşıldı' }, data: { sensor_value: '1.3.6.1.4.1.9.9.91.1.1.1.1.4', threshold: '1.3.6.1.4.1.9.9.91.1.2.1.1.4' } },
    };
    const event = trapToEvent(
      {
        trapOid: '1.3.6.1.4.1.9.9.91.2.0.1',
        varbinds: [
          { oid: '1.3.6.1.4.1.9.9.91.1.1.1.1.4.1005', type: 'Integer', value: -35 },
          { oid: '1.3.6.1.4.1.9.9.91.1.2.1.1.4.1005.2', type: 'Integer', value: -30 },
        ],
      },
      specs,
      'tr',
    );
    expect(event.data).toEqual({ trap_oid: '1.3.6.1.4.1.9.9.91.2.0.1', sensor_value: -35, sensor_value_index: 1005, threshold: -30, threshold_index: '1005.2' });
    validEvent(event);
  });

  it('a profile spec wins over the built-in one', () => {
    const specs: Record<string, TrapSpec> = { '1.3.6.1.6.3.1.1.5.1': { type: 'ups_restart', severity: 'critical', message: { en: 'UPS restarted', tr: 'UPS yeniden başladı' } } };
    expect(trapToEvent({ trapOid: '1.3.6.1.6.3.1.1.5.1', varbinds: [] }, specs, 'en')).toMatchObject({ type: 'ups_restart', severity: 'critical' });
    expect(trapToEvent({ trapOid: '1.3.6.1.6.3.1.1.5.1', varbinds: [] }, {}, 'en')).toMatchObject({ type: 'cold_start', severity: 'warning', message: 'Device restarted (cold start)' });
  });

  it('an unknown trap is kept as snmp_trap with its first 10 varbinds, in the chosen language', () => {
    const varbinds = Array.from({ length: 15 }, (_, i) => ({ oid: `1.3.6.1.4.1.99999.1.${i}`, type: 'Integer', value: i * 10 }));
    const en = trapToEvent({ trapOid: '1.3.6.1.4.1.99999.0.7', varbinds }, UPS_SPECS, 'en');
    const tr = trapToEvent({ trapOid: '1.3.6.1.4.1.99999.0.7', varbinds }, UPS_SPECS, 'tr');
    expect(en.type).toBe('snmp_trap');
    expect(en.severity).toBe('info');
    expect(en.message).toBe('Unrecognised SNMP trap received: 1.3.6.1.4.1.99999.0.7');
    expect(tr.message).toBe("Tanınmayan SNMP trap'i alındı: 1.3.6.1.4.1.99999.0.7");
    expect(en.data).toMatchObject({ trap_oid: '1.3.6.1.4.1.99999.0.7', vb1_oid: '1.3.6.1.4.1.99999.1.0', vb1: 0, vb10_oid: '1.3.6.1.4.1.99999.1.9', vb10: 90 });
    expect(Object.keys(en.data!)).toHaveLength(1 + 2 * 10);
    expect(en.data).not.toHaveProperty('vb11');
    for (const name of Object.keys(en.data!)) expect(name).toMatch(/^[a-z][a-z0-9_]{0,63}$/);
    validEvent(en);
    validEvent(tr);
  });

  it('huge values and OIDs are cut to the contract limit, without splitting a character', () => {
    const hugeOid = `1.3.6.1.4.1.${'12345.'.repeat(200)}1`;
    const emoji = `${'a'.repeat(255)}😀${'b'.repeat(10_000)}`;
    const unknown = trapToEvent({ trapOid: hugeOid, varbinds: [{ oid: hugeOid, type: 'OctetString', value: emoji }] }, {}, 'tr');
    expect(unknown.data!.trap_oid).toBe(hugeOid.slice(0, 256));
    expect(unknown.data!.vb1_oid).toBe(hugeOid.slice(0, 256));
    expect(unknown.data!.vb1).toBe('a'.repeat(255));
    validEvent(unknown);

    const known = trapToEvent({ trapOid: UPS_ON_BATTERY, varbinds: [{ oid: UPS_MINUTES_REMAINING, type: 'OctetString', value: 'x'.repeat(5000) }] }, UPS_SPECS, 'en');
    expect(known.data!.minutes_remaining).toBe('x'.repeat(256));
    validEvent(known);
    expect(cutText('é'.repeat(300))).toHaveLength(256);
  });

  it('hostile input: a trap OID naming an Object property is unknown; a non-finite number is kept as text', () => {
    for (const trapOid of ['__proto__', 'constructor', 'hasOwnProperty']) {
      const event = trapToEvent({ trapOid, varbinds: [{ oid: '1.3.6.1.2.1.1.3.0', type: 'Integer', value: Number.POSITIVE_INFINITY }] }, {}, 'en');
      expect(event).toMatchObject({ type: 'snmp_trap', data: { trap_oid: trapOid, vb1: 'Infinity' } });
      validEvent(event);
    }
  });
});

describe('deviceForSource', () => {
  const devices: DeviceEntry[] = [
    { site: 'merkez', id: 'ups-sistem-odasi', address: '10.0.0.5', profile: 'ups-mib' },
    { site: 'merkez', id: 'sw-core', address: '10.0.0.6:1161', profile: 'if-mib' },
    { site: 'itfaiye', id: 'nvr-1', address: '[FD00::7]:161', profile: 'hikvision-isapi' },
    { site: 'zabita', id: 'ups-zabita', address: 'ups-zabita.belediye.local', profile: 'ups-mib' },
  ].map((d) => deviceEntrySchema.parse(d));

  it('finds the device by the host part of its address (with a port, bracketed IPv6, IPv4-mapped source)', () => {
    expect(deviceForSource('10.0.0.5', devices)).toMatchObject({ site: 'merkez', device: 'ups-sistem-odasi', entry: devices[0] });
    expect(deviceForSource('10.0.0.6', devices)).toMatchObject({ site: 'merkez', device: 'sw-core' });
    expect(deviceForSource('fd00::7', devices)).toMatchObject({ site: 'itfaiye', device: 'nvr-1' });
    expect(deviceForSource('::ffff:10.0.0.5', devices)).toMatchObject({ device: 'ups-sistem-odasi' });
  });

  it('falls back to the v1 agent address (a trap relayed or NATed on the way)', () => {
    expect(deviceForSource('192.168.99.1', devices, '10.0.0.6')).toMatchObject({ site: 'merkez', device: 'sw-core' });
    expect(deviceForSource('10.0.0.5', devices, '10.0.0.6')).toMatchObject({ device: 'ups-sistem-odasi' });
  });

  it('an unknown sender is reported under site unknown with its address as a valid id', () => {
    expect(deviceForSource('10.0.0.99', devices)).toEqual({ site: 'unknown', device: '10-0-0-99', entry: undefined });
    expect(deviceForSource('10.0.0.99', devices, '0.0.0.0').device).toBe('10-0-0-99');
    for (const address of ['10.0.0.99', 'FE80::1', '::1', '::ffff:172.16.0.1', '']) {
      const { site, device } = deviceForSource(address, devices);
      expect(site).toBe('unknown');
      expect(device).toMatch(ID_PATTERN);
    }
    expect(deviceForSource('::1', devices).device).toBe('0--1');
    // No DNS in a pure function: a device configured by name is not matched by its IP.
    expect(deviceForSource('10.9.9.9', devices).site).toBe('unknown');
  });
});

/** A minimal SNMPv3 message (reportable, noAuthNoPriv, empty GetRequest) with a chosen msgID encoding and user. */
function v3Message(msgId: number[], user: string): Buffer {
  const tlv = (tag: number, body: Buffer | number[]) => {
    const b = Buffer.from(body);
    return Buffer.concat([Buffer.from([tag, b.length]), b]);
  };
  const seq = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts));
  const int = (bytes: number[]) => tlv(0x02, bytes);
  const octets = (bytes: Buffer | number[]) => tlv(0x04, bytes);
  const getRequest = tlv(0xa0, Buffer.concat([int([1]), int([0]), int([0]), seq()]));
  return seq(
    int([3]),
    seq(int(msgId), int([0x05, 0xdc]), octets([0x04]), int([3])),
    octets(seq(octets([]), int([0]), int([0]), octets(Buffer.from(user)), octets([]), octets([]))),
    seq(octets([]), octets([]), getRequest),
  );
}
