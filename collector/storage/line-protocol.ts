import type { FieldValue, Point } from '../model/point.ts';

// InfluxDB line protocol, shared by the v1 and v2 writers. A bare number is a float in line
// protocol (integers need an `i` suffix), which is what the data model wants.

const escapeMeasurement = (s: string) => s.replace(/[\\, ]/g, (c) => `\\${c}`).replace(/\n/g, '\\n');
const escapeKey = (s: string) => s.replace(/[\\,= ]/g, (c) => `\\${c}`).replace(/\n/g, '\\n');
const escapeString = (s: string) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`;

function encodeField(name: string, value: FieldValue): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`field "${name}" is not a finite number (${value})`);
    return `${escapeKey(name)}=${value}`;
  }
  if (typeof value === 'boolean') return `${escapeKey(name)}=${value ? 'true' : 'false'}`;
  return `${escapeKey(name)}=${escapeString(value)}`;
}

export function toLineProtocol(point: Point): string {
  const fieldNames = Object.keys(point.fields);
  if (fieldNames.length === 0) throw new Error(`point "${point.measurement}" has no fields`);
  // Sorted tags are what InfluxDB stores anyway; sorting here saves it the work.
  const tags = Object.keys(point.tags)
    .filter((k) => point.tags[k] !== '')
    .sort()
    .map((k) => `,${escapeKey(k)}=${escapeKey(point.tags[k]!)}`)
    .join('');
  const fields = fieldNames.map((name) => encodeField(name, point.fields[name]!)).join(',');
  return `${escapeMeasurement(point.measurement)}${tags} ${fields} ${Math.trunc(point.time)}`;
}

export function encodeBatch(points: readonly Point[]): string {
  return points.map(toLineProtocol).join('\n');
}
