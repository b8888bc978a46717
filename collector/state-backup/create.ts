import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { copyFile, chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { CollectorConfig } from '../config.ts';
import { fileMember, MANIFEST_FORMAT, MANIFEST_MEMBER, MANIFEST_VERSION, storeMember, type Manifest } from './manifest.ts';
import { planBackup } from './members.ts';
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
      // The heartbeat store exists only once backups.file is set, the alert stores only with alerting on.
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
    for (const [i, file] of files.entries()) {
      if (!existsSync(file.path)) throw new BackupInputError(`${file.key}: no such file ${file.path} (named in the collector's configuration)`);
      // Copied first, so the hash and the archived bytes are of the same content even if the file is edited meanwhile.
      const copy = join(work, `file-${i}`);
      await copyFile(file.path, copy);
      await chmod(copy, 0o600);
      const member = fileMember(file.key, file.path);
      if (members.some((m) => m.name === member)) throw new BackupInputError(`${file.key}: two files named ${basename(file.path)}`);
      manifest.files.push({ key: file.key, path: file.path, member, bytes: (await stat(copy)).size, sha256: await sha256Of(copy) });
      members.push({ name: member, file: copy });
    }
    const manifestFile = join(work, MANIFEST_MEMBER);
    await writeFile(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    const bytes = await writeTarGz(options.output, [{ name: MANIFEST_MEMBER, file: manifestFile }, ...members]);
    return { file: options.output, bytes, ms: performance.now() - started, manifest };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
