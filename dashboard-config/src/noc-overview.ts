import { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { t, type Lang } from './i18n.ts';
import { graph, grid, single } from './panels.ts';

// The latest state of every device: device_state is written on transitions, so "now" is the
// last value within a long window rather than within the dashboard's time range.
const LATEST_STATE = `SELECT last("online") AS "online", last("reason") AS "reason" FROM "device_state" WHERE time > now() - 30d GROUP BY "site", "device"`;

export function nocOverview(lang: Lang): DashboardBuilder {
  const tr = (k: Parameters<typeof t>[1]) => t(lang, k);
  return new DashboardBuilder(tr('nocTitle'))
    .uid('noc-overview')
    .tags(['belediye-izleme', 'noc'])
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser')
    .withPanel(single({ title: tr('onlineHosts'), query: `SELECT sum("online") FROM (${LATEST_STATE})` }))
    .withPanel(single({ title: tr('offlineHosts'), query: `SELECT count("online") FROM (${LATEST_STATE}) WHERE "online" = 0` }))
    .withPanel(grid({ title: tr('hostsPerSite'), description: tr('hostsPerSiteDesc'), width: 12, query: `SELECT sum("online") AS "online", count("online") AS "total" FROM (${LATEST_STATE}) GROUP BY "site"` }))
    .withPanel(grid({ title: tr('offlineHosts'), description: tr('offlineHostsDesc'), query: `SELECT "online", "reason" FROM (${LATEST_STATE}) WHERE "online" = 0 GROUP BY "site", "device"` }))
    .withPanel(grid({ title: tr('fullDisks'), unit: 'percent', query: `SELECT "used_pct" FROM (SELECT last("used_pct") AS "used_pct" FROM "fs" WHERE $timeFilter GROUP BY "site", "device", "mount") WHERE "used_pct" > 90 GROUP BY "site", "device", "mount"` }))
    .withPanel(grid({ title: tr('hotCpus'), unit: 'percent', query: `SELECT "usage_pct" FROM (SELECT last("usage_pct") AS "usage_pct" FROM "cpu" WHERE $timeFilter GROUP BY "site", "device") WHERE "usage_pct" > 80 GROUP BY "site", "device"` }))
    .withPanel(graph({ title: tr('cpuByHost'), unit: 'percent', query: `SELECT mean("usage_pct") FROM "cpu" WHERE $timeFilter GROUP BY time($__interval), "site", "device" fill(null)` }))
    .withPanel(graph({ title: tr('tempByHost'), unit: 'celsius', query: `SELECT max("celsius") FROM "temp" WHERE $timeFilter GROUP BY time($__interval), "site", "device" fill(null)` }))
    .withPanel(grid({ title: tr('recentReboots'), width: 24, query: `SELECT "message", "data" FROM "events" WHERE "type" = 'reboot' AND $timeFilter GROUP BY "site", "device"` }))
    .withPanel(graph({ title: tr('collectorIn'), width: 6, unit: 'short', query: `SELECT non_negative_derivative(last("messages_in"), 1s) FROM "collector" WHERE $timeFilter GROUP BY time($__interval), "instance"` }))
    .withPanel(graph({ title: tr('collectorRejected'), width: 6, unit: 'short', query: `SELECT non_negative_derivative(last("messages_rejected"), 1s) FROM "collector" WHERE $timeFilter GROUP BY time($__interval), "instance"` }))
    .withPanel(graph({ title: tr('collectorQueue'), width: 6, unit: 'short', query: `SELECT max("queue_depth") FROM "collector" WHERE $timeFilter GROUP BY time($__interval), "instance"` }))
    .withPanel(graph({ title: tr('collectorLatency'), width: 6, unit: 'ms', query: `SELECT mean("write_latency_ms") FROM "collector" WHERE $timeFilter GROUP BY time($__interval), "instance"` }));
}
