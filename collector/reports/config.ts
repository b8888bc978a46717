import { z } from 'zod';
import { durationSchema } from '../../src/duration.ts';
import { isTimeZone } from '../backups/cron.ts';

// The collector configuration's `reports:` section: the report store, the institution's name on
// every report, and the automatic monthly report (made on the 1st at `at`, local time, for the
// previous month, mailed through an e-mail channel of the notification file to contacts of that
// file or plain addresses): docs/uptime.md.

const CONTACT_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const ADDRESS = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/u;

const recipient = z
  .string()
  .trim()
  .refine((v) => CONTACT_ID.test(v) || ADDRESS.test(v), { error: (issue) => `"${String(issue.input)}" is neither a contact id of the notification file (e.g. "ahmet") nor one e-mail address (e.g. "bilgiislem@belediye.gov.tr")` });

export const isAddress = (recipient: string) => ADDRESS.test(recipient);

const clock = z.string().transform((text, ctx) => {
  const match = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  if (!match) {
    ctx.addIssue({ code: 'custom', message: `expected a local time like "07:00", got "${text}"` });
    return z.NEVER;
  }
  return { text, hour: Number(match[1]), minute: Number(match[2]) };
});

const positiveMs = z.number().int().positive();

export const monthlyReportSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** The local time on the 1st when the previous month's report is made and sent. */
    at: clock.prefault('07:00'),
    /** The zone of `at` and of the month's bounds; default: the notification file's timezone (Europe/Istanbul). */
    timezone: z.string().refine(isTimeZone, 'expected an IANA time zone like "Europe/Istanbul"').optional(),
    /** both: the Turkish and the English files, one mail. */
    language: z.enum(['tr', 'en', 'both'], { error: 'expected tr, en or both' }).default('tr'),
    /** An e-mail channel of the notification file (its server, sender and credentials). */
    channel: z.string().regex(CONTACT_ID, 'expected a channel name of the notification file, e.g. "eposta"'),
    recipients: z
      .array(recipient)
      .min(1, 'at least one recipient: a contact id of the notification file or an e-mail address')
      .max(100)
      .superRefine((list, ctx) => {
        const seen = new Set<string>();
        list.forEach((r, i) => {
          if (seen.has(r.toLowerCase())) ctx.addIssue({ code: 'custom', path: [i], message: `"${r}" is listed twice` });
          seen.add(r.toLowerCase());
        });
      }),
    /** Where the files are kept, one directory per month (2026-10/); the newest `keep` months stay. */
    dir: z.string().min(1).default('./data/reports'),
    keep: z.number().int().min(1).max(120).default(24),
    /** A mail that fails is retried with backoff from initialMs to maxMs, for at most giveUpAfter. */
    retry: z
      .strictObject({ initialMs: positiveMs.default(60_000), maxMs: positiveMs.default(3_600_000) })
      .refine((r) => r.maxMs >= r.initialMs, { message: 'must not be less than retry.initialMs', path: ['maxMs'] })
      .prefault({}),
    giveUpAfter: durationSchema.refine((ms) => ms >= 60_000 && ms <= 31 * 86_400_000, 'between "1m" and "31d"').prefault('3d'),
    /** One send, attachments included (larger than an alert's). */
    timeoutMs: z.number().int().min(1_000).max(600_000).default(120_000),
  })
  .optional();

export const reportsConfigSchema = z
  .strictObject({
    /** The report store: the agents' backup checks summed per hour, and the monthly reports made and mailed. */
    path: z.string().min(1).default('./data/reports.sqlite'),
    /** On every report's title and the mail's subject, e.g. "Örnekköy Belediyesi". */
    institution: z.string().trim().min(1).max(200).optional(),
    monthly: monthlyReportSchema,
  })
  .prefault({});

export type ReportsConfig = z.infer<typeof reportsConfigSchema>;
export type MonthlyReportConfig = NonNullable<ReportsConfig['monthly']>;
