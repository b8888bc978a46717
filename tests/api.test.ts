import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiRouters, createApiApp } from '../collector/api/app.ts';
import { openApiDocument } from '../collector/api/routes/openapi.ts';
import { DeviceRegistry } from '../collector/registry/device-registry.ts';
import { SecurityStore } from '../collector/security/store.ts';
import { SelfMetrics } from '../collector/self-metrics.ts';

describe('HTTP API', () => {
  const registry = DeviceRegistry.open(':memory:');
  const metrics = new SelfMetrics();
  const rejected = metrics.counter('collector_messages_rejected_total', 'refused', ['reason']);
  let server: Server;
  let base: string;
  const security = SecurityStore.open(':memory:');
  const deps = { registry, metrics, security, alerts: undefined, apiAuth: 'open' as const, phase: () => 'ready' as const, onDeviceRevoked: () => {} };

  beforeAll(async () => {
    const t = Date.now();
    registry.recordState({ site: 'merkez', device: 'bi-pc01' }, { v: 1, ts: t, state: 'online', kind: 'pc', intervalS: 10 }, t);
    registry.recordInventory({ site: 'merkez', device: 'bi-pc01' }, { v: 1, ts: t, hash: 'abcdefabcdefabcd', inventory: { system: { model: 'OptiPlex 7090' } } }, t);
    rejected.inc({ reason: 'json' }, 3);
    server = createApiApp(deps).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server?.close();
    registry.close();
    security.close();
  });

  const get = async (path: string) => {
    const response = await fetch(`${base}${path}`);
    return { status: response.status, type: response.headers.get('content-type') ?? '', body: response.headers.get('content-type')?.includes('json') ? await response.json() : await response.text() };
  };

  it('lists and shows devices with inventory', async () => {
    expect(await get('/api/v1/devices?site=merkez&online=true')).toMatchObject({ status: 200, body: { devices: [{ device: 'bi-pc01', kind: 'pc', online: true }] } });
    expect((await get('/api/v1/devices?online=false')).body).toEqual({ devices: [] });
    expect(await get('/api/v1/devices/merkez/bi-pc01')).toMatchObject({ status: 200, body: { inventoryHash: 'abcdefabcdefabcd' } });
    expect(await get('/api/v1/devices/merkez/bi-pc01/inventory')).toMatchObject({ status: 200, body: { system: { model: 'OptiPlex 7090' } } });
    expect(await get('/api/v1/sites')).toMatchObject({ body: { sites: [{ site: 'merkez', total: 1, online: 1 }] } });
  });

  it('answers bad parameters with 400 naming the parameter, unknown devices with 404', async () => {
    const bad = await get('/api/v1/devices?online=evet');
    expect(bad).toMatchObject({ status: 400, body: { error: expect.stringContaining('online') } });
    expect(await get('/api/v1/devices/MERKEZ/x')).toMatchObject({ status: 400, body: { error: expect.stringContaining('site') } });
    expect(await get('/api/v1/devices?bogus=1')).toMatchObject({ status: 400 });
    expect(await get('/api/v1/devices/merkez/yok')).toMatchObject({ status: 404, body: { error: 'device merkez/yok is not known' } });
    expect(await get('/nowhere')).toMatchObject({ status: 404 });
    const response = await fetch(`${base}/api/v1/devices`);
    expect(response.headers.get('x-powered-by')).toBeNull();
  });

  it('serves Prometheus text that parses line by line', async () => {
    const { status, type, body } = await get('/metrics');
    expect(status).toBe(200);
    expect(type).toContain('version=0.0.4');
    const lines = (body as string).trim().split('\n');
    for (const line of lines) expect(line).toMatch(/^(# (HELP|TYPE) [a-z_]+ .+|[a-z_]+(\{([a-z_]+="[^"]*",?)+\})? -?[\d.e+]+|[a-z_]+(\{.*\})? NaN)$/);
    expect(lines).toContain('collector_messages_rejected_total{reason="json"} 3');
    expect(lines).toContain('# TYPE collector_messages_rejected_total counter');
  });

  it('documents every route in the OpenAPI document and nothing else', () => {
    const routes = new Set<string>();
    for (const router of apiRouters(deps)) {
      for (const layer of router.stack) {
        const route = layer.route as { path: string; methods: Record<string, boolean> } | undefined;
        if (!route) continue;
        for (const method of Object.keys(route.methods)) routes.add(`${method} ${route.path.replace(/:(\w+)/g, '{$1}')}`);
      }
    }
    const documented = new Set(Object.entries(openApiDocument.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)));
    expect([...routes].sort()).toEqual([...documented].sort());
  });
});

describe('SelfMetrics', () => {
  it('refuses to register a name twice and unknown labels', () => {
    const m = new SelfMetrics();
    const c = m.counter('x_total', 'x', ['a']);
    expect(() => m.counter('x_total', 'again')).toThrow(/twice/);
    expect(() => c.inc({ b: '1' })).toThrow(/unknown label b/);
  });
  it('produces the collector measurement for InfluxDB', () => {
    const m = new SelfMetrics();
    m.counter('collector_messages_in_total', 'in', ['channel']).inc({ channel: 'metrics' }, 5);
    m.bindQueue(() => ({ depth: 2, spoolBytes: 300, full: true, written: 10, dropped: 1, writeErrors: 0, quarantined: 0, unreadable: 0, batchesWritten: 1, lastWriteLatencyMs: 3 }));
    m.observeWriteLatency(3);
    const [p] = m.toPoints(1000, 'c1');
    expect(p).toEqual({ measurement: 'collector', tags: { instance: 'c1' }, time: 1000, fields: { messages_in: 5, messages_rejected: 0, points_written: 10, points_dropped: 1, write_errors: 0, queue_depth: 2, spool_bytes: 300, spool_full: true, write_latency_ms: 3 } });
  });
});
