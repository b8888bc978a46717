// Pure verdicts on what a scan found; no I/O, so every rule is tested on plain numbers.

export const BACKUP_STATUSES = ['ok', 'missed', 'too_small', 'checksum_bad', 'unreadable', 'no_file'] as const;
export type BackupStatus = (typeof BACKUP_STATUSES)[number];

/** How many earlier backups the newest one is compared with. */
export const SIZE_HISTORY = 5;

export function isMissed(ageMs: number, maxAgeMs: number): boolean {
  return ageMs > maxAgeMs;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The newest size over the median of the previous ones (at most SIZE_HISTORY); undefined without history or when they were all empty. */
export function sizeRatio(size: number, previous: readonly number[]): number | undefined {
  if (previous.length === 0) return undefined;
  const m = median(previous.slice(0, SIZE_HISTORY));
  return m > 0 ? size / m : undefined;
}

/** An empty backup is always too small; otherwise it is when it shrank below `shrinkRatio` of the usual size. */
export function isTooSmall(size: number, previous: readonly number[], shrinkRatio: number): boolean {
  if (size === 0) return true;
  const ratio = sizeRatio(size, previous);
  return ratio !== undefined && ratio < shrinkRatio;
}

const baseName = (name: string) => name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);

/**
 * The SHA-256 a checksum text gives for `fileName`. Understood: sha256sum lines
 * (`<hex>  name`, `<hex> *name`), BSD tags (`SHA256 (name) = <hex>`) and a bare hex digest.
 * `sole`: a sidecar belongs to one file, so its only digest counts whatever name it carries
 * (the backup may have been hashed under another path); a manifest must name the file.
 */
export function digestFor(text: string, fileName: string, sole: boolean): string | undefined {
  const lines: { digest: string; name: string | undefined }[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const plain = /^\\?([0-9a-fA-F]{64})(?:\s+\*?(.+))?$/.exec(line);
    const bsd = /^SHA256 \((.+)\) = ([0-9a-fA-F]{64})$/.exec(line);
    if (plain) lines.push({ digest: plain[1]!, name: plain[2] });
    else if (bsd) lines.push({ digest: bsd[2]!, name: bsd[1] });
  }
  if (sole && lines.length === 1) return lines[0]!.digest.toLowerCase();
  const wanted = baseName(fileName);
  const named = (exact: boolean) => lines.find((l) => l.name !== undefined && (exact ? baseName(l.name) === wanted : baseName(l.name).toLowerCase() === wanted.toLowerCase()));
  // Windows names are case-insensitive: an exact match first, then any casing.
  return (named(true) ?? named(false))?.digest.toLowerCase();
}

export interface Findings {
  hasFile: boolean;
  missed: boolean;
  tooSmall: boolean;
  /** undefined: not configured, or not known yet (the hash is still being computed). */
  checksumOk?: boolean | undefined;
  archiveOk?: boolean | undefined;
}

/** One status for the job: the most serious finding wins (no backup at all, then late, then damaged, then small). */
export function backupStatus(f: Findings): BackupStatus {
  if (!f.hasFile) return 'no_file';
  if (f.missed) return 'missed';
  if (f.archiveOk === false) return 'unreadable';
  if (f.checksumOk === false) return 'checksum_bad';
  if (f.tooSmall) return 'too_small';
  return 'ok';
}
