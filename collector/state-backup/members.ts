import { ALERT_SCHEMA } from '../alerts/alert-store.ts';
import { OUTBOX_SCHEMA } from '../alerts/outbox.ts';
import { HEARTBEAT_SCHEMA } from '../backups/heartbeat-store.ts';
import type { CollectorConfig } from '../config.ts';
import { REGISTRY_SCHEMA } from '../registry/device-registry.ts';
import { REPORT_STORE_SCHEMA } from '../reports/report-store.ts';
import { SECURITY_SCHEMA } from '../security/store.ts';
import type { StoreSchema } from '../storage/schema-version.ts';
import { SPOOL_SCHEMA } from '../storage/spool.ts';
import { OUTAGE_SCHEMA } from '../uptime/outage-log.ts';
import { REPORT_COPIES_KEY } from './manifest.ts';

// What a state backup holds, decided from the collector's configuration alone (pure): every
// store it names and every file it reads. Each is known by its configuration key, so a restore
// puts it where the configuration on the new host names that key, whatever the old paths were.

export interface StoreEntry {
  /** Short name, also the archive member stores/<name>.sqlite. */
  name: string;
  /** Configuration key, e.g. security.path. */
  key: string;
  path: string;
  schema: StoreSchema;
}

export interface FileEntry {
  /** Configuration key, e.g. devices.secretsFile; "config" is the collector's configuration file itself. */
  key: string;
  path: string;
}

/** A directory of files (devices.profilesDirs[i]): its files are backed up, not its subdirectories. */
export interface DirEntry {
  key: string;
  path: string;
}

/**
 * The monthly reports as made and mailed (reports.monthly.dir/<month>/): the files and mail.json
 * of the newest `keep` months, at most REPORT_COPIES_MAX_BYTES. They are a record of what was
 * sent, and cannot be made again from the stores: the report reads the registry, the
 * notification file's maintenance and the alert store as they are *now*, the heartbeat store
 * keeps only the latest runs of a job, and the report store's checks only keep + 1 months.
 */
export interface ReportCopiesEntry {
  key: typeof REPORT_COPIES_KEY;
  path: string;
  keep: number;
}

/** The newest months' report copies go in until this many bytes (a month is a few hundred KiB). */
export const REPORT_COPIES_MAX_BYTES = 64 * 1024 * 1024;

export interface BackupPlan {
  stores: StoreEntry[];
  files: FileEntry[];
  dirs: DirEntry[];
  /** Only with reports.monthly in the configuration. */
  reportCopies: ReportCopiesEntry | undefined;
  /** Stores kept in memory: nothing to back up. */
  inMemory: string[];
}

const STORES = (c: CollectorConfig): StoreEntry[] => [
  { name: 'security', key: 'security.path', path: c.security.path, schema: SECURITY_SCHEMA },
  { name: 'registry', key: 'registry.path', path: c.registry.path, schema: REGISTRY_SCHEMA },
  { name: 'alerts', key: 'alerts.path', path: c.alerts.path, schema: ALERT_SCHEMA },
  { name: 'outbox', key: 'alerts.outboxPath', path: c.alerts.outboxPath, schema: OUTBOX_SCHEMA },
  { name: 'uptime', key: 'uptime.path', path: c.uptime.path, schema: OUTAGE_SCHEMA },
  { name: 'backups', key: 'backups.path', path: c.backups.path, schema: HEARTBEAT_SCHEMA },
  { name: 'reports', key: 'reports.path', path: c.reports.path, schema: REPORT_STORE_SCHEMA },
  { name: 'spool', key: 'queue.path', path: c.queue.path, schema: SPOOL_SCHEMA },
];

/** The value of a file key in a configuration (undefined when that configuration does not name it). */
export function fileAt(config: CollectorConfig, key: string): string | undefined {
  const broker = config.broker;
  const values: Record<string, string | undefined> = {
    'alerts.rulesFile': config.alerts.rulesFile,
    'alerts.notifyFile': config.alerts.notifyFile,
    'backups.file': config.backups.file,
    'devices.file': config.devices.file,
    'devices.secretsFile': config.devices.secretsFile,
    'api.tls.keyFile': config.api.tls?.keyFile,
    'api.tls.certFile': config.api.tls?.certFile,
    'broker.tls.keyFile': broker.mode === 'embedded' ? broker.tls?.keyFile : broker.keyFile,
    'broker.tls.certFile': broker.mode === 'embedded' ? broker.tls?.certFile : broker.certFile,
    'broker.tls.caFile': broker.mode === 'embedded' ? broker.tls?.caFile : broker.caFile,
    [REPORT_COPIES_KEY]: config.reports.monthly?.dir,
  };
  const dir = /^devices\.profilesDirs\[(\d+)\]$/.exec(key);
  if (dir) return config.devices.profilesDirs[Number(dir[1])];
  return values[key];
}

const FILE_KEYS = ['alerts.rulesFile', 'alerts.notifyFile', 'backups.file', 'devices.file', 'devices.secretsFile', 'api.tls.keyFile', 'api.tls.certFile', 'broker.tls.keyFile', 'broker.tls.certFile', 'broker.tls.caFile'];

/** Where a store goes in a configuration, by its key. */
export function storeAt(config: CollectorConfig, key: string): string | undefined {
  return STORES(config).find((s) => s.key === key)?.path;
}

/** The schema this code knows for a store named in a manifest. */
export function schemaOf(name: string): StoreSchema | undefined {
  return SCHEMAS[name];
}

const SCHEMAS: Record<string, StoreSchema> = {
  security: SECURITY_SCHEMA,
  registry: REGISTRY_SCHEMA,
  alerts: ALERT_SCHEMA,
  outbox: OUTBOX_SCHEMA,
  uptime: OUTAGE_SCHEMA,
  backups: HEARTBEAT_SCHEMA,
  reports: REPORT_STORE_SCHEMA,
  spool: SPOOL_SCHEMA,
};

/** devices.profilesDirs[i]: a directory whose files are archived one by one. */
export const isDirKey = (key: string) => /^devices\.profilesDirs\[\d+\]$/.test(key);

export function planBackup(config: CollectorConfig, configFile: string | undefined): BackupPlan {
  const stores = STORES(config);
  const files: FileEntry[] = configFile === undefined ? [] : [{ key: 'config', path: configFile }];
  for (const key of FILE_KEYS) {
    const path = fileAt(config, key);
    // The same file under two keys (one PEM for key and certificate) is archived once per key: restore needs both.
    if (path !== undefined) files.push({ key, path });
  }
  return {
    stores: stores.filter((s) => s.path !== ':memory:'),
    files,
    dirs: config.devices.profilesDirs.map((path, i) => ({ key: `devices.profilesDirs[${i}]`, path })),
    // Also with monthly.enabled false: the months made before stay on disk and in the store.
    reportCopies: config.reports.monthly ? { key: REPORT_COPIES_KEY, path: config.reports.monthly.dir, keep: config.reports.monthly.keep } : undefined,
    inMemory: stores.filter((s) => s.path === ':memory:').map((s) => s.key),
  };
}
