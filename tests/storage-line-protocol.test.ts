import { describe, expect, it } from 'vitest';
import type { Point } from '../collector/model/point.ts';
import { toLineProtocol } from '../collector/storage/line-protocol.ts';
import { encodeBatch, isRetryableStatus, writeErrorFromStatus } from '../collector/storage/write-errors.ts';
import { WriteError } from '../collector/storage/writer.ts';

const point = (over: Partial<Point>): Point => ({ measurement: 'cpu', tags: {}, fields: { v: 1 }, time: 1_700_000_000_000, ...over });

describe('toLineProtocol', () => {
  it('writes numbers as floats (no i suffix), booleans as true/false, ms time', () => {
    expect(toLineProtocol(point({ fields: { a: 1, b: 1.5, c: -0.25, d: 1e21, e: true, f: false } }))).toBe('cpu a=1,b=1.5,c=-0.25,d=1e+21,e=true,f=false 1700000000000');
  });

  it('sorts tags, leaves out empty ones, truncates fractional ms', () => {
    expect(toLineProtocol(point({ tags: { site: 's', device: 'd', kind: 'pc', mount: '' }, time: 1.9e12 + 0.7 }))).toBe('cpu,device=d,kind=pc,site=s v=1 1900000000000');
  });

  it('escapes measurement (comma, space), tags (comma, equals, space) and strings (quote, backslash)', () => {
    const line = toLineProtocol(point({ measurement: 'my meas,x=y', tags: { 'k y': 'a b,c=d' }, fields: { msg: 'Disk "C:" dolu \\ bitti' } }));
    expect(line).toBe('my\\ meas\\,x=y,k\\ y=a\\ b\\,c\\=d msg="Disk \\"C:\\" dolu \\\\ bitti" 1700000000000');
  });

  it('keeps backslashes inside tags as they are, and turns one that would escape a separator into /', () => {
    expect(toLineProtocol(point({ tags: { mount: 'C:\\Users' } }))).toBe('cpu,mount=C:\\Users v=1 1700000000000');
    expect(toLineProtocol(point({ tags: { mount: 'C:\\' } }))).toBe('cpu,mount=C:/ v=1 1700000000000');
    expect(toLineProtocol(point({ tags: { x: 'a\\,b\\ c' } }))).toBe('cpu,x=a/\\,b/\\ c v=1 1700000000000');
  });

  it('never breaks a line on a newline, in tags or strings', () => {
    const line = toLineProtocol(point({ tags: { sensor: 'a\nb' }, fields: { message: 'satır 1\r\nsatır 2' } }));
    expect(line).not.toMatch(/[\r\n]/);
    expect(line).toBe('cpu,sensor=a\\nb message="satır 1\\r\\nsatır 2" 1700000000000');
  });

  it('passes Turkish letters through unchanged', () => {
    const line = toLineProtocol(point({ tags: { site: 'Şişli İlçe', device: 'ığüşöç' }, fields: { message: 'Güç kaynağı arızalı: ÇÖĞÜŞİı' } }));
    expect(line).toBe('cpu,device=ığüşöç,site=Şişli\\ İlçe message="Güç kaynağı arızalı: ÇÖĞÜŞİı" 1700000000000');
  });

  it('refuses what InfluxDB would refuse, naming the problem', () => {
    expect(() => toLineProtocol(point({ fields: { v: Number.NaN } }))).toThrow('field "v" is not a finite number (NaN)');
    expect(() => toLineProtocol(point({ fields: { v: Number.POSITIVE_INFINITY } }))).toThrow('field "v" is not a finite number (Infinity)');
    expect(() => toLineProtocol(point({ fields: {} }))).toThrow('point "cpu" has no fields');
    expect(() => toLineProtocol(point({ measurement: '' }))).toThrow('empty measurement');
    expect(() => toLineProtocol(point({ fields: { '': 1 } }))).toThrow('empty name');
    expect(() => toLineProtocol(point({ time: Number.NaN }))).toThrow('no valid time');
  });
});

describe('write error rules', () => {
  it('retries 5xx, 429 and 408 only', () => {
    for (const status of [500, 502, 503, 504, 429, 408]) expect(isRetryableStatus(status)).toBe(true);
    for (const status of [400, 401, 403, 404, 413, 422]) expect(isRetryableStatus(status)).toBe(false);
  });

  it('keeps the server text in the message', () => {
    const error = writeErrorFromStatus('InfluxDB v1', 400, '{"error":"field type conflict"}\n');
    expect(error).toMatchObject({ retryable: false, status: 400, message: 'InfluxDB v1 write failed with HTTP 400: {"error":"field type conflict"}' });
  });

  it('turns a point that cannot be encoded into a permanent WriteError naming the point', () => {
    const error = (() => {
      try {
        encodeBatch('InfluxDB v2', [point({}), point({ fields: { v: Number.NaN } })]);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(WriteError);
    expect(error).toMatchObject({ retryable: false, message: 'InfluxDB v2 write refused before sending: point 1: field "v" is not a finite number (NaN)' });
  });
});
