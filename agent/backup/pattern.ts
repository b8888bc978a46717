import { posix, win32 } from 'node:path';

// Backup path patterns: a directory plus a wildcard name, e.g. `D:\Yedek\SQL\*.bak` or
// `/srv/yedek/db-*.tar.gz`. Wildcards only in the last segment, so a check is one directory
// listing, never a tree walk over a share.

export type PathStyle = 'posix' | 'windows';

export interface BackupPattern {
  style: PathStyle;
  /** The directory that is listed: `D:\Yedek\SQL`, `/srv/yedek`. */
  dir: string;
  /** The last segment as written: `*.bak`. */
  glob: string;
  /** Matches a file name against `glob`. */
  matches(name: string): boolean;
}

// `C:\…`, `C:/…` or a UNC share `\\server\share\…`.
const WINDOWS_ABSOLUTE = /^(?:[A-Za-z]:[\\/]|\\\\[^\\/]+[\\/][^\\/]+[\\/])/;

/** Pure: parses a job's `path`; throws an Error whose message says what is wrong with it. */
export function parseBackupPattern(path: string): BackupPattern {
  const style: PathStyle | undefined = WINDOWS_ABSOLUTE.test(path) ? 'windows' : path.startsWith('/') ? 'posix' : undefined;
  if (!style) throw new Error(`expected an absolute path like /srv/yedek/*.tar.gz or D:\\Yedek\\*.bak, got "${path}"`);
  // POSIX allows a backslash in a file name, so only Windows paths split on it.
  const cut = style === 'windows' ? Math.max(path.lastIndexOf('\\'), path.lastIndexOf('/')) : path.lastIndexOf('/');
  const glob = path.slice(cut + 1);
  let dir = path.slice(0, cut);
  if (glob === '' || glob === '.' || glob === '..') throw new Error(`the last part of the path must name the backup files (e.g. *.bak), got "${path}"`);
  if (/[*?]/.test(dir)) throw new Error(`wildcards (* ?) are allowed in the last path segment only, got "${path}"`);
  if (dir === '') dir = '/';
  else if (/^[A-Za-z]:$/.test(dir)) dir = `${dir}\\`;
  const regex = globRegExp(glob, style === 'windows');
  return { style, dir, glob, matches: (name) => regex.test(name) };
}

/** `*` any run of characters, `?` one; like a shell, a leading wildcard does not match a leading dot (rsync's `.name.XXXX` temporary files). */
function globRegExp(glob: string, ignoreCase: boolean): RegExp {
  let source = /^[*?]/.test(glob) ? '(?!\\.)' : '';
  for (const ch of glob) source += ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${source}$`, ignoreCase ? 'is' : 's');
}

/** A file in the pattern's directory, joined the way its own system does (the agent may parse a Windows path on Linux in tests). */
export function joinPath(pattern: BackupPattern, name: string): string {
  return (pattern.style === 'windows' ? win32 : posix).join(pattern.dir, name);
}
