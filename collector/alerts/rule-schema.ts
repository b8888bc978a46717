import { z } from 'zod';
import { DEVICE_KINDS, EVENT_SEVERITIES } from '../../src/contract/schemas.ts';
import { ID_PATTERN } from '../../src/contract/topics.ts';
import { durationSchema } from '../../src/duration.ts';

// Alert rules as data (collector/alerts/default-rules.yaml, plus the municipality's own file).
// A rule watches the incoming stream of points (agents, polled devices, traps, device states)
// in the collector itself, so alerts work while InfluxDB is down.

const name = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'expected a lower-case name like "disk_almost_full"');
const text = z.string().min(1).max(500);

/** Which points a rule looks at. Tag filters: an exact value, or "*" for "the tag is present". */
const matchSchema = z.strictObject({
  measurement: name,
  field: name.optional(),
  kinds: z.array(z.enum(DEVICE_KINDS)).min(1).optional(),
  sites: z.array(z.string().regex(ID_PATTERN)).min(1).optional(),
  tags: z.record(z.string().regex(/^[a-z][a-z0-9_]*$/), z.string().min(1).max(128)).optional(),
});

const common = {
  id: name,
  enabled: z.boolean().default(true),
  severity: z.enum(EVENT_SEVERITIES),
  /** What team/route the alert belongs to: hardware, power, network, cameras, systems… (routing matches on it). */
  category: name,
  /** {{site}} {{device}} {{kind}} {{instance}} {{value}} and the event's {{message}} are filled in. */
  message: z.strictObject({ tr: text, en: text }),
  /** Tag whose value makes separate alerts of one device (the disk, the interface, the channel). */
  instance: name.optional(),
};

const fieldRequired = (rule: { match: { field?: string | undefined } }) => rule.match.field !== undefined;
const needsField = { message: 'this rule type needs match.field', path: ['match', 'field'] };

const thresholdRule = z
  .strictObject({
    ...common,
    type: z.literal('threshold'),
    match: matchSchema,
    above: z.number().optional(),
    below: z.number().optional(),
    /** Hysteresis: the alert resolves only past this value (default: the threshold itself). */
    clear: z.number().optional(),
    for: durationSchema.default(0),
  })
  .refine(fieldRequired, needsField)
  .refine((r) => (r.above === undefined) !== (r.below === undefined), { message: 'give exactly one of above, below', path: ['above'] })
  .refine((r) => r.clear === undefined || (r.above !== undefined ? r.clear <= r.above : r.clear >= r.below!), { message: 'clear must be on the healthy side of the threshold', path: ['clear'] });

const stateRule = z
  .strictObject({
    ...common,
    type: z.literal('state'),
    match: matchSchema,
    /** The bad values: fires while the field has one of them. */
    in: z.array(z.union([z.number(), z.string()])).min(1),
    for: durationSchema.default(0),
  })
  .refine(fieldRequired, needsField);

const eventRule = z.strictObject({
  ...common,
  type: z.literal('event'),
  /** Event types (agents' events, traps, reboots) that fire it. */
  events: z.array(name).min(1),
  /** Event types that resolve it (e.g. ups_on_line after ups_on_battery); otherwise it resolves after `resolveAfter`. */
  resolvedBy: z.array(name).default([]),
  resolveAfter: durationSchema.default(3_600_000),
  match: matchSchema.omit({ measurement: true, field: true }).optional(),
});

const absenceRule = z.strictObject({
  ...common,
  type: z.literal('absence'),
  match: matchSchema,
  /** Fires when a device that sent such points sends none for this long. */
  after: durationSchema,
});

const trendRule = z
  .strictObject({
    ...common,
    type: z.literal('trend'),
    match: matchSchema,
    /** Fires when the field, at its current rate over `window`, reaches `reaches` within `within`. */
    reaches: z.number(),
    within: durationSchema,
    window: durationSchema.default(21_600_000),
    minSamples: z.number().int().min(3).default(6),
  })
  .refine(fieldRequired, needsField);

export const ruleSchema = z.discriminatedUnion('type', [thresholdRule, stateRule, eventRule, absenceRule, trendRule]);
export type Rule = z.infer<typeof ruleSchema>;
export type ThresholdRule = z.infer<typeof thresholdRule>;
export type StateRule = z.infer<typeof stateRule>;
export type EventRule = z.infer<typeof eventRule>;
export type AbsenceRule = z.infer<typeof absenceRule>;
export type TrendRule = z.infer<typeof trendRule>;

export const rulesFileSchema = z.strictObject({
  rules: z
    .array(ruleSchema)
    .default([])
    .superRefine((rules, ctx) => {
      const seen = new Set<string>();
      rules.forEach((r, i) => {
        if (seen.has(r.id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `rule "${r.id}" is defined twice` });
        seen.add(r.id);
      });
    }),
});
