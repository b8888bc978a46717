import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type * as common from '@grafana/grafana-foundation-sdk/common';
import { QueryVariableBuilder, VariableRefresh } from '@grafana/grafana-foundation-sdk/dashboard';

// The SDK has no InfluxDB query builder; this is the InfluxQL target Grafana's InfluxDB data
// source stores for a raw query, behind the SDK's Builder interface.

export const INFLUX_DATASOURCE: common.DataSourceRef = { type: 'influxdb', uid: 'influxdb' };

export interface InfluxQLTarget extends cog.Dataquery {
  refId: string;
  datasource: common.DataSourceRef;
  query: string;
  rawQuery: true;
  resultFormat: 'time_series' | 'table';
}

export function influxql(query: string, options: { refId?: string; format?: 'time_series' | 'table' } = {}): cog.Builder<cog.Dataquery> {
  return {
    build: (): InfluxQLTarget => ({
      refId: options.refId ?? 'A',
      datasource: INFLUX_DATASOURCE,
      query,
      rawQuery: true,
      resultFormat: options.format ?? 'time_series',
      _implementsDataqueryVariant: () => {},
    }),
  };
}

/** Host filter used by every host-detail query (Grafana expands $site and $host, also multi-value). */
export const HOST_FILTER = `"site" =~ /^$site$/ AND "device" =~ /^$host$/ AND $timeFilter`;

/**
 * Filter of a device dashboard: Grafana expands `$site` and the device variable (both multi-value,
 * "All" is `.*`) into the regexes.
 */
export const deviceFilter = (deviceVariable: string) => `"site" =~ /^$site$/ AND "device" =~ /^$${deviceVariable}$/ AND $timeFilter`;

/** `$site` and the device variable of a device dashboard, both read from the measurement the dashboard is about. */
export function deviceVariables(measurement: string, site: { label: string }, device: { name: string; label: string }): QueryVariableBuilder[] {
  const variable = (name: string, label: string, query: string) =>
    new QueryVariableBuilder(name)
      .label(label)
      .datasource(INFLUX_DATASOURCE)
      .query(query)
      .definition(query)
      .refresh(VariableRefresh.OnTimeRangeChanged)
      .multi(true)
      .includeAll(true)
      .allValue('.*')
      .current({ text: 'All', value: '$__all' });
  return [
    variable('site', site.label, `SHOW TAG VALUES FROM "${measurement}" WITH KEY = "site"`),
    variable(device.name, device.label, `SHOW TAG VALUES FROM "${measurement}" WITH KEY = "device" WHERE "site" =~ /^$site$/`),
  ];
}
