import { z } from 'zod';
import { formatPath } from '../../src/contract/schemas.ts';
import type { PointSink } from '../ingest/ingest.ts';
import type { Point } from '../model/point.ts';
import { isCopyOf, judgeOffsite, offsitePoint, parseOffsiteReport, reportKey, retiredOffsitePoint, type OffsiteReport } from './offsite.ts';

// The off-site comparison, kept current: fed every point batch the collector accepts, it keeps
// the latest off-site report of every job and writes `backup_offsite` points into the sink (the
// alert service's, so the rules see them) — at once for the jobs a batch touched, and for every
// primary each `everyMs`, so the lag keeps growing while no agent reports.

export interface OffsiteService {
  observe(points: readonly Point[]): void;
  close(): void;
}

const optionsSchema = z.strictObject({
  everyMs: z.number().int().min(1_000, 'at least 1000 ms').max(3_600_000, 'at most one hour').default(60_000),
  /** Jobs remembered at most: a flood of made-up job ids must not grow the collector without end. */
  maxJobs: z.number().int().min(1).max(1_000_000).default(10_000),
  /** Told of every report refused (malformed, or over maxJobs), for a log line or a counter. */
  onRefused: z.custom<(message: string) => void>((v) => typeof v === 'function', 'expected a function').optional(),
});
export type OffsiteOptions = z.input<typeof optionsSchema>;

export function startOffsiteService(sink: PointSink, options: OffsiteOptions = {}): OffsiteService {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) throw new Error(`off-site options: ${parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ')}`);
  const { everyMs, maxJobs, onRefused } = parsed.data;
  const reports = new Map<string, OffsiteReport>();

  const primariesFor = (report: OffsiteReport) => (report.role === 'primary' ? [report] : [...reports.values()].filter((p) => isCopyOf(p, report)));
  /** Judges the jobs under these keys that are primaries now. */
  const judge = (keys: Iterable<string>, now: number) => {
    const points: Point[] = [];
    for (const key of keys) {
      const primary = reports.get(key);
      if (primary?.role !== 'primary') continue;
      const verdict = judgeOffsite(primary, reports.values(), now);
      if (verdict) points.push(offsitePoint(primary, verdict, now));
    }
    if (points.length > 0) sink.enqueue(points);
  };

  const timer = setInterval(() => judge([...reports.keys()], Date.now()), everyMs);
  timer.unref();

  return {
    observe(points) {
      const touched = new Set<string>();
      const retired: Point[] = [];
      const now = Date.now();
      for (const point of points) {
        if (point.measurement !== 'backup_file') continue;
        const report = parseOffsiteReport(point);
        if (report && 'error' in report) {
          onRefused?.(report.error);
          continue;
        }
        const key = reportKey({ site: point.tags.site ?? '', device: point.tags.device ?? '', job: point.tags.instance ?? '' });
        const known = reports.get(key);
        if (report === null && known && point.fields.status === 'no_file' && point.time >= known.time) {
          // The agent reports a job without files without its off-site fields: still paired, it just has no file now.
          const { newest: _gone, ...rest } = known;
          reports.set(key, { ...rest, time: point.time });
          for (const p of primariesFor(known)) touched.add(reportKey(p));
          continue;
        }
        if (report === null) {
          // The job no longer has an off-site copy configured: forget it, and resolve what it raised.
          if (!known) continue;
          reports.delete(key);
          if (known.role === 'primary') retired.push(retiredOffsitePoint(known, now));
          else for (const p of primariesFor(known)) touched.add(reportKey(p));
          continue;
        }
        // An agent replaying its offline queue sends older reports after newer ones.
        if (known && known.time > report.time) continue;
        if (!known && reports.size >= maxJobs) {
          onRefused?.(`off-site report of ${key} dropped: already ${maxJobs} jobs known`);
          continue;
        }
        reports.set(key, report);
        // A primary that became a copy: what it raised as a primary resolves.
        if (known?.role === 'primary' && report.role === 'copy') retired.push(retiredOffsitePoint(known, now));
        // Primaries the old report paired with (its pair may have changed) and the ones the new one pairs with.
        for (const p of [...(known ? primariesFor(known) : []), ...primariesFor(report)]) touched.add(reportKey(p));
      }
      if (retired.length > 0) sink.enqueue(retired);
      judge(touched, now);
    },
    close: () => clearInterval(timer),
  };
}
