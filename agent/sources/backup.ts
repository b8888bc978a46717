import { setTimeout as sleep } from 'node:timers/promises';
import type { Metric } from '../../src/contract/schemas.ts';
import { archiveKind } from '../backup/archive.ts';
import { expectedDigest, type Expected } from '../backup/checksum.ts';
import type { BackupJob } from '../backup/config.ts';
import { backupStatus, isMissed, isTooSmall, sizeRatio, SIZE_HISTORY, type BackupStatus } from '../backup/evaluate.ts';
import { parseBackupPattern, type BackupPattern } from '../backup/pattern.ts';
import { scanBackups, type BackupFile } from '../backup/scan.ts';
import { createVerifier, type Verifier, type VerifyOutcome } from '../backup/verify.ts';
import { round, withTimeout, type Source } from './types.ts';

// `backup_file`, one metric per configured job (tag instance = job id): is the newest backup
// recent, as big as usual, intact? Hashing and archive listing run in the background at a paced
// read rate; a collection waits for them a while, then reports without them (the fields appear
// at a later collection). One failing job never stops the others.

export interface BackupSourceOptions {
  /** How long one collection waits for a hash or listing before reporting without it. */
  waitMs?: number;
  /** A directory listing that takes longer (a dead share) reports the job as `no_file`. */
  scanTimeoutMs?: number;
}

const MAX_TEXT = 256;
const text = (s: string) => (s.length <= MAX_TEXT ? s : `${s.slice(0, MAX_TEXT - 1)}…`);

function humanDuration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 72 ? `${hours} h` : `${Math.round(hours / 24)} d`;
}

/** Resolves with undefined once `ms` passed; the work itself goes on. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  const stop = new AbortController();
  const timeout = sleep(ms, undefined, { signal: stop.signal, ref: false }).catch(() => undefined);
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    stop.abort();
  }
}

interface JobResult {
  metric: Metric;
  /** The file version being verified, kept by the verifier. */
  key?: string;
}

function failed(job: BackupJob, detail: string): JobResult {
  const fields: Metric['fields'] = { ok: 0, status: 'no_file', files: 0, detail: text(detail) };
  // The off-site comparison must know an empty copy location is a copy (then: "missing").
  if (job.offsite) {
    fields.offsite_role = job.offsite.role;
    fields.offsite_pair = job.offsite.pair;
  }
  return { metric: { name: 'backup_file', tags: { instance: job.id }, fields } };
}

function checksumVerdict(expected: Expected | undefined, outcome: VerifyOutcome | undefined): { ok?: boolean; detail?: string } {
  if (!expected) return {};
  if ('missing' in expected) return { ok: false, detail: expected.missing };
  if (outcome?.readError) return { ok: false, detail: outcome.readError };
  if (!outcome?.sha256) return {};
  return outcome.sha256 === expected.digest ? { ok: true } : { ok: false, detail: `SHA-256 ${outcome.sha256.slice(0, 12)}… does not match ${expected.digest.slice(0, 12)}… in ${expected.from}` };
}

function archiveVerdict(job: BackupJob, outcome: VerifyOutcome | undefined): { ok?: boolean; detail?: string } {
  if (!job.verifyArchive || !outcome) return {};
  if (outcome.readError) return { ok: false, detail: outcome.readError };
  const check = outcome.archive;
  if (check?.state === 'ok') return { ok: true };
  if (check?.state === 'bad') return { ok: false, detail: check.reason };
  return check ? { detail: check.reason } : {};
}

interface Shared {
  verifier: Verifier;
  options: Required<BackupSourceOptions>;
  /** Jobs whose directory listing has not returned yet. */
  scanning: Set<string>;
}

async function checkJob(job: BackupJob, pattern: BackupPattern, shared: Shared, now: number): Promise<JobResult> {
  // A listing hung on a dead share holds one of libuv's few threads: it is not started again until it returns.
  if (shared.scanning.has(job.id)) return failed(job, `the previous listing of ${pattern.dir} has not returned (share not answering?)`);
  const sidecar = job.checksum?.sidecar?.toLowerCase();
  const manifest = job.checksum?.manifest?.split(/[\\/]/).pop();
  // Checksum companions may match the pattern too (`/srv/yedek/*`): they are not backups.
  const skip = (name: string) => (sidecar !== undefined && name.toLowerCase().endsWith(sidecar)) || name === manifest;
  shared.scanning.add(job.id);
  const listing = scanBackups(pattern, skip, now, job.settle).finally(() => shared.scanning.delete(job.id));
  const scan = await withTimeout(listing, shared.options.scanTimeoutMs, `listing ${pattern.dir}`);
  const [newest, ...older] = scan.recent;
  if (!newest) {
    const writing = scan.writing > 0 ? ` (${scan.writing} still being written)` : '';
    return failed(job, `no finished file matches ${pattern.glob} in ${pattern.dir}${writing}`);
  }

  const previous = older.slice(0, SIZE_HISTORY).map((f) => f.size);
  const ageMs = Math.max(0, now - newest.mtimeMs);
  const kind = job.verifyArchive ? archiveKind(newest.name) : undefined;
  const wantHash = job.checksum !== undefined || job.offsite !== undefined;
  const key = wantHash || kind ? `${job.id}\0${newest.path}\0${newest.size}\0${newest.mtimeMs}` : undefined;
  let outcome: VerifyOutcome | undefined;
  let pending: string | undefined;
  if (key) {
    const request = { path: newest.path, size: newest.size, hash: wantHash, archive: kind, bytesPerSecond: job.budget.readMBps * 1e6, maxEntries: job.budget.maxEntries, maxTimeMs: job.budget.maxTime };
    outcome = await within(shared.verifier.outcome(key, request), shared.options.waitMs).catch((error: unknown) => {
      pending = `check interrupted (${(error as Error).message}), retrying`;
      return undefined;
    });
    pending ??= outcome ? outcome.note : 'hashing/listing still running';
  }
  const expected = job.checksum ? await expectedDigest(job.checksum, pattern, newest.name) : undefined;
  const checksum = checksumVerdict(expected, outcome);
  const archive = archiveVerdict(job, outcome);
  const missed = isMissed(ageMs, job.maxAge);
  const tooSmall = isTooSmall(newest.size, previous, job.shrinkRatio);
  const status = backupStatus({ hasFile: true, missed, tooSmall, checksumOk: checksum.ok, archiveOk: archive.ok });
  const ratio = sizeRatio(newest.size, previous);

  const fields: Metric['fields'] = { ok: status === 'ok' ? 1 : 0, status, files: scan.files, age_s: Math.round(ageMs / 1000), size_bytes: newest.size };
  if (ratio !== undefined) fields.size_ratio = round(ratio, 3);
  if (ratio !== undefined || newest.size === 0) fields.size_ok = tooSmall ? 0 : 1;
  if (checksum.ok !== undefined) fields.checksum_ok = checksum.ok ? 1 : 0;
  if (archive.ok !== undefined) fields.archive_ok = archive.ok ? 1 : 0;
  if (outcome?.archive?.state === 'ok') fields.archive_entries = outcome.archive.entries;
  fields.newest_name = text(newest.name);
  if (job.offsite) {
    fields.offsite_role = job.offsite.role;
    fields.offsite_pair = job.offsite.pair;
    if (outcome?.sha256) fields.newest_sha256 = outcome.sha256;
  }
  const detail = explain(status, { job, newest, ageMs, ratio, previous, checksum: checksum.detail, archive: archive.detail }) ?? archive.detail ?? pending;
  if (detail) fields.detail = text(detail);
  return { metric: { name: 'backup_file', tags: { instance: job.id }, fields }, ...(key ? { key } : {}) };
}

interface Context {
  job: BackupJob;
  newest: BackupFile;
  ageMs: number;
  ratio: number | undefined;
  previous: number[];
  checksum: string | undefined;
  archive: string | undefined;
}

/** Why the status is what it is, in one line for the alert and the dashboard. */
function explain(status: BackupStatus, c: Context): string | undefined {
  switch (status) {
    case 'missed':
      return `newest backup ${c.newest.name} is ${humanDuration(c.ageMs)} old (allowed: ${humanDuration(c.job.maxAge)})`;
    case 'too_small':
      return c.ratio === undefined
        ? `${c.newest.name} is empty`
        : `${c.newest.name} is ${c.newest.size} bytes, ${Math.round(c.ratio * 100)} % of the usual size (median of the previous ${c.previous.length})`;
    case 'checksum_bad':
      return c.checksum;
    case 'unreadable':
      return c.archive;
    default:
      return undefined;
  }
}

export function backupSource(jobs: readonly BackupJob[], options: BackupSourceOptions = {}): Source {
  const shared: Shared = { verifier: createVerifier(), options: { waitMs: options.waitMs ?? 60_000, scanTimeoutMs: options.scanTimeoutMs ?? 30_000 }, scanning: new Set() };
  const patterns = jobs.map((job) => parseBackupPattern(job.path));
  return {
    name: 'backup',
    cadence: 'slow',
    async collect() {
      const now = Date.now();
      const results = await Promise.all(
        jobs.map((job, i) => checkJob(job, patterns[i]!, shared, now).catch((error: unknown) => failed(job, (error as Error).message))),
      );
      shared.verifier.retain(new Set(results.flatMap((r) => (r.key ? [r.key] : []))));
      return results.map((r) => r.metric);
    },
  };
}
