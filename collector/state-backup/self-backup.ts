import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../src/log.ts';
import type { BackupService } from '../backups/backup-service.ts';
import type { BackupEvaluation } from '../backups/evaluate.ts';
import type { BackupJob } from '../backups/jobs.ts';
import type { CollectorConfig } from '../config.ts';
import { ARCHIVE_PATTERN, createStateBackup, defaultArchiveName } from './create.ts';

// The collector's own nightly state backup: the archive `izleme backup create` makes, made by
// the collector on its schedule into selfBackup.dir, the newest `keep` kept. It is a backup job
// of the collector's own backup verification: each run reports start and success (with size
// and duration) or failure to it, so a missed or failed self-backup raises the same
// backup_missed / backup_failed alerts as any other job.

export type SelfBackupSettings = NonNullable<CollectorConfig['selfBackup']>;

/** After a failed run, the next try (not at once: a full disk stays full for a while). */
export const RETRY_MS = 15 * 60_000;
/** setTimeout's longest delay; a later run is re-planned when this one fires. */
const MAX_TIMER_MS = 2_147_483_647;

export function selfBackupJob(settings: SelfBackupSettings): BackupJob {
  return {
    id: settings.job,
    site: settings.site,
    description: `Belediye İzleme collector state (izleme backup create) into ${settings.dir}`,
    owner: 'systems',
    schedule: settings.schedule,
    grace: settings.grace,
    minSizeBytes: undefined,
    drillEvery: undefined,
    restoreTestOf: undefined,
  };
}

/**
 * When to run next. Due (never succeeded — a new install gets its first archive at once — or
 * the schedule's time has come, also one missed while the collector was down): now, unless a
 * run failed less than RETRY_MS ago. Otherwise when the schedule says.
 */
export function nextRunAt(evaluation: Pick<BackupEvaluation, 'lastSuccessAt' | 'nextExpectedAt'>, lastFailureAt: number | undefined, now: number): number {
  const due = evaluation.lastSuccessAt === null || evaluation.nextExpectedAt === null ? now : evaluation.nextExpectedAt;
  if (due > now) return due;
  return lastFailureAt !== undefined && now - lastFailureAt < RETRY_MS ? lastFailureAt + RETRY_MS : now;
}

/** The archives beyond the newest `keep` (names sort by time). */
export function archivesToDelete(names: readonly string[], keep: number): string[] {
  return names
    .filter((n) => ARCHIVE_PATTERN.test(n))
    .sort()
    .reverse()
    .slice(keep);
}

export interface SelfBackup {
  close(): void;
}

export function startSelfBackup(settings: SelfBackupSettings, config: CollectorConfig, configFile: string | undefined, backups: BackupService, log: Logger): SelfBackup {
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let lastFailureAt: number | undefined;

  const evaluation = () => backups.jobs().find((r) => r.job.id === settings.job)!.evaluation;

  const run = async () => {
    const now = new Date();
    backups.record(settings.job, 'start');
    try {
      mkdirSync(settings.dir, { recursive: true, mode: 0o700 });
      // What a run cut short by a stop left behind (its work directory, a partial archive).
      for (const name of readdirSync(settings.dir)) if (name.startsWith('.izleme-backup-') || name.endsWith('.tar.gz.partial')) rmSync(join(settings.dir, name), { recursive: true, force: true });
      const result = await createStateBackup({ config, configFile, output: join(settings.dir, defaultArchiveName(now)), now });
      for (const name of archivesToDelete(readdirSync(settings.dir), settings.keep)) rmSync(join(settings.dir, name), { force: true });
      backups.record(settings.job, 'success', { sizeBytes: result.bytes, durationS: result.ms / 1_000 });
      lastFailureAt = undefined;
      log.log('info', 'self-backup written', { file: result.file, bytes: result.bytes, ms: Math.round(result.ms), stores: result.manifest.stores.length, files: result.manifest.files.length });
    } catch (error) {
      lastFailureAt = Date.now();
      const message = (error as Error).message;
      if (!closed) backups.record(settings.job, 'fail', { message });
      log.log('error', 'self-backup failed', { dir: settings.dir, error: message });
    }
  };

  const plan = () => {
    if (closed) return;
    const now = Date.now();
    const delay = Math.min(Math.max(0, nextRunAt(evaluation(), lastFailureAt, now) - now), MAX_TIMER_MS);
    timer = setTimeout(() => {
      if (delay === MAX_TIMER_MS) return plan();
      void run().finally(plan);
    }, delay);
  };
  plan();
  log.log('info', 'self-backup scheduled', { job: settings.job, dir: settings.dir, keep: settings.keep });

  return {
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
