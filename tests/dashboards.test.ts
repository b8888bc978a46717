import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LANGUAGES } from '../dashboard-config/src/i18n.ts';
import { buildDashboards, DASHBOARDS, renderDashboardFile } from '../dashboard-config/src/index.ts';
import { birth, rebootEvent, serverHardwareMetrics } from './fixtures/recorded-devices.ts';
import { startAgentProcess } from './helpers/agent-process.ts';
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
// killed so that a device is offline. The dashboards of polled devices (UPS, network, NVR) are
// run against the real collector polling them in tests/dashboards-devices.test.ts.
const HOST_DASHBOARDS = ['noc-overview', 'host-detail'];

describe('every dashboard panel returns data from the real pipeline', () => {
  let influx: InfluxServer;
  let collector: CollectorProcess;
  const agents: ManagedProcess[] = [];
  const SITE = 'kutuphane';

  beforeAll(async () => {
    influx = await startInfluxDB();
    collector = await startCollectorProcess({ storage: { type: 'influx-v1', url: influx.url }, queue: { flushIntervalMs: 200 }, selfMetricsIntervalS: 1 });
    for (const device of ['pc-okuma', 'pc-kayip']) agents.push(startAgentProcess({ site: SITE, device, kind: 'pc', mqttUrl: collector.mqttUrl! }));
    const device = await connectClient(collector.mqttUrl!, { clientId: 'srv-arsiv' });
    const now = Date.now();
    await publish(device, `muni/v1/${SITE}/srv-arsiv/state`, birth(now - 3000), { retain: true });
    for (const ago of [3000, 2000, 1000]) await publish(device, `muni/v1/${SITE}/srv-arsiv/metrics`, serverHardwareMetrics(now - ago));
    await publish(device, `muni/v1/${SITE}/srv-arsiv/event`, rebootEvent(now - 500));
    device.end();
    await waitFor('both agents in InfluxDB', async () => (await influx.query('monitoring', `SELECT count(usage_pct) FROM cpu WHERE site = '${SITE}' GROUP BY device`)).length === 3, 30_000);
    await agents[1]!.stop('SIGKILL');
    await waitFor('pc-kayip offline', async () => (await influx.query('monitoring', `SELECT last(online) FROM device_state WHERE device = 'pc-kayip'`))[0]?.values[0]?.[1] === 0, 20_000);
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
    expect(count).toBeGreaterThanOrEqual(25);
  });
});
