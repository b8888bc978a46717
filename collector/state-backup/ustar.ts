// The ustar header (POSIX.1-1988 tar) of a regular file, written and read. Only what a state
// backup holds: regular files, mode 600, names up to 255 bytes (prefix + name). Pure: the
// streaming around it is in tar-gz.ts. Written here rather than taken from npm because the
// archive needs nothing else of tar (no links, devices, pax, sparse files) and the
// collector's dependencies are not ours to change in this part of the work (docs/deploy.md).

export const BLOCK = 512;
/** 11 octal digits: the largest size a plain ustar header holds (8 GiB - 1). */
export const MAX_MEMBER_BYTES = 8 * 1024 ** 3 - 1;

export class TarFormatError extends Error {
  override name = 'TarFormatError';
}

export interface TarHeader {
  name: string;
  /** A directory entry (GNU tar writes them when an administrator re-packs an archive): carries no content. */
  directory?: boolean;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** ustar keeps a long path as prefix/name, split at a slash. */
function splitName(name: string): { prefix: string; name: string } {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', name };
  for (let i = name.lastIndexOf('/'); i > 0; i = name.lastIndexOf('/', i - 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100) return { prefix, name: rest };
  }
  throw new TarFormatError(`member name too long for a tar header: ${name}`);
}

export function encodeHeader(header: TarHeader): Buffer {
  if (!Number.isSafeInteger(header.size) || header.size < 0 || header.size > MAX_MEMBER_BYTES) throw new TarFormatError(`${header.name}: ${header.size} bytes is more than a tar member can hold (8 GiB)`);
  const block = Buffer.alloc(BLOCK, 0);
  const { prefix, name } = splitName(header.name);
  block.write(name, 0, 100, 'utf8');
  block.write(octal(0o600, 8), 100, 'ascii');
  block.write(octal(0, 8), 108, 'ascii');
  block.write(octal(0, 8), 116, 'ascii');
  block.write(octal(header.size, 12), 124, 'ascii');
  block.write(octal(Math.max(0, Math.floor(header.mtime)), 12), 136, 'ascii');
  block.write('        ', 148, 'ascii');
  block.write('0', 156, 'ascii');
  block.write('ustar\0', 257, 'ascii');
  block.write('00', 263, 'ascii');
  block.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return block;
}

const text = (block: Buffer, from: number, length: number) => {
  const field = block.subarray(from, from + length);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? length : end).toString('utf8');
};

function readOctal(block: Buffer, from: number, length: number, what: string): number {
  const raw = text(block, from, length).trim();
  if (!/^[0-7]+$/.test(raw)) throw new TarFormatError(`not a tar header (${what} "${raw}")`);
  return Number.parseInt(raw, 8);
}

export const isZeroBlock = (block: Buffer) => block.every((b) => b === 0);

/** The header of a regular file; anything else (a link, a directory, a bad checksum) is refused. */
export function decodeHeader(block: Buffer): TarHeader {
  if (block.length !== BLOCK) throw new TarFormatError('short tar header');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
  if (readOctal(block, 148, 8, 'checksum') !== sum) throw new TarFormatError('tar header checksum does not match');
  const type = String.fromCharCode(block[156]!);
  const prefix = text(block, 345, 155);
  const name = prefix ? `${prefix}/${text(block, 0, 100)}` : text(block, 0, 100);
  if (type === '5') return { name, size: 0, mtime: 0, directory: true };
  if (type !== '0' && type !== '\0') throw new TarFormatError(`${name}: only regular files belong in a state backup (tar type "${type}")`);
  return { name, size: readOctal(block, 124, 12, 'size'), mtime: readOctal(block, 136, 12, 'mtime') };
}

/** Zero bytes after a member's content up to the next block. */
export const padding = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;
