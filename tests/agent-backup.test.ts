import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { listArchive, tarWalker, type ArchiveCheck } from '../agent/backup/archive.ts';
import { decodeText } from '../agent/backup/checksum.ts';
import { backupJobSchema, backupsSchema } from '../agent/backup/config.ts';
import { backupStatus, digestFor, isMissed, isTooSmall, median, sizeRatio } from '../agent/backup/evaluate.ts';
import { parseBackupPattern } from '../agent/backup/pattern.ts';
import { backupSource, type BackupSourceOptions } from '../agent/sources/backup.ts';
import { describeIssues, metricSchema, type Metric } from '../src/contract/schemas.ts';

// Backup checks against REAL files the test writes into temp dirs, with controlled modification
// times (utimesSync), and real archives made by the system's `tar` (and `zip` where installed).
// The agent's Windows paths can only be parsed here: the tests run on Linux.

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'agent-backup-'));
  dirs.push(dir);
  return dir;
}

/** Writes `content` (or that many distinct bytes) as `name`, last modified `ageMs` ago. */
function put(dir: string, name: string, content: Buffer | number, ageMs: number): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'number' ? randomBytes(content) : content);
  const at = (Date.now() - ageMs) / 1000;
  utimesSync(path, at, at);
  return path;
}

/** Nightly backups db-1.bak (oldest) … db-<count>.bak (newest, `newestAgeMs` old), one day apart. */
function nightly(dir: string, count: number, newestAgeMs: number, size = 10_000, ext = 'bak'): string[] {
  return Array.from({ length: count }, (_, i) => put(dir, `db-${i + 1}.${ext}`, size, newestAgeMs + (count - 1 - i) * DAY));
}

const job = (input: Record<string, unknown>) => backupJobSchema.parse(input);

async function collect(jobs: Record<string, unknown>[], options: BackupSourceOptions = {}, source = backupSource(jobs.map(job), options)): Promise<Map<string, Metric['fields']>> {
  const metrics = await source.collect();
  for (const m of metrics) expect(metricSchema.safeParse(m).success, JSON.stringify(m)).toBe(true);
  expect(metrics.map((m) => m.tags?.instance)).toEqual(jobs.map((j) => j.id));
  return new Map(metrics.map((m) => [m.tags!.instance!, m.fields]));
}
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** A minimal zip writer (deflate, no zip64), so zip tests do not depend on an installed `zip`. */
function makeZip(files: { name: string; data: Buffer }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const f of files) {
    const name = Buffer.from(f.name);
    const packed = deflateRawSync(f.data);
    const common = (h: Buffer, at: number) => {
      h.writeUInt16LE(8, at); // deflate
      h.writeUInt16LE(0, at + 2);
      h.writeUInt16LE(0x21, at + 4); // 1980-01-01
      h.writeUInt32LE(crc32(f.data), at + 6);
      h.writeUInt32LE(packed.length, at + 10);
      h.writeUInt32LE(f.data.length, at + 14);
      h.writeUInt16LE(name.length, at + 18);
    };
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    common(local, 8);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    common(central, 10);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, packed);
    centrals.push(central, name);
    offset += 30 + name.length + packed.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** A tar header block for hand-made archives (pax records, base-256 sizes); `sizeField` is written as given. */
function tarHeader(name: string, type: string, sizeField: Buffer): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0);
  h.write('0000644\0', 100);
  sizeField.copy(h, 124);
  h.write(type, 156);
  h.write('ustar\x0000', 257);
  h.fill(0x20, 148, 156);
  const sum = h.reduce((a, b) => a + b, 0);
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}
const octal = (n: number) => Buffer.from(`${n.toString(8).padStart(11, '0')}\0`);
const padded = (data: Buffer) => Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);

/** A tree of small files packed by the system's tar; returns the archive and how many entries `tar -t` sees. */
function systemTar(dir: string, name: string, flags: string): { path: string; entries: number } {
  const src = join(dir, `${name}-src`);
  mkdirSync(join(src, 'alt'), { recursive: true });
  for (let i = 0; i < 10; i++) writeFileSync(join(src, i % 2 ? 'alt' : '', `f${i}.dat`), randomBytes(3000 + i * 700));
  const path = join(dir, name);
  execFileSync('tar', [flags, path, '-C', src, '.']);
  rmSync(src, { recursive: true });
  const entries = execFileSync('tar', ['-tf', path]).toString().trim().split('\n').length;
  return { path, entries };
}

const budget = { bytesPerSecond: 1e9, maxEntries: 1_000_000 };
const size = (path: string) => readFileSync(path).length;

describe('backup job configuration', () => {
  it('parses POSIX, Windows drive and UNC patterns; wildcards match like a shell, case-insensitive on Windows', () => {
    const sql = parseBackupPattern('D:\\Yedek\\SQL\\*.bak');
    expect(sql).toMatchObject({ style: 'windows', dir: 'D:\\Yedek\\SQL', glob: '*.bak' });
    expect(sql.matches('GUNLUK_2024-05-01.BAK')).toBe(true);
    expect(sql.matches('gunluk.bak.sha256')).toBe(false);
    expect(parseBackupPattern('D:\\*.bak').dir).toBe('D:\\');
    expect(parseBackupPattern('C:/Yedek/web/*.zip')).toMatchObject({ style: 'windows', dir: 'C:/Yedek/web', glob: '*.zip' });
    expect(parseBackupPattern('\\\\nas01\\yedek\\sql\\db_??.bak')).toMatchObject({ style: 'windows', dir: '\\\\nas01\\yedek\\sql', glob: 'db_??.bak' });

    const tgz = parseBackupPattern('/srv/yedek/db-??.tar.gz');
    expect(tgz).toMatchObject({ style: 'posix', dir: '/srv/yedek', glob: 'db-??.tar.gz' });
    expect(tgz.matches('db-01.tar.gz')).toBe(true);
    expect(tgz.matches('db-001.tar.gz')).toBe(false);
    expect(tgz.matches('DB-01.TAR.GZ')).toBe(false);
    expect(tgz.matches('db-01.tar.gz.part')).toBe(false);
    const all = parseBackupPattern('/srv/yedek/*');
    expect(all.matches('.db.tar.gz.Ab12xy')).toBe(false); // rsync's temporary file
    expect(all.matches('x(1)+[a].tar')).toBe(true); // regex characters are literal
    expect(parseBackupPattern('/*.tar').dir).toBe('/');
  });

  it('fills defaults: shrink ratio 0.5, 2 min settle time, 20 MB/s, durations in milliseconds', () => {
    expect(job({ id: 'sql', path: 'D:\\Yedek\\SQL\\*.bak', maxAge: '26h' })).toEqual({
      id: 'sql',
      path: 'D:\\Yedek\\SQL\\*.bak',
      maxAge: 26 * HOUR,
      shrinkRatio: 0.5,
      settle: 120_000,
      verifyArchive: false,
      budget: { readMBps: 20, maxEntries: 1_000_000, maxTime: 2 * HOUR },
    });
    expect(backupsSchema.parse(undefined)).toEqual([]);
  });

  it.each([
    [{ path: '/srv/*/db.tar.gz' }, 'backups[0].path: wildcards (* ?) are allowed in the last path segment only'],
    [{ path: 'yedek\\*.bak' }, 'backups[0].path: expected an absolute path'],
    [{ path: '/srv/yedek/' }, 'backups[0].path: the last part of the path must name the backup files'],
    [{ maxAge: '26' }, 'backups[0].maxAge: expected a duration like'],
    [{ maxAge: '0' }, 'backups[0].maxAge: must be longer than 0'],
    [{ id: 'SQL Yedek' }, 'backups[0].id: expected lower-case letters'],
    [{ shrinkRatio: 1.5 }, 'backups[0].shrinkRatio:'],
    [{ checksum: { sidecar: '.sha256', manifest: '/x/SHA256SUMS' } }, 'backups[0].checksum: give exactly one of sidecar, manifest'],
    [{ checksum: { sidecar: 'sha256' } }, 'backups[0].checksum.sidecar: expected a file name suffix'],
    [{ checksum: { manifest: '/srv/*.sums' } }, 'backups[0].checksum.manifest: a manifest path takes no wildcards'],
    [{ verifyArchive: true }, 'backups[0].verifyArchive: the path pattern must end in .zip, .tar, .tar.gz or .tgz'],
    [{ offsite: { role: 'backup', pair: 'sql' } }, 'backups[0].offsite.role:'],
    [{ budget: { readMBps: 0 } }, 'backups[0].budget.readMBps:'],
    [{ maxage: '26h' }, 'maxage'],
  ])('refuses %j naming the field', (change, message) => {
    const result = z.object({ backups: backupsSchema }).safeParse({ backups: [{ id: 'sql', path: '/srv/yedek/*.bak', maxAge: '26h', ...change }] });
    expect(result.success).toBe(false);
    expect(describeIssues(result.error!)).toContain(message);
  });

  it('refuses two jobs with one id', () => {
    const result = z.object({ backups: backupsSchema }).safeParse({ backups: [0, 1].map(() => ({ id: 'sql', path: '/srv/yedek/*.bak', maxAge: '26h' })) });
    expect(describeIssues(result.error!)).toBe('backups[1].id: backup job "sql" is defined twice');
  });
});

describe('verdicts (pure)', () => {
  it('compares the newest size with the median of at most the previous 5', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(sizeRatio(50, [100, 100, 90, 110, 100])).toBe(0.5);
    // Only the 5 most recent count: an old giant does not make today's normal backup look small.
    expect(sizeRatio(100, [100, 100, 100, 1e9, 1e9, 1e9, 1e9])).toBe(1);
    expect(sizeRatio(100, [])).toBeUndefined();
    expect(isTooSmall(40, [100, 100, 100], 0.5)).toBe(true);
    expect(isTooSmall(60, [100, 100, 100], 0.5)).toBe(false);
    expect(isTooSmall(10, [], 0.5)).toBe(false); // the first backup has nothing to compare with
    expect(isTooSmall(0, [], 0.5)).toBe(true); // but an empty one is never a backup
    expect(isMissed(26 * HOUR, 26 * HOUR)).toBe(false);
    expect(isMissed(26 * HOUR + 1, 26 * HOUR)).toBe(true);
  });

  it('reports the most serious finding', () => {
    const base = { hasFile: true, missed: false, tooSmall: false };
    expect(backupStatus(base)).toBe('ok');
    expect(backupStatus({ ...base, hasFile: false, missed: true })).toBe('no_file');
    expect(backupStatus({ ...base, missed: true, archiveOk: false })).toBe('missed');
    expect(backupStatus({ ...base, archiveOk: false, checksumOk: false, tooSmall: true })).toBe('unreadable');
    expect(backupStatus({ ...base, checksumOk: false, tooSmall: true })).toBe('checksum_bad');
    expect(backupStatus({ ...base, tooSmall: true, checksumOk: true, archiveOk: true })).toBe('too_small');
    expect(backupStatus({ ...base, checksumOk: undefined, archiveOk: undefined })).toBe('ok'); // not known yet is not bad
  });

  it('reads sha256sum, BSD-tag and bare-hex checksum files', () => {
    const a = 'a'.repeat(64);
    const b = 'B'.repeat(64);
    const list = `${a}  ./sql/db-1.bak\n${b} *db-2.bak\nSHA256 (db-3.bak) = ${'c'.repeat(64)}\n`;
    expect(digestFor(list, 'db-1.bak', false)).toBe(a);
    expect(digestFor(list, 'db-2.bak', false)).toBe('b'.repeat(64));
    expect(digestFor(list, 'db-3.bak', false)).toBe('c'.repeat(64));
    expect(digestFor(list, 'DB-2.BAK', false)).toBe('b'.repeat(64)); // Windows casing
    expect(digestFor(list, 'db-4.bak', false)).toBeUndefined();
    expect(digestFor(`${b}\r\n`, 'db-9.bak', true)).toBe('b'.repeat(64)); // PowerShell: (Get-FileHash x).Hash
    expect(digestFor(`${a}  /old/path/other-name.bak\n`, 'db-9.bak', true)).toBe(a); // a sidecar's only digest is its file's
    expect(digestFor(`${a}  x.bak\n`, 'db-9.bak', false)).toBeUndefined(); // a manifest must name it
    expect(digestFor('not a checksum\n\u0000\u0001', 'db.bak', true)).toBeUndefined();
    expect(digestFor(`${a.slice(1)}  db.bak`, 'db.bak', true)).toBeUndefined();
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`${b}\r\n`, 'utf16le')]);
    expect(digestFor(decodeText(utf16), 'db.bak', true)).toBe('b'.repeat(64));
    expect(decodeText(Buffer.from('\uFEFFabc'))).toBe('abc');
  });
});

describe('tar walker (pure)', () => {
  const walk = (bytes: Buffer, chunk: number, maxEntries = 1000): ArchiveCheck => {
    const w = tarWalker(maxEntries);
    for (let i = 0; i < bytes.length; i += chunk) w.push(bytes.subarray(i, i + chunk));
    return w.end();
  };

  it('gives the same verdict whatever the chunk boundaries', () => {
    const { path, entries } = systemTar(tempDir(), 'x.tar', '-cf');
    const bytes = readFileSync(path);
    for (const chunk of [1, 7, 511, 512, 513, 65_536]) expect(walk(bytes, chunk)).toEqual({ state: 'ok', entries });
  });

  it('honours pax size records and base-256 sizes, so big files are skipped correctly', () => {
    const data = randomBytes(1000);
    const pax = Buffer.from('13 size=1000\n');
    const base256 = Buffer.alloc(12);
    base256[0] = 0x80;
    base256.writeUInt16BE(600, 10);
    const other = randomBytes(600);
    const archive = Buffer.concat([
      tarHeader('PaxHeaders/big', 'x', octal(pax.length)),
      padded(pax),
      tarHeader('big', '0', octal(0)), // the real size is in the pax record
      padded(data),
      tarHeader('huge', '0', base256),
      padded(other),
      tarHeader('dir/', '5', octal(4096)), // a directory has no data, whatever its size field says
      Buffer.alloc(1024),
    ]);
    expect(walk(archive, 100)).toEqual({ state: 'ok', entries: 3 });
  });

  it('finds a damaged header, garbage and a missing end marker; stops at the entry budget', () => {
    const { path } = systemTar(tempDir(), 'x.tar', '-cf');
    const bytes = readFileSync(path);
    const damaged = Buffer.from(bytes);
    damaged[10] = damaged[10]! ^ 0xff; // the first file name
    expect(walk(damaged, 4096)).toEqual({ state: 'bad', reason: 'tar header checksum mismatch at byte 0' });
    expect(walk(randomBytes(4096), 4096).state).toBe('bad');
    expect(walk(bytes.subarray(0, 512 + 3584), 4096)).toMatchObject({ state: 'bad', reason: expect.stringContaining('truncated') });
    expect(walk(Buffer.alloc(0), 1)).toMatchObject({ state: 'bad' });
    expect(walk(bytes, 4096, 3)).toEqual({ state: 'incomplete', reason: 'stopped after 3 entries (budget)' });
    const badSize = tarHeader('x', '0', Buffer.from('12345678901z'));
    expect(walk(Buffer.concat([badSize, Buffer.alloc(1024)]), 512)).toEqual({ state: 'bad', reason: 'tar header at byte 0 has an unreadable size field' });
  });
});

describe('archives on disk', () => {
  it('lists tar and tar.gz made by the system tar', async () => {
    const dir = tempDir();
    for (const [name, flags, kind] of [
      ['a.tar', '-cf', 'tar'],
      ['a.tar.gz', '-czf', 'tar.gz'],
    ] as const) {
      const { path, entries } = systemTar(dir, name, flags);
      expect(entries).toBeGreaterThan(10);
      expect(await listArchive(path, kind, size(path), budget)).toEqual({ state: 'ok', entries });
    }
  });

  it('refuses truncated and damaged tar.gz and tar files', async () => {
    const dir = tempDir();
    const gz = systemTar(dir, 'cut.tar.gz', '-czf').path;
    truncateSync(gz, Math.floor(size(gz) / 2));
    expect(await listArchive(gz, 'tar.gz', size(gz), budget)).toEqual({ state: 'bad', reason: 'unexpected end of file' });

    const flipped = systemTar(dir, 'flip.tar.gz', '-czf').path;
    const bytes = readFileSync(flipped);
    bytes[bytes.length - 6] = bytes[bytes.length - 6]! ^ 0xff; // inside the gzip CRC trailer
    writeFileSync(flipped, bytes);
    expect(await listArchive(flipped, 'tar.gz', size(flipped), budget)).toMatchObject({ state: 'bad' });

    const tar = systemTar(dir, 'cut.tar', '-cf').path;
    truncateSync(tar, 5000);
    expect(await listArchive(tar, 'tar', 5000, budget)).toMatchObject({ state: 'bad', reason: expect.stringContaining('truncated') });

    const garbage = put(dir, 'garbage.tar.gz', 50_000, 0);
    expect(await listArchive(garbage, 'tar.gz', 50_000, budget)).toEqual({ state: 'bad', reason: 'incorrect header check' });
  });

  it('lists a zip through its central directory; a truncated or inconsistent zip is bad', async () => {
    const dir = tempDir();
    const files = [0, 1, 2].map((i) => ({ name: `klasor/dosya-${i}.txt`, data: randomBytes(20_000 + i) }));
    const zip = put(dir, 'a.zip', makeZip(files), 0);
    expect(await listArchive(zip, 'zip', size(zip), budget)).toEqual({ state: 'ok', entries: 3 });
    if (spawnSync('unzip', ['-v']).status === 0) expect(spawnSync('unzip', ['-tq', zip]).status).toBe(0); // the writer itself is sound

    const bytes = readFileSync(zip);
    const cut = put(dir, 'cut.zip', bytes.subarray(0, bytes.length - 10), 0);
    expect(await listArchive(cut, 'zip', size(cut), budget)).toEqual({ state: 'bad', reason: 'no end-of-central-directory record: the zip is truncated or not a zip' });
    // The end record claims one entry more than the directory holds.
    const lying = Buffer.from(bytes);
    lying.writeUInt16LE(4, lying.length - 12);
    const liar = put(dir, 'liar.zip', lying, 0);
    expect(await listArchive(liar, 'zip', size(liar), budget)).toEqual({ state: 'bad', reason: 'the central directory holds 3 entries, its end record says 4' });
    // A piece cut out of the middle: the directory no longer fits where its end record says.
    const holed = put(dir, 'holed.zip', Buffer.concat([bytes.subarray(0, 100), bytes.subarray(5100)]), 0);
    expect(await listArchive(holed, 'zip', size(holed), budget)).toEqual({ state: 'bad', reason: 'the central directory runs past its end record' });
    // The third entry's local header offset damaged.
    const wild = Buffer.from(bytes);
    wild.writeUInt32LE(0x7fff_ffff, wild.readUInt32LE(wild.length - 6) + 2 * (46 + 18) + 42);
    const wildZip = put(dir, 'wild.zip', wild, 0);
    expect(await listArchive(wildZip, 'zip', size(wildZip), budget)).toEqual({ state: 'bad', reason: 'entry 3 points past the data area' });
    for (const [name, content] of [
      ['empty.zip', Buffer.alloc(0)],
      ['random.zip', randomBytes(100_000)],
    ] as const) {
      const p = put(dir, name, content, 0);
      expect((await listArchive(p, 'zip', size(p), budget)).state).toBe('bad');
    }
    expect(await listArchive(zip, 'zip', size(zip), { ...budget, maxEntries: 2 })).toEqual({ state: 'incomplete', reason: 'stopped after 2 entries (budget)' });
  });

  it.skipIf(spawnSync('zip', ['-v']).status !== 0)('lists a zip made by the system zip (Info-ZIP)', async () => {
    const dir = tempDir();
    const { path: tar } = systemTar(dir, 'src.tar', '-cf');
    const zip = join(dir, 'b.zip');
    execFileSync('zip', ['-q', '-j', zip, tar, '-z'], { input: 'yedek arşivi\n.\n' }); // with an archive comment
    const entries = execFileSync('unzip', ['-Z1', zip]).toString().trim().split('\n').length;
    expect(await listArchive(zip, 'zip', size(zip), budget)).toEqual({ state: 'ok', entries });
  });

  it('keeps to the read budget: a 20 MB tar at 50 MB/s takes at least 0.35 s', async () => {
    const dir = tempDir();
    put(dir, 'big.bin', 20 * 1024 * 1024, 0);
    const tar = join(dir, 'big.tar');
    execFileSync('tar', ['-cf', tar, '-C', dir, 'big.bin']);
    const timed = async (bytesPerSecond: number) => {
      const began = performance.now();
      expect(await listArchive(tar, 'tar', size(tar), { bytesPerSecond, maxEntries: 10 })).toEqual({ state: 'ok', entries: 1 });
      return (performance.now() - began) / 1000;
    };
    const paced = await timed(50e6);
    const free = await timed(10_000e6);
    expect(paced).toBeGreaterThanOrEqual(0.35);
    expect(paced).toBeLessThan(3);
    expect(free).toBeLessThan(paced - 0.1); // the pacing, not the disk, made it slow
  });
});

describe('backup_file source on real files', () => {
  it('a fresh series is ok; a file still being written is not judged yet', async () => {
    const dir = tempDir();
    const paths = nightly(dir, 6, 1 * HOUR);
    put(dir, 'db-7.bak', 100, 10_000); // being written right now: small, 10 s old
    const fields = (await collect([{ id: 'sql', path: join(dir, '*.bak'), maxAge: '26h' }])).get('sql')!;
    expect(fields).toEqual({ ok: 1, status: 'ok', files: 7, age_s: 3600, size_bytes: 10_000, size_ratio: 1, size_ok: 1, newest_name: 'db-6.bak' });
    expect(paths).toHaveLength(6);
  });

  it('newest older than maxAge → missed', async () => {
    const dir = tempDir();
    nightly(dir, 3, 30 * HOUR);
    const fields = (await collect([{ id: 'sql', path: join(dir, '*.bak'), maxAge: '26h' }])).get('sql')!;
    expect(fields).toMatchObject({ ok: 0, status: 'missed', age_s: 30 * 3600, newest_name: 'db-3.bak', detail: 'newest backup db-3.bak is 30 h old (allowed: 26 h)' });
  });

  it('a shrunken or empty newest file → too_small', async () => {
    const dir = tempDir();
    nightly(dir, 5, 2 * HOUR);
    put(dir, 'db-6.bak', 3_000, 1 * HOUR);
    const empty = tempDir();
    put(empty, 'ilk.bak', 0, HOUR);
    const metrics = await collect([
      { id: 'sql', path: join(dir, '*.bak'), maxAge: '26h' },
      { id: 'ilk', path: join(empty, '*.bak'), maxAge: '26h' },
    ]);
    expect(metrics.get('sql')).toMatchObject({ ok: 0, status: 'too_small', size_ratio: 0.3, size_ok: 0, detail: 'db-6.bak is 3000 bytes, 30 % of the usual size (median of the previous 5)' });
    expect(metrics.get('ilk')).toMatchObject({ ok: 0, status: 'too_small', size_ok: 0, detail: 'ilk.bak is empty' });
  });

  it('sidecar checksums: a match → checksum_ok 1; a mismatch, a missing or a garbage sidecar → checksum_bad', async () => {
    const jobs = ['good', 'bad', 'missing', 'garbage'].map((id) => {
      const dir = tempDir();
      const [, newest] = nightly(dir, 2, HOUR);
      const digest = id === 'bad' ? createHash('sha256').update('something else').digest('hex') : sha256(newest!);
      if (id === 'good' || id === 'bad') put(dir, 'db-2.bak.sha256', Buffer.from(`${digest}  db-2.bak\n`), HOUR);
      if (id === 'garbage') put(dir, 'db-2.bak.sha256', randomBytes(300), HOUR);
      // `*` matches the sidecars too; they must not count as backups.
      return { id, path: join(dir, '*'), maxAge: '26h', checksum: { sidecar: '.sha256' } };
    });
    const metrics = await collect(jobs);
    expect(metrics.get('good')).toMatchObject({ ok: 1, status: 'ok', checksum_ok: 1, files: 2, newest_name: 'db-2.bak' });
    expect(metrics.get('good')!.detail).toBeUndefined();
    expect(metrics.get('good')!.newest_sha256).toBeUndefined(); // only for off-site pairs
    expect(metrics.get('bad')).toMatchObject({ ok: 0, status: 'checksum_bad', checksum_ok: 0, detail: expect.stringMatching(/^SHA-256 [0-9a-f]{12}… does not match [0-9a-f]{12}… in .*db-2\.bak\.sha256$/) });
    expect(metrics.get('missing')).toMatchObject({ status: 'checksum_bad', checksum_ok: 0, detail: expect.stringMatching(/cannot read .*db-2\.bak\.sha256: ENOENT/) });
    expect(metrics.get('garbage')).toMatchObject({ status: 'checksum_bad', checksum_ok: 0, detail: expect.stringContaining('no SHA-256 digest in') });
  });

  it('a manifest: a listed file is checked; a newer one it does not list → checksum_bad', async () => {
    const dir = tempDir();
    const [a, b] = nightly(dir, 2, 2 * HOUR);
    put(dir, 'SHA256SUMS', Buffer.from(`${sha256(a!)}  db-1.bak\n${sha256(b!)}  db-2.bak\n`), HOUR);
    const source = backupSource([job({ id: 'sql', path: join(dir, '*'), maxAge: '26h', checksum: { manifest: 'SHA256SUMS' } })]);
    expect((await collect([{ id: 'sql' }], {}, source)).get('sql')).toMatchObject({ status: 'ok', checksum_ok: 1, files: 2 });
    put(dir, 'db-3.bak', 10_000, HOUR - 60_000);
    expect((await collect([{ id: 'sql' }], {}, source)).get('sql')).toMatchObject({ status: 'checksum_bad', checksum_ok: 0, newest_name: 'db-3.bak', detail: expect.stringMatching(/db-3\.bak is not listed in .*SHA256SUMS$/) });
  });

  it('archives: a good tar.gz and zip → archive_ok 1; a truncated one → unreadable', async () => {
    const tgz = tempDir();
    const zip = tempDir();
    const cut = tempDir();
    for (const [i, ageH] of [
      [1, 26],
      [2, 2],
    ]) {
      const { path } = systemTar(tgz, `gece-${i}.tar.gz`, '-czf');
      utimesSync(path, (Date.now() - ageH! * HOUR) / 1000, (Date.now() - ageH! * HOUR) / 1000);
    }
    const entries = execFileSync('tar', ['-tzf', join(tgz, 'gece-2.tar.gz')]).toString().trim().split('\n').length;
    put(zip, 'WEB.ZIP', makeZip([{ name: 'index.html', data: randomBytes(5000) }]), HOUR);
    const whole = systemTar(cut, 'gece.tar.gz', '-czf').path;
    truncateSync(whole, size(whole) - 100);
    utimesSync(whole, (Date.now() - HOUR) / 1000, (Date.now() - HOUR) / 1000);
    const metrics = await collect([
      { id: 'tgz', path: join(tgz, '*.tar.gz'), maxAge: '26h', verifyArchive: true },
      { id: 'zip', path: join(zip, '*.ZIP'), maxAge: '26h', verifyArchive: true },
      { id: 'cut', path: join(cut, '*.tar.gz'), maxAge: '26h', verifyArchive: true },
    ]);
    expect(metrics.get('tgz')).toMatchObject({ ok: 1, status: 'ok', archive_ok: 1, archive_entries: entries, newest_name: 'gece-2.tar.gz', files: 2 });
    expect(metrics.get('zip')).toMatchObject({ ok: 1, status: 'ok', archive_ok: 1, archive_entries: 1 });
    expect(metrics.get('cut')).toMatchObject({ ok: 0, status: 'unreadable', archive_ok: 0, detail: 'unexpected end of file' });
  });

  it('off-site pairs report name, size and SHA-256 of the newest file (a 250-character name fits)', async () => {
    const dir = tempDir();
    const name = `${'uzak-kopya-'.repeat(22)}.tar.gz`.slice(-250);
    const path = put(dir, name, 30_000, HOUR);
    const fields = (await collect([{ id: 'kopya', path: join(dir, '*.tar.gz'), maxAge: '26h', offsite: { role: 'copy', pair: 'sql-merkez' } }])).get('kopya')!;
    expect(fields).toMatchObject({ ok: 1, newest_name: name, size_bytes: 30_000, newest_sha256: sha256(path), offsite_role: 'copy', offsite_pair: 'sql-merkez' });
    expect(fields.checksum_ok).toBeUndefined();
  });

  it('hashes each file version once: a second collection reuses it, a touched file is read again', async () => {
    const dir = tempDir();
    const path = put(dir, 'db.bak', 2_000_000, HOUR);
    const source = backupSource([job({ id: 'sql', path: join(dir, '*.bak'), maxAge: '26h', offsite: { role: 'primary', pair: 'sql-kopya' }, budget: { readMBps: 2 } })]);
    const timed = async () => {
      const began = performance.now();
      const fields = (await collect([{ id: 'sql' }], {}, source)).get('sql')!;
      return { fields, s: (performance.now() - began) / 1000 };
    };
    const first = await timed();
    expect(first.fields.newest_sha256).toBe(sha256(path));
    expect(first.s).toBeGreaterThanOrEqual(0.8); // 2 MB at 2 MB/s
    const second = await timed();
    expect(second.fields.newest_sha256).toBe(sha256(path));
    expect(second.s).toBeLessThan(0.5);
    writeFileSync(path, randomBytes(2_000_000));
    utimesSync(path, (Date.now() - HOUR + 5000) / 1000, (Date.now() - HOUR + 5000) / 1000);
    const third = await timed();
    expect(third.fields.newest_sha256).toBe(sha256(path));
    expect(third.s).toBeGreaterThanOrEqual(0.8);
  });

  it('a long check does not hold up the collection: its fields arrive at a later one', async () => {
    const dir = tempDir();
    const path = put(dir, 'db.bak', 1_500_000, HOUR);
    put(dir, 'db.bak.sha256', Buffer.from(`${sha256(path)}  db.bak\n`), HOUR);
    const source = backupSource([job({ id: 'sql', path: join(dir, '*.bak'), maxAge: '26h', checksum: { sidecar: '.sha256' }, budget: { readMBps: 3 } })], { waitMs: 100 });
    const early = (await collect([{ id: 'sql' }], {}, source)).get('sql')!;
    expect(early).toMatchObject({ ok: 1, status: 'ok', detail: 'hashing/listing still running' });
    expect(early.checksum_ok).toBeUndefined();
    await new Promise((r) => setTimeout(r, 800));
    const later = (await collect([{ id: 'sql' }], {}, source)).get('sql')!;
    expect(later).toMatchObject({ ok: 1, status: 'ok', checksum_ok: 1 });
  });

  it('a file too big for the time budget is reported as not checked, not as bad', async () => {
    const dir = tempDir();
    put(dir, 'big.bin', 3_000_000, 0);
    execFileSync('tar', ['-cf', join(dir, 'b.tar'), '-C', dir, 'big.bin']);
    utimesSync(join(dir, 'b.tar'), (Date.now() - HOUR) / 1000, (Date.now() - HOUR) / 1000);
    const fields = (await collect([{ id: 'arsiv', path: join(dir, 'b.tar'), maxAge: '26h', verifyArchive: true, budget: { readMBps: 1, maxTime: '300ms' } }])).get('arsiv')!;
    expect(fields).toMatchObject({ ok: 1, status: 'ok', detail: expect.stringMatching(/^not checked: the time budget ran out after \d+ MB$/) });
    expect(fields.archive_ok).toBeUndefined();
  });

  it('one failing job never stops the others; no file, a missing share, a Windows path on Linux', async () => {
    const ok = tempDir();
    nightly(ok, 2, HOUR);
    const empty = tempDir();
    put(empty, 'yarim.bak', 500, 1000); // only a file still being written
    const metrics = await collect([
      { id: 'gone', path: join(ok, 'no-such-dir', '*.bak'), maxAge: '26h' },
      { id: 'win', path: 'D:\\Yedek\\SQL\\*.bak', maxAge: '26h' },
      { id: 'empty', path: join(empty, '*.bak'), maxAge: '26h' },
      { id: 'sql', path: join(ok, '*.bak'), maxAge: '26h' },
    ]);
    expect(metrics.get('gone')).toEqual({ ok: 0, status: 'no_file', files: 0, detail: `cannot list ${join(ok, 'no-such-dir')}: ENOENT` });
    expect(metrics.get('win')).toEqual({ ok: 0, status: 'no_file', files: 0, detail: 'cannot list D:\\Yedek\\SQL: ENOENT' });
    expect(metrics.get('empty')).toMatchObject({ ok: 0, status: 'no_file', detail: expect.stringContaining('(1 still being written)') });
    expect(metrics.get('sql')).toMatchObject({ ok: 1, status: 'ok' });
  });

  it('hostile archive content is a verdict, never a crash', async () => {
    const dir = tempDir();
    put(dir, 'x.tar.gz', gzipSync(randomBytes(5000)), HOUR); // valid gzip, garbage tar
    put(dir, 'y.tar', Buffer.alloc(0), HOUR);
    const metrics = await collect([
      { id: 'gz', path: join(dir, 'x.tar.gz'), maxAge: '26h', verifyArchive: true },
      { id: 'tar', path: join(dir, 'y.tar'), maxAge: '26h', verifyArchive: true },
    ]);
    expect(metrics.get('gz')).toMatchObject({ status: 'unreadable', archive_ok: 0, detail: 'tar header checksum mismatch at byte 0' });
    expect(metrics.get('tar')).toMatchObject({ status: 'unreadable', archive_ok: 0 }); // empty: also too small, but unreadable comes first
  });
});
