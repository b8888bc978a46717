// Exponential backoff with full jitter: reconnecting fleets must not hit a recovering
// server in lock-step.

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  factor?: number;
}

/** Delay before attempt `attempt` (0-based), drawn uniformly from [base/2, base]. */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(policy.maxMs, policy.initialMs * (policy.factor ?? 2) ** Math.max(0, attempt));
  return Math.round(base / 2 + random() * (base / 2));
}

export interface RetryOptions extends BackoffPolicy {
  attempts: number;
  /** Return false for errors that will not go away by trying again (e.g. HTTP 400). */
  retryable?: (error: unknown) => boolean;
  signal?: AbortSignal;
}

export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  let lastError: unknown;
  for (let attempt = 0; attempt < options.attempts; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      lastError = error;
      if (options.retryable && !options.retryable(error)) throw error;
      if (attempt + 1 >= options.attempts || options.signal?.aborted) break;
      await sleep(backoffDelay(options, attempt), options.signal);
    }
  }
  throw lastError;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
