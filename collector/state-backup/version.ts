import { readFileSync } from 'node:fs';

// The collector's release (package.json), recorded in every state backup: restore reports it,
// and a support question starts from it.

let cached: string | undefined;

export function collectorVersion(): string {
  cached ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? 'unknown';
  return cached;
}
