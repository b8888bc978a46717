import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { z } from 'zod';
import { EVENT_SEVERITIES, describeIssues } from '../../src/contract/schemas.ts';
import type { Logger } from '../../src/log.ts';
import { ensurePrivateFile } from '../../src/private-files.ts';
import { backoffDelay } from '../../src/retry.ts';
import { migrateStore, StoreVersionError, type StoreSchema } from '../storage/schema-version.ts';
import type { Language } from '../devices/driver.ts';
import { PermanentDeliveryError, type DeliveryReceipt, type NotificationChannel, type OutgoingMessage, type Recipient } from './channels/channel.ts';

// The durable outbox between the notifier and the channels (Node's built-in SQLite, WAL,
// synchronous=FULL: a "UPS on battery" notification is written right before the power may go,
// and alerts are few, so every enqueue is flushed to disk). One row per (notification,
// channel, recipient). A row leaves `pending` only as `sent`, `failed` (for good, after
// maxAttempts / maxAgeMs or a PermanentDeliveryError), `summarised` (held by the recipient's
// rate limit, then named in one summary message) or `refused` (pushed out of a full outbox by
// a more severe one); finished rows are kept for `retentionDays` for the audit trail.
//
// Delivery is at least once: a send that succeeded just before a crash, or that answered after
// its timeout, is sent again; the message id lets the receiver drop the duplicate.

export type Severity = (typeof EVENT_SEVERITIES)[number];
export const OUTBOX_STATES = ['pending', 'held', 'sent', 'failed', 'summarised', 'refused'] as const;
export type OutboxState = (typeof OUTBOX_STATES)[number];

const positiveInt = z.number().int().positive();

/** The outbox's tunables, as a notification file or the collector configuration gives them. */
export const outboxSettingsSchema = z.strictObject({
  retry: z
    .strictObject({ initialMs: positiveInt.default(5_000), maxMs: positiveInt.default(600_000) })
    .refine((r) => r.maxMs >= r.initialMs, { message: 'must not be less than retry.initialMs', path: ['maxMs'] })
    .prefault({}),
  maxAttempts: positiveInt.default(50),
  maxAgeMs: positiveInt.default(86_400_000),
  timeoutMs: positiveInt.default(30_000),
  /** Sends in flight at once, over all channels; one recipient of one channel gets one at a time. */
  concurrency: positiveInt.max(64).default(4),
  rateLimit: z.strictObject({ perRecipient: positiveInt.default(10), windowMs: positiveInt.default(900_000) }).prefault({}),
  /** Entries waiting (pending + held): beyond this, enqueue refuses (see `admit`). */
  maxPending: positiveInt.default(10_000),
  /** A channel is reported unhealthy after this many failed attempts in a row, or failing for this long. */
  health: z.strictObject({ failures: positiveInt.default(3), failingMs: positiveInt.default(600_000) }).prefault({}),
  retentionDays: positiveInt.default(30),
  /** How long close() waits for sends in flight before leaving them to the next start. */
  closeTimeoutMs: z.number().int().nonnegative().default(5_000),
});
export type OutboxSettings = z.input<typeof outboxSettingsSchema>;
type Settings = z.output<typeof outboxSettingsSchema>;

export interface OutboxOptions extends OutboxSettings {
  channels: ReadonlyMap<string, NotificationChannel>;
  log: Logger;
  onDelivered?: (entry: OutboxEntry, receipt: DeliveryReceipt) => void;
  /** The error's message has addresses masked; a PermanentDeliveryError stays one. */
  onFailed?: (entry: OutboxEntry, error: Error) => void;
  onChannelHealth?: (channel: string, healthy: boolean, lastError?: string) => void;
}

export interface EnqueueItem {
  notificationId: string;
  channel: string;
  recipient: Recipient;
  message: OutgoingMessage;
  severity: Severity;
}

export interface EnqueueResult {
  /** Row id per item, in order; null where the item was refused because the outbox is full. */
  ids: (number | null)[];
  refused: number;
}

export interface OutboxEntry {
  id: number;
  /** `summary`: the one message that replaced a recipient's held notifications. */
  kind: 'notification' | 'summary';
  notificationId: string;
  channel: string;
  recipient: Recipient;
  message: OutgoingMessage;
  severity: Severity;
  state: OutboxState;
  attempts: number;
  createdAt: number;
  nextAt: number;
  updatedAt: number;
  sentAt?: number;
  lastError?: string;
  providerId?: string;
  /** For `summarised` entries: the summary entry that named them. */
  summaryId?: number;
}

/** What the API shows: the address masked, the subject instead of the whole message. */
export type OutboxListItem = Omit<OutboxEntry, 'message'> & { subject: string };

export interface StateCounts {
  pending: number;
  held: number;
  sent: number;
  failed: number;
  summarised: number;
  /** Refused since the file was created (new ones turned away and queued ones pushed out). */
  refused: number;
}

export interface OutboxStats extends StateCounts {
  inFlight: number;
  channels: Record<string, StateCounts>;
}

export class OutboxInputError extends Error {
  override name = 'OutboxInputError';
}

const MAX_BODY = 256 * 1024;
const recipientSchema = z.strictObject({
  name: z.string().max(200),
  address: z.string().trim().min(1).max(512),
  language: z.enum(['tr', 'en']),
});
const messageSchema = z.strictObject({
  subject: z.string().max(1_000),
  text: z.string().max(MAX_BODY),
  html: z.string().max(MAX_BODY),
  short: z.string().max(2_000),
  id: z.string().min(1).max(200),
});
const enqueueItemSchema = z.strictObject({
  notificationId: z.string().min(1).max(200),
  channel: z.string().min(1).max(100),
  recipient: recipientSchema,
  message: messageSchema,
  severity: z.enum(EVENT_SEVERITIES),
});
const enqueueSchema = z.array(enqueueItemSchema).max(10_000);
const listSchema = z.strictObject({ state: z.enum(OUTBOX_STATES).optional(), limit: z.number().int().min(1).max(1_000).default(100) });

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    notification_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    recipient_name TEXT NOT NULL,
    address TEXT NOT NULL,
    language TEXT NOT NULL,
    message TEXT NOT NULL,
    severity TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    next_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    sent_at INTEGER,
    last_error TEXT,
    provider_id TEXT,
    summary_id INTEGER
  );
  CREATE INDEX IF NOT EXISTS entries_recipient ON entries (channel, address, state, seq, id);
  CREATE INDEX IF NOT EXISTS entries_sent ON entries (channel, address, sent_at) WHERE sent_at IS NOT NULL;
  CREATE INDEX IF NOT EXISTS entries_state ON entries (state, updated_at);
  CREATE INDEX IF NOT EXISTS entries_seq ON entries (seq);
  CREATE TABLE IF NOT EXISTS refusals (channel TEXT PRIMARY KEY, count INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS channel_health (channel TEXT PRIMARY KEY, failures INTEGER NOT NULL, failing_since INTEGER NOT NULL, unhealthy INTEGER NOT NULL);
`;

/** Version 1 is release 1's schema (its files have no schema_version table). */
export const OUTBOX_SCHEMA: StoreSchema = { name: 'notification outbox', migrations: [SCHEMA] };

interface Row {
  id: number;
  seq: number;
  kind: 'notification' | 'summary';
  notification_id: string;
  channel: string;
  recipient_name: string;
  address: string;
  language: Language;
  message: string;
  severity: Severity;
  state: OutboxState;
  attempts: number;
  created_at: number;
  next_at: number;
  updated_at: number;
  sent_at: number | null;
  last_error: string | null;
  provider_id: string | null;
  summary_id: number | null;
}

interface Health {
  failures: number;
  failingSince: number;
  unhealthy: boolean;
}

/** Rate limits and ordering are per channel and address: the same person on SMS and e-mail is two queues. */
interface RecipientKey {
  channel: string;
  address: string;
}
const keyString = (k: RecipientKey) => `${k.channel}\n${k.address}`;

const IDLE_RECHECK_MS = 60_000;
const PURGE_EVERY_MS = 3_600_000;
const DAY_MS = 86_400_000;

export class Outbox {
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly settings: Settings;
  private readonly log: Logger;
  private readonly callbacks: Pick<OutboxOptions, 'onDelivered' | 'onFailed' | 'onChannelHealth'>;
  private readonly sql: ReturnType<typeof prepare>;
  private channels: ReadonlyMap<string, NotificationChannel>;
  private readonly health = new Map<string, Health>();
  private readonly inFlight = new Map<number, Promise<void>>();
  private readonly busy = new Set<string>();
  private readonly stopping = new AbortController();
  private running = false;
  private closed = false;
  private pumpQueued = false;
  private timer: NodeJS.Timeout | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;

  private constructor(path: string, db: DatabaseSync, settings: Settings, options: OutboxOptions) {
    this.path = path;
    this.db = db;
    this.settings = settings;
    this.log = options.log;
    this.channels = options.channels;
    this.callbacks = { onDelivered: options.onDelivered, onFailed: options.onFailed, onChannelHealth: options.onChannelHealth };
    this.sql = prepare(db);
    for (const row of this.sql.healthAll.all() as { channel: string; failures: number; failing_since: number; unhealthy: number }[]) {
      this.health.set(row.channel, { failures: row.failures, failingSince: row.failing_since, unhealthy: row.unhealthy === 1 });
    }
    this.purge();
  }

  /** Opens (or creates, owner-only) the outbox file; ':memory:' keeps it in memory (tests). Pending entries of an earlier run continue on start(). */
  static open(path: string, options: OutboxOptions): Outbox {
    const { channels: _channels, log: _log, onDelivered: _d, onFailed: _f, onChannelHealth: _h, ...raw } = options;
    const parsed = outboxSettingsSchema.safeParse(raw);
    if (!parsed.success) throw new OutboxInputError(`outbox settings: ${describeIssues(parsed.error)}`);
    // Owner-only: rows hold phone numbers and e-mail addresses (KVKK).
    if (path !== ':memory:') ensurePrivateFile(path);
    const db = new DatabaseSync(path);
    try {
      db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;');
      migrateStore(db, OUTBOX_SCHEMA, path);
      return new Outbox(path, db, parsed.data, options);
    } catch (error) {
      db.close();
      if (error instanceof StoreVersionError) throw error;
      throw new Error(`cannot open the notification outbox ${path}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Channels after a configuration reload; sends in flight finish on the channel they started with (the caller closes the old ones). */
  setChannels(channels: ReadonlyMap<string, NotificationChannel>): void {
    this.channels = channels;
    this.wakeSoon();
  }

  /** Writes the items in one transaction (on disk when this returns); the worker sends them. */
  enqueue(items: readonly EnqueueItem[]): EnqueueResult {
    this.assertOpen();
    const parsed = enqueueSchema.safeParse(items);
    if (!parsed.success) throw new OutboxInputError(`enqueue: ${describeIssues(parsed.error)}`);
    const now = Date.now();
    const result: EnqueueResult = { ids: [], refused: 0 };
    let pushedOut = 0;
    this.transaction(() => {
      let waiting = (this.sql.countWaiting.get() as { n: number }).n;
      for (const item of parsed.data) {
        if (waiting >= this.settings.maxPending) {
          if (!this.admit(item.severity, now)) {
            this.countRefusal(item.channel);
            result.ids.push(null);
            result.refused++;
            continue;
          }
          pushedOut++;
        } else waiting++;
        const row = this.sql.insert.get({
          seq: null,
          kind: 'notification',
          notificationId: item.notificationId,
          channel: item.channel,
          name: item.recipient.name,
          address: item.recipient.address,
          language: item.recipient.language,
          message: JSON.stringify(item.message),
          severity: item.severity,
          now,
        }) as { id: number };
        result.ids.push(row.id);
      }
    });
    if (result.refused > 0 || pushedOut > 0) {
      this.log.log('warn', 'notification outbox full', { maxPending: this.settings.maxPending, refused: result.refused, pushedOutInfo: pushedOut });
    }
    this.wakeSoon();
    return result;
  }

  /**
   * Room for one more in a full outbox. A new warning or critical notification takes the place
   * of the oldest waiting info-level one (marked `refused`, counted): an outbox fills up only
   * when a channel has been down for long, and that is when a "UPS on battery" must not be
   * turned away because of a backlog of informational notices. Otherwise the NEW one is refused:
   * queued entries were accepted first and keep their place, and an accepted alert is not
   * dropped for another of the same weight.
   */
  private admit(severity: Severity, now: number): boolean {
    if (severity === 'info') return false;
    // Entries in flight cannot be pushed out; one more candidate than there are sends is enough.
    const candidates = this.sql.oldestInfo.all(this.inFlight.size + 1) as { id: number; channel: string }[];
    const victim = candidates.find((c) => !this.inFlight.has(c.id));
    if (!victim) return false;
    this.sql.markRefused.run(now, victim.id);
    this.countRefusal(victim.channel);
    return true;
  }

  private countRefusal(channel: string): void {
    this.sql.countRefusal.run(channel);
  }

  /** Starts sending; entries left by an earlier run are picked up first (oldest first). */
  start(): void {
    this.assertOpen();
    if (this.running) return;
    this.running = true;
    this.purgeTimer = setInterval(() => this.purge(), PURGE_EVERY_MS).unref();
    this.wakeSoon();
  }

  /** Stops sending, waits up to closeTimeoutMs for sends in flight; unsent entries stay in the file for the next open. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.running = false;
    clearTimeout(this.timer);
    clearInterval(this.purgeTimer);
    if (this.inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.settings.closeTimeoutMs)));
      await Promise.race([Promise.allSettled([...this.inFlight.values()]), bound]);
      clearTimeout(timer);
    }
    const left = this.inFlight.size;
    const waiting = (this.sql.countWaiting.get() as { n: number }).n;
    this.closed = true;
    // Sends still running are abandoned: their entries are pending in the file and go again after a restart.
    this.stopping.abort();
    this.db.close();
    this.log.log('info', 'notification outbox closed', { waiting, abandonedSends: left });
  }

  stats(): OutboxStats {
    this.assertOpen();
    const empty = (): StateCounts => ({ pending: 0, held: 0, sent: 0, failed: 0, summarised: 0, refused: 0 });
    const stats: OutboxStats = { ...empty(), inFlight: this.inFlight.size, channels: {} };
    const forChannel = (channel: string) => (stats.channels[channel] ??= empty());
    for (const row of this.sql.countByState.all() as { channel: string; state: OutboxState; n: number }[]) {
      // Refused counts come from the counter: rows pushed out are also rows, new ones turned away are not.
      if (row.state === 'refused') continue;
      forChannel(row.channel)[row.state] += row.n;
      stats[row.state] += row.n;
    }
    for (const row of this.sql.refusals.all() as { channel: string; count: number }[]) {
      forChannel(row.channel).refused += row.count;
      stats.refused += row.count;
    }
    return stats;
  }

  /** Newest first; addresses masked. */
  list(query: { state?: OutboxState; limit?: number } = {}): OutboxListItem[] {
    this.assertOpen();
    const parsed = listSchema.safeParse(query);
    if (!parsed.success) throw new OutboxInputError(`list: ${describeIssues(parsed.error)}`);
    const rows = (parsed.data.state ? this.sql.listState.all(parsed.data.state, parsed.data.limit) : this.sql.listAll.all(parsed.data.limit)) as unknown as Row[];
    return rows.map((row) => {
      const { message, recipient, ...rest } = toEntry(row);
      return { ...rest, recipient: { ...recipient, address: maskAddress(recipient.address) }, subject: message.subject };
    });
  }

  /** Finished entries older than retentionDays are deleted: addresses are kept no longer than needed (KVKK). */
  private purge(): void {
    const removed = this.sql.purge.run(Date.now() - this.settings.retentionDays * DAY_MS).changes;
    if (Number(removed) > 0) this.log.log('info', 'old notification outbox entries purged', { removed: Number(removed), retentionDays: this.settings.retentionDays });
  }

  private wakeSoon(): void {
    if (!this.running || this.pumpQueued) return;
    this.pumpQueued = true;
    setImmediate(() => this.pump());
  }

  /** One pass: release held recipients whose window opened, start every due send there is room for, sleep until the next thing is due. */
  private pump(): void {
    this.pumpQueued = false;
    if (!this.running) return;
    clearTimeout(this.timer);
    const now = Date.now();
    let wakeAt = now + IDLE_RECHECK_MS;
    try {
      for (const key of this.sql.heldRecipients.all() as unknown as RecipientKey[]) {
        const window = this.window(key, now);
        if (window.full) wakeAt = Math.min(wakeAt, window.opensAt);
        else if (!this.sql.pendingSummary.get(key.channel, key.address)) this.summarise(key, now);
      }
      let again = false;
      for (const head of this.sql.heads.all() as unknown as Row[]) {
        if (this.inFlight.size >= this.settings.concurrency) break;
        if (this.busy.has(keyString(head))) continue;
        if (head.next_at > now) {
          wakeAt = Math.min(wakeAt, head.next_at);
          continue;
        }
        const message = parseMessage(head.message);
        const expired = now - head.created_at >= this.settings.maxAgeMs;
        if (!message || expired) {
          // A damaged row is given up like an expired one: it must not block its recipient's queue.
          const reason = message ? `not delivered within maxAgeMs (${this.settings.maxAgeMs} ms)` : 'entry damaged on disk: message unreadable';
          this.finishFailed(toEntry(head), new Error(reason), head.attempts, now);
          again = true;
          continue;
        }
        const window = this.window(head, now);
        if (window.full) {
          wakeAt = Math.min(wakeAt, window.opensAt);
          // A summary waits for the window; notifications over the limit are held, to be summarised.
          if (head.kind === 'notification') this.hold(head, now);
          continue;
        }
        this.deliver({ ...toEntry(head), message });
      }
      if (again) this.wakeSoon();
    } catch (error) {
      // A disk error must not stop the worker for good: try again shortly.
      this.log.log('error', 'notification outbox pass failed', { error });
      wakeAt = now + 1_000;
    }
    this.timer = setTimeout(() => this.pump(), Math.max(1, wakeAt - now));
  }

  /** Sent in the recipient's current window (plus the send in flight); when it is full, when the oldest leaves it. */
  private window(key: RecipientKey, now: number): { full: boolean; opensAt: number } {
    const { windowMs, perRecipient } = this.settings.rateLimit;
    const sent = this.sql.sentSince.get(key.channel, key.address, now - windowMs) as { n: number; oldest: number | null };
    const used = sent.n + (this.busy.has(keyString(key)) ? 1 : 0);
    return { full: used >= perRecipient, opensAt: (sent.oldest ?? now) + windowMs };
  }

  private hold(key: RecipientKey, now: number): void {
    const held = Number(this.sql.hold.run(now, key.channel, key.address).changes);
    this.log.log('info', 'notifications held back by the recipient rate limit', { channel: key.channel, address: maskAddress(key.address), held });
  }

  /** Replaces the recipient's held notifications with one summary message, in one transaction. */
  private summarise(key: RecipientKey, now: number): void {
    let count = 0;
    this.transaction(() => {
      const held = this.sql.held.all(key.channel, key.address) as unknown as Row[];
      const first = held[0];
      const last = held.at(-1);
      if (!first || !last) return;
      count = held.length;
      const id = `summary-${first.id}-${last.id}`;
      const message = summaryMessage(
        held.map((row) => parseMessage(row.message)?.subject ?? '?'),
        last.language,
        this.settings.rateLimit,
        id,
      );
      const severity = EVENT_SEVERITIES[Math.max(...held.map((row) => EVENT_SEVERITIES.indexOf(row.severity)))] ?? 'info';
      // The summary takes the place of the first held one, ahead of anything queued for the recipient since.
      const row = this.sql.insert.get({
        seq: first.seq,
        kind: 'summary',
        notificationId: id,
        channel: key.channel,
        name: last.recipient_name,
        address: key.address,
        language: last.language,
        message: JSON.stringify(message),
        severity,
        now,
      }) as { id: number };
      this.sql.markSummarised.run(row.id, now, key.channel, key.address);
    });
    if (count > 0) this.log.log('info', 'held notifications summarised', { channel: key.channel, address: maskAddress(key.address), count });
  }

  private deliver(entry: OutboxEntry): void {
    const key = keyString({ channel: entry.channel, address: entry.recipient.address });
    this.busy.add(key);
    const run = this.attempt(entry).finally(() => {
      this.busy.delete(key);
      this.inFlight.delete(entry.id);
      this.wakeSoon();
    });
    this.inFlight.set(entry.id, run);
  }

  private async attempt(entry: OutboxEntry): Promise<void> {
    const channel = this.channels.get(entry.channel);
    let receipt: DeliveryReceipt;
    try {
      // A channel missing after a reload may come back with the next one: a retryable failure.
      if (!channel) throw new Error(`channel "${entry.channel}" is not configured`);
      receipt = await sendWithin(channel, entry, this.settings.timeoutMs, this.stopping.signal);
    } catch (error) {
      if (!this.closed) this.recordFailure(entry, error instanceof Error ? error : new Error(String(error)), channel !== undefined);
      return;
    }
    if (!this.closed) this.recordSuccess(entry, receipt);
  }

  private recordSuccess(entry: OutboxEntry, receipt: DeliveryReceipt): void {
    const now = Date.now();
    const attempts = entry.attempts + 1;
    this.sql.markSent.run(attempts, now, now, receipt.providerId ?? null, entry.id);
    this.log.log('info', 'notification delivered', { ...logFields(entry), attempts, providerId: receipt.providerId, segments: receipt.segments });
    this.channelSucceeded(entry.channel);
    const sent: OutboxEntry = { ...entry, state: 'sent', attempts, sentAt: now, updatedAt: now, ...(receipt.providerId ? { providerId: receipt.providerId } : {}) };
    this.notify('onDelivered', () => this.callbacks.onDelivered?.(sent, receipt));
  }

  private recordFailure(entry: OutboxEntry, error: Error, countsForHealth: boolean): void {
    const now = Date.now();
    const attempts = entry.attempts + 1;
    const masked = maskError(error, entry.recipient.address);
    const permanent = masked instanceof PermanentDeliveryError;
    if (permanent || attempts >= this.settings.maxAttempts || now - entry.createdAt >= this.settings.maxAgeMs) {
      this.finishFailed(entry, masked, attempts, now);
    } else {
      const nextAt = now + backoffDelay(this.settings.retry, attempts - 1);
      this.sql.markRetry.run(attempts, nextAt, now, masked.message, entry.id);
      this.log.log('warn', 'notification delivery failed, will retry', { ...logFields(entry), attempts, retryInMs: nextAt - now, error: masked.message });
    }
    if (countsForHealth) this.channelFailed(entry.channel, masked.message, now);
  }

  private finishFailed(entry: OutboxEntry, error: Error, attempts: number, now: number): void {
    this.sql.markFailed.run(attempts, now, error.message, entry.id);
    this.log.log('error', 'notification not delivered, given up', { ...logFields(entry), attempts, error: error.message, permanent: error instanceof PermanentDeliveryError });
    const failed: OutboxEntry = { ...entry, state: 'failed', attempts, updatedAt: now, lastError: error.message };
    this.notify('onFailed', () => this.callbacks.onFailed?.(failed, error));
  }

  /** Every failed attempt counts, a permanent one too: wrong credentials fail every message "permanently". */
  private channelFailed(channel: string, error: string, now: number): void {
    const health = this.health.get(channel) ?? { failures: 0, failingSince: now, unhealthy: false };
    health.failures++;
    const report = !health.unhealthy && (health.failures >= this.settings.health.failures || now - health.failingSince >= this.settings.health.failingMs);
    if (report) health.unhealthy = true;
    this.health.set(channel, health);
    // Stored, so that a recovery after a restart is still reported and the notifier can clear its alert.
    this.sql.healthSave.run(channel, health.failures, health.failingSince, health.unhealthy ? 1 : 0);
    if (!report) return;
    this.log.log('warn', 'notification channel unhealthy', { channel, failures: health.failures, failingForMs: now - health.failingSince, error });
    this.notify('onChannelHealth', () => this.callbacks.onChannelHealth?.(channel, false, error));
  }

  private channelSucceeded(channel: string): void {
    const health = this.health.get(channel);
    if (!health) return;
    this.health.delete(channel);
    this.sql.healthDelete.run(channel);
    if (!health.unhealthy) return;
    this.log.log('info', 'notification channel healthy again', { channel });
    this.notify('onChannelHealth', () => this.callbacks.onChannelHealth?.(channel, true));
  }

  /** A throwing callback is the caller's bug: logged, never allowed to stop the worker. */
  private notify(name: string, call: () => void): void {
    try {
      call();
    } catch (error) {
      this.log.log('error', `outbox ${name} callback failed`, { error });
    }
  }

  private transaction(body: () => void): void {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      body();
      this.db.exec('COMMIT');
    } catch (error) {
      this.db.exec('ROLLBACK');
      throw error;
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the notification outbox is closed');
  }
}

function prepare(db: DatabaseSync) {
  const s = (sql: string): StatementSync => db.prepare(sql);
  return {
    insert: s(`INSERT INTO entries (seq, kind, notification_id, channel, recipient_name, address, language, message, severity, state, created_at, next_at, updated_at)
      VALUES (COALESCE(:seq, (SELECT COALESCE(MAX(seq), 0) + 1 FROM entries)), :kind, :notificationId, :channel, :name, :address, :language, :message, :severity, 'pending', :now, :now, :now)
      RETURNING id`),
    countWaiting: s(`SELECT COUNT(*) AS n FROM entries WHERE state IN ('pending', 'held')`),
    oldestInfo: s(`SELECT id, channel FROM entries WHERE state IN ('pending', 'held') AND severity = 'info' AND kind = 'notification' ORDER BY seq, id LIMIT ?`),
    markRefused: s(`UPDATE entries SET state = 'refused', last_error = 'pushed out of the full outbox by a more severe notification', updated_at = ? WHERE id = ?`),
    countRefusal: s(`INSERT INTO refusals (channel, count) VALUES (?, 1) ON CONFLICT (channel) DO UPDATE SET count = count + 1`),
    // The first pending entry of each recipient, oldest first: later ones wait for it (order is kept).
    heads: s(`SELECT * FROM entries e WHERE state = 'pending' AND NOT EXISTS (
        SELECT 1 FROM entries p WHERE p.channel = e.channel AND p.address = e.address AND p.state = 'pending' AND (p.seq < e.seq OR (p.seq = e.seq AND p.id < e.id)))
      ORDER BY seq, id`),
    heldRecipients: s(`SELECT DISTINCT channel, address FROM entries WHERE state = 'held'`),
    pendingSummary: s(`SELECT 1 FROM entries WHERE channel = ? AND address = ? AND state = 'pending' AND kind = 'summary' LIMIT 1`),
    held: s(`SELECT * FROM entries WHERE channel = ? AND address = ? AND state = 'held' ORDER BY seq, id`),
    hold: s(`UPDATE entries SET state = 'held', updated_at = ? WHERE channel = ? AND address = ? AND state = 'pending' AND kind = 'notification'`),
    markSummarised: s(`UPDATE entries SET state = 'summarised', summary_id = ?, updated_at = ? WHERE channel = ? AND address = ? AND state = 'held'`),
    sentSince: s(`SELECT COUNT(*) AS n, MIN(sent_at) AS oldest FROM entries WHERE channel = ? AND address = ? AND sent_at > ?`),
    markSent: s(`UPDATE entries SET state = 'sent', attempts = ?, sent_at = ?, updated_at = ?, provider_id = ?, last_error = NULL WHERE id = ?`),
    markRetry: s(`UPDATE entries SET attempts = ?, next_at = ?, updated_at = ?, last_error = ? WHERE id = ?`),
    markFailed: s(`UPDATE entries SET state = 'failed', attempts = ?, updated_at = ?, last_error = ? WHERE id = ?`),
    countByState: s(`SELECT channel, state, COUNT(*) AS n FROM entries GROUP BY channel, state`),
    refusals: s(`SELECT channel, count FROM refusals`),
    listAll: s(`SELECT * FROM entries ORDER BY id DESC LIMIT ?`),
    listState: s(`SELECT * FROM entries WHERE state = ? ORDER BY id DESC LIMIT ?`),
    purge: s(`DELETE FROM entries WHERE state IN ('sent', 'failed', 'summarised', 'refused') AND updated_at < ?`),
    healthAll: s(`SELECT channel, failures, failing_since, unhealthy FROM channel_health`),
    healthSave: s(`INSERT OR REPLACE INTO channel_health (channel, failures, failing_since, unhealthy) VALUES (?, ?, ?, ?)`),
    healthDelete: s(`DELETE FROM channel_health WHERE channel = ?`),
  };
}

/** A message damaged on disk reads as subject '?': listing still works, the worker gives the entry up. */
function toEntry(row: Row): OutboxEntry {
  return {
    id: row.id,
    kind: row.kind,
    notificationId: row.notification_id,
    channel: row.channel,
    recipient: { name: row.recipient_name, address: row.address, language: row.language },
    message: parseMessage(row.message) ?? { id: row.notification_id, subject: '?', text: '', html: '', short: '' },
    severity: row.severity,
    state: row.state,
    attempts: row.attempts,
    createdAt: row.created_at,
    nextAt: row.next_at,
    updatedAt: row.updated_at,
    ...(row.sent_at !== null ? { sentAt: row.sent_at } : {}),
    ...(row.last_error !== null ? { lastError: row.last_error } : {}),
    ...(row.provider_id !== null ? { providerId: row.provider_id } : {}),
    ...(row.summary_id !== null ? { summaryId: row.summary_id } : {}),
  };
}

function parseMessage(text: string): OutgoingMessage | undefined {
  try {
    const parsed = messageSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

const logFields = (entry: OutboxEntry) => ({ entry: entry.id, notification: entry.notificationId, channel: entry.channel, recipient: entry.recipient.name, address: maskAddress(entry.recipient.address) });

/**
 * The channel's send, ended by the timeout or by close() whether or not the channel honours
 * the signal: a channel that hangs must not hold its recipient's queue forever.
 */
async function sendWithin(channel: NotificationChannel, entry: OutboxEntry, timeoutMs: number, stop: AbortSignal): Promise<DeliveryReceipt> {
  const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), stop]);
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new Error(stop.aborted ? 'outbox closed' : `no answer within ${timeoutMs} ms`));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  const sending = Promise.resolve().then(() => channel.send(entry.recipient, entry.message, signal));
  // Once the timeout has won, the channel's own late rejection is already accounted for.
  sending.catch(() => {});
  try {
    return await Promise.race([sending, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

// ---- Summary of held notifications -------------------------------------------------------

/** Longest `short` (SMS) text of a summary: one segment of GSM 7-bit text. */
export const SUMMARY_SHORT_MAX = 160;
const SUMMARY_LIST_MAX = 100;
const SUBJECT_MAX = 200;

const SUMMARY_TEXTS: Record<Language, { subject: (n: number) => string; intro: (limit: number, window: string) => string; more: (k: number) => string; units: [string, string, string] }> = {
  tr: {
    subject: (n) => `${n} bildirim bekletildi`,
    intro: (limit, window) => `Aynı alıcıya ${window} içinde en fazla ${limit} bildirim gönderilir; şu bildirimler bekletildi:`,
    more: (k) => `ve ${k} bildirim daha`,
    units: ['saat', 'dakika', 'saniye'],
  },
  en: {
    subject: (n) => `${n} notifications held back`,
    intro: (limit, window) => `At most ${limit} notifications go to one recipient per ${window}; these were held back:`,
    more: (k) => `and ${k} more`,
    units: ['h', 'min', 's'],
  },
};

/** The one message that replaces a recipient's held notifications, naming them by subject. */
export function summaryMessage(subjects: readonly string[], language: Language, limit: { perRecipient: number; windowMs: number }, id: string): OutgoingMessage {
  const texts = SUMMARY_TEXTS[language];
  const subject = texts.subject(subjects.length);
  const intro = texts.intro(limit.perRecipient, formatWindow(limit.windowMs, texts.units));
  const listed = subjects.slice(0, SUMMARY_LIST_MAX).map((s) => cut(s, SUBJECT_MAX));
  const rest = subjects.length - listed.length;
  const lines = [...listed, ...(rest > 0 ? [`… ${texts.more(rest)}`] : [])];
  return {
    id,
    subject,
    text: `${intro}\n${lines.map((line) => `- ${line}`).join('\n')}\n`,
    html: `<p>${escapeHtml(intro)}</p><ul>${lines.map((line) => `<li>${escapeHtml(line)}</li>`).join('')}</ul>`,
    short: fitList(`${subject}: `, subjects, SUMMARY_SHORT_MAX),
  };
}

function formatWindow(ms: number, [hours, minutes, seconds]: [string, string, string]): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000} ${hours}`;
  if (ms >= 60_000) return `${Math.round(ms / 60_000)} ${minutes}`;
  return `${Math.max(1, Math.round(ms / 1_000))} ${seconds}`;
}

/** `head` and as many whole items as fit in `max` characters, then "… +k" for the ones left out. */
function fitList(head: string, items: readonly string[], max: number): string {
  const suffix = (left: number) => (left > 0 ? ` … +${left}` : '');
  let body = '';
  for (const [i, item] of items.entries()) {
    const next = body ? `${body}; ${item}` : item;
    if ((head + next + suffix(items.length - i - 1)).length > max) {
      // Not even the first subject fits whole: show the start of it.
      if (!body) body = cut(item, max - head.length - suffix(items.length - 1).length);
      return head + body + suffix(items.length - (body ? i + 1 : i));
    }
    body = next;
  }
  return head + body;
}

function cut(text: string, max: number): string {
  const chars = Array.from(text);
  if (max <= 0) return '';
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// ---- Masking addresses (KVKK) -------------------------------------------------------------

/**
 * An address fit for logs and the API: `+90 5** *** 12 34`, `a***@belediye.gov.tr`, and for
 * a webhook only scheme and host (chat webhook paths carry their token). Anything else: `***`.
 */
export function maskAddress(address: string): string {
  const text = address.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    try {
      const url = new URL(text);
      return `${url.protocol}//${url.host}/***`;
    } catch {
      return '***';
    }
  }
  const at = text.lastIndexOf('@');
  if (at > 0 && at < text.length - 1) return `${Array.from(text)[0]}***@${text.slice(at + 1)}`;
  const compact = text.replace(/[\s().-]/g, '');
  if (/^\+?\d{7,15}$/.test(compact)) return maskPhone(compact);
  return '***';
}

function maskPhone(compact: string): string {
  const digits = compact.replace('+', '');
  // Turkish numbers as people write them: +90 5xx…, 90 5xx…, 0 5xx…, 5xx… (10 national digits).
  const national = digits.length === 12 && digits.startsWith('90') ? digits.slice(2) : digits.length === 11 && digits.startsWith('0') ? digits.slice(1) : digits.length === 10 && !compact.startsWith('+') ? digits : undefined;
  if (national) return `+90 ${national[0]}** *** ${national.slice(6, 8)} ${national.slice(8)}`;
  return `${compact.startsWith('+') ? '+' : ''}${digits.slice(0, 2)} ${'*'.repeat(digits.length - 6)} ${digits.slice(-4, -2)} ${digits.slice(-2)}`;
}

const EMAIL_IN_TEXT = /[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+/gu;
const PHONE_IN_TEXT = /\+?\d[\d ]{8,16}\d/g;

/** Masks the recipient's address and anything that looks like an e-mail address or a phone number (providers echo them in errors). */
export function maskInText(text: string, address?: string): string {
  const withoutAddress = address ? text.split(address).join(maskAddress(address)) : text;
  return withoutAddress.replace(EMAIL_IN_TEXT, (m) => maskAddress(m)).replace(PHONE_IN_TEXT, (m) => maskAddress(m));
}

function maskError(error: Error, address: string): Error {
  const message = maskInText(error.message, address);
  if (error instanceof PermanentDeliveryError) return message === error.message ? error : new PermanentDeliveryError(message);
  const masked = new Error(message);
  masked.name = error.name;
  return masked;
}
