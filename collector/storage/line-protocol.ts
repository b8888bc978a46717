import type { FieldValue, Point } from '../model/point.ts';

// InfluxDB line protocol, shared by the v1 and v2 writers. A bare number is a float in line
// protocol (integers need an `i` suffix), which is what the data model wants.
//
// Escaping as InfluxDB 1.x/2.x and VictoriaMetrics actually parse it (checked against the real
// servers): in names and tags a backslash only escapes `,`, `=` and space, so other backslashes
// are written as they are (doubling them would store two). A backslash that would escape the
// following separator (at the end, or before `,` `=` space) cannot be written at all and becomes
// `/` (`C:\` → `C:/`). Newlines, which would end the line, are written as the two characters `\n`
// everywhere; VictoriaMetrics drops a line with a raw newline even inside a quoted string.

const unsafeBackslash = /\\(?=[, =]|$)/g;
const newlines = (s: string) => s.replace(/\r/g, '\\r').replace(/\n/g, '\\n');
const escapeName = (s: string) => newlines(s.replace(unsafeBackslash, '/').replace(/[, ]/g, (c) => `\\${c}`));
const escapeTag = (s: string) => newlines(s.replace(unsafeBackslash, '/').replace(/[,= ]/g, (c) => `\\${c}`));
const escapeString = (s: string) => `"${newlines(s.replace(/[\\"]/g, (c) => `\\${c}`))}"`;

function encodeField(name: string, value: FieldValue): string {
  if (name === '') throw new Error('a field has an empty name');
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`field "${name}" is not a finite number (${value})`);
    return `${escapeTag(name)}=${value}`;
  }
  if (typeof value === 'boolean') return `${escapeTag(name)}=${value}`;
  // The spool stores points as JSON, where NaN and Infinity become null.
  if (typeof value !== 'string') throw new Error(`field "${name}" is not a number, boolean or string (${String(value)})`);
  return `${escapeTag(name)}=${escapeString(value)}`;
}

/** One line for one point; throws for what InfluxDB would refuse (NaN, no fields, no name, bad time). */
export function toLineProtocol(point: Point): string {
  if (point.measurement === '') throw new Error('point has an empty measurement');
  const fieldNames = Object.keys(point.fields);
  if (fieldNames.length === 0) throw new Error(`point "${point.measurement}" has no fields`);
  if (!Number.isFinite(point.time)) throw new Error(`point "${point.measurement}" has no valid time (${point.time})`);
  // Sorted tags are what InfluxDB stores anyway; sorting here saves it the work. Empty values
  // are left out: InfluxDB drops them too.
  const tags = Object.keys(point.tags)
    .filter((k) => k !== '' && point.tags[k] !== '')
    .sort()
    .map((k) => `,${escapeTag(k)}=${escapeTag(point.tags[k]!)}`)
    .join('');
  const fields = fieldNames.map((name) => encodeField(name, point.fields[name]!)).join(',');
  return `${escapeName(point.measurement)}${tags} ${fields} ${Math.trunc(point.time)}`;
}
