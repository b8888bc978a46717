import type { Point } from '../model/point.ts';

/** A destination for points: InfluxDB v1 `/write` or v2 `/api/v2/write`. */
export interface PointWriter {
  readonly name: string;
  /** Writes one batch; rejects with a WriteError. Same series + timestamp overwrites, so a retry is idempotent. */
  write(points: readonly Point[]): Promise<void>;
  close(): Promise<void>;
}

/** `retryable: false` means trying again cannot help (e.g. HTTP 400, a field type conflict). */
export class WriteError extends Error {
  override name = 'WriteError';
  readonly retryable: boolean;
  readonly status: number | undefined;
  /** A partial write: how many points of the batch the server dropped (it stored the rest). */
  readonly dropped: number | undefined;
  constructor(message: string, options: { retryable: boolean; status?: number | undefined; dropped?: number | undefined; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.retryable = options.retryable;
    this.status = options.status;
    this.dropped = options.dropped;
  }
}
