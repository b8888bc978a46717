import { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { t, type Lang, type TextKey } from './i18n.ts';
import { deviceFilter, deviceVariables } from './influxql.ts';
import { binaryStates, graph, grid, single, timeline } from './panels.ts';

// UPS units polled over SNMP (profiles ups-mib and apc-powernet write the same `ups` fields).
// A device id is unique within its site only, so series are grouped by site and device.

const FILTER = deviceFilter('ups');
const perUps = `GROUP BY time($__interval), "site", "device" fill(null)`;

export function ups(lang: Lang): DashboardBuilder {
  const tr = (k: TextKey) => t(lang, k);
  const power = binaryStates({ text: tr('mains'), color: 'green' }, { text: tr('onBattery'), color: 'red' });
  const builder = new DashboardBuilder(tr('upsTitle')).uid('ups').tags(['belediye-izleme', 'ups']).refresh('30s').time({ from: 'now-24h', to: 'now' }).timezone('browser');
  for (const variable of deviceVariables('ups', { label: tr('site') }, { name: 'ups', label: tr('ups') })) builder.withVariable(variable);
  return builder
    .withPanel(single({ title: tr('upsPower'), description: tr('upsPowerDesc'), width: 12, mappings: power, query: `SELECT last("on_battery") AS "on_battery" FROM "ups" WHERE ${FILTER} GROUP BY "site", "device"` }))
    .withPanel(
      grid({
        title: tr('upsState'),
        description: tr('upsStateDesc'),
        height: 4,
        columnUnits: { charge_pct: 'percent', runtime_s: 's', load_pct: 'percent' },
        query: `SELECT last("status") AS "status", last("battery_status") AS "battery_status", last("charge_pct") AS "charge_pct", last("runtime_s") AS "runtime_s", last("load_pct") AS "load_pct" FROM "ups" WHERE ${FILTER} GROUP BY "site", "device"`,
      }),
    )
    // max: one reading on battery inside a bucket is enough to paint it red.
    .withPanel(timeline({ title: tr('upsBatteryHistory'), description: tr('upsBatteryHistoryDesc'), mappings: power, query: `SELECT max("on_battery") AS "on_battery" FROM "ups" WHERE ${FILTER} ${perUps}` }))
    .withPanel(graph({ title: tr('upsCharge'), unit: 'percent', query: `SELECT mean("charge_pct") AS "charge" FROM "ups" WHERE ${FILTER} ${perUps}` }))
    .withPanel(graph({ title: tr('upsRuntime'), unit: 's', query: `SELECT mean("runtime_s") AS "runtime" FROM "ups" WHERE ${FILTER} ${perUps}` }))
    .withPanel(graph({ title: tr('upsLoad'), unit: 'percent', query: `SELECT mean("load_pct") AS "load" FROM "ups" WHERE ${FILTER} ${perUps}` }))
    .withPanel(graph({ title: tr('upsVoltage'), unit: 'volt', query: `SELECT mean("input_voltage_v") AS "input", mean("output_voltage_v") AS "output" FROM "ups" WHERE ${FILTER} ${perUps}` }))
    .withPanel(graph({ title: tr('upsBatteryTemp'), unit: 'celsius', query: `SELECT mean("battery_temp_c") AS "battery_temp" FROM "ups" WHERE ${FILTER} ${perUps}` }))
    .withPanel(
      grid({
        title: tr('upsMaintenance'),
        description: tr('upsMaintenanceDesc'),
        query: `SELECT last("replace_battery") AS "replace_battery", last("self_test") AS "self_test", last("self_test_ok") AS "self_test_ok" FROM "ups" WHERE ${FILTER} GROUP BY "site", "device"`,
      }),
    );
}
