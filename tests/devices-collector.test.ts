import { createSocket, type Socket } from 'node:dgram';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';
import { startInfluxDB, tempDir, waitFor, type InfluxServer } from './helpers/servers.ts';
import { startSnmpd, startSnmpsim, type SnmpdServer, type SnmpsimServer } from './helpers/snmp-servers.ts';

// The real collector process polling devices from its device list: a real snmpd over v2c and
// over v3 authPriv, a "device" that never answers, and snmpsim devices answering with wrong
// types, truncated tables and huge strings (tests/fixtures/snmp/*-hostile.snmprec). Points reach a real InfluxDB through the
// same pipeline as agent data; the device list is edited while the collector runs.

const PROFILE = `
id: lab-interfaces
kind: switch
description: interfaces (a profile of the municipality's own, from profilesDirs)
tables:
  - measurement: interface
    table: { tag: { key: iface, oid: 1.3.6.1.2.1.2.2.1.2 } }
    fields:
      oper_up: { type: flag, oid: 1.3.6.1.2.1.2.2.1.8, trueWhen: [1] }
      in_bps: { type: counter, oid: 1.3.6.1.2.1.31.1.1.1.6, scale: 8 }
`;

const COMMUNITY = 'gizli-topluluk-7781';
const V3 = { user: 'izleme', authKey: 'auth-anahtari-42', privKey: 'priv-anahtari-42' };

describe('collector polling devices from its device list', () => {
  let influx: InfluxServer;
  let snmpd: SnmpdServer;
  let sim: SnmpsimServer;
  let silent: Socket;
  let collector: CollectorProcess;
  let dir: string;
  const devicesFile = () => join(dir, 'devices.yaml');
  const writeDevices = (devices: unknown[]) => writeFileSync(devicesFile(), stringify({ devices }));
  const query = async (q: string) => (await influx.query('monitoring', q))[0]?.values ?? [];

  const sw1 = () => ({ site: 'merkez', id: 'sw-kat1', address: snmpd.address, profile: 'lab-interfaces', credential: 'lab-v2', intervalS: 1, links: [{ iface: 'lo', to: 'itfaiye' }] });
  const hostile = () => [
    { site: 'merkez', id: 'sw-bozuk', address: sim.address, profile: 'if-mib', credential: 'sim-sw', intervalS: 1 },
    { site: 'merkez', id: 'ups-bozuk', address: sim.address, profile: 'ups-mib', credential: 'sim-ups', intervalS: 1 },
  ];
  const dead = () => ({ site: 'merkez', id: 'ups-kayip', address: `127.0.0.1:${silent.address().port}`, profile: 'lab-interfaces', credential: 'lab-v2', intervalS: 1, timeoutMs: 400, retries: 1 });

  beforeAll(async () => {
    influx = await startInfluxDB();
    snmpd = await startSnmpd({ community: COMMUNITY, v3Users: [V3] });
    sim = await startSnmpsim({ 'sw-hostile': 'switch-hostile.snmprec', 'ups-hostile': 'ups-mib-hostile.snmprec' });
    silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
    dir = tempDir('devices');
    mkdirSync(join(dir, 'profiles'));
    writeFileSync(join(dir, 'profiles', 'lab.yaml'), PROFILE);
    writeFileSync(join(dir, 'secrets.yaml'), stringify({ 'lab-v2': { snmp: { version: '2c', community: COMMUNITY } }, 'lab-v3': { snmp: { version: '3', user: V3.user, authKey: '${LAB_AUTH_KEY}', privKey: V3.privKey } }, 'sim-sw': { snmp: { version: '2c', community: 'sw-hostile' } }, 'sim-ups': { snmp: { version: '2c', community: 'ups-hostile' } } }));
    chmodSync(join(dir, 'secrets.yaml'), 0o600);
    writeDevices([sw1(), dead(), ...hostile()]);
    process.env.LAB_AUTH_KEY = V3.authKey;
    collector = await startCollectorProcess({
      storage: { type: 'influx-v1', url: influx.url },
      queue: { flushIntervalMs: 200 },
      devices: { file: devicesFile(), secretsFile: join(dir, 'secrets.yaml'), profilesDirs: [join(dir, 'profiles')] },
    });
  });
  afterAll(async () => {
    await collector?.stop();
    silent?.close();
    await sim?.stop();
    await snmpd?.stop();
    await influx?.stop();
  });

  it('stores polled values with the device tags and the configured fiber link, and marks the silent device unreachable', async () => {
    await waitFor('sw-kat1 interfaces in InfluxDB', async () => (await query(`SELECT count(oper_up) FROM interface WHERE device = 'sw-kat1' AND iface = 'lo' AND link = 'itfaiye' AND kind = 'switch' AND site = 'merkez'`)).length > 0, 30_000);
    await waitFor('ups-kayip offline', async () => (await query(`SELECT last(reason) FROM device_state WHERE device = 'ups-kayip'`))[0]?.[1] === 'unreachable: timeout', 30_000);
    const devices = (await (await fetch(`${collector.apiUrl}/api/v1/devices?site=merkez`)).json()) as { devices: { device: string; online: boolean; offlineReason: string | null; stateSince: number; kind: string }[] };
    const kayip = devices.devices.find((d) => d.device === 'ups-kayip');
    expect(kayip).toMatchObject({ online: false, offlineReason: 'unreachable: timeout', kind: 'switch' });
    expect(kayip!.stateSince).toBeLessThanOrEqual(Date.now());
    expect(devices.devices.find((d) => d.device === 'sw-kat1')).toMatchObject({ online: true });
  });

  it('stores what hostile devices send that is usable, counts the rest, and they stay online', async () => {
    const last = async (device: string) => (await query(`SELECT last(problems), last(fields) FROM snmp_poll WHERE device = '${device}'`))[0];
    await waitFor('hostile devices polled', async () => (await last('sw-bozuk')) !== undefined && (await last('ups-bozuk')) !== undefined, 30_000);
    for (const device of ['sw-bozuk', 'ups-bozuk']) {
      const [, problems, fields] = (await last(device))!;
      expect(problems, device).toBeGreaterThan(0);
      expect(fields, device).toBeGreaterThan(0);
    }
    // Its charge came as "87%" (refused), its runtime is fine (kept).
    expect((await query(`SELECT count(runtime_s) FROM ups WHERE device = 'ups-bozuk'`)).length).toBe(1);
    expect((await query(`SELECT count(charge_pct) FROM ups WHERE device = 'ups-bozuk'`)).length).toBe(0);
    const devices = (await (await fetch(`${collector.apiUrl}/api/v1/devices?site=merkez`)).json()) as { devices: { device: string; online: boolean }[] };
    for (const device of ['sw-bozuk', 'ups-bozuk']) expect(devices.devices.find((d) => d.device === device)?.online, device).toBe(true);
    expect(await collector.metric('collector_poll_problems_total')).toBeGreaterThan(0);
    // The 10,000-character interface name arrives cut to a 128-character tag.
    const tags = await influx.query('monitoring', `SHOW TAG VALUES FROM interface WITH KEY = "iface" WHERE device = 'sw-bozuk'`);
    const longest = Math.max(...(tags[0]?.values ?? []).map((v) => String(v[1]).length));
    expect(longest).toBe(128);
  });

  it('keeps polling the live device on its interval while the dead and hostile ones are polled too', async () => {
    const count = async () => Number((await query(`SELECT count(duration_ms) FROM snmp_poll WHERE device = 'sw-kat1' AND time > now() - 6s`))[0]?.[1] ?? 0);
    await new Promise((r) => setTimeout(r, 6_000));
    // Interval 1 s: about 6 polls in 6 s; the dead device's 2 × 400 ms timeouts must not hold it back.
    expect(await count()).toBeGreaterThanOrEqual(4);
  });

  it('picks up an edited device list without a restart (v3 device added), refuses a broken edit and keeps polling', async () => {
    writeDevices([sw1(), dead(), ...hostile(), { site: 'merkez', id: 'sw-v3', address: snmpd.address, profile: 'lab-interfaces', credential: 'lab-v3', intervalS: 1 }]);
    await waitFor('sw-v3 in InfluxDB', async () => (await query(`SELECT count(oper_up) FROM interface WHERE device = 'sw-v3'`)).length > 0, 30_000);

    writeDevices([{ ...sw1(), profile: 'no-such-profile' }, { ...dead(), address: 42 }]);
    await waitFor('reload refused in the log', async () => collector.process.output().includes('device list not reloaded'), 10_000);
    expect(collector.process.output()).toMatch(/devices\[1\]\.address/);
    expect(await collector.metric('collector_device_config_errors_total')).toBeGreaterThanOrEqual(1);
    const before = Number((await query(`SELECT count(duration_ms) FROM snmp_poll WHERE device = 'sw-v3'`))[0]?.[1] ?? 0);
    await waitFor('sw-v3 still polled after the refused edit', async () => Number((await query(`SELECT count(duration_ms) FROM snmp_poll WHERE device = 'sw-v3'`))[0]?.[1] ?? 0) > before + 2, 15_000);
  });

  it('never writes a community or key to its log', () => {
    const output = collector.process.output();
    expect(output).toContain('polling devices');
    for (const secret of [COMMUNITY, V3.authKey, V3.privKey]) expect(output).not.toContain(secret);
  });
});
