import { readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAgentArtifacts } from './agent.ts';
import { buildCollectorDeb } from './collector.ts';

// `npm run package`: every installable artifact under dist/ (docs/agent.md, docs/deploy.md).
// `npm run package -- collector` (or agent) builds one product's only.
// Needs dpkg-deb and wixl (Debian's wixl package); Node runtimes come from the npm registry.

const PRODUCTS = ['agent', 'collector'] as const;
type Product = (typeof PRODUCTS)[number];

const root = fileURLToPath(new URL('../..', import.meta.url));
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
const dist = join(root, 'dist');
const started = performance.now();
const log = (line: string) => process.stderr.write(`package: ${line}\n`);
const epochS = Number(process.env.SOURCE_DATE_EPOCH ?? Math.floor(Date.now() / 1000));

function chosen(argv: string[]): Set<Product> {
  const unknown = argv.filter((a) => !(PRODUCTS as readonly string[]).includes(a));
  if (unknown.length > 0) throw new Error(`unknown product ${unknown.join(', ')}: expected ${PRODUCTS.join(' or ')}`);
  return new Set(argv.length === 0 ? PRODUCTS : (argv as Product[]));
}

try {
  const products = chosen(process.argv.slice(2));
  const built: string[] = [];
  if (products.has('agent')) {
    const agent = await buildAgentArtifacts({ root, version, dist, cacheDir: join(root, '.cache', 'npm-artifacts'), epochS, log });
    built.push(agent.deb, agent.tarball, agent.msi);
  }
  if (products.has('collector')) built.push((await buildCollectorDeb({ root, version, dist, log })).deb);
  for (const file of built) process.stdout.write(`${relative(root, file)}\t${(statSync(file).size / 2 ** 20).toFixed(1)} MiB\n`);
  log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
} catch (error) {
  process.stderr.write(`package failed: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
