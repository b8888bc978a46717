import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { bundleModules, thirdPartyNotices } from './bundle.ts';
import { buildDeb, type PackageFile } from './deb.ts';
import { projectNode } from './node-runtime.ts';

// The collector's .deb: the collector and the `izleme` command bundled as ES modules, run by
// the project's own Node runtime installed beside them (Debian's nodejs is too old), the data
// files the code reads at run time, a hardened unit, the configuration template and the
// Grafana provisioning and dashboards.

export interface CollectorBuildContext {
  root: string;
  version: string;
  dist: string;
  log: (line: string) => void;
}

export const COLLECTOR_LIB = '/usr/lib/belediye-collector';
const SHARE = '/usr/share/belediye-collector';
const GRAFANA = '/usr/share/belediye-izleme/grafana';
const DOC = '/usr/share/doc/belediye-collector';

/** Same flag as the unit's ExecStart: node:sqlite's ExperimentalWarning on every command is noise. */
const IZLEME_WRAPPER = `#!/bin/sh
# izleme: administration on the collector host (docs/deploy.md). Reads the running collector's
# configuration, /etc/belediye-izleme/collector.yaml unless --config says otherwise.
exec ${COLLECTOR_LIB}/node --disable-warning=ExperimentalWarning ${COLLECTOR_LIB}/izleme.mjs "$@"
`;

/** Files the collector reads at run time, relative to collector/ (collector/assets.ts): shipped beside the bundle at the same relative paths. */
function assetFiles(root: string): PackageFile[] {
  const collector = join(root, 'collector');
  const profiles = readdirSync(join(collector, 'devices', 'profiles')).filter((name) => name.endsWith('.yaml'));
  return ['alerts/default-rules.yaml', 'api/openapi.yaml', ...profiles.map((name) => `devices/profiles/${name}`)].map((relative) => ({
    from: { path: join(collector, relative) },
    to: `${COLLECTOR_LIB}/${relative}`,
    mode: 0o644,
  }));
}

function grafanaFiles(root: string): PackageFile[] {
  const files: PackageFile[] = [
    { from: { path: join(root, 'deploy', 'collector', 'grafana', 'datasource.yaml') }, to: `${GRAFANA}/provisioning/datasources/belediye-izleme.yaml`, mode: 0o644 },
    { from: { path: join(root, 'deploy', 'collector', 'grafana', 'dashboards.yaml') }, to: `${GRAFANA}/provisioning/dashboards/belediye-izleme.yaml`, mode: 0o644 },
  ];
  for (const language of ['tr', 'en']) {
    const dir = join(root, 'dashboard-config', 'dashboards', language);
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
      files.push({ from: { path: join(dir, name) }, to: `${GRAFANA}/dashboards/${language}/${name}`, mode: 0o644 });
    }
  }
  return files;
}

export async function buildCollectorDeb(ctx: CollectorBuildContext): Promise<{ deb: string }> {
  const work = join(ctx.dist, 'build', 'collector');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const node = projectNode(ctx.root);

  ctx.log('bundling the collector and izleme');
  const bundle = await bundleModules({
    entries: { collector: join(ctx.root, 'collector', 'main.ts'), izleme: join(ctx.root, 'collector', 'izleme.ts') },
    outdir: join(work, 'lib'),
    nodeTarget: `node${node.version.split('.')[0]}`,
    define: { COLLECTOR_BUILD_VERSION: JSON.stringify(ctx.version) },
  });
  const notices = join(work, 'THIRD-PARTY-NOTICES');
  // The runtime's own licence (MIT, with those of the libraries compiled into it) is not in the npm package.
  writeFileSync(notices, `${thirdPartyNotices(bundle.metafile, ctx.root, 'belediye-collector')}\n${'-'.repeat(72)}\n\nNode.js ${node.version} (${COLLECTOR_LIB}/node) — MIT and others: https://github.com/nodejs/node/blob/v${node.version}/LICENSE\n`);

  const deploy = join(ctx.root, 'deploy');
  const files: PackageFile[] = [
    { from: { path: node.binary }, to: `${COLLECTOR_LIB}/node`, mode: 0o755 },
    ...bundle.files.map((file) => ({ from: { path: file }, to: `${COLLECTOR_LIB}/${basename(file)}`, mode: 0o644 })),
    ...assetFiles(ctx.root),
    { from: { text: IZLEME_WRAPPER }, to: '/usr/bin/izleme', mode: 0o755 },
    { from: { path: join(deploy, 'systemd', 'belediye-collector.service') }, to: '/lib/systemd/system/belediye-collector.service', mode: 0o644 },
    { from: { path: join(deploy, 'collector', 'collector.yaml') }, to: `${SHARE}/collector.yaml`, mode: 0o644 },
    ...grafanaFiles(ctx.root),
    { from: { path: join(ctx.root, 'docs', 'deploy.md') }, to: `${DOC}/deploy.md`, mode: 0o644 },
    { from: { path: join(deploy, 'collector.example.yaml') }, to: `${DOC}/collector.example.yaml`, mode: 0o644 },
    { from: { path: join(deploy, 'devices.example.yaml') }, to: `${DOC}/devices.example.yaml`, mode: 0o644 },
    { from: { path: join(deploy, 'device-secrets.example.yaml') }, to: `${DOC}/device-secrets.example.yaml`, mode: 0o644 },
    { from: { path: notices }, to: `${DOC}/THIRD-PARTY-NOTICES`, mode: 0o644 },
  ];
  const script = (name: string) => readFileSync(join(deploy, 'collector', 'debian', name), 'utf8');
  const deb = join(ctx.dist, `belediye-collector_${ctx.version}_amd64.deb`);
  ctx.log(`building ${deb} (Node ${node.version})`);
  buildDeb(
    {
      name: 'belediye-collector',
      version: ctx.version,
      architecture: 'amd64',
      maintainer: 'Belediye Izleme <izleme@belediye.local>',
      section: 'net',
      summary: 'Belediye izleme collector: MQTT broker, ingest, InfluxDB writer, API',
      description:
        "Receives agents' health and inventory over MQTT, polls devices without an agent over\nSNMP and HTTP, evaluates alerts and writes time series to InfluxDB. Runs on its own\nNode.js runtime; administered with the izleme command. Grafana provisioning and\ndashboards are in /usr/share/belediye-izleme/grafana.",
      depends: ['adduser'],
      // Both are needed by a typical install but neither is needed to start: InfluxDB may run on
      // another host (storage.url), and fping only for ICMP uptime probes.
      recommends: ['influxdb', 'fping'],
      files,
      scripts: { postinst: script('postinst'), prerm: script('prerm'), postrm: script('postrm') },
    },
    deb,
  );
  return { deb };
}
