import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Point } from '../collector/model/point.ts';
import { createInfluxV1Writer } from '../collector/storage/influx-v1.ts';
import { Spool } from '../collector/storage/spool.ts';
import { WriteQueue } from '../collector/storage/write-queue.ts';
import type { WriteError } from '../collector/storage/writer.ts';
import { startInfluxDB, waitFor, type InfluxServer } from './helpers/servers.ts';

const t0 = Date.now() - 60_000;
const memorySpool = () => Spool.open(':memory:', { sync: 'normal' });
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
    const queue = new WriteQueue({ writer: writer(), spool: memorySpool(), maxPoints: 100_000, batchSize: 500, flushIntervalMs: 100, retry: { initialMs: 100, maxMs: 500 } });
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
    // A message's points are never split across batches: ten 1,000-point messages, ten batches.
    expect(queue.stats().batchesWritten).toBe(10);
    await queue.close();
  });

  it('writes on its own within the flush interval, without being asked to flush', async () => {
    const queue = new WriteQueue({ writer: writer(), spool: memorySpool(), maxPoints: 1000, batchSize: 500, flushIntervalMs: 100, retry: { initialMs: 100, maxMs: 500 } });
    queue.enqueue(points(0, 3, 'timer'));
    await waitFor('timer-driven write', async () => (await count('timer')) === 3, 3000);
    queue.enqueue(points(10, 2, 'timer'));
    await waitFor('second timer-driven write', async () => (await count('timer')) === 5, 3000);
    expect(queue.stats()).toMatchObject({ written: 5, batchesWritten: 2, depth: 0 });
    await queue.close();
  });

  it('refuses and counts what exceeds the bound, keeping what it accepted', async () => {
    await influx.kill();
    const queue = new WriteQueue({ writer: writer(), spool: memorySpool(), maxPoints: 2500, batchSize: 1000, flushIntervalMs: 50, retry: { initialMs: 100, maxMs: 300 } });
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
    const queue = new WriteQueue({ writer: writer(), spool: memorySpool(), maxPoints: 10_000, batchSize: 10, flushIntervalMs: 20, retry: { initialMs: 50, maxMs: 100 }, onQuarantine: (p, error) => quarantined.push({ points: p, error }) });
    queue.enqueue(points(0, 10, 'poison'));
    await queue.flush();
    queue.enqueue(points(100, 10, 'poison').map((p) => ({ ...p, fields: { usage_pct: 'çok yüksek' } })));
    await queue.flush();
    queue.enqueue(points(200, 10, 'poison'));
    await queue.flush();
    // A point that cannot even be encoded (NaN) is refused before sending, not retried forever.
    queue.enqueue(points(300, 10, 'poison').map((p, i) => (i === 3 ? { ...p, fields: { usage_pct: Number.NaN } } : p)));
    queue.enqueue(points(400, 10, 'poison'));
    await queue.flush();
    expect(await count('poison')).toBe(30);
    expect(quarantined.map((q) => q.points.length)).toEqual([10, 10]);
    expect(quarantined[0]?.error.message).toMatch(/field type conflict/);
    // NaN went through the spool's JSON as null: refused all the same.
    expect(quarantined[1]?.error.message).toMatch(/point 3: field "usage_pct" is not a number, boolean or string \(null\)/);
    expect(queue.stats()).toMatchObject({ quarantined: 20, written: 30, depth: 0 });
    await queue.close();
  });

  it('counts a partial write as InfluxDB did it: the good points written, only the conflicting ones quarantined', async () => {
    const queue = new WriteQueue({ writer: writer(), spool: memorySpool(), maxPoints: 1000, batchSize: 10, flushIntervalMs: 20, retry: { initialMs: 50, maxMs: 100 } });
    queue.enqueue(points(0, 5, 'partial'));
    await queue.flush();
    queue.enqueue(points(100, 10, 'partial').map((p, i) => (i % 4 === 0 ? { ...p, fields: { usage_pct: 'yüksek' } } : p)));
    await queue.flush();
    expect(await count('partial')).toBe(5 + 7);
    expect(queue.stats()).toMatchObject({ written: 12, quarantined: 3 });
    await queue.close();
  });

  it('flush() resolves for what was queued before it, while new points keep arriving', async () => {
    const queue = new WriteQueue({ writer: writer(), spool: memorySpool(), maxPoints: 20_000, batchSize: 200, flushIntervalMs: 60_000, retry: { initialMs: 50, maxMs: 100 } });
    queue.enqueue(points(0, 1000, 'steady'));
    // Fed faster than InfluxDB takes it, so the queue never runs empty while the flush waits.
    let next = 1000;
    let accepted = 1000;
    const feeder = setInterval(() => {
      if (queue.enqueue(points(next, 400, 'steady'))) accepted += 400;
      next += 400;
    }, 2);
    try {
      await queue.flush();
      expect(await count('steady')).toBeGreaterThanOrEqual(1000);
      expect(queue.stats().depth).toBeGreaterThan(0);
    } finally {
      clearInterval(feeder);
    }
    await queue.close();
    expect(await count('steady')).toBe(accepted);
    expect(queue.stats()).toMatchObject({ written: accepted, dropped: next - accepted, depth: 0 });
  });

  it('on close with an in-memory spool, gives up after its deadline when storage stays down, counting the loss', async () => {
    await influx.kill();
    const queue = new WriteQueue({ writer: writer(), spool: memorySpool(), maxPoints: 1000, batchSize: 100, flushIntervalMs: 10, retry: { initialMs: 50, maxMs: 100 } });
    queue.enqueue(points(0, 300, 'closing'));
    await queue.close(500);
    expect(queue.stats()).toMatchObject({ dropped: 300, written: 0 });
    expect(queue.enqueue(points(0, 1, 'closing'))).toBe(false);
    await influx.restart();
    await waitFor('influx back', async () => (await fetch(`${influx.url}/ping`)).ok);
  });
});

describe('WriteQueue with a writer that breaks its contract', () => {
  it('quarantines a batch that failed with something other than a WriteError instead of retrying it forever', async () => {
    // A writer that throws a plain TypeError: the shape of a bug, not of a storage outage.
    const attempts: number[] = [];
    const broken = {
      name: 'broken',
      close: async () => {},
      write: async (batch: readonly Point[]) => {
        attempts.push(batch.length);
        throw new TypeError('cannot read properties of undefined');
      },
    };
    const quarantined: WriteError[] = [];
    const queue = new WriteQueue({ writer: broken, spool: memorySpool(), maxPoints: 100, batchSize: 10, flushIntervalMs: 10, retry: { initialMs: 10, maxMs: 20 }, onQuarantine: (_p, error) => quarantined.push(error) });
    queue.enqueue(points(0, 5));
    await queue.flush();
    expect(attempts).toEqual([5]);
    expect(quarantined[0]).toMatchObject({ retryable: false, message: expect.stringMatching(/^writer broken failed unexpectedly: TypeError/) });
    expect(queue.stats()).toMatchObject({ quarantined: 5, writeErrors: 1, depth: 0 });
    await queue.close();
  });
});
