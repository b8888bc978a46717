import type { Language } from '../devices/driver.ts';
import { formatPct, monthTitle, type MonthlyReport } from '../uptime/monthly-report.ts';
import type { ReportFile } from './gather.ts';

// The monthly report's mail, pure: subject and a short body (the department's availability, the
// outages, the backups at a glance) in Turkish, English or both, the report's files attached.

export interface RenderedReport {
  language: Language;
  report: MonthlyReport;
  files: ReportFile[];
}

export interface ReportMail {
  subject: string;
  text: string;
  html: string;
  attachments: ReportFile[];
}

const TEXT = {
  tr: {
    subject: (month: string) => `${month} Erişilebilirlik Raporu`,
    attached: (month: string, files: string) => `${month} erişilebilirlik raporu ektedir: ${files}. HTML dosyası tarayıcıda açılır ve PDF olarak yazdırılabilir; CSV dosyaları Excel ile açılır.`,
    department: (pct: string, outages: number) => `Daire geneli erişilebilirlik: ${pct} (hedeflerde ${outages} kesinti).`,
    noFigure: 'Daire geneli erişilebilirlik hesaplanamadı (hat ya da servis hedefi yok).',
    backups: (jobs: number, ok: number, failed: number, missed: number) => `Yedekleme işleri: ${jobs} iş, ${ok} başarılı, ${failed} başarısız, ${missed} kaçırılan çalışma.`,
    checks: (jobs: number, problems: number) => `Yedek dosyası denetimleri: ${jobs} iş, ${problems} sorunlu denetim.`,
    noBackups: 'Bu dönem için yedekleme doğrulaması verisi yok.',
    footer: 'Bu ileti Belediye İzleme tarafından her ayın başında kendiliğinden gönderilir.',
  },
  en: {
    subject: (month: string) => `Availability Report, ${month}`,
    attached: (month: string, files: string) => `The availability report for ${month} is attached: ${files}. Open the HTML file in a browser (it prints to PDF); the CSV files open in Excel.`,
    department: (pct: string, outages: number) => `Whole department availability: ${pct} (${outages} target outages).`,
    noFigure: 'No department availability could be computed (no line or service targets).',
    backups: (jobs: number, ok: number, failed: number, missed: number) => `Backup jobs: ${jobs} jobs, ${ok} succeeded, ${failed} failed, ${missed} missed runs.`,
    checks: (jobs: number, problems: number) => `Backup file checks: ${jobs} jobs, ${problems} checks with a problem.`,
    noBackups: 'No backup verification data for this period.',
    footer: 'Belediye İzleme sends this message on its own at the start of every month.',
  },
} as const satisfies Record<Language, unknown>;

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The body's paragraphs in one language. */
function paragraphs({ language, report, files }: RenderedReport): string[] {
  const t = TEXT[language];
  const month = monthTitle(report.month, language);
  const lines = [t.attached(month, files.map((f) => f.name).join(', '))];
  const department = report.department;
  if (department) lines.push(department.figures?.availabilityPct != null ? t.department(formatPct(department.figures.availabilityPct, language), department.outages) : t.noFigure);
  const backups = report.backups;
  if (!backups || (backups.jobs.length === 0 && backups.checks.length === 0)) lines.push(t.noBackups);
  else {
    const jobs = backups.jobs;
    const sum = (pick: (j: (typeof jobs)[number]) => number) => jobs.reduce((n, j) => n + pick(j), 0);
    if (backups.jobs.length) lines.push(t.backups(backups.jobs.length, sum((j) => j.succeeded), sum((j) => j.failed), sum((j) => j.missed)));
    if (backups.checks.length) lines.push(t.checks(backups.checks.length, backups.checks.reduce((n, c) => n + c.checks - (c.byStatus.ok ?? 0), 0)));
  }
  lines.push(t.footer);
  return lines;
}

/** One mail for the month: every rendered language's summary (Turkish first) and files. */
export function composeReportMail(rendered: readonly RenderedReport[], institution: string | null): ReportMail {
  if (rendered.length === 0) throw new RangeError('no report to mail');
  const first = rendered[0]!;
  const subject = `${institution ? `${institution} — ` : ''}${rendered.map((r) => TEXT[r.language].subject(monthTitle(r.report.month, r.language))).join(' / ')}`;
  const parts = rendered.map(paragraphs);
  const text = [...(institution ? [institution, ''] : []), ...parts.flatMap((p, i) => [...(i > 0 ? ['', '—', ''] : []), p.join('\n\n')])].join('\n') + '\n';
  const html = `<!doctype html>
<html lang="${first.language}">
<head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>
<body>
${institution ? `<h1>${escapeHtml(institution)}</h1>\n` : ''}${parts.map((p, i) => `<div lang="${rendered[i]!.language}">\n${p.map((line) => `<p>${escapeHtml(line)}</p>`).join('\n')}\n</div>`).join('\n<hr>\n')}
</body>
</html>
`;
  return { subject, text, html, attachments: rendered.flatMap((r) => r.files) };
}
