import { describe, expect, it } from 'vitest';
import { eventToPoint, metricsToPoints, stateToPoint } from '../collector/ingest/map-points.ts';
import { eventMessageSchema, metricsMessageSchema } from '../src/contract/schemas.ts';

const address = { site: 'cankaya', device: 'bim-pc-014' };
const ts = Date.UTC(2026, 2, 1, 8, 30);

describe('metricsToPoints', () => {
  it('maps each metric to a point with device tags, metric tags and floats for numbers and booleans', () => {
    const msg = metricsMessageSchema.parse({
      v: 1,
      ts,
      metrics: [
        { name: 'cpu', fields: { usage_pct: 12, load1: 0.5 } },
        { name: 'net', tags: { iface: 'eth0' }, fields: { rx_bps: 1000, up: true } },
        { name: 'fs', tags: { mount: 'C:' }, fields: { used_pct: 80.5, fstype: 'NTFS' } },
        { name: 'battery', tags: { battery: 'BAT0' }, fields: { charging: false } },
      ],
    });
    expect(metricsToPoints(address, 'pc', msg)).toEqual([
      { measurement: 'cpu', tags: { site: 'cankaya', device: 'bim-pc-014', kind: 'pc' }, fields: { usage_pct: 12, load1: 0.5 }, time: ts },
      { measurement: 'net', tags: { site: 'cankaya', device: 'bim-pc-014', kind: 'pc', iface: 'eth0' }, fields: { rx_bps: 1000, up: 1 }, time: ts },
      { measurement: 'fs', tags: { site: 'cankaya', device: 'bim-pc-014', kind: 'pc', mount: 'C:' }, fields: { used_pct: 80.5, fstype: 'NTFS' }, time: ts },
      { measurement: 'battery', tags: { site: 'cankaya', device: 'bim-pc-014', kind: 'pc', battery: 'BAT0' }, fields: { charging: 0 }, time: ts },
    ]);
  });

  it('keeps Turkish text in metric tags and string fields as it is', () => {
    const msg = metricsMessageSchema.parse({ v: 1, ts, metrics: [{ name: 'raid', tags: { instance: 'Yedek-Diskİ' }, fields: { state: 'bozulmuş', degraded: true } }] });
    expect(metricsToPoints(address, 'server', msg)[0]).toMatchObject({ tags: { instance: 'Yedek-Diskİ', kind: 'server' }, fields: { state: 'bozulmuş', degraded: 1 } });
  });
});

describe('eventToPoint', () => {
  it('maps an event to `events` with type/severity tags, count=1, message and data as JSON', () => {
    const msg = eventMessageSchema.parse({ v: 1, ts, type: 'reboot', severity: 'warning', message: 'Beklenmeyen yeniden başlatma', data: { uptime_s: 12, planned: false } });
    expect(eventToPoint(address, 'pc', msg)).toEqual({
      measurement: 'events',
      tags: { site: 'cankaya', device: 'bim-pc-014', kind: 'pc', type: 'reboot', severity: 'warning' },
      fields: { count: 1, message: 'Beklenmeyen yeniden başlatma', data: '{"uptime_s":12,"planned":false}' },
      time: ts,
    });
  });

  it('leaves out message and data when the event has none', () => {
    const msg = eventMessageSchema.parse({ v: 1, ts, type: 'inventory_changed', severity: 'info' });
    expect(eventToPoint(address, 'server', msg).fields).toEqual({ count: 1 });
  });
});

describe('stateToPoint', () => {
  it('maps transitions to `device_state` with online 1/0 and the reason', () => {
    expect(stateToPoint(address, 'ups', true, 'birth', ts)).toEqual({ measurement: 'device_state', tags: { site: 'cankaya', device: 'bim-pc-014', kind: 'ups' }, fields: { online: 1, reason: 'birth' }, time: ts });
    expect(stateToPoint(address, 'ups', false, 'heartbeat_timeout', ts + 1).fields).toEqual({ online: 0, reason: 'heartbeat_timeout' });
  });
});
