import { basename } from 'node:path';
import { z } from 'zod';
import type { ExtractedMember } from './tar-gz.ts';

// The manifest (manifest.json, the archive's first member): what the archive holds, each
// store's schema version and row counts, and the SHA-256 of every member. Restore trusts
// nothing it cannot check against it. Pure: building member names and checking what was read.

export const MANIFEST_MEMBER = 'manifest.json';
export const MANIFEST_FORMAT = 'belediye-izleme-state';
export const MANIFEST_VERSION = 1;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected a SHA-256 in hex');
const count = z.number().int().nonnegative();

export const manifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT, { error: `not a Belediye İzleme state backup (format is not "${MANIFEST_FORMAT}")` }),
  formatVersion: z.number().int().positive(),
  createdAt: z.iso.datetime(),
  collectorVersion: z.string(),
  host: z.string(),
  instance: z.string(),
  /** The configuration file the backup was made from (null: made from built-in defaults). */
  configFile: z.string().nullable(),
  stores: z.array(
    z.strictObject({
      name: z.string().regex(/^[a-z]+$/),
      key: z.string(),
      path: z.string(),
      member: z.string(),
      schemaVersion: count,
      /** Rows per table, e.g. { device_credentials: 12, audit_log: 340 }. */
      rows: z.record(z.string(), count),
      bytes: count,
      sha256,
    }),
  ),
  files: z.array(z.strictObject({ key: z.string(), path: z.string(), member: z.string(), bytes: count, sha256 })),
  /** Stores not in the archive and why: kept in memory, or never created (that part of the collector is off). */
  notIncluded: z.array(z.strictObject({ key: z.string(), path: z.string(), reason: z.string() })),
});

export type Manifest = z.infer<typeof manifestSchema>;

export const storeMember = (name: string) => `stores/${name}.sqlite`;

/** The configuration key of the monthly report copies (reports.monthly.dir/<month>/<file>). */
export const REPORT_COPIES_KEY = 'reports.monthly.dir';
/** A month's directory as the collector names it (and prunes it): 2026-10. */
export const REPORT_MONTH = /^\d{4}-\d{2}$/;
/** A file name a report copy may have in the archive; the collector's own fit (rapor-2026-10.html, mail.json). */
export const REPORT_FILE = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$/;

/** files/reports.monthly.dir/<month>/<file>: the month is kept, so each month's mail.json is its own member. */
export const reportCopyMember = (month: string, name: string) => `files/${REPORT_COPIES_KEY}/${month}/${name}`;

/** The month and file name of a report copy's member; undefined for any other name (a restore never builds a path from one). */
export function parseReportCopyMember(member: string): { month: string; name: string } | undefined {
  const parts = member.split('/');
  if (parts.length !== 4 || parts[0] !== 'files' || parts[1] !== REPORT_COPIES_KEY) return undefined;
  const [, , month, name] = parts as [string, string, string, string];
  return REPORT_MONTH.test(month) && REPORT_FILE.test(name) ? { month, name } : undefined;
}

/** files/<key>/<file name>, with the characters a member name may not hold replaced, the name cut to fit a tar header. */
export function fileMember(key: string, path: string): string {
  const clean = (text: string) => text.replace(/\[(\d+)\]/g, '.$1').replace(/[^A-Za-z0-9._@+-]/g, '_').replace(/^[._]+/, '') || 'file';
  return `files/${clean(key)}/${clean(basename(path)).slice(-100)}`;
}

/** What is wrong with the members read against the manifest; empty when every hash matches. */
export function memberProblems(manifest: Manifest, members: readonly ExtractedMember[]): string[] {
  const read = new Map(members.map((m) => [m.name, m]));
  const problems: string[] = [];
  const expected = [...manifest.stores, ...manifest.files];
  for (const entry of expected) {
    const member = read.get(entry.member);
    if (!member) problems.push(`${entry.member} is listed in the manifest but missing from the archive`);
    else if (member.size !== entry.bytes) problems.push(`${entry.member} has ${member.size} bytes, the manifest says ${entry.bytes}`);
    else if (member.sha256 !== entry.sha256) problems.push(`${entry.member}: SHA-256 ${member.sha256} does not match the manifest's ${entry.sha256}`);
  }
  const listed = new Set([MANIFEST_MEMBER, ...expected.map((e) => e.member)]);
  for (const member of members) if (!listed.has(member.name)) problems.push(`${member.name} is in the archive but not in the manifest`);
  return problems;
}
