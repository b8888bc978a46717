import { existsSync } from 'node:fs';
import { AlertStore, type MaintenanceEntry } from '../alerts/alert-store.ts';
import type { NotifyFile } from '../alerts/notify-config.ts';
import { HeartbeatStore } from '../backups/heartbeat-store.ts';
import { loadBackupJobs, type BackupJob } from '../backups/jobs.ts';
import type { CollectorConfig } from '../config.ts';
import type { Language } from '../devices/driver.ts';
import { DeviceRegistry } from '../registry/device-registry.ts';
import { selfBackupJob } from '../state-backup/self-backup.ts';
import { maintenanceInPeriod, type Interval } from '../uptime/availability.ts';
import { buildMonthlyReport, DEFAULT_REPORT_KINDS, renderCsv, renderHtml, reportFileNames, type MonthlyReport, type ReportMonth } from '../uptime/monthly-report.ts';
import { DEFAULT_CAUSE_GRACE_MS, OutageLog, POWER_RULES, type CauseContext, type Outage, type OutageTarget } from '../uptime/outage-log.ts';
import { agentCheckMonths, heartbeatJobMonth, type BackupsSection } from './backups-section.ts';
import { ReportStore } from './report-store.ts';

// What a monthly report is made of, read from the collector's stores (the outage log, the device
// registry, the alert store, the heartbeat store, the report store) and rendered into its files.
// Shared by `izleme report` / collector/report.ts and the collector's automatic monthly report.
// Stores are opened, read and closed; nothing is written to them (a missing one counts as empty).

const usable = (path: string) => path !== ':memory:' && existsSync(path);

/** The month's outages (and a little before it: upstream outages explain outages at its start) and every target the log knows. */
export function readOutageLog(path: string, period: Interval): { outages: Outage[]; targets: OutageTarget[] } {
  const log = OutageLog.open(path, { readOnly: true });
  try {
    return { outages: log.outages({ from: period.from - DEFAULT_CAUSE_GRACE_MS, to: period.to }), targets: log.targets() };
  } finally {
    log.close();
  }
}

/** Every device the registry knows, so that one never down still gets its 100 %; none when the registry does not exist (yet). */
export function registryTargets(config: CollectorConfig): OutageTarget[] {
  if (!usable(config.registry.path)) return [];
  const registry = DeviceRegistry.open(config.registry.path, { heartbeatTimeoutS: config.registry.heartbeatTimeoutS });
  try {
    return registry.list().map(({ site, device, kind }) => ({ site, device, kind }));
  } finally {
    registry.close();
  }
}

/** From the alert store: ad-hoc maintenance windows, and the UPS alerts of these sites (outage causes). */
export function alertStoreData(config: CollectorConfig, from: number, sites: ReadonlySet<string>): { adHoc: MaintenanceEntry[]; alerts: CauseContext['alerts'] } {
  if (!config.alerts.enabled || !usable(config.alerts.path)) return { adHoc: [], alerts: [] };
  const store = AlertStore.open(config.alerts.path);
  try {
    // The store lists the latest 1,000 episodes a site had: plenty for the UPS alerts of a month.
    const alerts = [...sites].flatMap((site) =>
      store
        .list({ site, limit: 1_000 })
        .filter((a) => POWER_RULES.includes(a.rule) && a.firedAt !== null)
        .map((a) => ({ site: a.labels.site, device: a.labels.device, rule: a.rule, from: a.since, to: a.resolvedAt })),
    );
    return { adHoc: store.maintenance(from), alerts };
  } finally {
    store.close();
  }
}

/** The heartbeat jobs the collector watches: backups.yaml's and its own nightly state backup. */
function backupJobs(config: CollectorConfig): BackupJob[] {
  return [...(config.backups.file ? loadBackupJobs(config.backups.file) : []), ...(config.selfBackup ? [selfBackupJob(config.selfBackup)] : [])];
}

/** Runs the heartbeat store keeps per job (its own bound): all of them are read. */
const ALL_RUNS = 2_000;

/**
 * The backups section: every heartbeat job's month from the heartbeat store, and the agents'
 * file checks from the report store. null when neither store exists (nothing is verified).
 */
export function readBackupsSection(config: CollectorConfig, period: Interval, now: number): BackupsSection | null {
  const heartbeats = usable(config.backups.path);
  const checks = usable(config.reports.path);
  if (!heartbeats && !checks) return null;
  const section: BackupsSection = { jobs: [], checks: [] };
  if (heartbeats) {
    const jobs = backupJobs(config);
    const store = HeartbeatStore.open(config.backups.path);
    try {
      section.jobs = jobs.map((job) => heartbeatJobMonth(job, store.runs(job.id, ALL_RUNS), store.drills(job.id, ALL_RUNS), period, now, store.knownSince(job.id, now)));
    } finally {
      store.close();
    }
    section.jobs.sort((a, b) => a.site.localeCompare(b.site) || a.job.localeCompare(b.job));
  }
  if (checks) {
    const store = ReportStore.open(config.reports.path);
    try {
      section.checks = agentCheckMonths(store.checkHours(period.from, Math.min(period.to, now)));
    } finally {
      store.close();
    }
  }
  return section;
}

export interface AssembleInput {
  month: ReportMonth;
  period: Interval;
  timezone: string;
  now: number;
  outages: readonly Outage[];
  targets: readonly OutageTarget[];
  config?: CollectorConfig | undefined;
  notify?: NotifyFile | undefined;
  site?: string | undefined;
  kinds?: readonly string[] | undefined;
}

/** The report from what was read: with a configuration also the registry's targets, the alert store's windows and causes, the backups and the institution. */
export function assembleReport(input: AssembleInput): MonthlyReport {
  const { config, notify, period } = input;
  const targets = [...input.targets, ...(config ? registryTargets(config) : [])];
  const stores = config ? alertStoreData(config, period.from, new Set(targets.map((t) => t.site))) : { adHoc: [], alerts: [] };
  return buildMonthlyReport({
    month: input.month,
    period,
    timezone: input.timezone,
    now: input.now,
    outages: input.outages,
    targets,
    maintenance: maintenanceInPeriod(notify?.maintenance ?? [], stores.adHoc, period.from, period.to, input.timezone),
    causes: { alerts: stores.alerts, dependencies: notify?.dependencies ?? [], graceMs: DEFAULT_CAUSE_GRACE_MS },
    ...(input.site === undefined ? {} : { site: input.site }),
    kinds: input.kinds ?? DEFAULT_REPORT_KINDS,
    backups: config ? readBackupsSection(config, period, input.now) : null,
    institution: config?.reports.institution ?? null,
  });
}

export interface ReportFile {
  name: string;
  /** text/html or text/csv, UTF-8. */
  contentType: string;
  content: string;
}

/** The HTML page and the two CSV files of one language. */
export function renderReportFiles(report: MonthlyReport, language: Language): ReportFile[] {
  const names = reportFileNames(report.month, language, report.site ?? undefined);
  const csv = renderCsv(report, { language });
  return [
    { name: names.html, contentType: 'text/html; charset=utf-8', content: renderHtml(report, { language }) },
    { name: names.availability, contentType: 'text/csv; charset=utf-8', content: csv.availability },
    { name: names.outages, contentType: 'text/csv; charset=utf-8', content: csv.outages },
  ];
}
