import type { Point } from '../model/point.ts';
import type { Language } from '../devices/driver.ts';
import type { StoredAlert } from './alert-store.ts';
import type { Rule } from './rule-schema.ts';
import { renderTemplate } from './template.ts';

// Every alert transition as an InfluxDB point (measurement `alerts`), for Grafana's *Active
// alerts* and *Alert history* panels. Numbers and texts go to separate fields so one rule's
// text value never clashes with another's number in InfluxDB's per-field types.

export function alertMessage(alert: StoredAlert, rule: Rule, language: Language): string {
  return renderTemplate(rule.message[language], {
    site: alert.labels.site,
    device: alert.labels.device,
    kind: alert.labels.kind,
    instance: alert.labels.instance,
    value: alert.value ?? undefined,
    detail: alert.detail ?? undefined,
  });
}

export function alertPoint(alert: StoredAlert, rule: Rule, language: Language, at: number): Point {
  const tags: Record<string, string> = {
    site: alert.labels.site,
    device: alert.labels.device,
    kind: alert.labels.kind,
    rule: alert.rule,
    severity: alert.severity,
    category: alert.category,
  };
  if (alert.labels.instance) tags.instance = alert.labels.instance;
  const fields: Point['fields'] = { state: alert.state, firing: alert.state === 'firing' ? 1 : 0, message: alertMessage(alert, rule, language), episode: alert.id };
  if (typeof alert.value === 'number') fields.value = alert.value;
  else if (alert.value !== null) fields.value_text = alert.value.slice(0, 256);
  if (alert.state === 'resolved' && alert.firedAt !== null) fields.duration_s = Math.round((at - alert.firedAt) / 1000);
  if (alert.suppressed) fields.suppressed = alert.suppressed;
  if (alert.consequenceOf) fields.consequence_of = alert.consequenceOf;
  return { measurement: 'alerts', tags, fields, time: at };
}
