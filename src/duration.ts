import { z } from 'zod';

// Durations as people write them in configuration files: "90s", "5m", "1h30m", "2d".
// Shared by the collector (alert rules, routing) and the agent (backup jobs), which must not
// import collector code.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '0') return 0;
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== trimmed) return undefined;
  return parts.reduce((sum, p) => sum + Number(p[1]) * UNIT_MS[p[2]!]!, 0);
}

/** A duration field: "5m" → 300000 (milliseconds); numbers are refused so that "5" is never read as 5 ms or 5 minutes by mistake. */
export const durationSchema = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like "90s", "5m", "1h30m", "2d", got "${text}"` });
    return z.NEVER;
  }
  return ms;
});
