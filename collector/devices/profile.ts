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
 *   read from the sibling columns `scaleOid` / `precisionOid` of the same row.
 */
export const fieldSpecSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('gauge'), oid, scale: z.number().default(1), offset: z.number().default(0) }),
  z.strictObject({ type: z.literal('counter'), oid, scale: z.number().default(1) }),
  z.strictObject({ type: z.literal('enum'), oid, values: z.record(z.string().regex(/^-?\d+$/), z.string().min(1).max(64)) }),
  z.strictObject({ type: z.literal('flag'), oid, trueWhen: z.array(z.number().int()).min(1) }),
  z.strictObject({ type: z.literal('text'), oid }),
  z.strictObject({ type: z.literal('sensor'), oid, scaleOid: oid.optional(), precisionOid: oid.optional(), scale: z.number().default(1) }),
]);
export type FieldSpec = z.infer<typeof fieldSpecSchema>;

/** A field spec written without `type` is a gauge. */
const fieldSpec = z.preprocess((raw) => (typeof raw === 'object' && raw !== null && !('type' in raw) ? { type: 'gauge', ...raw } : raw), fieldSpecSchema);

const fields = z.record(name, fieldSpec).refine((f) => Object.keys(f).length > 0 && Object.keys(f).length <= 64, 'between 1 and 64 fields');

/** Scalars: one GET of instance OIDs (ending in .0), one point per poll. */
const scalarGroup = z.strictObject({ measurement: name, fields });

/**
 * Tables: the columns are walked (GETBULK), one point per row index. The row's tag comes from
 * the index itself or from a column (possibly of another table sharing the index, like
 * entPhysicalName for ENTITY-SENSOR rows). `where` keeps only rows whose column has one of the
 * values (e.g. only dBm sensors). `maxRows` bounds what a misbehaving device can make us store.
 */
const tableGroup = z.strictObject({
  measurement: name,
  table: z.strictObject({
    tag: z.strictObject({ key: z.enum(METRIC_TAG_KEYS), oid: oid.optional() }),
    where: z.strictObject({ oid, in: z.array(z.number().int()).min(1) }).optional(),
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
