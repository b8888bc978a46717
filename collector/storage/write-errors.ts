import type { Point } from '../model/point.ts';
import { toLineProtocol } from './line-protocol.ts';
import { WriteError } from './writer.ts';

// One rule for both InfluxDB APIs: only failures that may pass by themselves are retried.
// 400 (bad line, field type conflict), 401/403 (credentials), 404 (no such database/bucket)
// and 413 (batch too large) will fail the same way again.
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/** InfluxDB 1.x answers a batch with a few bad points with "partial write: … dropped=N" and stores the rest. */
export function droppedByPartialWrite(body: string): number | undefined {
  const match = /partial write:.*dropped=(\d+)/s.exec(body);
  return match ? Number(match[1]) : undefined;
}

export function writeErrorFromStatus(api: string, status: number, body: string): WriteError {
  return new WriteError(`${api} write failed with HTTP ${status}: ${body.trim().slice(0, 300)}`, { retryable: isRetryableStatus(status), status, dropped: droppedByPartialWrite(body) });
}

/** Connection refused, reset, DNS, timeout: the server may be back soon. */
export function writeErrorFromNetwork(api: string, error: unknown): WriteError {
  const reason = (error as Error).name === 'TimeoutError' ? 'timed out' : ((error as { cause?: Error }).cause?.message ?? (error as Error).message);
  return new WriteError(`${api} write failed: ${reason}`, { retryable: true, cause: error });
}

/** Line protocol for a batch; a point that cannot be encoded refuses the batch for good (retrying cannot fix it). */
export function encodeBatch(api: string, points: readonly Point[]): string[] {
  return points.map((point, index) => {
    try {
      return toLineProtocol(point);
    } catch (error) {
      throw new WriteError(`${api} write refused before sending: point ${index}: ${(error as Error).message}`, { retryable: false, cause: error });
    }
  });
}
