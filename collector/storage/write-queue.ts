import { backoffDelay, sleep, type BackoffPolicy } from '../../src/retry.ts';
import type { Point } from '../model/point.ts';
import { WriteError, type PointWriter } from './writer.ts';

// The bounded batching queue between ingest and storage. One batch is in flight at a time, so
// points land in order; a retryable failure retries the same batch with backoff while new points
// queue up to the bound; a permanent refusal (HTTP 400) is quarantined instead of blocking.
// When full it refuses the new points and counts them: memory never grows without bound.

export interface WriteQueueOptions {
  writer: PointWriter;
  maxPoints: number;
  batchSize: number;
  /** The longest a partial batch waits before it is written. */
  flushIntervalMs: number;
  retry: BackoffPolicy;
  onQuarantine?: (points: readonly Point[], error: WriteError) => void;
  onWritten?: (count: number, latencyMs: number) => void;
  onRetry?: (error: WriteError, attempt: number) => void;
}

export interface WriteQueueStats {
  depth: number;
  written: number;
  dropped: number;
  writeErrors: number;
  quarantined: number;
  batchesWritten: number;
  lastWriteLatencyMs: number | null;
}

export class WriteQueue {
  private readonly options: WriteQueueOptions;
  private pending: Point[] = [];
  private inFlight = 0;
  /** Points ever accepted, and how many of those are done (written, quarantined or given up). */
  private accepted = 0;
  private settled = 0;
  private oldestQueuedAt = 0;
  private closing = false;
  private readonly giveUp = new AbortController();
  private wake: (() => void) | undefined;
  private flushWaiters: { upTo: number; resolve: () => void }[] = [];
  private readonly pump: Promise<void>;
  private readonly counters = { written: 0, dropped: 0, writeErrors: 0, quarantined: 0, batchesWritten: 0, lastWriteLatencyMs: null as number | null };

  constructor(options: WriteQueueOptions) {
    this.options = options;
    this.pump = this.run();
  }

  /** Queues points; false (and counted as dropped) when they do not fit under the bound or the queue is closing. */
  enqueue(points: readonly Point[]): boolean {
    if (points.length === 0) return true;
    if (this.closing || this.depth() + points.length > this.options.maxPoints) {
      this.counters.dropped += points.length;
      return false;
    }
    if (this.pending.length === 0) this.oldestQueuedAt = Date.now();
    for (const point of points) this.pending.push(point);
    this.accepted += points.length;
    // Wake the pump to start the interval timer, or to write at once when a batch is full.
    if (this.pending.length === points.length || this.pending.length >= this.options.batchSize) this.wakeUp();
    return true;
  }

  stats(): WriteQueueStats {
    return { depth: this.depth(), ...this.counters };
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

  /** Stops accepting, writes what it holds, and gives up after `deadlineMs` if storage stays down (counted as dropped). */
  async close(deadlineMs = 15_000): Promise<void> {
    this.closing = true;
    const timer = setTimeout(() => this.giveUp.abort(), deadlineMs);
    this.wakeUp();
    await this.pump;
    clearTimeout(timer);
  }

  private depth(): number {
    return this.pending.length + this.inFlight;
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
    if (this.closing || this.flushWaiters.length > 0 || this.pending.length >= this.options.batchSize) return 0;
    return this.oldestQueuedAt + this.options.flushIntervalMs - Date.now();
  }

  private settle(count: number): void {
    this.settled += count;
    this.flushWaiters = this.flushWaiters.filter((waiter) => (waiter.upTo <= this.settled ? (waiter.resolve(), false) : true));
  }

  private async run(): Promise<void> {
    for (;;) {
      if (this.pending.length === 0) {
        if (this.closing) return;
        await this.sleepUntilWoken();
        continue;
      }
      const dueIn = this.dueIn();
      if (dueIn > 0) {
        await this.sleepUntilWoken(dueIn);
        continue;
      }
      const batch = this.pending.splice(0, this.options.batchSize);
      this.inFlight = batch.length;
      // What is left gets at most one more interval (it is written at once if a batch is full).
      this.oldestQueuedAt = Date.now();
      await this.writeWithRetry(batch);
      this.inFlight = 0;
      this.settle(batch.length);
      if (this.giveUp.signal.aborted) {
        this.counters.dropped += this.pending.length;
        this.settle(this.pending.length);
        this.pending = [];
      }
    }
  }

  private async writeWithRetry(batch: Point[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      try {
        await this.options.writer.write(batch);
        const latency = performance.now() - started;
        this.counters.written += batch.length;
        this.counters.batchesWritten++;
        this.counters.lastWriteLatencyMs = latency;
        this.options.onWritten?.(batch.length, latency);
        return;
      } catch (caught) {
        // Writers wrap every failure they expect; anything else is a bug that retrying would
        // turn into a blocked pipeline, so it is quarantined and reported instead.
        const error = caught instanceof WriteError ? caught : new WriteError(`writer ${this.options.writer.name} failed unexpectedly: ${String(caught)}`, { retryable: false, cause: caught });
        this.counters.writeErrors++;
        if (!error.retryable) {
          this.counters.quarantined += batch.length;
          this.options.onQuarantine?.(batch, error);
          return;
        }
        if (this.giveUp.signal.aborted) {
          this.counters.dropped += batch.length;
          return;
        }
        this.options.onRetry?.(error, attempt);
        await sleep(backoffDelay(this.options.retry, attempt), this.giveUp.signal);
      }
    }
  }
}
