import { parseArgs } from 'node:util';
import { loadOrExit } from '../src/config/load.ts';
import { createLogger } from '../src/log.ts';
import { startCollector } from './app.ts';
import { loadCollectorConfig } from './config.ts';

// CLI: node collector/main.ts [--config collector.yaml]
// Exits 2 on a configuration error (message names the field), flushes on SIGTERM/SIGINT.

const log = createLogger({ name: 'collector', level: (process.env.LOG_LEVEL as 'debug' | 'info' | undefined) ?? 'info' });

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string', short: 'c' } } });
  const config = loadOrExit(() => loadCollectorConfig(values.config));
  const collector = await startCollector(config, log);
  const shutdown = (signal: string) => {
    log.log('info', 'shutting down, flushing queued points', { signal });
    collector.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.log('error', 'shutdown failed', { error });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  log.log('error', 'collector failed to start', { error });
  process.exit(1);
});
