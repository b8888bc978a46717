import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type * as common from '@grafana/grafana-foundation-sdk/common';

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
