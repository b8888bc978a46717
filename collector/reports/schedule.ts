import { backoffDelay } from '../../src/retry.ts';
import { wallClock } from '../alerts/routing.ts';
import { monthPeriod, zonedInstant } from '../uptime/availability.ts';
import type { ReportMonth } from '../uptime/monthly-report.ts';

// When the automatic monthly report is made, pure. A month's report is due from the 1st of the
// next month at `at` (local time in `timezone`). The month due at `now` is the latest whose time
// has come; it is made if it was not made yet — on time while the collector runs, or at the next
// start (a collector down on the 1st makes it when it comes back, once: the report store
// remembers the months made). Months that ended before the monthly report was first configured
// are never made (a new install does not mail a report of a month it did not watch).

export interface ClockTime {
  hour: number;
  minute: number;
}

export const monthKey = (month: ReportMonth) => `${month.year}-${String(month.month).padStart(2, '0')}`;

const previous = (m: ReportMonth): ReportMonth => (m.month === 1 ? { year: m.year - 1, month: 12 } : { year: m.year, month: m.month - 1 });
const next = (m: ReportMonth): ReportMonth => (m.month === 12 ? { year: m.year + 1, month: 1 } : { year: m.year, month: m.month + 1 });

/** When the report of `month` is due: the 1st of the next month at `at`, local time. */
export function runTime(month: ReportMonth, at: ClockTime, timezone: string): number {
  const n = next(month);
  return zonedInstant(Date.UTC(n.year, n.month - 1, 1, at.hour, at.minute), timezone);
}

/** The latest month whose report time has come by `now`; null when it ended before `since` (the schedule's first start). */
export function dueMonth(now: number, at: ClockTime, timezone: string, since: number): ReportMonth | null {
  const wall = new Date(wallClock(now, timezone).ms);
  let month = previous({ year: wall.getUTCFullYear(), month: wall.getUTCMonth() + 1 });
  if (now < runTime(month, at, timezone)) month = previous(month);
  return monthPeriod(month.year, month.month, timezone).to > since ? month : null;
}

/** When the next month's report is due after `now` (for the log). */
export function nextRunTime(now: number, at: ClockTime, timezone: string): number {
  const wall = new Date(wallClock(now, timezone).ms);
  let month = previous({ year: wall.getUTCFullYear(), month: wall.getUTCMonth() + 1 });
  while (runTime(month, at, timezone) <= now) month = next(month);
  return runTime(month, at, timezone);
}

export interface RetryPolicy {
  initialMs: number;
  maxMs: number;
  /** From the delivery's creation. */
  giveUpAfter: number;
}

/** After a failed attempt (`attempts` counts it): when to try again, or null to give up (a permanent refusal, or too long). */
export function nextAttempt(policy: RetryPolicy, attempts: number, createdAt: number, now: number, permanent: boolean, random: () => number = Math.random): number | null {
  if (permanent) return null;
  const at = now + backoffDelay({ initialMs: policy.initialMs, maxMs: policy.maxMs }, attempts - 1, random);
  return at - createdAt > policy.giveUpAfter ? null : at;
}
