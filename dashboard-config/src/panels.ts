import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type * as common from '@grafana/grafana-foundation-sdk/common';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
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
}

function configure<B extends CommonPanel<B>>(panel: B, spec: PanelSpec, format: 'time_series' | 'table', size: { width: number; height: number }): B {
  panel
    .title(spec.title)
    .datasource(INFLUX_DATASOURCE)
    .withTarget(influxql(spec.query, { format }))
    .unit(spec.unit ?? 'short')
    .span(spec.width ?? size.width)
    .height(spec.height ?? size.height);
  return spec.description ? panel.description(spec.description) : panel;
}

export const graph = (spec: PanelSpec) => configure(new timeseries.PanelBuilder(), spec, 'time_series', { width: 12, height: 8 });
export const grid = (spec: PanelSpec) => configure(new table.PanelBuilder(), spec, 'table', { width: 12, height: 8 });
export const single = (spec: PanelSpec) => configure(new stat.PanelBuilder(), spec, 'time_series', { width: 6, height: 4 });
