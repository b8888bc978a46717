import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { LANGUAGES, t, type Lang, type TextKey } from '../dashboard-config/src/i18n.ts';
import { buildDashboards } from '../dashboard-config/src/index.ts';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';
import { startFakeIsapi, type FakeIsapi } from './helpers/fake-isapi.ts';
import { extractPanelQueries, renderQuery } from './helpers/panel-queries.ts';
import { startInfluxDB, tempDir, waitFor, type InfluxSeries, type InfluxServer } from './helpers/servers.ts';
import { SNMP_FIXTURES, startSnmpsim, type SnmpsimServer } from './helpers/snmp-servers.ts';

// Every panel of the UPS, network and NVR dashboards, run against a real InfluxDB filled by the
// real collector process polling its device list: snmpsim serving the recordings of
// tests/fixtures/snmp (a UPS-MIB and an APC UPS, a Cisco and a Huawei switch, a Hikvision and a
// HOST-RESOURCES recorder) and the fake ISAPI server for a Hikvision NVR over HTTP (no real NVR
// can run here; the fake answers with the documented ISAPI messages behind real HTTP Digest).
// Between polls both UPSes lose the mains, a fiber uplink goes down, a disk fails and a camera
// stops recording, so the history panels have a change to show.

const SITE = 'merkez';
const DB = 'monitoring';
const UPS_MIB = 'ups-sistem-odasi';
const UPS_APC = 'ups-arsiv';
const CISCO = 'sw-kat2';
const HUAWEI = 'sw-fen-isleri';
const NVR_ISAPI = 'nvr-zabita';
const NVR_HIK_SNMP = 'nvr-otopark';
const NVR_GENERIC = 'nvr-kultur';
/** HUAWEI-ENTITY-EXTENT-MIB hwEntityOpticalRxPower, µW in this recording. */
const HUAWEI_RX_OID = '1.3.6.1.4.1.2011.5.25.31.1.1.3.1.8';

/** The device variable of each dashboard and the device whose recordings give every panel data. */
const DEVICE_DASHBOARDS = [
  { uid: 'ups', variable: 'ups', devices: [UPS_MIB, UPS_APC] },
  { uid: 'network', variable: 'switch', devices: [CISCO] },
  { uid: 'nvr', variable: 'nvr', devices: [NVR_ISAPI] },
] as const;

const ALL = '.*';

/** A panel's query as Grafana sends it: the device variable set to `device` (a name, or `.*` for All). */
function render(query: string, variable: string, device: string, site = SITE): string {
  return renderQuery(query.replaceAll(`$${variable}`, device), { site, host: device, timeFilter: 'time > now() - 1h', interval: '1s' });
}

describe('UPS, network and NVR dashboards on data from the real collector polling devices', () => {
  let influx: InfluxServer;
  let sim: SnmpsimServer;
  let isapi: FakeIsapi;
  let collector: CollectorProcess;
  const rows = async (q: string) => (await influx.query(DB, q))[0]?.values ?? [];
  const latest = async (measurement: string, field: string, where: string) => (await rows(`SELECT last("${field}") FROM "${measurement}" WHERE ${where}`))[0]?.[1];
  const pollsOf = async (device: string) => Number((await rows(`SELECT count("duration_ms") FROM "snmp_poll" WHERE "device" = '${device}'`))[0]?.[1] ?? 0);

  beforeAll(async () => {
    influx = await startInfluxDB();
    sim = await startSnmpsim({
      'ups-mib': 'ups-mib-online.snmprec',
      apc: 'apc-online.snmprec',
      cisco: 'switch-cisco.snmprec',
      huawei: 'switch-huawei.snmprec',
      'nvr-hik': 'nvr-hikvision.snmprec',
      'nvr-generic': 'nvr-generic.snmprec',
    });
    isapi = await startFakeIsapi();
    const dir = tempDir('dashboards-devices');
    const secrets = join(dir, 'secrets.yaml');
    const snmp = (community: string) => ({ snmp: { version: '2c', community } });
    writeFileSync(
      secrets,
      stringify({ 'ups-mib': snmp('ups-mib'), apc: snmp('apc'), cisco: snmp('cisco'), huawei: snmp('huawei'), 'nvr-hik': snmp('nvr-hik'), 'nvr-generic': snmp('nvr-generic'), 'nvr-http': { http: { username: 'admin', password: 'Nvr.Parola-2024' } } }),
    );
    chmodSync(secrets, 0o600);
    const device = (id: string, profile: string | string[], credential: string, extra: Record<string, unknown> = {}) => ({ site: SITE, id, address: sim.address, profile, credential, intervalS: 1, ...extra });
    const devices = [
      device(UPS_MIB, 'ups-mib', 'ups-mib'),
      device(UPS_APC, 'apc-powernet', 'apc'),
      device(CISCO, ['if-mib', 'entity-sensor'], 'cisco', { links: [{ iface: 'Te1/0/1', to: 'zabita' }, { iface: 'Te1/0/2', to: 'itfaiye' }] }),
      device(HUAWEI, ['if-mib', 'huawei-optical'], 'huawei', { links: [{ iface: 'XGigabitEthernet0/0/1', to: 'merkez-bina' }, { iface: 'XGigabitEthernet0/0/4', to: 'park-bahce' }] }),
      device(NVR_HIK_SNMP, 'hikvision-snmp', 'nvr-hik'),
      device(NVR_GENERIC, 'host-resources', 'nvr-generic'),
      device(NVR_ISAPI, 'hikvision-isapi', 'nvr-http', { address: isapi.address }),
    ];
    writeFileSync(join(dir, 'devices.yaml'), stringify({ devices }));
    collector = await startCollectorProcess({ storage: { type: 'influx-v1', url: influx.url }, queue: { flushIntervalMs: 200 }, devices: { file: join(dir, 'devices.yaml'), secretsFile: secrets } });

    // Counter rates (traffic, errors) exist from a device's second poll on; three polls leave no doubt.
    const ids = devices.map((d) => d.id);
    await waitFor('three polls of every device', async () => (await Promise.all(ids.map(pollsOf))).every((n) => n >= 3), 40_000, 250);
    // snmpsim answers a switch walk slowly on a loaded machine: wait for the values, not only the polls.
    await waitFor(
      'the healthy values stored',
      async () => (await latest('ups', 'on_battery', `"device" = '${UPS_MIB}'`)) === 0 && (await latest('interface', 'oper_up', `"device" = '${CISCO}' AND "iface" = 'Te1/0/2'`)) === 1,
      30_000,
      250,
    );

    // The power cut, the fiber cut, the failed disk and the camera that stops recording.
    sim.serve('ups-mib', 'ups-mib-on-battery.snmprec');
    sim.serve('apc', 'apc-on-battery.snmprec');
    sim.serve('cisco', 'switch-cisco-link-down.snmprec');
    // XGigabitEthernet0/0/2's Rx drops from 100 µW (-10 dBm) to 20 µW (-17 dBm): below its module's
    // -14 dBm alarm threshold, above the fixed -20 dBm.
    const huawei = readFileSync(join(SNMP_FIXTURES, 'switch-huawei.snmprec'), 'utf8');
    const weak = huawei.replace(`${HUAWEI_RX_OID}.16842802|2|100\n`, `${HUAWEI_RX_OID}.16842802|2|20\n`);
    expect(weak).not.toBe(huawei);
    sim.serveText('huawei', weak);
    isapi.state.disks[0]!.status = 'error';
    isapi.state.channels[1]!.recording = false;
    await waitFor(
      'the changes polled',
      async () =>
        (await latest('ups', 'on_battery', `"device" = '${UPS_MIB}'`)) === 1 &&
        (await latest('ups', 'on_battery', `"device" = '${UPS_APC}'`)) === 1 &&
        (await latest('interface', 'oper_up', `"device" = '${CISCO}' AND "iface" = 'Te1/0/2'`)) === 0 &&
        Number(await latest('optical', 'rx_dbm', `"device" = '${HUAWEI}' AND "iface" = 'XGigabitEthernet0/0/2'`)) < -16 &&
        (await latest('nvr_disk', 'ok', `"device" = '${NVR_ISAPI}' AND "disk" = '1'`)) === 0 &&
        (await latest('nvr_channel', 'recording', `"device" = '${NVR_ISAPI}' AND "channel" = '2'`)) === 0,
      30_000,
      250,
    );
  }, 120_000);

  afterAll(async () => {
    await collector?.stop();
    await isapi?.close();
    await sim?.stop();
    await influx?.stop();
  });

  const dashboard = (lang: Lang, uid: string) => buildDashboards(lang).find((d) => d.uid === uid)!.json as never;
  /** Runs the panel titled `title` (an i18n key, English dashboard) with the device variable rendered. */
  const panel = async (uid: string, title: TextKey, device = ALL): Promise<InfluxSeries[]> => {
    const { variable } = DEVICE_DASHBOARDS.find((d) => d.uid === uid)!;
    const found = extractPanelQueries(dashboard('en', uid)).find((q) => q.panel === t('en', title));
    if (!found) throw new Error(`${uid} has no panel "${t('en', title)}"`);
    return influx.query(DB, render(found.query, variable, device));
  };
  const column = (series: InfluxSeries, name: string) => series.values.at(-1)?.[series.columns.indexOf(name)];
  /** A timeline's values, without the empty buckets between polls. */
  const states = (series: InfluxSeries) => series.values.map((v) => v[1]).filter((v) => v !== null);

  it.each(LANGUAGES)('every panel and variable query returns series, for each device and for All, with a value in every column (%s)', async (lang) => {
    const empty: string[] = [];
    let count = 0;
    for (const { uid, variable, devices } of DEVICE_DASHBOARDS) {
      for (const q of extractPanelQueries(dashboard(lang, uid))) {
        // A misspelt field among several still gives a series, but its column stays empty everywhere.
        const columns = new Map<string, boolean>();
        for (const [site, device] of [...devices.map((d) => [SITE, d] as const), [ALL, ALL] as const]) {
          const rendered = render(q.query, variable, device, site);
          const series = await influx.query(DB, rendered).catch((error: Error) => {
            empty.push(`${q.dashboard} / ${q.panel}: ${error.message}`);
            return null;
          });
          if (series && series.length === 0) empty.push(`${q.dashboard} / ${q.panel} (${device}): no series for ${rendered}`);
          for (const s of series ?? []) s.columns.forEach((c, i) => columns.set(c, (columns.get(c) ?? false) || s.values.some((v) => v[i] !== null)));
          count++;
        }
        for (const [c, filled] of columns) if (!filled) empty.push(`${q.dashboard} / ${q.panel}: column ${c} is empty for every device`);
      }
    }
    expect(empty).toEqual([]);
    // 9 UPS panels × 3 renderings, 9 network and 8 NVR panels × 2, 2 variables each.
    expect(count).toBe((9 + 2) * 3 + (9 + 2) * 2 + (8 + 2) * 2);
  });

  it('the device variables list every polled device of their kind, only those', async () => {
    const values = async (uid: string, name: string) => {
      const variable = extractPanelQueries(dashboard('en', uid)).find((q) => q.panel === `variable $${name}`)!;
      const series = await influx.query(DB, render(variable.query, name, ALL));
      return series[0]!.values.map((v) => v[1]).sort();
    };
    expect(await values('ups', 'ups')).toEqual([UPS_APC, UPS_MIB].sort());
    expect(await values('network', 'switch')).toEqual([CISCO, HUAWEI].sort());
    expect(await values('nvr', 'nvr')).toEqual([NVR_GENERIC, NVR_ISAPI, NVR_HIK_SNMP].sort());
    expect(await values('ups', 'site')).toEqual([SITE]);
  });

  it('UPS: both UPSes on battery now (UPS-MIB and APC alike), the history shows the change, runtime in seconds', async () => {
    const power = await panel('ups', 'upsPower');
    expect(Object.fromEntries(power.map((s) => [s.tags!.device, column(s, 'on_battery')]))).toEqual({ [UPS_MIB]: 1, [UPS_APC]: 1 });
    const history = states((await panel('ups', 'upsBatteryHistory', UPS_MIB))[0]!);
    expect(history).toContain(0);
    expect(history.at(-1)).toBe(1);
    const state = await panel('ups', 'upsState');
    const mib = state.find((s) => s.tags!.device === UPS_MIB)!;
    // upsEstimatedMinutesRemaining 24 on battery.
    expect(column(mib, 'runtime_s')).toBe(24 * 60);
    expect(column(mib, 'status')).toBe('on_battery');
    const maintenance = (await panel('ups', 'upsMaintenance')).find((s) => s.tags!.device === UPS_APC)!;
    expect([column(maintenance, 'replace_battery'), column(maintenance, 'self_test_ok')]).toEqual([1, 0]);
  });

  it('network: the fiber links down now are the cut Cisco uplink and the dark Huawei port, the timeline shows the cut', async () => {
    const down = await panel('network', 'fiberDown');
    expect(down.map((s) => `${s.tags!.device} ${s.tags!.iface} ${s.tags!.link} ${column(s, 'oper_up')}`).sort()).toEqual([`${CISCO} Te1/0/2 itfaiye 0`, `${HUAWEI} XGigabitEthernet0/0/4 park-bahce 0`].sort());
    const timeline = await panel('network', 'fiberStatus', CISCO);
    const cut = states(timeline.find((s) => s.tags!.iface === 'Te1/0/2')!);
    expect(cut).toContain(1);
    expect(cut.at(-1)).toBe(0);
    // The uplink still up stays off the list, and up all along on the timeline.
    expect(new Set(states(timeline.find((s) => s.tags!.iface === 'Te1/0/1')!))).toEqual(new Set([1]));
  });

  it('network: optical power is read against the module thresholds where reported, the fixed −20 dBm otherwise', async () => {
    const out = await panel('network', 'opticalOut');
    // Cisco Te1/0/2 reads -40.0 dBm after the cut (no module thresholds: the fixed -20 dBm);
    // Huawei XGE0/0/2 at -17 dBm is under its module's -14 dBm; XGE0/0/1 at -5 dBm is within its own.
    const byPort = new Map(out.map((s) => [`${s.tags!.device} ${s.tags!.iface}`, s]));
    expect([...byPort.keys()].sort()).toEqual([`${CISCO} Te1/0/2`, `${HUAWEI} XGigabitEthernet0/0/2`].sort());
    expect(Number(column(byPort.get(`${CISCO} Te1/0/2`)!, 'rx_dbm'))).toBeCloseTo(-40, 5);
    expect(column(byPort.get(`${CISCO} Te1/0/2`)!, 'rx_low_dbm')).toBeNull();
    expect(Number(column(byPort.get(`${HUAWEI} XGigabitEthernet0/0/2`)!, 'rx_dbm'))).toBeCloseTo(-16.99, 2);
    expect(Number(column(byPort.get(`${HUAWEI} XGigabitEthernet0/0/2`)!, 'rx_low_dbm'))).toBeCloseTo(-14, 5);
    const rx = (await panel('network', 'opticalRx', HUAWEI)).find((s) => s.tags!.iface === 'XGigabitEthernet0/0/1')!;
    const last = rx.values.filter((v) => v[1] !== null).at(-1)!;
    // 316 µW = -5.0 dBm; the module's alarm thresholds -14.00 and 0.50 dBm.
    expect(Number(last[rx.columns.indexOf('rx_dbm')])).toBeCloseTo(-5.0, 1);
    expect(Number(last[rx.columns.indexOf('rx_low_dbm')])).toBeCloseTo(-14, 5);
    expect(Number(last[rx.columns.indexOf('rx_high_dbm')])).toBeCloseTo(0.5, 5);
    expect(rx.tags!.link).toBe('merkez-bina');
  });

  it('NVR: channels not recording and disks not OK now, across recorders; the recording timeline shows the change', async () => {
    const notRecording = await panel('nvr', 'notRecording');
    // Channel 3 was never recording (offline, video loss), channel 2 stopped between polls.
    expect(notRecording.map((s) => `${s.tags!.device} ${s.tags!.channel} online=${column(s, 'online')} video_loss=${column(s, 'video_loss')}`).sort()).toEqual([
      `${NVR_ISAPI} 2 online=1 video_loss=0`,
      `${NVR_ISAPI} 3 online=0 video_loss=1`,
    ]);
    const faults = await panel('nvr', 'diskFaults');
    // ISAPI disk 1 failed between polls; the Hikvision SNMP recorder's disk 2 is Abnormal.
    expect(faults.map((s) => `${s.tags!.device} ${s.tags!.disk} ${column(s, 'status')}`).sort()).toEqual([`${NVR_ISAPI} 1 error`, `${NVR_HIK_SNMP} 2 error`].sort());
    const channel2 = states((await panel('nvr', 'recordingHistory', NVR_ISAPI)).find((s) => s.tags!.channel === '2')!);
    expect(channel2).toContain(1);
    expect(channel2.at(-1)).toBe(0);
    // The HOST-RESOURCES recorder has disks (no health) but no channels.
    const disks = await panel('nvr', 'disks', NVR_GENERIC);
    expect(disks.length).toBeGreaterThan(0);
    expect(disks.every((s) => column(s, 'ok') === null && Number(column(s, 'used_pct')) > 0)).toBe(true);
  });
});
