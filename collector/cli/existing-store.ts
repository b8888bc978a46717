import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { CliError } from './cli-error.ts';

// The collector creates its stores on its first start; a command that created one would make a
// new, empty store beside the one the collector uses, and what it wrote there (a token, a
// silence) would silently not exist for the collector. So commands open existing files only.

/**
 * Returns the path of an existing store file, or throws naming the file, where its path comes
 * from (`key` in the configuration file) and the --config option.
 */
export function existingStore(path: string, what: string, key: string, configFile: string): string {
  if (path === ':memory:') throw new CliError(`the collector keeps its ${what} in memory (${key}: ':memory:' in ${configFile}): there is no file to open`);
  if (existsSync(path)) return path;
  const relative = isAbsolute(path) ? '' : ` (${key} is relative: "${path}" is taken from the current directory; the collector takes it from its own working directory)`;
  throw new CliError(
    `no ${what} at ${resolve(path)}${relative}. Refusing to create a new, empty one: the collector creates it on its first start. ` +
      `Start the collector once, or check ${key} in ${configFile}, or give the running collector's configuration with --config FILE.`,
  );
}
