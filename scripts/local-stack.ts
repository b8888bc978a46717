import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { normaliseId } from '../src/contract/topics.ts';

// `npm start`: a working local stack on this machine — InfluxDB (reused when one already
// answers on :8086, else started here with its data under .local-stack/), the collector with
// its embedded MQTT broker, and an agent for this host. Ctrl-C stops what it started.
// Security stays on, as in production: the agent enrolls with a one-use token made by the admin
// CLI, and the API answers to the admin token kept in .local-stack/api-token.

const root = resolve(import.meta.dirname, '..');
const stateDir = process.env.LOCAL_STACK_DIR ?? join(root, '.local-stack');
const influxUrl = process.env.INFLUX_URL ?? 'http://127.0.0.1:8086';
const mqttPort = Number(process.env.MQTT_PORT ?? 1883);
const apiPort = Number(process.env.API_PORT ?? 8080);
const site = process.env.SITE ?? 'yerel';
const device = normaliseId(hostname()) || 'bu-makine';
const children: ChildProcess[] = [];

function start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const logFile = join(stateDir, `${name}.log`);
  const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = createWriteStream(logFile, { flags: 'a' });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  child.once('exit', (code, signal) => {
    if (!shuttingDown) {
      console.error(`${name} exited (${signal ?? code}); see ${logFile}`);
      void shutdown(1);
    }
  });
  children.push(child);
  return child;
}

async function pingInflux(): Promise<boolean> {
  try {
    return (await fetch(`${influxUrl}/ping`, { signal: AbortSignal.timeout(1000) })).status === 204;
  } catch {
    return false;
  }
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${what} did not happen within ${timeoutMs / 1000} s (logs in ${stateDir})`);
}

async function hostSeenInInflux(): Promise<boolean> {
  const q = `SELECT count("usage_pct") FROM "cpu" WHERE "device" = '${device}' AND time > now() - 5m`;
  const response = await fetch(`${influxUrl}/query?db=monitoring&q=${encodeURIComponent(q)}`).catch(() => null);
  if (!response?.ok) return false;
  const body = (await response.json()) as { results?: { series?: unknown[] }[] };
  return (body.results?.[0]?.series?.length ?? 0) > 0;
}

let shuttingDown = false;
async function shutdown(code: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  // Agent first (publishes its clean offline state), then the collector (flushes), then InfluxDB.
  for (const child of children.toReversed()) {
    if (child.exitCode !== null) continue;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  process.exit(code);
}
process.once('SIGINT', () => void shutdown(0));
process.once('SIGTERM', () => void shutdown(0));

/** Runs the admin CLI (izleme admin) on the stack collector's configuration and returns its JSON answer. */
function admin(configFile: string, ...args: string[]): { token: string } {
  return JSON.parse(execFileSync(process.execPath, ['collector/izleme.ts', 'admin', '--config', configFile, ...args], { cwd: root, encoding: 'utf8' })) as { token: string };
}

/** The admin API token of this stack, made once and kept owner-only. */
function apiToken(configFile: string): string {
  const file = join(stateDir, 'api-token');
  if (!existsSync(file)) writeFileSync(file, admin(configFile, 'api-token', 'create', '--name', 'local-stack', '--role', 'admin').token, { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

/** Ready: broker, stores and spool are open, so the admin CLI finds the stores it must not create. */
async function collectorReady(): Promise<boolean> {
  return (await fetch(`http://127.0.0.1:${apiPort}/readyz`, { signal: AbortSignal.timeout(1000) }).catch(() => null))?.ok ?? false;
}

async function main(): Promise<void> {
  mkdirSync(stateDir, { recursive: true });
  const startedAt = Date.now();
  if (await pingInflux()) {
    console.log(`InfluxDB already answers at ${influxUrl}; using it.`);
  } else {
    const port = new URL(influxUrl).port || '8086';
    const config = join(stateDir, 'influxdb.conf');
    writeFileSync(
      config,
      `reporting-disabled = true\nbind-address = "127.0.0.1:8088"\n[meta]\n  dir = "${stateDir}/influx/meta"\n[data]\n  dir = "${stateDir}/influx/data"\n  wal-dir = "${stateDir}/influx/wal"\n  query-log-enabled = false\n[http]\n  bind-address = "127.0.0.1:${port}"\n  log-enabled = false\n[monitor]\n  store-enabled = false\n`,
    );
    start('influxdb', 'influxd', ['-config', config]);
    await waitUntil('InfluxDB start', pingInflux, 30_000);
  }

  const node = process.execPath;
  // One configuration file for the collector and the admin CLI, as on a real collector host.
  const collectorConfig = join(stateDir, 'collector.yaml');
  writeFileSync(
    collectorConfig,
    JSON.stringify(
      {
        storage: { type: 'influx-v1', url: influxUrl },
        broker: { mode: 'embedded', port: mqttPort },
        api: { host: '127.0.0.1', port: apiPort },
        registry: { path: join(stateDir, 'registry.sqlite') },
        queue: { path: join(stateDir, 'spool.sqlite') },
        security: { path: join(stateDir, 'security.sqlite') },
        alerts: { path: join(stateDir, 'alerts.sqlite'), outboxPath: join(stateDir, 'outbox.sqlite') },
        uptime: { path: join(stateDir, 'uptime.sqlite') },
        reports: { path: join(stateDir, 'reports.sqlite') },
        backups: { path: join(stateDir, 'backups.sqlite') },
      },
      null,
      2,
    ),
  );
  start('collector', node, ['collector/main.ts', '--config', collectorConfig]);
  await waitUntil('collector ready', collectorReady, 30_000);
  const token = apiToken(collectorConfig);
  const agentDir = join(stateDir, 'agent');
  // Enrolled once; later starts use the credentials the agent saved.
  const enrollment = existsSync(join(agentDir, 'credentials.json')) ? {} : { AGENT_ENROLLMENT__TOKEN: admin(collectorConfig, 'enrollment-token', 'create', '--site', site, '--uses', '1', '--hours', '1').token };
  start('agent', node, ['agent/main.ts'], {
    AGENT_SITE: site,
    AGENT_DEVICE: device,
    AGENT_MQTT__URL: `mqtt://127.0.0.1:${mqttPort}`,
    AGENT_STATE_DIR: agentDir,
    AGENT_ENROLLMENT__URL: `http://127.0.0.1:${apiPort}`,
    ...enrollment,
  });

  await waitUntil(`this host (${site}/${device}) showing up in InfluxDB`, hostSeenInInflux, 30_000);
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  console.log(`
Local stack is running; this host appeared in InfluxDB after ${seconds} s.
  InfluxDB (InfluxQL)   ${influxUrl}  database "monitoring"
      e.g. curl -G '${influxUrl}/query' --data-urlencode db=monitoring --data-urlencode "q=SELECT last(usage_pct) FROM cpu GROUP BY device"
  MQTT broker           mqtt://127.0.0.1:${mqttPort}  (topics muni/v1/<site>/<device>/<channel>; devices need credentials: docs/security.md)
  Collector API         http://127.0.0.1:${apiPort}/api/v1/devices   metrics: /metrics   OpenAPI: /api/openapi.yaml
      admin API token in ${join(stateDir, 'api-token')}, e.g. curl -H "Authorization: Bearer $(cat ${join(stateDir, 'api-token')})" http://127.0.0.1:${apiPort}/api/v1/devices
  This host             site "${site}", device "${device}"
  Administration        npm run izleme -- devices --config ${collectorConfig}   (also admin, alerts, report)
  Grafana               provision dashboard-config/ (docs/dashboards.md) against ${influxUrl}
  Logs                  ${stateDir}/*.log
Ctrl-C stops the stack.`);
}

main().catch((error: unknown) => {
  console.error(`local stack failed: ${(error as Error).message}`);
  void shutdown(1);
});
