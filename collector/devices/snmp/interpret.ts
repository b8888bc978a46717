import type { Metric } from '../../../src/contract/schemas.ts';
import type { FieldSpec, Profile, TableGroup } from '../profile.ts';
import { compileExpression, type Expression } from './expr.ts';
import { counterRate, type CounterSample } from './rates.ts';
import { describeRaw, numberOf, textOf, type RawPoll, type RawValue } from './raw-value.ts';

// Pure: the raw values of one poll + the profile → metrics. No I/O; counters remembered from
// the previous poll come in and go out as a map owned by the caller. Absent values are left
// out quietly (MIBs have optional objects); values of the wrong type are left out and reported
// as problems, so a misbehaving device is visible without losing its good fields.

export const SYS_UPTIME = '1.3.6.1.2.1.1.3.0';
const MAX_TEXT = 256;
const MAX_TAG = 128;

export interface OidPlan {
  scalars: string[];
  /** Column OID → most rows to read. */
  columns: Map<string, number>;
}

/** Every OID a profile needs read: instance OIDs to GET and columns to walk. */
export function planRequests(profile: Profile): OidPlan {
  const scalars = new Set<string>([SYS_UPTIME]);
  for (const group of profile.scalars) for (const spec of Object.values(group.fields)) for (const oid of specOids(spec)) scalars.add(oid);
  const columns = new Map<string, number>();
  const addColumn = (oid: string, rows: number) => columns.set(oid, Math.max(columns.get(oid) ?? 0, rows));
  for (const group of profile.tables) {
    const rows = group.table.maxRows;
    for (const spec of Object.values(group.fields)) for (const oid of specOids(spec)) addColumn(oid, rows);
    if (group.table.tag.oid) addColumn(group.table.tag.oid, rows);
    for (const condition of group.table.where) addColumn(condition.oid, rows);
  }
  return { scalars: [...scalars], columns };
}

function specOids(spec: FieldSpec): string[] {
  switch (spec.type) {
    case 'compute':
      return Object.values(spec.vars);
    case 'sensor':
      return [spec.oid, ...(spec.scaleOid ? [spec.scaleOid] : []), ...(spec.precisionOid ? [spec.precisionOid] : [])];
    default:
      return [spec.oid];
  }
}

// Compiled once per spec object (profiles are loaded once per reload), checked at load by checkProfile().
const expressions = new WeakMap<FieldSpec, Expression>();
const regexes = new Map<string, RegExp>();

function expressionOf(spec: Extract<FieldSpec, { type: 'compute' }>): Expression {
  let compiled = expressions.get(spec);
  if (!compiled) {
    compiled = compileExpression(spec.expr, Object.keys(spec.vars));
    expressions.set(spec, compiled);
  }
  return compiled;
}

function regexOf(source: string): RegExp {
  let re = regexes.get(source);
  if (!re) {
    re = new RegExp(source, 'i');
    regexes.set(source, re);
  }
  return re;
}

/** Throws naming the field when an expression or a regular expression of the profile does not compile. */
export function checkProfile(profile: Profile): void {
  const groups = [...profile.scalars, ...profile.tables];
  for (const group of groups) {
    for (const [name, spec] of Object.entries(group.fields)) {
      if (spec.type !== 'compute') continue;
      try {
        expressionOf(spec);
      } catch (error) {
        throw new Error(`${group.measurement}.${name}: ${(error as Error).message}`);
      }
    }
  }
  for (const group of profile.tables) {
    for (const source of [group.table.tag.pattern, ...group.table.where.map((c) => c.matches)]) {
      if (source === undefined) continue;
      try {
        regexOf(source);
      } catch (error) {
        throw new Error(`${group.measurement}: bad regular expression "${source}": ${(error as Error).message}`);
      }
    }
  }
}

export interface InterpretInput {
  profile: Profile;
  poll: RawPoll;
  now: number;
  /** Counter samples of the previous poll, keyed by measurement/row/field; updated in place. */
  counters: Map<string, CounterSample>;
  rebooted: boolean;
}

export interface Interpretation {
  metrics: Metric[];
  problems: string[];
}

type Lookup = (oid: string) => RawValue | undefined;

export function interpretPoll(input: InterpretInput): Interpretation {
  const problems: string[] = [];
  const metrics: Metric[] = [];
  const { poll } = input;
  const scalar: Lookup = (oid) => poll.scalars.get(oid);

  for (const group of input.profile.scalars) {
    const fields = readFields(group.fields, scalar, `${group.measurement}`, input, problems);
    if (Object.keys(fields).length > 0) metrics.push({ name: group.measurement, fields });
  }
  for (const group of input.profile.tables) metrics.push(...readTable(group, input, problems));
  return { metrics, problems };
}

function readTable(group: TableGroup, input: InterpretInput, problems: string[]): Metric[] {
  const { poll } = input;
  const indexes = new Set<string>();
  for (const spec of Object.values(group.fields)) for (const oid of specOids(spec)) for (const index of poll.columns.get(oid)?.keys() ?? []) indexes.add(index);
  const metrics: Metric[] = [];
  for (const index of [...indexes].sort(compareIndexes).slice(0, group.table.maxRows)) {
    const row: Lookup = (oid) => poll.columns.get(oid)?.get(index) ?? poll.scalars.get(oid);
    if (!group.table.where.every((condition) => meets(condition, row(condition.oid)))) continue;
    const tag = rowTag(group, index, row);
    const fields = readFields(group.fields, row, `${group.measurement}[${tag}]`, input, problems);
    if (Object.keys(fields).length > 0) metrics.push({ name: group.measurement, tags: { [group.table.tag.key]: tag }, fields });
  }
  return metrics;
}

function rowTag(group: TableGroup, index: string, row: Lookup): string {
  const { oid, pattern } = group.table.tag;
  const raw = oid ? row(oid) : undefined;
  let text = (raw && textOf(raw, MAX_TAG)) || index;
  if (pattern) text = regexOf(pattern).exec(text)?.[1] ?? text;
  return text.slice(0, MAX_TAG) || index;
}

function meets(condition: TableGroup['table']['where'][number], raw: RawValue | undefined): boolean {
  if (!raw) return false;
  if (condition.in) return condition.in.includes(numberOf(raw) ?? Number.NaN);
  if (condition.oidIn) return raw.kind === 'oid' && condition.oidIn.includes(raw.value);
  const text = textOf(raw, MAX_TEXT);
  return text !== undefined && condition.matches !== undefined && regexOf(condition.matches).test(text);
}

/** Numeric index order (ifIndex 2 before 10), the way the device lists them. */
function compareIndexes(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

function readFields(specs: Record<string, FieldSpec>, lookup: Lookup, where: string, input: InterpretInput, problems: string[]): Metric['fields'] {
  const fields: Metric['fields'] = {};
  for (const [name, spec] of Object.entries(specs)) {
    const result = readField(spec, lookup, `${where}.${name}`, input);
    if (result === undefined) continue;
    if (typeof result === 'object') problems.push(result.problem);
    else fields[name] = result;
  }
  return fields;
}

type FieldResult = number | string | undefined | { problem: string };

function readField(spec: FieldSpec, lookup: Lookup, key: string, input: InterpretInput): FieldResult {
  if (spec.type === 'compute') return computeField(spec, lookup, key);
  const raw = lookup(spec.oid);
  if (!raw) return undefined;
  const wrongType = (expected: string) => ({ problem: `${key}: expected ${expected}, got ${describeRaw(raw)}` });
  switch (spec.type) {
    case 'text':
      return textOf(raw, MAX_TEXT) ?? wrongType('text');
    case 'enum': {
      const n = numberOf(raw);
      if (n === undefined || !Number.isInteger(n)) return wrongType('an integer');
      return spec.values[String(n)] ?? `unknown(${n})`;
    }
    case 'flag': {
      const n = numberOf(raw);
      if (n === undefined || !Number.isInteger(n)) return wrongType('an integer');
      return spec.trueWhen.includes(n) ? 1 : 0;
    }
    case 'counter': {
      if (raw.kind !== 'counter32' && raw.kind !== 'counter64') return wrongType('a counter');
      const sample: CounterSample = { value: raw.kind === 'counter64' ? raw.value : BigInt(raw.value), wide: raw.kind === 'counter64', at: input.now };
      const rate = counterRate(input.counters.get(key), sample, input.rebooted);
      input.counters.set(key, sample);
      return rate === undefined ? undefined : finite(rate * spec.scale, key);
    }
    case 'gauge': {
      const n = numberOf(raw);
      if (n === undefined) return wrongType('a number');
      if (spec.absentWhen?.includes(n)) return undefined;
      return finite(n * spec.scale + spec.offset, key);
    }
    case 'sensor': {
      const n = numberOf(raw);
      if (n === undefined) return wrongType('a number');
      if (spec.absentWhen?.includes(n)) return undefined;
      const unitScale = spec.scaleOid ? numberAt(lookup, spec.scaleOid) : 9;
      const precision = spec.precisionOid ? numberAt(lookup, spec.precisionOid) : 0;
      if (unitScale === undefined || precision === undefined || unitScale < 1 || unitScale > 17 || Math.abs(precision) > 9) return { problem: `${key}: sensor scale/precision out of range` };
      return finite((n * 10 ** (3 * (unitScale - 9)) * spec.scale) / 10 ** precision, key);
    }
  }
}

function numberAt(lookup: Lookup, oid: string): number | undefined {
  const raw = lookup(oid);
  return raw ? numberOf(raw) : undefined;
}

function computeField(spec: Extract<FieldSpec, { type: 'compute' }>, lookup: Lookup, key: string): FieldResult {
  const vars: Record<string, number> = {};
  for (const [name, oid] of Object.entries(spec.vars)) {
    const raw = lookup(oid);
    if (!raw) return undefined;
    const n = numberOf(raw);
    if (n === undefined) return { problem: `${key}: ${name} expected a number, got ${describeRaw(raw)}` };
    if (spec.absentWhen?.includes(n)) return undefined;
    vars[name] = n;
  }
  return finite(expressionOf(spec)(vars), key);
}

function finite(value: number, key: string): FieldResult {
  if (!Number.isFinite(value)) return { problem: `${key}: result is not a finite number` };
  return Math.round(value * 1e6) / 1e6;
}
