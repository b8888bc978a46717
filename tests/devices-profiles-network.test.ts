import { createSocket } from 'node:dgram';
import { readFileSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricSchema, type Metric } from '../src/contract/schemas.ts';
import { DeviceUnreachableError, type DeviceSession, type PollOutcome } from '../collector/devices/driver.ts';
import { snmpDriver } from '../collector/devices/drivers/snmp.ts';
import { deviceEntrySchema } from '../collector/devices/inventory.ts';
import { tagLinks } from '../collector/devices/poll-messages.ts';
import type { Credential } from '../collector/devices/secrets.ts';
import { expectDetects, expectProfileFiles, loadShippedProfiles, recorded } from './helpers/shipped-profiles.ts';
import { SNMP_FIXTURES, startSnmpd, startSnmpsim, type SnmpdServer, type SnmpsimServer } from './helpers/snmp-servers.ts';

// The shipped network and recorder profiles (IF-MIB, ENTITY-SENSOR-MIB, Huawei optics,
// Hikvision SNMP, HOST-RESOURCES-MIB), polled by the real SNMP driver: against Debian's snmpd
// for what a Linux agent really has (loopback traffic, mounted disks, SNMPv3), and against
// snmpsim serving recordings written from the MIBs for the switches and recorders, which cannot
// run here (tests/fixtures/snmp/README.md).

const PROFILE_KINDS = { 'if-mib': 'switch', 'entity-sensor': 'switch', 'huawei-optical': 'switch', 'hikvision-snmp': 'nvr', 'host-resources': 'nvr' } as const;
type ProfileId = keyof typeof PROFILE_KINDS;
const PROFILE_IDS = Object.keys(PROFILE_KINDS) as ProfileId[];

const profiles = loadShippedProfiles(PROFILE_KINDS);

const v2c = (community: string): Credential => ({ snmp: { version: '2c', community } });

function open(profileId: ProfileId, address: string, credential: Credential, extra: Record<string, unknown> = {}): DeviceSession {
  const device = deviceEntrySchema.parse({ site: 'merkez', id: `${profileId}-test`, address, profile: [profileId], timeoutMs: 2_000, retries: 1, ...extra });
  return snmpDriver.open({ device, profile: profiles.get(profileId)!, credential });
}

interface TimedPoll {
  outcome: PollOutcome;
  started: number;
  ended: number;
}

/** Polls, notes when (rates are per second of wall time) and checks every metric against the device contract. */
async function poll(session: DeviceSession): Promise<TimedPoll> {
  const started = Date.now();
  const outcome = await session.poll(AbortSignal.timeout(10_000));
  const ended = Date.now();
  for (const metric of outcome.metrics) expect(() => metricSchema.parse(metric), JSON.stringify(metric).slice(0, 300)).not.toThrow();
  return { outcome, started, ended };
}

async function pollOnce(profileId: ProfileId, address: string, credential: Credential): Promise<PollOutcome> {
  const session = open(profileId, address, credential);
  try {
    return (await poll(session)).outcome;
  } finally {
    session.close();
  }
}

/** Points of one measurement by their tag; points of several groups with the same tag are merged (no field twice). */
function byTag(outcome: PollOutcome, measurement: string, key: string): Record<string, Metric['fields']> {
  const rows: Record<string, Metric['fields']> = {};
  for (const metric of outcome.metrics.filter((m) => m.name === measurement)) {
    const tag = metric.tags?.[key as keyof NonNullable<Metric['tags']>];
    expect(tag, JSON.stringify(metric)).toBeDefined();
    const row = (rows[tag!] ??= {});
    for (const [field, value] of Object.entries(metric.fields)) {
      expect(row, `${measurement}[${tag}].${field} written twice`).not.toHaveProperty(field);
      row[field] = value;
    }
  }
  return rows;
}

/** A counter rate between two polls can only lie between delta/longest and delta/shortest possible interval. */
function expectRate(value: unknown, delta: number, first: TimedPoll, second: TimedPoll): void {
  const longest = (second.ended - first.started) / 1000;
  const shortest = (second.started - first.ended) / 1000;
  expect(typeof value).toBe('number');
  expect(value as number).toBeGreaterThanOrEqual(delta / longest - 1e-6);
  expect(value as number).toBeLessThanOrEqual(delta / shortest + 1e-6);
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('profile files', () => {
  it('validate with profileSchema, carry their file name as id, the snmp driver and the right device kind', () => {
    expectProfileFiles(PROFILE_KINDS, profiles);
  });

  it('detect the devices of their recordings (probe OID recorded, sysObjectID under a listed prefix)', () => {
    expectDetects(profiles, [
      ['if-mib', 'switch-cisco.snmprec'],
      ['if-mib', 'switch-huawei.snmprec'],
      ['entity-sensor', 'switch-cisco.snmprec'],
      ['huawei-optical', 'switch-huawei.snmprec'],
      ['hikvision-snmp', 'nvr-hikvision.snmprec'],
      ['host-resources', 'nvr-generic.snmprec'],
    ]);
    // Neither vendor profile claims the other vendor's switch.
    expect(profiles.get('huawei-optical')!.detect!.sysObjectId!.some((p) => '1.3.6.1.4.1.9.1.1694'.startsWith(`${p}.`))).toBe(false);
    expect(profiles.get('entity-sensor')!.detect!.sysObjectId!.some((p) => '1.3.6.1.4.1.2011.2.23.306'.startsWith(`${p}.`))).toBe(false);
  });

  it('map the Huawei optical and Hikvision traps to events with English and Turkish messages', () => {
    const table = (id: ProfileId) => Object.fromEntries(Object.entries(profiles.get(id)!.traps).map(([oid, t]) => [oid, [t.type, t.severity]]));
    expect(table('huawei-optical')).toEqual({
      '1.3.6.1.4.1.2011.5.25.219.2.4.5': ['optical_module_invalid', 'warning'],
      '1.3.6.1.4.1.2011.5.25.219.2.4.6': ['optical_module_invalid_cleared', 'info'],
      '1.3.6.1.4.1.2011.5.25.129.2.17.1': ['optical_power_abnormal', 'warning'],
      '1.3.6.1.4.1.2011.5.25.129.2.17.2': ['optical_power_normal', 'info'],
    });
    expect(table('hikvision-snmp')).toEqual({
      '1.3.6.1.4.1.50001.0.1': ['nvr_powered_on', 'info'],
      '1.3.6.1.4.1.50001.0.2': ['nvr_powered_off', 'warning'],
      '1.3.6.1.4.1.50001.0.3': ['nvr_rebooting', 'warning'],
    });
    // linkDown/linkUp belong to the trap receiver, not to a profile.
    expect(profiles.get('if-mib')!.traps).toEqual({});
    for (const id of PROFILE_IDS) {
      const traps = Object.values(profiles.get(id)!.traps);
      expect(new Set(traps.map((t) => t.type)).size).toBe(traps.length);
      for (const trap of traps) {
        expect(trap.message.en).toMatch(/^[\x20-\x7e]+$/);
        expect(trap.message.tr, trap.type).toMatch(/[çğıöşüÇĞİÖŞÜ]/);
      }
    }
  });
});

describe('IF-MIB and HOST-RESOURCES-MIB against Debian snmpd', () => {
  let snmpd: SnmpdServer;
  const v3 = { user: 'izleme', authKey: 'yetki-anahtari-1', privKey: 'gizlilik-anahtari-2' };

  beforeAll(async () => {
    snmpd = await startSnmpd({ community: 'ag-izleme', v3Users: [v3] });
  });
  afterAll(async () => {
    await snmpd?.stop();
  });

  it('sees lo up, and traffic sent over loopback between two polls as in_bps on lo', async () => {
    const session = open('if-mib', snmpd.address, v2c('ag-izleme'));
    const sink = createSocket('udp4');
    const sender = createSocket('udp4');
    try {
      const first = await poll(session);
      expect(first.outcome.problems).toEqual([]);
      const lo = byTag(first.outcome, 'interface', 'iface').lo;
      expect(lo).toMatchObject({ oper_up: 1, admin_up: 1 });
      expect(lo).not.toHaveProperty('in_bps'); // no rate from a single poll

      // 1 MB a round until the rate shows: snmpd refreshes interface counters every few seconds.
      await new Promise<void>((r) => sink.bind(0, '127.0.0.1', r));
      let inBps = 0;
      for (let round = 0; round < 12 && inBps === 0; round++) {
        for (let i = 0; i < 1000; i++) sender.send(Buffer.alloc(1000), sink.address().port, '127.0.0.1');
        await pause(1000);
        inBps = Number(byTag((await poll(session)).outcome, 'interface', 'iface').lo?.in_bps ?? 0);
      }
      // At least one round's 8 Mbit over the at most 12 s since the previous poll.
      expect(inBps).toBeGreaterThan(8_000_000 / 12);
    } finally {
      sender.close();
      sink.close();
      session.close();
    }
  });

  it('lists the fixed disks, "/" with the size the kernel reports, and no memory or swap', async () => {
    const outcome = await pollOnce('host-resources', snmpd.address, v2c('ag-izleme'));
    // Only "/" is known here; another mount of this machine may well be odd (an empty tmpfs: 0 ÷ 0).
    expect(outcome.problems.filter((p) => p.startsWith('nvr_disk[/]'))).toEqual([]);
    const disks = byTag(outcome, 'nvr_disk', 'disk');
    const fs = statfsSync('/');
    const root = disks['/']!;
    expect(root.capacity_bytes).toBe(fs.blocks * fs.bsize);
    expect(root.free_bytes as number).toBeGreaterThan(0);
    expect(root.free_bytes as number).toBeLessThanOrEqual(root.capacity_bytes as number);
    // hrStorageUsed is blocks minus free blocks (root's reserve counts as used): as statfs says, give or take what was written since.
    expect(root.used_pct as number).toBeCloseTo(((fs.blocks - fs.bfree) * 100) / fs.blocks, 0);
    expect(Object.keys(disks)).not.toContain('Physical memory');
    expect(Object.keys(disks)).not.toContain('Swap space');
  });

  it('polls over SNMPv3 authPriv (SHA/AES) with the right keys; wrong keys make the device unreachable, not a crash', async () => {
    const good = open('if-mib', snmpd.address, { snmp: { version: '3', ...v3, authProtocol: 'sha', privProtocol: 'aes' } });
    try {
      expect(byTag((await poll(good)).outcome, 'interface', 'iface').lo).toMatchObject({ oper_up: 1 });
    } finally {
      good.close();
    }
    const unreachable = async (keys: Partial<typeof v3>): Promise<DeviceUnreachableError> => {
      const bad = open('if-mib', snmpd.address, { snmp: { version: '3', ...v3, ...keys, authProtocol: 'sha', privProtocol: 'aes' } }, { timeoutMs: 500, retries: 0 });
      try {
        const error = await bad.poll(AbortSignal.timeout(10_000)).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(DeviceUnreachableError);
        return error as DeviceUnreachableError;
      } finally {
        bad.close();
      }
    };
    // snmpd drops a request it cannot decrypt without any answer (snmpget says "Timeout: No
    // Response" too): a wrong privacy key looks like a silent device.
    expect((await unreachable({ privKey: 'yanlis-anahtar-3' })).reason).toBe('timeout');
    // A wrong authentication key gets a usmStatsWrongDigests report back.
    expect((await unreachable({ authKey: 'yanlis-anahtar-4' })).reason).toBe('auth');
  });
});

describe('recordings served by snmpsim', () => {
  let sim: SnmpsimServer;

  beforeAll(async () => {
    // One community per scenario, so a test that swaps a recording does not disturb another.
    sim = await startSnmpsim({
      cisco: 'switch-cisco.snmprec',
      'cisco-flap': 'switch-cisco.snmprec',
      'cisco-reboot': 'switch-cisco.snmprec',
      huawei: 'switch-huawei.snmprec',
      'huawei-dbm': 'switch-huawei.snmprec',
      hikvision: 'nvr-hikvision.snmprec',
      nvr: 'nvr-generic.snmprec',
      hostile: 'switch-hostile.snmprec',
    });
  });
  afterAll(async () => {
    await sim?.stop();
  });

  describe('Cisco access switch (IF-MIB, ENTITY-SENSOR-MIB)', () => {
    it('reads all 29 interfaces with state and speed, and the uptime', async () => {
      const outcome = await pollOnce('if-mib', sim.address, v2c('cisco'));
      expect(outcome.problems).toEqual([]);
      const ifs = byTag(outcome, 'interface', 'iface');
      expect(Object.keys(ifs)).toHaveLength(29);
      expect(ifs['Te1/0/1']).toEqual({ oper_up: 1, admin_up: 1, speed_mbps: 10_000 });
      expect(ifs['Te1/0/2']).toEqual({ oper_up: 1, admin_up: 1, speed_mbps: 10_000 });
      expect(ifs['Gi1/0/1']).toEqual({ oper_up: 1, admin_up: 1, speed_mbps: 1000 });
      expect(ifs['Gi1/0/7']).toEqual({ oper_up: 1, admin_up: 1, speed_mbps: 100 });
      expect(ifs['Gi1/0/20']).toEqual({ oper_up: 0, admin_up: 1, speed_mbps: 10 });
      expect(ifs['Gi1/0/24']).toEqual({ oper_up: 0, admin_up: 0, speed_mbps: 10 });
      expect(ifs.Vl1).toEqual({ oper_up: 1, admin_up: 1, speed_mbps: 1000 });
      expect(outcome.metrics.filter((m) => m.name === 'system')).toEqual([{ name: 'system', fields: { uptime_s: 10_627_345 } }]);
    });

    it('reads Rx and Tx dBm of both fiber uplinks onto one series per port, nothing of the other sensors', async () => {
      const outcome = await pollOnce('entity-sensor', sim.address, v2c('cisco'));
      expect(outcome.problems).toEqual([]);
      expect(byTag(outcome, 'optical', 'iface')).toEqual({
        'Te1/0/1': { rx_dbm: -3.5, tx_dbm: -2.4 },
        'Te1/0/2': { rx_dbm: -8.7, tx_dbm: -2.7 },
      });
    });

    it('names a port alike in interface and optical points, so a configured fiber link tags both', async () => {
      const points = [...(await pollOnce('if-mib', sim.address, v2c('cisco'))).metrics, ...(await pollOnce('entity-sensor', sim.address, v2c('cisco'))).metrics];
      const linked = tagLinks(points, [{ iface: 'Te1/0/2', to: 'fen-isleri' }]).filter((m) => m.tags?.link === 'fen-isleri');
      expect(linked.map((m) => m.name).sort()).toEqual(['interface', 'optical', 'optical']); // the Rx and the Tx point
    });

    it('shows an uplink going down between two polls, with rates from the grown counters', async () => {
      const ifMib = open('if-mib', sim.address, v2c('cisco-flap'));
      const sensors = open('entity-sensor', sim.address, v2c('cisco-flap'));
      try {
        const first = await poll(ifMib);
        expect(byTag((await poll(sensors)).outcome, 'optical', 'iface')['Te1/0/2']).toEqual({ rx_dbm: -8.7, tx_dbm: -2.7 });
        expect(byTag(first.outcome, 'interface', 'iface')['Te1/0/2']!.oper_up).toBe(1);

        await pause(1000);
        sim.serve('cisco-flap', 'switch-cisco-link-down.snmprec');
        const second = await poll(ifMib);
        const ifs = byTag(second.outcome, 'interface', 'iface');
        expect(second.outcome.problems).toEqual([]);
        expect(second.outcome.events).toEqual([]); // sysUpTime went on: no reboot
        expect(ifs['Te1/0/2']).toEqual({ oper_up: 0, admin_up: 1, speed_mbps: 10_000, in_bps: 0, out_bps: 0, in_errors_ps: 0, out_errors_ps: 0, in_discards_ps: 0, out_discards_ps: 0 });
        expect(ifs['Te1/0/1']).toMatchObject({ oper_up: 1, in_errors_ps: 0 });
        // The recording grew Te1/0/1 by 1,875,000,000 octets in and 750,000,000 out.
        expectRate(ifs['Te1/0/1']!.in_bps, 1_875_000_000 * 8, first, second);
        expectRate(ifs['Te1/0/1']!.out_bps, 750_000_000 * 8, first, second);
        expectRate(ifs['Gi1/0/5']!.in_errors_ps, 12, first, second);
        expectRate(ifs['Gi1/0/3']!.out_discards_ps, 180, first, second);
        expect(ifs['Gi1/0/20']).toMatchObject({ oper_up: 0, in_bps: 0, out_bps: 0 });
        expect(second.outcome.metrics.find((m) => m.name === 'system')!.fields.uptime_s).toBe(10_627_405);
        // The dark fiber reads -40 dBm on the receiver.
        expect(byTag((await poll(sensors)).outcome, 'optical', 'iface')['Te1/0/2']).toEqual({ rx_dbm: -40, tx_dbm: -2.7 });
      } finally {
        ifMib.close();
        sensors.close();
      }
    });

    it('after a restart (small sysUpTime, small counters) reports the reboot and no rate, then rates from zero up', async () => {
      const session = open('if-mib', sim.address, v2c('cisco-reboot'));
      try {
        await poll(session);
        await pause(500);
        sim.serve('cisco-reboot', 'switch-cisco-rebooted.snmprec');
        const rebooted = (await poll(session)).outcome;
        expect(rebooted.events).toEqual([expect.objectContaining({ type: 'reboot', severity: 'warning', data: { uptime_s: 45 } })]);
        const rateFields = ['in_bps', 'out_bps', 'in_errors_ps', 'out_errors_ps', 'in_discards_ps', 'out_discards_ps'];
        for (const [iface, fields] of Object.entries(byTag(rebooted, 'interface', 'iface'))) {
          for (const field of rateFields) expect(fields, `${iface}.${field}`).not.toHaveProperty(field);
        }
        // The next poll of the restarted switch (counters unchanged) gives rates again: zero, not negative, not huge.
        await pause(500);
        const next = (await poll(session)).outcome;
        expect(next.events).toEqual([]);
        const ifs = byTag(next, 'interface', 'iface');
        expect(Object.keys(ifs)).toHaveLength(29);
        for (const [iface, fields] of Object.entries(ifs)) for (const field of rateFields) expect(fields[field], `${iface}.${field}`).toBe(0);
      } finally {
        session.close();
      }
    });
  });

  describe('Huawei S5720 (HUAWEI-ENTITY-EXTENT-MIB)', () => {
    const thresholds10g = { rx_low_dbm: -14, rx_high_dbm: 0.5, tx_low_dbm: -8.2, tx_high_dbm: 0.5 };

    it('converts µW to dBm, reads the 0.01 dBm thresholds and leaves out the port without a module and the dark receiver', async () => {
      const outcome = await pollOnce('huawei-optical', sim.address, v2c('huawei'));
      expect(outcome.problems).toEqual([]);
      expect(byTag(outcome, 'optical', 'iface')).toEqual({
        'XGigabitEthernet0/0/1': { rx_dbm: -5.003129, tx_dbm: -2.403322, ...thresholds10g },
        'XGigabitEthernet0/0/2': { rx_dbm: -10, tx_dbm: -3.0103, ...thresholds10g },
        // 0 µW received: no rx_dbm (−∞); the module's own values are still there.
        'XGigabitEthernet0/0/4': { tx_dbm: -2.502637, rx_low_dbm: -20, rx_high_dbm: -3, tx_low_dbm: -11, tx_high_dbm: -3 },
      });
    });

    it('reads the same switch with firmware that reports 0.01 dBm as the MIB text says', async () => {
      // The same recording with the power columns as such firmware answers them.
      const dbmFirmware: Record<string, number> = { '8.16842801': -500, '9.16842801': -240, '8.16842802': -1000, '9.16842802': -301, '8.16842804': -4000, '9.16842804': -250 };
      const lines = readFileSync(join(SNMP_FIXTURES, 'switch-huawei.snmprec'), 'utf8').split('\n');
      const rewritten = lines.map((line) => {
        const [oid] = line.split('|');
        const column = oid?.replace('1.3.6.1.4.1.2011.5.25.31.1.1.3.1.', '');
        return column !== undefined && column in dbmFirmware ? `${oid}|2|${dbmFirmware[column]}` : line;
      });
      expect(rewritten.filter((line, i) => line !== lines[i])).toHaveLength(6);
      sim.serveText('huawei-dbm', rewritten.join('\n'));

      const outcome = await pollOnce('huawei-optical', sim.address, v2c('huawei-dbm'));
      expect(outcome.problems).toEqual([]);
      expect(byTag(outcome, 'optical', 'iface')).toEqual({
        'XGigabitEthernet0/0/1': { rx_dbm: -5, tx_dbm: -2.4, ...thresholds10g },
        'XGigabitEthernet0/0/2': { rx_dbm: -10, tx_dbm: -3.01, ...thresholds10g },
        'XGigabitEthernet0/0/4': { rx_dbm: -40, tx_dbm: -2.5, rx_low_dbm: -20, rx_high_dbm: -3, tx_low_dbm: -11, tx_high_dbm: -3 },
      });
    });

    it('names its interfaces as the optical table does, so a configured fiber link tags both', async () => {
      const interfaces = await pollOnce('if-mib', sim.address, v2c('huawei'));
      const ifs = byTag(interfaces, 'interface', 'iface');
      expect(Object.keys(ifs)).toHaveLength(55);
      expect(ifs['XGigabitEthernet0/0/1']).toEqual({ oper_up: 1, admin_up: 1, speed_mbps: 10_000 });
      expect(ifs['XGigabitEthernet0/0/4']).toMatchObject({ oper_up: 0 });
      const points = [...interfaces.metrics, ...(await pollOnce('huawei-optical', sim.address, v2c('huawei'))).metrics];
      const linked = tagLinks(points, [{ iface: 'XGigabitEthernet0/0/2', to: 'park-bahceler' }]).filter((m) => m.tags?.link === 'park-bahceler');
      expect(linked.map((m) => m.name).sort()).toEqual(['interface', 'optical', 'optical', 'optical']); // Rx, Tx, thresholds
    });
  });

  describe('recorders', () => {
    it('Hikvision: both disks with state, MiB sizes in bytes and use, tagged with the disk number', async () => {
      const outcome = await pollOnce('hikvision-snmp', sim.address, v2c('hikvision'));
      expect(outcome.problems).toEqual([]);
      expect(byTag(outcome, 'nvr_disk', 'disk')).toEqual({
        '1': { ok: 1, status: 'ok', capacity_bytes: 4_000_786_153_472, free_bytes: 2_847_563_317_248, used_pct: 28.824906 },
        '2': { ok: 0, status: 'error', capacity_bytes: 6_001_174_511_616, free_bytes: 0, used_pct: 100 },
      });
      expect(outcome.metrics.filter((m) => m.name === 'nvr_channel')).toEqual([]);
    });

    it('HOST-RESOURCES: only the fixed disks (no memory, swap, USB stick or network mount), sizes times allocation units', async () => {
      const outcome = await pollOnce('host-resources', sim.address, v2c('nvr'));
      expect(outcome.problems).toEqual([]);
      expect(byTag(outcome, 'nvr_disk', 'disk')).toEqual({
        '/': { capacity_bytes: 31_836_876_800, free_bytes: 22_285_815_808, used_pct: 29.999994 },
        '/mnt/hdd1': { capacity_bytes: 8_001_563_222_016, free_bytes: 804_358_742_016, used_pct: 89.94748 },
        '/mnt/hdd2': { capacity_bytes: 8_001_563_222_016, free_bytes: 6_721_313_107_968, used_pct: 16 },
      });
    });
  });

  describe('a hostile switch', () => {
    it('gives its good values, every bad one as a problem, a 128-character tag for a 10,000-character name, and no throw', async () => {
      const ifMib = open('if-mib', sim.address, v2c('hostile'));
      const sensors = open('entity-sensor', sim.address, v2c('hostile'));
      try {
        const first = (await poll(ifMib)).outcome;
        const longName = 'X'.repeat(128);
        expect(byTag(first, 'interface', 'iface')).toEqual({
          [longName]: { oper_up: 1, admin_up: 1 },
          port2: { speed_mbps: 4_294_967_295 },
        });
        expect(first.problems.sort()).toEqual([
          `interface[${longName}].in_errors_ps: expected a counter, got octets 4 bytes`,
          `interface[${longName}].speed_mbps: expected a number, got octets 4 bytes`,
          'interface[port2].in_bps: expected a counter, got integer 123456',
          'interface[port2].oper_up: expected an integer, got octets 2 bytes',
        ]);
        // The largest Counter64 twice: a rate of zero, not a wrap of 2^64.
        await pause(500);
        const second = (await poll(ifMib)).outcome;
        expect(byTag(second, 'interface', 'iface')[longName]).toEqual({ oper_up: 1, admin_up: 1, in_bps: 0, out_bps: 0 });
        expect(byTag(second, 'interface', 'iface').port2).toEqual({ speed_mbps: 4_294_967_295, in_errors_ps: 0 });

        const optical = (await poll(sensors)).outcome;
        expect(byTag(optical, 'optical', 'iface')).toEqual({});
        expect(optical.problems.sort()).toEqual(['optical[Te0/1].rx_dbm: sensor scale/precision out of range', 'optical[Te0/2].rx_dbm: expected a number, got octets 11 bytes']);
      } finally {
        ifMib.close();
        sensors.close();
      }
    });
  });
});
