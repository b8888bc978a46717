import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Point } from '../collector/model/point.ts';
import { createInfluxV1Writer } from '../collector/storage/influx-v1.ts';
import { createInfluxV2Writer } from '../collector/storage/influx-v2.ts';
import { WriteError } from '../collector/storage/writer.ts';
import { startHttpStub, type HttpStub } from './helpers/loopback-stubs.ts';
import { startInfluxDB, startVictoriaMetrics, type InfluxServer } from './helpers/servers.ts';
import { describeWriterContract } from './helpers/writer-contract.ts';

const influxString = (s: string) => `'${s.replace(/[\\']/g, (c) => `\\${c}`)}'`;
const promString = (s: string) => JSON.stringify(s);

describeWriterContract('InfluxDB v1 writer → influxdb 1.6.7', { fieldTypes: true }, async () => {
  const influx = await startInfluxDB();
  const v1 = (url: string, timeoutMs: number) => createInfluxV1Writer({ url, database: 'monitoring', timeoutMs });
  const select = (field: string, device: string) => influx.query('monitoring', `SELECT "${field}" FROM cpu WHERE device = ${influxString(device)} GROUP BY *`);
  return {
    stop: () => influx.stop(),
    backend: {
      // No CREATE DATABASE beforehand: the writer creates it on the first 404.
      writer: () => v1(influx.url, 5000),
      writerFor: v1,
      read: async (field, device) =>
        (await select(field, device))
          .flatMap((s) => s.values.map((v) => ({ time: v[0] as number, value: v[1] as number, tags: Object.fromEntries(Object.entries(s.tags ?? {}).filter(([, t]) => t !== '')) })))
          .sort((a, b) => a.time - b.time),
      readStrings: async (field, device) => (await select(field, device)).flatMap((s) => s.values.map((v) => v[1] as string)),
    },
  };
});

// VictoriaMetrics implements /api/v2/write and ignores org and token; it stores `<measurement>_<field>`
// series and keeps no strings. Its helper runs with deduplication, so a rewrite overwrites as in InfluxDB.
describeWriterContract('InfluxDB v2 writer (@influxdata/influxdb-client) → victoria-metrics', { fieldTypes: false }, async () => {
  const vm = await startVictoriaMetrics();
  const v2 = (url: string, timeoutMs: number) => createInfluxV2Writer({ url, token: 'ignored-by-vm', org: 'belediye', bucket: 'monitoring', timeoutMs });
  return {
    stop: () => vm.stop(),
    backend: {
      writer: () => v2(vm.url, 5000),
      writerFor: v2,
      read: async (field, device) =>
        (await vm.exportSeries(`{__name__=${promString(`cpu_${field}`)},device=${promString(device)}}`))
          .flatMap(({ metric, values, timestamps }) => {
            const { __name__: _, ...tags } = metric;
            return values.map((value, i) => ({ time: timestamps[i]!, value, tags }));
          })
          .sort((a, b) => a.time - b.time),
    },
  };
});

const point: Point = { measurement: 'cpu', tags: { site: 'merkez', device: 'srv1', kind: 'server' }, fields: { usage_pct: 5 }, time: Date.UTC(2026, 0, 5) };

describe('InfluxDB v1 writer: database handling', () => {
  let influx: InfluxServer;
  beforeAll(async () => {
    influx = await startInfluxDB();
  });
  afterAll(async () => influx?.stop());

  it('creates a missing database on the first write (404) and writes the batch', async () => {
    await createInfluxV1Writer({ url: influx.url, database: 'yeni_db', timeoutMs: 5000 }).write([point]);
    expect((await influx.query('yeni_db', 'SELECT usage_pct FROM cpu'))[0]?.values).toEqual([[point.time, 5]]);
  });

  it('without permission to create it, reports a missing database as a permanent 404', async () => {
    const error = await createInfluxV1Writer({ url: influx.url, database: 'olmayan', timeoutMs: 5000, createDatabase: false })
      .write([point])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WriteError);
    expect(error).toMatchObject({ retryable: false, status: 404 });
    expect((error as Error).message).toMatch(/database not found/);
  });

  it('creates the database with the configured retention', async () => {
    const writer = createInfluxV1Writer({ url: influx.url, database: 'saklama', timeoutMs: 5000, retentionDays: 30 });
    await writer.write([{ ...point, time: Date.now() }]);
    // Older than the retention is refused for good (the write queue quarantines it, counted).
    await expect(writer.write([{ ...point, time: Date.now() - 31 * 86_400_000 }])).rejects.toMatchObject({ retryable: false, message: expect.stringMatching(/beyond retention policy/) });
    const policies = await influx.query('saklama', 'SHOW RETENTION POLICIES ON saklama');
    expect(policies[0]?.values.find((row) => row[4] === true)?.[1]).toBe('720h0m0s');
  });

  it('ensureDatabase() is idempotent', async () => {
    const w = createInfluxV1Writer({ url: influx.url, database: 'iki "kez"', timeoutMs: 5000 });
    await w.ensureDatabase();
    await w.ensureDatabase();
    await w.write([point]);
    expect(await influx.query('iki "kez"', 'SELECT count(usage_pct) FROM cpu')).toHaveLength(1);
  });
});

describe('request shape (recorded by a loopback HTTP server)', () => {
  let stub: HttpStub;
  beforeAll(async () => {
    stub = await startHttpStub();
  });
  afterAll(async () => stub?.close());

  it('v1 posts ms-precision line protocol to /write with db, rp and basic auth; the password never shows in errors', async () => {
    const w = createInfluxV1Writer({ url: `${stub.url}/`, database: 'monitoring', retentionPolicy: '90gün', username: 'collector', password: 's3cr3t-parola', timeoutMs: 2000 });
    stub.answer(204);
    await w.write([point, point]);
    const request = stub.requests.at(-1)!;
    const url = new URL(request.url, stub.url);
    expect(request.method).toBe('POST');
    expect(url.pathname).toBe('/write');
    expect(Object.fromEntries(url.searchParams)).toEqual({ db: 'monitoring', precision: 'ms', rp: '90gün' });
    expect(request.headers.authorization).toBe(`Basic ${Buffer.from('collector:s3cr3t-parola').toString('base64')}`);
    expect(request.body.split('\n')).toHaveLength(2);
    stub.answer(401, '{"error":"authorization failed"}');
    const error = (await w.write([point]).catch((e: unknown) => e)) as WriteError;
    expect(error).toMatchObject({ retryable: false, status: 401 });
    expect(`${error.message} ${String(error.cause)} ${JSON.stringify(error)}`).not.toMatch(/s3cr3t|Basic /);
  });

  it('v2 posts to /api/v2/write with org, bucket, ms precision and the token', async () => {
    stub.answer(204);
    await createInfluxV2Writer({ url: stub.url, token: 'tok-123', org: 'belediye', bucket: 'monitoring', timeoutMs: 2000 }).write([point]);
    const request = stub.requests.at(-1)!;
    const url = new URL(request.url, stub.url);
    expect(url.pathname).toBe('/api/v2/write');
    expect(Object.fromEntries(url.searchParams)).toEqual({ org: 'belediye', bucket: 'monitoring', precision: 'ms' });
    expect(request.headers.authorization).toBe('Token tok-123');
    expect(request.body).toBe(`cpu,device=srv1,kind=server,site=merkez usage_pct=5 ${point.time}`);
  });
});
