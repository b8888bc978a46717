import type { Metric } from '../src/contract/schemas.ts';
import type { Logger } from '../src/log.ts';
import type { Source } from './sources/types.ts';

// Runs a set of sources side by side; one failing source never stops the others. Each distinct
// error is logged once, so a machine without sensors does not fill its log.

export function createCollector(log: Logger) {
  const reported = new Set<string>();
  let failures = 0;
  return {
    failures: () => failures,
    async collect(sources: readonly Source[]): Promise<Metric[]> {
      const results = await Promise.allSettled(sources.map((s) => s.collect()));
      return results.flatMap((result, i) => {
        if (result.status === 'fulfilled') return result.value;
        failures++;
        const key = `${sources[i]!.name}: ${(result.reason as Error)?.message}`;
        if (!reported.has(key)) {
          reported.add(key);
          log.log('warn', 'source failed', { source: sources[i]!.name, error: (result.reason as Error)?.message });
        }
        return [];
      });
    },
  };
}
