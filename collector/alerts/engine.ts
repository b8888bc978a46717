import type { FieldValue, Point } from '../model/point.ts';
import type { AbsenceRule, EventRule, Rule, StateRule, ThresholdRule, TrendRule } from './rule-schema.ts';
import { linearTrend, type Sample } from './trend.ts';

// Pure rule evaluation over the stream of points: no I/O, no clock of its own (the caller
// passes `now`, the moment the points arrived). Alert times (since, for-durations, firing) are
// arrival times, so a device whose clock runs fast or slow is alerted on time; trends are fitted
// on the device's own timestamps, which are consistent with each other. It knows only which alerts are pending or firing and the little history rules
// need (last value, last seen, trend samples); what an alert means for people (routing,
// grouping, notifications) is decided after it.

export type AlertState = 'pending' | 'firing';

export interface AlertLabels {
  site: string;
  device: string;
  kind: string;
  /** The disk, interface or channel; '' for device-wide alerts. */
  instance: string;
}

export interface ActiveAlert {
  id: string;
  rule: string;
  labels: AlertLabels;
  state: AlertState;
  /** When the condition started (pending) — also the alert's start once firing. */
  since: number;
  firedAt?: number;
  value?: FieldValue;
  /** For event rules: the event's own text; for others unset. */
  detail?: string;
  /** Event rules: when it resolves by itself. */
  expiresAt?: number;
}

export interface AlertChange {
  alert: ActiveAlert;
  /** pending: condition seen, waiting out `for`; firing; resolved: was firing, condition gone; cancelled: was pending, condition gone before `for`. */
  to: 'pending' | 'firing' | 'resolved' | 'cancelled';
  at: number;
}

export interface EngineOptions {
  /** Points older than this (an agent replaying its offline queue) are stored but not evaluated: alerts are about now. */
  maxPointAgeMs: number;
}

export const alertId = (rule: string, l: Pick<AlertLabels, 'site' | 'device' | 'instance'>) => `${rule}|${l.site}|${l.device}|${l.instance}`;

const MAX_TREND_SAMPLES = 120;

export class RuleEngine {
  private readonly byMeasurement = new Map<string, Exclude<Rule, EventRule>[]>();
  private readonly eventRules: EventRule[] = [];
  private readonly absenceRules: AbsenceRule[] = [];
  private readonly rules = new Map<string, Rule>();
  private readonly active = new Map<string, ActiveAlert>();
  /** Absence: rule|site|device → last point time and labels. */
  private readonly lastSeen = new Map<string, { at: number; labels: AlertLabels }>();
  private readonly trendSamples = new Map<string, Sample[]>();
  private readonly options: EngineOptions;

  constructor(rules: readonly Rule[], options: EngineOptions) {
    this.options = options;
    for (const rule of rules) {
      if (!rule.enabled) continue;
      this.rules.set(rule.id, rule);
      if (rule.type === 'event') this.eventRules.push(rule);
      else {
        if (rule.type === 'absence') this.absenceRules.push(rule);
        const list = this.byMeasurement.get(rule.match.measurement) ?? [];
        list.push(rule);
        this.byMeasurement.set(rule.match.measurement, list);
      }
    }
  }

  rule(id: string): Rule | undefined {
    return this.rules.get(id);
  }

  /** Alerts pending or firing now. */
  alerts(): ActiveAlert[] {
    return [...this.active.values()];
  }

  /** Puts back what was pending or firing before a restart (from the alert store). */
  restore(alerts: readonly ActiveAlert[]): void {
    for (const alert of alerts) if (this.rules.has(alert.rule)) this.active.set(alert.id, { ...alert });
  }

  observe(points: readonly Point[], now: number): AlertChange[] {
    const changes: AlertChange[] = [];
    for (const point of points) {
      if (now - point.time > this.options.maxPointAgeMs) continue;
      const labels = { site: point.tags.site ?? '', device: point.tags.device ?? '', kind: point.tags.kind ?? 'other', instance: '' };
      if (!labels.site || !labels.device) continue;
      if (point.measurement === 'events') this.observeEvent(point, labels, changes, now);
      for (const rule of this.byMeasurement.get(point.measurement) ?? []) {
        if (!matches(rule.match, point, labels)) continue;
        const l = rule.instance ? { ...labels, instance: point.tags[rule.instance] ?? '' } : labels;
        switch (rule.type) {
          case 'threshold':
            this.observeThreshold(rule, point, l, changes, now);
            break;
          case 'state':
            this.observeState(rule, point, l, changes, now);
            break;
          case 'trend':
            this.observeTrend(rule, point, l, changes, now);
            break;
          case 'absence':
            this.observeAbsence(rule, point, l, changes, now);
            break;
        }
      }
    }
    return changes;
  }

  /** Time-driven transitions: `for` durations elapsed, absences, event alerts expiring. */
  tick(now: number): AlertChange[] {
    const changes: AlertChange[] = [];
    for (const alert of this.active.values()) {
      const rule = this.rules.get(alert.rule);
      if (!rule) continue;
      if (alert.state === 'pending' && 'for' in rule && now - alert.since >= rule.for) this.fire(alert, now, changes);
      else if (alert.expiresAt !== undefined && now >= alert.expiresAt) this.resolve(alert, now, changes);
    }
    for (const rule of this.absenceRules) {
      for (const [key, seen] of this.lastSeen) {
        if (!key.startsWith(`${rule.id}|`) || now - seen.at < rule.after) continue;
        const id = alertId(rule.id, seen.labels);
        if (!this.active.has(id)) {
          const alert: ActiveAlert = { id, rule: rule.id, labels: seen.labels, state: 'pending', since: seen.at + rule.after };
          this.active.set(id, alert);
          this.fire(alert, now, changes);
        }
      }
    }
    return changes;
  }

  private observeThreshold(rule: ThresholdRule, point: Point, labels: AlertLabels, changes: AlertChange[], now: number): void {
    const value = numeric(point.fields[rule.match.field!]);
    if (value === undefined) return;
    const id = alertId(rule.id, labels);
    const current = this.active.get(id);
    const breaching = rule.above !== undefined ? value > rule.above : value < rule.below!;
    const clear = rule.clear ?? rule.above ?? rule.below!;
    const cleared = rule.above !== undefined ? value <= clear : value >= clear;
    if (current) {
      current.value = value;
      if (cleared || (current.state === 'pending' && !breaching)) this.end(current, now, changes);
      else if (current.state === 'pending' && now - current.since >= rule.for) this.fire(current, now, changes);
    } else if (breaching) {
      this.start(rule, id, labels, now, value, changes);
    }
  }

  private observeState(rule: StateRule, point: Point, labels: AlertLabels, changes: AlertChange[], now: number): void {
    const value = point.fields[rule.match.field!];
    if (value === undefined) return;
    const id = alertId(rule.id, labels);
    const current = this.active.get(id);
    const bad = rule.in.includes(typeof value === 'boolean' ? Number(value) : value);
    if (current) {
      // A resolved state alert keeps the bad value it was about ("offline: lwt", not "birth").
      if (!bad) this.end(current, now, changes);
      else {
        current.value = value;
        if (current.state === 'pending' && now - current.since >= rule.for) this.fire(current, now, changes);
      }
    } else if (bad) {
      this.start(rule, id, labels, now, value, changes);
    }
  }

  private observeTrend(rule: TrendRule, point: Point, labels: AlertLabels, changes: AlertChange[], now: number): void {
    const value = numeric(point.fields[rule.match.field!]);
    if (value === undefined) return;
    const id = alertId(rule.id, labels);
    let samples = (this.trendSamples.get(id) ?? []).filter((s) => point.time - s.at <= rule.window && s.at < point.time);
    samples.push({ at: point.time, value });
    // Memory stays bounded and the fit keeps the whole window: when too many samples gather, every
    // other one of the older half goes (older history at a coarser step).
    if (samples.length > MAX_TREND_SAMPLES) {
      const half = Math.floor(samples.length / 2);
      samples = [...samples.slice(0, half).filter((_, i) => i % 2 === 0), ...samples.slice(half)];
    }
    this.trendSamples.set(id, samples);
    const reachIn = samples.length >= rule.minSamples ? linearTrend(samples).timeToReach(rule.reaches) : undefined;
    const current = this.active.get(id);
    if (current) {
      current.value = value;
      // Hysteresis: resolves only when the forecast is comfortably beyond the horizon (or the trend turned).
      if (reachIn === undefined || reachIn > rule.within * 1.25) this.end(current, now, changes);
    } else if (reachIn !== undefined && reachIn <= rule.within) {
      const alert = this.start(rule, id, labels, now, value, changes);
      this.fire(alert, now, changes);
    }
  }

  private observeAbsence(rule: AbsenceRule, point: Point, labels: AlertLabels, changes: AlertChange[], now: number): void {
    const deviceLabels = { ...labels, instance: '' };
    this.lastSeen.set(`${rule.id}|${labels.site}|${labels.device}`, { at: now, labels: deviceLabels });
    const current = this.active.get(alertId(rule.id, deviceLabels));
    if (current) this.end(current, now, changes);
  }

  private observeEvent(point: Point, labels: AlertLabels, changes: AlertChange[], now: number): void {
    const type = point.tags.type ?? '';
    for (const rule of this.eventRules) {
      if (rule.match && !matches(rule.match, point, labels)) continue;
      const id = alertId(rule.id, labels);
      const current = this.active.get(id);
      if (rule.resolvedBy.includes(type)) {
        if (current) this.end(current, now, changes);
      } else if (rule.events.includes(type)) {
        const detail = typeof point.fields.message === 'string' ? point.fields.message : undefined;
        if (current) {
          current.expiresAt = now + rule.resolveAfter;
          continue;
        }
        const alert = this.start(rule, id, labels, now, type, changes);
        alert.expiresAt = now + rule.resolveAfter;
        if (detail !== undefined) alert.detail = detail;
        this.fire(alert, now, changes);
      }
    }
  }

  private start(rule: Rule, id: string, labels: AlertLabels, at: number, value: FieldValue, changes: AlertChange[]): ActiveAlert {
    const alert: ActiveAlert = { id, rule: rule.id, labels, state: 'pending', since: at, value };
    this.active.set(id, alert);
    if ('for' in rule && rule.for === 0) this.fire(alert, at, changes);
    else if (rule.type !== 'event' && rule.type !== 'trend') changes.push({ alert: { ...alert }, to: 'pending', at });
    return alert;
  }

  private fire(alert: ActiveAlert, at: number, changes: AlertChange[]): void {
    if (alert.state === 'firing') return;
    alert.state = 'firing';
    alert.firedAt = at;
    changes.push({ alert: { ...alert }, to: 'firing', at });
  }

  private end(alert: ActiveAlert, at: number, changes: AlertChange[]): void {
    this.active.delete(alert.id);
    changes.push({ alert: { ...alert }, to: alert.state === 'firing' ? 'resolved' : 'cancelled', at });
  }

  private resolve(alert: ActiveAlert, at: number, changes: AlertChange[]): void {
    this.end(alert, at, changes);
  }
}

function numeric(value: FieldValue | undefined): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return undefined;
}

type MatchFilter = Pick<ThresholdRule['match'], 'kinds' | 'sites' | 'tags'>;

function matches(match: MatchFilter, point: Point, labels: AlertLabels): boolean {
  if (match.kinds && !(match.kinds as readonly string[]).includes(labels.kind)) return false;
  if (match.sites && !match.sites.includes(labels.site)) return false;
  if (match.tags) {
    for (const [key, expected] of Object.entries(match.tags)) {
      const actual = point.tags[key];
      if (actual === undefined || (expected !== '*' && actual !== expected)) return false;
    }
  }
  return true;
}
