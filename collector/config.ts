import { z } from 'zod';
import { loadConfig } from '../src/config/load.ts';
import { MAX_PAYLOAD_BYTES } from '../src/contract/schemas.ts';
import { durationSchema } from '../src/duration.ts';
import { id as jobIdSchema, scheduleSchema } from './backups/jobs.ts';
import { storageConfigSchema } from './storage/writers.ts';
import { reportsConfigSchema } from './reports/config.ts';

// Collector configuration: a YAML file plus COLLECTOR_* environment overrides
// (COLLECTOR_STORAGE__URL=http://influx:8086 sets storage.url). Defaults are the embedded
// local stack: aedes on 1883, InfluxDB 1.x on localhost, API on 8080.

const fileName = z.string().min(1);

const brokerSchema = z.discriminatedUnion('mode', [
  z.strictObject({
    mode: z.literal('embedded'),
    host: z.string().default('0.0.0.0'),
    port: z.number().int().min(0).max(65535).default(1883),
    tls: z
      .strictObject({
        port: z.number().int().min(0).max(65535).default(8883),
        keyFile: fileName,
        certFile: fileName,
        caFile: fileName.optional(),
        /** require: mutual TLS, a device needs a certificate from caFile whose CN is its `<site>/<device>`. */
        clientCerts: z.enum(['none', 'require']).default('none'),
      })
      .optional(),
  }),
  z.strictObject({
    mode: z.literal('external'),
    url: z.string().regex(/^mqtts?:\/\//, 'expected mqtt:// or mqtts:// URL'),
    clientId: z.string().min(1).default('belediye-collector'),
    shareGroup: z.string().regex(/^[A-Za-z0-9_-]+$/).default('collectors'),
    username: z.string().optional(),
    password: z.string().optional(),
    caFile: fileName.optional(),
    certFile: fileName.optional(),
    keyFile: fileName.optional(),
  }),
]);

/**
 * A section given only partly (e.g. COLLECTOR_BROKER__PORT=1884 alone) keeps the default variant:
 * a missing discriminator means the default one.
 */
function withDefaultVariant<S extends z.ZodType>(key: string, value: string, schema: S) {
  return z.preprocess((raw) => {
    if (raw === undefined) return { [key]: value };
    if (typeof raw === 'object' && raw !== null && !(key in raw)) return { [key]: value, ...raw };
    return raw;
  }, schema);
}

export const collectorConfigSchema = z.strictObject({
  /** Names this collector in self-metrics; several collectors can share one database. */
  instance: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/).default('collector'),
  broker: withDefaultVariant('mode', 'embedded', brokerSchema),
  storage: withDefaultVariant('type', 'influx-v1', storageConfigSchema),
  queue: z
    .strictObject({
      /** The durable spool between ingest and storage; ':memory:' trades durability for nothing on disk. */
      path: z.string().min(1).default('./data/spool.sqlite'),
      /** normal: survives a killed collector; full: also a power cut (an fsync per message). */
      sync: z.enum(['normal', 'full']).default('normal'),
      /** About 300 bytes a point on disk (measured by bench/drain.ts): the default needs ~3 GB, hours of a large municipality's data. */
      maxPoints: z.number().int().positive().default(10_000_000),
      batchSize: z.number().int().positive().default(5_000),
      flushIntervalMs: z.number().int().positive().default(1_000),
    })
    .prefault({}),
  limits: z
    .strictObject({
      maxPayloadBytes: z.number().int().positive().max(16 * 1024 * 1024).default(MAX_PAYLOAD_BYTES),
      /** Per connection: sustained PUBLISH rate and the burst above it (an agent draining its queue). */
      messagesPerSecond: z.number().positive().default(100),
      burstMessages: z.number().int().positive().default(1_000),
      maxConnections: z.number().int().positive().default(20_000),
    })
    .prefault({}),
  security: z
    .strictObject({
      /** Enrollment tokens, device credentials, API tokens, audit log. */
      path: z.string().min(1).default('./data/security.sqlite'),
      /** open: any MQTT client may publish for any device (a lab only). */
      deviceAuth: z.enum(['credentials', 'open']).default('credentials'),
      /** open: the HTTP API answers without a token (a lab only). */
      apiAuth: z.enum(['tokens', 'open']).default('tokens'),
    })
    .prefault({}),
  registry: z
    .strictObject({
      path: z.string().min(1).default('./data/registry.sqlite'),
      /** A device with no message for max(3 × its interval, this) is offline. */
      heartbeatTimeoutS: z.number().positive().default(60),
    })
    .prefault({}),
  api: z
    .strictObject({
      host: z.string().default('0.0.0.0'),
      port: z.number().int().min(0).max(65535).default(8080),
      /** HTTPS: agents send enrollment tokens and receive passwords through this API. */
      tls: z.strictObject({ keyFile: fileName, certFile: fileName }).optional(),
    })
    .prefault({}),
  selfMetricsIntervalS: z.number().positive().default(10),
  /** Language of texts users read: event messages, alert texts in InfluxDB; each contact has its own for notifications. */
  language: z.enum(['tr', 'en']).default('tr'),
  /** Alert rules evaluated on the incoming stream, alerts stored, notifications sent: docs/alerts.md. */
  alerts: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** The embedded alert store: episodes, history, acknowledgements, silences. */
      path: z.string().min(1).default('./data/alerts.sqlite'),
      /** Your rules on top of the shipped defaults (same id replaces a default). Reloaded on change. */
      rulesFile: fileName.optional(),
      /** People, teams, rotations, routes, channels (docs/alerts.md); none: alerts are recorded, nobody is notified. */
      notifyFile: fileName.optional(),
      /** The durable outbox of notifications. */
      outboxPath: z.string().min(1).default('./data/outbox.sqlite'),
    })
    .prefault({}),
  /** Backup jobs reporting through push heartbeats (/hb/<token>): docs/backups.md. */
  backups: z
    .strictObject({
      /** backups.yaml; none turns heartbeat verification off. Reloaded when it changes. */
      file: fileName.optional(),
      /** The heartbeat store: hashed tokens, runs, restore drills. */
      path: z.string().min(1).default('./data/backups.sqlite'),
    })
    .prefault({}),
  /**
   * The collector's own nightly state backup (izleme backup create, done by the collector): an
   * archive of its stores and configuration in `dir`, the newest `keep` kept, watched as backup
   * job `job` like any other (a missed or failed one raises the backup alerts): docs/deploy.md.
   */
  selfBackup: z
    .strictObject({
      dir: fileName,
      /** The site its alerts belong to (where the collector stands). */
      site: jobIdSchema,
      job: jobIdSchema.default('izleme-self-backup'),
      schedule: scheduleSchema.prefault({ cron: '30 2 * * *' }),
      grace: durationSchema.refine((ms) => ms >= 60_000 && ms <= 7 * 86_400_000, 'between "1m" and "7d"').prefault('2h'),
      keep: z.number().int().min(1).max(1_000).default(7),
    })
    .optional(),
  /** The report store, the institution's name, the automatic monthly report mailed on the 1st: docs/uptime.md. */
  reports: reportsConfigSchema,
  /** The outage log (start, end, cause of every outage) the monthly report is made from: docs/uptime.md. */
  uptime: z.strictObject({ path: z.string().min(1).default('./data/uptime.sqlite') }).prefault({}),
  /** Devices without an agent (UPS, switches, NVRs…), polled over SNMP or HTTP: docs/devices.md. */
  devices: z
    .strictObject({
      /** The device list (devices.yaml); none means no polled devices. Reloaded when it changes. */
      file: fileName.optional(),
      /** Credentials the device list names (communities, v3 users, HTTP logins); keep it mode 600. */
      secretsFile: fileName.optional(),
      /** Directories with the municipality's own profiles, on top of the shipped ones. */
      profilesDirs: z.array(fileName).default([]),
      /** Devices polled at the same time. */
      concurrency: z.number().int().min(1).max(1_024).default(64),
      defaultIntervalS: z.number().min(1).max(86_400).default(60),
      traps: z
        .strictObject({
          enabled: z.boolean().default(false),
          host: z.string().default('0.0.0.0'),
          /** 162 needs root or CAP_NET_BIND_SERVICE (the shipped systemd unit grants it). */
          port: z.number().int().min(0).max(65535).default(162),
          /** Names in the secrets file accepted on traps; all SNMP credentials there when not given. */
          credentials: z.array(z.string().min(1)).optional(),
        })
        .prefault({}),
    })
    .refine((d) => !d.traps.enabled || d.secretsFile !== undefined, { path: ['traps', 'enabled'], message: 'traps need devices.secretsFile: its communities and v3 users are the ones accepted' })
    .prefault({}),
});

export type CollectorConfig = z.infer<typeof collectorConfigSchema>;

export function loadCollectorConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): CollectorConfig {
  return loadConfig(collectorConfigSchema, { file, env, envPrefix: 'COLLECTOR_' });
}
