// Reads the InfluxQL queries out of generated dashboard JSON and renders them the way Grafana
// would, so tests can run every panel against a real InfluxDB.

export interface PanelQuery {
  dashboard: string;
  panel: string;
  query: string;
}

interface PanelJson {
  title?: string;
  targets?: { query?: string }[];
  panels?: PanelJson[];
}

export function extractPanelQueries(dashboard: { title?: string; panels?: PanelJson[]; templating?: { list?: { name?: string; query?: unknown }[] } }): PanelQuery[] {
  const out: PanelQuery[] = [];
  const walk = (panels: PanelJson[] = []) => {
    for (const panel of panels) {
      for (const target of panel.targets ?? []) if (target.query) out.push({ dashboard: dashboard.title ?? '?', panel: panel.title ?? '?', query: target.query });
      walk(panel.panels);
    }
  };
  walk(dashboard.panels);
  for (const variable of dashboard.templating?.list ?? []) {
    if (typeof variable.query === 'string') out.push({ dashboard: dashboard.title ?? '?', panel: `variable $${variable.name}`, query: variable.query });
  }
  return out;
}

export interface QueryVariables {
  site: string;
  host: string;
  timeFilter: string;
  interval: string;
}

export function renderQuery(query: string, vars: QueryVariables): string {
  return query
    .replaceAll('$timeFilter', vars.timeFilter)
    .replaceAll('$__interval', vars.interval)
    .replaceAll('$site', vars.site)
    .replaceAll('$host', vars.host);
}
