import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort, startProcess, tempDir, waitFor, type ManagedProcess } from './servers.ts';

// Runs the real collector (`node collector/main.ts`) as a separate process, the way it is
// deployed, so tests can kill it for real.

export interface CollectorProcess {
  apiUrl: string;
  /** MQTT URL of the embedded broker (undefined in external-broker mode). */
  mqttUrl: string | undefined;
  process: ManagedProcess;
  dir: string;
  metricsText: () => Promise<string>;
  /** Value of one Prometheus sample, e.g. `collector_messages_rejected_total{reason="json"}`. */
  metric: (sample: string) => Promise<number>;
  stop: (signal?: NodeJS.Signals) => Promise<void>;
}

/**
 * `reuse` starts again on the directory (spool, registry) and ports of a collector that was stopped or killed.
 * `until: 'live'` returns once the API answers /healthz, before the collector is ready (e.g. still reaching its broker).
 */
export async function startCollectorProcess(config: Record<string, unknown>, reuse?: CollectorProcess, options: { until?: 'ready' | 'live' } = {}): Promise<CollectorProcess> {
  const dir = reuse?.dir ?? tempDir('collector');
  const apiPort = reuse ? Number(new URL(reuse.apiUrl).port) : await freePort();
  const broker = (config.broker as Record<string, unknown> | undefined) ?? { mode: 'embedded' };
  const mqttPort = broker.mode === 'external' ? undefined : reuse?.mqttUrl ? Number(new URL(reuse.mqttUrl).port) : await freePort();
  const full = {
    ...config,
    broker: broker.mode === 'external' ? broker : { host: '127.0.0.1', ...broker, port: mqttPort },
    api: { host: '127.0.0.1', ...(config.api as object | undefined), port: apiPort },
    registry: { path: join(dir, 'registry.sqlite'), ...(config.registry as object | undefined) },
    queue: { path: join(dir, 'spool.sqlite'), ...(config.queue as object | undefined) },
    alerts: { path: join(dir, 'alerts.sqlite'), outboxPath: join(dir, 'outbox.sqlite'), ...(config.alerts as object | undefined) },
    uptime: { path: join(dir, 'uptime.sqlite'), ...(config.uptime as object | undefined) },
    reports: { path: join(dir, 'reports.sqlite'), ...(config.reports as object | undefined) },
    backups: { path: join(dir, 'backups.sqlite'), ...(config.backups as object | undefined) },
    // Tests that are not about identity run open; the security tests turn authentication on.
    security: { path: join(dir, 'security.sqlite'), deviceAuth: 'open', apiAuth: 'open', ...(config.security as object | undefined) },
  };
  const file = join(dir, 'collector.yaml');
  writeFileSync(file, stringify(full));
  const proc = startProcess(process.execPath, ['--disable-warning=ExperimentalWarning', 'collector/main.ts', '--config', file]);
  const https = Boolean((config.api as { tls?: unknown } | undefined)?.tls);
  const apiUrl = `${https ? 'https' : 'http'}://127.0.0.1:${apiPort}`;
  await waitFor(`collector API at ${apiUrl}`, async () => {
    if (proc.child.exitCode !== null) throw new Error(`collector exited: ${proc.output()}`);
    // fetch cannot be given a private CA: over HTTPS the collector's own start line tells.
    if (https) return proc.output().includes('"msg":"collector started"');
    return (await fetch(`${apiUrl}/${options.until === 'live' ? 'healthz' : 'readyz'}`)).ok;
  });
  const metricsText = async () => (await fetch(`${apiUrl}/metrics`)).text();
  return {
    apiUrl,
    mqttUrl: mqttPort === undefined ? undefined : `mqtt://127.0.0.1:${mqttPort}`,
    process: proc,
    dir,
    metricsText,
    metric: async (sample) => {
      const line = (await metricsText()).split('\n').find((l) => l.startsWith(`${sample} `));
      return line ? Number(line.slice(sample.length + 1)) : 0;
    },
    stop: (signal) => proc.stop(signal),
  };
}
