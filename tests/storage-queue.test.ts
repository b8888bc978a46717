import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Point } from '../collector/model/point.ts';
import { createInfluxV1Writer } from '../collector/storage/influx-v1.ts';
import { WriteQueue } from '../collector/storage/write-queue.ts';
import type { WriteError } from '../collector/storage/writer.ts';
import { startInfluxDB, waitFor, type InfluxServer } from './helpers/servers.ts';

const t0 = Date.now() - 60_000;
const points = (from: number, count: number, device = 'srv01'): Point[] =>
  Array.from({ length: count }, (_, i) => ({ measurement: 'cpu', tags: { site: 'merkez', device, kind: 'server' }, fields: { usage_pct: (from + i) % 100 }, time: t0 + from + i }));

describe('WriteQueue against a real InfluxDB', () => {
  let influx: InfluxServer;
  beforeAll(async () => {
    influx = await startInfluxDB();
    await influx.createDatabase('monitoring');
  });
  afterAll(async () => influx?.stop());

  const writer = () => createInfluxV1Writer({ url: influx.url, database: 'monitoring', timeoutMs: 2000 });
  const count = async (device: string) => Number((await influx.query('monitoring', `SELECT count(usage_pct) FROM cpu WHERE device = '${device}'`))[0]?.values[0]?.[1] ?? 0);

  it('writes a stream in batches and everything arrives once across an InfluxDB outage', async () => {
    const queue = new WriteQueue({ writer: writer(), maxPoints: 100_000, batchSize: 500, flushIntervalMs: 100, retry: { initialMs: 100, maxMs: 500 } });
    for (let i = 0; i < 5; i++) expect(queue.enqueue(points(i * 1000, 1000, 'outage'))).toBe(true);
    await queue.flush();
    await influx.kill();
    for (let i = 5; i < 10; i++) expect(queue.enqueue(points(i * 1000, 1000, 'outage'))).toBe(true);
    await new Promise((r) => setTimeout(r, 1500));
    expect(queue.stats().writeErrors).toBeGreaterThan(0);
    expect(queue.stats().depth).toBe(5000);
    await influx.restart();
    await queue.flush();
    expect(await count('outage')).toBe(10_000);
    expect(queue.stats()).toMatchObject({ written: 10_000, dropped: 0, depth: 0 });
    expect(queue.stats().batchesWritten).toBeGreaterThanOrEqual(20);
    await queue.close();
  });

  it('writes on its own within the flush interval, without being asked to flush', async () => {
    const queue = new WriteQueue({ writer: writer(), maxPoints: 1000, batchSize: 500, flushIntervalMs: 100, retry: { initialMs: 100, maxMs: 500 } });
    queue.enqueue(points(0, 3, 'timer'));
    await waitFor('timer-driven write', async () => (await count('timer')) === 3, 3000);
    queue.enqueue(points(10, 2, 'timer'));
    await waitFor('second timer-driven write', async () => (await count('timer')) === 5, 3000);
    expect(queue.stats()).toMatchObject({ written: 5, batchesWritten: 2, depth: 0 });
    await queue.close();
  });

  it('refuses and counts what exceeds the bound, keeping what it accepted', async () => {
    await influx.kill();
    const queue = new WriteQueue({ writer: writer(), maxPoints: 2500, batchSize: 1000, flushIntervalMs: 50, retry: { initialMs: 100, maxMs: 300 } });
    expect(queue.enqueue(points(0, 2000, 'bound'))).toBe(true);
    expect(queue.enqueue(points(2000, 1000, 'bound'))).toBe(false);
    expect(queue.enqueue(points(3000, 500, 'bound'))).toBe(true);
    expect(queue.stats()).toMatchObject({ dropped: 1000, depth: 2500 });
    await influx.restart();
    await queue.flush();
    expect(await count('bound')).toBe(2500);
    await queue.close();
  });

  it('quarantines a batch InfluxDB refuses for good and writes the following ones', async () => {
    const quarantined: { points: readonly Point[]; error: WriteError }[] = [];
    const queue = new WriteQueue({ writer: writer(), maxPoints: 10_000, batchSize: 10, flushIntervalMs: 20, retry: { initialMs: 50, maxMs: 100 }, onQuarantine: (p, error) => quarantined.push({ points: p, error }) });
    queue.enqueue(points(0, 10, 'poison'));
    await queue.flush();
    queue.enqueue(points(100, 10, 'poison').map((p) => ({ ...p, fields: { usage_pct: 'çok yüksek' } })));
    await queue.flush();
    queue.enqueue(points(200, 10, 'poison'));
    await queue.flush();
    expect(await count('poison')).toBe(20);
    expect(quarantined).toHaveLength(1);
    expect(quarantined[0]?.error.message).toMatch(/field type conflict/);
    expect(queue.stats()).toMatchObject({ quarantined: 10, written: 20 });
    await queue.close();
  });

  it('on close, gives up after its deadline when storage stays down, counting the loss', async () => {
    await influx.kill();
    const queue = new WriteQueue({ writer: writer(), maxPoints: 1000, batchSize: 100, flushIntervalMs: 10, retry: { initialMs: 50, maxMs: 100 } });
    queue.enqueue(points(0, 300, 'closing'));
    await queue.close(500);
    expect(queue.stats()).toMatchObject({ dropped: 300, written: 0 });
    expect(queue.enqueue(points(0, 1, 'closing'))).toBe(false);
    await influx.restart();
    await waitFor('influx back', async () => (await fetch(`${influx.url}/ping`)).ok);
  });
});
