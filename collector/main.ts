import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadOrExit } from '../src/config/load.ts';
import { createLogger } from '../src/log.ts';
import { startCollector } from './app.ts';
import { loadCollectorConfig } from './config.ts';
import { StoreVersionError } from './storage/schema-version.ts';

// CLI: node collector/main.ts [--config collector.yaml]
// Exits 2 on a configuration error (message names the field). On SIGTERM/SIGINT it stops in
// order (API, producers, queue, stores), every step bounded; whatever storage did not take stays
// in the spool for the next start.

const log = createLogger({ name: 'collector', level: (process.env.LOG_LEVEL as 'debug' | 'info' | undefined) ?? 'info' });

/** Beyond the steps' own bounds: the last word if something outside them (a busy event loop) holds the stop. */
const EXIT_MARGIN_MS = 1_000;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string', short: 'c' } } });
  const config = loadOrExit(() => loadCollectorConfig(values.config));
  const collector = await startCollector(config, log, { configFile: values.config === undefined ? undefined : resolve(values.config) });
  const shutdown = (signal: string) => {
    log.log('info', 'stopping: API, then producers, then queue and stores', { signal, boundMs: collector.stopBoundMs });
    // Committed spool rows survive an exit at any point (SQLite WAL), so exiting here loses nothing.
    setTimeout(() => {
      log.log('error', 'stop did not end within its bound; exiting', { boundMs: collector.stopBoundMs + EXIT_MARGIN_MS });
      process.exit(1);
    }, collector.stopBoundMs + EXIT_MARGIN_MS).unref();
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
  // A file the collector reads at start (notify.yaml, report recipients…) is as much the
  // operator's to fix as collector.yaml, and so is a store a newer release wrote (an upgrade
  // rolled back): exit 2 too, which the unit does not restart into a loop.
  process.exit(error instanceof ConfigError || error instanceof StoreVersionError ? 2 : 1);
});
