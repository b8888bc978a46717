import type { Language } from '../devices/driver.ts';
import type { AddressKind } from './channels/channel.ts';
import { DAY_NAMES, type Contact, type MaintenanceWindow, type Route, type Routing, type Target, type Team } from './routing-schema.ts';

// Who gets an alert, by which channel, right now — as pure functions: `now` comes in, nothing is
// read or stored. Local time comes from Intl.DateTimeFormat in the file's zone, so Istanbul's
// fixed UTC+3 and a zone with DST are handled alike.

const DAY = 86_400_000;

export interface WallClock {
  /** The local date and time read as if it were UTC, to the second (the file's times are whole minutes): comparable with them (see routing-schema.ts). */
  ms: number;
  /** 0 = Sunday, as DAY_NAMES. */
  weekday: number;
  /** Minutes after local midnight. */
  minutes: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

export function wallClock(now: number, timezone: string): WallClock {
  let format = formatters.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone: timezone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(timezone, format);
  }
  const part: Partial<Record<Intl.DateTimeFormatPartTypes, number>> = {};
  for (const p of format.formatToParts(now)) part[p.type] = Number(p.value);
  const [hour, minute] = [part.hour ?? 0, part.minute ?? 0];
  const ms = Date.UTC(part.year ?? 1970, (part.month ?? 1) - 1, part.day ?? 1, hour, minute, part.second ?? 0);
  return { ms, weekday: new Date(ms).getUTCDay(), minutes: hour * 60 + minute };
}

const within = (t: number, interval: { from: number; to: number }) => t >= interval.from && t < interval.to;

/** On a working day, between from and to, and not a holiday (or the holiday's off half). */
export function isWorkingHours(team: Team, now: number, timezone: string): boolean {
  const hours = team.workingHours;
  if (!hours) return false;
  const t = wallClock(now, timezone);
  return hours.days.includes(DAY_NAMES[t.weekday]!) && t.minutes >= hours.from && t.minutes < hours.to && !team.holidays.some((h) => within(t.ms, h));
}

/** The override covering now, else whose turn it is counting whole periods from the handoff (before it too). */
export function onDutyContact(team: Team, now: number, timezone: string): string | undefined {
  const duty = team.onDuty;
  if (!duty) return undefined;
  const t = wallClock(now, timezone).ms;
  const override = duty.overrides.findLast((o) => within(t, o));
  if (override) return override.contact;
  const turns = Math.floor((t - duty.handoff) / (duty.rotation === 'daily' ? DAY : 7 * DAY));
  const n = duty.order.length;
  return duty.order[((turns % n) + n) % n];
}

/** What routing knows of an alert (its rule's category and severity, the device's labels). */
export interface RoutedAlert {
  category: string;
  site: string;
  device: string;
  kind: string;
  severity: string;
}

const allows = (list: readonly string[] | undefined, value: string) => list === undefined || list.includes(value);

export function routeFor(alert: RoutedAlert, routing: Pick<Routing, 'routes'>): Route {
  const route = routing.routes.find(({ match: m }) => allows(m.categories, alert.category) && allows(m.sites, alert.site) && allows(m.devices, `${alert.site}/${alert.device}`) && allows(m.kinds, alert.kind) && allows(m.severities, alert.severity));
  // The schema requires a catch-all at the end; only a hand-built routing can get here.
  if (!route) throw new Error('routing has no catch-all route');
  return route;
}

/** Channel name → the kind of address it sends to (from the running channels' `addressKind`). */
export type ChannelKinds = ReadonlyMap<string, AddressKind>;

export interface Delivery {
  contactId: string;
  /** For the Recipient and logs. */
  name: string;
  channel: string;
  address: string;
  language: Language;
}

export interface SkippedDelivery {
  contactId: string;
  channel: string;
  /** The address the contact lacks for this channel, "channel" when no such channel runs, "contact" when the id is unknown. */
  missing: AddressKind | 'channel' | 'contact';
}

export interface Deliveries {
  deliveries: Delivery[];
  skipped: SkippedDelivery[];
}

const ADDRESS_FIELD = { email: 'email', phone: 'phone', url: 'webhook' } as const satisfies Record<AddressKind, keyof Contact>;

function teamOf(route: Route, routing: Routing): Team {
  const team = routing.teams.find((t) => t.id === route.team);
  if (!team) throw new Error(`route names unknown team "${route.team}"`);
  return team;
}

function contactsOf(target: Target, team: Team, routing: Routing, now: number): string[] {
  if (Array.isArray(target)) return target;
  if (target === 'team') return team.members;
  const contact = target === 'manager' ? team.manager : onDutyContact(team, now, routing.timezone);
  return contact === undefined ? [] : [contact];
}

/** Every contact × channel whose address kind the contact has; the rest are reported, never dropped silently. */
function deliver(contactIds: readonly string[], channels: readonly string[], routing: Routing, kinds: ChannelKinds): Deliveries {
  const result: Deliveries = { deliveries: [], skipped: [] };
  for (const contactId of new Set(contactIds)) {
    const contact = routing.contacts.find((c) => c.id === contactId);
    for (const channel of channels) {
      const kind = kinds.get(channel);
      const address = contact && kind ? contact[ADDRESS_FIELD[kind]] : undefined;
      if (contact && address) result.deliveries.push({ contactId, name: contact.name, channel, address, language: contact.language });
      else result.skipped.push({ contactId, channel, missing: !contact ? 'contact' : (kind ?? 'channel') });
    }
  }
  return result;
}

export interface Recipients extends Deliveries {
  route: Route;
  /** Whether the route's team is at work now (so the workingHours rule, if the route has one, applied). */
  workingHours: boolean;
}

export function recipientsFor(alert: RoutedAlert, routing: Routing, now: number, kinds: ChannelKinds): Recipients {
  const route = routeFor(alert, routing);
  const team = teamOf(route, routing);
  const working = isWorkingHours(team, now, routing.timezone);
  const rule = working && route.workingHours ? route.workingHours : route.offHours;
  return { route, workingHours: working, ...deliver(contactsOf(rule.to, team, routing, now), rule.channels, routing, kinds) };
}

/** Who is told when a firing alert is still unacknowledged `after` its start; undefined when the route does not escalate. */
export function escalationFor(route: Route, routing: Routing, now: number, kinds: ChannelKinds): (Deliveries & { after: number }) | undefined {
  const escalate = route.escalate;
  if (!escalate) return undefined;
  return { after: escalate.after, ...deliver(contactsOf(escalate.to, teamOf(route, routing), routing, now), escalate.channels, routing, kinds) };
}

function isOpen(schedule: MaintenanceWindow['schedule'], t: WallClock): boolean {
  if (schedule.kind === 'once') return within(t.ms, schedule);
  const { days, from, to } = schedule;
  if (from < to) return days.includes(t.weekday) && t.minutes >= from && t.minutes < to;
  // Crosses midnight: the evening part on a listed day, the early hours on the day after one.
  return (days.includes(t.weekday) && t.minutes >= from) || (days.includes((t.weekday + 6) % 7) && t.minutes < to);
}

/** The first maintenance window that covers the device and is open now. */
export function maintenanceFor(labels: { site: string; device: string }, windows: readonly MaintenanceWindow[], now: number, timezone: string): MaintenanceWindow | undefined {
  const t = wallClock(now, timezone);
  return windows.find((w) => (w.sites.includes(labels.site) || w.devices.includes(`${labels.site}/${labels.device}`)) && isOpen(w.schedule, t));
}

/** An ad-hoc silence (kept by the alert lifecycle): every given matcher must equal the alert's value. */
export interface Silence {
  matchers: { rule?: string; site?: string; device?: string; instance?: string };
  /** Epoch milliseconds; the silence ends at this instant. */
  endsAt: number;
}

const SILENCE_KEYS = ['rule', 'site', 'device', 'instance'] as const;

/** A silence without any matcher matches nothing: silencing everything by an empty form is never meant. */
export function silenceMatches(silence: Silence, alert: { rule: string; site: string; device: string; instance: string }, now: number): boolean {
  const given = SILENCE_KEYS.filter((key) => silence.matchers[key] !== undefined);
  return now < silence.endsAt && given.length > 0 && given.every((key) => silence.matchers[key] === alert[key]);
}
