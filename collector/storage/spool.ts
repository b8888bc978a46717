import { existsSync, renameSync } from 'node:fs';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { ensurePrivateFile } from '../../src/private-files.ts';
import type { Point } from '../model/point.ts';
import { migrateStore, StoreVersionError, type StoreSchema } from './schema-version.ts';

// The durable spool between ingest and storage (Node's built-in SQLite, WAL). One row per
// accepted message, appended synchronously before the message is acknowledged, deleted only
// after storage took it. With synchronous=NORMAL a committed row survives a killed process
// (it is in the WAL, written to the OS); `sync: 'full'` also survives a power cut, at a cost.
// ':memory:' gives the same queue without durability (tests, and operators who choose it).

export interface SpoolOptions {
  sync: 'normal' | 'full';
}

export interface SpoolBatch {
  /** Rows up to and including this id make up the batch. */
  lastId: number;
  points: Point[];
  /** Rows whose content could not be read back (damaged on disk): skipped, counted by the caller. */
  unreadable: number;
}

/** Version 1 is release 1's schema (its files have no schema_version table). */
export const SPOOL_SCHEMA: StoreSchema = {
  name: 'spool',
  migrations: ['CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT, count INTEGER NOT NULL, body TEXT NOT NULL)'],
};

export class SpoolOpenError extends Error {
  override name = 'SpoolOpenError';
}

export class Spool {
  readonly path: string;
  readonly durable: boolean;
  private readonly db: DatabaseSync;
  private readonly insert: StatementSync;
  private readonly selectAfter: StatementSync;
  private readonly deleteUpTo: StatementSync;
  private readonly totalsUpTo: StatementSync;
  private points: number;
  private bytes: number;

  private constructor(path: string, db: DatabaseSync) {
    this.path = path;
    this.durable = path !== ':memory:';
    this.db = db;
    this.insert = db.prepare('INSERT INTO spool (count, body) VALUES (?, ?)');
    this.selectAfter = db.prepare('SELECT id, count, body FROM spool WHERE id > ? ORDER BY id');
    this.deleteUpTo = db.prepare('DELETE FROM spool WHERE id <= ?');
    this.totalsUpTo = db.prepare('SELECT COALESCE(SUM(count), 0) AS points, COALESCE(SUM(length(body)), 0) AS bytes FROM spool WHERE id <= ?');
    const totals = this.totalsUpTo.get(Number.MAX_SAFE_INTEGER) as { points: number; bytes: number };
    this.points = Number(totals.points);
    this.bytes = Number(totals.bytes);
  }

  /**
   * Opens (or creates) the spool. A file SQLite cannot read is moved aside as
   * `<path>.damaged-<time>` (kept for recovery, never deleted) and a new spool is started,
   * so a damaged disk file does not keep the collector down; `onDamaged` says so.
   */
  static open(path: string, options: SpoolOptions, onDamaged: (movedTo: string, error: Error) => void = () => {}): Spool {
    try {
      return new Spool(path, Spool.connect(path, options));
    } catch (error) {
      // A newer collector's spool is not damaged: moving it aside would lose its points to this version.
      if (error instanceof StoreVersionError) throw error;
      if (path === ':memory:' || !existsSync(path)) throw new SpoolOpenError(`cannot open the spool ${path}: ${(error as Error).message}`, { cause: error });
      const movedTo = `${path}.damaged-${Date.now()}`;
      renameSync(path, movedTo);
      for (const suffix of ['-wal', '-shm']) if (existsSync(path + suffix)) renameSync(path + suffix, movedTo + suffix);
      onDamaged(movedTo, error as Error);
      return new Spool(path, Spool.connect(path, options));
    }
  }

  private static connect(path: string, options: SpoolOptions): DatabaseSync {
    // Owner-only: the spool holds device data (inventory events, host names).
    if (path !== ':memory:') ensurePrivateFile(path);
    const db = new DatabaseSync(path);
    try {
      db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${options.sync === 'full' ? 'FULL' : 'NORMAL'}; PRAGMA busy_timeout = 5000;`);
      // A header that looks fine can still hide damaged pages: check before trusting the rows.
      const check = db.prepare('PRAGMA quick_check').get() as Record<string, unknown> | undefined;
      if (check && Object.values(check)[0] !== 'ok') throw new Error(`integrity check: ${String(Object.values(check)[0])}`);
      migrateStore(db, SPOOL_SCHEMA, path);
      return db;
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** Points held, including a batch being written. */
  get depth(): number {
    return this.points;
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  /** Appends one message's points; durable (per `sync`) when it returns. Throws on a disk error. */
  append(points: readonly Point[]): void {
    const body = JSON.stringify(points);
    this.insert.run(points.length, body);
    this.points += points.length;
    this.bytes += body.length;
  }

  /** The oldest rows after `afterId`, whole rows only, until about `maxPoints` points. */
  readBatch(afterId: number, maxPoints: number): SpoolBatch | undefined {
    const batch: SpoolBatch = { lastId: afterId, points: [], unreadable: 0 };
    // Stepping through the rows stops reading at the first one that does not fit: a drain reads
    // each row once, not a whole page of rows per batch.
    for (const row of this.selectAfter.iterate(afterId) as Iterable<{ id: number; count: number; body: string }>) {
      if (batch.points.length > 0 && batch.points.length + row.count > maxPoints) break;
      batch.lastId = Number(row.id);
      const parsed = parseBody(row.body);
      if (parsed) batch.points.push(...parsed);
      else batch.unreadable += row.count;
    }
    return batch.lastId === afterId ? undefined : batch;
  }

  /** Deletes every row up to `lastId` (written, quarantined or given up). */
  remove(lastId: number): void {
    const gone = this.totalsUpTo.get(lastId) as { points: number; bytes: number };
    this.deleteUpTo.run(lastId);
    this.points -= Number(gone.points);
    this.bytes -= Number(gone.bytes);
  }

  close(): void {
    this.db.close();
  }
}

function parseBody(body: string): Point[] | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    return Array.isArray(parsed) ? (parsed as Point[]) : undefined;
  } catch {
    return undefined;
  }
}
