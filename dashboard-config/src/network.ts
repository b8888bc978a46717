import { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { t, type Lang, type TextKey } from './i18n.ts';
import { deviceFilter, deviceVariables } from './influxql.ts';
import { binaryStates, graph, grid, timeline } from './panels.ts';

// Switches and routers (profile if-mib) and their transceivers (entity-sensor, huawei-optical).
// Fiber links are the interfaces the device list names as links: their points carry the `link`
// tag (the far site), which every per-interface query keeps so they stand out in legends.

const FILTER = deviceFilter('switch');
const FIBER = `"link" =~ /.+/`;
const IFACE_TAGS = `"site", "device", "iface", "link"`;
const perIface = `GROUP BY time($__interval), ${IFACE_TAGS} fill(null)`;

/**
 * Fixed receive thresholds for modules that report none (only the Huawei profile reads the
 * module's own). 1000BASE-LX, the usual campus fiber optic, has a receive sensitivity of
 * −19 dBm (IEEE 802.3 clause 38; −20 dBm on Cisco's GLC-LH-SMD) and 1000BASE-SX −17 dBm, so
 * below −20 dBm the link is failing and −20…−17 dBm leaves under 3 dB of margin. Above 0 dBm the
 * receiver is near overload (LX −3 dBm, 10GBASE-LR +0.5 dBm). Fixed bands cannot know the
 * module (a ZX may run below −20 dBm, a 10G-LR fails below −14.4 dBm): docs/dashboards.md.
 */
const RX_FAILING_DBM = -20;
const RX_STEPS = [
  { value: null, color: 'red' },
  { value: RX_FAILING_DBM, color: 'orange' },
  { value: -17, color: 'green' },
  { value: 0, color: 'orange' },
];
/** Launch power: 1000BASE-LX may send as little as −11 dBm, SX −9.5 dBm; below −12 dBm no common module is in specification. */
const TX_STEPS = [
  { value: null, color: 'red' },
  { value: -12, color: 'orange' },
  { value: -10, color: 'green' },
];
const THRESHOLD_SERIES = '.*_(low|high)_dbm.*';

export function network(lang: Lang): DashboardBuilder {
  const tr = (k: TextKey) => t(lang, k);
  const link = binaryStates({ text: tr('down'), color: 'red' }, { text: tr('up'), color: 'green' });
  const builder = new DashboardBuilder(tr('networkTitle')).uid('network').tags(['belediye-izleme', 'network']).refresh('30s').time({ from: 'now-6h', to: 'now' }).timezone('browser');
  for (const variable of deviceVariables('interface', { label: tr('site') }, { name: 'switch', label: tr('switch') })) builder.withVariable(variable);
  const latestRx = `SELECT last("rx_dbm") AS "rx_dbm", last("rx_low_dbm") AS "rx_low_dbm", last("rx_high_dbm") AS "rx_high_dbm" FROM "optical" WHERE ${FILTER} GROUP BY ${IFACE_TAGS}`;
  return builder
    .withPanel(
      grid({
        title: tr('fiberDown'),
        description: tr('fiberDownDesc'),
        mappings: link,
        query: `SELECT "oper_up", "admin_up" FROM (SELECT last("oper_up") AS "oper_up", last("admin_up") AS "admin_up" FROM "interface" WHERE ${FIBER} AND ${FILTER} GROUP BY ${IFACE_TAGS}) WHERE "oper_up" = 0 GROUP BY ${IFACE_TAGS}`,
      }),
    )
    .withPanel(
      grid({
        title: tr('opticalOut'),
        description: tr('opticalOutDesc'),
        unit: 'dBm',
        query: `SELECT "rx_dbm", "rx_low_dbm", "rx_high_dbm" FROM (${latestRx}) WHERE "rx_dbm" < ${RX_FAILING_DBM} OR "rx_dbm" < "rx_low_dbm" OR "rx_dbm" > "rx_high_dbm" GROUP BY ${IFACE_TAGS}`,
      }),
    )
    // min: one reading down inside a bucket is enough to paint it red.
    .withPanel(timeline({ title: tr('fiberStatus'), mappings: link, query: `SELECT min("oper_up") AS "oper_up" FROM "interface" WHERE ${FIBER} AND ${FILTER} ${perIface}` }))
    // Ports shut down on purpose would be a permanent red row.
    .withPanel(timeline({ title: tr('ifaceStatus'), height: 12, mappings: link, query: `SELECT min("oper_up") AS "oper_up" FROM "interface" WHERE "admin_up" = 1 AND ${FILTER} ${perIface}` }))
    .withPanel(
      graph({
        title: tr('opticalRx'),
        description: tr('opticalRxDesc'),
        unit: 'dBm',
        thresholds: RX_STEPS,
        dashedSeries: THRESHOLD_SERIES,
        query: `SELECT mean("rx_dbm") AS "rx_dbm", mean("rx_low_dbm") AS "rx_low_dbm", mean("rx_high_dbm") AS "rx_high_dbm" FROM "optical" WHERE ${FILTER} ${perIface}`,
      }),
    )
    .withPanel(
      graph({
        title: tr('opticalTx'),
        description: tr('opticalTxDesc'),
        unit: 'dBm',
        thresholds: TX_STEPS,
        dashedSeries: THRESHOLD_SERIES,
        query: `SELECT mean("tx_dbm") AS "tx_dbm", mean("tx_low_dbm") AS "tx_low_dbm", mean("tx_high_dbm") AS "tx_high_dbm" FROM "optical" WHERE ${FILTER} ${perIface}`,
      }),
    )
    .withPanel(graph({ title: tr('traffic'), unit: 'bps', query: `SELECT mean("in_bps") AS "in", mean("out_bps") AS "out" FROM "interface" WHERE ${FILTER} ${perIface}` }))
    .withPanel(
      graph({
        title: tr('ifaceErrors'),
        unit: 'pps',
        query: `SELECT mean("in_errors_ps") AS "in_errors", mean("out_errors_ps") AS "out_errors", mean("in_discards_ps") AS "in_discards", mean("out_discards_ps") AS "out_discards" FROM "interface" WHERE ${FILTER} ${perIface}`,
      }),
    )
    .withPanel(
      grid({
        title: tr('ifaces'),
        width: 24,
        columnUnits: { speed_mbps: 'Mbits', in_bps: 'bps', out_bps: 'bps' },
        query: `SELECT last("oper_up") AS "oper_up", last("admin_up") AS "admin_up", last("speed_mbps") AS "speed_mbps", last("in_bps") AS "in_bps", last("out_bps") AS "out_bps" FROM "interface" WHERE ${FILTER} GROUP BY ${IFACE_TAGS}`,
      }),
    );
}
