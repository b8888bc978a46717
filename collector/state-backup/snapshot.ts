import { chmodSync, existsSync } from 'node:fs';
import { backup, DatabaseSync } from 'node:sqlite';
import { ensurePrivateFile } from '../../src/private-files.ts';
import { schemaVersion } from '../storage/schema-version.ts';

// SQLite copies, always through SQLite's online backup API: a file copy of a store the
// collector is writing (WAL) can be torn or miss committed rows still in the -wal file.

/**
 * All pages in one step: the backup API restarts a step-wise copy whenever another connection
 * writes the source, which under steady ingest (the spool takes every message) could go on for
 * ever. One step reads one consistent snapshot; in WAL mode the collector keeps writing.
 */
const ALL_PAGES = 2_147_483_647;

function openExisting(path: string): DatabaseSync {
  // Never create a file here: a missing store is the caller's decision.
  if (!existsSync(path)) throw new Error(`no SQLite file at ${path}`);
  const db = new DatabaseSync(path);
  db.exec('PRAGMA busy_timeout = 5000');
  return db;
}

/** A consistent copy of the store at `source`, written to `target` (owner-only). */
export async function copyStore(source: string, target: string): Promise<void> {
  const db = openExisting(source);
  try {
    ensurePrivateFile(target);
    await backup(db, target, { rate: ALL_PAGES });
    chmodSync(target, 0o600);
  } finally {
    db.close();
  }
}

export interface StoreStats {
  schemaVersion: number;
  rows: Record<string, number>;
}

const userTables = (db: DatabaseSync) =>
  (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((r) => r.name);

/** Schema version and rows per table (the manifest's figures, and what restore checks). */
export function storeStats(path: string): StoreStats {
  const db = openExisting(path);
  try {
    const rows: Record<string, number> = {};
    for (const table of userTables(db)) rows[table] = Number((db.prepare(`SELECT count(*) AS n FROM "${table.replaceAll('"', '""')}"`).get() as { n: number }).n);
    return { schemaVersion: schemaVersion(db), rows };
  } finally {
    db.close();
  }
}

/** A store holds data when any table but the bookkeeping ones has a row; an empty or zero-length file holds none. */
export function storeHasData(path: string): boolean {
  if (!existsSync(path)) return false;
  const { rows } = storeStats(path);
  return Object.entries(rows).some(([table, n]) => table !== 'schema_version' && n > 0);
}

/**
 * True when another process has the store open (a running collector, an izleme command).
 * A WAL database can be locked exclusively only by its one connection: every open connection
 * of another process holds a shared lock, even when idle.
 */
export function storeInUse(path: string): boolean {
  if (!existsSync(path)) return false;
  const db = new DatabaseSync(path);
  try {
    db.exec('PRAGMA locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('COMMIT');
    return false;
  } catch (error) {
    if ((error as { errcode?: number }).errcode === 5 || /locked|busy/i.test((error as Error).message)) return true;
    throw error;
  } finally {
    db.close();
  }
}
