import type { Logger } from '../../src/log.ts';
import type { AlertStore } from '../alerts/alert-store.ts';
import type { PointSink, StateTransition } from '../ingest/ingest.ts';
import type { SelfMetrics } from '../self-metrics.ts';
import { DEFAULT_CAUSE_GRACE_MS, OutageLog, outageCause, outagePoint, POWER_RULES, type Outage } from './outage-log.ts';

// Every online/offline transition of the registry into the outage log: an outage opens when a
// device, link or service goes down and closes when it comes back, with its cause judged at
// the close (power, link, device), and is written to InfluxDB (measurement outages) both times.

export interface OutageService {
  log: OutageLog;
  onTransition(change: StateTransition): void;
  close(): void;
}

export function startOutageService(path: string, deps: { alerts: AlertStore | undefined; dependencies: () => readonly { site: string; upstream: readonly string[] }[]; sink: PointSink; metrics: SelfMetrics; log: Logger }): OutageService {
  const outages = OutageLog.open(path);
  const refused = deps.metrics.counter('collector_outage_log_refused_total', 'State transitions the outage log could not record');
  return {
    log: outages,
    onTransition(change) {
      let outage: Outage | null;
      try {
        outage = outages.atomically(() => {
          const recorded = outages.record(change);
          if (!recorded || recorded.end === null) return recorded;
          // Judged at the close: the UPS alert that explains it may come a poll after the outage started.
          const grace = DEFAULT_CAUSE_GRACE_MS;
          const alerts = (deps.alerts?.list({ site: recorded.site, limit: 1000 }) ?? [])
            .filter((a) => POWER_RULES.includes(a.rule) && a.firedAt !== null)
            .map((a) => ({ site: a.labels.site, device: a.labels.device, rule: a.rule, from: a.since, to: a.resolvedAt }));
          outages.cause(recorded.id, outageCause(recorded, { alerts, dependencies: deps.dependencies(), outages: outages.outages({ from: recorded.start - grace, to: recorded.start + grace }) }));
          return outages.get(recorded.id) ?? recorded;
        });
      } catch (error) {
        refused.inc();
        deps.log.log('warn', 'outage log refused a transition', { error: (error as Error).message });
        return;
      }
      if (!outage) return;
      deps.sink.enqueue([outagePoint(outage)]);
    },
    close: () => outages.close(),
  };
}
