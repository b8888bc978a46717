import { z } from 'zod';
import type { Point } from '../model/point.ts';
import { encodeBatch, writeErrorFromNetwork, writeErrorFromStatus } from './write-errors.ts';
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
  /**
   * Retention of a database this writer creates (KVKK: personal data is kept no longer than
   * needed; 400 days covers a year-on-year monthly report). An existing database keeps its own.
   */
  retentionDays: z.number().int().min(1).max(36_500).default(400),
});
export type InfluxV1Config = z.infer<typeof influxV1ConfigSchema>;

export interface InfluxV1Options {
  url: string;
  database: string;
  retentionPolicy?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
  timeoutMs: number;
  /**
   * HTTP 404 (database not found) is permanent unless the writer may create the database: then
   * it runs CREATE DATABASE once and writes again (a new or wiped server heals by itself).
   * Without this permission a missing database is a configuration error: not retryable.
   * Default true.
   */
  createDatabase?: boolean | undefined;
  /** Retention of the database when this writer creates it; none (infinite) when unset. */
  retentionDays?: number | undefined;
}

export interface InfluxV1Writer extends PointWriter {
  ensureDatabase(): Promise<void>;
}

const API = 'InfluxDB v1';
const quoteIdentifier = (name: string) => `"${name.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

export function createInfluxV1Writer(options: InfluxV1Options): InfluxV1Writer {
  const base = options.url.replace(/\/+$/, '');
  // The credentials live only in this header; error messages carry InfluxDB's text, never it.
  const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
  if (options.username) headers.authorization = `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}`;
  const params = new URLSearchParams({ db: options.database, precision: 'ms' });
  if (options.retentionPolicy) params.set('rp', options.retentionPolicy);

  async function post(path: string, body: string): Promise<void> {
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, { method: 'POST', headers, body, signal: AbortSignal.timeout(options.timeoutMs) });
    } catch (error) {
      throw writeErrorFromNetwork(API, error);
    }
    if (!response.ok) throw writeErrorFromStatus(API, response.status, await response.text().catch(() => ''));
    await response.body?.cancel();
  }

  const retention = options.retentionDays ? ` WITH DURATION ${options.retentionDays}d` : '';
  const ensureDatabase = () => post(`/query?${new URLSearchParams({ q: `CREATE DATABASE ${quoteIdentifier(options.database)}${retention}` })}`, '');

  return {
    name: 'influx-v1',
    async write(points: readonly Point[]) {
      if (points.length === 0) return;
      const body = encodeBatch(API, points).join('\n');
      try {
        await post(`/write?${params}`, body);
      } catch (error) {
        if (!(error instanceof WriteError && error.status === 404 && options.createDatabase !== false)) throw error;
        await ensureDatabase();
        await post(`/write?${params}`, body);
      }
    },
    ensureDatabase,
    close: async () => {},
  };
}
