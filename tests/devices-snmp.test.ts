import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceUnreachableError, type DeviceDriver } from '../collector/devices/driver.ts';
import { snmpDriver } from '../collector/devices/drivers/snmp.ts';
import { deviceEntrySchema } from '../collector/devices/inventory.ts';
import { DevicePoller, nextPollDelay, pollPhase } from '../collector/devices/poller.ts';
import { parseProfile } from '../collector/devices/profile-loader.ts';
import { compileExpression } from '../collector/devices/snmp/expr.ts';
import { interpretPoll } from '../collector/devices/snmp/interpret.ts';
import { counterRate, hasRebooted } from '../collector/devices/snmp/rates.ts';
import type { RawPoll, RawValue } from '../collector/devices/snmp/raw-value.ts';
import { waitFor } from './helpers/servers.ts';
import { freeUdpPort, startSnmpd, type SnmpdServer } from './helpers/snmp-servers.ts';

// The generic SNMP driver: pure parts (expressions, rates, interpretation) without servers,
// then the driver against Debian's snmpd on loopback.

const IF_PROFILE = `
id: test-if
kind: switch
description: interfaces for the driver test
scalars:
  - measurement: snmp_test
    fields:
      name_text: { type: text, oid: 1.3.6.1.2.1.1.5.0 }
      if_count: { oid: 1.3.6.1.2.1.2.1.0 }
tables:
  - measurement: interface
    table: { tag: { key: iface, oid: 1.3.6.1.2.1.2.2.1.2 } }
    fields:
      oper_up: { type: flag, oid: 1.3.6.1.2.1.2.2.1.8, trueWhen: [1] }
      in_bps: { type: counter, oid: 1.3.6.1.2.1.31.1.1.1.6, scale: 8 }
      mtu: { oid: 1.3.6.1.2.1.2.2.1.4 }
`;

describe('profile expressions', () => {
  it('computes arithmetic with precedence, parentheses, unary minus and log10', () => {
    const f = compileExpression('(size - used) * units / 2 + -1', ['size', 'used', 'units']);
    expect(f({ size: 10, used: 4, units: 512 })).toBe(1535);
    expect(compileExpression('10 * log10(p / 1000)', ['p'])({ p: 500 })).toBeCloseTo(-3.0103, 4);
  });
  it('refuses unknown variables, stray characters and unbalanced parentheses, naming the problem', () => {
    expect(() => compileExpression('size * unit', ['size'])).toThrow(/unknown variable "unit"/);
    expect(() => compileExpression('size; rm', ['size'])).toThrow(/unexpected ";/);
    expect(() => compileExpression('(size', ['size'])).toThrow(/expected "\)"/);
    expect(() => compileExpression('process.exit(1)', [])).toThrow();
  });
  it('fails a profile load on a bad expression, naming the field', () => {
    const bad = `id: bad\nkind: ups\ndescription: x\nscalars:\n  - measurement: ups\n    fields:\n      load_pct: { type: compute, vars: { a: 1.3.6.1.2.1.1.3.0 }, expr: "a * b" }\n`;
    expect(() => parseProfile(bad, 'bad.yaml')).toThrow(/bad\.yaml: ups\.load_pct: unknown variable "b"/);
    expect(() => parseProfile('id: x\nkind: toaster\ndescription: y\n', 'x.yaml')).toThrow(/kind/);
  });
});

describe('poll schedule', () => {
  it('spreads 500 devices evenly over their interval, each at a fixed phase', () => {
    const interval = 60_000;
    const perTenSeconds = new Array<number>(6).fill(0);
    for (let i = 0; i < 500; i++) perTenSeconds[Math.floor(pollPhase(`merkez/ups-${i}`, interval) / 10_000)]!++;
    for (const n of perTenSeconds) expect(n).toBeGreaterThan(50);
    const phase = pollPhase('merkez/ups-1', interval);
    const now = 1_000_000_000_000;
    const next = now + nextPollDelay(now, interval, phase);
    expect(next % interval).toBe(phase % interval);
    expect(next - now).toBeGreaterThanOrEqual(interval / 4);
    expect(next - now).toBeLessThanOrEqual(interval * 1.25);
  });
});

describe('poller slots', () => {
  it('polls of a batching driver (ICMP) take no concurrency slot: 100 of them waiting 300 ms at once do not queue behind a limit of 1', async () => {
    // The scheduling is what is tested here: the driver only waits, as a probe waiting for its fping batch does.
    const wait: DeviceDriver = { name: 'waits', credential: 'none', batched: true, open: () => ({ poll: async () => (await new Promise((r) => setTimeout(r, 300)), { metrics: [{ name: 'probe', fields: { ok: 1 } }], events: [], problems: [] }), close: () => {} }) };
    const delivered: string[] = [];
    const poller = new DevicePoller({ drivers: new Map([[wait.name, wait]]), concurrency: 1, language: 'tr', log: { log: () => {} }, deliver: (address, message) => message.channel === 'metrics' && delivered.push(address.device) });
    const profile = parseProfile('id: waits\ndriver: waits\nkind: link\ndescription: waits\n', 'inline');
    poller.update(
      Array.from({ length: 100 }, (_, i) => {
        const device = deviceEntrySchema.parse({ site: 'merkez', id: `hat-${i}`, address: '127.0.0.1', profile: 'waits', intervalS: 60 });
        return { device, kind: 'link' as const, intervalS: 60, targets: [{ device, profile, credential: undefined }], fingerprint: device.id };
      }),
    );
    // First polls come within 10 s; with one slot and 300 ms each they would need 30 s.
    await waitFor('all 100 polled', async () => new Set(delivered).size === 100, 12_000, 100);
    await poller.close();
  });
});

describe('counter rates', () => {
  const s = (value: bigint, at: number, wide = true) => ({ value, wide, at });
  it('is a per-second rate from the second sample on', () => {
    expect(counterRate(undefined, s(100n, 0), false)).toBeUndefined();
    expect(counterRate(s(1_000n, 0), s(11_000n, 10_000), false)).toBe(1_000);
  });
  it('handles a Counter32 wrap, but not a reset, a Counter64 going back or a reboot', () => {
    expect(counterRate(s(2n ** 32n - 1000n, 0, false), s(1000n, 1000, false), false)).toBe(2000);
    expect(counterRate(s(5_000n, 0, false), s(10n, 1000, false), false)).toBeUndefined();
    expect(counterRate(s(5_000n, 0), s(10n, 1000), false)).toBeUndefined();
    expect(counterRate(s(1n, 0), s(10n, 1000), true)).toBeUndefined();
    expect(hasRebooted(50_000, 300)).toBe(true);
    expect(hasRebooted(300, 50_000)).toBe(false);
  });
});

describe('interpreting a poll', () => {
  const int = (value: number): RawValue => ({ kind: 'integer', value });
  const text = (value: string): RawValue => ({ kind: 'octets', value: Buffer.from(value) });
  const profile = parseProfile(
    `
id: t
kind: ups
description: interpretation
scalars:
  - measurement: ups
    fields:
      status: { type: enum, oid: 1.3.6.1.2.1.33.1.4.1.0, values: { "3": online, "5": on_battery } }
      on_battery: { type: flag, oid: 1.3.6.1.2.1.33.1.4.1.0, trueWhen: [5] }
      charge_pct: { oid: 1.3.6.1.2.1.33.1.2.4.0 }
      runtime_s: { oid: 1.3.6.1.2.1.33.1.2.3.0, scale: 60 }
      battery_temp_c: { oid: 1.3.6.1.2.1.33.1.2.7.0, absentWhen: [2147483647] }
tables:
  - measurement: optical
    table: { tag: { key: iface, oid: 1.3.6.1.2.1.47.1.1.1.1.7, pattern: '^(\\S+) ' }, where: [{ oid: 1.3.6.1.2.1.99.1.1.1.1, in: [14] }, { oid: 1.3.6.1.2.1.47.1.1.1.1.7, matches: receive }] }
    fields:
      rx_dbm: { type: sensor, oid: 1.3.6.1.2.1.99.1.1.1.4, scaleOid: 1.3.6.1.2.1.99.1.1.1.2, precisionOid: 1.3.6.1.2.1.99.1.1.1.3 }
  - measurement: nvr_disk
    table: { tag: { key: disk, oid: 1.3.6.1.2.1.25.2.3.1.3 }, where: [{ oid: 1.3.6.1.2.1.25.2.3.1.2, oidIn: [1.3.6.1.2.1.25.2.1.4] }] }
    fields:
      used_pct: { type: compute, vars: { size: 1.3.6.1.2.1.25.2.3.1.5, used: 1.3.6.1.2.1.25.2.3.1.6 }, expr: used / size * 100 }
`,
    'inline',
  );
  const poll = (scalars: [string, RawValue][], columns: [string, [string, RawValue][]][]): RawPoll => ({ scalars: new Map(scalars), columns: new Map(columns.map(([c, rows]) => [c, new Map(rows)])) });

  it('maps enums, flags, scaled gauges, sensors with scale and precision, computed fields, row filters and tag patterns', () => {
    const result = interpretPoll({
      profile,
      now: 0,
      counters: new Map(),
      rebooted: false,
      poll: poll(
        [['1.3.6.1.2.1.33.1.4.1.0', int(5)], ['1.3.6.1.2.1.33.1.2.4.0', int(87)], ['1.3.6.1.2.1.33.1.2.3.0', int(25)], ['1.3.6.1.2.1.33.1.2.7.0', int(2147483647)]],
        [
          ['1.3.6.1.2.1.99.1.1.1.1', [['10', int(14)], ['11', int(14)], ['12', int(8)]]],
          ['1.3.6.1.2.1.99.1.1.1.2', [['10', int(8)], ['11', int(8)], ['12', int(9)]]],
          ['1.3.6.1.2.1.99.1.1.1.3', [['10', int(1)], ['11', int(1)], ['12', int(0)]]],
          ['1.3.6.1.2.1.99.1.1.1.4', [['10', int(-35_012)], ['11', int(-21_000)], ['12', int(41)]]],
          ['1.3.6.1.2.1.47.1.1.1.1.7', [['10', text('Te1/1 Receive Power Sensor')], ['11', text('Te1/1 Transmit Power Sensor')], ['12', text('Te1/1 Receive Temperature')]]],
          ['1.3.6.1.2.1.25.2.3.1.2', [['1', { kind: 'oid', value: '1.3.6.1.2.1.25.2.1.2' }], ['31', { kind: 'oid', value: '1.3.6.1.2.1.25.2.1.4' }]]],
          ['1.3.6.1.2.1.25.2.3.1.3', [['1', text('Physical memory')], ['31', text('/dev/sda1')]]],
          ['1.3.6.1.2.1.25.2.3.1.5', [['1', int(100)], ['31', int(400)]]],
          ['1.3.6.1.2.1.25.2.3.1.6', [['1', int(50)], ['31', int(100)]]],
        ],
      ),
    });
    expect(result.problems).toEqual([]);
    expect(result.metrics).toEqual([
      { name: 'ups', fields: { status: 'on_battery', on_battery: 1, charge_pct: 87, runtime_s: 1500 } },
      { name: 'optical', tags: { iface: 'Te1/1' }, fields: { rx_dbm: -3.5012 } },
      { name: 'nvr_disk', tags: { disk: '/dev/sda1' }, fields: { used_pct: 25 } },
    ]);
  });

  it('reports values of the wrong type as problems and keeps the good fields; unknown enum numbers are kept visibly', () => {
    const result = interpretPoll({
      profile,
      now: 0,
      counters: new Map(),
      rebooted: false,
      poll: poll([['1.3.6.1.2.1.33.1.4.1.0', int(9)], ['1.3.6.1.2.1.33.1.2.4.0', text('x'.repeat(10_000))], ['1.3.6.1.2.1.33.1.2.3.0', text('12')]], []),
    });
    expect(result.metrics).toEqual([{ name: 'ups', fields: { status: 'unknown(9)', on_battery: 0, runtime_s: 720 } }]);
    expect(result.problems).toEqual([expect.stringMatching(/^ups\.charge_pct: expected a number, got octets 10000 bytes$/)]);
  });
});

describe('the SNMP driver against Debian snmpd', () => {
  let snmpd: SnmpdServer;
  const profile = parseProfile(IF_PROFILE, 'inline');
  const device = (address: string, extra: Record<string, unknown> = {}) => deviceEntrySchema.parse({ site: 'merkez', id: 'sw-test', address, profile: 'test-if', ...extra });
  const v3 = { user: 'izleme', authKey: 'authpass-123', privKey: 'privpass-456' };

  beforeAll(async () => {
    snmpd = await startSnmpd({ community: 'ro-test', v3Users: [v3], sysName: 'kat2-switch' });
  });
  afterAll(async () => {
    await snmpd?.stop();
  });

  it('reads scalars, walks a table and gives bit rates from the second poll on', async () => {
    const session = snmpDriver.open({ device: device(snmpd.address), profile, credential: { snmp: { version: '2c', community: 'ro-test' } } });
    try {
      const first = await session.poll(new AbortController().signal);
      expect(first.problems).toEqual([]);
      expect(first.metrics.find((m) => m.name === 'snmp_test')?.fields.name_text).toBe('kat2-switch');
      const lo = first.metrics.find((m) => m.name === 'interface' && m.tags?.iface === 'lo');
      expect(lo?.fields).toEqual({ oper_up: 1, mtu: 65536 });
      expect(first.metrics.find((m) => m.name === 'system')?.fields.uptime_s).toBeGreaterThanOrEqual(0);
      // Traffic on loopback between polls: 1 MB a round. snmpd caches interface counters for a
      // few seconds, so poll until the counters moved.
      const sink = createSocket('udp4');
      await new Promise<void>((r) => sink.bind(0, '127.0.0.1', r));
      const sender = createSocket('udp4');
      let rate = 0;
      for (let round = 0; round < 12 && rate === 0; round++) {
        for (let i = 0; i < 1000; i++) sender.send(Buffer.alloc(1000), sink.address().port, '127.0.0.1');
        await new Promise((r) => setTimeout(r, 1000));
        const next = await session.poll(new AbortController().signal);
        rate = Number(next.metrics.find((m) => m.name === 'interface' && m.tags?.iface === 'lo')?.fields.in_bps ?? 0);
      }
      sender.close();
      sink.close();
      // At least one round's megabyte (8 Mbit) over the seconds since the previous poll, at most 12 s.
      expect(rate).toBeGreaterThan((1000 * 1000 * 8) / 12);
    } finally {
      session.close();
    }
  });

  it('polls over SNMPv1, where one missing OID fails a whole GET: the others are still read, and tables are walked with GETNEXT', async () => {
    const v1Profile = parseProfile(
      `id: v1-test\nkind: switch\ndescription: v1\nscalars:\n  - measurement: snmp_test\n    fields:\n      name_text: { type: text, oid: 1.3.6.1.2.1.1.5.0 }\n      missing: { oid: 1.3.6.1.4.1.99999.1.0 }\n      if_count: { oid: 1.3.6.1.2.1.2.1.0 }\ntables:\n  - measurement: interface\n    table: { tag: { key: iface, oid: 1.3.6.1.2.1.2.2.1.2 } }\n    fields:\n      oper_up: { type: flag, oid: 1.3.6.1.2.1.2.2.1.8, trueWhen: [1] }\n`,
      'inline-v1',
    );
    const session = snmpDriver.open({ device: device(snmpd.address), profile: v1Profile, credential: { snmp: { version: '1', community: 'ro-test' } } });
    const outcome = await session.poll(new AbortController().signal);
    session.close();
    expect(outcome.metrics.find((m) => m.name === 'snmp_test')?.fields).toEqual({ name_text: 'kat2-switch', if_count: expect.any(Number) });
    expect(outcome.metrics.find((m) => m.name === 'interface' && m.tags?.iface === 'lo')?.fields).toEqual({ oper_up: 1 });
    expect(outcome.problems).toEqual([]);
  });

  it('polls over SNMPv3 authPriv (SHA/AES), and a wrong key makes the device unreachable, not a crash', async () => {
    const good = snmpDriver.open({ device: device(snmpd.address), profile, credential: { snmp: { version: '3', ...v3, authProtocol: 'sha', privProtocol: 'aes' } } });
    const outcome = await good.poll(new AbortController().signal);
    expect(outcome.metrics.find((m) => m.name === 'snmp_test')?.fields.name_text).toBe('kat2-switch');
    good.close();
    const bad = snmpDriver.open({ device: device(snmpd.address, { timeoutMs: 300, retries: 0 }), profile, credential: { snmp: { version: '3', ...v3, authKey: 'wrong-auth-key', authProtocol: 'sha', privProtocol: 'aes' } } });
    await expect(bad.poll(new AbortController().signal)).rejects.toBeInstanceOf(DeviceUnreachableError);
    bad.close();
  });

  it('a device that never answers times out within its own timeout × tries, with reason timeout', async () => {
    const silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
    const session = snmpDriver.open({ device: device(`127.0.0.1:${silent.address().port}`, { timeoutMs: 200, retries: 1 }), profile, credential: { snmp: { version: '2c', community: 'x' } } });
    const started = Date.now();
    const error = await session.poll(new AbortController().signal).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeviceUnreachableError);
    expect((error as DeviceUnreachableError).reason).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(2_000);
    session.close();
    silent.close();
  });

  it('an abort ends a poll at once', async () => {
    const port = await freeUdpPort();
    const session = snmpDriver.open({ device: device(`127.0.0.1:${port}`, { timeoutMs: 10_000, retries: 0 }), profile, credential: { snmp: { version: '2c', community: 'x' } } });
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 100);
    await expect(session.poll(controller.signal)).rejects.toBeInstanceOf(DeviceUnreachableError);
    expect(Date.now() - started).toBeLessThan(2_000);
    session.close();
  });
});
