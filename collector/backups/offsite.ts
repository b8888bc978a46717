import { z } from 'zod';
import { formatPath } from '../../src/contract/schemas.ts';
import type { Point } from '../model/point.ts';

// Pure: is the newest backup of a job also at its second location? The agents that hold the
// primary and the copy each report their newest file (`backup_file` with offsite_role,
// offsite_pair, newest_name, size_bytes, newest_sha256, age_s); this compares the two.
//
// Pairing: a copy belongs to a primary when both name the same pair (`offsite_pair` equal), or
// when one's pair is the other's job id (instance). Job ids are only unique on one agent, so a
// job is known by site/device/instance, and a copy on the primary's own agent is no off-site copy.
//
// States, judged on the newest file only:
//   ok       the copy's newest has the primary's newest name, size and SHA-256;
//   mismatch same name, other size or hash: the copy is damaged or a different file;
//   lagging  the copy's newest is another file: the primary's newest has not arrived (yet). A
//            different name is taken as older: copy tools do not all keep modification times
//            (cp does not), so the copy's times cannot tell older from newer;
//   missing  no copy reports a file (no copy agent reported, or its folder is empty).
//
// Lag (lag_s): how long the primary's newest backup has existed without a good copy, i.e. the
// age of the primary's newest file now — its age_s when reported plus the time since that
// report, 0 when ok. It depends on the primary's clock alone, keeps growing while the copy does
// not catch up (so a threshold rule fires on it), and includes the normal transfer time, which
// the rule's threshold allows for.

const OFFSITE_STATES = ['ok', 'lagging', 'missing', 'mismatch'] as const;
export type OffsiteState = (typeof OFFSITE_STATES)[number];

export interface OffsiteReport {
  site: string;
  device: string;
  /** The job id on that agent. */
  job: string;
  role: 'primary' | 'copy';
  pair: string;
  /** Absent when the job has no finished file. */
  newest?: { name: string; sizeBytes: number; ageS: number; sha256?: string };
  /** When the agent reported it (epoch ms). */
  time: number;
}

export interface OffsiteVerdict {
  state: OffsiteState;
  lagS: number;
  /** "site/device" of the copy judged (the best one when there are several). */
  copy?: string;
}

const text = z.string().min(1).max(256);
const reportSchema = z.object({
  tags: z.object({ site: text, device: text, instance: text }),
  fields: z.object({
    offsite_role: z.enum(['primary', 'copy'], { error: 'expected "primary" or "copy"' }),
    offsite_pair: text,
    newest_name: text.optional(),
    size_bytes: z.number().int().nonnegative().optional(),
    age_s: z.number().nonnegative().optional(),
    newest_sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lower-case hex digits').optional(),
  }),
  time: z.number().int().positive(),
});

/**
 * The off-site part of a `backup_file` point: null when the job is not an off-site pair (or the
 * point is another measurement), `{ error }` naming the field when an agent sent nonsense.
 */
export function parseOffsiteReport(point: Point): OffsiteReport | { error: string } | null {
  if (point.measurement !== 'backup_file' || point.fields.offsite_role === undefined) return null;
  const parsed = reportSchema.safeParse(point);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { error: `backup_file ${point.tags.site ?? '?'}/${point.tags.device ?? '?'}/${point.tags.instance ?? '?'} refused: ${formatPath(issue.path)}: ${issue.message}` };
  }
  const { tags, fields, time } = parsed.data;
  const report: OffsiteReport = { site: tags.site, device: tags.device, job: tags.instance, role: fields.offsite_role, pair: fields.offsite_pair, time };
  // A file is only comparable with its name, size and age; a job reporting no_file has none.
  if (fields.newest_name !== undefined && fields.size_bytes !== undefined && fields.age_s !== undefined) {
    report.newest = { name: fields.newest_name, sizeBytes: fields.size_bytes, ageS: fields.age_s, ...(fields.newest_sha256 ? { sha256: fields.newest_sha256 } : {}) };
  }
  return report;
}

const agentOf = (r: Pick<OffsiteReport, 'site' | 'device'>) => `${r.site}/${r.device}`;
export const reportKey = (r: Pick<OffsiteReport, 'site' | 'device' | 'job'>) => `${r.site}/${r.device}/${r.job}`;

export function isCopyOf(primary: OffsiteReport, candidate: OffsiteReport): boolean {
  if (primary.role !== 'primary' || candidate.role !== 'copy' || agentOf(primary) === agentOf(candidate)) return false;
  return primary.pair === candidate.pair || primary.pair === candidate.job || candidate.pair === primary.job;
}

/**
 * One copy against the primary. undefined: nothing to judge yet — the primary has no file (its
 * own backup_file alerts say so), or name and size agree but a hash is still being computed.
 */
export function compareOffsite(primary: OffsiteReport, copy: OffsiteReport | undefined, now: number): OffsiteVerdict | undefined {
  const mine = primary.newest;
  if (!mine) return undefined;
  // The primary's newest file's age now: as reported, plus the time since the report.
  const lagS = Math.max(0, Math.round(mine.ageS + Math.max(0, now - primary.time) / 1000));
  const theirs = copy?.newest;
  if (!copy || !theirs) return { state: 'missing', lagS, ...(copy ? { copy: agentOf(copy) } : {}) };
  const at = { copy: agentOf(copy) };
  if (theirs.name !== mine.name) return { state: 'lagging', lagS, ...at };
  if (theirs.sizeBytes !== mine.sizeBytes) return { state: 'mismatch', lagS, ...at };
  if (!mine.sha256 || !theirs.sha256) return undefined;
  return theirs.sha256 === mine.sha256 ? { state: 'ok', lagS: 0, ...at } : { state: 'mismatch', lagS, ...at };
}

/** Best first: one good copy is what the job asks for; an unjudged one (undefined) may still be it. */
const RANK: Record<OffsiteState | 'pending', number> = { ok: 0, pending: 1, lagging: 2, mismatch: 3, missing: 4 };

/**
 * The primary against every copy that pairs with it; the best one counts. undefined while the
 * primary has no file or the best candidate is still being hashed.
 */
export function judgeOffsite(primary: OffsiteReport, reports: Iterable<OffsiteReport>, now: number): OffsiteVerdict | undefined {
  if (!primary.newest) return undefined;
  let best: { rank: number; verdict: OffsiteVerdict | undefined } | undefined;
  for (const candidate of reports) {
    if (!isCopyOf(primary, candidate)) continue;
    const verdict = compareOffsite(primary, candidate, now);
    const rank = RANK[verdict?.state ?? 'pending'];
    if (!best || rank < best.rank) best = { rank, verdict };
  }
  return best ? best.verdict : compareOffsite(primary, undefined, now);
}

const flag = (value: boolean) => (value ? 1 : 0);

/** The `backup_offsite` point of a primary job (device = the primary's agent). */
export function offsitePoint(primary: Pick<OffsiteReport, 'site' | 'device' | 'job'>, verdict: OffsiteVerdict, now: number): Point {
  const fields: Point['fields'] = { state: verdict.state, ok: flag(verdict.state === 'ok'), lag_s: verdict.lagS, missing: flag(verdict.state === 'missing'), mismatch: flag(verdict.state === 'mismatch') };
  if (verdict.copy) fields.copy = verdict.copy;
  return { measurement: 'backup_offsite', tags: { site: primary.site, device: primary.device, instance: primary.job }, fields, time: now };
}

/** A primary that is no longer one (off-site removed from its job): every flag cleared, so its alerts resolve. */
export function retiredOffsitePoint(primary: Pick<OffsiteReport, 'site' | 'device' | 'job'>, now: number): Point {
  return { measurement: 'backup_offsite', tags: { site: primary.site, device: primary.device, instance: primary.job }, fields: { state: 'removed', lag_s: 0, missing: 0, mismatch: 0 }, time: now };
}
