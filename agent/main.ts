import { uptime } from 'node:os';
import { parseArgs } from 'node:util';
import si from 'systeminformation';
import { ConfigError } from '../src/config/load.ts';
import { CONTRACT_VERSION, type EventMessage, type Metric, type MetricsMessage, type StateMessage } from '../src/contract/schemas.ts';
import { createLogger } from '../src/log.ts';
import { createCollector } from './collect.ts';
import { loadAgentConfig, type AgentConfig } from './config.ts';
import { EnrollmentRefused, ensureCredentials, rotateCredentials, rotationDue, type DeviceCredentials } from './enroll.ts';
import { collectInventory, inventoryMessage } from './inventory/collect.ts';
import { startPublisher } from './publish.ts';
import { openQueue } from './queue/open-queue.ts';
import { backupSource } from './sources/backup.ts';
import { configureWindowsServices, registerSource, sourcesFor } from './sources/index.ts';
import { bootTimeMs } from './sources/system.ts';
import { runCommand } from './setup/commands.ts';
import { rebootEvent, loadState, saveState, type AgentState } from './state.ts';
import { AGENT_VERSION as VERSION } from './version.ts';

// CLI: belediye-agent (node agent/main.ts) [--config agent.yaml] [--once], or an installer command
// (agent/setup/commands.ts): configure, windows-service-setup, purge-state.
// --once prints one metrics message and the inventory as JSON and exits (for a technician).

const FAST_TIMEOUT_MS = 5_000;
const SLOW_TIMEOUT_MS = 120_000;
const log = createLogger({ name: 'agent' });
const collector = createCollector(log);
let seq = 0;

function metricsMessage(metrics: Metric[]): MetricsMessage {
  return { v: CONTRACT_VERSION, ts: Date.now(), seq: seq++, metrics };
}

async function inventoryFor(config: AgentConfig) {
  const inventory = await collectInventory();
  if (config.collectUserName) inventory.users = [...new Set((await si.users()).map((u) => u.user.slice(0, 64)))].slice(0, 32);
  return inventoryMessage(inventory, Date.now());
}

async function once(config: AgentConfig): Promise<void> {
  // Counter-based values (CPU usage, rates) need two readings; a second apart gives a real sample.
  await collector.collect(sourcesFor('fast'), FAST_TIMEOUT_MS);
  await new Promise((r) => setTimeout(r, 1000));
  const metrics = [...(await collector.collect(sourcesFor('fast'), FAST_TIMEOUT_MS)), ...(await collector.collect(sourcesFor('slow'), SLOW_TIMEOUT_MS))];
  process.stdout.write(`${JSON.stringify({ site: config.site, device: config.device, metrics: metricsMessage(metrics), inventory: await inventoryFor(config) }, null, 2)}\n`);
}

/** The state file only helps (reboot events, fewer inventory messages): if it cannot be written, say so once and go on. */
function stateKeeper(dir: string) {
  let warned = false;
  return (state: AgentState) => {
    try {
      saveState(dir, state);
    } catch (error) {
      if (!warned) log.log('error', 'cannot write the state file; reboot detection and inventory change tracking will not survive a restart', { stateDir: dir, error });
      warned = true;
    }
  };
}

function every(seconds: number, task: () => Promise<void>, firstAfterMs = 0): NodeJS.Timeout {
  let running = false;
  const tick = () => {
    if (running) return; // a slow collection is skipped, never stacked
    running = true;
    task()
      .catch((error: unknown) => log.log('error', 'task failed', { error }))
      .finally(() => (running = false));
  };
  setTimeout(tick, firstAfterMs);
  return setInterval(tick, seconds * 1000);
}

/** Rotates the device password when it is older than the configured period; checked daily. */
function rotateWhenDue(config: AgentConfig, initial: DeviceCredentials, apply: (fresh: DeviceCredentials) => void): NodeJS.Timeout {
  let current = initial;
  return every(86_400, async () => {
    if (!rotationDue(current, config.enrollment!.rotateAfterDays, Date.now())) return;
    current = await rotateCredentials(config, current, log);
    apply(current);
  }, 60_000);
}

async function run(given: AgentConfig): Promise<void> {
  let credentials: DeviceCredentials | undefined;
  try {
    credentials = await ensureCredentials(given, log);
  } catch (error) {
    // A refused enrollment is the installer's to fix (new token, revoke first): say why and stop.
    if (!(error instanceof EnrollmentRefused)) throw error;
    process.stderr.write(`enrollment failed: ${error.message}\n`);
    process.exit(2);
  }
  const config: AgentConfig = credentials ? { ...given, mqtt: { ...given.mqtt, username: credentials.username, password: credentials.password, clientId: credentials.clientId } } : given;
  const state = loadState(config.stateDir);
  const save = stateKeeper(config.stateDir);
  const bootTime = bootTimeMs(Date.now(), uptime());
  const birth = (): StateMessage => ({ v: 1, ts: Date.now(), state: 'online', kind: config.kind, intervalS: config.intervalS, bootTime, agent: { name: 'belediye-agent', version: VERSION } });
  const queue = openQueue(config.stateDir, config.queue.maxMessages, log);
  const publisher = startPublisher(config, birth, queue, log);

  const reboot: EventMessage | undefined = rebootEvent(state.bootTimeMs, bootTime, Date.now());
  if (reboot) publisher.send('event', reboot, { priority: 'event' });
  state.bootTimeMs = bootTime;
  save(state);

  const timers = [
    ...(credentials ? [rotateWhenDue(config, credentials, (fresh) => publisher.setCredentials(fresh.username, fresh.password))] : []),
    every(config.intervalS, async () => {
      const metrics = await collector.collect(sourcesFor('fast'), Math.min(FAST_TIMEOUT_MS, config.intervalS * 1000));
      if (metrics.length > 0) publisher.send('metrics', metricsMessage(metrics));
    }),
    every(config.hardwareIntervalS, async () => {
      const metrics = await collector.collect(sourcesFor('slow'), SLOW_TIMEOUT_MS);
      if (metrics.length > 0) publisher.send('metrics', metricsMessage(metrics));
    }, 2_000),
    every(config.inventoryIntervalS, async () => {
      const message = await inventoryFor(config);
      if (message.hash === state.inventoryHash) return;
      publisher.send('inventory', message, { retain: true, priority: 'event' });
      state.inventoryHash = message.hash;
      save(state);
    }, 3_000),
  ];

  const shutdown = (signal: string) => {
    log.log('info', 'stopping', { signal });
    for (const timer of timers) clearInterval(timer);
    publisher
      .stop()
      .then(() => queue.close())
      .finally(() => process.exit(0));
    // The publisher's stop is bounded (agent/publish.ts); this is the last resort that keeps a
    // service stop under 5 s whatever hangs. The queue commits each message, so nothing is lost.
    setTimeout(() => process.exit(0), 4_500).unref();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  log.log('info', 'agent started', { site: config.site, device: config.device, kind: config.kind, intervalS: config.intervalS, version: VERSION });
}

function main(): void {
  const [command, ...rest] = process.argv.slice(2);
  if (command !== undefined && !command.startsWith('-')) process.exit(runCommand(command, rest));
  let values: { config?: string | undefined; once?: boolean | undefined };
  let config: AgentConfig;
  try {
    ({ values } = parseArgs({ options: { config: { type: 'string', short: 'c' }, once: { type: 'boolean' } } }));
    config = loadAgentConfig(values.config);
  } catch (error) {
    // A wrong option or configuration is the operator's to fix: one clear line, no stack trace.
    const usage = (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? '\nusage: belediye-agent [--config agent.yaml] [--once] | belediye-agent configure --help' : '';
    if (error instanceof ConfigError || usage) {
      process.stderr.write(`${(error as Error).message}${usage}\n`);
      process.exit(2);
    }
    throw error;
  }
  configureWindowsServices(config.windows.services);
  if (config.backups.length > 0) registerSource(backupSource(config.backups));
  if (values.once) {
    once(config).then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`collection failed: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
    return;
  }
  run(config).catch((error: unknown) => {
    log.log('error', 'agent failed to start', { error });
    process.exit(1);
  });
}

main();
