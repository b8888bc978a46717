import { z } from 'zod';

// Payload schemas of contract v1. Every payload is a JSON object with `v: 1` and `ts`
// (milliseconds since the epoch, the moment the data was taken on the device).
// Types are derived from these schemas and never written twice.

export const CONTRACT_VERSION = 1;

/** Default upper bound for one MQTT payload; the collector may lower it by configuration. */
export const MAX_PAYLOAD_BYTES = 512 * 1024;

// A timestamp must be plausible: not before 2020 and not more than a day in the future,
// so that a device with a dead RTC battery cannot write points into 1970 or 2099.
const MIN_TS = Date.UTC(2020, 0, 1);
const MAX_FUTURE_MS = 24 * 60 * 60 * 1000;
export const timestampSchema = z
  .number()
  .int()
  .refine((ts) => ts >= MIN_TS && ts <= Date.now() + MAX_FUTURE_MS, {
    message: 'timestamp must be milliseconds since the epoch, after 2020 and not more than a day ahead',
  });

const nameSchema = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'expected a lower-case name like "cpu" or "fs_used"');

/**
 * Measurements the collector writes itself: a device writing into them could forge the collector's
 * health or device states, or give a field another type first (InfluxDB keeps a field's first
 * type), so that the collector's own points are refused — `device_info.display_name` as a number.
 */
export const RESERVED_MEASUREMENTS = ['collector', 'device_state', 'device_info', 'events', 'alerts', 'notification_channel', 'outages', 'backup', 'backup_offsite', 'site_state'] as const;
const metricNameSchema = nameSchema.refine((name) => !(RESERVED_MEASUREMENTS as readonly string[]).includes(name), { message: `reserved for the collector (${RESERVED_MEASUREMENTS.join(', ')})` });
/** InfluxDB refuses a field named "time" (HTTP 400): refused here, where the device learns why. */
const noTimeField = [(fields: Record<string, unknown>) => !Object.hasOwn(fields, 'time'), '"time" cannot be a field name'] as const;

/**
 * Tag keys a device may set. Tags become InfluxDB series keys, so only keys with a bounded
 * number of values per device are allowed; anything unbounded must be a field.
 */
export const METRIC_TAG_KEYS = ['mount', 'iface', 'disk', 'sensor', 'battery', 'instance', 'link', 'channel', 'supply'] as const;
export const metricTagsSchema = z.partialRecord(z.enum(METRIC_TAG_KEYS), z.string().min(1).max(128));

export const fieldValueSchema = z.union([z.number().finite(), z.boolean(), z.string().max(256)]);
export const metricSchema = z.strictObject({
  name: metricNameSchema,
  tags: metricTagsSchema.optional(),
  fields: z
    .record(nameSchema, fieldValueSchema)
    .refine(...noTimeField)
    .refine((f) => Object.keys(f).length > 0, 'a metric needs at least one field')
    .refine((f) => Object.keys(f).length <= 64, 'at most 64 fields per metric'),
});
export type Metric = z.infer<typeof metricSchema>;

export const metricsMessageSchema = z.strictObject({
  v: z.literal(CONTRACT_VERSION),
  ts: timestampSchema,
  /** Per-device sequence number, lets the collector see gaps and duplicates. */
  seq: z.number().int().nonnegative().optional(),
  metrics: z.array(metricSchema).min(1).max(2000),
});
export type MetricsMessage = z.infer<typeof metricsMessageSchema>;

/** `service` and `link`: what uptime probes watch (a web site, mail, an internet line, a remote unit's fiber). */
export const DEVICE_KINDS = ['pc', 'server', 'ups', 'switch', 'router', 'nvr', 'camera', 'sensor', 'printer', 'kiosk', 'terminal', 'service', 'link', 'other'] as const;
export const deviceKindSchema = z.enum(DEVICE_KINDS);
export type DeviceKind = z.infer<typeof deviceKindSchema>;

/** Birth (online) and last-will (offline) messages, published retained. */
export const stateMessageSchema = z.strictObject({
  v: z.literal(CONTRACT_VERSION),
  ts: timestampSchema,
  state: z.enum(['online', 'offline']),
  kind: deviceKindSchema.optional(),
  /** Why a device went offline: `lwt` (connection lost), `shutdown` (clean stop). */
  reason: z.string().max(128).optional(),
  /** Seconds between metrics messages; the collector derives the heartbeat timeout from it. */
  intervalS: z.number().positive().max(86_400).optional(),
  bootTime: timestampSchema.optional(),
  agent: z.strictObject({ name: z.string().max(64), version: z.string().max(64) }).optional(),
});
export type StateMessage = z.infer<typeof stateMessageSchema>;

const shortText = z.string().max(256);
const optionalText = shortText.optional();

export const softwareEntrySchema = z.strictObject({
  name: shortText,
  version: optionalText,
  publisher: optionalText,
  installDate: optionalText,
});

export const inventorySchema = z.strictObject({
  system: z.strictObject({ manufacturer: optionalText, model: optionalText, serial: optionalText, uuid: optionalText }),
  bios: z.strictObject({ vendor: optionalText, version: optionalText, releaseDate: optionalText }).optional(),
  cpu: z
    .strictObject({ manufacturer: optionalText, brand: optionalText, cores: z.number().int().optional(), physicalCores: z.number().int().optional(), speedGHz: z.number().optional() })
    .optional(),
  memory: z.array(z.strictObject({ sizeBytes: z.number(), type: optionalText, speedMHz: z.number().optional(), manufacturer: optionalText, serial: optionalText, slot: optionalText })).max(64).optional(),
  disks: z.array(z.strictObject({ device: optionalText, model: optionalText, serial: optionalText, sizeBytes: z.number().optional(), type: optionalText, interface: optionalText })).max(128).optional(),
  nics: z.array(z.strictObject({ iface: shortText, mac: optionalText, speedMbps: z.number().nullable().optional(), virtual: z.boolean().optional() })).max(128).optional(),
  /** `hostname`: the host name as the OS reports it ("BİLGİİŞLEM-PC01"), letters intact; the dashboards show it as the device's name. */
  os: z.strictObject({ platform: optionalText, distro: optionalText, release: optionalText, kernel: optionalText, arch: optionalText, hostname: optionalText }).optional(),
  software: z.array(softwareEntrySchema).max(10_000).optional(),
  /** Logged-in user names: personal data (KVKK), sent only when the agent is configured to. */
  users: z.array(z.string().max(64)).max(32).optional(),
});
export type Inventory = z.infer<typeof inventorySchema>;

/** Inventory, published retained and only when it changed (the hash says whether it did). */
export const inventoryMessageSchema = z.strictObject({
  v: z.literal(CONTRACT_VERSION),
  ts: timestampSchema,
  hash: z.string().regex(/^[a-f0-9]{16,64}$/, 'expected a hex digest'),
  inventory: inventorySchema,
});
export type InventoryMessage = z.infer<typeof inventoryMessageSchema>;

export const EVENT_SEVERITIES = ['info', 'warning', 'critical'] as const;
export const eventMessageSchema = z.strictObject({
  v: z.literal(CONTRACT_VERSION),
  ts: timestampSchema,
  type: nameSchema,
  severity: z.enum(EVENT_SEVERITIES),
  message: z.string().max(1024).optional(),
  data: z
    .record(nameSchema, fieldValueSchema)
    .refine(...noTimeField)
    .optional(),
});
export type EventMessage = z.infer<typeof eventMessageSchema>;

export const channelSchemas = {
  metrics: metricsMessageSchema,
  state: stateMessageSchema,
  inventory: inventoryMessageSchema,
  event: eventMessageSchema,
} as const;

export type DeviceMessage =
  | { channel: 'metrics'; body: MetricsMessage }
  | { channel: 'state'; body: StateMessage }
  | { channel: 'inventory'; body: InventoryMessage }
  | { channel: 'event'; body: EventMessage };

/** Turns a zod error into one line naming the bad field: `metrics[0].fields.load1: expected number`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${formatPath(issue.path) || '(root)'}: ${issue.message}`)
    .join('; ');
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, part) => {
    if (typeof part === 'number') return `${acc}[${part}]`;
    return acc ? `${acc}.${String(part)}` : String(part);
  }, '');
}
