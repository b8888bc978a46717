import { afterEach, describe, expect, it } from 'vitest';
import { createIngest } from '../collector/ingest/ingest.ts';
import { inventoryToPoint } from '../collector/ingest/map-points.ts';
import type { Point } from '../collector/model/point.ts';
import { DeviceRegistry } from '../collector/registry/device-registry.ts';
import { inventoryMessageSchema } from '../src/contract/schemas.ts';
import { createLogger } from '../src/log.ts';

// Issue #11: a Windows host named with Turkish letters gets a clean id (normaliseId), and the
// collector keeps the name as the OS reports it in `device_info`, where the dashboards read it.

const ts = Date.now() - 60_000;
const windowsPc = (hash: string, hostname = 'BİLGİİŞLEM-PC01') => ({
  v: 1,
  ts,
  hash,
  inventory: {
    system: { manufacturer: 'Dell Inc.', model: 'OptiPlex 7090', serial: '7XK2Q93' },
    os: { platform: 'Windows', distro: 'Microsoft Windows 11 Pro', release: '10.0.22631', hostname },
    software: [{ name: 'AKİS Kart İzleme Aracı', version: '2.4.1' }],
    users: ['ayşe.yılmaz'],
  },
});

describe('inventoryToPoint', () => {
  const address = { site: 'merkez', device: 'bilgiislem-pc01' };

  it('keeps the host name with its Turkish letters as display_name, beside a few basics, as strings', () => {
    expect(inventoryToPoint(address, 'pc', inventoryMessageSchema.parse(windowsPc('a'.repeat(64))))).toEqual({
      measurement: 'device_info',
      tags: { site: 'merkez', device: 'bilgiislem-pc01', kind: 'pc' },
      fields: { display_name: 'BİLGİİŞLEM-PC01', manufacturer: 'Dell Inc.', model: 'OptiPlex 7090', serial: '7XK2Q93', os: 'Microsoft Windows 11 Pro', os_release: '10.0.22631' },
      time: ts,
    });
  });

  it('leaves out what the inventory lacks, never user names or software; nothing to write gives no point', () => {
    const kiosk = inventoryMessageSchema.parse({ v: 1, ts, hash: 'b'.repeat(64), inventory: { system: { model: 'Kiosk K2' }, os: { hostname: '  ' }, users: ['ali'] } });
    expect(inventoryToPoint(address, 'kiosk', kiosk)?.fields).toEqual({ model: 'Kiosk K2' });
    const bare = inventoryMessageSchema.parse({ v: 1, ts, hash: 'c'.repeat(64), inventory: { system: {} } });
    expect(inventoryToPoint(address, 'other', bare)).toBeNull();
  });
});

describe('ingest of inventory messages', () => {
  const registries: DeviceRegistry[] = [];
  afterEach(() => registries.splice(0).forEach((r) => r.close()));

  function ingest() {
    const registry = DeviceRegistry.open(':memory:');
    registries.push(registry);
    const written: Point[][] = [];
    const rejected: string[] = [];
    const logLines: string[] = [];
    const handler = createIngest({
      registry,
      sink: { enqueue: (points) => (written.push([...points]), true) },
      observer: { accepted: () => {}, rejected: (reason) => rejected.push(reason), transition: () => {} },
      log: createLogger({ name: 'test', write: (line) => logLines.push(line) }),
      maxPayloadBytes: 512 * 1024,
    });
    const send = (topic: string, body: unknown) => handler(topic, Buffer.from(JSON.stringify(body), 'utf8'), Date.now());
    const infos = () => written.flat().filter((p) => p.measurement === 'device_info');
    return { registry, send, infos, written, rejected, logLines };
  }

  it('writes device_info with the Turkish host name for the normalised id, when the inventory changed', async () => {
    const { send, infos, written } = ingest();
    await send('muni/v1/merkez/bilgiislem-pc01/state', { v: 1, ts, state: 'online', kind: 'pc', intervalS: 10 });
    await send('muni/v1/merkez/bilgiislem-pc01/inventory', windowsPc('a'.repeat(64)));
    expect(infos()).toEqual([
      expect.objectContaining({ tags: { site: 'merkez', device: 'bilgiislem-pc01', kind: 'pc' }, fields: expect.objectContaining({ display_name: 'BİLGİİŞLEM-PC01', os: 'Microsoft Windows 11 Pro' }), time: ts }),
    ]);
    // Beside the inventory_changed event, in the same batch.
    expect(written.at(-1)!.map((p) => p.measurement)).toEqual(['events', 'device_info']);

    // The same inventory again (an agent that lost its state file): nothing new to show.
    await send('muni/v1/merkez/bilgiislem-pc01/inventory', windowsPc('a'.repeat(64)));
    expect(infos()).toHaveLength(1);

    // Renamed in Windows: the new name is written.
    await send('muni/v1/merkez/bilgiislem-pc01/inventory', windowsPc('d'.repeat(64), 'BİLGİİŞLEM-PC01-ESKİ'));
    expect(infos().map((p) => p.fields.display_name)).toEqual(['BİLGİİŞLEM-PC01', 'BİLGİİŞLEM-PC01-ESKİ']);
  });

  it('refuses a device writing device_info itself (reserved for the collector), and counts it', async () => {
    const { send, infos, rejected, written, logLines } = ingest();
    await send('muni/v1/merkez/bilgiislem-pc01/metrics', { v: 1, ts, metrics: [{ name: 'device_info', fields: { display_name: 'BAŞKAN-PC' } }] });
    await send('muni/v1/merkez/bilgiislem-pc01/metrics', { v: 1, ts, metrics: [{ name: 'device_info', fields: { display_name: 1 } }] });
    expect(rejected).toEqual(['schema', 'schema']);
    expect(logLines[0]).toContain('metrics[0].name: reserved for the collector');
    expect(infos()).toEqual([]);
    expect(written).toEqual([]);
  });
});
