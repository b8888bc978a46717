import { readdir, stat } from 'node:fs/promises';
import { SIZE_HISTORY } from './evaluate.ts';
import { joinPath, type BackupPattern } from './pattern.ts';

// One directory listing per job: which files match, which is the newest finished one, and
// the sizes of the ones before it.

export interface BackupFile {
  name: string;
  path: string;
  size: number;
  mtimeMs: number;
}

export interface ScanResult {
  /** Matching files, finished or not. */
  files: number;
  /** Modified within the settle time: still being written, not judged yet. */
  writing: number;
  /** Finished files, newest first: the newest and up to SIZE_HISTORY before it. */
  recent: BackupFile[];
}

/** `skip` leaves out companions that match the pattern too (checksum sidecars, the manifest). */
export async function scanBackups(pattern: BackupPattern, skip: (name: string) => boolean, now: number, settleMs: number): Promise<ScanResult> {
  let names: string[];
  try {
    names = await readdir(pattern.dir);
  } catch (error) {
    throw new Error(`cannot list ${pattern.dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const matching = names.filter((name) => pattern.matches(name) && !skip(name));
  const stats = await Promise.all(
    matching.map(async (name): Promise<BackupFile | undefined> => {
      const path = joinPath(pattern, name);
      // A file deleted between the listing and here (rotation) is simply not there.
      const s = await stat(path).catch(() => undefined);
      return s?.isFile() ? { name, path, size: s.size, mtimeMs: s.mtimeMs } : undefined;
    }),
  );
  const files = stats.filter((f) => f !== undefined);
  const finished = files.filter((f) => now - f.mtimeMs >= settleMs);
  finished.sort((a, b) => b.mtimeMs - a.mtimeMs || (a.name < b.name ? 1 : -1));
  return { files: files.length, writing: files.length - finished.length, recent: finished.slice(0, SIZE_HISTORY + 1) };
}
