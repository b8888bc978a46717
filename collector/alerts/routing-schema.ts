import { z } from 'zod';
import { parseYamlText, validateConfig } from '../../src/config/load.ts';
import { DEVICE_KINDS, EVENT_SEVERITIES } from '../../src/contract/schemas.ts';
import { ID_PATTERN } from '../../src/contract/topics.ts';
import type { Language } from '../devices/driver.ts';
import { durationSchema } from '../../src/duration.ts';

// The people side of the notification file: who the contacts are, which team owns which
// alerts, when a team is at work, who is on duty (nöbet) outside of it, and when alerts are
// expected (maintenance). Times in the file are wall-clock times in `timezone`; they are kept
// as "wall milliseconds" (the local date and time read as if it were UTC), so routing compares
// them with the wall clock of `now` and never needs the zone's offset or DST rules.

const DAY = 86_400_000;

/** Index = Date#getUTCDay() of a wall-clock time. */
export const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const LANGUAGES = ['tr', 'en'] as const satisfies readonly Language[];

const id = z.string().regex(ID_PATTERN, 'expected an id like "ahmet" or "bilgi-islem" (lower-case letters, digits, ".", "_", "-")');
const siteDevice = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}\/[a-z0-9][a-z0-9._-]{0,63}$/, 'expected "site/device", e.g. "merkez/srv-yedek"');

/** "08:30" → 510 (minutes after midnight). */
function clockMinutes(text: string): number | undefined {
  const match = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  return match ? Number(match[1]) * 60 + Number(match[2]) : undefined;
}

const clock = z.string().transform((text, ctx) => {
  const minutes = clockMinutes(text);
  if (minutes === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a time of day like "08:30", got "${text}"` });
    return z.NEVER;
  }
  return minutes;
});

/** "2026-11-02" or "2026-11-02T08:30" → wall milliseconds; undefined for a date that does not exist (2026-02-30). */
function wallTime(text: string): { ms: number; dateOnly: boolean } | undefined {
  const match = /^(20\d\d)-(\d\d)-(\d\d)(?:T(\d\d:\d\d))?$/.exec(text);
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]) - 1, Number(match[3])];
  const date = Date.UTC(year, month, day);
  const check = new Date(date);
  if (check.getUTCMonth() !== month || check.getUTCDate() !== day) return undefined;
  const minutes = match[4] === undefined ? 0 : clockMinutes(match[4]);
  return minutes === undefined ? undefined : { ms: date + minutes * 60_000, dateOnly: match[4] === undefined };
}

const localTime = z.string().transform((text, ctx) => {
  const time = wallTime(text);
  if (!time) {
    ctx.addIssue({ code: 'custom', message: `expected a local date and time like "2026-11-02T08:30" (or a date "2026-11-02"), got "${text}"` });
    return z.NEVER;
  }
  return time.ms;
});

/** A whole day off ("2026-10-29"), or off from a time until the day ends ("2026-10-28T13:00": the afternoon before a bayram). */
const holiday = z.string().transform((text, ctx) => {
  const time = wallTime(text);
  if (!time) {
    ctx.addIssue({ code: 'custom', message: `expected a date like "2026-10-29" or a half day like "2026-10-28T13:00", got "${text}"` });
    return z.NEVER;
  }
  return { from: time.ms, to: time.ms - (time.ms % DAY) + DAY };
});

/** Phone numbers as people write them → E.164. National Turkish forms get +90; other countries need "+" or "00". */
export function normalisePhone(text: string): string | undefined {
  const compact = text.replace(/[\s().\-/]/g, '');
  if (!/^\+?\d+$/.test(compact)) return undefined;
  let e164: string;
  if (compact.startsWith('+')) e164 = compact;
  else if (compact.startsWith('00')) e164 = `+${compact.slice(2)}`;
  else if (compact.startsWith('0')) e164 = `+90${compact.slice(1)}`;
  else if (compact.length === 10) e164 = `+90${compact}`;
  else return undefined;
  // Turkey: 10 national digits, never starting with 0 or 1 (geographic 2xx–4xx, mobile 5xx, 800/850/900).
  if (e164.startsWith('+90')) return /^\+90[2-589]\d{9}$/.test(e164) ? e164 : undefined;
  return /^\+[1-9]\d{6,14}$/.test(e164) ? e164 : undefined;
}

const phone = z.string().transform((text, ctx) => {
  const e164 = normalisePhone(text);
  if (!e164) {
    ctx.addIssue({ code: 'custom', message: `expected a phone number like "+90 532 123 45 67", "0532 123 45 67" or "+49 30 1234567", got "${text}"` });
    return z.NEVER;
  }
  return e164;
});

const contactSchema = z
  .strictObject({
    id,
    name: z.string().min(1).max(200),
    email: z.email('expected an e-mail address like "ahmet@belediye.gov.tr"').optional(),
    phone: phone.optional(),
    /** For url channels (chat tools): the person's own incoming-webhook address. */
    webhook: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
    language: z.enum(LANGUAGES).default('tr'),
  })
  .refine((c) => c.email !== undefined || c.phone !== undefined || c.webhook !== undefined, 'a contact needs at least one of email, phone, webhook');

const workingHoursSchema = z
  .strictObject({
    days: z.array(z.enum(DAY_NAMES)).min(1),
    from: clock,
    to: clock,
  })
  // A working day that crosses midnight would make "which day's holiday is it" ambiguous; nights belong to onDuty.
  .refine((w) => w.to > w.from, { message: 'to must be after from: working hours do not cross midnight (nights are covered by onDuty)', path: ['to'] });

const TO_AFTER_FROM = 'to must be after from';

const onDutySchema = z.strictObject({
  rotation: z.enum(['daily', 'weekly']),
  /** When order[0]'s turn starts; the next person takes over one period later, and so on round the list. */
  handoff: localTime,
  order: z.array(id).min(1),
  /** A sick day or a swap: whoever is named here is on duty in [from, to); a later entry wins over an earlier one. */
  overrides: z
    .array(z.strictObject({ from: localTime, to: localTime, contact: id }).refine((o) => o.to > o.from, { message: TO_AFTER_FROM, path: ['to'] }))
    .default([]),
});

const teamSchema = z.strictObject({
  id,
  name: z.string().min(1).max(200),
  members: z.array(id).min(1),
  /** Default escalation target. */
  manager: id.optional(),
  /** Without it the team is never "at work": its routes always use their offHours rule. */
  workingHours: workingHoursSchema.optional(),
  /** Official holidays (and half days) count as off-hours. */
  holidays: z.array(holiday).default([]),
  onDuty: onDutySchema.optional(),
});

const targetSchema = z.union([z.enum(['team', 'onDuty', 'manager']), z.array(id).min(1)], {
  error: 'expected "team", "onDuty", "manager" or a list of contact ids',
});

const deliveryRuleSchema = z.strictObject({ channels: z.array(id).min(1), to: targetSchema });

const routeMatchSchema = z.strictObject({
  categories: z.array(id).min(1).optional(),
  sites: z.array(id).min(1).optional(),
  devices: z.array(siteDevice).min(1).optional(),
  kinds: z.array(z.enum(DEVICE_KINDS)).min(1).optional(),
  severities: z.array(z.enum(EVENT_SEVERITIES)).min(1).optional(),
});

const routeSchema = z.strictObject({
  /** Every listed field must match; no match (or an empty one) is the catch-all. */
  match: routeMatchSchema.default({}),
  team: id,
  /** Used while the team is at work; without it offHours applies around the clock. */
  workingHours: deliveryRuleSchema.optional(),
  offHours: deliveryRuleSchema,
  groupWait: durationSchema.default(30_000),
  /** "0" sends a firing alert once. */
  repeat: durationSchema.default(14_400_000),
  /** A firing alert nobody acknowledged within `after` also goes to `to`: the team's manager unless named. */
  escalate: z.strictObject({ after: durationSchema, to: targetSchema.default('manager'), channels: z.array(id).min(1) }).optional(),
  resolved: z.boolean().default(true),
});

export interface WeeklySchedule {
  kind: 'weekly';
  /** Day indexes (DAY_NAMES) on which the window opens. */
  days: number[];
  /** Minutes after midnight; to <= from means the window ends on the next day. */
  from: number;
  to: number;
}

const EVERY_HELP = 'expected "sun 02:00-04:00", "daily 01:00-01:30", "mon,wed 22:00-23:00" or "mon-fri 12:00-13:00"';

/** "sun 02:00-04:00", "daily 01:00-01:30", "mon,wed 22:00-23:00", "mon-fri 12:00-13:00", "sat 23:00-01:00". */
export function parseEvery(text: string): WeeklySchedule | undefined {
  const match = /^(\S+) (\d\d:\d\d)-(\d\d:\d\d)$/.exec(text.trim());
  if (!match) return undefined;
  const [from, to] = [clockMinutes(match[2]!), clockMinutes(match[3]!)];
  if (from === undefined || to === undefined || from === to) return undefined;
  const days = new Set<number>();
  for (const item of match[1] === 'daily' ? ['sun-sat'] : match[1]!.split(',')) {
    const ends = item.split('-').map((name) => DAY_NAMES.indexOf(name as (typeof DAY_NAMES)[number]));
    const [first, last = first] = ends;
    if (ends.length > 2 || ends.some((day) => day < 0) || first === undefined || last === undefined) return undefined;
    // A range may wrap past Saturday: "fri-mon".
    for (let day = first; ; day = (day + 1) % 7) {
      days.add(day);
      if (day === last) break;
    }
  }
  return { kind: 'weekly', days: [...days].sort((a, b) => a - b), from, to };
}

const everySchema = z.string().transform((text, ctx) => {
  const schedule = parseEvery(text);
  if (!schedule) {
    ctx.addIssue({ code: 'custom', message: `${EVERY_HELP}, got "${text}"` });
    return z.NEVER;
  }
  return schedule;
});

const maintenanceSchema = z
  .strictObject({
    id,
    /** The window covers every device of these sites and these single devices. */
    sites: z.array(id).min(1).optional(),
    devices: z.array(siteDevice).min(1).optional(),
    every: everySchema.optional(),
    from: localTime.optional(),
    to: localTime.optional(),
    reason: z.string().min(1).max(500),
  })
  .superRefine((w, ctx) => {
    if (!w.sites && !w.devices) ctx.addIssue({ code: 'custom', path: ['sites'], message: 'name the sites or devices the window covers' });
    const once = w.from !== undefined || w.to !== undefined;
    if (w.every && once) ctx.addIssue({ code: 'custom', path: ['every'], message: 'give either every or from/to, not both' });
    else if (!w.every && (w.from === undefined || w.to === undefined)) ctx.addIssue({ code: 'custom', path: [w.from === undefined ? 'from' : 'to'], message: `give from and to (one-off) or every (${EVERY_HELP})` });
    else if (w.from !== undefined && w.to !== undefined && w.to <= w.from) ctx.addIssue({ code: 'custom', path: ['to'], message: TO_AFTER_FROM });
  })
  .transform(({ every, from, to, sites, devices, ...rest }) => ({
    ...rest,
    sites: sites ?? [],
    devices: devices ?? [],
    schedule: every ?? { kind: 'once' as const, from: from ?? 0, to: to ?? 0 },
  }));

const timezoneSchema = z.string().refine((zone) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}, 'expected an IANA time zone like "Europe/Istanbul"');

/**
 * The file without its cross-reference checks, for extending: add the real `channels:` with
 * `.safeExtend({ channels })` and refine with `checkRoutingReferences` again.
 */
export const routingFileObject = z.strictObject({
  /** Working hours, rotations, holidays and maintenance windows are in this zone's local time. */
  timezone: timezoneSchema.default('Europe/Istanbul'),
  contacts: z.array(contactSchema).min(1),
  teams: z.array(teamSchema).min(1),
  /** First match wins; the last route must be the catch-all. */
  routes: z.array(routeSchema).min(1),
  maintenance: z.array(maintenanceSchema).default([]),
  channels: z.record(z.string(), z.unknown()).default({}),
});

type RoutingFileShape = z.infer<typeof routingFileObject>;

const isCatchAll = (route: Route) => Object.values(route.match).every((list) => list === undefined);

/** Every name the file uses must be defined in it; errors name the place of the use. */
export function checkRoutingReferences(file: RoutingFileShape, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  const contacts = new Set(file.contacts.map((c) => c.id));
  const teams = new Map(file.teams.map((t) => [t.id, t]));
  const channels = new Set(Object.keys(file.channels));

  const unique = (list: { id: string }[], key: string, what: string) => {
    const seen = new Set<string>();
    list.forEach((item, i) => {
      if (seen.has(item.id)) issue([key, i, 'id'], `${what} "${item.id}" is defined twice`);
      seen.add(item.id);
    });
  };
  unique(file.contacts, 'contacts', 'contact');
  unique(file.teams, 'teams', 'team');
  unique(file.maintenance, 'maintenance', 'maintenance window');

  const contact = (path: (string | number)[], contactId: string) => {
    if (!contacts.has(contactId)) issue(path, `no contact "${contactId}"`);
  };
  file.teams.forEach((team, t) => {
    team.members.forEach((m, i) => contact(['teams', t, 'members', i], m));
    if (team.manager) contact(['teams', t, 'manager'], team.manager);
    team.onDuty?.order.forEach((m, i) => contact(['teams', t, 'onDuty', 'order', i], m));
    team.onDuty?.overrides.forEach((o, i) => contact(['teams', t, 'onDuty', 'overrides', i, 'contact'], o.contact));
  });

  const rule = (path: (string | number)[], team: Team | undefined, r: { channels: string[]; to: Target }) => {
    r.channels.forEach((name, i) => {
      if (!channels.has(name)) issue([...path, 'channels', i], `no channel "${name}"`);
    });
    if (Array.isArray(r.to)) r.to.forEach((c, i) => contact([...path, 'to', i], c));
    else if (team && r.to === 'onDuty' && !team.onDuty) issue([...path, 'to'], `team "${team.id}" has no onDuty rotation`);
    else if (team && r.to === 'manager' && !team.manager) issue([...path, 'to'], `team "${team.id}" has no manager`);
  };
  file.routes.forEach((route, i) => {
    const team = teams.get(route.team);
    if (!team) issue(['routes', i, 'team'], `no team "${route.team}"`);
    if (route.workingHours && team && !team.workingHours) issue(['routes', i, 'workingHours'], `team "${team.id}" has no workingHours`);
    if (route.workingHours) rule(['routes', i, 'workingHours'], team, route.workingHours);
    rule(['routes', i, 'offHours'], team, route.offHours);
    if (route.escalate) rule(['routes', i, 'escalate'], team, route.escalate);
    const last = i === file.routes.length - 1;
    if (!last && isCatchAll(route)) issue(['routes', i, 'match'], 'matches every alert, so the routes after it are never used: only the last route may be the catch-all');
    if (last && !isCatchAll(route)) issue(['routes', i, 'match'], 'the last route must be a catch-all (no match) so that every alert reaches someone');
  });
}

export const routingFileSchema = routingFileObject.superRefine(checkRoutingReferences);

export type Routing = z.infer<typeof routingFileSchema>;
export type Contact = z.infer<typeof contactSchema>;
export type Team = z.infer<typeof teamSchema>;
export type Route = z.infer<typeof routeSchema>;
export type Target = z.infer<typeof targetSchema>;
export type MaintenanceWindow = z.infer<typeof maintenanceSchema>;

/** Parses and validates the notification file's text; a ConfigError names the file, line or field. */
export function parseRouting(text: string, source: string): Routing {
  return validateConfig(routingFileSchema, parseYamlText(text, source), source);
}
