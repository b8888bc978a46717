import type { Logger } from '../../src/log.ts';
import type { CollectorConfig } from '../config.ts';
import type { MessageSink } from '../ingest/ingest.ts';
import type { SelfMetrics } from '../self-metrics.ts';
import { loadDeviceConfig, watchDeviceConfig, type DeviceConfigPaths } from './device-config.ts';
import { DRIVERS } from './drivers/index.ts';
import { DevicePoller } from './poller.ts';
import { startTrapService, type TrapService } from './trap-service.ts';

// Devices without an agent, assembled: the device list (hot-reloaded), the poller and the trap
// receiver feeding the same ingest path as MQTT, and their self-metrics.

export interface DeviceService {
  poller: DevicePoller;
  /** Re-reads the device files now (also done on change and on SIGHUP). */
  reload(): void;
  close(): Promise<void>;
}

export async function startDeviceService(config: CollectorConfig, accept: MessageSink, metrics: SelfMetrics, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<DeviceService | undefined> {
  const file = config.devices.file;
  if (!file && !config.devices.traps.enabled) return undefined;
  const paths: DeviceConfigPaths = { file, secretsFile: config.devices.secretsFile, profilesDirs: config.devices.profilesDirs, defaultIntervalS: config.devices.defaultIntervalS };
  const reloadErrors = metrics.counter('collector_device_config_errors_total', 'Device list reloads refused because they did not validate');
  const poller = new DevicePoller({ drivers: DRIVERS, concurrency: config.devices.concurrency, language: config.language, deliver: accept, log });
  metrics.gauge('collector_polled_devices', 'Devices in the device list being polled', () => poller.stats().devices);
  metrics.gauge('collector_polls_total', 'Device polls completed', () => poller.stats().polls);
  metrics.gauge('collector_polls_unreachable_total', 'Device polls that got no answer', () => poller.stats().unreachable);
  metrics.gauge('collector_poll_problems_total', 'Values devices sent that could not be used', () => poller.stats().problems);
  metrics.gauge('collector_poll_overruns_total', 'Polls skipped because the previous one of the device had not finished', () => poller.stats().overruns);

  // At start a bad device list stops the collector (like a bad collector.yaml); later, a bad edit is refused and logged.
  const first = loadDeviceConfig(paths, DRIVERS, env, log);
  const started = poller.update(first.plans);
  log.log('info', 'polling devices', { devices: first.plans.length, file, ...started });
  const traps: TrapService | undefined = config.devices.traps.enabled ? await startTrapService(config.devices.traps, config.language, first, accept, metrics, log) : undefined;
  const reload = () => {
    try {
      const loaded = loadDeviceConfig(paths, DRIVERS, env, log);
      log.log('info', 'device list reloaded', { file, ...poller.update(loaded.plans) });
      traps?.update(loaded).catch((error: unknown) => log.log('error', 'trap receiver could not restart with the new credentials', { error: (error as Error).message }));
    } catch (error) {
      reloadErrors.inc();
      log.log('error', 'device list not reloaded: the devices keep being polled as before', { file, error: (error as Error).message });
    }
  };
  const watcher = watchDeviceConfig(paths, reload);
  return {
    poller,
    reload,
    async close() {
      watcher.close();
      await traps?.close();
      await poller.close();
    },
  };
}
