import { DashboardBuilder, QueryVariableBuilder, VariableRefresh } from '@grafana/grafana-foundation-sdk/dashboard';
import { t, type Lang } from './i18n.ts';
import { HOST_FILTER, INFLUX_DATASOURCE } from './influxql.ts';
import { graph, grid, single, textStat } from './panels.ts';

const byTime = 'GROUP BY time($__interval)';
// device_info is written only when a device's inventory changes, which may be months ago: these
// panels look at the whole history, not at the dashboard's time range.
const DEVICE_INFO = `FROM "device_info" WHERE "site" =~ /^$site$/ AND "device" =~ /^$host$/`;

export function hostDetail(lang: Lang): DashboardBuilder {
  const tr = (k: Parameters<typeof t>[1]) => t(lang, k);
  const variable = (name: string, label: string, query: string) =>
    new QueryVariableBuilder(name).label(label).datasource(INFLUX_DATASOURCE).query(query).definition(query).refresh(VariableRefresh.OnTimeRangeChanged).includeAll(false).multi(false);
  return new DashboardBuilder(tr('hostTitle'))
    .uid('host-detail')
    .tags(['belediye-izleme', 'host'])
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser')
    .withVariable(variable('site', tr('site'), 'SHOW TAG VALUES FROM "cpu" WITH KEY = "site"'))
    .withVariable(variable('host', tr('host'), 'SHOW TAG VALUES FROM "cpu" WITH KEY = "device" WHERE "site" =~ /^$site$/'))
    .withPanel(textStat({ title: tr('hostName'), description: tr('hostNameDesc'), column: 'display_name', query: `SELECT last("display_name") AS "display_name" ${DEVICE_INFO}` }))
    .withPanel(
      grid({
        title: tr('hostInfo'),
        description: tr('hostInfoDesc'),
        width: 18,
        height: 4,
        // One point's columns (the latest inventory's), not each column's own last value: a field the inventory dropped shows empty.
        query: `SELECT "manufacturer", "model", "serial", "os", "os_release" ${DEVICE_INFO} ORDER BY time DESC LIMIT 1`,
      }),
    )
    .withPanel(graph({ title: tr('cpu'), unit: 'percent', query: `SELECT mean("usage_pct") AS "usage", mean("user_pct") AS "user", mean("system_pct") AS "system" FROM "cpu" WHERE ${HOST_FILTER} ${byTime} fill(null)` }))
    .withPanel(graph({ title: tr('load'), query: `SELECT mean("load1") AS "load1", mean("load5") AS "load5", mean("load15") AS "load15" FROM "cpu" WHERE ${HOST_FILTER} ${byTime} fill(null)` }))
    .withPanel(graph({ title: tr('memory'), unit: 'percent', query: `SELECT mean("used_pct") AS "used" FROM "mem" WHERE ${HOST_FILTER} ${byTime} fill(null)` }))
    .withPanel(graph({ title: tr('swap'), unit: 'percent', query: `SELECT mean("used_pct") AS "used" FROM "swap" WHERE ${HOST_FILTER} ${byTime} fill(null)` }))
    .withPanel(graph({ title: tr('filesystems'), unit: 'percent', query: `SELECT last("used_pct") FROM "fs" WHERE ${HOST_FILTER} ${byTime}, "mount" fill(null)` }))
    .withPanel(graph({ title: tr('diskio'), unit: 'Bps', query: `SELECT mean("read_bps") AS "read", mean("write_bps") AS "write" FROM "diskio" WHERE ${HOST_FILTER} ${byTime} fill(null)` }))
    .withPanel(graph({ title: tr('netThroughput'), unit: 'bps', query: `SELECT mean("rx_bps") AS "rx", mean("tx_bps") AS "tx" FROM "net" WHERE ${HOST_FILTER} ${byTime}, "iface" fill(null)` }))
    .withPanel(graph({ title: tr('netErrors'), query: `SELECT max("rx_errors") AS "rx_errors", max("tx_errors") AS "tx_errors", max("rx_dropped") AS "rx_dropped", max("tx_dropped") AS "tx_dropped" FROM "net" WHERE ${HOST_FILTER} ${byTime}, "iface" fill(null)` }))
    .withPanel(graph({ title: tr('temperatures'), unit: 'celsius', query: `SELECT mean("celsius") FROM "temp" WHERE ${HOST_FILTER} ${byTime}, "sensor" fill(null)` }))
    .withPanel(graph({ title: tr('fans'), unit: 'rotrpm', query: `SELECT mean("rpm") FROM "fan" WHERE ${HOST_FILTER} ${byTime}, "sensor" fill(null)` }))
    .withPanel(single({ title: tr('uptime'), unit: 's', query: `SELECT last("uptime_s") FROM "system" WHERE ${HOST_FILTER}` }))
    .withPanel(graph({ title: tr('battery'), unit: 'percent', width: 6, query: `SELECT mean("charge_pct") FROM "battery" WHERE ${HOST_FILTER} ${byTime}, "battery" fill(null)` }))
    .withPanel(grid({ title: tr('smart'), query: `SELECT last("passed") AS "passed", last("temperature_c") AS "temperature_c", last("reallocated_sectors") AS "reallocated", last("pending_sectors") AS "pending" FROM "smart" WHERE ${HOST_FILTER} GROUP BY "disk"` }))
    .withPanel(grid({ title: tr('raid'), query: `SELECT last("degraded") AS "degraded", last("active_devices") AS "active", last("total_devices") AS "total", last("state") AS "state" FROM "raid" WHERE ${HOST_FILTER} GROUP BY "instance"` }))
    .withPanel(grid({ title: tr('events'), width: 24, query: `SELECT "message", "type", "severity", "data" FROM "events" WHERE ${HOST_FILTER}` }));
}
