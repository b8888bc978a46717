import { nextCronTime } from '../backups/cron.ts';
import type { BackupRun, RestoreDrill } from '../backups/evaluate.ts';
import type { BackupJob, Schedule } from '../backups/jobs.ts';

// The monthly report's "Yedeklemeler / Backups" section as data, pure: what each push-heartbeat
// job did in the month (from the heartbeat store's runs and drills) and what the agents' file
// checks saw (from the report store's hourly summaries of `backup_file` points).
//
// Missed runs are counted the way evaluate.ts judges a job, walked through the month: the job is
// due at its next scheduled time after the last run it reported (or after it became known); a
// due time whose grace ran out with no run reported since the previous one is one missed run,
// and the walk goes on from that due time. A failed run is not missed (it is counted as failed).

export interface HeartbeatJobMonth {
  job: string;
  site: string;
  description: string | null;
  succeeded: number;
  failed: number;
  missed: number;
  /** The last success up to the month's end, however old (null: never). */
  lastSuccess: number | null;
  drillsPassed: number;
  drillsFailed: number;
  /** The last drill up to the month's end, however old. */
  lastDrill: { at: number; result: RestoreDrill['result'] } | null;
}

export const CHECK_STATUSES = ['ok', 'missed', 'too_small', 'checksum_bad', 'unreadable', 'no_file'] as const;
export type CheckStatus = (typeof CHECK_STATUSES)[number];

export interface AgentCheckMonth {
  site: string;
  device: string;
  /** The job id on that agent (tag instance). */
  job: string;
  checks: number;
  /** Checks per status the agent reported ("ok" included); statuses this code does not know are under "other". */
  byStatus: Partial<Record<CheckStatus | 'other', number>>;
  /** The last check that was ok, up to the month's end (null: none in the month). */
  lastOk: number | null;
  /** The month's last check. */
  lastAt: number;
  lastStatus: string;
  lastDetail: string | null;
}

export interface BackupsSection {
  jobs: HeartbeatJobMonth[];
  checks: AgentCheckMonth[];
}

interface Period {
  from: number;
  to: number;
}

function nextDue(schedule: Schedule, after: number): number | null {
  if ('everyMs' in schedule) return after + schedule.everyMs;
  return nextCronTime(schedule.cron, after, schedule.timezone) ?? null;
}

/** A walk never runs away: a one-minute job has 44,640 due times in a month. */
const MAX_STEPS = 50_000;

/** Due times in [period.from, min(period.to, now)) whose grace ended by `now` with no run reported since the previous due time. */
export function missedRuns(job: BackupJob, runs: readonly BackupRun[], period: Period, now: number, knownSince: number): number {
  const ends = runs.flatMap((r) => (r.endedAt !== null && r.status !== 'started' ? [r.endedAt] : [])).sort((a, b) => a - b);
  const end = Math.min(period.to, now);
  // From the last run before the month (or when the job became known), but not from further back
  // than one period (every) or the month's start (cron): older due times are other months' business.
  const before = ends.filter((t) => t <= period.from).at(-1) ?? knownSince;
  let cursor = 'everyMs' in job.schedule ? Math.max(before, knownSince, period.from - job.schedule.everyMs) : Math.max(before, knownSince, period.from - 1);
  let missed = 0;
  for (let step = 0; step < MAX_STEPS; step++) {
    const due = nextDue(job.schedule, cursor);
    if (due === null || due >= end || due + job.grace > now) break;
    const reported = ends.find((t) => t > cursor && t <= due + job.grace);
    if (reported === undefined && due >= period.from) missed++;
    cursor = reported === undefined ? due : Math.max(reported, due);
  }
  return missed;
}

/** One heartbeat job's month. `runs` and `drills`: what the store holds of the job (all of it, or at least the month and before). */
export function heartbeatJobMonth(job: BackupJob, runs: readonly BackupRun[], drills: readonly RestoreDrill[], period: Period, now: number, knownSince: number): HeartbeatJobMonth {
  const end = Math.min(period.to, now);
  const inMonth = (t: number | null): t is number => t !== null && t >= period.from && t < end;
  const finished = runs.filter((r) => inMonth(r.endedAt));
  const successes = runs.filter((r) => r.status === 'success' && r.endedAt !== null && r.endedAt < end).map((r) => r.endedAt!);
  const monthDrills = drills.filter((d) => inMonth(d.at));
  const lastDrill = drills.filter((d) => d.at < end).sort((a, b) => a.at - b.at).at(-1);
  return {
    job: job.id,
    site: job.site,
    description: job.description ?? null,
    succeeded: finished.filter((r) => r.status === 'success').length,
    failed: finished.filter((r) => r.status === 'failure').length,
    missed: missedRuns(job, runs, period, now, knownSince),
    lastSuccess: successes.length ? Math.max(...successes) : null,
    drillsPassed: monthDrills.filter((d) => d.result === 'passed').length,
    drillsFailed: monthDrills.filter((d) => d.result === 'failed').length,
    lastDrill: lastDrill ? { at: lastDrill.at, result: lastDrill.result } : null,
  };
}

/** The report store's row of one agent job for one hour: the same figures as a month, over an hour. */
export type CheckHour = AgentCheckMonth;

export function agentCheckMonths(hours: readonly CheckHour[]): AgentCheckMonth[] {
  const months = new Map<string, AgentCheckMonth>();
  for (const h of hours) {
    const key = `${h.site}/${h.device}/${h.job}`;
    const m = months.get(key);
    if (!m) {
      months.set(key, { ...h, byStatus: { ...h.byStatus } });
      continue;
    }
    m.checks += h.checks;
    for (const [status, n] of Object.entries(h.byStatus) as [CheckStatus | 'other', number][]) m.byStatus[status] = (m.byStatus[status] ?? 0) + n;
    if (h.lastOk !== null && (m.lastOk === null || h.lastOk > m.lastOk)) m.lastOk = h.lastOk;
    if (h.lastAt > m.lastAt) Object.assign(m, { lastAt: h.lastAt, lastStatus: h.lastStatus, lastDetail: h.lastDetail });
  }
  return [...months.values()].sort((a, b) => a.site.localeCompare(b.site) || a.device.localeCompare(b.device) || a.job.localeCompare(b.job));
}
