import { readFileSync } from 'node:fs';

// The packaged agent is one bundled file with no package.json beside it: the build defines
// AGENT_BUILD_VERSION (deploy/package/bundle.ts); run from the repository, package.json says.
declare const AGENT_BUILD_VERSION: string | undefined;

export const AGENT_VERSION: string =
  typeof AGENT_BUILD_VERSION === 'string' ? AGENT_BUILD_VERSION : (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
