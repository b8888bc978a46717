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

export function graph(spec: PanelSpec): timeseries.PanelBuilder {
  const panel = new timeseries.PanelBuilder()
    .title(spec.title)
    .datasource(INFLUX_DATASOURCE)
    .withTarget(influxql(spec.query))
    .unit(spec.unit ?? 'short')
    .span(spec.width ?? 12)
    .height(spec.height ?? 8);
  return spec.description ? panel.description(spec.description) : panel;
}

export function grid(spec: PanelSpec): table.PanelBuilder {
  const panel = new table.PanelBuilder()
    .title(spec.title)
    .datasource(INFLUX_DATASOURCE)
    .withTarget(influxql(spec.query, { format: 'table' }))
    .unit(spec.unit ?? 'short')
    .span(spec.width ?? 12)
    .height(spec.height ?? 8);
  return spec.description ? panel.description(spec.description) : panel;
}

export function single(spec: PanelSpec): stat.PanelBuilder {
  const panel = new stat.PanelBuilder()
    .title(spec.title)
    .datasource(INFLUX_DATASOURCE)
    .withTarget(influxql(spec.query))
    .unit(spec.unit ?? 'short')
    .span(spec.width ?? 6)
    .height(spec.height ?? 4);
  return spec.description ? panel.description(spec.description) : panel;
}
