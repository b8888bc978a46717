import { createHash } from 'node:crypto';
import { createReadStream, existsSync, lstatSync, readdirSync, statSync } from 'node:fs';
import { copyFile, chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { CollectorConfig } from '../config.ts';
import { fileMember, MANIFEST_FORMAT, MANIFEST_MEMBER, MANIFEST_VERSION, REPORT_FILE, REPORT_MONTH, reportCopyMember, storeMember, type Manifest } from './manifest.ts';
import { planBackup, REPORT_COPIES_MAX_BYTES, type ReportCopiesEntry } from './members.ts';
import { copyStore, storeStats } from './snapshot.ts';
import { writeTarGz, type ArchiveMember } from './tar-gz.ts';
import { collectorVersion } from './version.ts';

// izleme backup create, and the collector's own nightly backup: every store the configuration
// names, copied with SQLite's online backup API while the collector runs, plus the files the
// configuration names, into one .tar.gz (mode 600) with a manifest.

export interface CreateOptions {
  config: CollectorConfig;
  /** The configuration file itself (archived too); undefined when the collector runs on defaults. */
  configFile: string | undefined;
  output: string;
  now?: Date;
  /** The bound on report copies (default REPORT_COPIES_MAX_BYTES); tests lower it. */
  reportCopiesMaxBytes?: number;
}

export interface CreateResult {
  file: string;
  bytes: number;
  ms: number;
  manifest: Manifest;
}

export class BackupInputError extends Error {
  override name = 'BackupInputError';
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** belediye-izleme-state-20260115T080000Z.tar.gz: sorts by time, names no host (it may be copied elsewhere). */
export const defaultArchiveName = (now: Date) => `belediye-izleme-state-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}.tar.gz`;

const size = (bytes: number) => (bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`);

interface Collected {
  members: ArchiveMember[];
  manifest: Manifest;
  work: string;
}

/** Copies a file into the work directory and lists it; false when it vanished meanwhile (only asked for report copies). */
async function addFile(into: Collected, key: string, path: string, member: string, index: number, mayVanish = false): Promise<boolean> {
  // Copied first, so the hash and the archived bytes are of the same content even if the file is edited meanwhile.
  const copy = join(into.work, `file-${index}`);
  try {
    await copyFile(path, copy);
  } catch (error) {
    if (mayVanish && (error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  await chmod(copy, 0o600);
  if (into.members.some((m) => m.name === member)) throw new BackupInputError(`${key}: two files named ${basename(path)}`);
  into.manifest.files.push({ key, path, member, bytes: (await stat(copy)).size, sha256: await sha256Of(copy) });
  into.members.push({ name: member, file: copy });
  return true;
}

/** Regular files directly in `dir` (no links, no subdirectories), with their sizes; none when the directory went meanwhile. */
function regularFiles(dir: string): { name: string; bytes: number }[] {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return names.flatMap((name) => {
    const info = lstatSync(join(dir, name), { throwIfNoEntry: false });
    return info?.isFile() ? [{ name, bytes: info.size }] : [];
  });
}

/**
 * The monthly reports on disk, newest month first: each month whole or not at all, the newest
 * `keep` months, until the bound. What is left out is listed in the manifest with the reason.
 * The collector may be pruning or writing a month meanwhile: a file gone is left out and listed.
 */
async function addReportCopies(into: Collected, copies: ReportCopiesEntry, maxBytes: number, firstIndex: number): Promise<void> {
  const note = (path: string, reason: string) => into.manifest.notIncluded.push({ key: copies.key, path, reason });
  if (!existsSync(copies.path)) return void note(copies.path, 'no such directory (no monthly report has been made yet)');
  const months = readdirSync(copies.path)
    .filter((name) => REPORT_MONTH.test(name) && lstatSync(join(copies.path, name)).isDirectory())
    .sort()
    .reverse();
  let total = 0;
  let index = firstIndex;
  let full = false;
  for (const [i, month] of months.entries()) {
    const dir = join(copies.path, month);
    if (i >= copies.keep) {
      note(dir, `older than the newest ${copies.keep} months (reports.monthly.keep); the collector deletes it`);
      continue;
    }
    const files = regularFiles(dir);
    const bytes = files.reduce((n, f) => n + f.bytes, 0);
    if (full || total + bytes > maxBytes) {
      full = true;
      note(dir, `report copies are bounded to ${size(maxBytes)}, newest months first (this month has ${size(bytes)}); izleme report --month ${month} makes it again from what the stores still hold`);
      continue;
    }
    total += bytes;
    for (const file of files) {
      const path = join(dir, file.name);
      if (!REPORT_FILE.test(file.name)) note(path, 'a file name the monthly report does not write');
      else if (!(await addFile(into, copies.key, path, reportCopyMember(month, file.name), index++, true))) note(path, 'removed while the backup ran');
    }
  }
}

export const ARCHIVE_PATTERN = /^belediye-izleme-state-\d{8}T\d{6}Z\.tar\.gz$/;

export async function createStateBackup(options: CreateOptions): Promise<CreateResult> {
  const started = performance.now();
  const now = options.now ?? new Date();
  const plan = planBackup(options.config, options.configFile);
  if (existsSync(options.output)) throw new BackupInputError(`${options.output} exists: not replaced (give another --output)`);
  // Next to the output: the same file system, so a large spool is not copied through /tmp.
  const work = await mkdtemp(join(dirname(options.output), '.izleme-backup-'));
  try {
    const members: ArchiveMember[] = [];
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      formatVersion: MANIFEST_VERSION,
      createdAt: now.toISOString(),
      collectorVersion: collectorVersion(),
      host: hostname(),
      instance: options.config.instance,
      configFile: options.configFile ?? null,
      stores: [],
      files: [],
      notIncluded: plan.inMemory.map((key) => ({ key, path: ':memory:', reason: 'kept in memory' })),
    };
    for (const store of plan.stores) {
      // The heartbeat store exists only once backups.file is set, the alert stores only with alerting
      // on, the report store once an agent's backup check arrived or the monthly report ran.
      if (!existsSync(store.path)) {
        manifest.notIncluded.push({ key: store.key, path: store.path, reason: 'no such file (that part of the collector has not run)' });
        continue;
      }
      const copy = join(work, `${store.name}.sqlite`);
      await copyStore(store.path, copy);
      const stats = storeStats(copy);
      const member = storeMember(store.name);
      manifest.stores.push({ name: store.name, key: store.key, path: store.path, member, schemaVersion: stats.schemaVersion, rows: stats.rows, bytes: (await stat(copy)).size, sha256: await sha256Of(copy) });
      members.push({ name: member, file: copy });
    }
    const files = [...plan.files];
    for (const dir of plan.dirs) {
      if (!existsSync(dir.path)) throw new BackupInputError(`${dir.key}: no such directory ${dir.path}`);
      for (const name of readdirSync(dir.path).sort()) if (statSync(join(dir.path, name)).isFile()) files.push({ key: dir.key, path: join(dir.path, name) });
    }
    const collected: Collected = { members, manifest, work };
    for (const [i, file] of files.entries()) {
      if (!existsSync(file.path)) throw new BackupInputError(`${file.key}: no such file ${file.path} (named in the collector's configuration)`);
      await addFile(collected, file.key, file.path, fileMember(file.key, file.path), i);
    }
    // After the report store: every month it records as made has its files on disk by then (they are written first).
    if (plan.reportCopies) await addReportCopies(collected, plan.reportCopies, options.reportCopiesMaxBytes ?? REPORT_COPIES_MAX_BYTES, files.length);
    const manifestFile = join(work, MANIFEST_MEMBER);
    await writeFile(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    const bytes = await writeTarGz(options.output, [{ name: MANIFEST_MEMBER, file: manifestFile }, ...members]);
    return { file: options.output, bytes, ms: performance.now() - started, manifest };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
