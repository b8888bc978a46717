import { unwatchFile, watchFile } from 'node:fs';
import type { Logger } from '../../src/log.ts';
import type { CollectorConfig } from '../config.ts';
import type { PointSink } from '../ingest/ingest.ts';
import type { Point } from '../model/point.ts';
import type { SelfMetrics } from '../self-metrics.ts';
import { AlertStore, type StoredAlert } from './alert-store.ts';
import { alertPoint } from './alert-points.ts';
import { RuleEngine, type AlertChange } from './engine.ts';
import type { Rule } from './rule-schema.ts';
import { loadRules } from './rules-loader.ts';

// Alerting, assembled: every point the collector accepts passes the rule engine on its way to
// the write queue (so alerts work while InfluxDB is down), transitions are stored and written
// as `alerts` points, and whoever listens (the notifier) hears of them.

/** Points are evaluated if at most this old: an agent replaying hours of offline queue must not page anyone now. */
export const MAX_POINT_AGE_MS = 10 * 60_000;

export interface AlertListener {
  onAlert(alert: StoredAlert, change: AlertChange, rule: Rule): void;
}

export interface AlertService {
  store: AlertStore;
  /** The sink to give ingest: evaluates, then passes the points on. */
  sink: PointSink;
  rule(id: string): Rule | undefined;
  listen(listener: AlertListener): void;
  reloadRules(): void;
  close(): void;
}

export function startAlertService(config: CollectorConfig, queue: PointSink, metrics: SelfMetrics, log: Logger): AlertService {
  const settings = config.alerts;
  const store = AlertStore.open(settings.path);
  let engine = new RuleEngine(loadRules(settings.rulesFile), { maxPointAgeMs: MAX_POINT_AGE_MS });
  engine.restore(store.activeForEngine());
  const listeners: AlertListener[] = [];
  const transitions = metrics.counter('collector_alert_transitions_total', 'Alert transitions, by new state', ['to']);
  metrics.gauge('collector_alerts_firing', 'Alerts firing now', () => engine.alerts().filter((a) => a.state === 'firing').length);
  const reloadErrors = metrics.counter('collector_alert_rules_errors_total', 'Rule file reloads refused because they did not validate');

  const handle = (changes: AlertChange[]) => {
    if (changes.length === 0) return;
    const points: Point[] = [];
    for (const change of changes) {
      const rule = engine.rule(change.alert.rule);
      if (!rule) continue;
      const stored = store.apply(change, rule);
      transitions.inc({ to: change.to });
      points.push(alertPoint(stored, rule, config.language, change.at));
      for (const listener of listeners) listener.onAlert(stored, change, rule);
    }
    queue.enqueue(points);
  };

  const timer = setInterval(() => handle(engine.tick(Date.now())), 1_000);
  const reloadRules = () => {
    try {
      const next = new RuleEngine(loadRules(settings.rulesFile), { maxPointAgeMs: MAX_POINT_AGE_MS });
      next.restore(engine.alerts());
      engine = next;
      log.log('info', 'alert rules reloaded', { file: settings.rulesFile });
    } catch (error) {
      reloadErrors.inc();
      log.log('error', 'alert rules not reloaded: the previous rules stay in force', { file: settings.rulesFile, error: (error as Error).message });
    }
  };
  const onRulesChange = (current: { mtimeMs: number }, previous: { mtimeMs: number }) => {
    if (current.mtimeMs !== previous.mtimeMs) reloadRules();
  };
  if (settings.rulesFile) watchFile(settings.rulesFile, { interval: 1_000 }, onRulesChange);
  log.log('info', 'alerting on', { rules: settings.rulesFile ?? 'defaults', restored: store.active().length });

  return {
    store,
    sink: {
      enqueue(points) {
        handle(engine.observe(points, Date.now()));
        return queue.enqueue(points);
      },
    },
    rule: (id) => engine.rule(id),
    listen: (listener) => listeners.push(listener),
    reloadRules,
    close() {
      clearInterval(timer);
      if (settings.rulesFile) unwatchFile(settings.rulesFile, onRulesChange);
      store.close();
    },
  };
}
