import { HttpError, InfluxDB, setLogger } from '@influxdata/influxdb-client';
import { z } from 'zod';
import type { Point } from '../model/point.ts';
import { writeErrorFromNetwork, writeErrorFromStatus } from './http-status.ts';
import { toLineProtocol } from './line-protocol.ts';
import type { PointWriter } from './writer.ts';

// InfluxDB v2 write API (`/api/v2/write`) through the official client: InfluxDB 2.x, 3.x and
// 1.8+. The client's own buffering and retries are switched off: the write queue owns both,
// so there is one bound and one retry policy.

export const influxV2ConfigSchema = z.strictObject({
  type: z.literal('influx-v2'),
  url: z.url(),
  token: z.string().default(''),
  org: z.string().min(1),
  bucket: z.string().min(1).default('monitoring'),
  timeoutMs: z.number().int().positive().default(10_000),
});
export type InfluxV2Config = z.infer<typeof influxV2ConfigSchema>;

// The client logs failed writes to the console itself; the queue reports them through our logger.
setLogger({ error: () => {}, warn: () => {} });

export function createInfluxV2Writer(config: InfluxV2Config): PointWriter {
  const client = new InfluxDB({ url: config.url, token: config.token, timeout: config.timeoutMs });

  return {
    name: 'influx-v2',
    async write(points: readonly Point[]) {
      // The client preallocates its batch buffer: size it to this batch, one request per batch.
      const size = points.length + 1;
      const api = client.getWriteApi(config.org, config.bucket, 'ms', { batchSize: size, maxBufferLines: size, flushInterval: 0, maxRetries: 0 });
      api.writeRecords(points.map(toLineProtocol));
      try {
        await api.close();
      } catch (error) {
        if (error instanceof HttpError) throw writeErrorFromStatus('InfluxDB v2', error.statusCode, error.body ?? error.message);
        throw writeErrorFromNetwork('InfluxDB v2', error);
      }
    },
    close: async () => {},
  };
}
