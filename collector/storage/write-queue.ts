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
  private firstQueuedAt = 0;
  private closing = false;
  private giveUp = new AbortController();
  private wake: (() => void) | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly pump: Promise<void>;
  private readonly counters = { written: 0, dropped: 0, writeErrors: 0, quarantined: 0, batchesWritten: 0, lastWriteLatencyMs: null as number | null };

  constructor(options: WriteQueueOptions) {
    this.options = options;
    this.pump = this.run();
  }

  /** Queues points; false (and counted as dropped) when they do not fit under the bound. */
  enqueue(points: readonly Point[]): boolean {
    if (points.length === 0) return true;
    if (this.closing || this.depth() + points.length > this.options.maxPoints) {
      this.counters.dropped += points.length;
      return false;
    }
    const wasEmpty = this.pending.length === 0;
    if (wasEmpty) this.firstQueuedAt = Date.now();
    for (const point of points) this.pending.push(point);
    // Wake the pump to start the flush timer, or to write at once when a batch is full.
    if (wasEmpty || this.pending.length >= this.options.batchSize) this.wake?.();
    return true;
  }

  stats(): WriteQueueStats {
    return { depth: this.depth(), ...this.counters };
  }

  /** Resolves once everything queued before the call has been written or quarantined. */
  flush(): Promise<void> {
    if (this.depth() === 0) return Promise.resolve();
    this.firstQueuedAt = 0;
    this.wake?.();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops accepting, writes what it holds, and gives up after `deadlineMs` if storage stays down. */
  async close(deadlineMs = 15_000): Promise<void> {
    this.closing = true;
    const timer = setTimeout(() => this.giveUp.abort(), deadlineMs);
    this.wake?.();
    await this.pump;
    clearTimeout(timer);
  }

  private depth(): number {
    return this.pending.length + this.inFlight;
  }

  private async run(): Promise<void> {
    for (;;) {
      if (this.pending.length === 0) {
        for (const resolve of this.idleWaiters.splice(0)) resolve();
        if (this.closing) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
      const dueIn = this.firstQueuedAt + this.options.flushIntervalMs - Date.now();
      if (!this.closing && this.pending.length < this.options.batchSize && dueIn > 0 && this.idleWaiters.length === 0) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, dueIn);
        });
        continue;
      }
      const batch = this.pending.splice(0, this.options.batchSize);
      this.inFlight = batch.length;
      this.firstQueuedAt = Date.now();
      await this.writeWithRetry(batch);
      this.inFlight = 0;
      if (this.giveUp.signal.aborted) {
        this.counters.dropped += this.pending.length;
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
        const error = caught instanceof WriteError ? caught : new WriteError(String(caught), { retryable: true, cause: caught });
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
