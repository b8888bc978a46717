import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { z } from 'zod';
import { formatPath } from '../../src/contract/schemas.ts';
import { ID_PATTERN } from '../../src/contract/topics.ts';
import { ensurePrivateFile } from '../../src/private-files.ts';
import { assertNotNewer, migrateStore, type StoreSchema } from '../storage/schema-version.ts';
import type { StateTransition } from '../ingest/ingest.ts';
import type { Point } from '../model/point.ts';

// The outage log in the embedded store (Node's SQLite): one row per outage of a target (a
// device, a probed service, an internet line), opened by its offline transition and closed by the
// next online one, with the cause worked out later (outageCause). The availability figures and
// the monthly report are computed from it; InfluxDB gets each outage as a point for Grafana.
// Every target that ever changed state is also listed, so a target never down still has its
// 100 % in the report.

export const OUTAGE_CAUSES = ['power', 'link', 'device'] as const;
export type OutageCause = (typeof OUTAGE_CAUSES)[number];

export interface Outage {
  id: number;
  site: string;
  device: string;
  kind: string;
  /** Epoch milliseconds. */
  start: number;
  /** null while the target is still down. */
  end: number | null;
  /** The registry's offline reason (timeout, refused, heartbeat, a last will…). */
  reason: string;
  /** null until classified (outageCause, then cause()). */
  cause: OutageCause | null;
}

export interface OutageTarget {
  site: string;
  device: string;
  kind: string;
}

/** A transition the log cannot take (it comes from the registry, so this is a bug upstream): the message names the field. */
export class OutageInputError extends Error {
  override name = 'OutageInputError';
}

const MAX_REASON = 500;

const transitionSchema = z.object({
  site: z.string().regex(ID_PATTERN, 'expected a site id'),
  device: z.string().regex(ID_PATTERN, 'expected a device id'),
  kind: z.string().min(1).max(64),
  online: z.boolean(),
  // Longer reasons are cut, not refused: losing an outage over a wordy last will would be worse.
  reason: z.string().transform((text) => text.slice(0, MAX_REASON)),
  at: z.number().int('expected epoch milliseconds').positive('expected epoch milliseconds'),
});

const periodSchema = z
  .object({
    from: z.number().int().nonnegative(),
    to: z.number().int().nonnegative(),
    site: z.string().regex(ID_PATTERN, 'expected a site id').optional(),
    device: z.string().regex(ID_PATTERN, 'expected a device id').optional(),
  })
  .refine((p) => p.to >= p.from, { path: ['to'], message: 'to must not be before from' });

function checked<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new OutageInputError(`${what}: ${parsed.error.issues.map((i) => `${formatPath(i.path) || '(root)'}: ${i.message}`).join('; ')}`);
}

interface Row {
  id: number;
  site: string;
  device: string;
  kind: string;
  started_at: number;
  ended_at: number | null;
  reason: string;
  cause: string | null;
}

const fromRow = (r: Row): Outage => ({
  id: Number(r.id),
  site: r.site,
  device: r.device,
  kind: r.kind,
  start: Number(r.started_at),
  end: r.ended_at === null ? null : Number(r.ended_at),
  reason: r.reason,
  cause: r.cause as OutageCause | null,
});

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS outages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, site TEXT NOT NULL, device TEXT NOT NULL, kind TEXT NOT NULL,
    started_at INTEGER NOT NULL, ended_at INTEGER, reason TEXT NOT NULL, cause TEXT);
  -- At most one open outage per target: a repeated offline cannot open a second one.
  CREATE UNIQUE INDEX IF NOT EXISTS outages_open ON outages (site, device) WHERE ended_at IS NULL;
  CREATE INDEX IF NOT EXISTS outages_start ON outages (started_at);
  CREATE TABLE IF NOT EXISTS targets (
    site TEXT NOT NULL, device TEXT NOT NULL, kind TEXT NOT NULL, first_seen INTEGER NOT NULL,
    PRIMARY KEY (site, device));`;

/** Version 1 is release 1's schema (its files have no schema_version table). */
export const OUTAGE_SCHEMA: StoreSchema = { name: 'outage log', migrations: [SCHEMA] };

export class OutageLog {
  private readonly db: DatabaseSync;
  private readonly stmts: Record<'open' | 'insert' | 'close' | 'target' | 'cause', StatementSync> | undefined;
  private refusedCount = 0;

  /** `readOnly`: for reports — creates nothing, changes nothing (the collector may be writing at the same time). */
  static open(path: string, options: { readOnly?: boolean } = {}): OutageLog {
    if (options.readOnly) return new OutageLog(new DatabaseSync(path, { readOnly: true }), false, path);
    if (path !== ':memory:') ensurePrivateFile(path);
    return new OutageLog(new DatabaseSync(path), true, path);
  }

  private constructor(db: DatabaseSync, writable: boolean, path: string) {
    this.db = db;
    db.exec('PRAGMA busy_timeout = 5000;');
    if (!writable) {
      // A report must not misread a newer file either; an older one reads as it is.
      assertNotNewer(db, OUTAGE_SCHEMA, path);
      // Fails here, with SQLite's own words, when the file is not an outage log.
      db.prepare('SELECT id, site, device, kind, started_at, ended_at, reason, cause FROM outages LIMIT 0').all();
      this.stmts = undefined;
      return;
    }
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
    migrateStore(db, OUTAGE_SCHEMA, path);
    this.stmts = {
      open: db.prepare('SELECT * FROM outages WHERE site = ? AND device = ? AND ended_at IS NULL'),
      insert: db.prepare('INSERT INTO outages (site, device, kind, started_at, reason) VALUES (?, ?, ?, ?, ?) RETURNING *'),
      close: db.prepare('UPDATE outages SET ended_at = ? WHERE id = ? RETURNING *'),
      target: db.prepare('INSERT INTO targets (site, device, kind, first_seen) VALUES (?, ?, ?, ?) ON CONFLICT (site, device) DO UPDATE SET kind = excluded.kind'),
      cause: db.prepare('UPDATE outages SET cause = ? WHERE id = ?'),
    };
  }

  private get writable() {
    if (!this.stmts) throw new Error('the outage log was opened read-only');
    return this.stmts;
  }

  /** Transitions refused as malformed since the log was opened (for a self-metric). */
  get refused(): number {
    return this.refusedCount;
  }

  /**
   * Offline opens an outage, online closes the open one; returns the outage opened or closed,
   * null when nothing changed (offline while already down, online while up). Throws
   * OutageInputError (naming the field) for a malformed transition, and counts it.
   */
  record(change: StateTransition): Outage | null {
    let t: StateTransition;
    try {
      t = checked(transitionSchema, change, 'state transition refused');
    } catch (error) {
      this.refusedCount++;
      throw error;
    }
    const s = this.writable;
    s.target.run(t.site, t.device, t.kind, t.at);
    const open = s.open.get(t.site, t.device) as Row | undefined;
    if (!t.online) return open ? null : fromRow(s.insert.get(t.site, t.device, t.kind, t.at, t.reason) as unknown as Row);
    if (!open) return null;
    // A clock stepped back must not give a negative duration.
    return fromRow(s.close.get(Math.max(t.at, Number(open.started_at)), open.id) as unknown as Row);
  }

  /**
   * Runs `work` as one transaction: a reader (the monthly report, another process) never sees an
   * outage closed but not yet classified. Rolled back if `work` throws.
   */
  atomically<T>(work: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = work();
      this.db.exec('COMMIT');
      return result;
    } catch (error) {
      this.db.exec('ROLLBACK');
      throw error;
    }
  }

  /** Sets (or corrects) an outage's cause; false when there is no such outage. */
  cause(outageId: number, cause: OutageCause): boolean {
    const c = checked(z.enum(OUTAGE_CAUSES), cause, 'cause refused');
    return Number(this.writable.cause.run(c, outageId).changes) > 0;
  }

  get(outageId: number): Outage | undefined {
    const row = this.db.prepare('SELECT * FROM outages WHERE id = ?').get(outageId) as Row | undefined;
    return row && fromRow(row);
  }

  /** Outages overlapping [from, to): ended after `from` (or still open) and started before `to`. Oldest first. */
  outages(query: { from: number; to: number; site?: string; device?: string }): Outage[] {
    const q = checked(periodSchema, query, 'outage query refused');
    const where = ['started_at < ?', '(ended_at IS NULL OR ended_at > ?)'];
    const args: (string | number)[] = [q.to, q.from];
    if (q.site !== undefined) {
      where.push('site = ?');
      args.push(q.site);
    }
    if (q.device !== undefined) {
      where.push('device = ?');
      args.push(q.device);
    }
    return (this.db.prepare(`SELECT * FROM outages WHERE ${where.join(' AND ')} ORDER BY started_at, id`).all(...args) as unknown as Row[]).map(fromRow);
  }

  /** Every target that ever changed state, with its latest kind. */
  targets(site?: string): OutageTarget[] {
    const sql = `SELECT site, device, kind FROM targets ${site === undefined ? '' : 'WHERE site = ?'} ORDER BY site, device`;
    return (this.db.prepare(sql).all(...(site === undefined ? [] : [site])) as unknown as OutageTarget[]).map(({ site, device, kind }) => ({ site, device, kind }));
  }

  close(): void {
    this.db.close();
  }
}

/** What the cause of an outage is judged by: plain data, so the rule is testable without a collector. */
export interface CauseContext {
  /** Alert episodes (the alert store's `since` … `resolvedAt`, to = null while firing). */
  alerts: readonly { site: string; device: string; rule: string; from: number; to: number | null }[];
  /** The notification file's `dependencies`: a site's upstream devices ("site/device"). */
  dependencies: readonly { site: string; upstream: readonly string[] }[];
  /** Outages of other targets around the same time (the upstream devices' among them). */
  outages: readonly Pick<Outage, 'site' | 'device' | 'start' | 'end'>[];
  /** How far apart two things seen by different polls may start and still be one event; default DEFAULT_CAUSE_GRACE_MS. */
  graceMs?: number;
}

export const POWER_RULES: readonly string[] = ['ups_on_battery', 'ups_battery_low'];

/**
 * A device is seen down and a UPS is seen on battery by different polls, up to an interval (and
 * a heartbeat timeout) apart: five minutes covers the default 60 s intervals with room.
 */
export const DEFAULT_CAUSE_GRACE_MS = 5 * 60_000;

const around = (start: number, interval: { from: number; to: number | null }, grace: number) => interval.from <= start + grace && (interval.to === null || interval.to >= start - grace);

/**
 * power: a UPS of the outage's site was on battery (or its battery low) when the outage started;
 * link: the target is an internet line itself, or an upstream device of its site (dependencies)
 * was down when it started; device: neither. Power first: a power cut takes the uplink down too.
 */
export function outageCause(outage: Pick<Outage, 'site' | 'device' | 'kind' | 'start'>, context: CauseContext): OutageCause {
  const grace = context.graceMs ?? DEFAULT_CAUSE_GRACE_MS;
  if (context.alerts.some((a) => a.site === outage.site && POWER_RULES.includes(a.rule) && around(outage.start, a, grace))) return 'power';
  if (outage.kind === 'link') return 'link';
  const self = `${outage.site}/${outage.device}`;
  const upstream = new Set(context.dependencies.filter((d) => d.site === outage.site).flatMap((d) => d.upstream.filter((u) => u !== self)));
  const upstreamDown = context.outages.some((o) => upstream.has(`${o.site}/${o.device}`) && around(outage.start, { from: o.start, to: o.end }, grace));
  return upstreamDown ? 'link' : 'device';
}

/**
 * The outage as an InfluxDB point, written when it opens (time = start, open=1) and when it
 * closes (time = end, with its duration): two events, so the closed one never needs to
 * overwrite the open one, whose cause was not known yet.
 */
export function outagePoint(outage: Outage): Point {
  const tags = { site: outage.site, device: outage.device, kind: outage.kind, cause: outage.cause ?? 'unknown' };
  if (outage.end === null) return { measurement: 'outages', tags, fields: { reason: outage.reason, start_ms: outage.start, open: 1 }, time: outage.start };
  return {
    measurement: 'outages',
    tags,
    fields: { duration_s: Math.round((outage.end - outage.start) / 1000), reason: outage.reason, start_ms: outage.start, end_ms: outage.end },
    time: outage.end,
  };
}
