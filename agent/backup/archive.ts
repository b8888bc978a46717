import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { pacedChunks } from './throttle.ts';

// Proves that a backup archive can be read, without extracting anything: a zip's central
// directory is walked (a truncated zip has none), a tar's headers are walked and their checksums
// verified (through gunzip for .tar.gz, whose CRC then covers every byte). node:zlib only.

export const ARCHIVE_KINDS = ['zip', 'tar', 'tar.gz'] as const;
export type ArchiveKind = (typeof ARCHIVE_KINDS)[number];

/** `incomplete`: the budget (entries, time) ran out before a verdict; neither good nor bad. */
export type ArchiveCheck = { state: 'ok'; entries: number } | { state: 'bad'; reason: string } | { state: 'incomplete'; reason: string };

export interface ListBudget {
  bytesPerSecond: number;
  maxEntries: number;
  signal?: AbortSignal;
  /** Sees every byte read from the file (tar kinds only), so one pass can also hash it. */
  tap?: (chunk: Buffer) => void;
}

/** Pure: the archive kind a file name says, case-insensitive (`DB.TAR.GZ`, `x.tgz`). */
export function archiveKind(name: string): ArchiveKind | undefined {
  const lower = name.toLowerCase();
  if (lower.endsWith('.zip')) return 'zip';
  if (lower.endsWith('.tar')) return 'tar';
  if (lower.endsWith('.tar.gz') || lower.endsWith('.tgz')) return 'tar.gz';
  return undefined;
}

/**
 * Lists the archive at `path` (`size` bytes). Format problems come back as `bad`; reading
 * problems (a vanished file, EIO) and an aborted `signal` are thrown, for the caller to judge.
 */
export async function listArchive(path: string, kind: ArchiveKind, size: number, budget: ListBudget): Promise<ArchiveCheck> {
  try {
    return kind === 'zip' ? await listZip(path, size, budget) : await listTar(path, kind === 'tar.gz', budget);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (e.name === 'AbortError' || typeof e.syscall === 'string') throw error;
    return { state: 'bad', reason: e.message };
  }
}

// ── tar ──────────────────────────────────────────────────────────────────────────────────

const BLOCK = 512;
/** Hard links, symlinks, devices, directories, FIFOs: no data blocks follow, whatever the size field says. */
const NO_DATA = new Set(['1', '2', '3', '4', '5', '6']);
/** Headers that describe the next entry (pax, GNU long names) rather than being one. */
const META = new Set(['x', 'g', 'L', 'K']);
const MAX_PAX_BYTES = 1024 * 1024;

export interface TarWalker {
  push(chunk: Buffer): void;
  /** The verdict as soon as there is one (end marker, damage, budget). */
  verdict(): ArchiveCheck | undefined;
  /** The verdict once the input is over: a tar without its end marker was cut short. */
  end(): ArchiveCheck;
}

/** Pure: a push parser over tar bytes; it keeps accepting input after its verdict (the rest is padding, or still to be hashed). */
export function tarWalker(maxEntries: number): TarWalker {
  const header = Buffer.alloc(BLOCK);
  let have = 0;
  let offset = 0;
  let dataLeft = 0;
  let padLeft = 0;
  let entries = 0;
  let pax: Buffer[] | undefined;
  let paxSize: number | undefined;
  let verdict: ArchiveCheck | undefined;

  const onHeader = (at: number) => {
    if (header.every((b) => b === 0)) {
      verdict = { state: 'ok', entries };
      return;
    }
    if (!checksumValid(header)) {
      verdict = { state: 'bad', reason: `tar header checksum mismatch at byte ${at}` };
      return;
    }
    const type = String.fromCharCode(header[156]!);
    let size = numericField(header, 124, 12);
    if (size === undefined) {
      verdict = { state: 'bad', reason: `tar header at byte ${at} has an unreadable size field` };
      return;
    }
    if (!META.has(type)) {
      // A pax `size` record overrides the header (files over 8 GiB in POSIX format).
      if (paxSize !== undefined) size = paxSize;
      paxSize = undefined;
      if (++entries > maxEntries) {
        verdict = { state: 'incomplete', reason: `stopped after ${maxEntries} entries (budget)` };
        return;
      }
    }
    dataLeft = NO_DATA.has(type) ? 0 : size;
    padLeft = (BLOCK - (dataLeft % BLOCK)) % BLOCK;
    pax = type === 'x' && size <= MAX_PAX_BYTES ? [] : undefined;
  };

  return {
    push(chunk) {
      let i = 0;
      while (i < chunk.length && !verdict) {
        if (dataLeft > 0) {
          const n = Math.min(dataLeft, chunk.length - i);
          pax?.push(chunk.subarray(i, i + n));
          i += n;
          dataLeft -= n;
          if (dataLeft === 0 && pax) {
            paxSize = paxSizeRecord(Buffer.concat(pax).toString('utf8'));
            pax = undefined;
          }
        } else if (padLeft > 0) {
          const n = Math.min(padLeft, chunk.length - i);
          i += n;
          padLeft -= n;
        } else {
          const n = Math.min(BLOCK - have, chunk.length - i);
          chunk.copy(header, have, i, i + n);
          i += n;
          have += n;
          if (have === BLOCK) {
            have = 0;
            onHeader(offset + i - BLOCK);
          }
        }
      }
      offset += chunk.length;
    },
    verdict: () => verdict,
    end() {
      return verdict ?? { state: 'bad', reason: `truncated: the tar ends at byte ${offset} without its end marker (${entries} entries read)` };
    },
  };
}

/** The header checksum: the sum of its bytes with the checksum field read as spaces; old writers summed signed bytes. */
function checksumValid(block: Buffer): boolean {
  const stored = numericField(block, 148, 8);
  if (stored === undefined) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

/** Octal digits ended by NUL or space, or GNU's base-256 (high bit set) for values too big for octal. */
function numericField(block: Buffer, start: number, length: number): number | undefined {
  const first = block[start]!;
  if (first & 0x80) {
    if (first === 0xff) return undefined; // negative
    let value = first & 0x7f;
    for (let i = start + 1; i < start + length; i++) value = value * 256 + block[i]!;
    return Number.isSafeInteger(value) ? value : undefined;
  }
  const text = block.toString('latin1', start, start + length).replace(/[\0 ]+$/, '').replace(/^ +/, '');
  return /^[0-7]*$/.test(text) ? parseInt(text || '0', 8) : undefined;
}

/** Pure: the `size` record of a pax extended header ("%d size=%d\n" records). */
function paxSizeRecord(text: string): number | undefined {
  const match = /(?:^|\n)\d+ size=(\d+)\n/.exec(text);
  return match ? Number(match[1]) : undefined;
}

async function listTar(path: string, gzipped: boolean, budget: ListBudget): Promise<ArchiveCheck> {
  const walker = tarWalker(budget.maxEntries);
  const tap = budget.tap;
  // Damage or a spent entry budget ends the check; so does a plain tar's end marker. A gzip
  // stream is read on to its end, where its CRC proves every byte. Hashing reads on regardless.
  const decided = () => {
    const v = walker.verdict();
    return v !== undefined && (v.state !== 'ok' || !gzipped);
  };
  async function* source() {
    for await (const chunk of pacedChunks(path, { bytesPerSecond: budget.bytesPerSecond, ...(budget.signal ? { signal: budget.signal } : {}) })) {
      tap?.(chunk);
      yield chunk;
      if (!tap && decided()) return;
    }
  }
  const sink = async (input: AsyncIterable<Buffer>) => {
    for await (const chunk of input) walker.push(chunk);
  };
  try {
    if (gzipped) await pipeline(Readable.from(source()), createGunzip(), sink);
    else await sink(source());
  } catch (error) {
    // Stopping early cuts the gzip stream short, and a time limit may strike after the verdict: the verdict stands.
    const v = walker.verdict();
    if (v && v.state !== 'ok') return v;
    throw error;
  }
  return walker.end();
}

// ── zip ──────────────────────────────────────────────────────────────────────────────────

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL_ENTRY = 0x02014b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;

interface CentralDirectory {
  entries: number;
  size: number;
  offset: number;
  /** Where the directory must end: the (zip64) end record. */
  endsAt: number;
}

async function readAt(path: string, position: number, length: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, position);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** The end-of-central-directory record must end the file exactly (after its comment); a cut file has none. */
async function findCentralDirectory(path: string, size: number): Promise<CentralDirectory | string> {
  if (size < EOCD_SIZE) return `${size} bytes is too short for a zip`;
  const tailStart = Math.max(0, size - EOCD_SIZE - MAX_COMMENT - 20);
  const tail = await readAt(path, tailStart, size - tailStart);
  for (let pos = tail.length - EOCD_SIZE; pos >= 0; pos--) {
    if (tail.readUInt32LE(pos) !== EOCD || pos + EOCD_SIZE + tail.readUInt16LE(pos + 20) !== tail.length) continue;
    if (tail.readUInt16LE(pos + 4) !== 0 || tail.readUInt16LE(pos + 6) !== 0) return 'split (multi-volume) zip archives are not checked';
    const eocdAt = tailStart + pos;
    if (pos >= 20 && tail.readUInt32LE(pos - 20) === ZIP64_LOCATOR) {
      const zip64At = Number(tail.readBigUInt64LE(pos - 20 + 8));
      const record = await readAt(path, zip64At, 56);
      if (record.length < 56 || record.readUInt32LE(0) !== ZIP64_EOCD) return 'the zip64 end record is missing or damaged';
      return { entries: Number(record.readBigUInt64LE(32)), size: Number(record.readBigUInt64LE(40)), offset: Number(record.readBigUInt64LE(48)), endsAt: zip64At };
    }
    return { entries: tail.readUInt16LE(pos + 10), size: tail.readUInt32LE(pos + 12), offset: tail.readUInt32LE(pos + 16), endsAt: eocdAt };
  }
  return 'no end-of-central-directory record: the zip is truncated or not a zip';
}

/** Where a central entry's data lies, from its zip64 extra field when the 32-bit values are saturated. */
function entryOffsets(entry: Buffer, nameLength: number, extraLength: number): { local: number; compressed: number } {
  const saturated = (at: number) => entry.readUInt32LE(at) === 0xffffffff;
  let compressed = entry.readUInt32LE(20);
  let local = entry.readUInt32LE(42);
  const extraEnd = 46 + nameLength + extraLength;
  for (let p = 46 + nameLength; p + 4 <= extraEnd; p += 4 + entry.readUInt16LE(p + 2)) {
    if (entry.readUInt16LE(p) !== 0x0001) continue;
    // Only the saturated values are present, in this order: uncompressed, compressed, local offset.
    const end = Math.min(extraEnd, p + 4 + entry.readUInt16LE(p + 2));
    let q = p + 4;
    const next = () => {
      const value = q + 8 <= end ? Number(entry.readBigUInt64LE(q)) : Number.POSITIVE_INFINITY;
      q += 8;
      return value;
    };
    if (saturated(24)) next();
    if (saturated(20)) compressed = next();
    if (saturated(42)) local = next();
  }
  return { local, compressed };
}

async function listZip(path: string, size: number, budget: ListBudget): Promise<ArchiveCheck> {
  const found = await findCentralDirectory(path, size);
  if (typeof found === 'string') return { state: found.startsWith('split') ? 'incomplete' : 'bad', reason: found };
  const start = found.endsAt - found.size;
  // Self-extracting archives carry a stub before the zip; its length shifts every recorded offset.
  const shift = start - found.offset;
  if (shift < 0) return { state: 'bad', reason: 'the central directory runs past its end record' };
  let entries = 0;
  let carry: Buffer = Buffer.alloc(0);
  for await (const chunk of pacedChunks(path, { bytesPerSecond: budget.bytesPerSecond, start, end: found.endsAt, ...(budget.signal ? { signal: budget.signal } : {}) })) {
    carry = carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
    while (carry.length >= 46) {
      if (carry.readUInt32LE(0) !== CENTRAL_ENTRY) return { state: 'bad', reason: `central directory entry ${entries + 1} is damaged` };
      const nameLength = carry.readUInt16LE(28);
      const extraLength = carry.readUInt16LE(30);
      const length = 46 + nameLength + extraLength + carry.readUInt16LE(32);
      if (carry.length < length) break;
      const { local, compressed } = entryOffsets(carry, nameLength, extraLength);
      if (local + shift + 30 + compressed > start) return { state: 'bad', reason: `entry ${entries + 1} points past the data area` };
      if (++entries > budget.maxEntries) return { state: 'incomplete', reason: `stopped after ${budget.maxEntries} entries (budget)` };
      carry = carry.subarray(length);
    }
  }
  if (carry.length > 0 || entries !== found.entries) return { state: 'bad', reason: `the central directory holds ${entries} entries, its end record says ${found.entries}` };
  return { state: 'ok', entries };
}
