import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import type { Point } from '../collector/model/point.ts';
import { Spool } from '../collector/storage/spool.ts';
import { WriteQueue } from '../collector/storage/write-queue.ts';
import { WriteError, type PointWriter } from '../collector/storage/writer.ts';
import { tempDir, waitFor } from './helpers/servers.ts';

// The spool on its own and the queue over a spool file, with an in-process writer whose
// availability the test switches (the real-InfluxDB outage cases are in storage-queue and
// reliability tests).

const points = (from: number, count: number): Point[] =>
  Array.from({ length: count }, (_, i) => ({ measurement: 'cpu', tags: { site: 'merkez', device: 'pc-1' }, fields: { usage_pct: from + i, note: 'şİğ' }, time: 1_700_000_000_000 + from + i }));

/** Records what it was given; refuses with a retryable error while `down`. */
function switchableWriter() {
  const received: Point[] = [];
  const state = { down: false };
  const writer: PointWriter = {
    name: 'switchable',
    async write(batch) {
      if (state.down) throw new WriteError('storage down', { retryable: true, status: 503 });
      received.push(...batch);
    },
    close: async () => {},
  };
  return { writer, received, state };
}

const queueOptions = { maxPoints: 10_000, batchSize: 100, flushIntervalMs: 10, retry: { initialMs: 10, maxMs: 20 } };

describe('Spool', () => {
  it('keeps rows in order, whole, across a reopen, and forgets them only when removed', () => {
    const path = join(tempDir('spool'), 'spool.sqlite');
    const spool = Spool.open(path, { sync: 'normal' });
    spool.append(points(0, 3));
    spool.append(points(3, 4));
    spool.append(points(7, 2));
    expect(spool.depth).toBe(9);
    const first = spool.readBatch(0, 5);
    // Whole rows only: 3 fit, 3 + 4 would not.
    expect(first?.points.map((p) => p.fields.usage_pct)).toEqual([0, 1, 2]);
    // A row larger than the batch still goes, alone.
    expect(spool.readBatch(first!.lastId, 2)?.points).toHaveLength(4);
    spool.remove(first!.lastId);
    spool.close();

    const again = Spool.open(path, { sync: 'full' });
    expect(again.depth).toBe(6);
    expect(again.sizeBytes).toBeGreaterThan(0);
    const rest = again.readBatch(0, 100);
    expect(rest?.points.map((p) => p.fields.usage_pct)).toEqual([3, 4, 5, 6, 7, 8]);
    expect(rest?.points[0]?.fields.note).toBe('şİğ');
    again.remove(rest!.lastId);
    expect(again.depth).toBe(0);
    expect(again.sizeBytes).toBe(0);
    expect(again.readBatch(0, 100)).toBeUndefined();
    again.close();
  });

  it('creates its file readable by the service account only', () => {
    const dir = join(tempDir('spool'), 'nested');
    const spool = Spool.open(join(dir, 'spool.sqlite'), { sync: 'normal' });
    expect(statSync(dir).mode & 0o077).toBe(0);
    expect(statSync(join(dir, 'spool.sqlite')).mode & 0o777).toBe(0o600);
    spool.close();
  });

  it('moves a damaged file aside (kept for recovery) and starts empty instead of refusing to start', () => {
    const dir = tempDir('spool');
    const path = join(dir, 'spool.sqlite');
    writeFileSync(path, 'this is not an SQLite database, it was overwritten by something'.repeat(100));
    const reported: string[] = [];
    const spool = Spool.open(path, { sync: 'normal' }, (movedTo, error) => reported.push(`${movedTo}: ${error.message}`));
    expect(reported).toHaveLength(1);
    expect(reported[0]).toMatch(/spool\.sqlite\.damaged-\d+: .*not a database/);
    expect(readdirSync(dir).some((f) => f.startsWith('spool.sqlite.damaged-'))).toBe(true);
    spool.append(points(0, 1));
    expect(spool.depth).toBe(1);
    spool.close();
  });

  it('skips and counts a row damaged on disk; the rows around it are written', async () => {
    const path = join(tempDir('spool'), 'spool.sqlite');
    const spool = Spool.open(path, { sync: 'normal' });
    spool.append(points(0, 2));
    spool.append(points(2, 3));
    spool.append(points(5, 2));
    spool.close();
    const db = new DatabaseSync(path);
    db.prepare('UPDATE spool SET body = ? WHERE id = 2').run('{"truncated": [');
    db.close();

    const { writer, received } = switchableWriter();
    const queue = new WriteQueue({ writer, spool: Spool.open(path, { sync: 'normal' }), ...queueOptions });
    await queue.flush();
    expect(received.map((p) => p.fields.usage_pct)).toEqual([0, 1, 5, 6]);
    expect(queue.stats()).toMatchObject({ written: 4, unreadable: 3, depth: 0 });
    await queue.close();
  });
});

describe('WriteQueue over a spool file', () => {
  it('keeps what storage did not take at close, and the next start writes it exactly once', async () => {
    const path = join(tempDir('spool'), 'spool.sqlite');
    const first = switchableWriter();
    first.state.down = true;
    const queue = new WriteQueue({ writer: first.writer, spool: Spool.open(path, { sync: 'normal' }), ...queueOptions });
    for (let i = 0; i < 10; i++) expect(queue.enqueue(points(i * 50, 50))).toBe(true);
    await queue.close(200);
    // Durable: nothing dropped, all of it waits in the file.
    expect(queue.stats()).toMatchObject({ written: 0, dropped: 0, depth: 500 });

    const second = switchableWriter();
    const restarted = new WriteQueue({ writer: second.writer, spool: Spool.open(path, { sync: 'normal' }), ...queueOptions });
    await restarted.flush();
    expect(second.received.map((p) => p.fields.usage_pct)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(restarted.stats()).toMatchObject({ written: 500, depth: 0 });
    await restarted.close();
  });

  it('on close, a durable spool stops at the first failed write instead of retrying until the deadline', async () => {
    const path = join(tempDir('spool'), 'spool.sqlite');
    const { writer, state } = switchableWriter();
    state.down = true;
    // A backoff far longer than the test: only giving up ends the close this soon.
    const queue = new WriteQueue({ writer, spool: Spool.open(path, { sync: 'normal' }), ...queueOptions, retry: { initialMs: 60_000, maxMs: 60_000 } });
    queue.enqueue(points(0, 50));
    await waitFor('a failed write', async () => queue.stats().writeErrors > 0, 5_000, 5);
    const started = performance.now();
    await queue.close(30_000);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(queue.stats()).toMatchObject({ written: 0, dropped: 0, depth: 50 });
  });

  it('on close, leaves a write that hangs at the deadline behind and keeps its points in the file', async () => {
    const path = join(tempDir('spool'), 'spool.sqlite');
    let writes = 0;
    const hung: PointWriter = { name: 'hung', write: () => (writes++, new Promise<void>(() => {})), close: async () => {} };
    const queue = new WriteQueue({ writer: hung, spool: Spool.open(path, { sync: 'normal' }), ...queueOptions });
    queue.enqueue(points(0, 20));
    await waitFor('a write in flight', async () => writes > 0, 5_000, 5);
    const started = performance.now();
    await queue.close(300);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(queue.stats()).toMatchObject({ written: 0, dropped: 0, depth: 20 });
    const reopened = Spool.open(path, { sync: 'normal' });
    expect(reopened.depth).toBe(20);
    reopened.close();
  });

  it('says when it is full, refuses and counts new points, and says when it has room again', async () => {
    const { writer, received, state } = switchableWriter();
    state.down = true;
    const changes: boolean[] = [];
    const queue = new WriteQueue({ writer, spool: Spool.open(':memory:', { sync: 'normal' }), ...queueOptions, maxPoints: 100, onFullChange: (full) => changes.push(full) });
    expect(queue.enqueue(points(0, 60))).toBe(true);
    expect(queue.enqueue(points(60, 30))).toBe(true);
    expect(queue.enqueue(points(90, 20))).toBe(false);
    expect(queue.stats()).toMatchObject({ full: true, dropped: 20, depth: 90 });
    expect(changes).toEqual([true]);
    state.down = false;
    await queue.flush();
    expect(changes).toEqual([true, false]);
    expect(queue.stats()).toMatchObject({ full: false, written: 90, depth: 0 });
    expect(received).toHaveLength(90);
    await queue.close();
  });

  it('counts points it could not append (spool unusable) as dropped, without throwing', async () => {
    const { writer } = switchableWriter();
    const spool = Spool.open(':memory:', { sync: 'normal' });
    const errors: string[] = [];
    const queue = new WriteQueue({ writer, spool, ...queueOptions, onSpoolError: (error) => errors.push(error.message) });
    spool.close(); // the database handle is gone, as after an I/O failure
    expect(queue.enqueue(points(0, 5))).toBe(false);
    expect(queue.stats().dropped).toBe(5);
    expect(errors[0]).toMatch(/finalized|not open/);
    await queue.close();
  });
});
