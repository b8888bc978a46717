import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Point } from '../../collector/model/point.ts';
import { WriteError, type PointWriter } from '../../collector/storage/writer.ts';
import { startHttpStub, startSilentServer, type HttpStub, type SilentServer } from './loopback-stubs.ts';
import { freePort, waitFor } from './servers.ts';

// The contract every PointWriter passes against the real server it targets.

export interface StoredPoint {
  time: number;
  value: number;
  tags: Record<string, string>;
}

export interface WriterBackend {
  /** A writer for the real server. */
  writer: () => PointWriter;
  /** A writer of the same kind aimed elsewhere (refused port, hung peer, fixed answers). */
  writerFor: (url: string, timeoutMs: number) => PointWriter;
  /** Stored values of one numeric field of `cpu` for a device, ordered by time. */
  read: (field: string, device: string) => Promise<StoredPoint[]>;
  /** Stored values of a string field of `cpu`; absent where the server drops strings (VictoriaMetrics). */
  readStrings?: (field: string, device: string) => Promise<string[]>;
}

export interface ServerTraits {
  /** InfluxDB keeps a type per field and refuses a conflicting one with HTTP 400; VictoriaMetrics has no field types. */
  fieldTypes: boolean;
}

const t0 = Date.UTC(2026, 10, 24, 9, 0, 0);
const turkishTags = { site: 'Şişli-Çağlayan', device: 'ığüşöç-İÖÜ', kind: 'pc', mount: 'C:\\Kullanıcılar\\', iface: 'Ethernet 2, ağ=1' };
const cpu = (device: string, value: number, time: number, extra: Partial<Point> = {}): Point => ({
  measurement: 'cpu',
  tags: { site: 'çayırova', device, kind: 'pc' },
  fields: { usage_pct: value },
  time,
  ...extra,
});

const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error);

export function describeWriterContract(name: string, traits: ServerTraits, start: () => Promise<{ backend: WriterBackend; stop: () => Promise<void> }>) {
  describe(`${name}: writer contract`, () => {
    let backend: WriterBackend;
    let stop: (() => Promise<void>) | undefined;
    let silent: SilentServer;
    let stub: HttpStub;
    beforeAll(async () => {
      ({ backend, stop } = await start());
      silent = await startSilentServer();
      stub = await startHttpStub();
    });
    afterAll(async () => {
      await silent?.close();
      await stub?.close();
      await stop?.();
    });

    it('stores points with their tags, fields and ms timestamps; a rewrite does not duplicate', async () => {
      const w = backend.writer();
      await w.write([cpu('pc01', 10.5, t0), cpu('pc01', 20, t0 + 1), cpu('pc02', 30, t0 + 2000)]);
      await w.write([cpu('pc01', 10.5, t0), cpu('pc01', 20, t0 + 1)]);
      await waitFor('pc01 and pc02 stored', async () => (await backend.read('usage_pct', 'pc01')).length === 2 && (await backend.read('usage_pct', 'pc02')).length === 1);
      expect((await backend.read('usage_pct', 'pc01')).map(({ time, value }) => ({ time, value }))).toEqual([
        { time: t0, value: 10.5 },
        { time: t0 + 1, value: 20 },
      ]);
      expect((await backend.read('usage_pct', 'pc02'))[0]?.tags).toEqual({ site: 'çayırova', device: 'pc02', kind: 'pc' });
    });

    it('round-trips Turkish letters, spaces, commas, equals and backslashes in tags (and strings where kept)', async () => {
      const message = 'Güç kaynağı "UPS-1" arızalı; İşlem ığüşöç ÇĞİÖŞÜ \\ yol';
      await backend.writer().write([{ measurement: 'cpu', tags: turkishTags, fields: { usage_pct: 42, message }, time: t0 }]);
      await waitFor('Turkish point stored', async () => (await backend.read('usage_pct', turkishTags.device)).length === 1);
      // A trailing backslash cannot be written in line protocol: it arrives as `/`.
      expect((await backend.read('usage_pct', turkishTags.device))[0]?.tags).toEqual({ ...turkishTags, mount: 'C:\\Kullanıcılar/' });
      if (backend.readStrings) expect(await backend.readStrings('message', turkishTags.device)).toEqual([message]);
    });

    it('reports a refused connection as retryable', async () => {
      const error = await failure(backend.writerFor(`http://127.0.0.1:${await freePort()}`, 2000).write([cpu('x', 1, t0)]));
      expect(error).toBeInstanceOf(WriteError);
      expect(error).toMatchObject({ retryable: true, status: undefined });
    });

    it('reports a server that never answers as retryable once the timeout passes', async () => {
      const started = Date.now();
      const error = await failure(backend.writerFor(silent.url, 300).write([cpu('x', 1, t0)]));
      expect(error).toBeInstanceOf(WriteError);
      expect(error).toMatchObject({ retryable: true });
      expect(Date.now() - started).toBeLessThan(3000);
    });

    it('maps HTTP answers the same way: 5xx and 429 retryable, 4xx permanent with the server text', async () => {
      const cases = [
        { status: 503, retryable: true },
        { status: 429, retryable: true },
        { status: 400, retryable: false },
        { status: 401, retryable: false },
      ];
      for (const { status, retryable } of cases) {
        stub.answer(status, `{"error":"stub said ${status}"}`);
        const error = await failure(backend.writerFor(stub.url, 2000).write([cpu('x', 1, t0)]));
        expect(error).toBeInstanceOf(WriteError);
        expect(error).toMatchObject({ status, retryable });
        expect((error as Error).message).toContain(`stub said ${status}`);
      }
    });

    it('refuses a point it cannot encode for good, before sending anything', async () => {
      const before = stub.requests.length;
      const error = await failure(backend.writerFor(stub.url, 2000).write([cpu('x', 1, t0), cpu('x', Number.NaN, t0 + 1)]));
      expect(error).toBeInstanceOf(WriteError);
      expect(error).toMatchObject({ retryable: false });
      expect((error as Error).message).toMatch(/point 1: field "usage_pct" is not a finite number/);
      expect(stub.requests.length).toBe(before);
    });

    if (traits.fieldTypes) {
      it('reports a field type conflict (HTTP 400 from the real server) as not retryable, with its reason', async () => {
        const w = backend.writer();
        await w.write([cpu('conflict', 1, t0)]);
        const error = await failure(w.write([cpu('conflict', 2, t0 + 1, { fields: { usage_pct: 'yüksek' } })]));
        expect(error).toBeInstanceOf(WriteError);
        expect(error).toMatchObject({ retryable: false, status: 400 });
        expect((error as Error).message).toMatch(/field type conflict/);
      });
    }
  });
}
