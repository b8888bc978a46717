import type { Lang } from './i18n.ts';
import { hostDetail } from './host-detail.ts';
import { nocOverview } from './noc-overview.ts';

// Every dashboard the project provisions; the build and the tests derive their lists from here.
export const DASHBOARDS = { 'noc-overview': nocOverview, 'host-detail': hostDetail } as const;

export function buildDashboards(lang: Lang): { uid: string; json: unknown }[] {
  return Object.entries(DASHBOARDS).map(([uid, build]) => ({ uid, json: build(lang).build() }));
}

export function renderDashboardFile(json: unknown): string {
  return `${JSON.stringify(json, null, 2)}\n`;
}
