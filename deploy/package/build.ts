import { readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAgentArtifacts } from './agent.ts';

// `npm run package`: every installable artifact under dist/ (docs/agent.md, docs/deploy.md).
// Needs dpkg-deb and wixl (Debian's wixl package); Node runtimes come from the npm registry.

const root = fileURLToPath(new URL('../..', import.meta.url));
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
const dist = join(root, 'dist');
const started = performance.now();
const log = (line: string) => process.stderr.write(`package: ${line}\n`);
const epochS = Number(process.env.SOURCE_DATE_EPOCH ?? Math.floor(Date.now() / 1000));

try {
  const agent = await buildAgentArtifacts({ root, version, dist, cacheDir: join(root, '.cache', 'npm-artifacts'), epochS, log });
  for (const file of [agent.deb, agent.tarball, agent.msi]) {
    process.stdout.write(`${relative(root, file)}\t${(statSync(file).size / 2 ** 20).toFixed(1)} MiB\n`);
  }
  log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
} catch (error) {
  process.stderr.write(`package failed: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
