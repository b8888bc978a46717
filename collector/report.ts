import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ConfigError, parseYamlText, validateConfig } from '../src/config/load.ts';
import { DEVICE_KINDS } from '../src/contract/schemas.ts';
import { ID_PATTERN } from '../src/contract/topics.ts';
import { notifyFileSchema, type NotifyFile } from './alerts/notify-config.ts';
import { loadCollectorConfig } from './config.ts';
import { assembleReport, readOutageLog, registryTargets, renderReportFiles } from './reports/gather.ts';
import { monthPeriod } from './uptime/availability.ts';
import { DEFAULT_REPORT_KINDS, monthSchema } from './uptime/monthly-report.ts';

// The monthly availability report: izleme report --month 2026-11 --out DIR (the outage log and
// the stores from the collector's configuration), or node collector/report.ts --month 2026-11 --outages FILE --out DIR
// [--config collector.yaml] [--notify FILE] [--site S] [--lang tr|en] [--kinds k1,k2]
// Reads the outage log; the notification file for maintenance windows, site dependencies and the
// time zone; with --config also the device registry (targets never down), the alert store (ad-hoc
// maintenance windows, UPS alerts for outage causes), the heartbeat and report stores (the backups
// section), the institution's name and the default language. Writes the HTML
// and two CSV files into DIR and prints their paths. Nothing is changed in any store.
// Exit 0 done, 2 bad arguments (the message names the argument).

export const REPORT_USAGE = `usage: node collector/report.ts --month YYYY-MM --outages <uptime.sqlite> --out <dir>
         [--config collector.yaml] [--notify notify.yaml] [--site SITE] [--lang tr|en] [--kinds link,service,...]
   or: izleme report --month YYYY-MM --out <dir> [--config FILE] [...]   (--outages: the collector's uptime.path)`;

class UsageError extends Error {}

const argsSchema = z.strictObject({
  month: z.string({ error: 'required: the month to report, e.g. 2026-11' }).pipe(monthSchema),
  outages: z.string({ error: 'required: the outage log file (uptime store)' }).min(1),
  out: z.string({ error: 'required: the directory to write the report into' }).min(1),
  config: z.string().min(1).optional(),
  notify: z.string().min(1).optional(),
  site: z.string().regex(ID_PATTERN, 'expected a site id like "merkez"').optional(),
  lang: z.enum(['tr', 'en'], { error: 'expected tr or en' }).optional(),
  kinds: z
    .string()
    .transform((text) => text.split(',').map((k) => k.trim()))
    .pipe(z.array(z.enum(DEVICE_KINDS, { error: `expected device kinds from ${DEVICE_KINDS.join(', ')}` })).min(1))
    .optional(),
});

type Args = z.infer<typeof argsSchema>;

function parseArguments(argv: string[]): Args {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, strict: true, options: Object.fromEntries(Object.keys(argsSchema.shape).map((name) => [name, { type: 'string' as const }])) }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const parsed = argsSchema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UsageError(`--${String(issue.path[0] ?? '')}: ${issue.message}`);
  }
  return parsed.data;
}

/** A file an argument names: errors say which argument. */
function withArgument<T>(name: string, action: () => T): T {
  try {
    return action();
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`--${name}: ${(error as Error).message}`);
  }
}

/** The parts of the notification file a report needs; channel secrets are not expanded (a report needs none). */
function readNotifyFile(path: string): NotifyFile {
  return validateConfig(notifyFileSchema, parseYamlText(readFileSync(path, 'utf8'), path), path);
}

function writeReport(argv: string[]): string[] {
  const args = parseArguments(argv);
  const config = args.config === undefined ? undefined : withArgument('config', () => loadCollectorConfig(args.config));
  const notifyPath = args.notify ?? config?.alerts.notifyFile;
  const notify = notifyPath === undefined ? undefined : withArgument(args.notify === undefined ? 'config (alerts.notifyFile)' : 'notify', () => readNotifyFile(notifyPath));
  const timezone = notify?.timezone ?? 'Europe/Istanbul';
  const period = monthPeriod(args.month.year, args.month.month, timezone);
  const now = Date.now();
  if (period.from >= now) throw new UsageError(`--month: ${args.month.year}-${String(args.month.month).padStart(2, '0')} has not begun`);

  if (!existsSync(args.outages)) throw new UsageError(`--outages: no such file ${args.outages}`);
  const { outages, targets } = withArgument('outages', () => readOutageLog(args.outages, period));
  const known = [...targets, ...(config ? registryTargets(config) : [])];
  if (args.site !== undefined && ![...known, ...outages].some((t) => t.site === args.site)) throw new UsageError(`--site: no target of site "${args.site}" in the outage log${config ? ' or the registry' : ''}`);
  // The backups section reads backups.yaml: a mistake in it is named as the configuration's.
  const report = withArgument('config (backups.file)', () =>
    assembleReport({ month: args.month, period, timezone, now, outages, targets, config, notify, site: args.site, kinds: args.kinds ?? DEFAULT_REPORT_KINDS }),
  );

  const language = args.lang ?? config?.language ?? 'tr';
  const files = renderReportFiles(report, language).map((f) => [f.name, f.content] as const);
  withArgument('out', () => mkdirSync(args.out, { recursive: true }));
  return files.map(([name, text]) => {
    const path = join(args.out, name);
    withArgument('out', () => writeFileSync(path, text));
    return path;
  });
}

/** Writes the report and prints the files' paths; returns the exit code (2: a bad argument, named). */
export function runReport(argv: string[]): number {
  try {
    for (const path of writeReport(argv)) process.stdout.write(`${path}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n${REPORT_USAGE}\n`);
    return 2;
  }
}

if (import.meta.main) process.exitCode = runReport(process.argv.slice(2));
