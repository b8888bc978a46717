import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseYamlText, validateConfig } from '../../src/config/load.ts';
import { ID_PATTERN } from '../../src/contract/topics.ts';
import { durationSchema } from '../../src/duration.ts';
import { cronFiresEveryYear, isTimeZone, parseCron, type CronSchedule } from './cron.ts';

// backups.yaml: the backup jobs that report through push heartbeats (docs: a backup script,
// robocopy/rsync, a NAS task or a backup product's post-job script calls /hb/<token>). A job
// runs on a period (`every: 1d`) or a cron schedule in a time zone; it may report late by
// `grace` before it counts as missed. Absurd schedules are refused with the field named.

const MINUTE = 60_000;
const DAY = 86_400_000;

export const id = z.string().regex(ID_PATTERN, 'expected a lower-case id like "dosya-sunucusu-gece"');
const category = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'expected an alert category like "systems" (lower-case letters, digits, _)');

const cronSchema = z.string().transform((text, ctx) => {
  let cron: CronSchedule;
  try {
    cron = parseCron(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `"${text}": ${(error as Error).message}` });
    return z.NEVER;
  }
  if (!cronFiresEveryYear(cron)) {
    ctx.addIssue({ code: 'custom', message: `"${text}" does not fire in every year (a day that does not exist, or February 29 only)` });
    return z.NEVER;
  }
  return { text: text.trim(), cron };
});

export const scheduleSchema = z
  .strictObject({
    every: durationSchema
      .refine((ms) => ms >= MINUTE, 'at least "1m": a job that reports more often is not a backup schedule')
      .refine((ms) => ms <= 366 * DAY, 'at most "366d": a backup less often than yearly cannot be watched')
      .optional(),
    cron: cronSchema.optional(),
    /** The zone the cron fields are read in (IANA name). */
    timezone: z.string().refine(isTimeZone, 'expected an IANA time zone like "Europe/Istanbul"').optional(),
  })
  .superRefine((s, ctx) => {
    if ((s.every === undefined) === (s.cron === undefined)) ctx.addIssue({ code: 'custom', path: ['every'], message: 'give exactly one of every (e.g. "1d") and cron (e.g. "0 2 * * *")' });
    if (s.every !== undefined && s.timezone !== undefined) ctx.addIssue({ code: 'custom', path: ['timezone'], message: 'timezone applies to cron schedules only' });
  })
  .transform((s): Schedule => (s.cron ? { cron: s.cron.cron, text: s.cron.text, timezone: s.timezone ?? 'Europe/Istanbul' } : { everyMs: s.every! }));

export type Schedule = { everyMs: number } | { cron: CronSchedule; text: string; timezone: string };

const jobSchema = z.strictObject({
  id,
  site: id,
  description: z.string().max(200).optional(),
  /** The alert category of the job's alerts (who is paged): systems, gis, database… */
  owner: category.default('systems'),
  schedule: scheduleSchema,
  grace: durationSchema
    .refine((ms) => ms >= 1_000, 'at least "1s"')
    .refine((ms) => ms <= 7 * DAY, 'at most "7d": a backup a week late is missed'),
  minSizeBytes: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  /** How often a restore drill must pass, e.g. "90d" (quarterly). */
  drillEvery: durationSchema
    .refine((ms) => ms >= DAY, 'at least "1d"')
    .refine((ms) => ms <= 731 * DAY, 'at most "731d" (two years)')
    .optional(),
  /** This job is an automated restore test of that job: its reports are recorded as that job's drills. */
  restoreTestOf: id.optional(),
});

export type BackupJob = z.infer<typeof jobSchema>;

export const backupsFileSchema = z.strictObject({
  jobs: z
    .array(jobSchema)
    .max(10_000)
    .default([])
    .superRefine((jobs, ctx) => {
      const ids = new Set<string>();
      jobs.forEach((job, i) => {
        if (ids.has(job.id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `job "${job.id}" is defined twice` });
        ids.add(job.id);
      });
      jobs.forEach((job, i) => {
        if (job.restoreTestOf === undefined) return;
        if (job.restoreTestOf === job.id) ctx.addIssue({ code: 'custom', path: [i, 'restoreTestOf'], message: 'a job cannot be its own restore test' });
        else if (!ids.has(job.restoreTestOf)) ctx.addIssue({ code: 'custom', path: [i, 'restoreTestOf'], message: `no job "${job.restoreTestOf}" in this file` });
      });
    }),
});

/** Reads and validates backups.yaml; the error names the file, line or field. */
export function loadBackupJobs(file: string): BackupJob[] {
  return validateConfig(backupsFileSchema, parseYamlText(readFileSync(file, 'utf8'), file), file).jobs;
}
