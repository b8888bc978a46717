import { randomBytes } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { ensurePrivateFile } from '../../src/private-files.ts';
import { hashSecret, newTokenId } from '../security/secrets.ts';
import { migrateStore, type StoreSchema } from '../storage/schema-version.ts';
import type { BackupRun, DrillResult, RestoreDrill, RunStatus } from './evaluate.ts';

// Backup jobs' reports, in their own SQLite file (mode 600): the per-job heartbeat tokens (only
// their SHA-256 hashes; the token is shown once), the runs the heartbeats report, and the
// restore drills. A token is the whole secret of a heartbeat URL, so it is 192 random bits and
// found by its hash: the lookup never compares the secret itself.

export interface HeartbeatToken {
  id: string;
  job: string;
  createdAt: number;
  createdBy: string;
  revokedAt: number | null;
}

export interface RunDetails {
  sizeBytes?: number | undefined;
  durationS?: number | undefined;
  message?: string | undefined;
}

export const TOKEN_PATTERN = /^bk_[A-Za-z0-9_-]{32}$/;
/** A start older than this is abandoned: a later end report is a run of its own. */
const MAX_RUN_MS = 7 * 86_400_000;
/** Runs kept per job (a flood is limited to 60 a minute; a daily job needs a handful). */
const RUNS_KEPT = 2_000;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS tokens (id TEXT PRIMARY KEY, job TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL, created_by TEXT NOT NULL, revoked_at INTEGER);
  CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY AUTOINCREMENT, job TEXT NOT NULL, started_at INTEGER, ended_at INTEGER,
    status TEXT NOT NULL CHECK (status IN ('started', 'success', 'failure')), size_bytes INTEGER, duration_s REAL,
    message TEXT CHECK (length(message) <= 500), source_ip TEXT);
  CREATE INDEX IF NOT EXISTS runs_job ON runs (job, id);
  CREATE TABLE IF NOT EXISTS drills (id INTEGER PRIMARY KEY AUTOINCREMENT, job TEXT NOT NULL, at INTEGER NOT NULL,
    result TEXT NOT NULL CHECK (result IN ('passed', 'failed')), notes TEXT NOT NULL, actor TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS drills_job ON drills (job, at);
  CREATE TABLE IF NOT EXISTS jobs (job TEXT PRIMARY KEY, first_seen INTEGER NOT NULL);`;

/** Version 1 is release 1's schema (its files have no schema_version table). */
export const HEARTBEAT_SCHEMA: StoreSchema = { name: 'heartbeat store', migrations: [SCHEMA] };

type Row = Record<string, unknown>;
const orNull = (value: unknown) => (value === null || value === undefined ? null : Number(value));

function toRun(row: Row): BackupRun {
  return { startedAt: orNull(row.started_at), endedAt: orNull(row.ended_at), status: row.status as RunStatus, sizeBytes: orNull(row.size_bytes), durationS: orNull(row.duration_s), message: row.message === null ? null : String(row.message) };
}

export class HeartbeatStore {
  private readonly db: DatabaseSync;

  private constructor(db: DatabaseSync) {
    this.db = db;
  }

  static open(path: string): HeartbeatStore {
    if (path !== ':memory:') ensurePrivateFile(path);
    const db = new DatabaseSync(path);
    try {
      db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;');
      migrateStore(db, HEARTBEAT_SCHEMA, path);
    } catch (error) {
      db.close();
      throw error;
    }
    return new HeartbeatStore(db);
  }

  close(): void {
    this.db.close();
  }

  /** A new token for the job: returned this once, only its hash is kept. */
  createToken(job: string, actor: string, now = Date.now()): { id: string; token: string } {
    const id = newTokenId();
    const token = `bk_${randomBytes(24).toString('base64url')}`;
    this.db.prepare('INSERT INTO tokens (id, job, hash, created_at, created_by) VALUES (?, ?, ?, ?, ?)').run(id, job, hashSecret(token), now, actor);
    return { id, token };
  }

  revokeToken(job: string, id: string, now = Date.now()): boolean {
    return this.db.prepare('UPDATE tokens SET revoked_at = ? WHERE id = ? AND job = ? AND revoked_at IS NULL').run(now, id, job).changes > 0;
  }

  tokens(job: string): HeartbeatToken[] {
    const rows = this.db.prepare('SELECT id, job, created_at, created_by, revoked_at FROM tokens WHERE job = ? ORDER BY created_at').all(job) as Row[];
    return rows.map((r) => ({ id: String(r.id), job: String(r.job), createdAt: Number(r.created_at), createdBy: String(r.created_by), revokedAt: orNull(r.revoked_at) }));
  }

  /** The job an active token belongs to. */
  tokenJob(token: string): { job: string; tokenId: string } | undefined {
    if (!TOKEN_PATTERN.test(token)) return undefined;
    const row = this.db.prepare('SELECT id, job FROM tokens WHERE hash = ? AND revoked_at IS NULL').get(hashSecret(token)) as Row | undefined;
    return row ? { job: String(row.job), tokenId: String(row.id) } : undefined;
  }

  start(job: string, at: number, sourceIp: string): void {
    this.db.prepare("INSERT INTO runs (job, started_at, status, source_ip) VALUES (?, ?, 'started', ?)").run(job, at, sourceIp);
    this.prune(job);
  }

  /** Ends the job's open run (its latest, if started within a week) or records a run of its own. */
  finish(job: string, status: Exclude<RunStatus, 'started'>, at: number, details: RunDetails, sourceIp: string): void {
    const open = this.db.prepare('SELECT id, status, started_at FROM runs WHERE job = ? ORDER BY id DESC LIMIT 1').get(job) as Row | undefined;
    const size = details.sizeBytes ?? null;
    const message = details.message ?? null;
    if (open && open.status === 'started' && at - Number(open.started_at) <= MAX_RUN_MS) {
      const duration = details.durationS ?? Math.max(0, (at - Number(open.started_at)) / 1_000);
      this.db.prepare('UPDATE runs SET ended_at = ?, status = ?, size_bytes = ?, duration_s = ?, message = ?, source_ip = ? WHERE id = ?').run(at, status, size, duration, message, sourceIp, Number(open.id));
      return;
    }
    const startedAt = details.durationS === undefined ? null : at - Math.round(details.durationS * 1_000);
    this.db.prepare('INSERT INTO runs (job, started_at, ended_at, status, size_bytes, duration_s, message, source_ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(job, startedAt, at, status, size, details.durationS ?? null, message, sourceIp);
    this.prune(job);
  }

  /** What evaluation needs: the latest runs and the last success, however old. */
  runs(job: string, limit = 20): BackupRun[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM (SELECT * FROM runs WHERE job = ? ORDER BY id DESC LIMIT ?)
         UNION SELECT * FROM (SELECT * FROM runs WHERE job = ? AND status = 'success' ORDER BY ended_at DESC LIMIT 1) ORDER BY id`,
      )
      .all(job, limit, job) as Row[];
    return rows.map(toRun);
  }

  addDrill(job: string, drill: RestoreDrill): void {
    this.db.prepare('INSERT INTO drills (job, at, result, notes, actor) VALUES (?, ?, ?, ?, ?)').run(job, drill.at, drill.result, drill.notes, drill.actor);
  }

  /** The latest drills and the last passed one, however old. */
  drills(job: string, limit = 20): RestoreDrill[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM (SELECT * FROM drills WHERE job = ? ORDER BY at DESC LIMIT ?)
         UNION SELECT * FROM (SELECT * FROM drills WHERE job = ? AND result = 'passed' ORDER BY at DESC LIMIT 1) ORDER BY at`,
      )
      .all(job, limit, job) as Row[];
    return rows.map((r) => ({ at: Number(r.at), result: r.result as DrillResult, notes: String(r.notes), actor: String(r.actor) }));
  }

  /** When the job was first configured: a job that never reported is due one period after it. */
  knownSince(job: string, now = Date.now()): number {
    this.db.prepare('INSERT OR IGNORE INTO jobs (job, first_seen) VALUES (?, ?)').run(job, now);
    return Number((this.db.prepare('SELECT first_seen FROM jobs WHERE job = ?').get(job) as Row).first_seen);
  }

  private prune(job: string): void {
    // The last success stays, however many failures came after it: the job is due from it.
    this.db
      .prepare(
        `DELETE FROM runs WHERE job = ? AND id <= (SELECT id FROM runs WHERE job = ? ORDER BY id DESC LIMIT 1 OFFSET ?)
         AND id IS NOT (SELECT id FROM runs WHERE job = ? AND status = 'success' ORDER BY ended_at DESC LIMIT 1)`,
      )
      .run(job, job, RUNS_KEPT, job);
  }
}
