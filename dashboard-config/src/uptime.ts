import { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { t, type Lang, type TextKey } from './i18n.ts';
import { deviceFilter, deviceVariables } from './influxql.ts';
import { binaryStates, graph, grid, timeline } from './panels.ts';

// Uptime of internet lines, fiber links and services (docs/uptime.md): the probe targets
// (kind link or service) with their state (device_state, written on every change), their
// outages (the outage log's `outages` points: one when an outage opens, one when it closes
// with duration_s), their round-trip times, loss and latency (probe), and the fiber links of
// the switches (interface points tagged link).

const SELECTED = `"site" =~ /^$site$/ AND "device" =~ /^$target$/ AND "kind" =~ /^(link|service)$/`;
const PROBES = deviceFilter('target');
const TARGET_TAGS = `"site", "device", "kind"`;
const perTarget = `GROUP BY time($__interval), "site", "device" fill(null)`;
const FIBER = `"link" =~ /.+/ AND "site" =~ /^$site$/ AND $timeFilter`;

// device_state is written on changes only, so "now" is the latest point within a year rather
// than within the time range. One selector keeps that point's time: since when.
const LATEST_STATE = `SELECT last("online") AS "online", "reason" FROM "device_state" WHERE ${SELECTED} AND time > now() - 365d GROUP BY ${TARGET_TAGS}`;

// Downtime in the range from the outage log, every outage cut to the range ($__from, $__to:
// epoch ms). A closed outage is the point at its end (start_ms, end_ms, duration_s); one still
// open is a target whose latest outage point is the opening one (open = 1, cause unknown).
// InfluxQL has neither HAVING nor a scalar max, hence one subquery per case; subqueries of one
// measurement land in the same series, so one sum adds them. A range ending in the past misses
// an outage that ended after it.
const RANGE_MS = '($__to - $__from)';
const LATEST_OUTAGE = `SELECT last("start_ms") AS "start_ms", "open" FROM "outages" WHERE ${SELECTED} AND time > now() - 365d GROUP BY ${TARGET_TAGS}`;
const DOWNTIME = [
  `SELECT "duration_s" AS "down_s" FROM "outages" WHERE ${SELECTED} AND "start_ms" >= $__from AND $timeFilter`,
  `SELECT ("end_ms" - $__from) / 1000 AS "down_s" FROM "outages" WHERE ${SELECTED} AND "start_ms" < $__from AND $timeFilter`,
  `SELECT ($__to - "start_ms") / 1000 AS "down_s" FROM (${LATEST_OUTAGE}) WHERE "open" = 1 AND "start_ms" >= $__from AND "start_ms" <= $__to`,
  `SELECT "open" * ${RANGE_MS} / 1000 AS "down_s" FROM (${LATEST_OUTAGE}) WHERE "open" = 1 AND "start_ms" < $__from`,
];

/** Availability: red below 99 %, amber below 99.9 %. */
const AVAILABILITY_STEPS = [
  { value: null, color: 'red' },
  { value: 99, color: 'orange' },
  { value: 99.9, color: 'green' },
];

export function uptime(lang: Lang): DashboardBuilder {
  const tr = (k: TextKey) => t(lang, k);
  const upDown = binaryStates({ text: tr('down'), color: 'red' }, { text: tr('up'), color: 'green' });
  const builder = new DashboardBuilder(tr('uptimeTitle')).uid('uptime').tags(['belediye-izleme', 'uptime']).refresh('30s').time({ from: 'now-24h', to: 'now' }).timezone('browser');
  // The targets are the devices that were ever probed successfully (probe points); All also takes in one that never answered.
  for (const variable of deviceVariables('probe', { label: tr('site') }, { name: 'target', label: tr('target') })) builder.withVariable(variable);
  return builder
    .withPanel(
      grid({
        title: tr('sitesNow'),
        description: tr('sitesNowDesc'),
        columnUnits: { up_pct: 'percent' },
        // Red when nothing of that kind is up at the site, amber when some of it is down.
        colouredColumns: { up_pct: { thresholds: [{ value: null, color: 'red' }, { value: 0.001, color: 'orange' }, { value: 100, color: 'green' }] } },
        query: `SELECT sum("online") AS "up", count("online") AS "total", sum("online") / count("online") * 100 AS "up_pct" FROM (${LATEST_STATE}) GROUP BY "site", "kind"`,
      }),
    )
    .withPanel(grid({ title: tr('targetsNow'), description: tr('targetsNowDesc'), colouredColumns: { online: { mappings: upDown } }, query: LATEST_STATE }))
    .withPanel(
      grid({
        title: tr('availability'),
        description: tr('availabilityDesc'),
        width: 24,
        columnUnits: { downtime_s: 's', availability_pct: 'percent' },
        colouredColumns: { availability_pct: { thresholds: AVAILABILITY_STEPS } },
        query: `SELECT count("down_s") AS "outages", sum("down_s") AS "downtime_s", 100 - sum("down_s") * 100000 / ${RANGE_MS} AS "availability_pct" FROM ${DOWNTIME.map((q) => `(${q})`).join(', ')} GROUP BY ${TARGET_TAGS}`,
      }),
    )
    // last, carried forward: the state only changes at a point, and a bucket ends in the state its last point set.
    .withPanel(timeline({ title: tr('outageTimeline'), description: tr('outageTimelineDesc'), mappings: upDown, query: `SELECT last("online") AS "online" FROM "device_state" WHERE ${SELECTED} AND $timeFilter GROUP BY time($__interval), "site", "device" fill(previous)` }))
    .withPanel(
      grid({
        title: tr('outageList'),
        description: tr('outageListDesc'),
        width: 24,
        columnUnits: { start_ms: 'dateTimeAsLocal', end_ms: 'dateTimeAsLocal', duration_s: 's' },
        query: `SELECT "start_ms", "end_ms", "duration_s", "reason" FROM "outages" WHERE ${SELECTED} AND "duration_s" >= 0 AND $timeFilter GROUP BY ${TARGET_TAGS}, "cause"`,
      }),
    )
    .withPanel(
      graph({
        title: tr('rtt'),
        description: tr('rttDesc'),
        unit: 'ms',
        thresholds: [{ value: null, color: 'green' }, { value: 100, color: 'orange' }, { value: 150, color: 'red' }],
        query: `SELECT mean("rtt_ms") AS "rtt", max("rtt_max_ms") AS "rtt_max", mean("jitter_ms") AS "jitter" FROM "probe" WHERE ${PROBES} ${perTarget}`,
      }),
    )
    .withPanel(
      graph({
        title: tr('loss'),
        description: tr('lossDesc'),
        unit: 'percent',
        thresholds: [{ value: null, color: 'green' }, { value: 2, color: 'orange' }, { value: 10, color: 'red' }],
        query: `SELECT max("loss_pct") AS "loss" FROM "probe" WHERE ${PROBES} ${perTarget}`,
      }),
    )
    .withPanel(graph({ title: tr('responseTime'), description: tr('responseTimeDesc'), unit: 'ms', query: `SELECT mean("latency_ms") AS "latency" FROM "probe" WHERE "kind" = 'service' AND ${PROBES} ${perTarget}` }))
    .withPanel(
      grid({
        title: tr('fiberLinks'),
        description: tr('fiberLinksDesc'),
        columnUnits: { availability_pct: 'percent' },
        colouredColumns: { oper_up: { mappings: upDown }, availability_pct: { thresholds: AVAILABILITY_STEPS } },
        query: `SELECT last("oper_up") AS "oper_up", mean("oper_up") * 100 AS "availability_pct" FROM "interface" WHERE ${FIBER} GROUP BY "site", "device", "iface", "link"`,
      }),
    );
}
