import { readFile, statfs } from 'node:fs/promises';
import { platform } from 'node:os';
import si from 'systeminformation';
import type { Metric } from '../../src/contract/schemas.ts';
import { currentWindowsMounts } from '../windows/drives.ts';
import { round, withTimeout, type Source } from './types.ts';

// Usage comes from statfs (no process). The mount list comes from /proc/mounts on Linux, on
// Windows from the fixed drives the hardware cadence's health script listed (agent/windows/:
// the fast cadence starts no process there), and elsewhere from si.fsSize(), refreshed in the
// background at most every few minutes so the interval never waits for it after the first time.

const REAL_FS = new Set(['ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'zfs', 'f2fs', 'vfat', 'exfat', 'ntfs', 'ntfs3', 'fuseblk', 'nfs', 'nfs4', 'cifs', 'smb3', 'jfs', 'reiserfs']);
const MOUNT_LIST_TTL_MS = 5 * 60_000;

export interface Mount {
  /** The tag: `/`, `/srv/yedek`, `C:`. */
  mount: string;
  /** What statfs is called with (`C:\` on Windows: the root needs its backslash). */
  path: string;
  fstype: string;
}

/** Pure: /proc/mounts → real file systems (plus whatever is mounted at /, e.g. overlay in a container). */
export function parseProcMounts(text: string): Mount[] {
  const seen = new Set<string>();
  const out: Mount[] = [];
  for (const line of text.split('\n')) {
    const [, mountPoint, fstype] = line.split(' ');
    if (!mountPoint || !fstype) continue;
    const mount = mountPoint.replace(/\\040/g, ' ');
    if ((!REAL_FS.has(fstype) && mount !== '/') || seen.has(mount) || mount.startsWith('/snap/')) continue;
    seen.add(mount);
    out.push({ mount, path: mount, fstype });
  }
  return out;
}

/** Pure: si.fsSize() on Windows → drives with a file system; empty card readers and CD drives (CDFS/UDF) left out. */
export function mountsFromSiFsSize(list: readonly { fs: string; type: string; mount: string; size: number }[]): Mount[] {
  return list
    .filter((d) => d.size > 0 && d.type !== '' && !/^(CDFS|UDF)$/i.test(d.type))
    .map((d) => {
      const mount = d.mount || d.fs;
      return { mount, path: /^[A-Za-z]:$/.test(mount) ? `${mount}\\` : mount, fstype: d.type.toLowerCase() };
    });
}

export function fsMetric(mount: Mount, s: { bsize: number; blocks: number; bfree: number; bavail: number }): Metric {
  const size = s.blocks * s.bsize;
  const used = (s.blocks - s.bfree) * s.bsize;
  const free = s.bavail * s.bsize;
  // Like df: the share of what ordinary users can use, so reserved blocks count as full.
  const usedPct = used + free > 0 ? round((used / (used + free)) * 100) : 0;
  return { name: 'fs', tags: { mount: mount.mount.slice(0, 128) }, fields: { size_bytes: size, used_bytes: used, free_bytes: free, used_pct: usedPct, fstype: mount.fstype } };
}

let cachedMounts: { at: number; mounts: Mount[] } | undefined;
let refreshing: Promise<void> | undefined;

function refreshMountList(): Promise<void> {
  refreshing ??= si
    .fsSize()
    .then((list) => void (cachedMounts = { at: Date.now(), mounts: mountsFromSiFsSize(list) }))
    .finally(() => (refreshing = undefined));
  return refreshing;
}

export type MountListing = 'proc-mounts' | 'windows-drives' | 'systeminformation';

/** Pure: where the mount list comes from on each platform (only systeminformation's may start a process). */
export function mountListingFor(os: NodeJS.Platform): MountListing {
  return os === 'linux' ? 'proc-mounts' : os === 'win32' ? 'windows-drives' : 'systeminformation';
}

async function listMounts(listing: MountListing): Promise<Mount[]> {
  if (listing === 'proc-mounts') return parseProcMounts(await readFile('/proc/mounts', 'utf8'));
  if (listing === 'windows-drives') return currentWindowsMounts();
  if (!cachedMounts) await refreshMountList();
  else if (Date.now() - cachedMounts.at > MOUNT_LIST_TTL_MS) refreshMountList().catch(() => undefined);
  return cachedMounts?.mounts ?? [];
}

// statfs on a dead NFS/CIFS server does not return, and each such call holds one of libuv's
// four pool threads. A mount whose last statfs is still pending is skipped, so a dead server
// costs at most one thread, not one per interval.
const pending = new Set<string>();
const STATFS_TIMEOUT_MS = 2_000;

function usage(mount: Mount): Promise<Metric> {
  if (pending.has(mount.path)) return Promise.reject(new Error(`statfs ${mount.path} still pending`));
  pending.add(mount.path);
  const call = statfs(mount.path).finally(() => pending.delete(mount.path));
  return withTimeout(call, STATFS_TIMEOUT_MS, `statfs ${mount.path}`).then((s) => fsMetric(mount, s));
}

export function fsSourceFor(os: NodeJS.Platform): Source {
  const listing = mountListingFor(os);
  return {
    name: 'fs',
    cadence: 'fast',
    async collect() {
      const results = await Promise.allSettled((await listMounts(listing)).map(usage));
      return results.flatMap((r) => (r.status === 'fulfilled' && r.value.fields.size_bytes !== 0 ? [r.value] : []));
    },
  };
}

export const fsSource: Source = fsSourceFor(platform());
