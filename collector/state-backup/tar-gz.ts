import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { BLOCK, decodeHeader, encodeHeader, isZeroBlock, padding, TarFormatError } from './ustar.ts';

// A .tar.gz written and read as streams, so a spool of gigabytes never sits in memory. Reading
// writes each member to a file of its own under a private directory, named by its position
// (a member's name is never used as a path), and hashes it on the way; the caller compares the
// hashes with the manifest. A truncated or damaged archive ends in ArchiveError saying so.

export class ArchiveError extends Error {
  override name = 'ArchiveError';
}

export interface ArchiveMember {
  /** Name inside the archive, e.g. stores/security.sqlite. */
  name: string;
  /** Where its content is on disk. */
  file: string;
}

export interface ExtractedMember extends ArchiveMember {
  size: number;
  sha256: string;
}

/** More members than a collector's state has means this is not a state backup. */
const MAX_MEMBERS = 10_000;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@+-]*(\/[A-Za-z0-9][A-Za-z0-9._@+-]*)*$/;

async function* tarBlocks(members: readonly ArchiveMember[]): AsyncGenerator<Buffer> {
  for (const member of members) {
    const { size, mtimeMs } = await stat(member.file);
    yield encodeHeader({ name: member.name, size, mtime: mtimeMs / 1_000 });
    let written = 0;
    for await (const chunk of createReadStream(member.file) as AsyncIterable<Buffer>) {
      written += chunk.length;
      yield chunk;
    }
    if (written !== size) throw new ArchiveError(`${member.file} changed size while it was archived`);
    yield Buffer.alloc(padding(size));
  }
  // End of archive: two zero blocks.
  yield Buffer.alloc(2 * BLOCK);
}

/**
 * Writes the members into `output` (mode 600: a state backup holds secrets). The archive
 * appears under its name only when complete and on disk; an existing file is never replaced.
 */
export async function writeTarGz(output: string, members: readonly ArchiveMember[]): Promise<number> {
  const partial = `${output}.partial`;
  try {
    await pipeline(Readable.from(tarBlocks(members)), createGzip(), createWriteStream(partial, { mode: 0o600, flags: 'wx', flush: true }));
    await chmod(partial, 0o600);
    const handle = await open(output, 'wx', 0o600).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'EEXIST' ? new ArchiveError(`${output} exists: not replaced (give another --output)`) : error;
    });
    await handle.close();
    await rename(partial, output);
    return (await stat(output)).size;
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}

function describeZlib(archive: string, error: NodeJS.ErrnoException): ArchiveError {
  if (error.code === 'Z_BUF_ERROR') return new ArchiveError(`${archive} is truncated (the compressed data ends early: ${error.message}); it cannot be restored — use a complete copy`);
  if (error.code === 'Z_DATA_ERROR') return new ArchiveError(`${archive} is not a gzip archive or is damaged (${error.message})`);
  return new ArchiveError(`${archive}: ${error.message}`);
}

interface Current {
  member: ExtractedMember;
  handle: FileHandle;
  hash: ReturnType<typeof createHash>;
  remaining: number;
  pad: number;
}

/** Extracts every member into `dir` (which must be private); returns them in archive order. */
export async function readTarGz(archive: string, dir: string): Promise<ExtractedMember[]> {
  const members: ExtractedMember[] = [];
  const names = new Set<string>();
  let pending = Buffer.alloc(0);
  let current: Current | undefined;
  let skip = 0;
  let ended = false;

  const startMember = async (block: Buffer) => {
    const header = decodeHeader(block);
    if (header.directory) return;
    if (!NAME_PATTERN.test(header.name) || header.name.split('/').some((part) => part === '..' || part === '.')) throw new ArchiveError(`${archive}: unexpected member name "${header.name}"`);
    if (names.has(header.name)) throw new ArchiveError(`${archive}: member ${header.name} occurs twice`);
    if (members.length >= MAX_MEMBERS) throw new ArchiveError(`${archive}: more than ${MAX_MEMBERS} members; not a state backup`);
    names.add(header.name);
    const file = join(dir, `member-${members.length}`);
    const member: ExtractedMember = { name: header.name, file, size: header.size, sha256: '' };
    members.push(member);
    current = { member, handle: await open(file, 'wx', 0o600), hash: createHash('sha256'), remaining: header.size, pad: padding(header.size) };
    if (header.size === 0) await finishMember();
  };
  const finishMember = async () => {
    const c = current!;
    c.member.sha256 = c.hash.digest('hex');
    await c.handle.close();
    skip = c.pad;
    current = undefined;
  };

  const input = createReadStream(archive);
  const gunzip = createGunzip();
  input.on('error', (error) => gunzip.destroy(error));
  input.pipe(gunzip);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      let data = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
      pending = Buffer.alloc(0);
      while (data.length > 0 && !ended) {
        if (skip > 0) {
          const n = Math.min(skip, data.length);
          skip -= n;
          data = data.subarray(n);
        } else if (current) {
          const part = data.subarray(0, Math.min(current.remaining, data.length));
          current.hash.update(part);
          await current.handle.write(part);
          current.remaining -= part.length;
          data = data.subarray(part.length);
          if (current.remaining === 0) await finishMember();
        } else if (data.length < BLOCK) {
          pending = Buffer.from(data);
          data = Buffer.alloc(0);
        } else {
          const block = data.subarray(0, BLOCK);
          data = data.subarray(BLOCK);
          if (isZeroBlock(block)) ended = true;
          else await startMember(block);
        }
      }
    }
  } catch (error) {
    await current?.handle.close();
    if (error instanceof ArchiveError) throw error;
    if (error instanceof TarFormatError) throw new ArchiveError(`${archive} is damaged: ${error.message}`);
    const code = (error as NodeJS.ErrnoException).code;
    if (code?.startsWith('Z_')) throw describeZlib(archive, error as NodeJS.ErrnoException);
    throw error;
  } finally {
    input.destroy();
  }
  if (current) {
    await current.handle.close();
    throw new ArchiveError(`${archive} is truncated: it ends inside ${current.member.name} (${current.remaining} of ${current.member.size} bytes missing)`);
  }
  if (!ended) throw new ArchiveError(`${archive} is truncated: the end-of-archive marker is missing`);
  return members;
}
