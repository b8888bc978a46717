import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricSchema, type Metric } from '../src/contract/schemas.ts';
import type { DeviceSession, PollOutcome } from '../collector/devices/driver.ts';
import { snmpDriver } from '../collector/devices/drivers/snmp.ts';
import { deviceEntrySchema } from '../collector/devices/inventory.ts';
import { expectDetects, expectProfileFiles, loadShippedProfiles, recorded } from './helpers/shipped-profiles.ts';
import { startSnmpsim, type SnmpsimServer } from './helpers/snmp-servers.ts';

// The shipped UPS (UPS-MIB, APC PowerNet), environment (APC IEM probes) and printer
// (Printer-MIB) profiles, polled by the real SNMP driver from Debian's snmpsim serving
// recordings written from the MIBs (tests/fixtures/snmp/README.md). No UPS, probe or printer
// can run here; the recordings stand in for them.

const PROFILE_KINDS = { 'ups-mib': 'ups', 'apc-powernet': 'ups', environment: 'sensor', printer: 'printer' } as const;
type ProfileId = keyof typeof PROFILE_KINDS;

// Each file through the loader's own parser: loadProfiles() would also load the other profiles of the
// directory, which other engineers may be editing right now.
const profiles = loadShippedProfiles(PROFILE_KINDS);

let sim: SnmpsimServer;

beforeAll(async () => {
  // One community per scenario, so a test that swaps a recording does not disturb another.
  sim = await startSnmpsim({
    'ups-online': 'ups-mib-online.snmprec',
    'ups-switch': 'ups-mib-online.snmprec',
    'ups-hostile': 'ups-mib-hostile.snmprec',
    'apc-switch': 'apc-online.snmprec',
    env: 'environment.snmprec',
    printer: 'printer.snmprec',
  });
});
afterAll(async () => {
  await sim?.stop();
});

function open(profileId: ProfileId, community: string): DeviceSession {
  const device = deviceEntrySchema.parse({ site: 'merkez', id: `${profileId}-test`, address: sim.address, profile: [profileId], timeoutMs: 2_000, retries: 1 });
  return snmpDriver.open({ device, profile: profiles.get(profileId)!, credential: { snmp: { version: '2c', community } } });
}

/** Polls and checks every metric against the contract a device message must meet. */
async function poll(session: DeviceSession): Promise<PollOutcome> {
  const outcome = await session.poll(AbortSignal.timeout(10_000));
  for (const metric of outcome.metrics) expect(() => metricSchema.parse(metric), JSON.stringify(metric).slice(0, 300)).not.toThrow();
  return outcome;
}

async function pollOnce(profileId: ProfileId, community: string): Promise<PollOutcome> {
  const session = open(profileId, community);
  try {
    return await poll(session);
  } finally {
    session.close();
  }
}

const named = (outcome: PollOutcome, name: string): Metric[] => outcome.metrics.filter((m) => m.name === name);

function upsFields(outcome: PollOutcome): Metric['fields'] {
  const ups = named(outcome, 'ups');
  expect(ups).toHaveLength(1);
  expect(ups[0]!.tags).toBeUndefined();
  return ups[0]!.fields;
}

describe('profile files', () => {
  it('validate with profileSchema, carry their file name as id and the right device kind', () => {
    expectProfileFiles(PROFILE_KINDS, profiles);
  });

  it('detect the devices of their recordings (probe OID answered, sysObjectID under a listed prefix)', () => {
    expectDetects(profiles, [
      ['ups-mib', 'ups-mib-online.snmprec'],
      ['apc-powernet', 'apc-online.snmprec'],
      ['environment', 'environment.snmprec'],
      ['printer', 'printer.snmprec'],
    ]);
    // An APC environment-only card (EMU) must not be taken for a UPS: the UPS probe OID is not in the environment recording.
    expect(recorded('environment.snmprec', profiles.get('apc-powernet')!.detect!.oid!)).toBeUndefined();
  });
});

describe('trap tables', () => {
  it('map the UPS-MIB notifications (upsTraps 1–4) to events', () => {
    const traps = profiles.get('ups-mib')!.traps;
    expect(Object.fromEntries(Object.entries(traps).map(([oid, t]) => [oid, [t.type, t.severity]]))).toEqual({
      '1.3.6.1.2.1.33.2.1': ['ups_on_battery', 'warning'],
      '1.3.6.1.2.1.33.2.2': ['ups_test_completed', 'info'],
      '1.3.6.1.2.1.33.2.3': ['ups_alarm_added', 'warning'],
      '1.3.6.1.2.1.33.2.4': ['ups_alarm_removed', 'info'],
    });
    // upsTrapOnBattery carries upsEstimatedMinutesRemaining and upsSecondsOnBattery.
    expect(traps['1.3.6.1.2.1.33.2.1']!.data).toEqual({ minutes_remaining: '1.3.6.1.2.1.33.1.2.3', seconds_on_battery: '1.3.6.1.2.1.33.1.2.2' });
  });

  it('map the PowerNet v1 traps as enterprise.0.specific (RFC 3584) to events', () => {
    const traps = profiles.get('apc-powernet')!.traps;
    expect(Object.fromEntries(Object.entries(traps).map(([oid, t]) => [oid, [t.type, t.severity]]))).toEqual({
      '1.3.6.1.4.1.318.0.1': ['ups_communication_lost', 'critical'],
      '1.3.6.1.4.1.318.0.3': ['ups_self_test_failed', 'critical'],
      '1.3.6.1.4.1.318.0.5': ['ups_on_battery', 'warning'],
      '1.3.6.1.4.1.318.0.7': ['ups_low_battery', 'critical'],
      '1.3.6.1.4.1.318.0.8': ['ups_communication_restored', 'info'],
      '1.3.6.1.4.1.318.0.9': ['ups_power_restored', 'info'],
      '1.3.6.1.4.1.318.0.11': ['ups_low_battery_cleared', 'info'],
      '1.3.6.1.4.1.318.0.17': ['ups_replace_battery', 'critical'],
    });
    // Every PowerNet trap has the one varbind mtrapargsString.
    for (const trap of Object.values(traps)) expect(trap.data).toEqual({ detail: '1.3.6.1.4.1.318.2.3.3' });
  });

  it('have unique types, data OIDs inside their own MIB and messages in English and in Turkish with Turkish letters', () => {
    const subtree: [ProfileId, string][] = [
      ['ups-mib', '1.3.6.1.2.1.33.'],
      ['apc-powernet', '1.3.6.1.4.1.318.'],
    ];
    for (const [id, root] of subtree) {
      const traps = Object.values(profiles.get(id)!.traps);
      expect(new Set(traps.map((t) => t.type)).size).toBe(traps.length);
      for (const trap of traps) {
        for (const oid of Object.values(trap.data ?? {})) expect(oid.startsWith(root), `${trap.type}: ${oid}`).toBe(true);
        expect(trap.message.en).toMatch(/^[\x20-\x7e]+$/);
        // Catches Turkish written without its letters ("akuden calisiyor").
        expect(trap.message.tr, trap.type).toMatch(/[çğıöşüÇĞİÖŞÜ]/);
        expect(trap.message.tr).not.toBe(trap.message.en);
      }
    }
    expect(Object.keys(profiles.get('environment')!.traps)).toEqual([]);
    expect(Object.keys(profiles.get('printer')!.traps)).toEqual([]);
  });
});

const UPS_MIB_ONLINE = {
  status: 'online',
  on_battery: 0,
  on_bypass: 0,
  battery_status: 'normal',
  battery_low: 0,
  charge_pct: 100,
  runtime_s: 38 * 60,
  battery_temp_c: 27,
  input_voltage_v: 228,
  input_frequency_hz: 50,
  output_voltage_v: 220,
  output_frequency_hz: 50,
  load_pct: 48,
  self_test: 'passed',
  self_test_ok: 1,
};

describe('UPS-MIB profile', () => {
  it('reads every ups field of an online UPS, plus the uptime, without problems', async () => {
    const outcome = await pollOnce('ups-mib', 'ups-online');
    expect(upsFields(outcome)).toEqual(UPS_MIB_ONLINE);
    expect(named(outcome, 'system')).toEqual([{ name: 'system', fields: { uptime_s: 1_234_567 } }]);
    expect(outcome.metrics).toHaveLength(2);
    expect(outcome.problems).toEqual([]);
    expect(outcome.events).toEqual([]);
  });

  it('shows the switch to battery between two polls of one session', async () => {
    const session = open('ups-mib', 'ups-switch');
    try {
      const before = await poll(session);
      expect(upsFields(before)).toEqual(UPS_MIB_ONLINE);

      sim.serve('ups-switch', 'ups-mib-on-battery.snmprec');
      const after = await poll(session);
      expect(upsFields(after)).toEqual({
        ...UPS_MIB_ONLINE,
        status: 'on_battery',
        on_battery: 1,
        charge_pct: 83,
        runtime_s: 24 * 60,
        battery_temp_c: 28,
        input_voltage_v: 0,
        input_frequency_hz: 0,
      });
      // The agent kept running (sysUpTime went on), so this is no reboot.
      expect(named(after, 'system')[0]!.fields.uptime_s).toBe(1_234_807);
      expect(after.events).toEqual([]);
      expect(after.problems).toEqual([]);
    } finally {
      session.close();
    }
  });

  it('keeps the good fields of a hostile agent and reports the bad ones as problems, without throwing', async () => {
    const outcome = await pollOnce('ups-mib', 'ups-hostile');
    // charge "87%" as text, the 10,000-character string as test result: refused. Temperature
    // "29" as text: a number, taken. The missing input row: absent, quietly (optional objects).
    expect(upsFields(outcome)).toEqual({
      status: 'online',
      on_battery: 0,
      on_bypass: 0,
      battery_status: 'normal',
      battery_low: 0,
      runtime_s: 38 * 60,
      battery_temp_c: 29,
      output_voltage_v: 220,
      output_frequency_hz: 50,
      load_pct: 48,
    });
    expect(outcome.problems).toHaveLength(3);
    expect(outcome.problems[0]).toMatch(/^ups\.charge_pct: expected a number, got octets 3 bytes/);
    expect(outcome.problems[1]).toMatch(/^ups\.self_test: expected an integer, got octets 10000 bytes/);
    expect(outcome.problems[2]).toMatch(/^ups\.self_test_ok: expected an integer/);
    // A problem names the value, it does not repeat 10 kB of it into logs and counters.
    for (const problem of outcome.problems) expect(problem.length).toBeLessThan(200);
    expect(named(outcome, 'system')).toHaveLength(1);
  });
});

const APC_ONLINE = {
  status: 'online',
  on_battery: 0,
  on_bypass: 0,
  battery_status: 'normal',
  battery_low: 0,
  charge_pct: 100,
  // 162000 TimeTicks (1/100 s)
  runtime_s: 1_620,
  battery_temp_c: 31,
  replace_battery: 1,
  input_voltage_v: 231,
  input_frequency_hz: 50,
  output_voltage_v: 230,
  output_frequency_hz: 50,
  load_pct: 42,
  self_test: 'failed',
  self_test_ok: 0,
};

describe('APC PowerNet profile', () => {
  it('reads every ups field online, then on battery with a low battery, across two polls of one session', async () => {
    const session = open('apc-powernet', 'apc-switch');
    try {
      const before = await poll(session);
      expect(upsFields(before)).toEqual(APC_ONLINE);
      expect(named(before, 'system')).toEqual([{ name: 'system', fields: { uptime_s: 2_611_984 } }]);
      expect(before.problems).toEqual([]);

      sim.serve('apc-switch', 'apc-on-battery.snmprec');
      const after = await poll(session);
      expect(upsFields(after)).toEqual({
        ...APC_ONLINE,
        status: 'on_battery',
        on_battery: 1,
        battery_status: 'low',
        battery_low: 1,
        charge_pct: 19,
        runtime_s: 180,
        battery_temp_c: 32,
        input_voltage_v: 0,
        input_frequency_hz: 0,
      });
      expect(named(after, 'system')[0]!.fields.uptime_s).toBe(2_612_404);
      expect(after.events).toEqual([]);
      expect(after.problems).toEqual([]);
    } finally {
      session.close();
    }
  });
});

describe('environment profile', () => {
  it('reads connected probes in °C whatever unit the card shows, leaves out missing humidity and disconnected probes', async () => {
    const outcome = await pollOnce('environment', 'env');
    expect(named(outcome, 'environment')).toEqual([
      { name: 'environment', tags: { sensor: 'Sistem Odası Ön' }, fields: { temperature_c: 23, humidity_pct: 44 } },
      // 86 °F; a temperature-only probe reports humidity 0.
      { name: 'environment', tags: { sensor: 'Kabin B2 Arka' }, fields: { temperature_c: 30 } },
    ]);
    expect(outcome.metrics.map((m) => m.name).sort()).toEqual(['environment', 'environment', 'system']);
    expect(outcome.problems).toEqual([]);
  });
});

describe('printer profile', () => {
  it('reads each supply by its description, with the level as a percentage of its capacity and the special values left out', async () => {
    const outcome = await pollOnce('printer', 'printer');
    expect(named(outcome, 'printer_supply')).toEqual([
      // 1480 of 4000 impressions
      { name: 'printer_supply', tags: { supply: 'TK-5240K' }, fields: { level: 1_480, max_capacity: 4_000, level_pct: 37 } },
      { name: 'printer_supply', tags: { supply: 'TK-5240C' }, fields: { level: 2_250, max_capacity: 3_000, level_pct: 75 } },
      // level −3, "some remaining": no number to store
      { name: 'printer_supply', tags: { supply: 'TK-5240M' }, fields: { max_capacity: 3_000 } },
      // empty is 0 %, not absent
      { name: 'printer_supply', tags: { supply: 'TK-5240Y' }, fields: { level: 0, max_capacity: 3_000, level_pct: 0 } },
      // a receptacle: remaining space
      { name: 'printer_supply', tags: { supply: 'Atık Toner Kutusu' }, fields: { level: 85, max_capacity: 100, level_pct: 85 } },
      // the maintenance kit (level and capacity −2, unknown) has nothing to store and no point
    ]);
    expect(outcome.problems).toEqual([]);
  });
});
