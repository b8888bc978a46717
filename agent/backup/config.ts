import { z } from 'zod';
import { ID_PATTERN } from '../../src/contract/topics.ts';
import { durationSchema } from '../../src/duration.ts';
import { archiveKind } from './archive.ts';
import { parseBackupPattern } from './pattern.ts';

// The agent's `backups:` key: backup files this machine holds and how to judge them
// (docs/agent.md#backups).

const idSchema = z.string().regex(ID_PATTERN, `expected lower-case letters, digits, ".", "-" or "_" (${ID_PATTERN})`);
const positiveDuration = durationSchema.refine((ms) => ms > 0, 'must be longer than 0');

const pathSchema = z
  .string()
  .max(1024)
  .superRefine((path, ctx) => {
    try {
      parseBackupPattern(path);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  });

const checksumSchema = z
  .strictObject({
    /** Appended to the backup's name: `db.bak` + `.sha256` → `db.bak.sha256`, holding its digest (sha256sum format or bare hex). */
    sidecar: z.string().regex(/^\.[A-Za-z0-9._-]{1,32}$/, 'expected a file name suffix like ".sha256"').optional(),
    /** One sha256sum-format list for all backups; a relative path is taken from the backups' directory. */
    manifest: z.string().min(1).max(1024).regex(/^[^*?]*$/, 'a manifest path takes no wildcards').optional(),
  })
  .refine((c) => (c.sidecar === undefined) !== (c.manifest === undefined), 'give exactly one of sidecar, manifest');

/** Hashing and listing read whole files: paced, bounded, and run one file at a time on the machine. */
const budgetSchema = z.strictObject({
  /** Read rate while hashing or listing, in MB (10^6 bytes) per second. */
  readMBps: z.number().positive().max(10_000).default(20),
  maxEntries: z.number().int().positive().max(100_000_000).default(1_000_000),
  /** Stop hashing/listing one file after this long; the verdict is then "not checked". */
  maxTime: positiveDuration.default(2 * 3_600_000),
});

export const backupJobSchema = z
  .strictObject({
    id: idSchema,
    /** Wildcards (* ?) in the last segment only: `D:\Yedek\SQL\*.bak`, `/srv/yedek/*.tar.gz`. */
    path: pathSchema,
    /** The newest backup must be younger than this: the schedule plus a grace period ("26h" for a nightly job). */
    maxAge: positiveDuration,
    /** Newest smaller than this share of the median of the previous 5 → too small. */
    shrinkRatio: z.number().gt(0).lt(1).default(0.5),
    /** A file modified this recently is still being written and is not judged yet. */
    settle: durationSchema.default(120_000),
    checksum: checksumSchema.optional(),
    /** List zip / tar / tar.gz archives to prove they can be read. */
    verifyArchive: z.boolean().default(false),
    /** This job has a copy at another agent (or is that copy): report name, size and SHA-256 for the collector to compare. */
    offsite: z.strictObject({ role: z.enum(['primary', 'copy']), pair: idSchema }).optional(),
    budget: budgetSchema.prefault({}),
  })
  .superRefine((job, ctx) => {
    if (!job.verifyArchive) return;
    let glob: string;
    try {
      glob = parseBackupPattern(job.path).glob;
    } catch {
      return; // already reported on `path`
    }
    if (!archiveKind(glob)) ctx.addIssue({ code: 'custom', path: ['verifyArchive'], message: `the path pattern must end in .zip, .tar, .tar.gz or .tgz to be listed, got "${glob}"` });
  });
export type BackupJob = z.infer<typeof backupJobSchema>;

export const backupsSchema = z
  .array(backupJobSchema)
  .max(100)
  .default([])
  .superRefine((jobs, ctx) => {
    const seen = new Set<string>();
    jobs.forEach((job, i) => {
      if (seen.has(job.id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `backup job "${job.id}" is defined twice` });
      seen.add(job.id);
    });
  });
