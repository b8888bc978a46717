import { readFileSync } from 'node:fs';

// The collector's release (package.json), recorded in every state backup: restore reports it,
// and a support question starts from it. The packaged collector is bundled with no package.json
// beside it: the build defines COLLECTOR_BUILD_VERSION (deploy/package/collector.ts).
declare const COLLECTOR_BUILD_VERSION: string | undefined;

let cached: string | undefined;

export function collectorVersion(): string {
  cached ??=
    typeof COLLECTOR_BUILD_VERSION === 'string'
      ? COLLECTOR_BUILD_VERSION
      : ((JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? 'unknown');
  return cached;
}
