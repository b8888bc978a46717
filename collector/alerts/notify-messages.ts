import { createHash } from 'node:crypto';
import type { Language } from '../devices/driver.ts';
import type { StoredAlert } from './alert-store.ts';
import { alertMessage } from './alert-points.ts';
import type { OutgoingMessage } from './channels/channel.ts';
import type { Rule } from './rule-schema.ts';

// Pure: one notification (a group of alerts of one site and cause) rendered for one language:
// mail subject, text and HTML, the short SMS text. Plain words a duty technician reads at night
// on a phone: what, where, since when, how many; the acknowledge link last.

export type NotificationKind = 'firing' | 'resolved' | 'escalation' | 'repeat' | 'flapping' | 'held';

export interface NotifiedAlert {
  alert: StoredAlert;
  rule: Rule;
  /** Alerts this one explains (devices behind a site's uplink or UPS), counted in its text. */
  consequences?: number;
}

export interface RenderOptions {
  language: Language;
  timezone: string;
  /** Base of acknowledge links (the collector's public API URL); none: no link. */
  ackUrl?: (alertId: string) => string;
}

const WORDS = {
  tr: { critical: 'KRİTİK', warning: 'UYARI', info: 'BİLGİ', resolved: 'ÇÖZÜLDÜ', escalation: 'YÜKSELTİLDİ', repeat: 'HÂLÂ SÜRÜYOR', flapping: 'KARARSIZ', more: 'uyarı daha', alerts: 'uyarı', since: 'başlangıç', ended: 'bitiş', ack: 'Üstlen', consequences: 'cihaz bundan etkileniyor', escalationNote: 'Kimse üstlenmedi.', flappingNote: 'Sık açılıp kapanıyor; durulana kadar yeniden bildirilmeyecek.' },
  en: { critical: 'CRITICAL', warning: 'WARNING', info: 'INFO', resolved: 'RESOLVED', escalation: 'ESCALATED', repeat: 'STILL ON', flapping: 'FLAPPING', more: 'more alerts', alerts: 'alerts', since: 'since', ended: 'ended', ack: 'Acknowledge', consequences: 'devices affected by it', escalationNote: 'Nobody has acknowledged it.', flappingNote: 'It keeps firing and resolving; it will not be notified again until it settles.' },
} as const;

export function notificationId(kind: NotificationKind, alerts: readonly NotifiedAlert[], at: number): string {
  return createHash('sha256').update(`${kind}:${alerts.map((a) => a.alert.id).join(',')}:${at}`).digest('base64url').slice(0, 20);
}

function tag(kind: NotificationKind, severity: Rule['severity'], language: Language): string {
  const w = WORDS[language];
  if (kind === 'firing') return w[severity];
  return w[kind === 'held' ? 'repeat' : kind];
}

function time(at: number | null, options: RenderOptions): string {
  if (at === null) return '-';
  return new Intl.DateTimeFormat(options.language === 'tr' ? 'tr-TR' : 'en-GB', { timeZone: options.timezone, dateStyle: 'short', timeStyle: 'short' }).format(at);
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function renderNotification(kind: NotificationKind, alerts: readonly NotifiedAlert[], at: number, options: RenderOptions): OutgoingMessage {
  const w = WORDS[options.language];
  const worst = alerts.reduce<Rule['severity']>((s, a) => (rank(a.rule.severity) > rank(s) ? a.rule.severity : s), 'info');
  const lines = alerts.map((a) => {
    const message = alertMessage(a.alert, a.rule, options.language);
    const extra = a.consequences ? ` (+${a.consequences} ${w.consequences})` : '';
    return { a, message: message + extra };
  });
  const first = lines[0]!;
  const label = `[${tag(kind, worst, options.language)}]`;
  const subject = alerts.length === 1 ? `${label} ${first.message}` : `${label} ${alerts.length} ${w.alerts}: ${first.message} (+${alerts.length - 1})`;
  const note = kind === 'escalation' ? `${w.escalationNote}\n\n` : kind === 'flapping' ? `${w.flappingNote}\n\n` : '';
  const textLines = lines.map(({ a, message }) => {
    const when = kind === 'resolved' ? `${w.since} ${time(a.alert.firedAt, options)}, ${w.ended} ${time(a.alert.resolvedAt, options)}` : `${w.since} ${time(a.alert.firedAt ?? a.alert.since, options)}`;
    const link = options.ackUrl && kind !== 'resolved' ? `\n  ${w.ack}: ${options.ackUrl(a.alert.id)}` : '';
    return `- ${message} (${when})${link}`;
  });
  const text = `${note}${textLines.join('\n')}\n`;
  const rows = lines
    .map(({ a, message }) => {
      const link = options.ackUrl && kind !== 'resolved' ? ` <a href="${escapeHtml(options.ackUrl(a.alert.id))}">${w.ack}</a>` : '';
      return `<tr><td>${escapeHtml(message)}</td><td>${escapeHtml(time(a.alert.firedAt ?? a.alert.since, options))}</td><td>${link}</td></tr>`;
    })
    .join('');
  const html = `<!doctype html><html lang="${options.language}"><meta charset="utf-8"><body>${note ? `<p>${escapeHtml(note.trim())}</p>` : ''}<table>${rows}</table></body></html>`;
  const short = alerts.length === 1 ? `${tag(kind, worst, options.language)}: ${first.message}` : `${tag(kind, worst, options.language)}: ${first.message} (+${alerts.length - 1} ${w.more})`;
  return { id: notificationId(kind, alerts, at), subject: subject.slice(0, 200), text, html, short };
}

function rank(severity: Rule['severity']): number {
  return severity === 'critical' ? 2 : severity === 'warning' ? 1 : 0;
}
