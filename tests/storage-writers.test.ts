import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Point } from '../collector/model/point.ts';
import { createInfluxV1Writer } from '../collector/storage/influx-v1.ts';
import { createInfluxV2Writer } from '../collector/storage/influx-v2.ts';
import { toLineProtocol } from '../collector/storage/line-protocol.ts';
import { WriteError, type PointWriter } from '../collector/storage/writer.ts';
import { freePort, startInfluxDB, startVictoriaMetrics, waitFor, type InfluxServer, type VictoriaMetricsServer } from './helpers/servers.ts';

const t0 = Date.UTC(2026, 10, 24, 9, 0, 0);
const point = (value: number, time = t0, device = 'bi-pc01'): Point => ({
  measurement: 'cpu',
  tags: { site: 'çayırova', device, kind: 'pc' },
  fields: { usage_pct: value },
  time,
});

describe('line protocol', () => {
  it('escapes tags, measurement and strings, keeps Turkish text', () => {
    const line = toLineProtocol({ measurement: 'my meas,x', tags: { site: 'a b,c=d', z: '' }, fields: { msg: 'Disk "C:" dolu\\ş\nğ', v: 1.5, ok: true }, time: 1.9e12 });
    expect(line).toBe('my\\ meas\\,x,site=a\\ b\\,c\\=d msg="Disk \\"C:\\" dolu\\\\ş\\nğ",v=1.5,ok=true 1900000000000');
  });
  it('refuses NaN and empty field sets with a clear error', () => {
    expect(() => toLineProtocol({ measurement: 'm', tags: {}, fields: { v: Number.NaN }, time: 1 })).toThrow(/field "v" is not a finite number/);
    expect(() => toLineProtocol({ measurement: 'm', tags: {}, fields: {}, time: 1 })).toThrow(/no fields/);
  });
});

interface Backend {
  writer: () => PointWriter;
  /** values stored for cpu.usage_pct of a device, ordered by time */
  values: (device: string) => Promise<number[]>;
  tags: (device: string) => Promise<Record<string, string>>;
  writeConflict?: () => Promise<void>;
}

// One contract every writer passes, against the real server it targets.
function describeWriterContract(name: string, setup: () => Promise<{ backend: Backend; stop: () => Promise<void> }>) {
  describe(`${name} writer contract`, () => {
    let backend: Backend;
    let stop: () => Promise<void>;
    let silent: Server;
    let silentPort: number;
    beforeAll(async () => {
      ({ backend, stop } = await setup());
      silentPort = await freePort();
      silent = createServer(() => {}).listen(silentPort, '127.0.0.1');
    });
    afterAll(async () => {
      silent?.close();
      await stop?.();
    });

    it('writes points with their tags, fields and timestamps; a rewrite does not duplicate', async () => {
      const w = backend.writer();
      await w.write([point(10), point(20, t0 + 1000), point(30, t0 + 2000, 'bi-pc02')]);
      await w.write([point(10), point(20, t0 + 1000)]);
      await waitFor('both points', async () => (await backend.values('bi-pc01')).length === 2);
      expect(await backend.values('bi-pc01')).toEqual([10, 20]);
      expect(await backend.tags('bi-pc02')).toMatchObject({ site: 'çayırova', device: 'bi-pc02', kind: 'pc' });
    });

    it('reports an unreachable server as retryable', async () => {
      const refused = await freePort();
      const error = await backend.writerFor(`http://127.0.0.1:${refused}`).write([point(1)]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WriteError);
      expect((error as WriteError).retryable).toBe(true);
    });

    it('reports a server that never answers as retryable after the timeout', async () => {
      const error = await backend.writerFor(`http://127.0.0.1:${silentPort}`, 300).write([point(1)]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WriteError);
      expect((error as WriteError).retryable).toBe(true);
    });
  });
}

interface Backend {
  writerFor: (url: string, timeoutMs?: number) => PointWriter;
}

describeWriterContract('InfluxDB v1 (influxdb 1.6.7)', async () => {
  const influx: InfluxServer = await startInfluxDB();
  await influx.createDatabase('monitoring');
  const v1 = (url: string, timeoutMs = 5000) => createInfluxV1Writer({ type: 'influx-v1', url, database: 'monitoring', timeoutMs, createDatabase: true });
  return {
    stop: () => influx.stop(),
    backend: {
      writer: () => v1(influx.url),
      writerFor: v1,
      values: async (device) => ((await influx.query('monitoring', `SELECT usage_pct FROM cpu WHERE device = '${device}'`))[0]?.values ?? []).map((v) => v[1] as number),
      tags: async (device) => (await influx.query('monitoring', `SELECT last(usage_pct) FROM cpu WHERE device = '${device}' GROUP BY *`))[0]?.tags ?? {},
    },
  };
});

describeWriterContract('InfluxDB v2 API (@influxdata/influxdb-client → victoria-metrics)', async () => {
  const vm: VictoriaMetricsServer = await startVictoriaMetrics();
  // VictoriaMetrics accepts /api/v2/write and ignores org and token.
  const v2 = (url: string, timeoutMs = 5000) => createInfluxV2Writer({ type: 'influx-v2', url, org: 'belediye', bucket: 'monitoring', token: 't', timeoutMs });
  const series = async (device: string) => (await vm.exportSeries(`{__name__="cpu_usage_pct",device="${device}"}`))[0];
  return {
    stop: () => vm.stop(),
    backend: {
      writer: () => v2(vm.url),
      writerFor: v2,
      values: async (device) => (await series(device))?.values ?? [],
      tags: async (device) => (await series(device))?.metric ?? {},
    },
  };
});

describe('InfluxDB v1 permanent refusals', () => {
  it('reports a field type conflict (HTTP 400) as not retryable, with the server’s reason', async () => {
    const influx = await startInfluxDB();
    try {
      await influx.createDatabase('monitoring');
      const w = createInfluxV1Writer({ type: 'influx-v1', url: influx.url, database: 'monitoring', timeoutMs: 5000, createDatabase: true });
      await w.write([point(1)]);
      const error = await w.write([{ ...point(2), fields: { usage_pct: 'yüksek' } }]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WriteError);
      expect(error).toMatchObject({ retryable: false, status: 400 });
      expect((error as Error).message).toMatch(/field type conflict/);
    } finally {
      await influx.stop();
    }
  });
});
