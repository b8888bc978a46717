import type { MaintenanceEntry } from '../alerts/alert-store.ts';
import { wallClock } from '../alerts/routing.ts';
import type { MaintenanceWindow } from '../alerts/routing-schema.ts';

// Pure: availability (SLA) figures from outages and planned maintenance, for one period.
//
//   availability = (period − maintenance − unplanned downtime) / (period − maintenance)
//
// Planned maintenance is taken out of BOTH the period and the downtime: an outage inside a
// window costs nothing, and the window does not count as time the target was up either.
// Overlapping outages and windows are merged first, so nothing counts twice.
//
// A SITE is down while:
//   - all of its `link` targets (its internet lines) are down — one line of two is redundancy
//     at work, not an outage of the site; or, when the site has no link target,
//   - any of its `service` targets is down;
//   - a site with neither has no figure (null): nothing says what "the site is reachable" means.
// Its downtime is planned (excluded) while a window names the site, or while every target that
// makes it down is in its own window (planned work on line A while line B is fine is no site
// outage; line B failing during that work is).
//
// Times are epoch milliseconds; intervals are half-open [from, to). Month and day boundaries are
// local midnights of the given time zone (Europe/Istanbul for the municipalities).

const DAY = 86_400_000;

export interface Interval {
  from: number;
  to: number;
}

/** An outage as far as the figures care: end null = still down. */
export interface DownSpan {
  start: number;
  end: number | null;
}

export interface Availability {
  totalMs: number;
  /** Unplanned downtime (maintenance taken out). */
  downMs: number;
  excludedMs: number;
  /** null when the whole period was maintenance (or empty): there is nothing to measure. */
  availabilityPct: number | null;
  /** The longest unbroken stretch of unplanned downtime. */
  longestMs: number;
}

/** Sorted, overlapping and touching intervals joined, empty ones dropped. */
export function mergeIntervals(list: readonly Interval[]): Interval[] {
  const sorted = list.filter((i) => i.to > i.from).sort((a, b) => a.from - b.from);
  const out: Interval[] = [];
  for (const i of sorted) {
    const last = out.at(-1);
    if (last && i.from <= last.to) last.to = Math.max(last.to, i.to);
    else out.push({ ...i });
  }
  return out;
}

const clipped = (list: readonly Interval[], from: number, to: number) => mergeIntervals(list.map((i) => ({ from: Math.max(i.from, from), to: Math.min(i.to, to) })));

/** An open outage lasts until the end of the period measured (the caller ends a running month at now). */
const downIntervals = (outages: readonly DownSpan[], to: number): Interval[] => outages.map((o) => ({ from: o.start, to: o.end ?? to }));

type SegmentState = 'up' | 'down' | 'excluded';

/**
 * Cuts [from, to) at every edge of the given interval sets; on each piece every set is either
 * wholly in or out, so `state` (asked which sets cover the piece) decides it as a whole.
 */
function measure(from: number, to: number, sets: readonly Interval[][], state: (covers: (set: number) => boolean) => SegmentState): Availability {
  const merged = sets.map((s) => clipped(s, from, to));
  const edges = [...new Set([from, to, ...merged.flatMap((s) => s.flatMap((i) => [i.from, i.to]))])].sort((a, b) => a - b);
  const cursor = merged.map(() => 0);
  const result: Availability = { totalMs: Math.max(0, to - from), downMs: 0, excludedMs: 0, availabilityPct: null, longestMs: 0 };
  let run = 0;
  for (let e = 0; e + 1 < edges.length; e++) {
    const [a, b] = [edges[e]!, edges[e + 1]!];
    const covers = (set: number) => {
      const list = merged[set]!;
      while (cursor[set]! < list.length && list[cursor[set]!]!.to <= a) cursor[set]!++;
      const i = list[cursor[set]!];
      return i !== undefined && i.from <= a;
    };
    const s = state(covers);
    if (s === 'excluded') result.excludedMs += b - a;
    // A window between two down pieces ends the stretch too: the SLA counts them apart.
    run = s === 'down' ? run + (b - a) : 0;
    if (s === 'down') result.downMs += b - a;
    result.longestMs = Math.max(result.longestMs, run);
  }
  const measured = result.totalMs - result.excludedMs;
  result.availabilityPct = measured > 0 ? ((measured - result.downMs) / measured) * 100 : null;
  return result;
}

/** One target's figures for [from, to); `maintenance` = the windows that cover it. */
export function availability(input: { outages: readonly DownSpan[]; from: number; to: number; maintenance: readonly Interval[] }): Availability {
  const { from, to } = input;
  return measure(from, to, [downIntervals(input.outages, to), [...input.maintenance]], (covers) => (covers(1) ? 'excluded' : covers(0) ? 'down' : 'up'));
}

export interface SiteMember {
  kind: string;
  outages: readonly DownSpan[];
  /** Windows covering this target (its own and its site's). */
  maintenance: readonly Interval[];
}

/** Which of a site's targets its figure is built from (see the definition at the top). */
function siteBasis(kinds: readonly string[]): 'links' | 'services' | null {
  if (kinds.includes('link')) return 'links';
  if (kinds.includes('service')) return 'services';
  return null;
}

/** A site's figures for [from, to); `maintenance` = windows naming the site; null when it has no link or service target. */
export function siteAvailability(input: { members: readonly SiteMember[]; from: number; to: number; maintenance: readonly Interval[] }): (Availability & { basis: 'links' | 'services' }) | null {
  const { from, to } = input;
  const basis = siteBasis(input.members.map((m) => m.kind));
  if (basis === null) return null;
  const members = input.members.filter((m) => m.kind === (basis === 'links' ? 'link' : 'service'));
  // Set 0: the site's windows; then each member's downtime (odd) and its windows (even).
  const sets = [[...input.maintenance], ...members.flatMap((m) => [downIntervals(m.outages, to), [...m.maintenance]])];
  const figures = measure(from, to, sets, (covers) => {
    if (covers(0)) return 'excluded';
    const down = members.map((_, i) => covers(1 + 2 * i));
    const siteDown = basis === 'links' ? down.every(Boolean) : down.some(Boolean);
    if (!siteDown) return 'up';
    return members.every((_, i) => !down[i] || covers(2 + 2 * i)) ? 'excluded' : 'down';
  });
  return { ...figures, basis };
}

/** The epoch instant at which the wall clock of `timezone` shows `wallMs` (a local time read as if UTC, as routing.ts keeps them). */
export function zonedInstant(wallMs: number, timezone: string): number {
  // The offset at the guess, then again at the result: right across a DST change too. (wallClock
  // is to the second, so the offset is taken against whole seconds.)
  const offsetAt = (t: number) => wallClock(t, timezone).ms - Math.floor(t / 1000) * 1000;
  return wallMs - offsetAt(wallMs - offsetAt(wallMs));
}

/** [first local midnight of the month, first local midnight of the next month). `month` 1–12. */
export function monthPeriod(year: number, month: number, timezone: string): Interval {
  return { from: zonedInstant(Date.UTC(year, month - 1, 1), timezone), to: zonedInstant(Date.UTC(year, month, 1), timezone) };
}

/** The local calendar days of [from, to), each cut to the period: "2026-11-01" and its instants. */
export function localDays(from: number, to: number, timezone: string): (Interval & { date: string })[] {
  const days: (Interval & { date: string })[] = [];
  const first = wallClock(from, timezone).ms;
  for (let wall = first - (first % DAY); ; wall += DAY) {
    const start = Math.max(from, zonedInstant(wall, timezone));
    if (start >= to) break;
    days.push({ date: new Date(wall).toISOString().slice(0, 10), from: start, to: Math.min(to, zonedInstant(wall + DAY, timezone)) });
  }
  return days;
}

/**
 * A notification-file window's schedule as instants within [from, to): every opening of a
 * weekly one ("sun 02:00-04:00", "sat 23:00-01:00" runs into Sunday), or the one-off.
 */
export function expandRecurring(schedules: readonly MaintenanceWindow['schedule'][], from: number, to: number, timezone: string): Interval[] {
  const out: Interval[] = [];
  for (const schedule of schedules) {
    if (schedule.kind === 'once') {
      out.push({ from: zonedInstant(schedule.from, timezone), to: zonedInstant(schedule.to, timezone) });
      continue;
    }
    const length = (schedule.to > schedule.from ? 0 : DAY) + (schedule.to - schedule.from) * 60_000;
    // From the day before: a window opening the evening before the period may run into it.
    const first = wallClock(from, timezone).ms;
    for (let day = first - (first % DAY) - DAY; zonedInstant(day, timezone) < to; day += DAY) {
      if (!schedule.days.includes(new Date(day).getUTCDay())) continue;
      const open = day + schedule.from * 60_000;
      out.push({ from: zonedInstant(open, timezone), to: zonedInstant(open + length, timezone) });
    }
  }
  return clipped(out, from, to);
}

/** A maintenance window in the period, with what it covers. */
export interface ScopedWindow extends Interval {
  id: string;
  sites: readonly string[];
  /** "site/device". */
  devices: readonly string[];
  reason: string;
}

/** The notification file's windows and the ad-hoc ones (alert store) as instants within [from, to). */
export function maintenanceInPeriod(fileWindows: readonly MaintenanceWindow[], adHoc: readonly MaintenanceEntry[], from: number, to: number, timezone: string): ScopedWindow[] {
  const scoped = (w: { id: string; sites: readonly string[]; devices: readonly string[]; reason: string }, intervals: Interval[]) => intervals.map((i) => ({ ...i, id: w.id, sites: w.sites, devices: w.devices, reason: w.reason }));
  return [
    ...fileWindows.flatMap((w) => scoped(w, expandRecurring([w.schedule], from, to, timezone))),
    ...adHoc.flatMap((w) => scoped(w, clipped([w], from, to))),
  ];
}

/** The windows covering a site as a whole (device undefined), or one of its targets (its own and its site's). */
export function windowsFor(windows: readonly ScopedWindow[], site: string, device?: string): Interval[] {
  return windows.filter((w) => w.sites.includes(site) || (device !== undefined && w.devices.includes(`${site}/${device}`))).map(({ from, to }) => ({ from, to }));
}
