import { chmodSync, closeSync, mkdirSync, openSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

// Files only the service account may read: credentials, queues and spools that hold inventory
// data, the collector's security store. Directories 700, files 600 — also when the directory or
// the file already existed with looser permissions.

/** Creates the file (and its directory) owner-only if missing, and makes it owner-only if not. SQLite files get their -wal/-shm with the same mode. */
export function ensurePrivateFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, 'a', 0o600));
  chmodSync(path, 0o600);
}

/** Replaces the file in one step (a crash leaves the old or the new content, never half), owner-only. */
export function writePrivateFileAtomically(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(`${path}.tmp`, text, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
  chmodSync(path, 0o600);
}
