import { backups } from './backups.ts';
import type { Lang } from './i18n.ts';
import { hostDetail } from './host-detail.ts';
import { network } from './network.ts';
import { nocOverview } from './noc-overview.ts';
import { nvr } from './nvr.ts';
import { ups } from './ups.ts';
import { uptime } from './uptime.ts';

// Every dashboard the project provisions; the build and the tests derive their lists from here.
export const DASHBOARDS = { 'noc-overview': nocOverview, 'host-detail': hostDetail, ups, network, nvr, uptime, backups } as const;

export function buildDashboards(lang: Lang): { uid: string; json: unknown }[] {
  return Object.entries(DASHBOARDS).map(([uid, build]) => ({ uid, json: build(lang).build() }));
}

export function renderDashboardFile(json: unknown): string {
  return `${JSON.stringify(json, null, 2)}\n`;
}
