import { readFile, statfs } from 'node:fs/promises';
import { platform } from 'node:os';
import si from 'systeminformation';
import type { Metric } from '../../src/contract/schemas.ts';
import { round, type Source } from './types.ts';

// Usage comes from statfs (no process spawned); the list of mounts comes from /proc/mounts on
// Linux, and from systeminformation elsewhere (PowerShell on Windows), cached for minutes.

const REAL_FS = new Set(['ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'zfs', 'f2fs', 'vfat', 'exfat', 'ntfs', 'ntfs3', 'fuseblk', 'nfs', 'nfs4', 'cifs', 'jfs', 'reiserfs']);
const MOUNT_LIST_TTL_MS = 5 * 60_000;

export interface Mount {
  mount: string;
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
    out.push({ mount, fstype });
  }
  return out;
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
async function listMounts(): Promise<Mount[]> {
  if (platform() === 'linux') return parseProcMounts(await readFile('/proc/mounts', 'utf8'));
  if (!cachedMounts || Date.now() - cachedMounts.at > MOUNT_LIST_TTL_MS) {
    cachedMounts = { at: Date.now(), mounts: (await si.fsSize()).map((f) => ({ mount: f.mount, fstype: f.type })) };
  }
  return cachedMounts.mounts;
}

export const filesystemsSource: Source = {
  name: 'filesystems',
  cadence: 'fast',
  async collect() {
    const results = await Promise.allSettled((await listMounts()).map(async (m) => fsMetric(m, await statfs(m.mount))));
    return results.flatMap((r) => (r.status === 'fulfilled' && r.value.fields.size_bytes !== 0 ? [r.value] : []));
  },
};
