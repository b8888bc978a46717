import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { DatabaseSync } from 'node:sqlite';
import { basename, dirname, join } from 'node:path';
import { loadCollectorConfig, type CollectorConfig } from '../config.ts';
import { newerRefusal } from '../storage/schema-version.ts';
import { MANIFEST_MEMBER, MANIFEST_VERSION, manifestSchema, memberProblems, parseReportCopyMember, REPORT_COPIES_KEY, type Manifest } from './manifest.ts';
import { fileAt, isDirKey, schemaOf, storeAt } from './members.ts';
import { collectorRunningSigns } from './running.ts';
import { copyStore, storeHasData, storeStats } from './snapshot.ts';
import { readTarGz, type ExtractedMember } from './tar-gz.ts';

// izleme backup restore: onto a fresh install, with the collector stopped. Nothing is written
// until the whole archive has been read and every member matches the manifest's SHA-256, no
// store is newer than this code, no collector seems to run and (without --force) nothing that
// holds data would be replaced. Stores go back through SQLite's backup API, files atomically,
// all owner-only, at the paths the configuration names: the configuration file given, when it
// exists (the new install's), otherwise the archived one, written there.

export class RestoreRefused extends Error {
  override name = 'RestoreRefused';
}

export interface RestoreOptions {
  archive: string;
  configFile: string;
  force: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface RestoreReport {
  manifest: Manifest;
  /** current: the existing configuration file named the paths; archived: the archive's was written to configFile. */
  configUsed: 'current' | 'archived';
  stores: { name: string; path: string; rows: Record<string, number> }[];
  files: { key: string; path: string }[];
  /** The monthly report copies written, by month, into reports.monthly.dir; undefined when none were. */
  reportCopies: { dir: string; months: string[]; files: number } | undefined;
  skipped: string[];
}

interface Target {
  kind: 'store' | 'file';
  label: string;
  member: ExtractedMember;
  path: string;
  sha256: string;
  /** A monthly report copy: reported by month, not one line a file. */
  reportCopy?: true;
}

async function readArchive(archive: string, work: string): Promise<{ manifest: Manifest; members: Map<string, ExtractedMember> }> {
  const members = await readTarGz(archive, work);
  const manifestMember = members.find((m) => m.name === MANIFEST_MEMBER);
  if (!manifestMember) throw new RestoreRefused(`${archive} has no ${MANIFEST_MEMBER}: not a Belediye İzleme state backup`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(manifestMember.file, 'utf8'));
  } catch (error) {
    throw new RestoreRefused(`${archive}: ${MANIFEST_MEMBER} is not JSON (${(error as Error).message})`);
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) throw new RestoreRefused(`${archive}: ${MANIFEST_MEMBER} is not a state backup manifest: ${parsed.error.issues[0]!.path.join('.')} ${parsed.error.issues[0]!.message}`);
  const manifest = parsed.data;
  if (manifest.formatVersion > MANIFEST_VERSION) throw new RestoreRefused(`${archive} was made by a newer izleme (archive format ${manifest.formatVersion}, this one reads ${MANIFEST_VERSION}): restore it with that release`);
  const problems = memberProblems(manifest, members);
  if (problems.length > 0) throw new RestoreRefused(`${archive} does not match its manifest, nothing was restored:\n  ${problems.slice(0, 10).join('\n  ')}`);
  for (const store of manifest.stores) {
    const schema = schemaOf(store.name);
    if (!schema) throw new RestoreRefused(`${archive} holds a store this release does not know ("${store.name}"): restore it with the release that made it (${manifest.collectorVersion})`);
    const refusal = newerRefusal(schema, store.schemaVersion, store.member);
    if (refusal) throw new RestoreRefused(`${archive}: ${refusal}`);
  }
  // A report copy goes to <reports.monthly.dir>/<month>/<file>, both taken from its member name: only the collector's own shape.
  const odd = manifest.files.find((f) => f.key === REPORT_COPIES_KEY && !parseReportCopyMember(f.member));
  if (odd) throw new RestoreRefused(`${archive}: ${odd.member} is not a monthly report copy (files/${REPORT_COPIES_KEY}/<YYYY-MM>/<file>); nothing was restored`);
  return { manifest, members: new Map(members.map((m) => [m.name, m])) };
}

function loadConfig(file: string, env: NodeJS.ProcessEnv | undefined, what: string): CollectorConfig {
  try {
    return loadCollectorConfig(file, env);
  } catch (error) {
    throw new RestoreRefused(`${what}: ${(error as Error).message}`);
  }
}

/**
 * The report store records where each month's files are (monthly_reports.dir, read to mail a
 * pending delivery): restored copies are where the new configuration's reports.monthly.dir puts
 * them, written as the collector writes it (join(dir, month)). Row counts do not change.
 */
function pointReportsAt(store: string, monthlyDir: string, months: readonly string[]): void {
  const db = new DatabaseSync(store);
  try {
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'monthly_reports'").get()) return;
    const update = db.prepare('UPDATE monthly_reports SET dir = ? WHERE month = ? AND dir <> ?');
    for (const month of months) update.run(join(monthlyDir, month), month, join(monthlyDir, month));
  } finally {
    db.close();
  }
}

const sha256Of = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

async function writePrivate(path: string, data: Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const partial = `${path}.restoring`;
  await writeFile(partial, data, { mode: 0o600 });
  await chmod(partial, 0o600);
  await rename(partial, path);
}

export async function restoreStateBackup(options: RestoreOptions): Promise<RestoreReport> {
  if (!existsSync(options.archive)) throw new RestoreRefused(`no such archive: ${options.archive}`);
  const work = await mkdtemp(join(tmpdir(), 'izleme-restore-'));
  try {
    const { manifest, members } = await readArchive(options.archive, work);
    const archivedConfig = manifest.files.find((f) => f.key === 'config');
    const configUsed = existsSync(options.configFile) ? 'current' : 'archived';
    if (configUsed === 'archived' && !archivedConfig) throw new RestoreRefused(`no configuration at ${options.configFile} and the archive holds none (it was made from built-in defaults): write the new install's collector.yaml there first`);
    const config =
      configUsed === 'current'
        ? loadConfig(options.configFile, options.env, options.configFile)
        : loadConfig(members.get(archivedConfig!.member)!.file, options.env, `the archived configuration (${archivedConfig!.path})`);

    const targets: Target[] = [];
    const skipped: string[] = [];
    for (const store of manifest.stores) {
      const path = storeAt(config, store.key);
      if (path === undefined || path === ':memory:') skipped.push(`${store.member}: ${store.key} is ':memory:' in the configuration`);
      else targets.push({ kind: 'store', label: `${store.name} store (${store.key})`, member: members.get(store.member)!, path, sha256: store.sha256 });
    }
    const copies = { dir: fileAt(config, REPORT_COPIES_KEY), months: new Set<string>(), files: 0, skipped: 0 };
    for (const file of manifest.files) {
      const member = members.get(file.member)!;
      if (file.key === 'config') {
        if (configUsed === 'archived') targets.push({ kind: 'file', label: 'collector configuration', member, path: options.configFile, sha256: file.sha256 });
        else skipped.push(`${file.member}: the configuration at ${options.configFile} is kept (it names where everything goes)`);
        continue;
      }
      if (file.key === REPORT_COPIES_KEY) {
        const copy = parseReportCopyMember(file.member)!;
        if (copies.dir === undefined) copies.skipped++;
        else {
          targets.push({ kind: 'file', label: `monthly report ${copy.month} (${REPORT_COPIES_KEY})`, member, path: join(copies.dir, copy.month, copy.name), sha256: file.sha256, reportCopy: true });
          copies.months.add(copy.month);
          copies.files++;
        }
        continue;
      }
      const named = fileAt(config, file.key);
      if (named === undefined) skipped.push(`${file.member}: the configuration names no ${file.key}`);
      else targets.push({ kind: 'file', label: file.key, member, path: isDirKey(file.key) ? join(named, basename(file.path)) : named, sha256: file.sha256 });
    }
    if (copies.skipped > 0) skipped.push(`${copies.skipped} monthly report copies (files/${REPORT_COPIES_KEY}/…): the configuration names no reports.monthly`);

    const stores = targets.filter((t) => t.kind === 'store');
    const signs = await collectorRunningSigns(config, options.configFile, stores.map((t) => t.path));
    if (signs.length > 0) throw new RestoreRefused(`a collector seems to run (${signs.map((s) => s.reason).join('; ')}): stop it first (systemctl stop belediye-collector, docker compose stop collector), then restore. Nothing was restored.`);

    if (!options.force) {
      const occupied = targets.flatMap((t) => {
        if (t.kind === 'store') return storeHasData(t.path) ? [`${t.path} (${t.label}) holds data`] : [];
        return existsSync(t.path) && sha256Of(t.path) !== t.sha256 ? [`${t.path} (${t.label}) exists with other content`] : [];
      });
      if (occupied.length > 0) throw new RestoreRefused(`refusing to overwrite, nothing was restored:\n  ${occupied.join('\n  ')}\nRestore onto a fresh install, or give --force to replace these with the backup's.`);
    }

    for (const target of targets) {
      if (target.kind === 'store') {
        await mkdir(dirname(target.path), { recursive: true, mode: 0o700 });
        await copyStore(target.member.file, target.path);
      } else await writePrivate(target.path, readFileSync(target.member.file));
    }
    const reportStore = stores.find((t) => t.member.name === manifest.stores.find((s) => s.key === 'reports.path')?.member);
    if (reportStore && copies.dir !== undefined && copies.months.size > 0) pointReportsAt(reportStore.path, copies.dir, [...copies.months]);
    // The restored stores must read back as the backup counted them.
    const restored = stores.map((t) => {
      const entry = manifest.stores.find((s) => s.member === t.member.name)!;
      const { rows } = storeStats(t.path);
      if (JSON.stringify(rows) !== JSON.stringify(entry.rows)) throw new RestoreRefused(`${t.path}: restored rows ${JSON.stringify(rows)} differ from the backup's ${JSON.stringify(entry.rows)}`);
      return { name: entry.name, path: t.path, rows };
    });
    const files = targets.filter((t) => t.kind === 'file' && !t.reportCopy).map((t) => ({ key: t.label, path: t.path }));
    const reportCopies = copies.dir !== undefined && copies.files > 0 ? { dir: copies.dir, months: [...copies.months].sort(), files: copies.files } : undefined;
    return { manifest, configUsed, stores: restored, files, reportCopies, skipped };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

