import { DatabaseSync } from 'node:sqlite';
import { ensurePrivateFile } from '../../src/private-files.ts';
import type { Point } from '../model/point.ts';
import { migrateStore, type StoreSchema } from '../storage/schema-version.ts';
import { CHECK_STATUSES, type CheckHour, type CheckStatus } from './backups-section.ts';

// The report store (reports.path, SQLite, mode 600), two things the monthly report needs and no
// other store keeps:
//
// 1. The agents' backup file checks, summed per job and hour. `backup_file` points otherwise go
//    only to InfluxDB, which the collector writes and never reads (and VictoriaMetrics, the other
//    supported storage, does not answer InfluxQL). Hours, not months: the report's month is local
//    midnight to local midnight in the notification file's zone, which may be changed later. A
//    point no newer than the hour's last check is a duplicate (an MQTT redelivery) and is skipped.
//    Kept for `keepMonths`.
// 2. The monthly reports made and their mails: one row per month once it is generated (so a
//    month is made once, also across restarts), one per recipient with its delivery state.

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS backup_checks (site TEXT NOT NULL, device TEXT NOT NULL, job TEXT NOT NULL, hour INTEGER NOT NULL,
    checks INTEGER NOT NULL, ok INTEGER NOT NULL DEFAULT 0, missed INTEGER NOT NULL DEFAULT 0, too_small INTEGER NOT NULL DEFAULT 0,
    checksum_bad INTEGER NOT NULL DEFAULT 0, unreadable INTEGER NOT NULL DEFAULT 0, no_file INTEGER NOT NULL DEFAULT 0, other INTEGER NOT NULL DEFAULT 0,
    last_at INTEGER NOT NULL, last_status TEXT NOT NULL, last_detail TEXT, last_ok_at INTEGER,
    PRIMARY KEY (site, device, job, hour));
  CREATE INDEX IF NOT EXISTS backup_checks_hour ON backup_checks (hour);
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS monthly_reports (month TEXT PRIMARY KEY, generated_at INTEGER NOT NULL, dir TEXT NOT NULL, files TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS deliveries (id INTEGER PRIMARY KEY AUTOINCREMENT, month TEXT NOT NULL, recipient TEXT NOT NULL, address TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')), attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL, sent_at INTEGER, last_error TEXT, UNIQUE (month, address));
  CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (state, next_at);`;

export const REPORT_STORE_SCHEMA: StoreSchema = { name: 'report store', migrations: [SCHEMA] };

const HOUR = 3_600_000;
const MAX_TEXT = 256;

export type DeliveryState = 'pending' | 'sent' | 'failed';

export interface Delivery {
  id: number;
  month: string;
  /** As configured: a contact id or an address. */
  recipient: string;
  address: string;
  state: DeliveryState;
  attempts: number;
  nextAt: number;
  createdAt: number;
  sentAt: number | null;
  lastError: string | null;
}

export interface MonthlyReportRecord {
  /** "2026-10" */
  month: string;
  generatedAt: number;
  dir: string;
  files: string[];
}

type Row = Record<string, unknown>;
const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
const str = (v: unknown) => (v === null || v === undefined ? null : String(v));

/** The check a `backup_file` point reports, or null when it is another point or lacks what a check needs. */
export function checkOf(point: Point): { site: string; device: string; job: string; time: number; status: string; detail: string | null } | null {
  if (point.measurement !== 'backup_file') return null;
  const { site, device, instance } = point.tags;
  const status = point.fields.status;
  if (!site || !device || !instance || typeof status !== 'string' || status === '' || !Number.isFinite(point.time)) return null;
  const detail = typeof point.fields.detail === 'string' ? point.fields.detail.slice(0, MAX_TEXT) : null;
  return { site, device, job: instance, time: point.time, status: status.slice(0, 64), detail };
}

const statusColumn = (status: string): CheckStatus | 'other' => ((CHECK_STATUSES as readonly string[]).includes(status) ? (status as CheckStatus) : 'other');

export class ReportStore {
  private readonly db: DatabaseSync;
  private readonly upsert;

  private constructor(db: DatabaseSync) {
    this.db = db;
    // One statement per status column: the column name is never built from a point's text.
    this.upsert = new Map(
      [...CHECK_STATUSES, 'other' as const].map((column) => [
        column,
        db.prepare(
          `INSERT INTO backup_checks (site, device, job, hour, checks, ${column}, last_at, last_status, last_detail, last_ok_at)
           VALUES (?, ?, ?, ?, 1, 1, ?, ?, ?, ?)
           ON CONFLICT (site, device, job, hour) DO UPDATE SET checks = checks + 1, ${column} = ${column} + 1,
             last_at = excluded.last_at, last_status = excluded.last_status, last_detail = excluded.last_detail,
             last_ok_at = coalesce(max(last_ok_at, excluded.last_ok_at), last_ok_at, excluded.last_ok_at)
           WHERE excluded.last_at > backup_checks.last_at`,
        ),
      ]),
    );
  }

  static open(path: string): ReportStore {
    if (path !== ':memory:') ensurePrivateFile(path);
    const db = new DatabaseSync(path);
    try {
      db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;');
      migrateStore(db, REPORT_STORE_SCHEMA, path);
    } catch (error) {
      db.close();
      throw error;
    }
    return new ReportStore(db);
  }

  close(): void {
    this.db.close();
  }

  /** Adds the `backup_file` checks among `points`; returns how many were counted. */
  observe(points: readonly Point[]): number {
    let counted = 0;
    for (const point of points) {
      const check = checkOf(point);
      if (!check) continue;
      const hour = Math.floor(check.time / HOUR) * HOUR;
      const okAt = check.status === 'ok' ? check.time : null;
      counted += Number(this.upsert.get(statusColumn(check.status))!.run(check.site, check.device, check.job, hour, check.time, check.status, check.detail, okAt).changes);
    }
    return counted;
  }

  /** The hourly check summaries of [from, to). */
  checkHours(from: number, to: number): CheckHour[] {
    const rows = this.db.prepare('SELECT * FROM backup_checks WHERE hour >= ? AND hour < ? ORDER BY hour').all(Math.floor(from / HOUR) * HOUR, to) as Row[];
    return rows.map((r) => ({
      site: String(r.site),
      device: String(r.device),
      job: String(r.job),
      checks: Number(r.checks),
      byStatus: Object.fromEntries([...CHECK_STATUSES, 'other'].flatMap((s) => (Number(r[s]) > 0 ? [[s, Number(r[s])]] : []))),
      lastOk: num(r.last_ok_at),
      lastAt: Number(r.last_at),
      lastStatus: String(r.last_status),
      lastDetail: str(r.last_detail),
    }));
  }

  /** Drops check summaries older than `before`. */
  pruneChecks(before: number): number {
    return Number(this.db.prepare('DELETE FROM backup_checks WHERE hour < ?').run(before).changes);
  }

  /** The value stored under `key`, written with `initial` the first time it is asked for. */
  remember(key: string, initial: string): string {
    this.db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run(key, initial);
    return String((this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as Row).value);
  }

  report(month: string): MonthlyReportRecord | undefined {
    const row = this.db.prepare('SELECT * FROM monthly_reports WHERE month = ?').get(month) as Row | undefined;
    return row ? { month: String(row.month), generatedAt: Number(row.generated_at), dir: String(row.dir), files: JSON.parse(String(row.files)) as string[] } : undefined;
  }

  reports(): MonthlyReportRecord[] {
    return (this.db.prepare('SELECT month FROM monthly_reports ORDER BY month').all() as Row[]).map((r) => this.report(String(r.month))!);
  }

  /** Records the month as made, with one pending delivery per recipient, in one transaction. */
  recordReport(record: MonthlyReportRecord, recipients: readonly { recipient: string; address: string }[], now: number): void {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      this.db.prepare('INSERT INTO monthly_reports (month, generated_at, dir, files) VALUES (?, ?, ?, ?)').run(record.month, record.generatedAt, record.dir, JSON.stringify(record.files));
      const add = this.db.prepare("INSERT OR IGNORE INTO deliveries (month, recipient, address, state, next_at, created_at) VALUES (?, ?, ?, 'pending', ?, ?)");
      for (const r of recipients) add.run(record.month, r.recipient, r.address, now, now);
      this.db.exec('COMMIT');
    } catch (error) {
      this.db.exec('ROLLBACK');
      throw error;
    }
  }

  /** Pending deliveries due by `now`, oldest first. */
  dueDeliveries(now: number): Delivery[] {
    return (this.db.prepare("SELECT * FROM deliveries WHERE state = 'pending' AND next_at <= ? ORDER BY next_at, id").all(now) as Row[]).map(toDelivery);
  }

  deliveries(month?: string): Delivery[] {
    const rows = month === undefined ? this.db.prepare('SELECT * FROM deliveries ORDER BY id').all() : this.db.prepare('SELECT * FROM deliveries WHERE month = ? ORDER BY id').all(month);
    return (rows as Row[]).map(toDelivery);
  }

  markSent(id: number, now: number): void {
    this.db.prepare("UPDATE deliveries SET state = 'sent', attempts = attempts + 1, sent_at = ?, last_error = NULL WHERE id = ?").run(now, id);
  }

  /** A failed attempt: retried at `nextAt`, or failed for good when `nextAt` is null. */
  markFailed(id: number, error: string, nextAt: number | null): void {
    if (nextAt === null) this.db.prepare("UPDATE deliveries SET state = 'failed', attempts = attempts + 1, last_error = ? WHERE id = ?").run(error.slice(0, 500), id);
    else this.db.prepare('UPDATE deliveries SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE id = ?').run(nextAt, error.slice(0, 500), id);
  }
}

function toDelivery(r: Row): Delivery {
  return {
    id: Number(r.id),
    month: String(r.month),
    recipient: String(r.recipient),
    address: String(r.address),
    state: r.state as DeliveryState,
    attempts: Number(r.attempts),
    nextAt: Number(r.next_at),
    createdAt: Number(r.created_at),
    sentAt: num(r.sent_at),
    lastError: str(r.last_error),
  };
}
