// A minimal 5-field cron (minute hour day-of-month month day-of-week) with `*`, lists, ranges,
// steps and English names, read the way Vixie cron reads it: when both day fields are
// restricted a day matches either of them, otherwise both. Pure; time zones through Intl.

export interface CronSchedule {
  minutes: readonly number[];
  hours: readonly number[];
  days: readonly number[];
  months: readonly number[];
  /** 0 = Sunday (7 is accepted for Sunday too). */
  weekdays: readonly number[];
  /** Vixie cron: a field that starts with `*` does not restrict the day (this decides AND/OR). */
  daysRestricted: boolean;
  weekdaysRestricted: boolean;
}

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES },
  { name: 'day-of-week', min: 0, max: 7, names: DAY_NAMES },
];
const DAY_MS = 86_400_000;
/** Days in each month of a common year: a schedule must fire in every year, not only leap ones. */
const COMMON_YEAR_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function parseValue(text: string, spec: FieldSpec): number {
  const named = spec.names?.indexOf(text.toLowerCase()) ?? -1;
  if (named >= 0) return named + spec.min;
  if (!/^\d{1,2}$/.test(text)) throw new Error(`${spec.name} field: "${text}" is not a number${spec.names ? ' or a name' : ''}`);
  const value = Number(text);
  if (value < spec.min || value > spec.max) throw new Error(`${spec.name} field: ${value} is out of range ${spec.min}-${spec.max}`);
  return value;
}

function parseField(text: string, spec: FieldSpec): number[] {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    const match = /^([^/]+)(?:\/(\d{1,2}))?$/.exec(item);
    if (!match) throw new Error(`${spec.name} field: "${item}" is not a value, range or step`);
    const step = match[2] === undefined ? 1 : Number(match[2]);
    if (step === 0) throw new Error(`${spec.name} field: a step of 0 never advances`);
    const range = match[1]!;
    let from: number;
    let to: number;
    if (range === '*') [from, to] = [spec.min, spec.max];
    else if (range.includes('-')) {
      const [a = '', b = '', ...rest] = range.split('-');
      if (rest.length > 0) throw new Error(`${spec.name} field: "${range}" is not a range`);
      [from, to] = [parseValue(a, spec), parseValue(b, spec)];
      if (from > to) throw new Error(`${spec.name} field: range "${range}" runs backwards`);
    } else {
      from = parseValue(range, spec);
      // "5/15" means from 5 to the end in steps of 15; a lone "5" is just 5.
      to = match[2] === undefined ? from : spec.max;
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return [...values].sort((a, b) => a - b);
}

/** Parses "0 2 * * *"; throws an Error whose message names the bad field. */
export function parseCron(text: string): CronSchedule {
  const parts = text.trim().split(/\s+/);
  if (parts.length !== 5) throw new Error(`expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`);
  const [minutes, hours, days, months, weekdays] = parts.map((part, i) => parseField(part, FIELDS[i]!)) as [number[], number[], number[], number[], number[]];
  return {
    minutes,
    hours,
    days,
    months,
    weekdays: [...new Set(weekdays.map((d) => d % 7))].sort((a, b) => a - b),
    daysRestricted: !parts[2]!.startsWith('*'),
    weekdaysRestricted: !parts[4]!.startsWith('*'),
  };
}

function dayMatches(cron: CronSchedule, month: number, day: number, weekday: number): boolean {
  if (!cron.months.includes(month)) return false;
  const byDay = cron.days.includes(day);
  const byWeekday = cron.weekdays.includes(weekday);
  return cron.daysRestricted && cron.weekdaysRestricted ? byDay || byWeekday : byDay && byWeekday;
}

/** False for schedules like "0 0 30 2 *" (never) or "0 0 29 2 *" (leap years only): they must fire every year. */
export function cronFiresEveryYear(cron: CronSchedule): boolean {
  // With the weekday in play every matching month has matching days.
  if (!cron.daysRestricted || cron.weekdaysRestricted) return true;
  return cron.months.some((month) => cron.days.some((day) => day <= COMMON_YEAR_DAYS[month - 1]!));
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(timeZone, format);
  }
  return format;
}

export function isTimeZone(name: string): boolean {
  try {
    formatter(name);
    return true;
  } catch {
    return false;
  }
}

/** The wall clock of `instant` in the zone, as milliseconds read as if it were UTC (whole seconds). */
export function wallClock(instant: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(instant)) if (part.type !== 'literal') parts[part.type] = Number(part.value);
  return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
}

const offsetAt = (instant: number, timeZone: string) => wallClock(instant, timeZone) - Math.floor(instant / 1_000) * 1_000;

/** The instant a wall-clock time happens in the zone; undefined inside a daylight-saving gap. */
function instantOf(wall: number, timeZone: string): number | undefined {
  let instant = wall - offsetAt(wall, timeZone);
  const second = offsetAt(instant, timeZone);
  if (wall - instant !== second) instant = wall - second;
  return wallClock(instant, timeZone) === wall ? instant : undefined;
}

/** The first time strictly after `after` the schedule fires in the zone, searched up to `horizonDays` ahead. */
export function nextCronTime(cron: CronSchedule, after: number, timeZone: string, horizonDays = 800): number | undefined {
  const startWall = Math.floor(wallClock(after, timeZone) / 60_000) * 60_000 + 60_000;
  const firstDay = startWall - (startWall % DAY_MS);
  for (let dayStart = firstDay; dayStart <= firstDay + horizonDays * DAY_MS; dayStart += DAY_MS) {
    const date = new Date(dayStart);
    if (!dayMatches(cron, date.getUTCMonth() + 1, date.getUTCDate(), date.getUTCDay())) continue;
    for (const hour of cron.hours) {
      for (const minute of cron.minutes) {
        const wall = dayStart + hour * 3_600_000 + minute * 60_000;
        if (wall < startWall) continue;
        const instant = instantOf(wall, timeZone);
        // A time the clocks skip is not run, as in Vixie cron without its DST special case.
        if (instant !== undefined && instant > after) return instant;
      }
    }
  }
  return undefined;
}
