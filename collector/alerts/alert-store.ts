import { createHash } from 'node:crypto';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { ensurePrivateFile } from '../../src/private-files.ts';
import { migrateStore, type StoreSchema } from '../storage/schema-version.ts';
import type { ActiveAlert, AlertChange, AlertLabels } from './engine.ts';
import type { Rule } from './rule-schema.ts';

// Alerts in the embedded store (Node's SQLite): one row per episode (from the moment a
// condition is seen until it resolves), every transition in a history table, acknowledgements,
// silences and ad-hoc maintenance windows. The API and the notifier read it; after a restart the
// rule engine gets its pending and firing alerts back from here. The admin CLI writes the same
// file while the collector runs (WAL lets both in), and the notifier reads silences and windows
// when an alert fires, so what the CLI adds counts at once.

export type EpisodeState = 'pending' | 'firing' | 'resolved' | 'cancelled';

export interface StoredAlert {
  /** The episode: stable from pending to resolved, used in URLs and acknowledge links. */
  id: string;
  /** rule|site|device|instance: the same for every episode of one condition. */
  key: string;
  rule: string;
  severity: Rule['severity'];
  category: string;
  labels: AlertLabels;
  state: EpisodeState;
  since: number;
  firedAt: number | null;
  resolvedAt: number | null;
  value: string | number | null;
  detail: string | null;
  ackBy: string | null;
  ackAt: number | null;
  /** Fired again and again in a short time: notified once as flapping, then quiet until it settles. */
  flapping: boolean;
  /** Another alert (a site's uplink or UPS) explains this one. */
  consequenceOf: string | null;
  /** Why nobody is told: "maintenance:<id>", "silence:<id>" or "flapping". */
  suppressed: string | null;
  /** When people were first told, last told (repeats), escalated, and told it resolved. */
  notifiedAt: number | null;
  lastNotifiedAt: number | null;
  escalatedAt: number | null;
  resolvedNotifiedAt: number | null;
}

export type NotificationMark = 'notified' | 'repeated' | 'escalated' | 'resolved_notified';

export interface Silence {
  id: string;
  matchers: { rule?: string; site?: string; device?: string; instance?: string };
  startsAt: number;
  endsAt: number;
  createdBy: string;
  comment: string;
}

/** An ad-hoc maintenance window (made over the API or the CLI; recurring ones are in the notification file). */
export interface MaintenanceEntry {
  /** mnt_<12 hex digits>. */
  id: string;
  /** Every device of these sites… */
  sites: string[];
  /** …and these single devices ("site/device"). */
  devices: string[];
  /** Epoch milliseconds: open from `from` until just before `to`. */
  from: number;
  to: number;
  reason: string;
  createdBy: string;
}

interface Row {
  id: string;
  key: string;
  rule: string;
  severity: string;
  category: string;
  site: string;
  device: string;
  kind: string;
  instance: string;
  state: string;
  since: number;
  fired_at: number | null;
  resolved_at: number | null;
  value: string | null;
  detail: string | null;
  ack_by: string | null;
  ack_at: number | null;
  flapping: number;
  consequence_of: string | null;
  suppressed: string | null;
  notified_at: number | null;
  last_notified_at: number | null;
  escalated_at: number | null;
  resolved_notified_at: number | null;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY, key TEXT NOT NULL, rule TEXT NOT NULL, severity TEXT NOT NULL, category TEXT NOT NULL,
    site TEXT NOT NULL, device TEXT NOT NULL, kind TEXT NOT NULL, instance TEXT NOT NULL,
    state TEXT NOT NULL, since INTEGER NOT NULL, fired_at INTEGER, resolved_at INTEGER,
    value TEXT, detail TEXT, ack_by TEXT, ack_at INTEGER, flapping INTEGER NOT NULL DEFAULT 0,
    consequence_of TEXT, suppressed TEXT,
    notified_at INTEGER, last_notified_at INTEGER, escalated_at INTEGER, resolved_notified_at INTEGER);
  CREATE INDEX IF NOT EXISTS alerts_state ON alerts (state);
  CREATE INDEX IF NOT EXISTS alerts_key ON alerts (key, since);
  CREATE INDEX IF NOT EXISTS alerts_device ON alerts (site, device, state);
  CREATE TABLE IF NOT EXISTS alert_history (
    alert_id TEXT NOT NULL, at INTEGER NOT NULL, transition TEXT NOT NULL, detail TEXT);
  CREATE INDEX IF NOT EXISTS alert_history_alert ON alert_history (alert_id, at);
  CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS silences (
    id TEXT PRIMARY KEY, matchers TEXT NOT NULL, starts_at INTEGER NOT NULL, ends_at INTEGER NOT NULL,
    created_by TEXT NOT NULL, comment TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS maintenance (
    id TEXT PRIMARY KEY, sites TEXT NOT NULL, devices TEXT NOT NULL, starts_at INTEGER NOT NULL, ends_at INTEGER NOT NULL,
    reason TEXT NOT NULL, created_by TEXT NOT NULL);`;

/** Version 1 is release 1's schema (its files have no schema_version table). */
export const ALERT_SCHEMA: StoreSchema = { name: 'alert store', migrations: [SCHEMA] };

/** Flapping: this many firings of one condition within the window. */
export const FLAP_COUNT = 4;
export const FLAP_WINDOW_MS = 30 * 60_000;

export const episodeId = (key: string, since: number) => createHash('sha256').update(`${key}@${since}`).digest('base64url').slice(0, 16);

export class AlertStore {
  private readonly db: DatabaseSync;
  private readonly stmts: Record<'upsert' | 'history' | 'byId' | 'active' | 'recentFirings', StatementSync>;

  static open(path: string): AlertStore {
    if (path !== ':memory:') ensurePrivateFile(path);
    const db = new DatabaseSync(path);
    try {
      // busy_timeout: the CLI and the collector write the same file; one waits for the other's commit.
      db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;');
      migrateStore(db, ALERT_SCHEMA, path);
    } catch (error) {
      db.close();
      throw error;
    }
    return new AlertStore(db);
  }

  private constructor(db: DatabaseSync) {
    this.db = db;
    this.stmts = {
      upsert: db.prepare(`INSERT INTO alerts (id, key, rule, severity, category, site, device, kind, instance, state, since, fired_at, resolved_at, value, detail, flapping, consequence_of, suppressed)
        VALUES (:id, :key, :rule, :severity, :category, :site, :device, :kind, :instance, :state, :since, :fired_at, :resolved_at, :value, :detail, :flapping, :consequence_of, :suppressed)
        ON CONFLICT (id) DO UPDATE SET state = excluded.state, fired_at = excluded.fired_at, resolved_at = excluded.resolved_at, value = excluded.value,
          detail = COALESCE(excluded.detail, alerts.detail), flapping = MAX(alerts.flapping, excluded.flapping)`),
      history: db.prepare('INSERT INTO alert_history (alert_id, at, transition, detail) VALUES (?, ?, ?, ?)'),
      byId: db.prepare('SELECT * FROM alerts WHERE id = ?'),
      active: db.prepare("SELECT * FROM alerts WHERE state IN ('pending', 'firing') ORDER BY since"),
      recentFirings: db.prepare('SELECT count(*) AS n FROM alerts WHERE key = ? AND fired_at >= ?'),
    };
  }

  /** Records one engine change and returns the episode as stored. */
  apply(change: AlertChange, rule: Rule): StoredAlert {
    const a = change.alert;
    const id = episodeId(a.id, a.since);
    const existing = this.get(id);
    const flapping = change.to === 'firing' && Number((this.stmts.recentFirings.get(a.id, change.at - FLAP_WINDOW_MS) as { n: number }).n) + 1 >= FLAP_COUNT;
    this.db.exec('BEGIN');
    try {
      this.stmts.upsert.run({
        id,
        key: a.id,
        rule: a.rule,
        severity: rule.severity,
        category: rule.category,
        site: a.labels.site,
        device: a.labels.device,
        kind: a.labels.kind,
        instance: a.labels.instance,
        state: change.to,
        since: a.since,
        fired_at: a.firedAt ?? existing?.firedAt ?? null,
        resolved_at: change.to === 'resolved' || change.to === 'cancelled' ? change.at : null,
        value: a.value === undefined ? null : String(a.value),
        detail: a.detail ?? null,
        flapping: flapping ? 1 : 0,
        consequence_of: existing?.consequenceOf ?? null,
        suppressed: existing?.suppressed ?? null,
      });
      this.stmts.history.run(id, change.at, change.to, a.value === undefined ? null : String(a.value));
      this.db.exec('COMMIT');
    } catch (error) {
      this.db.exec('ROLLBACK');
      throw error;
    }
    return this.get(id)!;
  }

  /** Marks why an episode is not notified, or what explains it; recorded in its history. */
  annotate(id: string, note: { consequenceOf?: string | null; suppressed?: string | null }, at: number): void {
    if (note.consequenceOf !== undefined) this.db.prepare('UPDATE alerts SET consequence_of = ? WHERE id = ?').run(note.consequenceOf, id);
    if (note.suppressed !== undefined) this.db.prepare('UPDATE alerts SET suppressed = ? WHERE id = ?').run(note.suppressed, id);
    this.stmts.history.run(id, at, 'annotated', JSON.stringify(note));
  }

  /** Records that people were told (kept across restarts, so nothing is sent twice or forgotten). */
  markNotified(ids: readonly string[], mark: NotificationMark, at: number): void {
    const column = { notified: 'notified_at', repeated: 'last_notified_at', escalated: 'escalated_at', resolved_notified: 'resolved_notified_at' }[mark];
    const update = this.db.prepare(`UPDATE alerts SET ${column} = ?${mark === 'notified' ? ', last_notified_at = ?' : ''} WHERE id = ?`);
    this.db.exec('BEGIN');
    for (const id of ids) {
      if (mark === 'notified') update.run(at, at, id);
      else update.run(at, id);
      this.stmts.history.run(id, at, mark, null);
    }
    this.db.exec('COMMIT');
  }

  /** Firing episodes nobody was told of yet, and resolved ones whose resolution was not told: what a restart must still send. */
  unnotified(): StoredAlert[] {
    const sql = `SELECT * FROM alerts WHERE suppressed IS NULL AND consequence_of IS NULL AND (
      (state = 'firing' AND notified_at IS NULL) OR (state = 'resolved' AND notified_at IS NOT NULL AND resolved_notified_at IS NULL)) ORDER BY since`;
    return (this.db.prepare(sql).all() as unknown as Row[]).map(fromRow);
  }

  /** A firing alert of this device, if any (the oldest). */
  firingOn(site: string, device: string): StoredAlert | undefined {
    const row = this.db.prepare("SELECT * FROM alerts WHERE state = 'firing' AND site = ? AND device = ? ORDER BY since LIMIT 1").get(site, device) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** Alerts another one explains (counted in its notification). */
  consequencesOf(id: string): number {
    return Number((this.db.prepare('SELECT count(*) AS n FROM alerts WHERE consequence_of = ?').get(id) as { n: number }).n);
  }

  /** A secret kept with the alerts (the key that signs acknowledge links), created on first use. */
  secret(name: string, create: () => string): string {
    const found = this.db.prepare('SELECT value FROM settings WHERE name = ?').get(name) as { value: string } | undefined;
    if (found) return found.value;
    const value = create();
    this.db.prepare('INSERT INTO settings (name, value) VALUES (?, ?)').run(name, value);
    return value;
  }

  acknowledge(id: string, actor: string, at: number): StoredAlert | undefined {
    const result = this.db.prepare("UPDATE alerts SET ack_by = ?, ack_at = ? WHERE id = ? AND ack_at IS NULL AND state IN ('pending', 'firing')").run(actor, at, id);
    if (Number(result.changes) > 0) this.stmts.history.run(id, at, 'acknowledged', actor);
    return this.get(id);
  }

  get(id: string): StoredAlert | undefined {
    const row = this.stmts.byId.get(id) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  active(): StoredAlert[] {
    return (this.stmts.active.all() as unknown as Row[]).map(fromRow);
  }

  /** The engine's view of what was pending or firing (for restore after a restart). */
  activeForEngine(): ActiveAlert[] {
    return this.active().map((s) => ({
      id: s.key,
      rule: s.rule,
      labels: s.labels,
      state: s.state as ActiveAlert['state'],
      since: s.since,
      ...(s.firedAt !== null ? { firedAt: s.firedAt } : {}),
      ...(s.value !== null ? { value: s.value } : {}),
      ...(s.detail !== null ? { detail: s.detail } : {}),
    }));
  }

  list(filter: { state?: EpisodeState | 'active'; site?: string; limit?: number } = {}): StoredAlert[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.state === 'active') where.push("state IN ('pending', 'firing')");
    else if (filter.state) {
      where.push('state = ?');
      args.push(filter.state);
    }
    if (filter.site) {
      where.push('site = ?');
      args.push(filter.site);
    }
    const sql = `SELECT * FROM alerts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY since DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, Math.min(filter.limit ?? 200, 1_000)) as unknown as Row[]).map(fromRow);
  }

  history(id: string): { at: number; transition: string; detail: string | null }[] {
    return this.db.prepare('SELECT at, transition, detail FROM alert_history WHERE alert_id = ? ORDER BY at, rowid').all(id) as never;
  }

  addSilence(silence: Silence): void {
    this.db.prepare('INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, comment) VALUES (?, ?, ?, ?, ?, ?)').run(silence.id, JSON.stringify(silence.matchers), silence.startsAt, silence.endsAt, silence.createdBy, silence.comment);
  }

  removeSilence(id: string): boolean {
    return Number(this.db.prepare('DELETE FROM silences WHERE id = ?').run(id).changes) > 0;
  }

  silences(now: number): Silence[] {
    return (this.db.prepare('SELECT * FROM silences WHERE ends_at > ? ORDER BY starts_at').all(now) as { id: string; matchers: string; starts_at: number; ends_at: number; created_by: string; comment: string }[]).map((r) => ({
      id: r.id,
      matchers: JSON.parse(r.matchers) as Silence['matchers'],
      startsAt: r.starts_at,
      endsAt: r.ends_at,
      createdBy: r.created_by,
      comment: r.comment,
    }));
  }

  addMaintenance(window: MaintenanceEntry): void {
    this.db
      .prepare('INSERT INTO maintenance (id, sites, devices, starts_at, ends_at, reason, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(window.id, JSON.stringify(window.sites), JSON.stringify(window.devices), window.from, window.to, window.reason, window.createdBy);
  }

  removeMaintenance(id: string): boolean {
    return Number(this.db.prepare('DELETE FROM maintenance WHERE id = ?').run(id).changes) > 0;
  }

  /** Windows open now or to come (ended ones are of no use to anyone). */
  maintenance(now: number): MaintenanceEntry[] {
    const rows = this.db.prepare('SELECT * FROM maintenance WHERE ends_at > ? ORDER BY starts_at, id').all(now) as { id: string; sites: string; devices: string; starts_at: number; ends_at: number; reason: string; created_by: string }[];
    return rows.map((r) => ({
      id: r.id,
      sites: JSON.parse(r.sites) as string[],
      devices: JSON.parse(r.devices) as string[],
      from: Number(r.starts_at),
      to: Number(r.ends_at),
      reason: r.reason,
      createdBy: r.created_by,
    }));
  }

  /** The first window open at `now` that covers the device's site or the device itself. */
  maintenanceFor(labels: { site: string; device: string }, now: number): MaintenanceEntry | undefined {
    const device = `${labels.site}/${labels.device}`;
    return this.maintenance(now).find((w) => w.from <= now && (w.sites.includes(labels.site) || w.devices.includes(device)));
  }

  close(): void {
    this.db.close();
  }
}

function fromRow(r: Row): StoredAlert {
  const numeric = r.value !== null && r.value !== '' && !Number.isNaN(Number(r.value));
  return {
    id: r.id,
    key: r.key,
    rule: r.rule,
    severity: r.severity as StoredAlert['severity'],
    category: r.category,
    labels: { site: r.site, device: r.device, kind: r.kind, instance: r.instance },
    state: r.state as EpisodeState,
    since: Number(r.since),
    firedAt: r.fired_at === null ? null : Number(r.fired_at),
    resolvedAt: r.resolved_at === null ? null : Number(r.resolved_at),
    value: r.value === null ? null : numeric ? Number(r.value) : r.value,
    detail: r.detail,
    ackBy: r.ack_by,
    ackAt: r.ack_at === null ? null : Number(r.ack_at),
    flapping: r.flapping === 1,
    consequenceOf: r.consequence_of,
    suppressed: r.suppressed,
    notifiedAt: r.notified_at === null ? null : Number(r.notified_at),
    lastNotifiedAt: r.last_notified_at === null ? null : Number(r.last_notified_at),
    escalatedAt: r.escalated_at === null ? null : Number(r.escalated_at),
    resolvedNotifiedAt: r.resolved_notified_at === null ? null : Number(r.resolved_notified_at),
  };
}
