import { describe, expect, it } from 'vitest';
import { decodeDeviceMessage } from '../src/contract/decode.ts';
import { deviceTopic, normaliseId, parseDeviceTopic } from '../src/contract/topics.ts';

const now = Date.now();
const enc = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

describe('topics', () => {
  it('builds and parses the v1 scheme', () => {
    const topic = deviceTopic({ site: 'merkez', device: 'bi-pc01' }, 'metrics');
    expect(topic).toBe('muni/v1/merkez/bi-pc01/metrics');
    expect(parseDeviceTopic(topic)).toEqual({ ok: true, topic: { site: 'merkez', device: 'bi-pc01', channel: 'metrics' } });
  });

  it('refuses wildcards, unknown channels and other versions with a reason', () => {
    expect(parseDeviceTopic('muni/v1/merkez/+/metrics')).toMatchObject({ ok: false, reason: expect.stringContaining('device id') });
    expect(parseDeviceTopic('muni/v1/merkez/pc/secrets')).toMatchObject({ ok: false, reason: expect.stringContaining('unknown channel') });
    expect(parseDeviceTopic('muni/v2/merkez/pc/metrics')).toMatchObject({ ok: false, reason: expect.stringContaining('version') });
    expect(parseDeviceTopic('other/topic')).toMatchObject({ ok: false });
    expect(() => deviceTopic({ site: 'a/b', device: 'x' }, 'metrics')).toThrow(/invalid site id/);
  });

  it('normalises Windows host names into ids', () => {
    expect(normaliseId('BİLGİİŞLEM-PC01.belediye.local')).toMatch(/^[a-z0-9][a-z0-9._-]*$/);
    expect(normaliseId('BILGIISLEM-PC01.belediye.local')).toBe('bilgiislem-pc01');
  });

  it('turns Turkish letters into their base letters, not dashes', () => {
    expect(normaliseId('BİLGİİŞLEM-PC01')).toBe('bilgiislem-pc01');
    expect(normaliseId('ŞEHİRPLAN-14')).toBe('sehirplan-14');
    expect(normaliseId('ÇAĞRI-MERKEZİ')).toBe('cagri-merkezi');
    expect(normaliseId('imar-müdürlüğü-ığ.belediye.local')).toBe('imar-mudurlugu-ig');
    expect(normaliseId('  ---Fen İşleri PC 7')).toBe('fen-isleri-pc-7');
  });
});

describe('decodeDeviceMessage', () => {
  const topic = 'muni/v1/merkez/srv01/metrics';
  const good = { v: 1, ts: now, metrics: [{ name: 'cpu', fields: { usage_pct: 12.5 } }, { name: 'fs', tags: { mount: '/' }, fields: { used_pct: 40 } }] };

  it('accepts a valid metrics message', () => {
    const result = decodeDeviceMessage(topic, enc(good));
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.message.channel).toBe('metrics');
  });

  it.each([
    ['topic', 'muni/v1/merkez/srv01/nope', good],
    ['json', topic, '{"v":1,'],
    ['schema', topic, { ...good, v: 2 }],
    ['schema', topic, { v: 1, ts: now, metrics: [{ name: 'cpu', tags: { user: 'ali' }, fields: { x: 1 } }] }],
    ['schema', topic, { v: 1, ts: 1000, metrics: good.metrics }],
    ['schema', topic, { v: 1, ts: now, metrics: [{ name: 'cpu', fields: { x: 'y'.repeat(300) } }] }],
  ])('rejects with reason %s', (reason, t, payload) => {
    const result = decodeDeviceMessage(t, enc(payload));
    expect(result).toMatchObject({ ok: false, reason });
  });

  it('keeps devices out of the collector’s own measurements and refuses a field named time', () => {
    for (const name of ['collector', 'device_state', 'events']) {
      const result = decodeDeviceMessage(topic, enc({ v: 1, ts: now, metrics: [{ name, tags: { instance: 'collector' }, fields: { messages_rejected: 1e12 } }] }));
      expect(result.ok, name).toBe(false);
      if (!result.ok) expect(result.detail).toContain('reserved for the collector');
    }
    const time = decodeDeviceMessage(topic, enc({ v: 1, ts: now, metrics: [{ name: 'cpu', fields: { time: 1 } }] }));
    expect(time.ok).toBe(false);
    if (!time.ok) expect(time.detail).toContain('"time" cannot be a field name');
    const event = decodeDeviceMessage('muni/v1/merkez/srv01/event', enc({ v: 1, ts: now, type: 'reboot', severity: 'info', data: { time: 5 } }));
    expect(event.ok).toBe(false);
  });

  it('names the bad field', () => {
    const result = decodeDeviceMessage(topic, enc({ v: 1, ts: now, metrics: [{ name: 'cpu', fields: { load1: [1, 2] } }] }));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.detail).toContain('metrics[0].fields.load1');
  });

  it('rejects oversized payloads before parsing them', () => {
    const result = decodeDeviceMessage(topic, Buffer.alloc(2048, 0x20), 1024);
    expect(result).toMatchObject({ ok: false, reason: 'size' });
  });
});
