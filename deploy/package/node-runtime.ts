import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The project's own Node (the `node` npm package): what ships runs on the version the project is
 * tested with (the Linux agent and the collector).
 */
export function projectNode(root: string): { binary: string; version: string } {
  const binary = realpathSync(join(root, 'node_modules', '.bin', 'node'));
  const { version } = JSON.parse(readFileSync(join(root, 'node_modules', 'node', 'package.json'), 'utf8')) as { version: string };
  return { binary, version };
}
