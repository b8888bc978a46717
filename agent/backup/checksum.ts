import { open } from 'node:fs/promises';
import { posix, win32 } from 'node:path';
import type { BackupJob } from './config.ts';
import { digestFor } from './evaluate.ts';
import { joinPath, type BackupPattern } from './pattern.ts';

// The digest a backup should have, from its sidecar file or the job's manifest.

const MAX_SIDECAR_BYTES = 64 * 1024;
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

export type Expected = { digest: string; from: string } | { missing: string };

/** Pure: checksum files from Windows are often UTF-16 with a byte order mark (PowerShell 5's Out-File). */
export function decodeText(bytes: Buffer): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return bytes.subarray(2).toString('utf16le');
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return Buffer.from(bytes.subarray(2)).swap16().toString('utf16le');
  return bytes.toString('utf8').replace(/^\uFEFF/, '');
}

/** Reads at most `limit` bytes; a longer file is not a checksum list. */
async function readSmall(path: string, limit: number): Promise<Buffer | string> {
  let handle;
  try {
    handle = await open(path, 'r');
    const { size } = await handle.stat();
    if (size > limit) return `${path} is larger than ${limit} bytes`;
    const buffer = Buffer.alloc(size);
    await handle.read(buffer, 0, size, 0);
    return buffer;
  } catch (error) {
    return `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
  } finally {
    await handle?.close();
  }
}

/** The sidecar or manifest path a job uses for `fileName`. */
function checksumPath(checksum: NonNullable<BackupJob['checksum']>, pattern: BackupPattern, fileName: string): string {
  if (checksum.sidecar !== undefined) return joinPath(pattern, `${fileName}${checksum.sidecar}`);
  const manifest = checksum.manifest!;
  return (pattern.style === 'windows' ? win32 : posix).isAbsolute(manifest) ? manifest : joinPath(pattern, manifest);
}

export async function expectedDigest(checksum: NonNullable<BackupJob['checksum']>, pattern: BackupPattern, fileName: string): Promise<Expected> {
  const path = checksumPath(checksum, pattern, fileName);
  const sole = checksum.sidecar !== undefined;
  const bytes = await readSmall(path, sole ? MAX_SIDECAR_BYTES : MAX_MANIFEST_BYTES);
  if (typeof bytes === 'string') return { missing: bytes };
  const digest = digestFor(decodeText(bytes), fileName, sole);
  return digest ? { digest, from: path } : { missing: sole ? `no SHA-256 digest in ${path}` : `${fileName} is not listed in ${path}` };
}
