import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeviceRegistry } from '../collector/registry/device-registry.ts';
import { heartbeatTimeoutMs, timedOut } from '../collector/registry/heartbeat.ts';
import { tempDir } from './helpers/servers.ts';

const pc = { site: 'merkez', device: 'bi-pc01' };
const t = Date.UTC(2026, 10, 24, 8, 0, 0);
const birth = { v: 1 as const, ts: t, state: 'online' as const, kind: 'pc' as const, intervalS: 10, agent: { name: 'belediye-agent', version: '0.1.0' } };
const inventory = (serial: string) => ({ v: 1 as const, ts: t, hash: serial === 'A' ? 'aaaaaaaaaaaaaaaa' : 'bbbbbbbbbbbbbbbb', inventory: { system: { serial } } });

describe('heartbeat decision', () => {
  it('times out after three intervals, never before the floor', () => {
    expect(heartbeatTimeoutMs(10, 60)).toBe(60_000);
    expect(heartbeatTimeoutMs(60, 60)).toBe(180_000);
    expect(heartbeatTimeoutMs(null, 60)).toBe(60_000);
    const devices = [{ key: 'a', lastSeen: 0, intervalS: 10 }, { key: 'b', lastSeen: 0, intervalS: 60 }];
    expect(timedOut(devices, 61_000, 60)).toEqual(['a']);
    expect(timedOut(devices, 181_000, 60)).toEqual(['a', 'b']);
  });
});

describe('DeviceRegistry', () => {
  it('follows birth, last will, heartbeat timeout and return', () => {
    const r = DeviceRegistry.open(':memory:', { heartbeatTimeoutS: 60 });
    expect(r.recordState(pc, birth, t)).toEqual({ ...pc, kind: 'pc', online: true, reason: 'birth', at: t });
    expect(r.kindOf(pc)).toBe('pc');
    expect(r.recordSeen(pc, t + 10_000)).toBeNull();
    expect(r.sweep(t + 60_000)).toEqual([]);
    expect(r.sweep(t + 71_000)).toEqual([{ ...pc, kind: 'pc', online: false, reason: 'heartbeat_timeout', at: t + 71_000 }]);
    expect(r.sweep(t + 200_000)).toEqual([]);
    expect(r.recordSeen(pc, t + 300_000)).toMatchObject({ online: true, reason: 'seen' });
    expect(r.recordState(pc, { v: 1, ts: t, state: 'offline', reason: 'lwt' }, t + 301_000)).toMatchObject({ online: false, reason: 'lwt' });
    expect(r.get(pc)).toMatchObject({ online: false, offlineReason: 'lwt', kind: 'pc', agent: { name: 'belediye-agent' } });
    expect(r.sites()).toEqual([{ site: 'merkez', total: 1, online: 0 }]);
    r.close();
  });

  it('detects inventory changes and keeps the latest', () => {
    const r = DeviceRegistry.open(':memory:');
    expect(r.recordInventory(pc, inventory('A'), t)).toEqual({ changed: true });
    expect(r.recordInventory(pc, inventory('A'), t + 1)).toEqual({ changed: false });
    expect(r.recordInventory(pc, inventory('B'), t + 2)).toEqual({ changed: true });
    expect(r.inventory(pc)).toEqual({ system: { serial: 'B' } });
    expect(r.inventory({ site: 'merkez', device: 'yok' })).toBeNull();
    r.close();
  });

  it('filters the device list', () => {
    const r = DeviceRegistry.open(':memory:');
    r.recordState(pc, birth, t);
    r.recordState({ site: 'zabita', device: 'srv01' }, { ...birth, kind: 'server' }, t);
    r.recordState({ site: 'zabita', device: 'srv02' }, { v: 1, ts: t, state: 'offline', reason: 'shutdown' }, t);
    expect(r.list({ site: 'zabita' }).map((d) => d.device)).toEqual(['srv01', 'srv02']);
    expect(r.list({ online: true }).map((d) => d.device)).toEqual(['bi-pc01', 'srv01']);
    expect(r.list({ kind: 'server' }).map((d) => d.device)).toEqual(['srv01']);
    r.close();
  });

  it('survives a restart of the collector', () => {
    const path = join(tempDir('registry'), 'registry.sqlite');
    const first = DeviceRegistry.open(path);
    first.recordState(pc, birth, t);
    first.recordSeen(pc, t + 5000);
    first.recordInventory(pc, inventory('A'), t);
    first.close();
    const second = DeviceRegistry.open(path);
    expect(second.get(pc)).toMatchObject({ online: true, kind: 'pc', lastSeen: t + 5000, inventoryHash: 'aaaaaaaaaaaaaaaa' });
    expect(second.recordInventory(pc, inventory('A'), t)).toEqual({ changed: false });
    // A state change after the restart writes the device row back (this once failed on the inventory column).
    expect(second.recordState(pc, { v: 1, ts: t + 9000, state: 'offline', reason: 'lwt' }, t + 9000)).toMatchObject({ online: false, reason: 'lwt' });
    expect(second.inventory(pc)).toBeTruthy();
    second.close();
  });
});
