import type { Point } from '../model/point.ts';
import { nextCronTime } from './cron.ts';
import type { BackupJob, Schedule } from './jobs.ts';

// Where a backup job stands, from its reports and drills at `now`. Pure: the service feeds it
// from the heartbeat store every 30 s and after every report; tests feed it any time they like.
//
// The job is due at the next scheduled time after its last success (or after it became known).
// Before that it is ok; within `grace` after it, late; later, missed. A run that reported its
// start is running for `grace`, then late for another grace, then missed, whatever the schedule
// says (a hung backup is missed even when it started early). A failure holds until the next success.

export type RunStatus = 'started' | 'success' | 'failure';

export interface BackupRun {
  startedAt: number | null;
  /** Null while a started run has not reported its end. */
  endedAt: number | null;
  status: RunStatus;
  sizeBytes: number | null;
  durationS: number | null;
  message: string | null;
}

export type DrillResult = 'passed' | 'failed';

export interface RestoreDrill {
  at: number;
  result: DrillResult;
  notes: string;
  actor: string;
}

export type BackupState = 'ok' | 'late' | 'missed' | 'failed' | 'running' | 'too_small';

export interface BackupEvaluation {
  state: BackupState;
  lastSuccessAt: number | null;
  /** When the next success is due (grace not included). */
  nextExpectedAt: number | null;
  /** Seconds since the last success. */
  ageS: number | null;
  /** The last success was smaller than minSizeBytes: holds until a success of the right size. */
  tooSmall: boolean;
  /** Of the last finished run. */
  lastSizeBytes: number | null;
  lastDurationS: number | null;
  lastMessage: string | null;
  lastDrillAt: number | null;
  lastDrillResult: DrillResult | null;
  /** When a passed drill is due (drillEvery after the last passed one, or after the job became known). */
  drillDueAt: number | null;
  drillOverdue: boolean;
  /** The latest drill failed. */
  drillFailed: boolean;
  /** Days since the last passed drill. */
  drillAgeDays: number | null;
}

const DAY = 86_400_000;

function nextDue(schedule: Schedule, after: number): number | null {
  if ('everyMs' in schedule) return after + schedule.everyMs;
  return nextCronTime(schedule.cron, after, schedule.timezone) ?? null;
}

const latestBy = <T>(items: readonly T[], time: (item: T) => number | null): T | undefined => {
  let best: T | undefined;
  for (const item of items) if (time(item) !== null && (best === undefined || time(item)! >= time(best)!)) best = item;
  return best;
};

export function evaluateJob(job: BackupJob, runs: readonly BackupRun[], drills: readonly RestoreDrill[], now: number, knownSince: number): BackupEvaluation {
  const lastSuccess = latestBy(runs.filter((r) => r.status === 'success'), (r) => r.endedAt);
  const lastFinished = latestBy(runs, (r) => r.endedAt);
  const latest = latestBy(runs, (r) => r.endedAt ?? r.startedAt);
  const lastSuccessAt = lastSuccess?.endedAt ?? null;
  const due = nextDue(job.schedule, lastSuccessAt ?? knownSince);
  const tooSmall = job.minSizeBytes !== undefined && lastSuccess?.sizeBytes != null && lastSuccess.sizeBytes < job.minSizeBytes;

  let state: BackupState;
  if (latest?.status === 'started' && latest.startedAt !== null) {
    // The run in progress answers for the schedule: its own start sets the clock.
    const ranFor = now - latest.startedAt;
    state = ranFor < job.grace ? 'running' : ranFor < 2 * job.grace ? 'late' : 'missed';
  } else if (lastFinished?.status === 'failure') {
    state = 'failed';
  } else {
    if (due === null || now < due) state = tooSmall ? 'too_small' : 'ok';
    else state = now < due + job.grace ? 'late' : 'missed';
  }

  const lastDrill = latestBy(drills, (d) => d.at);
  const lastPassed = latestBy(drills.filter((d) => d.result === 'passed'), (d) => d.at);
  const drillDueAt = job.drillEvery === undefined ? null : (lastPassed?.at ?? knownSince) + job.drillEvery;
  return {
    state,
    lastSuccessAt,
    nextExpectedAt: due,
    ageS: lastSuccessAt === null ? null : Math.max(0, Math.round((now - lastSuccessAt) / 1_000)),
    tooSmall,
    lastSizeBytes: lastFinished?.sizeBytes ?? null,
    lastDurationS: lastFinished?.durationS ?? null,
    lastMessage: lastFinished?.message ?? null,
    lastDrillAt: lastDrill?.at ?? null,
    lastDrillResult: lastDrill?.result ?? null,
    drillDueAt,
    drillOverdue: drillDueAt !== null && now >= drillDueAt,
    drillFailed: lastDrill?.result === 'failed',
    drillAgeDays: lastPassed ? Math.round(((now - lastPassed.at) / DAY) * 10) / 10 : null,
  };
}

const flag = (value: boolean) => (value ? 1 : 0);

/** The `backup` measurement the alert rules watch (device = the job id, kind other). */
export function backupPoints(job: BackupJob, evaluation: BackupEvaluation, now: number): Point[] {
  const fields: Point['fields'] = {
    status: evaluation.state,
    ok: flag((evaluation.state === 'ok' || evaluation.state === 'running') && !evaluation.tooSmall),
    missed: flag(evaluation.state === 'missed'),
    failed: flag(evaluation.state === 'failed'),
    too_small: flag(evaluation.tooSmall),
    drill_overdue: flag(evaluation.drillOverdue),
    drill_failed: flag(evaluation.drillFailed),
  };
  if (evaluation.ageS !== null) fields.age_s = evaluation.ageS;
  if (evaluation.lastSizeBytes !== null) fields.size_bytes = evaluation.lastSizeBytes;
  if (evaluation.lastDurationS !== null) fields.duration_s = evaluation.lastDurationS;
  if (evaluation.drillAgeDays !== null) fields.drill_age_days = evaluation.drillAgeDays;
  return [{ measurement: 'backup', tags: { site: job.site, device: job.id, kind: 'other', owner: job.owner }, fields, time: now }];
}

/** A job taken out of backups.yaml (or moved to another site): every flag cleared, so its alerts resolve. */
export function retiredBackupPoints(job: BackupJob, now: number): Point[] {
  return [{ measurement: 'backup', tags: { site: job.site, device: job.id, kind: 'other', owner: job.owner }, fields: { status: 'removed', missed: 0, failed: 0, too_small: 0, drill_overdue: 0, drill_failed: 0 }, time: now }];
}
