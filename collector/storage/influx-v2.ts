import { HttpError, InfluxDB, setLogger } from '@influxdata/influxdb-client';
import { z } from 'zod';
import type { Point } from '../model/point.ts';
import { encodeBatch, writeErrorFromNetwork, writeErrorFromStatus } from './write-errors.ts';
import type { PointWriter } from './writer.ts';

// InfluxDB v2 write API (`/api/v2/write`) through the official client: InfluxDB 2.x, 3.x and
// 1.8+, and VictoriaMetrics (which ignores org and token). The client's own buffering and retries
// are switched off: the write queue owns both, so there is one bound and one retry policy.

export const influxV2ConfigSchema = z.strictObject({
  type: z.literal('influx-v2'),
  url: z.url(),
  token: z.string().default(''),
  org: z.string().min(1),
  bucket: z.string().min(1).default('monitoring'),
  timeoutMs: z.number().int().positive().default(10_000),
});
export type InfluxV2Config = z.infer<typeof influxV2ConfigSchema>;

export interface InfluxV2Options {
  url: string;
  token: string;
  org: string;
  bucket: string;
  timeoutMs: number;
}

const API = 'InfluxDB v2';

// The client logs failed writes to the console itself; the queue reports them through our logger.
setLogger({ error: () => {}, warn: () => {} });

export function createInfluxV2Writer(options: InfluxV2Options): PointWriter {
  const client = new InfluxDB({ url: options.url, token: options.token, timeout: options.timeoutMs });

  return {
    name: 'influx-v2',
    async write(points: readonly Point[]) {
      if (points.length === 0) return;
      const lines = encodeBatch(API, points);
      // The client preallocates its batch buffer: size it to this batch, one request per batch.
      const size = lines.length + 1;
      const api = client.getWriteApi(options.org, options.bucket, 'ms', { batchSize: size, maxBufferLines: size, flushInterval: 0, maxRetries: 0 });
      api.writeRecords(lines);
      try {
        await api.close();
      } catch (error) {
        if (error instanceof HttpError) throw writeErrorFromStatus(API, error.statusCode, error.body ?? error.message);
        throw writeErrorFromNetwork(API, error);
      }
    },
    close: async () => {},
  };
}
