import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LANGUAGES } from '../dashboard-config/src/i18n.ts';
import { buildDashboards, DASHBOARDS, renderDashboardFile } from '../dashboard-config/src/index.ts';
import { birth, rebootEvent, serverHardwareMetrics, serverInventory } from './fixtures/recorded-devices.ts';
import { startAgentOnHost, startAgentProcess } from './helpers/agent-process.ts';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';
import { connectClient, publish } from './helpers/mqtt-client.ts';
import { extractPanelQueries, renderQuery } from './helpers/panel-queries.ts';
import { startInfluxDB, waitFor, type InfluxServer, type ManagedProcess } from './helpers/servers.ts';

describe('generated dashboards', () => {
  it.each(LANGUAGES)('are checked in exactly as the builders produce them (%s)', (lang) => {
    for (const { uid, json } of buildDashboards(lang)) {
      const committed = readFileSync(join('dashboard-config', 'dashboards', lang, `${uid}.json`), 'utf8');
      expect(committed, `${lang}/${uid}.json is stale: run npm run dashboards`).toBe(renderDashboardFile(json));
    }
  });

  it('speak Turkish with Turkish characters, and English', () => {
    const tr = JSON.stringify(buildDashboards('tr'));
    const en = JSON.stringify(buildDashboards('en'));
    expect(tr).toContain('Çevrimdışı cihazlar');
    expect(tr).toContain('Aküden çalışma geçmişi');
    expect(tr).toContain('Şu an kopuk fiber bağlantılar');
    expect(tr).toContain('Şu an kayıt yapmayan kanallar');
    expect(en).toContain('Hosts offline');
    expect(en).toContain('Fiber links down now');
    expect(en).not.toContain('Çevrimdışı');
  });

  it.each(Object.keys(DASHBOARDS))('%s: every panel title is translated, Turkish with its own letters and none in English', (uid) => {
    const [tr, en] = LANGUAGES.map((lang) => buildDashboards(lang).find((d) => d.uid === uid)!.json as { title: string; panels: { title: string }[] });
    expect(JSON.stringify(tr)).toMatch(/[ıİşŞğĞçÇöÖüÜ]/);
    expect(JSON.stringify(en)).not.toMatch(/[ıİşŞğĞ]/);
    expect(en!.title).not.toBe(tr!.title);
    tr!.panels.forEach((panel, i) => expect(panel.title, `panel ${i}`).not.toBe(en!.panels[i]!.title));
  });

  it('extracts and renders queries the way Grafana would', () => {
    const queries = extractPanelQueries(buildDashboards('en').find((d) => d.uid === 'host-detail')!.json as never);
    expect(queries.some((q) => q.panel === 'variable $host')).toBe(true);
    const cpu = queries.find((q) => q.panel === 'CPU')!;
    expect(renderQuery(cpu.query, { site: 'merkez', host: 'srv01', timeFilter: 'time > now() - 1h', interval: '10s' })).toContain(`"site" =~ /^merkez$/ AND "device" =~ /^srv01$/ AND time > now() - 1h GROUP BY time(10s)`);
  });
});

// Every panel of the host dashboards, run against a real InfluxDB filled by the real pipeline: a
// real agent, a device with sensors the test machine lacks (temperatures, fans, battery, SMART,
// RAID — tests/fixtures/recorded-devices.ts) published through the real broker, and an agent
// killed so that a device is offline, and an agent on a Windows-style host named with Turkish
// letters (BİLGİİŞLEM-PC01, in a UTS namespace of its own). The recorded device's failed disk and degraded RAID fire the
// default rules smart_failing and raid_degraded (no for-duration); the RAID is then rebuilt, so
// the alert panels have one alert still firing and one resolved. The dashboards of polled
// devices (UPS, network, NVR) are run against the real collector polling them in
// tests/dashboards-devices.test.ts.
const HOST_DASHBOARDS = ['noc-overview', 'host-detail'];

describe('every dashboard panel returns data from the real pipeline', () => {
  let influx: InfluxServer;
  let collector: CollectorProcess;
  const agents: ManagedProcess[] = [];
  const SITE = 'kutuphane';
  // Another site, so that the agent on it does not count among kutuphane's hosts below.
  const NAMED_SITE = 'bilgi-islem';

  beforeAll(async () => {
    influx = await startInfluxDB();
    collector = await startCollectorProcess({ storage: { type: 'influx-v1', url: influx.url }, queue: { flushIntervalMs: 200 }, selfMetricsIntervalS: 1 });
    for (const device of ['pc-okuma', 'pc-kayip']) agents.push(startAgentProcess({ site: SITE, device, kind: 'pc', mqttUrl: collector.mqttUrl! }));
    // No device id configured: the agent derives it from the host name.
    agents.push(startAgentOnHost('BİLGİİŞLEM-PC01', { site: NAMED_SITE, kind: 'pc', intervalS: 1, mqtt: { url: collector.mqttUrl! } }));
    const device = await connectClient(collector.mqttUrl!, { clientId: 'srv-arsiv' });
    const now = Date.now();
    await publish(device, `muni/v1/${SITE}/srv-arsiv/state`, birth(now - 3000), { retain: true });
    for (const ago of [3000, 2000, 1000]) await publish(device, `muni/v1/${SITE}/srv-arsiv/metrics`, serverHardwareMetrics(now - ago));
    await publish(device, `muni/v1/${SITE}/srv-arsiv/event`, rebootEvent(now - 500));
    await publish(device, `muni/v1/${SITE}/srv-arsiv/inventory`, serverInventory(now - 450), { retain: true });
    await publish(device, `muni/v1/${SITE}/srv-arsiv/metrics`, { v: 1, ts: now - 400, seq: 2, metrics: [{ name: 'raid', tags: { instance: 'md0' }, fields: { degraded: false, active_devices: 2, total_devices: 2, state: 'clean' } }] });
    device.end();
    await waitFor('both agents in InfluxDB', async () => (await influx.query('monitoring', `SELECT count(usage_pct) FROM cpu WHERE site = '${SITE}' GROUP BY device`)).length === 3, 30_000);
    await agents[1]!.stop('SIGKILL');
    await waitFor('pc-kayip offline', async () => (await influx.query('monitoring', `SELECT last(online) FROM device_state WHERE device = 'pc-kayip'`))[0]?.values[0]?.[1] === 0, 20_000);
    await waitFor('the RAID alert resolved in InfluxDB', async () => (await influx.query('monitoring', `SELECT count("firing") FROM "alerts" WHERE "rule" = 'raid_degraded' AND "state" = 'resolved'`)).length === 1, 20_000);
    await waitFor('the named host\'s inventory in InfluxDB', async () => (await influx.query('monitoring', `SELECT count("display_name") FROM "device_info" WHERE "device" = 'bilgiislem-pc01'`)).length === 1, 30_000);
    await waitFor('collector self-metrics', async () => ((await influx.query('monitoring', 'SELECT count(messages_in) FROM collector'))[0]?.values[0]?.[1] as number) >= 3, 20_000);
  });
  afterAll(async () => {
    for (const agent of agents) await agent.stop('SIGKILL');
    await collector?.stop();
    await influx?.stop();
  });

  it.each(LANGUAGES)('in %s', async (lang) => {
    const empty: string[] = [];
    let count = 0;
    const dashboards = buildDashboards(lang).filter((d) => HOST_DASHBOARDS.includes(d.uid));
    expect(dashboards).toHaveLength(HOST_DASHBOARDS.length);
    for (const { json } of dashboards) {
      for (const q of extractPanelQueries(json as never)) {
        const rendered = renderQuery(q.query, { site: SITE, host: 'srv-arsiv', timeFilter: 'time > now() - 1h', interval: '1s' });
        const series = await influx.query('monitoring', rendered).catch((error: Error) => {
          empty.push(`${q.dashboard} / ${q.panel}: ${error.message}`);
          return null;
        });
        if (series && series.length === 0) empty.push(`${q.dashboard} / ${q.panel}: no series for ${rendered}`);
        count++;
      }
    }
    expect(empty).toEqual([]);
    expect(count).toBeGreaterThanOrEqual(29);
  });

  it('Active alerts lists the alerts firing now, since they fired; Alert history every transition', async () => {
    const queries = extractPanelQueries(buildDashboards('en').find((d) => d.uid === 'noc-overview')!.json as never);
    const panel = (title: string) => influx.query('monitoring', renderQuery(queries.find((q) => q.panel === title)!.query, { site: SITE, host: 'srv-arsiv', timeFilter: 'time > now() - 1h', interval: '1s' }));
    const name = (tags: Record<string, string> | undefined) => `${tags?.device}/${tags?.rule}/${tags?.instance}`;
    const active = (await panel('Active alerts')).filter((s) => s.tags?.device === 'srv-arsiv');
    // The rebuilt RAID is not listed: its latest state is resolved.
    expect(active.map((s) => name(s.tags))).toContain('srv-arsiv/smart_failing/sdb');
    expect(active.map((s) => name(s.tags))).not.toContain('srv-arsiv/raid_degraded/md0');
    const failing = active.find((s) => name(s.tags) === 'srv-arsiv/smart_failing/sdb')!;
    expect(failing.tags).toMatchObject({ severity: 'critical', site: SITE });
    expect(failing.columns).toEqual(['time', 'message']);
    expect(failing.values[0]![1]).toBe('srv-arsiv: sdb diski SMART sağlık testini geçemedi, disk değiştirilmeli');

    const history = await panel('Alert history');
    const rows = (device: string, rule: string, instance: string) => history.filter((s) => name(s.tags) === `${device}/${rule}/${instance}`).flatMap((s) => s.values.map((v) => Object.fromEntries(s.columns.map((c, i) => [c, v[i]]))));
    const disk = rows('srv-arsiv', 'smart_failing', 'sdb');
    expect(disk.map((r) => r.state)).toContain('firing');
    // "Since" is the time of the transition to firing.
    expect(failing.values[0]![0]).toBe(disk.find((r) => r.state === 'firing')!.time);
    const raid = rows('srv-arsiv', 'raid_degraded', 'md0');
    expect(raid.map((r) => r.state)).toEqual(expect.arrayContaining(['firing', 'resolved']));
    expect(raid.find((r) => r.state === 'resolved')!.duration_s).toBeGreaterThanOrEqual(0);
  });

  it('Host name shows the name the OS gives the host, with its Turkish letters, for the id derived from it', async () => {
    for (const lang of LANGUAGES) {
      const queries = extractPanelQueries(buildDashboards(lang).find((d) => d.uid === 'host-detail')!.json as never);
      const panel = (title: string) => influx.query('monitoring', renderQuery(queries.find((q) => q.panel === title)!.query, { site: NAMED_SITE, host: 'bilgiislem-pc01', timeFilter: 'time > now() - 1h', interval: '1s' }));
      const [name] = await panel(lang === 'tr' ? 'Bilgisayar adı' : 'Host name');
      expect(name!.columns).toEqual(['time', 'display_name']);
      expect(name!.values.map((row) => row[1])).toEqual(['BİLGİİŞLEM-PC01']);
      // The basics of the same inventory, from the agent's own systeminformation on this machine.
      const [info] = await panel(lang === 'tr' ? 'Donanım ve işletim sistemi' : 'Hardware and operating system');
      expect(info!.columns).toEqual(['time', 'manufacturer', 'model', 'serial', 'os', 'os_release']);
      expect(info!.values).toHaveLength(1);
    }
    // The recorded server too, whose id is all the other panels see.
    const queries = extractPanelQueries(buildDashboards('en').find((d) => d.uid === 'host-detail')!.json as never);
    const [server] = await influx.query('monitoring', renderQuery(queries.find((q) => q.panel === 'Host name')!.query, { site: SITE, host: 'srv-arsiv', timeFilter: 'time > now() - 1h', interval: '1s' }));
    expect(server!.values[0]![1]).toBe('SRV-ARŞİV');
  });
});
