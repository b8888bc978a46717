import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../../src/log.ts';
import type { AlertListener } from './alert-service.ts';
import type { AlertStore, StoredAlert } from './alert-store.ts';
import type { AlertChange } from './engine.ts';
import type { NotifyConfig } from './notify-config.ts';
import { renderNotification, type NotificationKind, type NotifiedAlert } from './notify-messages.ts';
import type { EnqueueItem, Outbox } from './outbox.ts';
import { escalationFor, maintenanceFor, recipientsFor, routeFor, silenceMatches, type Delivery } from './routing.ts';
import type { Rule } from './rule-schema.ts';

// From alert transitions to notifications in the outbox: maintenance windows (the file's and
// ad-hoc ones in the store) and silences (recorded, not sent), flapping, dependencies (a site's
// devices behind a failed uplink or UPS are counted in its alert, not paged one by one),
// grouping (one notification per route, site and rule within the route's groupWait),
// escalation, repeats and resolved notices. What was sent is marked in the alert store, so a
// restart neither forgets nor repeats anything.

/** The rule that reports a failing notification channel through the other channels. */
export const CHANNEL_RULE = 'notification_channel_failing';

interface Group {
  kind: NotificationKind;
  alerts: Map<string, NotifiedAlert>;
  flushAt: number;
}

export interface NotifierOptions {
  store: AlertStore;
  outbox: Outbox;
  config: NotifyConfig;
  ruleOf: (id: string) => Rule | undefined;
  log: Logger;
}

export class Notifier implements AlertListener {
  private readonly options: NotifierOptions;
  private readonly groups = new Map<string, Group>();
  private readonly ackKey: string;

  constructor(options: NotifierOptions) {
    this.options = options;
    this.ackKey = options.store.secret('ack_link_key', () => createHmac('sha256', String(Math.random()) + String(Date.now()) + process.pid).digest('hex'));
  }

  /** Puts what a restart interrupted back into groups: firing alerts nobody was told of, resolutions not told. */
  recover(now: number): void {
    for (const alert of this.options.store.unnotified()) {
      const rule = this.options.ruleOf(alert.rule);
      if (rule) this.add(alert.state === 'resolved' ? 'resolved' : 'firing', alert, rule, now);
    }
  }

  onAlert(alert: StoredAlert, change: AlertChange, rule: Rule): void {
    const { store } = this.options;
    const now = change.at;
    if (change.to === 'firing') {
      const suppressed = this.suppression(alert, now);
      if (suppressed) {
        store.annotate(alert.id, { suppressed }, now);
        return;
      }
      const upstream = this.upstreamAlert(alert);
      if (upstream) {
        store.annotate(alert.id, { consequenceOf: upstream.id }, now);
        return;
      }
      this.add(alert.flapping ? 'flapping' : 'firing', alert, rule, now);
    } else if (change.to === 'resolved') {
      const current = store.get(alert.id);
      // Only what people were told of is told resolved; a flapping alert stays quiet until it settles.
      if (current?.notifiedAt && !current.suppressed && !current.consequenceOf && !current.flapping) this.add('resolved', current, rule, now);
      else this.dropFromGroups(alert.id);
    } else if (change.to === 'cancelled') {
      this.dropFromGroups(alert.id);
    }
  }

  /** Every second: groups whose wait is over, escalations, repeats. */
  tick(now: number): void {
    for (const [key, group] of this.groups) {
      if (group.flushAt > now) continue;
      this.groups.delete(key);
      this.flush(group, now);
    }
    this.escalateAndRepeat(now);
  }

  /** The HMAC-signed token of an acknowledge link: `<alert id>.<signature>`. */
  ackToken(alertId: string): string {
    return `${alertId}.${createHmac('sha256', this.ackKey).update(alertId).digest('base64url').slice(0, 22)}`;
  }

  /** The alert id of a valid acknowledge token, else undefined. */
  verifyAckToken(token: string): string | undefined {
    const [id, signature] = token.split('.');
    if (!id || !signature) return undefined;
    const expected = this.ackToken(id).split('.')[1]!;
    const a = Buffer.from(signature);
    const b = Buffer.from(expected);
    return a.length === b.length && timingSafeEqual(a, b) ? id : undefined;
  }

  private suppression(alert: StoredAlert, now: number): string | undefined {
    const { file } = this.options.config;
    const window = maintenanceFor(alert.labels, file.maintenance, now, file.timezone);
    if (window) return `maintenance:${window.id}`;
    // Ad-hoc windows (API, CLI) are read from the store now, so one made a moment ago counts.
    const adHoc = this.options.store.maintenanceFor(alert.labels, now);
    if (adHoc) return `maintenance:${adHoc.id}`;
    const silence = this.options.store.silences(now).find((s) => silenceMatches(s, { rule: alert.rule, ...alert.labels }, now));
    if (silence) return `silence:${silence.id}`;
    if (alert.flapping && this.options.store.list({ state: 'firing' }).some((a) => a.key === alert.key && a.id !== alert.id && a.flapping)) return 'flapping';
    return undefined;
  }

  /** A firing alert of one of the site's upstream devices (not of this device itself). */
  private upstreamAlert(alert: StoredAlert): StoredAlert | undefined {
    const dependency = this.options.config.file.dependencies.find((d) => d.site === alert.labels.site);
    if (!dependency) return undefined;
    const self = `${alert.labels.site}/${alert.labels.device}`;
    for (const upstream of dependency.upstream) {
      if (upstream === self) continue;
      const [site, device] = upstream.split('/') as [string, string];
      const firing = this.options.store.firingOn(site, device);
      if (firing) return firing;
    }
    return undefined;
  }

  private add(kind: NotificationKind, alert: StoredAlert, rule: Rule, now: number): void {
    const route = routeFor({ category: rule.category, severity: rule.severity, ...alert.labels }, this.options.config.file);
    const routeIndex = this.options.config.file.routes.indexOf(route);
    const key = `${kind}|${routeIndex}|${alert.labels.site}|${alert.rule}`;
    let group = this.groups.get(key);
    if (!group) {
      group = { kind, alerts: new Map(), flushAt: now + route.groupWait };
      this.groups.set(key, group);
    }
    group.alerts.set(alert.id, { alert, rule });
  }

  private dropFromGroups(alertId: string): void {
    for (const [key, group] of this.groups) {
      if (!group.alerts.delete(alertId)) continue;
      if (group.alerts.size === 0) this.groups.delete(key);
    }
  }

  private flush(group: Group, now: number): void {
    const { store, config } = this.options;
    const alerts: NotifiedAlert[] = [];
    for (const item of group.alerts.values()) {
      const current = store.get(item.alert.id) ?? item.alert;
      if (group.kind !== 'resolved') {
        // An acknowledged or already resolved alert is not paged; an uplink that failed meanwhile explains it.
        if (current.state !== 'firing' || current.ackAt !== null) continue;
        const upstream = this.upstreamAlert(current);
        if (upstream) {
          store.annotate(current.id, { consequenceOf: upstream.id }, now);
          continue;
        }
      }
      alerts.push({ alert: current, rule: item.rule, consequences: store.consequencesOf(current.id) });
    }
    if (alerts.length === 0) return;
    const first = alerts[0]!;
    const routed = { category: first.rule.category, severity: first.rule.severity, ...first.alert.labels };
    const recipients = recipientsFor(routed, config.file, now, config.kinds);
    if (group.kind === 'resolved' && !recipients.route.resolved) return;
    this.send(group.kind, alerts, this.avoidFailingChannel(recipients.deliveries, alerts), now);
    if (recipients.skipped.length > 0) this.options.log.log('warn', 'some people could not be notified: address or channel missing', { rule: first.alert.rule, skipped: recipients.skipped });
    const ids = alerts.map((a) => a.alert.id);
    store.markNotified(ids, group.kind === 'resolved' ? 'resolved_notified' : 'notified', now);
  }

  /** A "channel failing" alert must not go through the channel that fails. */
  private avoidFailingChannel(deliveries: Delivery[], alerts: readonly NotifiedAlert[]): Delivery[] {
    const failing = new Set(alerts.filter((a) => a.alert.rule === CHANNEL_RULE).map((a) => a.alert.labels.instance));
    return failing.size === 0 ? deliveries : deliveries.filter((d) => !failing.has(d.channel));
  }

  private escalateAndRepeat(now: number): void {
    const { store, config } = this.options;
    for (const alert of store.active()) {
      if (alert.state !== 'firing' || alert.notifiedAt === null || alert.ackAt !== null || alert.suppressed || alert.consequenceOf) continue;
      const rule = this.options.ruleOf(alert.rule);
      if (!rule) continue;
      const route = routeFor({ category: rule.category, severity: rule.severity, ...alert.labels }, config.file);
      const escalation = alert.escalatedAt === null ? escalationFor(route, config.file, now, config.kinds) : undefined;
      const notified = [{ alert, rule, consequences: store.consequencesOf(alert.id) }];
      if (escalation && now - (alert.firedAt ?? alert.since) >= escalation.after) {
        this.send('escalation', notified, escalation.deliveries, now);
        store.markNotified([alert.id], 'escalated', now);
      } else if (route.repeat > 0 && !alert.flapping && now - (alert.lastNotifiedAt ?? alert.notifiedAt) >= route.repeat) {
        const recipients = recipientsFor({ category: rule.category, severity: rule.severity, ...alert.labels }, config.file, now, config.kinds);
        this.send('repeat', notified, recipients.deliveries, now);
        store.markNotified([alert.id], 'repeated', now);
      }
    }
  }

  private send(kind: NotificationKind, alerts: readonly NotifiedAlert[], deliveries: readonly Delivery[], now: number): void {
    const publicUrl = this.options.config.file.publicUrl?.replace(/\/$/, '');
    const ackUrl = publicUrl ? (id: string) => `${publicUrl}/ack/${this.ackToken(id)}` : undefined;
    const severity = alerts.some((a) => a.rule.severity === 'critical') ? 'critical' : alerts.some((a) => a.rule.severity === 'warning') ? 'warning' : 'info';
    const byLanguage = new Map<string, ReturnType<typeof renderNotification>>();
    const items: EnqueueItem[] = deliveries.map((d) => {
      let message = byLanguage.get(d.language);
      if (!message) {
        message = renderNotification(kind, alerts, now, { language: d.language, timezone: this.options.config.file.timezone, ...(ackUrl ? { ackUrl } : {}) });
        byLanguage.set(d.language, message);
      }
      return { notificationId: message.id, channel: d.channel, recipient: { name: d.name, address: d.address, language: d.language }, message, severity };
    });
    if (items.length === 0) {
      this.options.log.log('error', 'an alert notification has nobody to go to', { kind, rule: alerts[0]?.alert.rule });
      return;
    }
    const result = this.options.outbox.enqueue(items);
    if (result.refused > 0) this.options.log.log('error', 'outbox full: notifications refused', { refused: result.refused });
  }
}
