import { execFile } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';
import { startInfluxDB, tempDir, waitFor, type InfluxServer } from './helpers/servers.ts';
import { freeUdpPort } from './helpers/snmp-servers.ts';

// Traps sent with Debian's snmptrap to the real collector process reach InfluxDB as events of
// the configured device: known ones with the profile's type and Turkish text, unknown ones kept
// raw; a wrong community is refused and counted; traps do not make a device look alive.

const run = promisify(execFile);
const COMMUNITY = 'tuzak-topluluk-31';
const V3 = { user: 'tuzak', authKey: 'tuzak-auth-4242', privKey: 'tuzak-priv-4242' };

describe('SNMP traps into the collector', () => {
  let influx: InfluxServer;
  let collector: CollectorProcess;
  let trapPort: number;
  const events = async (where: string) => (await influx.query('monitoring', `SELECT * FROM events WHERE ${where}`))[0];

  beforeAll(async () => {
    influx = await startInfluxDB();
    const dir = tempDir('traps');
    trapPort = await freeUdpPort();
    // The UPS is polled on a port where nothing answers: its traps still arrive, it stays offline.
    writeFileSync(join(dir, 'devices.yaml'), stringify({ devices: [{ site: 'merkez', id: 'ups-sistem', address: `127.0.0.1:${await freeUdpPort()}`, profile: 'ups-mib', credential: 'ups', intervalS: 1, timeoutMs: 200, retries: 0 }] }));
    writeFileSync(join(dir, 'secrets.yaml'), stringify({ ups: { snmp: { version: '2c', community: COMMUNITY } }, sw: { snmp: { version: '3', ...V3 } } }));
    chmodSync(join(dir, 'secrets.yaml'), 0o600);
    collector = await startCollectorProcess({
      storage: { type: 'influx-v1', url: influx.url },
      queue: { flushIntervalMs: 200 },
      language: 'tr',
      devices: { file: join(dir, 'devices.yaml'), secretsFile: join(dir, 'secrets.yaml'), traps: { enabled: true, host: '127.0.0.1', port: trapPort } },
    });
  });
  afterAll(async () => {
    await collector?.stop();
    await influx?.stop();
  });

  const target = () => `127.0.0.1:${trapPort}`;

  it('turns a v2c UPS-MIB trap into the profile event, in Turkish, for the device at that address', async () => {
    await run('snmptrap', ['-v', '2c', '-c', COMMUNITY, target(), '', '1.3.6.1.2.1.33.2.1', '1.3.6.1.2.1.33.1.2.2.0', 'i', '45', '1.3.6.1.2.1.33.1.2.3.0', 'i', '12']);
    await waitFor('ups_on_battery event', async () => (await events(`"type" = 'ups_on_battery'`)) !== undefined, 20_000);
    const series = (await events(`"type" = 'ups_on_battery'`))!;
    const row = Object.fromEntries(series.columns.map((c, i) => [c, series.values[0]![i]]));
    expect(row).toMatchObject({ site: 'merkez', device: 'ups-sistem', kind: 'ups', severity: 'warning' });
    expect(String(row.message)).toMatch(/[ğüşıöçİ]/);
    expect(JSON.parse(String(row.data))).toMatchObject({ trap_oid: '1.3.6.1.2.1.33.2.1' });
  });

  it('takes v3 authPriv traps (linkDown) and keeps an unknown trap raw, with its varbinds', async () => {
    await run('snmptrap', ['-v', '3', '-e', '0x8000000001020304', '-u', V3.user, '-l', 'authPriv', '-a', 'SHA', '-A', V3.authKey, '-x', 'AES', '-X', V3.privKey, target(), '', '1.3.6.1.6.3.1.1.5.3', '1.3.6.1.2.1.2.2.1.1.7', 'i', '7', '1.3.6.1.2.1.2.2.1.8.7', 'i', '2']);
    await run('snmptrap', ['-v', '2c', '-c', COMMUNITY, target(), '', '1.3.6.1.4.1.99999.0.42', '1.3.6.1.4.1.99999.1.1.0', 's', 'kapı açık']);
    await waitFor('link_down and snmp_trap events', async () => (await events(`"type" = 'link_down'`)) !== undefined && (await events(`"type" = 'snmp_trap'`)) !== undefined, 20_000);
    const unknown = (await events(`"type" = 'snmp_trap'`))!;
    const data = JSON.parse(String(unknown.values[0]![unknown.columns.indexOf('data')]));
    expect(data).toMatchObject({ trap_oid: '1.3.6.1.4.1.99999.0.42', vb1_oid: '1.3.6.1.4.1.99999.1.1.0', vb1: 'kapı açık' });
  });

  it('refuses and counts a wrong community, and a trap does not make an unanswering device online', async () => {
    await run('snmptrap', ['-v', '2c', '-c', 'yanlis', target(), '', '1.3.6.1.2.1.33.2.1']);
    await waitFor('bad community counted', async () => (await collector.metric('collector_traps_total{result="badCommunity"}')) >= 1, 10_000);
    expect(await collector.metric('collector_traps_total{result="event"}')).toBeGreaterThanOrEqual(2);
    const ups = async () => ((await (await fetch(`${collector.apiUrl}/api/v1/devices?site=merkez`)).json()) as { devices: { device: string; online: boolean; offlineReason: string }[] }).devices.find((d) => d.device === 'ups-sistem');
    await waitFor('ups-sistem polled and found unreachable', async () => (await ups()) !== undefined, 10_000);
    // More traps, then several polls later: still offline, since the device never answered a poll.
    await run('snmptrap', ['-v', '2c', '-c', COMMUNITY, target(), '', '1.3.6.1.2.1.33.2.1']);
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await ups()).toMatchObject({ online: false, offlineReason: 'unreachable: timeout' });
    expect(collector.process.output()).not.toContain(COMMUNITY);
  });
});
