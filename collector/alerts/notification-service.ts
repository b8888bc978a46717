import type { Logger } from '../../src/log.ts';
import type { CollectorConfig } from '../config.ts';
import type { SelfMetrics } from '../self-metrics.ts';
import type { AlertService } from './alert-service.ts';
import { loadNotifyConfig, type NotifyConfig } from './notify-config.ts';
import { Notifier } from './notifier.ts';
import { Outbox } from './outbox.ts';

// Notifications, assembled: the notification file's channels, the durable outbox that delivers
// through them, and the notifier that turns alert transitions into outbox entries. A channel
// that keeps failing becomes an alert itself (rule notification_channel_failing), which the
// notifier sends through the other channels.

export interface NotificationService {
  notifier: Notifier;
  outbox: Outbox;
  /** The notification file's site dependencies (the outage log judges causes by them too). */
  dependencies: NotifyConfig['file']['dependencies'];
  close(): Promise<void>;
}

export function startNotificationService(config: CollectorConfig, alerts: AlertService, metrics: SelfMetrics, log: Logger, env: NodeJS.ProcessEnv = process.env): NotificationService | undefined {
  const path = config.alerts.notifyFile;
  if (!path) return undefined;
  const notify = loadNotifyConfig(path, env, log);
  const delivered = metrics.counter('collector_notifications_total', 'Notifications handed to a channel, by channel and result', ['channel', 'result']);
  const outbox = Outbox.open(config.alerts.outboxPath, {
    ...notify.file.outbox,
    channels: notify.channels,
    log,
    onDelivered: (entry) => delivered.inc({ channel: entry.channel, result: 'sent' }),
    onFailed: (entry) => delivered.inc({ channel: entry.channel, result: 'failed' }),
    onChannelHealth: (channel, healthy, lastError) => {
      log.log(healthy ? 'info' : 'error', healthy ? 'notification channel works again' : 'notification channel failing', { channel, lastError });
      // Into the rule engine like any other point: the alert is routed, stored and resolved like the rest.
      alerts.sink.enqueue([{ measurement: 'notification_channel', tags: { site: 'collector', device: config.instance, kind: 'other', channel }, fields: { healthy: healthy ? 1 : 0 }, time: Date.now() }]);
    },
  });
  metrics.gauge('collector_outbox_pending', 'Notifications waiting in the outbox (pending and held)', () => {
    const s = outbox.stats();
    return s.pending + s.held;
  });
  const notifier = new Notifier({ store: alerts.store, outbox, config: notify, ruleOf: (id) => alerts.rule(id), log });
  alerts.listen(notifier);
  notifier.recover(Date.now());
  outbox.start();
  const timer = setInterval(() => notifier.tick(Date.now()), 1_000);
  log.log('info', 'notifications on', { file: path, channels: [...notify.channels.keys()], contacts: notify.file.contacts.length });
  return {
    notifier,
    outbox,
    dependencies: notify.file.dependencies,
    async close() {
      clearInterval(timer);
      await outbox.close();
      await Promise.allSettled([...notify.channels.values()].map((c) => c.close()));
    },
  };
}
