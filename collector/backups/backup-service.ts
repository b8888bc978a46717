import { unwatchFile, watchFile } from 'node:fs';
import { z } from 'zod';
import { formatPath } from '../../src/contract/schemas.ts';
import type { Logger } from '../../src/log.ts';
import type { PointSink } from '../ingest/ingest.ts';
import type { Point } from '../model/point.ts';
import type { SelfMetrics } from '../self-metrics.ts';
import { backupPoints, evaluateJob, retiredBackupPoints, type BackupEvaluation, type DrillResult } from './evaluate.ts';
import { HeartbeatStore, type HeartbeatToken } from './heartbeat-store.ts';
import { loadBackupJobs, type BackupJob } from './jobs.ts';

// Backup verification, assembled: backups.yaml (reloaded on change and on SIGHUP; a bad edit is
// refused, logged and counted, the previous jobs stay), the heartbeat store, and an evaluation
// of every job every 30 s — and of a job at once when it reports — whose `backup` points go
// into the given sink (the alert service's, so the rules alert on them).

export interface BackupSettings {
  /** backups.yaml; undefined: only the collector's own jobs. */
  file?: string | undefined;
  /** The heartbeat store (SQLite). */
  path: string;
  /** Jobs the collector runs itself (its nightly state backup): watched like the file's, reported with record(). */
  ownJobs?: readonly BackupJob[];
}

export type HeartbeatKind = 'start' | 'success' | 'fail';
export type RefusalReason = 'unknown_token' | 'unknown_job' | 'malformed' | 'rate_limited';
export type Refusal = { ok: false; reason: RefusalReason; message: string };
export type HeartbeatResult = { ok: true; job: string; state: BackupEvaluation['state'] } | Refusal;

export interface JobReport {
  job: BackupJob;
  evaluation: BackupEvaluation;
  /** Active tokens (ids only). */
  tokens: HeartbeatToken[];
}

export interface BackupService {
  /** One report from a job's script: the token is the job's secret, `params` its query and body fields. */
  heartbeat(token: string, kind: HeartbeatKind, params: unknown, sourceIp: string): HeartbeatResult;
  /** Counts and logs a heartbeat refused before it got here (a body that did not parse). */
  refuse(reason: RefusalReason, message: string, fields?: Record<string, unknown>): Refusal;
  jobs(): JobReport[];
  /** Undefined: no such job in backups.yaml. */
  recordDrill(job: string, drill: { result: DrillResult; notes: string }, actor: string): BackupEvaluation | undefined;
  createToken(job: string, actor: string): { id: string; token: string } | undefined;
  revokeToken(job: string, tokenId: string): boolean;
  /** A report of one of the collector's own jobs (no token: it is the collector itself). */
  record(job: string, kind: HeartbeatKind, details?: { sizeBytes?: number; durationS?: number; message?: string }): BackupEvaluation;
  /** Re-reads backups.yaml now (also done on change and on SIGHUP). */
  reload(): void;
  close(): void;
}

export const HEARTBEATS_PER_MINUTE = 60;
const MAX_DURATION_S = 31 * 86_400;

/** Scripts send numbers as query or form text: "1048576" is a number, "1e30", "-1" and "abc" are not. */
const numeric = (schema: z.ZodNumber) => z.preprocess((v) => (typeof v === 'string' && /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v), schema);

export const heartbeatParams = z.strictObject({
  size: numeric(
    z
      .number({ error: 'expected a whole number of bytes, e.g. size=1048576' })
      .max(Number.MAX_SAFE_INTEGER, 'is larger than any backup (at most 9007199254740991 bytes)')
      .int('expected a whole number of bytes, e.g. size=1048576')
      .min(0, 'expected a whole number of bytes, e.g. size=1048576'),
  ).optional(),
  duration: numeric(
    z
      .number({ error: 'expected seconds, e.g. duration=754.2' })
      .min(0, 'expected seconds, e.g. duration=754.2')
      .max(MAX_DURATION_S, `at most ${MAX_DURATION_S} seconds (31 days)`),
  ).optional(),
  /** Longer messages (a log tail) are cut, not refused: the report itself matters more. */
  message: z.string({ error: 'expected text' }).transform((text) => text.slice(0, 500)).optional(),
});

export function startBackupService(settings: BackupSettings, sink: PointSink, metrics: SelfMetrics, log: Logger, options: { evaluateEveryMs?: number } = {}): BackupService {
  const ownJobs = settings.ownJobs ?? [];
  const ownIds = new Set(ownJobs.map((job) => job.id));
  const load = () => {
    const fromFile = settings.file === undefined ? [] : loadBackupJobs(settings.file);
    const clash = fromFile.find((job) => ownIds.has(job.id));
    if (clash) throw new Error(`${settings.file}: job "${clash.id}" is the collector's own backup job (selfBackup.job): give the file's job another id`);
    return [...fromFile, ...ownJobs];
  };
  // At start a bad file stops the collector (like a bad collector.yaml); later a bad edit is refused.
  const first = load();
  const store = HeartbeatStore.open(settings.path);
  const accepted = metrics.counter('collector_backup_heartbeats_total', 'Backup heartbeats accepted, by kind', ['kind']);
  const refused = metrics.counter('collector_backup_heartbeats_refused_total', 'Backup heartbeats refused, by reason', ['reason']);
  for (const reason of ['unknown_token', 'unknown_job', 'malformed', 'rate_limited'] satisfies RefusalReason[]) refused.inc({ reason }, 0);
  const configErrors = metrics.counter('collector_backup_config_errors_total', 'backups.yaml reloads refused because they did not validate');
  configErrors.inc({}, 0);

  let jobs = new Map<string, BackupJob>();
  const knownSince = new Map<string, number>();
  /** Token id → times of its recent heartbeats (at most a minute's worth). */
  const recent = new Map<string, number[]>();
  metrics.gauge('collector_backup_jobs', 'Backup jobs in backups.yaml', () => jobs.size);

  const evaluate = (job: BackupJob, now: number) => evaluateJob(job, store.runs(job.id), store.drills(job.id), now, knownSince.get(job.id) ?? now);
  const push = (points: Point[]) => {
    if (points.length > 0) sink.enqueue(points);
  };
  const evaluateAll = () => {
    const now = Date.now();
    push([...jobs.values()].flatMap((job) => backupPoints(job, evaluate(job, now), now)));
    for (const [id, times] of recent) if (times.every((t) => now - t >= 60_000)) recent.delete(id);
  };

  const apply = (next: BackupJob[]) => {
    const now = Date.now();
    const nextJobs = new Map(next.map((job) => [job.id, job]));
    // Alerts of a job that left the file (or its site) would otherwise fire for ever.
    push([...jobs.values()].filter((old) => nextJobs.get(old.id)?.site !== old.site).flatMap((old) => retiredBackupPoints(old, now)));
    jobs = nextJobs;
    for (const job of next) knownSince.set(job.id, store.knownSince(job.id, now));
    evaluateAll();
  };
  apply(first);
  log.log('info', 'backup jobs loaded', { file: settings.file, jobs: jobs.size });

  const reload = () => {
    try {
      apply(load());
      log.log('info', 'backup jobs reloaded', { file: settings.file, jobs: jobs.size });
    } catch (error) {
      configErrors.inc();
      log.log('error', 'backups.yaml not reloaded: the previous jobs stay in force', { file: settings.file, error: (error as Error).message });
    }
  };
  const onChange = (current: { mtimeMs: number }, previous: { mtimeMs: number }) => {
    if (current.mtimeMs !== previous.mtimeMs) reload();
  };
  if (settings.file !== undefined) watchFile(settings.file, { interval: 1_000 }, onChange);
  process.on('SIGHUP', reload);
  const timer = setInterval(evaluateAll, options.evaluateEveryMs ?? 30_000);

  const refuse = (reason: RefusalReason, message: string, fields: Record<string, unknown> = {}): Refusal => {
    refused.inc({ reason });
    log.log('warn', 'backup heartbeat refused', { reason, message, ...fields });
    return { ok: false, reason, message };
  };
  const withinRate = (tokenId: string, now: number) => {
    const times = (recent.get(tokenId) ?? []).filter((t) => now - t < 60_000);
    recent.set(tokenId, times);
    if (times.length >= HEARTBEATS_PER_MINUTE) return false;
    times.push(now);
    return true;
  };

  return {
    heartbeat(token, kind, params, sourceIp) {
      const now = Date.now();
      const owner = store.tokenJob(token);
      if (!owner) return refuse('unknown_token', 'unknown heartbeat token (never issued, or revoked)', { sourceIp });
      const job = jobs.get(owner.job);
      if (!job) return refuse('unknown_job', `job "${owner.job}" is not in backups.yaml (any more)`, { job: owner.job, sourceIp });
      if (!withinRate(owner.tokenId, now)) return refuse('rate_limited', `more than ${HEARTBEATS_PER_MINUTE} heartbeats a minute for job "${job.id}": wait a minute`, { job: job.id, sourceIp });
      const parsed = heartbeatParams.safeParse(params ?? {});
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const field = formatPath(issue.path);
        return refuse('malformed', field ? `invalid heartbeat field ${field}: ${issue.message}` : `invalid heartbeat: ${issue.message}`, { job: job.id, sourceIp });
      }
      const details = { sizeBytes: parsed.data.size, durationS: parsed.data.duration, message: parsed.data.message };
      if (kind === 'start') store.start(job.id, now, sourceIp);
      else store.finish(job.id, kind === 'success' ? 'success' : 'failure', now, details, sourceIp);
      accepted.inc({ kind });
      const target = job.restoreTestOf === undefined ? undefined : jobs.get(job.restoreTestOf);
      if (target && kind !== 'start') {
        store.addDrill(target.id, { at: now, result: kind === 'success' ? 'passed' : 'failed', notes: details.message ?? `automated restore test "${job.id}"`, actor: `heartbeat:${job.id}` });
        push(backupPoints(target, evaluate(target, now), now));
      }
      const evaluation = evaluate(job, now);
      push(backupPoints(job, evaluation, now));
      return { ok: true, job: job.id, state: evaluation.state };
    },
    refuse,
    jobs() {
      const now = Date.now();
      return [...jobs.values()].map((job) => ({ job, evaluation: evaluate(job, now), tokens: store.tokens(job.id).filter((t) => t.revokedAt === null) }));
    },
    recordDrill(id, drill, actor) {
      const job = jobs.get(id);
      if (!job) return undefined;
      const now = Date.now();
      store.addDrill(id, { at: now, result: drill.result, notes: drill.notes, actor });
      const evaluation = evaluate(job, now);
      push(backupPoints(job, evaluation, now));
      return evaluation;
    },
    record(id, kind, details = {}) {
      const job = jobs.get(id);
      if (!job || !ownIds.has(id)) throw new Error(`"${id}" is not one of the collector's own backup jobs`);
      const now = Date.now();
      if (kind === 'start') store.start(id, now, 'collector');
      else store.finish(id, kind === 'success' ? 'success' : 'failure', now, details, 'collector');
      accepted.inc({ kind });
      const evaluation = evaluate(job, now);
      push(backupPoints(job, evaluation, now));
      return evaluation;
    },
    createToken: (id, actor) => (jobs.has(id) ? store.createToken(id, actor) : undefined),
    revokeToken: (id, tokenId) => store.revokeToken(id, tokenId),
    reload,
    close() {
      clearInterval(timer);
      if (settings.file !== undefined) unwatchFile(settings.file, onChange);
      process.off('SIGHUP', reload);
      store.close();
    },
  };
}
