import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../src/log.ts';
import { maskAddress } from '../alerts/outbox.ts';
import type { CollectorConfig } from '../config.ts';
import type { Point } from '../model/point.ts';
import { monthPeriod } from '../uptime/availability.ts';
import type { ReportMonth } from '../uptime/monthly-report.ts';
import { assembleReport, readOutageLog, renderReportFiles, type ReportFile } from './gather.ts';
import { composeReportMail, type ReportMail } from './mail.ts';
import { createReportMailer, ReportDeliveryError, type ReportMailer } from './mailer.ts';
import { isAddress } from './config.ts';
import { loadMailSetup, type ReportMailSetup } from './recipients.ts';
import { ReportStore } from './report-store.ts';
import { dueMonth, monthKey, nextAttempt, nextRunTime } from './schedule.ts';

// Reports, assembled: the report store fed with every accepted point (the agents' backup file
// checks), and — with reports.monthly — the automatic monthly report. Every tick (a minute; tests
// call tick() with the time they want) it makes the month that is due and not made yet (the
// files into reports.monthly.dir/<month>/, with the mail as sent, then one pending delivery per
// recipient in the store, in that order: a crash in between makes the month again at the next
// start, never twice after it was recorded), then sends the deliveries that are due, each
// retried with backoff until giveUpAfter; a 5xx refusal fails at once. Delivery is at least
// once: a send cut off by a stop is sent again (same Message-ID).

export interface ReportService {
  /** The accepted point stream: `backup_file` points are summed into the report store. */
  observe(points: readonly Point[]): void;
  /** Makes a due month and sends due mails, as of `now` (default: the clock). Ticks never overlap. */
  tick(now?: number): Promise<void>;
  close(): Promise<void>;
}

export interface ReportServiceOptions {
  log: Logger;
  env?: NodeJS.ProcessEnv;
  /** The clock; tests fix it. */
  now?: () => number;
  /** How often tick() runs by itself; 0: never (tests). */
  tickMs?: number;
}

const MONTH_MS = 31 * 86_400_000;
const DAY = 86_400_000;
/** A month that could not be made (a store unreadable) is tried again after this. */
const GENERATE_RETRY_MS = 10 * 60_000;
const MAIL_FILE = 'mail.json';
const LANGUAGES = { tr: ['tr'], en: ['en'], both: ['tr', 'en'] } as const;

interface Monthly {
  settings: NonNullable<CollectorConfig['reports']['monthly']>;
  setup: ReportMailSetup;
  mailer: ReportMailer;
  timezone: string;
  since: number;
}

export function startReportService(config: CollectorConfig, options: ReportServiceOptions): ReportService {
  const { log } = options;
  const clock = options.now ?? Date.now;
  const settings = config.reports.monthly?.enabled ? config.reports.monthly : undefined;
  // A bad recipient or channel stops the start, like any configuration error (named by its key).
  const setup = settings ? loadMailSetup(settings, config.alerts.notifyFile, options.env ?? process.env) : undefined;
  // Opened when first needed (a backup check arrives, or the monthly report runs): a collector
  // whose agents check no backups and that mails no report has no report store file.
  let opened: ReportStore | undefined;
  const db = () => (opened ??= ReportStore.open(config.reports.path));
  const keepMonths = settings?.keep ?? 24;
  let monthly: Monthly | undefined;
  if (settings && setup) {
    const timezone = settings.timezone ?? setup.notify.timezone;
    const since = Number(db().remember('monthly.since', String(clock())));
    monthly = { settings, setup, mailer: createReportMailer(setup.channelName, setup.channel), timezone, since };
    log.log('info', 'monthly report on', { at: settings.at.text, timezone, recipients: setup.recipients.length, channel: setup.channelName, next: new Date(nextRunTime(clock(), settings.at, timezone)).toISOString() });
  }

  let closed = false;
  const stopping = new AbortController();
  let running: Promise<void> = Promise.resolve();
  let prunedAt = 0;
  let generateAfter = 0;
  let observeFailures = 0;

  const prune = (now: number) => {
    if (now - prunedAt < DAY) return;
    prunedAt = now;
    opened?.pruneChecks(now - (keepMonths + 1) * MONTH_MS);
    if (!monthly || !existsSync(monthly.settings.dir)) return;
    const months = readdirSync(monthly.settings.dir).filter((name) => /^\d{4}-\d{2}$/.test(name)).sort();
    for (const old of months.slice(0, Math.max(0, months.length - monthly.settings.keep))) rmSync(join(monthly.settings.dir, old), { recursive: true, force: true });
  };

  /** The month's files and mail, on disk first, then recorded with its deliveries. */
  const generate = (m: Monthly, month: ReportMonth, now: number) => {
    const key = monthKey(month);
    const period = monthPeriod(month.year, month.month, m.timezone);
    const log_ = config.uptime.path !== ':memory:' && existsSync(config.uptime.path) ? readOutageLog(config.uptime.path, period) : { outages: [], targets: [] };
    const report = assembleReport({ month, period, timezone: m.timezone, now, ...log_, config, notify: m.setup.notify });
    const rendered = LANGUAGES[m.settings.language].map((language) => ({ language, report, files: renderReportFiles(report, language) }));
    const mail = composeReportMail(rendered, report.institution);
    const dir = join(m.settings.dir, key);
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    for (const file of mail.attachments) writeFileSync(join(dir, file.name), file.content, { mode: 0o640 });
    const { attachments, ...body } = mail;
    writeFileSync(join(dir, MAIL_FILE), JSON.stringify({ ...body, attachments: attachments.map(({ name, contentType }) => ({ name, contentType })) }, null, 2), { mode: 0o640 });
    db().recordReport({ month: key, generatedAt: now, dir, files: attachments.map((f) => f.name) }, m.setup.recipients, now);
    log.log('info', 'monthly report made', { month: key, dir, files: attachments.length, recipients: m.setup.recipients.length });
  };

  /** The mail as it was made, from the month's directory. */
  const readMail = (dir: string): ReportMail => {
    const saved = JSON.parse(readFileSync(join(dir, MAIL_FILE), 'utf8')) as Omit<ReportMail, 'attachments'> & { attachments: Omit<ReportFile, 'content'>[] };
    return { ...saved, attachments: saved.attachments.map((a) => ({ ...a, content: readFileSync(join(dir, a.name), 'utf8') })) };
  };

  const deliver = async (m: Monthly, now: number) => {
    for (const delivery of db().dueDeliveries(now)) {
      if (closed) return;
      const record = db().report(delivery.month);
      const name = m.setup.recipients.find((r) => r.address === delivery.address)?.name ?? delivery.address;
      // Addresses are personal data (KVKK): masked in logs, as alert mail's are.
      const who = isAddress(delivery.recipient) ? maskAddress(delivery.recipient) : delivery.recipient;
      let error: ReportDeliveryError | undefined;
      try {
        if (!record) throw new ReportDeliveryError(`no monthly report ${delivery.month} recorded`, true);
        const mail = readMail(record.dir);
        await m.mailer.send({ name, address: delivery.address }, mail, delivery.month, AbortSignal.any([AbortSignal.timeout(m.settings.timeoutMs), stopping.signal]));
      } catch (caught) {
        error = caught instanceof ReportDeliveryError ? caught : new ReportDeliveryError(`the report files of ${delivery.month} cannot be read: ${(caught as Error).message}`, true);
      }
      // Stopped mid-send: it stays pending and goes again at the next start.
      if (closed) return;
      const at = clock();
      if (!error) {
        db().markSent(delivery.id, at);
        log.log('info', 'monthly report mailed', { month: delivery.month, recipient: who });
        continue;
      }
      const next = nextAttempt({ ...m.settings.retry, giveUpAfter: m.settings.giveUpAfter }, delivery.attempts + 1, delivery.createdAt, at, error.permanent);
      db().markFailed(delivery.id, error.message, next);
      log.log(next === null ? 'error' : 'warn', next === null ? 'monthly report not mailed: given up' : 'monthly report mail failed, will retry', { month: delivery.month, recipient: who, error: error.message, ...(next === null ? {} : { retryAt: new Date(next).toISOString() }) });
    }
  };

  const runTick = async (now: number) => {
    if (closed) return;
    prune(now);
    if (!monthly) return;
    const month = dueMonth(now, monthly.settings.at, monthly.timezone, monthly.since);
    if (month && !db().report(monthKey(month)) && now >= generateAfter) {
      try {
        generate(monthly, month, now);
      } catch (error) {
        generateAfter = now + GENERATE_RETRY_MS;
        log.log('error', 'monthly report could not be made; trying again later', { month: monthKey(month), error: (error as Error).message, retryAt: new Date(generateAfter).toISOString() });
      }
    }
    await deliver(monthly, now);
  };

  const tick = (now = clock()) => {
    running = running.then(() => runTick(now)).catch((error: unknown) => log.log('error', 'report tick failed', { error: (error as Error).message }));
    return running;
  };

  const timer = options.tickMs === 0 ? undefined : setInterval(() => void tick(), options.tickMs ?? 60_000);
  timer?.unref();
  // A month missed while the collector was down is made now, not at the first tick.
  if (timer) void tick();

  return {
    observe(points) {
      if (closed) return;
      try {
        if (opened || points.some((p) => p.measurement === 'backup_file')) db().observe(points);
      } catch (error) {
        // The ingest path never fails for the report's sake; the first few are logged.
        if (observeFailures++ < 5) log.log('error', 'backup checks not summed into the report store', { error: (error as Error).message });
      }
    },
    tick,
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      stopping.abort();
      await running;
      monthly?.mailer.close();
      opened?.close();
    },
  };
}
