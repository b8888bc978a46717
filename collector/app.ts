import { mkdirSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { userInfo } from 'node:os';
import { dirname } from 'node:path';
import { REJECT_REASONS } from '../src/contract/decode.ts';
import { rateLimited, type Logger } from '../src/log.ts';
import { createApiApp } from './api/app.ts';
import { startEmbeddedBroker } from './broker/embedded.ts';
import { connectExternalBroker } from './broker/external.ts';
import type { CollectorConfig } from './config.ts';
import { startAlertService, type AlertService } from './alerts/alert-service.ts';
import { startBackupService, type BackupService } from './backups/backup-service.ts';
import { startNotificationService, type NotificationService } from './alerts/notification-service.ts';
import { startDeviceService, type DeviceService } from './devices/device-service.ts';
import { startOffsiteService } from './backups/offsite-service.ts';
import { createIngest, createMessageSink, transitionToPoint, type PointSink, type StateTransition } from './ingest/ingest.ts';
import { Readiness } from './lifecycle/readiness.ts';
import { runStopSteps, stopBoundMs, type StopStep } from './lifecycle/stop-steps.ts';
import { DeviceRegistry } from './registry/device-registry.ts';
import { startReportService } from './reports/report-service.ts';
import { configChanges, flattenConfig } from './security/config-audit.ts';
import { deviceUsername } from './security/policy.ts';
import { SecurityStore } from './security/store.ts';
import { SelfMetrics } from './self-metrics.ts';
import { selfBackupJob, startSelfBackup, type SelfBackup } from './state-backup/self-backup.ts';
import { Spool } from './storage/spool.ts';
import { startOutageService } from './uptime/outage-service.ts';
import { SiteStateTracker } from './uptime/site-state.ts';
import { WriteQueue } from './storage/write-queue.ts';
import { createWriter } from './storage/writers.ts';

// Assembles a running collector from its parts; main.ts is only the CLI around this.

export interface RunningCollector {
  /** Ports actually bound (configured port 0 picks a free one). */
  mqttPort: number;
  apiPort: number;
  registry: DeviceRegistry;
  security: SecurityStore;
  devices: DeviceService | undefined;
  alerts: AlertService | undefined;
  queue: WriteQueue;
  metrics: SelfMetrics;
  /** The longest stop() can take: every step of it is bounded. */
  stopBoundMs: number;
  /** /readyz turns 503, then the API, the producers, the queue (what storage takes now) and the stores close, in that order. */
  stop(): Promise<void>;
}

/** Records what changed in the configuration since the collector last started (secrets redacted). */
function auditConfiguration(security: SecurityStore, config: CollectorConfig): void {
  const current = flattenConfig(config);
  const previous = security.lastAuditDetail('collector.config')?.config as Record<string, string> | undefined;
  const changes = previous ? configChanges(previous, current) : ['first start'];
  if (changes.length > 0) security.audit(`host:${userInfo().username}`, 'collector.config', 'collector', { changes, config: current });
}

export interface StartOptions {
  /** The configuration file the collector was started with: its own nightly backup archives it too. */
  configFile?: string | undefined;
}

export async function startCollector(config: CollectorConfig, log: Logger, options: StartOptions = {}): Promise<RunningCollector> {
  if (config.registry.path !== ':memory:') mkdirSync(dirname(config.registry.path), { recursive: true });
  const registry = DeviceRegistry.open(config.registry.path, { heartbeatTimeoutS: config.registry.heartbeatTimeoutS });
  const metrics = new SelfMetrics();
  const security = SecurityStore.open(config.security.path);
  auditConfiguration(security, config);
  const spoolLog = rateLimited(log, { burst: 5, windowMs: 60_000 });
  const warnLog = rateLimited(log, { burst: 20, windowMs: 60_000 });
  const rateLimitedWarn = (message: string, fields: Record<string, unknown>) => warnLog.log('warn', message, fields);

  // The v1 writer creates a missing database on its first write when allowed.
  const writer = createWriter(config.storage);

  const messagesIn = metrics.counter('collector_messages_in_total', 'Device messages accepted, by channel', ['channel']);
  const rejected = metrics.counter('collector_messages_rejected_total', 'Device messages refused, by reason', ['reason']);
  for (const reason of REJECT_REASONS) rejected.inc({ reason }, 0);
  const transitions = metrics.counter('collector_device_transitions_total', 'Online/offline transitions', ['state']);
  const brokerRefused = metrics.counter('collector_mqtt_refused_total', 'MQTT clients, packets and subscriptions refused or throttled, by reason', ['reason']);
  if (config.security.deviceAuth === 'open') log.log('warn', 'device authentication is off (security.deviceAuth: open): any client can publish for any device');
  if (config.security.apiAuth === 'open') log.log('warn', 'API authentication is off (security.apiAuth: open): anyone who reaches the API is an administrator');

  const spool = Spool.open(config.queue.path, config.queue, (movedTo, error) =>
    log.log('error', 'spool file was damaged; moved aside and started a new one', { movedTo, error: error.message }),
  );
  if (spool.depth > 0) log.log('info', 'replaying points left in the spool', { points: spool.depth, path: config.queue.path });
  const queue = new WriteQueue({
    writer,
    spool,
    maxPoints: config.queue.maxPoints,
    batchSize: config.queue.batchSize,
    flushIntervalMs: config.queue.flushIntervalMs,
    // Capped at 5 s: one request every few seconds costs a down InfluxDB nothing, and a recovered
    // one is written to within seconds instead of after a 30 s wait (bench/drain.ts measured it).
    retry: { initialMs: 500, maxMs: 5_000 },
    onWritten: (_count, latencyMs) => metrics.observeWriteLatency(latencyMs),
    onRetry: (error, attempt) => log.log('warn', 'write failed, retrying', { error: error.message, attempt }),
    onQuarantine: (points, error) => log.log('error', 'batch refused by storage and quarantined', { points: points.length, error }),
    onSpoolError: (error) => spoolLog.log('error', 'spool append failed; points dropped', { error: error.message }),
    onFullChange: (full) =>
      full
        ? log.log('error', 'spool full: new points are refused and counted until storage catches up', { maxPoints: config.queue.maxPoints })
        : log.log('info', 'spool has room again'),
  });
  metrics.bindQueue(() => queue.stats());

  // Every accepted point passes the rule engine on its way to the queue.
  const alerts: AlertService | undefined = config.alerts.enabled ? startAlertService(config, queue, metrics, log) : undefined;
  const alertSink = alerts?.sink ?? queue;
  // Points also feed two derived views, whose own points go through the rules as well.
  const offsite = startOffsiteService(alertSink, { onRefused: (message) => rateLimitedWarn('off-site backup report refused', { message }) });
  const siteStates = new SiteStateTracker(alertSink, { seed: registry.list() });
  // The report store sums the agents' backup checks; with reports.monthly it makes and mails the monthly report.
  const reports = startReportService(config, { log });
  const sink: PointSink = { enqueue: (points) => (offsite.observe(points), siteStates.observe(points), reports.observe(points), alertSink.enqueue(points)) };
  const notifications: NotificationService | undefined = alerts ? startNotificationService(config, alerts, metrics, log) : undefined;
  const ownJobs = config.selfBackup ? [selfBackupJob(config.selfBackup)] : [];
  const backups: BackupService | undefined =
    config.backups.file || ownJobs.length > 0 ? startBackupService({ file: config.backups.file, path: config.backups.path, ownJobs }, sink, metrics, rateLimited(log, { burst: 20, windowMs: 60_000 })) : undefined;
  const outages = startOutageService(config.uptime.path, { alerts: alerts?.store, dependencies: () => notifications?.dependencies ?? [], sink, metrics, log });
  const onTransition = (change: StateTransition) => {
    transitions.inc({ state: change.online ? 'online' : 'offline' });
    outages.onTransition(change);
  };
  const ingestLog = rateLimited(log, { burst: 20, windowMs: 60_000 });
  const ingestOptions = {
    registry,
    sink,
    log: ingestLog,
    maxPayloadBytes: config.limits.maxPayloadBytes,
    observer: {
      accepted: (channel: string) => messagesIn.inc({ channel }),
      rejected: (reason: string) => rejected.inc({ reason }),
      transition: onTransition,
    },
  };
  const accept = createMessageSink(ingestOptions);
  const handler = createIngest(ingestOptions, accept);
  // The API listens before the producers start: /healthz answers at once, /readyz says
  // "starting" until the broker is up (an external broker may take a while to reach).
  const readiness = new Readiness();
  let disconnect: (username: string) => void = () => {};
  const api = createApiApp({ registry, metrics, security, alerts: alerts?.store, backups, ackTokens: notifications?.notifier, apiAuth: config.security.apiAuth, phase: () => readiness.phase, onDeviceRevoked: (address) => disconnect(deviceUsername(address)) });
  const server = await listen(api, config.api);
  const address = server.address();
  const apiPort = typeof address === 'object' && address ? address.port : config.api.port;

  let devices: DeviceService | undefined;
  let selfBackup: SelfBackup | undefined;
  let broker: { close(): Promise<void> } | undefined;
  let mqttPort: number | undefined;
  const timers: NodeJS.Timeout[] = [];

  // API first (nobody is sent here any more), then everything that produces points or
  // notifications, then what the points go to, then the stores. Each step is bounded (8 s in
  // all), so a stop with InfluxDB down or hung ends: the spool already holds every point.
  const stopSteps: StopStep[] = [
    { name: 'api', boundMs: 1_000, run: () => closeServer(server, 500) },
    { name: 'timers', boundMs: 100, run: () => timers.forEach(clearInterval) },
    { name: 'devices', boundMs: 1_500, run: () => devices?.close() },
    { name: 'broker', boundMs: 1_000, run: () => broker?.close() },
    // The monthly report's mail is aborted with them: it stays pending for the next start.
    { name: 'notifications', boundMs: 1_000, run: () => Promise.all([notifications?.close(), reports.close()]) },
    // The nightly self-backup first: it reports to the backup service.
    { name: 'backups', boundMs: 100, run: () => (selfBackup?.close(), backups?.close()) },
    { name: 'offsite', boundMs: 100, run: () => offsite.close() },
    { name: 'site-state', boundMs: 100, run: () => siteStates.close() },
    { name: 'alerts', boundMs: 100, run: () => alerts?.close() },
    { name: 'outages', boundMs: 100, run: () => outages.close() },
    { name: 'self-metrics', boundMs: 100, run: () => void queue.enqueue(metrics.toPoints(Date.now(), config.instance)) },
    // Writes what it can; at the first failure (or after 2 s) the rest stays in the spool for the next start.
    { name: 'queue', boundMs: 2_500, run: () => queue.close(2_000) },
    { name: 'spool', boundMs: 100, run: () => spool.close() },
    { name: 'writer', boundMs: 500, run: () => writer.close() },
    { name: 'registry', boundMs: 100, run: () => registry.close() },
    { name: 'security', boundMs: 100, run: () => security.close() },
  ];
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      readiness.stopping();
      const outcomes = await runStopSteps(stopSteps, (step) => {
        if (step.result !== 'done') log.log('warn', step.result === 'overran' ? 'stop step overran its bound; going on' : 'stop step failed; going on', { ...step });
      });
      log.log('info', 'collector stopped', { ...queue.stats(), stepsMs: Object.fromEntries(outcomes.map((o) => [o.name, o.ms])) });
    })());

  try {
    devices = await startDeviceService(config, accept, metrics, rateLimited(log, { burst: 50, windowMs: 60_000 }));
    if (config.broker.mode === 'embedded') {
      const embedded = await startEmbeddedBroker({
        ...config.broker,
        handler,
        log: ingestLog,
        verifyDevice: config.security.deviceAuth === 'credentials' ? (username, password) => security.verifyDevice(username, password) : undefined,
        limits: {
          // The topic and MQTT headers come on top of the payload.
          maxPacketBytes: config.limits.maxPayloadBytes + 1024,
          messagesPerSecond: config.limits.messagesPerSecond,
          burst: config.limits.burstMessages,
          maxConnections: config.limits.maxConnections,
        },
        onRefused: (reason) => brokerRefused.inc({ reason }),
      });
      mqttPort = embedded.port;
      broker = embedded;
      disconnect = (username) => {
        if (embedded.disconnect(username)) log.log('info', 'revoked device disconnected', { device: username });
      };
    } else {
      broker = await connectExternalBroker({ ...config.broker, handler, log });
    }
  } catch (error) {
    // What did open is closed (bounded), so the caller can report the error and exit.
    await stop();
    throw error;
  }

  timers.push(
    setInterval(() => {
      const changes = registry.sweep(Date.now());
      for (const change of changes) onTransition(change);
      if (changes.length > 0) sink.enqueue(changes.map(transitionToPoint));
    }, 1_000),
  );
  // Revocations made with the admin CLI (another process) reach the broker within a second.
  let revocationsCheckedAt = Date.now();
  timers.push(
    setInterval(() => {
      const now = Date.now();
      for (const username of security.revokedSince(revocationsCheckedAt - 1_000)) disconnect(username);
      revocationsCheckedAt = now;
    }, 1_000),
  );
  timers.push(setInterval(() => queue.enqueue(metrics.toPoints(Date.now(), config.instance)), config.selfMetricsIntervalS * 1000));

  // After the stores are open and ingest runs: a first archive of a new install is taken at once.
  if (config.selfBackup && backups) selfBackup = startSelfBackup(config.selfBackup, config, options.configFile, backups, log);

  readiness.ready();
  log.log('info', 'collector started', {
    broker: config.broker.mode,
    mqttPort,
    storage: { type: config.storage.type, url: config.storage.url },
    apiPort,
  });

  return {
    mqttPort: mqttPort ?? 0,
    apiPort,
    registry,
    security,
    devices,
    alerts,
    queue,
    metrics,
    stopBoundMs: stopBoundMs(stopSteps),
    stop,
  };
}

function listen(app: RequestListener, options: CollectorConfig['api']): Promise<Server> {
  return new Promise((resolve, reject) => {
    const tls = options.tls;
    const server: Server = tls ? createHttpsServer({ key: readFileSync(tls.keyFile), cert: readFileSync(tls.certFile) }, app) : createHttpServer(app);
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** Stops accepting, lets requests in progress finish for `graceMs`, then cuts what is left (keep-alive clients). */
function closeServer(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const cut = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
  });
}
