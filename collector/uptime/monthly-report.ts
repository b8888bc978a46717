import { z } from 'zod';
import { DEVICE_KINDS } from '../../src/contract/schemas.ts';
import { wallClock } from '../alerts/routing.ts';
import type { Language } from '../devices/driver.ts';
import type { AgentCheckMonth, BackupsSection, HeartbeatJobMonth } from '../reports/backups-section.ts';
import { availability, localDays, siteAvailability, windowsFor, type Availability, type Interval, type ScopedWindow } from './availability.ts';
import { outageCause, type CauseContext, type Outage, type OutageCause, type OutageTarget } from './outage-log.ts';

// The monthly availability report of the IT department, per site and for the whole department,
// as data (buildMonthlyReport) and as files a department attaches to its activity report: one
// self-contained, print-friendly HTML page and CSV files for Excel, in Turkish or English.
// The figures and their definitions are availability.ts's; this module only selects and lays out.

export const monthSchema = z.string().transform((text, ctx) => {
  const match = /^(\d{4})-(\d{2})$/.exec(text);
  const month = Number(match?.[2]);
  if (!match || month < 1 || month > 12) {
    ctx.addIssue({ code: 'custom', message: `expected a month like "2026-11", got "${text}"` });
    return z.NEVER;
  }
  return { year: Number(match[1]), month };
});
export type ReportMonth = z.output<typeof monthSchema>;

/** Workstations, kiosks, terminals and printers are switched off after hours: their "outages" are no SLA matter. */
export const DEFAULT_REPORT_KINDS: readonly string[] = DEVICE_KINDS.filter((k) => !['pc', 'kiosk', 'terminal', 'printer'].includes(k));


export interface ReportInput {
  month: ReportMonth;
  /** The month's bounds: monthPeriod() in the department's time zone. */
  period: Interval;
  timezone: string;
  /** A running month is measured until now. */
  now: number;
  /** Every target to report, also those never down (outages add the ones missing here). */
  targets: readonly OutageTarget[];
  /** Outages overlapping the month, and a little before it (other kinds and sites too: they judge causes). */
  outages: readonly Outage[];
  maintenance: readonly ScopedWindow[];
  /** For outages whose cause was never stored. */
  causes: Omit<CauseContext, 'outages'>;
  /** Only this site (no department summary). */
  site?: string;
  kinds?: readonly string[];
  /** Backup verification's month (reports/backups-section.ts); none: the section shows "—". */
  backups?: BackupsSection | null;
  /** The institution's name, on the title: "Örnekköy Belediyesi". */
  institution?: string | null;
}

export interface DayFigures {
  /** Local date, "2026-11-29". */
  date: string;
  figures: Availability;
  outages: number;
}

export interface TargetReport extends OutageTarget {
  figures: Availability;
  /** Outages with unplanned downtime in the month (one wholly inside a window is listed, not counted). */
  outages: number;
  days: DayFigures[];
}

export interface ReportedOutage extends Omit<Outage, 'cause'> {
  cause: OutageCause;
  /** Unplanned downtime of this outage within the month. */
  countedMs: number;
}

export interface SiteReport {
  site: string;
  /** null: the site has no link or service target (availability.ts's definition). */
  figures: (Availability & { basis: 'links' | 'services' }) | null;
  days: DayFigures[] | null;
  targets: TargetReport[];
  outages: ReportedOutage[];
}

export interface DepartmentFigures {
  /** Site time summed over the sites with a figure: their availability weighted by measured time. */
  figures: Availability | null;
  outages: number;
  sites: number;
}

export interface MonthlyReport {
  month: ReportMonth;
  timezone: string;
  /** The month, ending at now while it runs. */
  period: Interval;
  generatedAt: number;
  /** The one site reported, null for the whole department. */
  site: string | null;
  sites: SiteReport[];
  /** null for a one-site report. */
  department: DepartmentFigures | null;
  /** null: no backup verification data was given. */
  backups: BackupsSection | null;
  institution: string | null;
}

const hadDowntime = (f: Availability) => f.downMs > 0;

export function buildMonthlyReport(input: ReportInput): MonthlyReport {
  const period = { from: input.period.from, to: Math.min(input.period.to, input.now) };
  if (period.to <= period.from) throw new RangeError('the month has not begun');
  const kinds = new Set(input.kinds ?? DEFAULT_REPORT_KINDS);
  const wanted = (t: OutageTarget) => kinds.has(t.kind) && (input.site === undefined || t.site === input.site);
  const key = (t: { site: string; device: string }) => `${t.site}/${t.device}`;

  const inPeriod = (o: Outage) => o.start < period.to && (o.end === null || o.end > period.from);
  const targets = new Map<string, OutageTarget>();
  for (const t of [...input.outages.filter(inPeriod), ...input.targets]) if (wanted(t)) targets.set(key(t), { site: t.site, device: t.device, kind: t.kind });
  const outagesOf = new Map<string, Outage[]>();
  for (const o of input.outages) if (targets.has(key(o)) && inPeriod(o)) outagesOf.set(key(o), [...(outagesOf.get(key(o)) ?? []), o]);
  const days = localDays(period.from, period.to, input.timezone);
  const causeContext: CauseContext = { ...input.causes, outages: input.outages };

  const siteIds = [...new Set([...targets.values()].map((t) => t.site))].sort();
  const sites = siteIds.map((site): SiteReport => {
    const members = [...targets.values()].filter((t) => t.site === site).sort((a, b) => a.device.localeCompare(b.device));
    const siteWindows = windowsFor(input.maintenance, site);
    const reports: TargetReport[] = [];
    const listed: ReportedOutage[] = [];
    for (const t of members) {
      const outages = outagesOf.get(key(t)) ?? [];
      const maintenance = windowsFor(input.maintenance, site, t.device);
      const perOutage = outages.map((o) => ({ o, counted: availability({ outages: [o], ...period, maintenance }) }));
      listed.push(...perOutage.map(({ o, counted: c }) => ({ ...o, cause: o.cause ?? outageCause(o, causeContext), countedMs: c.downMs })));
      reports.push({
        ...t,
        figures: availability({ outages, ...period, maintenance }),
        outages: perOutage.filter((p) => hadDowntime(p.counted)).length,
        days: days.map((d) => ({
          date: d.date,
          figures: availability({ outages, from: d.from, to: d.to, maintenance }),
          outages: outages.filter((o) => hadDowntime(availability({ outages: [o], from: d.from, to: d.to, maintenance }))).length,
        })),
      });
    }
    const siteMembers = members.map((t) => ({ kind: t.kind, outages: outagesOf.get(key(t)) ?? [], maintenance: windowsFor(input.maintenance, site, t.device) }));
    const figures = siteAvailability({ members: siteMembers, ...period, maintenance: siteWindows });
    return {
      site,
      figures,
      days: figures && days.map((d) => ({ date: d.date, figures: siteAvailability({ members: siteMembers, from: d.from, to: d.to, maintenance: siteWindows })!, outages: reports.reduce((n, r) => n + r.days.find((x) => x.date === d.date)!.outages, 0) })),
      targets: reports,
      outages: listed.sort((a, b) => a.start - b.start || a.device.localeCompare(b.device)),
    };
  });

  return { month: input.month, timezone: input.timezone, period, generatedAt: input.now, site: input.site ?? null, sites, department: input.site === undefined ? departmentFigures(sites) : null, backups: filterBackups(input.backups ?? null, input.site), institution: input.institution ?? null };
}

/** A one-site report shows that site's backups only. */
function filterBackups(section: BackupsSection | null, site: string | undefined): BackupsSection | null {
  if (section === null || site === undefined) return section;
  return { jobs: section.jobs.filter((j) => j.site === site), checks: section.checks.filter((c) => c.site === site) };
}

function departmentFigures(sites: readonly SiteReport[]): DepartmentFigures {
  const measured = sites.flatMap((s) => (s.figures ? [s.figures] : []));
  const outages = sites.reduce((n, s) => n + s.targets.reduce((m, t) => m + t.outages, 0), 0);
  if (measured.length === 0) return { figures: null, outages, sites: 0 };
  const sum = (pick: (f: Availability) => number) => measured.reduce((n, f) => n + pick(f), 0);
  const [totalMs, downMs, excludedMs] = [sum((f) => f.totalMs), sum((f) => f.downMs), sum((f) => f.excludedMs)];
  const base = totalMs - excludedMs;
  return { figures: { totalMs, downMs, excludedMs, longestMs: Math.max(...measured.map((f) => f.longestMs)), availabilityPct: base > 0 ? ((base - downMs) / base) * 100 : null }, outages, sites: measured.length };
}

// ── Rendering ─────────────────────────────────────────────────────────────────────────────────

const MONTHS = {
  tr: ['Ocak', 'Şubat', 'Mart', 'Nisan', 'Mayıs', 'Haziran', 'Temmuz', 'Ağustos', 'Eylül', 'Ekim', 'Kasım', 'Aralık'],
  en: ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'],
} as const satisfies Record<Language, readonly string[]>;

const TEXT = {
  tr: {
    title: 'Erişilebilirlik Raporu',
    period: 'Dönem',
    generated: 'Oluşturulma',
    department: 'Daire geneli',
    site: 'Yerleşke',
    sites: 'Yerleşkeler',
    links: 'İnternet hatları',
    targets: 'Hedefler (servisler ve cihazlar)',
    daily: 'Günlük erişilebilirlik',
    outageList: 'Kesintiler',
    target: 'Hedef',
    kind: 'Tür',
    availability: 'Erişilebilirlik',
    outages: 'Kesinti sayısı',
    targetOutages: 'Hedef kesintileri',
    downtime: 'Toplam kesinti',
    longest: 'En uzun kesinti',
    maintenance: 'Planlı bakım',
    date: 'Tarih',
    start: 'Başlangıç',
    end: 'Bitiş',
    duration: 'Süre',
    countedTime: 'Sayılan süre',
    cause: 'Neden',
    reason: 'Açıklama',
    ongoing: 'sürüyor',
    none: 'Bu dönemde kesinti yok.',
    noFigure: 'Yerleşkenin hattı ya da servis hedefi yok: yerleşke erişilebilirliği hesaplanmaz.',
    basis: { links: 'tüm hatları kesikken yerleşke kesik sayılır', services: 'herhangi bir servisi kesikken yerleşke kesik sayılır' },
    causes: { power: 'Elektrik (UPS)', link: 'Hat', device: 'Cihaz' },
    backups: 'Yedeklemeler',
    heartbeatJobs: 'Zamanlanmış yedekleme işleri (çalışma bildirimleri)',
    job: 'Yedekleme işi',
    succeeded: 'Başarılı',
    failed: 'Başarısız',
    missed: 'Kaçırılan',
    lastSuccess: 'Son başarılı',
    drills: 'Geri yükleme tatbikatı',
    lastDrill: 'Son tatbikat',
    drillCounts: (passed: number, failed: number) => `${passed} başarılı, ${failed} başarısız`,
    drillResult: { passed: 'başarılı', failed: 'başarısız' },
    fileChecks: 'Yedek dosyası denetimleri (ajanlar)',
    device: 'Cihaz',
    checks: 'Denetim',
    okShare: 'Sorunsuz',
    problems: 'Sorunlar',
    lastOk: 'Son sorunsuz',
    lastStatus: 'Son durum',
    statuses: { ok: 'sorunsuz', missed: 'güncel değil', too_small: 'boyutu küçük', checksum_bad: 'sağlama toplamı tutmuyor', unreadable: 'okunamıyor', no_file: 'dosya yok', other: 'diğer' },
    noBackups: 'Bu dönem için yedekleme doğrulaması verisi yok.',
    definitions: 'Tanımlar',
    definitionItems: [
      'Erişilebilirlik = (dönem − planlı bakım − plansız kesinti) / (dönem − planlı bakım). Planlı bakım pencereleri hem dönemden hem kesinti süresinden çıkarılır; üst üste binen kesintiler ve pencereler bir kez sayılır.',
      'Yerleşke, tüm internet hatları kesikken kesik sayılır (tek hattın düşmesi yedekliliğin işlediğini gösterir); hattı olmayan yerleşke, servislerinden herhangi biri kesikken kesik sayılır. Kesik hedeflerin hepsi kendi bakım penceresindeyken geçen süre planlıdır.',
      'Daire geneli: yerleşkelerin ölçülen sürelerinin toplamı üzerinden hesaplanır (her yerleşke ölçülen süresi kadar ağırlık taşır).',
      'Neden: yerleşkenin UPS’i kesinti başladığında aküdeyse “Elektrik”, hedef bir internet hattıysa ya da yerleşkenin üst bağlantısı o sırada kesikse “Hat”, değilse “Cihaz”.',
      'Ay sınırları ve saatler yerel saatledir; yüzdeler aşağı yuvarlanır (kesintisi olan hedef %100 görünmez). İş istasyonları, kiosklar, terminaller ve yazıcılar raporda yer almaz.',
      'Yedeklemeler: “Kaçırılan”, zamanı geldiği hâlde payı (grace) içinde hiç bildirim gelmeyen çalışmadır; başarısız bildirimler ayrıca sayılır. Tatbikatlar ay içindeki geri yükleme denemeleridir. Dosya denetimlerinde “Sorunsuz”, ajanın ay içindeki denetimlerinden en yeni yedeği güncel, boyutu olağan ve sağlaması doğru bulanların payıdır.',
    ],
  },
  en: {
    title: 'Availability Report',
    period: 'Period',
    generated: 'Generated',
    department: 'Whole department',
    site: 'Site',
    sites: 'Sites',
    links: 'Internet lines',
    targets: 'Targets (services and devices)',
    daily: 'Daily availability',
    outageList: 'Outages',
    target: 'Target',
    kind: 'Kind',
    availability: 'Availability',
    outages: 'Outages',
    targetOutages: 'Target outages',
    downtime: 'Total downtime',
    longest: 'Longest outage',
    maintenance: 'Planned maintenance',
    date: 'Date',
    start: 'Start',
    end: 'End',
    duration: 'Duration',
    countedTime: 'Counted',
    cause: 'Cause',
    reason: 'Reason',
    ongoing: 'ongoing',
    none: 'No outages in this period.',
    noFigure: 'The site has no internet line or service target: no site availability is computed.',
    basis: { links: 'the site is down while all its lines are down', services: 'the site is down while any of its services is down' },
    causes: { power: 'Power (UPS)', link: 'Link', device: 'Device' },
    backups: 'Backups',
    heartbeatJobs: 'Scheduled backup jobs (heartbeats)',
    job: 'Backup job',
    succeeded: 'Succeeded',
    failed: 'Failed',
    missed: 'Missed',
    lastSuccess: 'Last success',
    drills: 'Restore drills',
    lastDrill: 'Last drill',
    drillCounts: (passed: number, failed: number) => `${passed} passed, ${failed} failed`,
    drillResult: { passed: 'passed', failed: 'failed' },
    fileChecks: 'Backup file checks (agents)',
    device: 'Device',
    checks: 'Checks',
    okShare: 'OK',
    problems: 'Problems',
    lastOk: 'Last OK',
    lastStatus: 'Last status',
    statuses: { ok: 'ok', missed: 'out of date', too_small: 'too small', checksum_bad: 'checksum mismatch', unreadable: 'unreadable', no_file: 'no file', other: 'other' },
    noBackups: 'No backup verification data for this period.',
    definitions: 'Definitions',
    definitionItems: [
      'Availability = (period − planned maintenance − unplanned downtime) / (period − planned maintenance). Planned maintenance windows are taken out of both the period and the downtime; overlapping outages and windows count once.',
      'A site is down while all of its internet lines are down (one line failing is the redundancy at work); a site without lines is down while any of its services is down. Time when every target that is down is in its own maintenance window is planned.',
      'Whole department: computed over the sum of the sites’ measured time (each site weighs as much as its measured time).',
      'Cause: “Power” when the site’s UPS was on battery as the outage began, “Link” when the target is an internet line or the site’s uplink was down then, otherwise “Device”.',
      'Month boundaries and times are local; percentages are rounded down (a target with any downtime never shows 100 %). Workstations, kiosks, terminals and printers are not in the report.',
      'Backups: “Missed” counts scheduled runs that reported nothing within their grace; failed reports are counted separately. Drills are the month’s restore tests. In file checks, “OK” is the share of the agent’s checks in the month that found the newest backup recent, of the usual size and intact.',
    ],
  },
} as const satisfies Record<Language, unknown>;

export interface RenderOptions {
  language: Language;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** Turkish: "29.11.2026 10:00"; English: "2026-11-29 10:00" (unambiguous to either reader). */
function formatTime(at: number, timezone: string, language: Language, withTime = true): string {
  const d = new Date(wallClock(at, timezone).ms);
  const [y, m, day] = [d.getUTCFullYear(), pad(d.getUTCMonth() + 1), pad(d.getUTCDate())];
  const date = language === 'tr' ? `${day}.${m}.${y}` : `${y}-${m}-${day}`;
  return withTime ? `${date} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}` : date;
}

const formatDate = (isoDate: string, language: Language) => (language === 'tr' ? isoDate.split('-').reverse().join('.') : isoDate);

/** Rounded down to 3 decimals: 99.9996 must not read as 100. The epsilon keeps 99.95 from turning into 99.949 by float error. */
const floor3 = (pct: number) => Math.floor(pct * 1000 + 1e-6) / 1000;

export function formatPct(pct: number | null, language: Language): string {
  if (pct === null) return '—';
  return new Intl.NumberFormat(language === 'tr' ? 'tr-TR' : 'en-GB', { style: 'percent', minimumFractionDigits: 3, maximumFractionDigits: 3 }).format(floor3(pct) / 100);
}

function formatDuration(ms: number, language: Language): string {
  const seconds = Math.round(ms / 1000);
  const units = language === 'tr' ? ['g', 'sa', 'dk', 'sn'] : ['d', 'h', 'min', 's'];
  if (seconds === 0) return `0 ${units[2]}`;
  if (seconds < 60) return `${seconds} ${units[3]}`;
  const parts = [Math.floor(seconds / 86_400), Math.floor((seconds % 86_400) / 3600), Math.floor((seconds % 3600) / 60)];
  const shown = parts.map((n, i) => (n > 0 ? `${n} ${units[i]}` : '')).filter(Boolean);
  return shown.join(' ');
}

export const monthTitle = (month: ReportMonth, language: Language) => `${MONTHS[language][month.month - 1]} ${month.year}`;

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const CSS = `
  body { font-family: "DejaVu Sans", "Segoe UI", Arial, sans-serif; font-size: 10pt; color: #111; margin: 2em; }
  h1 { font-size: 16pt; margin-bottom: 0.2em; } h2 { font-size: 13pt; margin-top: 1.6em; border-bottom: 1px solid #888; }
  h3 { font-size: 11pt; margin-bottom: 0.3em; } .meta { color: #444; }
  table { border-collapse: collapse; margin: 0.4em 0 1em; } th, td { border: 1px solid #aaa; padding: 2px 6px; text-align: left; vertical-align: top; }
  th { background: #eee; } td.num, th.num { text-align: right; white-space: nowrap; } tr.total td { font-weight: bold; }
  .figure { font-size: 12pt; }
  @page { size: A4; margin: 15mm; }
  thead { display: table-header-group; }
  @media print { body { margin: 0; } tr { break-inside: avoid; } h2, h3, p.figure { break-after: avoid-page; } }`;

type Cell = { text: string; num?: boolean };
const cell = (text: string, num = false): Cell => ({ text, num });

function table(head: readonly Cell[], rows: readonly (readonly Cell[])[], totalRow?: readonly Cell[]): string {
  const td = (c: Cell, tag: 'td' | 'th') => `<${tag}${c.num ? ' class="num"' : ''}>${escapeHtml(c.text)}</${tag}>`;
  const body = rows.map((r) => `<tr>${r.map((c) => td(c, 'td')).join('')}</tr>`).join('\n');
  const total = totalRow ? `\n<tr class="total">${totalRow.map((c) => td(c, 'td')).join('')}</tr>` : '';
  return `<table>\n<thead><tr>${head.map((c) => td(c, 'th')).join('')}</tr></thead>\n<tbody>\n${body}${total}\n</tbody>\n</table>`;
}

function renderSite(site: SiteReport, report: MonthlyReport, language: Language): string {
  const t = TEXT[language];
  const pct = (f: Availability | null) => cell(formatPct(f?.availabilityPct ?? null, language), true);
  const dur = (ms: number) => cell(formatDuration(ms, language), true);
  const targetTable = (list: TargetReport[]) =>
    table(
      [cell(t.target), cell(t.kind), cell(t.availability, true), cell(t.outages, true), cell(t.downtime, true), cell(t.longest, true), cell(t.maintenance, true)],
      list.map((r) => [cell(r.device), cell(r.kind), pct(r.figures), cell(String(r.outages), true), dur(r.figures.downMs), dur(r.figures.longestMs), dur(r.figures.excludedMs)]),
    );
  const links = site.targets.filter((r) => r.kind === 'link');
  const others = site.targets.filter((r) => r.kind !== 'link');
  const summary = site.figures
    ? `<p class="figure">${t.availability}: <strong>${escapeHtml(formatPct(site.figures.availabilityPct, language))}</strong> — ${escapeHtml(t.downtime)}: ${escapeHtml(formatDuration(site.figures.downMs, language))}, ${escapeHtml(t.longest)}: ${escapeHtml(formatDuration(site.figures.longestMs, language))} (${escapeHtml(t.basis[site.figures.basis])})</p>`
    : `<p>${escapeHtml(t.noFigure)}</p>`;
  const daily = site.days
    ? `<h3>${t.daily}</h3>\n${table(
        [cell(t.date), cell(t.availability, true), cell(t.downtime, true), cell(t.outages, true)],
        site.days.map((d) => [cell(formatDate(d.date, language)), pct(d.figures), dur(d.figures.downMs), cell(String(d.outages), true)]),
      )}`
    : '';
  const outageRows = site.outages.map((o) => [
    cell(o.device),
    cell(formatTime(o.start, report.timezone, language)),
    cell(o.end === null ? t.ongoing : formatTime(o.end, report.timezone, language)),
    dur((o.end ?? report.generatedAt) - o.start),
    dur(o.countedMs),
    cell(t.causes[o.cause]),
    cell(o.reason),
  ]);
  const outages = outageRows.length ? table([cell(t.target), cell(t.start), cell(t.end), cell(t.duration, true), cell(t.countedTime, true), cell(t.cause), cell(t.reason)], outageRows) : `<p>${t.none}</p>`;
  return `<section class="site" id="site-${escapeHtml(site.site)}">
<h2>${t.site}: ${escapeHtml(site.site)}</h2>
${summary}
${links.length ? `<h3>${t.links}</h3>\n${targetTable(links)}` : ''}
${others.length ? `<h3>${t.targets}</h3>\n${targetTable(others)}` : ''}
${daily}
<h3>${t.outageList}</h3>
${outages}
</section>`;
}

function renderDepartment(report: MonthlyReport, department: DepartmentFigures, language: Language): string {
  const t = TEXT[language];
  const pct = (f: Availability | null) => cell(formatPct(f?.availabilityPct ?? null, language), true);
  const dur = (f: Availability | null, pick: (f: Availability) => number) => cell(f ? formatDuration(pick(f), language) : '—', true);
  const rows = report.sites.map((s) => [cell(s.site), pct(s.figures), cell(String(s.targets.reduce((n, r) => n + r.outages, 0)), true), dur(s.figures, (f) => f.downMs), dur(s.figures, (f) => f.longestMs)]);
  const total = [cell(t.department), pct(department.figures), cell(String(department.outages), true), dur(department.figures, (f) => f.downMs), dur(department.figures, (f) => f.longestMs)];
  return `<section class="department">
<h2>${t.department}</h2>
${table([cell(t.site), cell(t.availability, true), cell(t.targetOutages, true), cell(t.downtime, true), cell(t.longest, true)], rows, total)}
</section>`;
}

const CHECK_PROBLEMS = ['missed', 'too_small', 'checksum_bad', 'unreadable', 'no_file', 'other'] as const;

/** "%99,5" / "99.5 %": a share of checks, rounded down to one decimal (any problem keeps it below 100). */
function formatShare(part: number, whole: number, language: Language): string {
  if (whole === 0) return '—';
  const share = Math.floor((part / whole) * 1000 + 1e-6) / 1000;
  return new Intl.NumberFormat(language === 'tr' ? 'tr-TR' : 'en-GB', { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(share);
}

function heartbeatTable(jobs: readonly HeartbeatJobMonth[], report: MonthlyReport, language: Language): string {
  const t = TEXT[language];
  const time = (at: number | null) => (at === null ? '—' : formatTime(at, report.timezone, language));
  const rows = jobs.map((j) => [
    cell(j.description ? `${j.job} (${j.description})` : j.job),
    cell(j.site),
    cell(String(j.succeeded), true),
    cell(String(j.failed), true),
    cell(String(j.missed), true),
    cell(time(j.lastSuccess)),
    cell(t.drillCounts(j.drillsPassed, j.drillsFailed)),
    cell(j.lastDrill ? `${time(j.lastDrill.at)} (${t.drillResult[j.lastDrill.result]})` : '—'),
  ]);
  return table([cell(t.job), cell(t.site), cell(t.succeeded, true), cell(t.failed, true), cell(t.missed, true), cell(t.lastSuccess), cell(t.drills), cell(t.lastDrill)], rows);
}

function checksTable(checks: readonly AgentCheckMonth[], report: MonthlyReport, language: Language): string {
  const t = TEXT[language];
  const problems = (c: AgentCheckMonth) => CHECK_PROBLEMS.flatMap((s) => (c.byStatus[s] ? [`${t.statuses[s]}: ${c.byStatus[s]}`] : [])).join(', ') || '—';
  const status = (s: string) => (s in t.statuses ? t.statuses[s as keyof typeof t.statuses] : s);
  const rows = checks.map((c) => [
    cell(c.site),
    cell(c.device),
    cell(c.job),
    cell(String(c.checks), true),
    cell(formatShare(c.byStatus.ok ?? 0, c.checks, language), true),
    cell(problems(c)),
    cell(c.lastOk === null ? '—' : formatTime(c.lastOk, report.timezone, language)),
    cell(c.lastDetail && c.lastStatus !== 'ok' ? `${status(c.lastStatus)}: ${c.lastDetail}` : status(c.lastStatus)),
  ]);
  return table([cell(t.site), cell(t.device), cell(t.job), cell(t.checks, true), cell(t.okShare, true), cell(t.problems), cell(t.lastOk), cell(t.lastStatus)], rows);
}

function renderBackups(report: MonthlyReport, language: Language): string {
  const t = TEXT[language];
  const section = report.backups;
  const parts: string[] = [];
  if (section?.jobs.length) parts.push(`<h3>${t.heartbeatJobs}</h3>\n${heartbeatTable(section.jobs, report, language)}`);
  if (section?.checks.length) parts.push(`<h3>${t.fileChecks}</h3>\n${checksTable(section.checks, report, language)}`);
  // Nothing to show (no backup verification configured, or nothing reported): one row of dashes.
  if (parts.length === 0) parts.push(`<p>${t.noBackups}</p>\n${table([cell(t.job), cell(t.lastSuccess), cell(t.drills)], [[cell('—'), cell('—'), cell('—')]])}`);
  return `<!-- Yedeklemeler / Backups -->
<section class="backups" id="yedeklemeler">
<h2>${t.backups}</h2>
${parts.join('\n')}
</section>`;
}

export function renderHtml(report: MonthlyReport, options: RenderOptions): string {
  const { language } = options;
  const t = TEXT[language];
  const title = `${report.institution === null ? '' : `${report.institution} — `}${t.title} — ${monthTitle(report.month, language)}${report.site === null ? '' : ` — ${report.site}`}`;
  const period = `${formatTime(report.period.from, report.timezone, language)} – ${formatTime(report.period.to, report.timezone, language)} (${report.timezone})`;
  return `<!doctype html>
<html lang="${language}">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>${CSS}
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="meta">${t.period}: ${escapeHtml(period)} · ${t.generated}: ${escapeHtml(formatTime(report.generatedAt, report.timezone, language))}</p>
${report.department ? renderDepartment(report, report.department, language) : ''}
${report.sites.map((s) => renderSite(s, report, language)).join('\n')}
${renderBackups(report, language)}
<section class="definitions">
<h2>${t.definitions}</h2>
<ul>
${t.definitionItems.map((d) => `<li>${escapeHtml(d)}</li>`).join('\n')}
</ul>
</section>
</body>
</html>
`;
}

// ── CSV ─────────────────────────────────────────────────────────────────────────────────────────
// For Excel as Turkish offices run it: UTF-8 with a byte order mark (without it Excel reads
// "Erişilebilirlik" as Windows-1254 mojibake), ";" between fields (Turkish Excel takes "," as the
// decimal separator, so it splits CSV on ";"), decimal commas in the Turkish file, CRLF lines.

const CSV_HEAD = {
  tr: {
    availability: ['Kapsam', 'Yerleşke', 'Hedef', 'Tür', 'Dönem', 'Süre (dk)', 'Planlı bakım (dk)', 'Kesinti (dk)', 'Erişilebilirlik (%)', 'Kesinti sayısı', 'En uzun kesinti (dk)'],
    outages: ['Yerleşke', 'Hedef', 'Tür', 'Başlangıç', 'Bitiş', 'Süre (dk)', 'Sayılan (dk)', 'Neden', 'Açıklama'],
    scope: { department: 'Daire', site: 'Yerleşke', target: 'Hedef' },
  },
  en: {
    availability: ['Scope', 'Site', 'Target', 'Kind', 'Period', 'Period (min)', 'Planned maintenance (min)', 'Downtime (min)', 'Availability (%)', 'Outages', 'Longest outage (min)'],
    outages: ['Site', 'Target', 'Kind', 'Start', 'End', 'Duration (min)', 'Counted (min)', 'Cause', 'Reason'],
    scope: { department: 'Department', site: 'Site', target: 'Target' },
  },
} as const satisfies Record<Language, unknown>;

const CSV_SEPARATOR = ';';
const BOM = '\uFEFF';

/** Quoted when it holds the separator, a quote or a line break; a text starting like a formula (=, +, -, @) is defused with a leading apostrophe. */
function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[;"\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

const csv = (rows: readonly (readonly string[])[]) => BOM + rows.map((r) => r.map(csvField).join(CSV_SEPARATOR)).join('\r\n') + '\r\n';

function csvNumber(value: number | null, digits: number, language: Language): string {
  if (value === null) return '';
  const text = value.toFixed(digits);
  return language === 'tr' ? text.replace('.', ',') : text;
}

export interface CsvFiles {
  /** Month and day figures: department, sites, targets. */
  availability: string;
  /** Every outage of the month. */
  outages: string;
}

export function renderCsv(report: MonthlyReport, options: RenderOptions): CsvFiles {
  const { language } = options;
  const head = CSV_HEAD[language];
  const minutes = (ms: number) => csvNumber(ms / 60_000, 2, language);
  const figures = (f: Availability | null, outages: number): string[] =>
    f ? [minutes(f.totalMs), minutes(f.excludedMs), minutes(f.downMs), csvNumber(f.availabilityPct === null ? null : floor3(f.availabilityPct), 3, language), String(outages), minutes(f.longestMs)] : ['', '', '', '', String(outages), ''];
  const month = monthTitle(report.month, language);
  const rows: string[][] = [[...head.availability]];
  if (report.department) rows.push([head.scope.department, '', '', '', month, ...figures(report.department.figures, report.department.outages)]);
  for (const s of report.sites) rows.push([head.scope.site, s.site, '', '', month, ...figures(s.figures, s.targets.reduce((n, r) => n + r.outages, 0))]);
  for (const s of report.sites) for (const r of s.targets) rows.push([head.scope.target, s.site, r.device, r.kind, month, ...figures(r.figures, r.outages)]);
  for (const s of report.sites) for (const d of s.days ?? []) rows.push([head.scope.site, s.site, '', '', formatDate(d.date, language), ...figures(d.figures, d.outages)]);
  for (const s of report.sites) for (const r of s.targets) for (const d of r.days) rows.push([head.scope.target, s.site, r.device, r.kind, formatDate(d.date, language), ...figures(d.figures, d.outages)]);

  const t = TEXT[language];
  const outageRows: string[][] = [[...head.outages]];
  for (const s of report.sites) {
    for (const o of s.outages) {
      const end = o.end === null ? t.ongoing : formatTime(o.end, report.timezone, language);
      outageRows.push([s.site, o.device, o.kind, formatTime(o.start, report.timezone, language), end, minutes((o.end ?? report.generatedAt) - o.start), minutes(o.countedMs), t.causes[o.cause], o.reason]);
    }
  }
  return { availability: csv(rows), outages: csv(outageRows) };
}

/** File names (ASCII, so they survive any mail client): rapor-2026-11.html, erisilebilirlik-2026-11.csv, kesintiler-2026-11.csv; "-<site>" for a one-site report. */
export function reportFileNames(month: ReportMonth, language: Language, site?: string): { html: string; availability: string; outages: string } {
  const suffix = `${month.year}-${pad(month.month)}${site === undefined ? '' : `-${site}`}`;
  return language === 'tr'
    ? { html: `rapor-${suffix}.html`, availability: `erisilebilirlik-${suffix}.csv`, outages: `kesintiler-${suffix}.csv` }
    : { html: `report-${suffix}.html`, availability: `availability-${suffix}.csv`, outages: `outages-${suffix}.csv` };
}
