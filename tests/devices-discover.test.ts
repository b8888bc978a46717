import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { rankProfiles } from '../collector/devices/discovery.ts';
import { deviceEntrySchema } from '../collector/devices/inventory.ts';
import { loadProfiles } from '../collector/devices/profile-loader.ts';
import { freeUdpPort, startSnmpsim, type SnmpsimServer } from './helpers/snmp-servers.ts';

// The discovery aid as a technician runs it (npm run discover), against snmpsim serving the
// device recordings: it must name the right profile and print an entry the device list accepts.

const run = promisify(execFile);
const discover = (...args: string[]) => run(process.execPath, ['--disable-warning=ExperimentalWarning', 'collector/discover.ts', ...args]);

describe('discovery aid', () => {
  let sim: SnmpsimServer;
  const recordings = { apc: 'apc-online.snmprec', upsmib: 'ups-mib-online.snmprec', huawei: 'switch-huawei.snmprec', cisco: 'switch-cisco.snmprec', hik: 'nvr-hikvision.snmprec', nvr: 'nvr-generic.snmprec', printer: 'printer.snmprec', env: 'environment.snmprec' };

  beforeAll(async () => {
    sim = await startSnmpsim(recordings);
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it.each([
    ['apc', ['apc-powernet']],
    ['upsmib', ['ups-mib']],
    ['huawei', ['huawei-optical', 'if-mib']],
    ['cisco', ['entity-sensor', 'if-mib']],
    ['hik', ['hikvision-snmp']],
    ['nvr', ['host-resources']],
    ['printer', ['printer']],
    ['env', ['environment']],
  ])('suggests the right profiles for the %s recording and prints a valid device entry', async (community, expected) => {
    const { stdout } = await discover(sim.address, '--community', community, '--site', 'merkez');
    const yaml = stdout.slice(stdout.indexOf('add to devices.yaml:') + 'add to devices.yaml:'.length);
    const [entry] = parse(yaml) as unknown[];
    const parsed = deviceEntrySchema.parse(entry);
    expect(parsed.profile).toEqual(expected);
    expect(parsed).toMatchObject({ site: 'merkez', address: sim.address });
    expect(stdout).toMatch(/sysObjectID: 1\.3\.6\.1\.4\.1\./);
  });

  it('exits 3 naming the address when the device does not answer, 2 on bad arguments', async () => {
    const silent = await discover(`127.0.0.1:${await freeUdpPort()}`, '--timeout-ms', '200').catch((e: { code: number; stderr: string }) => e);
    expect(silent).toMatchObject({ code: 3, stderr: expect.stringContaining('does not answer') });
    const bad = await discover().catch((e: { code: number; stderr: string }) => e);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('usage:') });
  });

  it('ranks by vendor, probe and coverage, and leaves out profiles the device answers nothing of', () => {
    const profiles = loadProfiles();
    const upsMib = profiles.get('ups-mib')!;
    const answered = new Set([upsMib.detect!.oid!, ...upsMib.scalars.flatMap((g) => Object.values(g.fields).map((f) => ('oid' in f ? f.oid : '')))]);
    const ranked = rankProfiles(profiles.values(), { sysObjectId: '1.3.6.1.4.1.99999.1', answered });
    expect(ranked[0]).toMatchObject({ profile: 'ups-mib', coverage: 1 });
    expect(ranked.map((m) => m.profile)).not.toContain('printer');
    expect(rankProfiles(profiles.values(), { sysObjectId: undefined, answered: new Set() })).toEqual([]);
  });
});
