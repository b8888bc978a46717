import { z } from 'zod';
import type { Point } from '../model/point.ts';
import { writeErrorFromNetwork, writeErrorFromStatus } from './http-status.ts';
import { encodeBatch } from './line-protocol.ts';
import { WriteError, type PointWriter } from './writer.ts';

// InfluxDB 1.x `/write` API (also served by 2.x and 3.x compatibility layers).

export const influxV1ConfigSchema = z.strictObject({
  type: z.literal('influx-v1'),
  url: z.url().default('http://127.0.0.1:8086'),
  database: z.string().min(1).default('monitoring'),
  retentionPolicy: z.string().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  timeoutMs: z.number().int().positive().default(10_000),
  createDatabase: z.boolean().default(true),
});
export type InfluxV1Config = z.infer<typeof influxV1ConfigSchema>;

export interface InfluxV1Writer extends PointWriter {
  ensureDatabase(): Promise<void>;
}

export function createInfluxV1Writer(config: InfluxV1Config): InfluxV1Writer {
  const base = config.url.replace(/\/+$/, '');
  const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
  if (config.username) headers.authorization = `Basic ${Buffer.from(`${config.username}:${config.password ?? ''}`).toString('base64')}`;
  const params = new URLSearchParams({ db: config.database, precision: 'ms' });
  if (config.retentionPolicy) params.set('rp', config.retentionPolicy);

  async function post(path: string, body: string): Promise<void> {
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, { method: 'POST', headers, body, signal: AbortSignal.timeout(config.timeoutMs) });
    } catch (error) {
      throw writeErrorFromNetwork('InfluxDB v1', error);
    }
    if (!response.ok) throw writeErrorFromStatus('InfluxDB v1', response.status, await response.text().catch(() => ''));
    await response.body?.cancel();
  }

  const ensureDatabase = () => post(`/query?${new URLSearchParams({ q: `CREATE DATABASE "${config.database.replace(/"/g, '')}"` })}`, '');

  return {
    name: 'influx-v1',
    async write(points: readonly Point[]) {
      const body = encodeBatch(points);
      try {
        await post(`/write?${params}`, body);
      } catch (error) {
        // A database that is missing (new or recreated server) is created once, when allowed.
        if (!(error instanceof WriteError && error.status === 404 && config.createDatabase)) throw error;
        await ensureDatabase();
        await post(`/write?${params}`, body);
      }
    },
    ensureDatabase,
    close: async () => {},
  };
}
