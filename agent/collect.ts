import { describeIssues, metricSchema, type Metric } from '../src/contract/schemas.ts';
import type { Logger } from '../src/log.ts';
import { withTimeout, type Source } from './sources/types.ts';

// Runs a set of sources side by side; one failing or hanging source never stops the others.
// Each distinct error is logged once, so a machine without sensors does not fill its log.
// Every metric is checked against the contract here: the collector refuses a whole message for
// one bad metric, so an odd reading (a sensor label too long, NaN) is dropped alone.

export interface Collector {
  /** `timeoutMs` bounds each source: a hung one yields nothing this round, the rest still arrive. */
  collect(sources: readonly Source[], timeoutMs: number): Promise<Metric[]>;
  /** Failed collections per source since start. */
  failures(): ReadonlyMap<string, number>;
}

export function createCollector(log: Logger): Collector {
  const reported = new Set<string>();
  const failures = new Map<string, number>();
  return {
    failures: () => failures,
    async collect(sources, timeoutMs) {
      const results = await Promise.allSettled(sources.map((s) => withTimeout(s.collect(), timeoutMs, `source ${s.name}`)));
      const fail = (name: string, error: string) => {
        failures.set(name, (failures.get(name) ?? 0) + 1);
        const key = `${name}: ${error}`;
        if (reported.has(key)) return;
        if (reported.size >= 256) reported.clear(); // bounded: a flood of distinct errors is logged again, not remembered forever
        reported.add(key);
        log.log('warn', 'source failed (logged once per distinct error)', { source: name, error });
      };
      return results.flatMap((result, i) => {
        const name = sources[i]!.name;
        if (result.status === 'rejected') {
          fail(name, result.reason instanceof Error ? result.reason.message : String(result.reason));
          return [];
        }
        return result.value.filter((metric) => {
          const check = metricSchema.safeParse(metric);
          if (!check.success) fail(name, `invalid metric ${metric.name}: ${describeIssues(check.error)}`);
          return check.success;
        });
      });
    },
  };
}
