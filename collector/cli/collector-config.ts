import { existsSync } from 'node:fs';
import { ConfigError } from '../../src/config/load.ts';
import { loadCollectorConfig, type CollectorConfig } from '../config.ts';
import { CliError } from './cli-error.ts';

// The administration commands work on the running collector's own files, so they read its
// configuration: the installed one by default (docs/deploy.md), another with --config. Without
// one they would fall back to the built-in ./data/… paths and work on files the collector never
// reads (a token made there is unknown to it).

export const DEFAULT_CONFIG_FILE = '/etc/belediye-izleme/collector.yaml';

export interface CliConfig {
  config: CollectorConfig;
  /** The file it came from, for messages. */
  file: string;
}

/** The collector's configuration (plus its COLLECTOR_* environment overrides, as the collector reads it). */
export function loadCliConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): CliConfig {
  const path = file ?? DEFAULT_CONFIG_FILE;
  if (!existsSync(path)) {
    throw new CliError(
      file === undefined
        ? `no collector configuration at ${path} (the default): give the running collector's configuration file with --config FILE`
        : `--config: no such file ${path}: give the running collector's configuration file`,
      2,
    );
  }
  try {
    return { config: loadCollectorConfig(path, env), file: path };
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message, 2);
    throw error;
  }
}
