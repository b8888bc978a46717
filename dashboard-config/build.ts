import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LANGUAGES } from './src/i18n.ts';
import { buildDashboards, renderDashboardFile } from './src/index.ts';

// `npm run dashboards`: regenerates dashboard-config/dashboards/<lang>/<uid>.json.
// The JSON is generated, checked in, and never edited by hand (a test compares it with the builders).

for (const lang of LANGUAGES) {
  const dir = join(import.meta.dirname, 'dashboards', lang);
  mkdirSync(dir, { recursive: true });
  for (const { uid, json } of buildDashboards(lang)) writeFileSync(join(dir, `${uid}.json`), renderDashboardFile(json));
}
