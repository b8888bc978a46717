import { z } from 'zod';
import { DEVICE_KINDS, EVENT_SEVERITIES, METRIC_TAG_KEYS } from '../../src/contract/schemas.ts';

// What to read from a device family, as data. A profile names its driver; SNMP profiles list
// OIDs with how to turn each value into a field, HTTP drivers (ISAPI) need nothing but their
// name. A new UPS model or switch vendor is a new YAML file in profiles/, not a code change.

const oid = z.string().regex(/^1(\.\d+)+$/, 'expected a numeric OID like 1.3.6.1.2.1.1.3.0');
const name = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'expected a lower-case name like "load_pct"');

/**
 * How one SNMP value becomes a field:
 * - gauge: a number, times `scale`;
 * - counter: a Counter32/64, stored as a per-second rate times `scale` (octets × 8 = bits/s);
 *   wraps and device reboots are handled, the first poll gives no rate;
 * - enum: the integer mapped through `values` to a text (unknown numbers kept as "unknown(7)");
 * - flag: 1 when the integer is one of `trueWhen`, else 0;
 * - text: a string, cut to 256 characters;
 * - sensor: ENTITY-SENSOR style value × 10^(3·(scale−9)) / 10^precision, scale and precision
 *   read from the sibling columns `scaleOid` / `precisionOid` of the same row;
 * - compute: arithmetic over named values of the same row (or scalars):
 *   `vars: {size: …, used: …, units: …}`, `expr: "(size - used) * units"`; + − × ÷, parentheses,
 *   numbers, log10(); a result that is not finite (÷0, log10 of 0) is refused as a problem.
 * `absentWhen` lists raw values a MIB uses for "not available" (Printer-MIB −1/−2/−3,
 * 2147483647): the field is left out without counting a problem.
 */
const absentWhen = z.array(z.number()).optional();
export const fieldSpecSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('gauge'), oid, scale: z.number().default(1), offset: z.number().default(0), absentWhen }),
  z.strictObject({ type: z.literal('counter'), oid, scale: z.number().default(1) }),
  z.strictObject({ type: z.literal('enum'), oid, values: z.record(z.string().regex(/^-?\d+$/), z.string().min(1).max(64)) }),
  z.strictObject({ type: z.literal('flag'), oid, trueWhen: z.array(z.number().int()).min(1) }),
  z.strictObject({ type: z.literal('text'), oid }),
  z.strictObject({ type: z.literal('sensor'), oid, scaleOid: oid.optional(), precisionOid: oid.optional(), scale: z.number().default(1), absentWhen }),
  z.strictObject({ type: z.literal('compute'), vars: z.record(z.string().regex(/^[a-z][a-z0-9_]*$/), oid).refine((v) => Object.keys(v).length > 0, 'at least one variable'), expr: z.string().min(1).max(200), absentWhen }),
]);
export type FieldSpec = z.infer<typeof fieldSpecSchema>;

/** A field spec written without `type` is a gauge. */
const fieldSpec = z.preprocess((raw) => (typeof raw === 'object' && raw !== null && !('type' in raw) ? { type: 'gauge', ...raw } : raw), fieldSpecSchema);

const fields = z.record(name, fieldSpec).refine((f) => Object.keys(f).length > 0 && Object.keys(f).length <= 64, 'between 1 and 64 fields');

/** Scalars: one GET of instance OIDs (ending in .0), one point per poll. */
const scalarGroup = z.strictObject({ measurement: name, fields });

/**
 * A row filter on one column: integers (`in`), OID values (`oidIn`, e.g. hrStorageFixedDisk)
 * or text (`matches`, a case-insensitive regular expression; numbers match as their decimal
 * text, which lets a profile tell a positive µW reading from a negative 0.01 dBm one).
 */
const rowCondition = z
  .strictObject({ oid, in: z.array(z.number().int()).min(1).optional(), oidIn: z.array(oid).min(1).optional(), matches: z.string().min(1).max(200).optional() })
  .refine((c) => [c.in, c.oidIn, c.matches].filter((x) => x !== undefined).length === 1, 'give exactly one of in, oidIn, matches');

/**
 * Tables: the columns are walked (GETBULK), one point per row index. The row's tag comes from
 * the index itself or from a column (possibly of another table sharing the index, like
 * entPhysicalName for ENTITY-SENSOR rows); `pattern` keeps the first capture group of a regular
 * expression ("Te1/1 Receive Power" → "Te1/1", so Rx and Tx rows land on one series). `where`
 * keeps only rows meeting every condition (e.g. only dBm sensors named "Receive").
 * `maxRows` bounds what a misbehaving device can make us store.
 */
const tableGroup = z.strictObject({
  measurement: name,
  table: z.strictObject({
    tag: z.strictObject({ key: z.enum(METRIC_TAG_KEYS), oid: oid.optional(), pattern: z.string().min(1).max(200).optional() }),
    where: z.array(rowCondition).max(8).default([]),
    maxRows: z.number().int().positive().max(10_000).default(1_000),
  }),
  fields,
});

/** A trap this profile knows: its OID (snmpTrapOID, or enterprise.0.specific for v1) → event. */
const trapSpec = z.strictObject({
  type: name,
  severity: z.enum(EVENT_SEVERITIES),
  message: z.strictObject({ en: z.string().max(200), tr: z.string().max(200) }),
  /** Varbinds to keep in the event's data, by name: {if_index: 1.3.6.1.2.1.2.2.1.1} (the row index is matched by prefix). */
  data: z.record(name, oid).optional(),
});
export type TrapSpec = z.infer<typeof trapSpec>;

export const profileSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'expected an id like "ups-mib"'),
  driver: z.string().min(1).default('snmp'),
  kind: z.enum(DEVICE_KINDS),
  description: z.string().max(300),
  /** How `discover` recognises a device: sysObjectID prefixes and/or an OID that must answer. */
  detect: z.strictObject({ sysObjectId: z.array(oid).optional(), oid: oid.optional() }).optional(),
  scalars: z.array(scalarGroup).default([]),
  tables: z.array(tableGroup).default([]),
  traps: z.record(oid, trapSpec).default({}),
});
export type Profile = z.infer<typeof profileSchema>;
export type ScalarGroup = z.infer<typeof scalarGroup>;
export type TableGroup = z.infer<typeof tableGroup>;
