import { TableSortByFieldStateBuilder } from '@grafana/grafana-foundation-sdk/common';
import { DashboardBuilder, MappingType, type ValueMapping } from '@grafana/grafana-foundation-sdk/dashboard';
import { t, type Lang, type TextKey } from './i18n.ts';
import { graph, grid, single } from './panels.ts';

// The latest state of every device: device_state is written on transitions, so "now" is the
// last value within a long window rather than within the dashboard's time range.
const LATEST_STATE = `SELECT last("online") AS "online", last("reason") AS "reason" FROM "device_state" WHERE time > now() - 30d GROUP BY "site", "device"`;

// Alerts (measurement `alerts`, one point per transition, tags as in collector/alerts/alert-points.ts).
const ALERT_TAGS = `"severity", "site", "device", "instance", "rule"`;
// The latest transition of every alert condition. One selector with plain fields beside it
// keeps that point's time, i.e. when the alert started firing (several selectors would not);
// InfluxQL has no HAVING, so the outer query keeps those whose latest state is firing. A year
// back, because a firing alert writes nothing more until it ends.
const LATEST_ALERTS = `SELECT last("firing") AS "firing", "message" FROM "alerts" WHERE time > now() - 365d GROUP BY ${ALERT_TAGS}`;

/** Column headers of the alert tables (InfluxDB's names → the dashboard's language). */
const ALERT_COLUMNS = { severity: 'alertSeverity', site: 'site', device: 'host', instance: 'alertInstance', rule: 'alertRule', state: 'alertState', message: 'alertMessage', duration_s: 'alertDuration' } as const satisfies Record<string, TextKey>;

function alertTexts(tr: (k: TextKey) => string): ValueMapping[] {
  const texts: [string, TextKey, string][] = [
    ['critical', 'critical', 'red'],
    ['warning', 'warning', 'orange'],
    ['info', 'info', 'blue'],
    ['firing', 'firing', 'red'],
    ['pending', 'pending', 'yellow'],
    ['resolved', 'resolved', 'green'],
    ['cancelled', 'cancelled', 'text'],
  ];
  return [{ type: MappingType.ValueToText, options: Object.fromEntries(texts.map(([value, key, color], index) => [value, { text: tr(key), color, index }])) }];
}

/** Grafana's organize transformation: columns in this order, renamed. */
function organize(columns: readonly string[], renames: Record<string, string>) {
  return { id: 'organize', options: { indexByName: Object.fromEntries(columns.map((c, i) => [c, i])), renameByName: renames } };
}

function alertPanels(tr: (k: TextKey) => string) {
  const renames = Object.fromEntries(Object.entries(ALERT_COLUMNS).map(([column, key]) => [column, tr(key)]));
  // Overrides match the renamed columns (Grafana applies transformations first); the mappings' colours show in the text.
  const colourText = [{ id: 'custom.cellOptions', value: { type: 'color-text' } }];
  const coloured = (panel: ReturnType<typeof grid>) => panel.overrideByName(tr('alertSeverity'), colourText).overrideByName(tr('alertState'), colourText);
  const active = grid({ title: tr('activeAlerts'), description: tr('activeAlertsDesc'), width: 24, mappings: alertTexts(tr), query: `SELECT "message" FROM (${LATEST_ALERTS}) WHERE "firing" = 1 GROUP BY ${ALERT_TAGS}` })
    .withTransformation(organize(['severity', 'site', 'device', 'instance', 'rule', 'message', 'Time'], { ...renames, Time: tr('alertSince') }))
    .sortBy([new TableSortByFieldStateBuilder().displayName(tr('alertSince')).desc(true)]);
  const history = grid({
    title: tr('alertHistory'),
    description: tr('alertHistoryDesc'),
    width: 24,
    height: 10,
    mappings: alertTexts(tr),
    columnUnits: { [tr('alertDuration')]: 's' },
    // The message carries the value (the rules' texts name it), so the value fields are not shown.
    query: `SELECT "state", "message", "duration_s" FROM "alerts" WHERE $timeFilter GROUP BY ${ALERT_TAGS}`,
  })
    .withTransformation(organize(['Time', 'severity', 'state', 'site', 'device', 'instance', 'rule', 'message', 'duration_s'], { ...renames, Time: tr('alertTime') }))
    .sortBy([new TableSortByFieldStateBuilder().displayName(tr('alertTime')).desc(true)]);
  return { active: coloured(active), history: coloured(history) };
}

export function nocOverview(lang: Lang): DashboardBuilder {
  const tr = (k: TextKey) => t(lang, k);
  const alerts = alertPanels(tr);
  return new DashboardBuilder(tr('nocTitle'))
    .uid('noc-overview')
    .tags(['belediye-izleme', 'noc'])
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser')
    .withPanel(alerts.active)
    .withPanel(alerts.history)
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
