import { createHash } from 'node:crypto';
import { listArchive, type ArchiveCheck, type ArchiveKind } from './archive.ts';
import { pacedChunks } from './throttle.ts';

// The expensive part of a backup check: reading the whole file to hash it and/or list it.
// One pass serves both. Results are kept per file version (path, size, mtime), so a backup is
// read once, not at every collection; files are read one at a time, so the read-rate budget
// holds for the machine, not per job.

export interface VerifyRequest {
  path: string;
  size: number;
  hash: boolean;
  archive: ArchiveKind | undefined;
  bytesPerSecond: number;
  maxEntries: number;
  maxTimeMs: number;
}

export interface VerifyOutcome {
  /** When asked for and every byte was read. */
  sha256?: string;
  archive?: ArchiveCheck;
  /** The file could not be read (EIO, EACCES): as good as unreadable. */
  readError?: string;
  /** Why a hash or listing is missing although asked for (time budget). */
  note?: string;
}

/** The file changed (or vanished) while it was being read: nothing can be concluded, try again later. */
class FileChanged extends Error {
  override name = 'FileChanged';
}

const mb = (bytes: number) => `${Math.round(bytes / 1e6)} MB`;

/** One paced pass over the file. Throws when the file vanished or changed, or `signal` aborted. */
export async function verifyFile(request: VerifyRequest, signal: AbortSignal): Promise<VerifyOutcome> {
  const deadline = AbortSignal.timeout(request.maxTimeMs);
  const both = AbortSignal.any([signal, deadline]);
  const hash = request.hash ? createHash('sha256') : undefined;
  let read = 0;
  const tap = (chunk: Buffer) => {
    hash?.update(chunk);
    read += chunk.length;
  };
  const pace = { bytesPerSecond: request.bytesPerSecond, maxEntries: request.maxEntries, signal: both };
  const outcome: VerifyOutcome = {};
  try {
    if (request.archive) {
      // tar kinds are read whole, so the tap hashes them on the way; a zip lists from its central directory.
      outcome.archive = await listArchive(request.path, request.archive, request.size, request.archive === 'zip' ? pace : { ...pace, tap });
    }
    if (hash && (request.archive === undefined || request.archive === 'zip')) {
      for await (const chunk of pacedChunks(request.path, { bytesPerSecond: request.bytesPerSecond, signal: both })) tap(chunk);
    }
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (e.name === 'AbortError' && deadline.aborted && !signal.aborted) {
      const note = `not checked: the time budget ran out after ${mb(read)}`;
      return { ...(request.archive ? { archive: outcome.archive ?? { state: 'incomplete', reason: note } } : {}), note };
    }
    if (e.name === 'AbortError' || e.code === 'ENOENT' || typeof e.syscall !== 'string') throw error;
    return { readError: `cannot read ${request.path}: ${e.code ?? e.message}` };
  }
  if (hash && read === request.size) outcome.sha256 = hash.digest('hex');
  else if (hash && outcome.archive?.state === 'bad') outcome.note = 'not hashed: the archive could not be read to its end';
  else if (hash) throw new FileChanged(`${request.path} changed while being read`);
  return outcome;
}

export interface Verifier {
  /** The outcome for one file version: remembered, or queued behind other files. */
  outcome(key: string, request: VerifyRequest): Promise<VerifyOutcome>;
  /** Forgets, and stops reading, every file version not in `keys` (replaced or deleted backups). */
  retain(keys: ReadonlySet<string>): void;
}

export function createVerifier(): Verifier {
  const entries = new Map<string, { promise: Promise<VerifyOutcome>; controller: AbortController }>();
  let queue: Promise<unknown> = Promise.resolve();
  return {
    outcome(key, request) {
      const known = entries.get(key);
      if (known) return known.promise;
      const controller = new AbortController();
      const promise = queue.then(() => {
        controller.signal.throwIfAborted();
        return verifyFile(request, controller.signal);
      });
      queue = promise.catch(() => undefined);
      const entry = { promise, controller };
      entries.set(key, entry);
      // A failed pass (file vanished, changed, stopped) and a read error (a permission since fixed)
      // are not remembered: the next collection tries again.
      const forget = () => {
        if (entries.get(key) === entry) entries.delete(key);
      };
      promise.then((outcome) => outcome.readError !== undefined && forget(), forget);
      return promise;
    },
    retain(keys) {
      for (const [key, entry] of entries) {
        if (keys.has(key)) continue;
        entry.controller.abort();
        entries.delete(key);
      }
    },
  };
}
