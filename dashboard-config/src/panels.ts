import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { INFLUX_DATASOURCE, influxql } from './influxql.ts';

// Small panel helpers so each dashboard reads as a list of (title, query) pairs.

interface PanelSpec {
  title: string;
  query: string;
  unit?: string;
  description?: string;
  width?: number;
  height?: number;
  /** Texts and colours for values, e.g. 0/1 states. */
  mappings?: dashboard.ValueMapping[];
  /** Colour steps from the lowest up; the first one's value is null (everything below the next). */
  thresholds?: dashboard.Threshold[];
  /** Units of single columns of a table whose columns differ (column name → unit). */
  columnUnits?: Record<string, string>;
}

/** The builder methods every SDK panel kind shares. */
interface CommonPanel<B> {
  title(title: string): B;
  description(description: string): B;
  datasource(datasource: common.DataSourceRef): B;
  withTarget(target: cog.Builder<cog.Dataquery>): B;
  unit(unit: string): B;
  span(span: number): B;
  height(height: number): B;
  mappings(mappings: dashboard.ValueMapping[]): B;
  thresholds(thresholds: cog.Builder<dashboard.ThresholdsConfig>): B;
  overrideByName(name: string, properties: dashboard.DynamicConfigValue[]): B;
}

function configure<B extends CommonPanel<B>>(panel: B, spec: PanelSpec, format: 'time_series' | 'table', size: { width: number; height: number }): B {
  panel
    .title(spec.title)
    .datasource(INFLUX_DATASOURCE)
    .withTarget(influxql(spec.query, { format }))
    .unit(spec.unit ?? 'short')
    .span(spec.width ?? size.width)
    .height(spec.height ?? size.height);
  if (spec.description) panel.description(spec.description);
  if (spec.mappings) panel.mappings(spec.mappings);
  if (spec.thresholds) panel.thresholds(new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps(spec.thresholds));
  for (const [column, unit] of Object.entries(spec.columnUnits ?? {})) panel.overrideByName(column, [{ id: 'unit', value: unit }]);
  return panel;
}

/** A time series; with thresholds, their bands are drawn behind the lines. */
export function graph(spec: PanelSpec & { dashedSeries?: string }) {
  const panel = configure(new timeseries.PanelBuilder(), spec, 'time_series', { width: 12, height: 8 });
  if (spec.thresholds) panel.thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.DashedAndArea));
  // Series that are limits rather than readings (a module's own alarm thresholds) are drawn dashed.
  if (spec.dashedSeries) panel.overrideByRegexp(spec.dashedSeries, [{ id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } }]);
  return panel;
}

/** How a table column is painted: texts and colours for values, or colour steps (the same shape as PanelSpec's). */
export interface ColumnColours {
  mappings?: dashboard.ValueMapping[];
  thresholds?: dashboard.Threshold[];
}

/** A table; `colouredColumns` paint their cells' background, so red/amber/green shows at a glance. */
export function grid(spec: PanelSpec & { colouredColumns?: Record<string, ColumnColours> }) {
  const panel = configure(new table.PanelBuilder(), spec, 'table', { width: 12, height: 8 });
  for (const [column, colours] of Object.entries(spec.colouredColumns ?? {})) {
    const properties: dashboard.DynamicConfigValue[] = [{ id: 'custom.cellOptions', value: { type: 'color-background' } }];
    if (colours.mappings) properties.push({ id: 'mappings', value: colours.mappings });
    if (colours.thresholds) properties.push({ id: 'thresholds', value: { mode: dashboard.ThresholdsMode.Absolute, steps: colours.thresholds } }, { id: 'color', value: { mode: 'thresholds' } });
    panel.overrideByName(column, properties);
  }
  return panel;
}

export const single = (spec: PanelSpec) => configure(new stat.PanelBuilder(), spec, 'time_series', { width: 6, height: 4 });

/**
 * A stat showing the last value of one string column (a name, a version): a stat shows numbers
 * only unless its fields are chosen, and a table result names the field after the column.
 */
export const textStat = (spec: PanelSpec & { column: string }) =>
  configure(new stat.PanelBuilder(), spec, 'table', { width: 6, height: 4 })
    .reduceOptions(new common.ReduceDataOptionsBuilder().values(false).calcs(['lastNotNull']).fields(`/^${spec.column}$/`))
    .textMode(common.BigValueTextMode.Value)
    .colorMode(common.BigValueColorMode.None)
    .graphMode(common.BigValueGraphMode.None);

/**
 * A state timeline (one row per series). Polled devices answer every intervalS (60 s by
 * default), so buckets narrower than that are empty: gaps of up to 5 minutes are bridged, a
 * longer one (the device did not answer) stays visible as no data.
 */
export const timeline = (spec: PanelSpec) => configure(new statetimeline.PanelBuilder(), spec, 'time_series', { width: 24, height: 8 }).spanNulls(300_000).mergeValues(true);

export interface State {
  text: string;
  color: string;
}

/** Texts and colours for a 0/1 field. */
export function binaryStates(zero: State, one: State): dashboard.ValueMapping[] {
  return [{ type: dashboard.MappingType.ValueToText, options: { '0': { ...zero, index: 0 }, '1': { ...one, index: 1 } } }];
}
