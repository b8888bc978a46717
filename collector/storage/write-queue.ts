import { backoffDelay, sleep, type BackoffPolicy } from '../../src/retry.ts';
import type { Point } from '../model/point.ts';
import type { Spool } from './spool.ts';
import { WriteError, type PointWriter } from './writer.ts';

// The bounded batching queue between ingest and storage, kept in the durable spool. One batch
// is in flight at a time, so points land in order; a retryable failure retries the same batch
// with backoff while new points queue up to the bound; a permanent refusal (HTTP 400) is
// quarantined instead of blocking. Rows leave the spool only after storage took them, so a
// crash mid-write replays the batch on restart: the same series + timestamp overwrite in
// InfluxDB, so replay never duplicates. When full it refuses new points and counts them.

/** Rejection of a write abandoned because close() gave up; never a storage error. */
const GAVE_UP = Symbol('gave up');

export interface WriteQueueOptions {
  writer: PointWriter;
  spool: Spool;
  maxPoints: number;
  batchSize: number;
  /** The longest a partial batch waits before it is written. */
  flushIntervalMs: number;
  retry: BackoffPolicy;
  onQuarantine?: (points: readonly Point[], error: WriteError) => void;
  onWritten?: (count: number, latencyMs: number) => void;
  onRetry?: (error: WriteError, attempt: number) => void;
  /** The spool refused an append (disk full, I/O error): the points are counted as dropped. */
  onSpoolError?: (error: Error) => void;
  /** The queue became full (true) or has room again (false): an alert-ready state. */
  onFullChange?: (full: boolean) => void;
}

export interface WriteQueueStats {
  depth: number;
  spoolBytes: number;
  /** Refusing new points since the bound was hit, until the depth is back under 90 %. */
  full: boolean;
  written: number;
  dropped: number;
  writeErrors: number;
  quarantined: number;
  /** Rows of the spool that could not be read back (damaged on disk). */
  unreadable: number;
  batchesWritten: number;
  lastWriteLatencyMs: number | null;
}

export class WriteQueue {
  private readonly options: WriteQueueOptions;
  private readonly spool: Spool;
  /** The spool row up to which batches were taken; rows after it wait. */
  private takenUpTo = 0;
  private inFlight = 0;
  private full = false;
  /** Points accepted (including those found in the spool at start), and how many of those are done. */
  private accepted: number;
  private settled = 0;
  private oldestQueuedAt = 0;
  private closing = false;
  /** Between a failed write and its retry (sleeping the backoff). */
  private retrying = false;
  private readonly giveUp = new AbortController();
  private wake: (() => void) | undefined;
  private flushWaiters: { upTo: number; resolve: () => void }[] = [];
  private readonly pump: Promise<void>;
  private readonly counters = { written: 0, dropped: 0, writeErrors: 0, quarantined: 0, unreadable: 0, batchesWritten: 0, lastWriteLatencyMs: null as number | null };

  constructor(options: WriteQueueOptions) {
    this.options = options;
    this.spool = options.spool;
    // What an earlier run left in the spool is due at once.
    this.accepted = this.spool.depth;
    this.pump = this.run();
  }

  /** Queues points; false (and counted as dropped) when they do not fit under the bound or the queue is closing. */
  enqueue(points: readonly Point[]): boolean {
    if (points.length === 0) return true;
    if (this.closing || this.spool.depth + points.length > this.options.maxPoints) {
      if (!this.closing) this.setFull(true);
      this.counters.dropped += points.length;
      return false;
    }
    const wasEmpty = this.waiting() === 0;
    try {
      this.spool.append(points);
    } catch (error) {
      this.counters.dropped += points.length;
      this.options.onSpoolError?.(error as Error);
      return false;
    }
    if (wasEmpty) this.oldestQueuedAt = Date.now();
    this.accepted += points.length;
    // Wake the pump to start the interval timer, or to write at once when a batch is full.
    if (wasEmpty || this.waiting() >= this.options.batchSize) this.wakeUp();
    return true;
  }

  stats(): WriteQueueStats {
    return { depth: this.spool.depth, spoolBytes: this.spool.sizeBytes, full: this.full, ...this.counters };
  }

  /**
   * Writes what is queued now without waiting for the interval, and resolves once those points
   * are written or quarantined (points queued later do not hold it up). Retryable failures are
   * retried until they pass or close() gives up.
   */
  flush(): Promise<void> {
    if (this.settled >= this.accepted) return Promise.resolve();
    return new Promise((resolve) => {
      this.flushWaiters.push({ upTo: this.accepted, resolve });
      this.wakeUp();
    });
  }

  /**
   * Stops accepting, writes what it holds, and gives up after `deadlineMs` if storage stays
   * down: a durable spool keeps the rest for the next start, an in-memory one counts it as dropped.
   * A durable spool also gives up at the first failed write: everything is already on disk, and
   * retrying a down storage would only hold the stop up. A write still hanging at the deadline is
   * left behind (its rows stay in the spool; a replay overwrites the same points, never duplicates).
   */
  async close(deadlineMs = 15_000): Promise<void> {
    this.closing = true;
    if (this.retrying && this.spool.durable) this.giveUp.abort();
    const timer = setTimeout(() => this.giveUp.abort(), deadlineMs);
    this.wakeUp();
    await this.pump;
    clearTimeout(timer);
  }

  /** Points in the spool not yet taken into a batch. */
  private waiting(): number {
    return this.spool.depth - this.inFlight;
  }

  private setFull(full: boolean): void {
    if (this.full === full) return;
    this.full = full;
    this.options.onFullChange?.(full);
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private sleepUntilWoken(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      this.wake = done;
      function done() {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  /** Milliseconds until the next batch is due: now when one is full, a flush waits or we close. */
  private dueIn(): number {
    if (this.closing || this.flushWaiters.length > 0 || this.waiting() >= this.options.batchSize) return 0;
    return this.oldestQueuedAt + this.options.flushIntervalMs - Date.now();
  }

  private settle(count: number): void {
    this.settled += count;
    this.flushWaiters = this.flushWaiters.filter((waiter) => (waiter.upTo <= this.settled ? (waiter.resolve(), false) : true));
  }

  private async run(): Promise<void> {
    for (;;) {
      if (this.waiting() === 0) {
        if (this.closing) return;
        await this.sleepUntilWoken();
        continue;
      }
      const dueIn = this.dueIn();
      if (dueIn > 0) {
        await this.sleepUntilWoken(dueIn);
        continue;
      }
      const batch = this.spool.readBatch(this.takenUpTo, this.options.batchSize);
      if (!batch) throw new Error('spool depth and rows disagree'); // only another writer to the file could cause it
      const size = batch.points.length + batch.unreadable;
      this.counters.unreadable += batch.unreadable;
      this.inFlight = size;
      // What is left gets at most one more interval (it is written at once if a batch is full).
      this.oldestQueuedAt = Date.now();
      const done = batch.points.length === 0 || (await this.writeWithRetry(batch.points));
      this.inFlight = 0;
      this.takenUpTo = batch.lastId;
      if (done || !this.spool.durable) this.spool.remove(batch.lastId);
      if (!done && !this.spool.durable) this.counters.dropped += batch.points.length;
      this.settle(size);
      if (this.full && this.spool.depth < this.options.maxPoints * 0.9) this.setFull(false);
      if (this.giveUp.signal.aborted) {
        // Storage stayed down past the close deadline: a durable spool keeps the rest for the next start.
        const left = this.waiting();
        if (!this.spool.durable) {
          this.counters.dropped += left;
          this.spool.remove(Number.MAX_SAFE_INTEGER);
        }
        this.settle(left);
        return;
      }
    }
  }

  /** The write, or GAVE_UP as soon as close() gives up: a write hanging on a stalled storage cannot hold the stop. */
  private untilGivenUp(write: Promise<void>): Promise<void> {
    const signal = this.giveUp.signal;
    if (signal.aborted) {
      write.catch(() => {});
      return Promise.reject(GAVE_UP);
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(GAVE_UP);
      signal.addEventListener('abort', onAbort, { once: true });
      write.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** True when the batch is done with (written or quarantined); false when given up at close. */
  private async writeWithRetry(batch: Point[]): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      try {
        await this.untilGivenUp(this.options.writer.write(batch));
        const latency = performance.now() - started;
        this.counters.written += batch.length;
        this.counters.batchesWritten++;
        this.counters.lastWriteLatencyMs = latency;
        this.options.onWritten?.(batch.length, latency);
        return true;
      } catch (caught) {
        if (caught === GAVE_UP) return false;
        // Writers wrap every failure they expect; anything else is a bug that retrying would
        // turn into a blocked pipeline, so it is quarantined and reported instead.
        const error = caught instanceof WriteError ? caught : new WriteError(`writer ${this.options.writer.name} failed unexpectedly: ${String(caught)}`, { retryable: false, cause: caught });
        this.counters.writeErrors++;
        if (!error.retryable) {
          // A partial write stored all but the dropped points: count each side as it is.
          const dropped = Math.min(error.dropped ?? batch.length, batch.length);
          this.counters.written += batch.length - dropped;
          this.counters.quarantined += dropped;
          this.options.onQuarantine?.(batch, error);
          return true;
        }
        if (this.closing && this.spool.durable) this.giveUp.abort();
        if (this.giveUp.signal.aborted) return false;
        this.options.onRetry?.(error, attempt);
        this.retrying = true;
        await sleep(backoffDelay(this.options.retry, attempt), this.giveUp.signal);
        this.retrying = false;
        if (this.giveUp.signal.aborted) return false;
      }
    }
  }
}
