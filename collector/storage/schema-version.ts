import type { DatabaseSync } from 'node:sqlite';

// Every collector store records its schema version in a `schema_version` table, so a newer
// collector can bring an older file up to date (its migrations) and an older collector can
// refuse a file a newer one wrote instead of writing rows it does not understand into it.
// Release 1 files of most stores have no such table: their tables were made with
// CREATE TABLE IF NOT EXISTS, so migration 1 (that same schema) is a no-op on them and only
// records version 1.

export interface StoreSchema {
  /** What the store is, for messages: "security store". */
  name: string;
  /** migrations[0] makes version 1, migrations[i] takes version i to i + 1. */
  migrations: readonly string[];
}

/** A store file this code must not open: written by a newer collector. */
export class StoreVersionError extends Error {
  override name = 'StoreVersionError';
}

export const latestVersion = (schema: StoreSchema) => schema.migrations.length;

/** The file's schema version; 0 when it has no schema_version table (a release 1 file, or a new one). */
export function schemaVersion(db: DatabaseSync): number {
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").get();
  if (!table) return 0;
  return Number((db.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number | null }).v ?? 0);
}

/** The refusal of a newer file, or undefined: pure, shared by opening a store and restoring a backup. */
export function newerRefusal(schema: StoreSchema, version: number, path: string): string | undefined {
  if (version <= latestVersion(schema)) return undefined;
  return (
    `${path}: this ${schema.name} has schema version ${version}, written by a newer collector; this collector knows versions up to ${latestVersion(schema)}. ` +
    'Refusing to open it so it is not damaged: run the newer collector (or a later release of this one), or restore a backup made by this version.'
  );
}

/** Throws StoreVersionError for a file written by a newer collector; nothing is written to it first. */
export function assertNotNewer(db: DatabaseSync, schema: StoreSchema, path: string): number {
  const version = schemaVersion(db);
  const refusal = newerRefusal(schema, version, path);
  if (refusal) throw new StoreVersionError(refusal);
  return version;
}

/**
 * Brings the file to the latest version. Another process (izleme while the collector runs) may
 * open the same file at the same moment: the version is read again inside one write
 * transaction, so each migration runs once.
 */
export function migrateStore(db: DatabaseSync, schema: StoreSchema, path: string): void {
  if (assertNotNewer(db, schema, path) === latestVersion(schema)) return;
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    const current = assertNotNewer(db, schema, path);
    for (let v = current + 1; v <= latestVersion(schema); v++) {
      db.exec(schema.migrations[v - 1]!);
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(v);
    }
    db.exec('COMMIT');
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
}
