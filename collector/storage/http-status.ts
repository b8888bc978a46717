import { WriteError } from './writer.ts';

// One rule for both InfluxDB APIs: only failures that may pass by themselves are retried.
// 400 (bad line, field type conflict), 401/403 (credentials), 404 (no such database/bucket)
// and 413 (batch too large) will fail the same way again.
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

export function writeErrorFromStatus(api: string, status: number, body: string): WriteError {
  return new WriteError(`${api} write failed with HTTP ${status}: ${body.slice(0, 300)}`, { retryable: isRetryableStatus(status), status });
}

export function writeErrorFromNetwork(api: string, error: unknown): WriteError {
  const reason = (error as Error).name === 'TimeoutError' ? 'timed out' : ((error as { cause?: Error }).cause?.message ?? (error as Error).message);
  return new WriteError(`${api} write failed: ${reason}`, { retryable: true, cause: error });
}
