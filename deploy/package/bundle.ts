import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, type Metafile } from 'esbuild';

// The agent as one CommonJS file: a Node single executable application runs one CommonJS
// script, and one file parses faster than ~130 packages resolved from node_modules.

export interface BundleResult {
  file: string;
  bytes: number;
  metafile: Metafile;
}

export async function bundleAgent(options: { entry: string; outfile: string; version: string; nodeTarget: string }): Promise<BundleResult> {
  const result = await build({
    entryPoints: [options.entry],
    outfile: options.outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: options.nodeTarget,
    define: { AGENT_BUILD_VERSION: JSON.stringify(options.version) },
    // Whitespace and syntax only: names stay, so a stack trace in a log still reads.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    // agent/version.ts reads import.meta.url only when AGENT_BUILD_VERSION is not defined,
    // which in a bundle it always is: that branch is dead code here.
    logOverride: { 'empty-import-meta': 'silent' },
  });
  const bytes = Object.values(result.metafile.outputs)[0]?.bytes ?? 0;
  return { file: options.outfile, bytes, metafile: result.metafile };
}

/** Each bundled package's name, version, licence and licence text: what their licences ask a redistributor to pass on. */
export function thirdPartyNotices(metafile: Metafile, projectRoot: string): string {
  const packages = new Map<string, string>();
  for (const input of Object.values(metafile.outputs).flatMap((output) => Object.keys(output.inputs))) {
    const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (match) packages.set(match[1]!, match[1]!);
  }
  const sections: string[] = [];
  for (const dir of [...packages.keys()].sort()) {
    const root = join(projectRoot, dir);
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string; license?: string };
    const licenceFile = readdirSync(root).find((name) => /^(licen[cs]e|copying)(\.|$)/i.test(name));
    const text = licenceFile ? readFileSync(join(root, licenceFile), 'utf8').trim() : `(no licence file; package.json says ${manifest.license ?? 'nothing'})`;
    sections.push(`${manifest.name} ${manifest.version} — ${manifest.license ?? 'unknown'}\n\n${text}`);
  }
  return `Third-party software in belediye-agent\n\n${sections.join(`\n\n${'-'.repeat(72)}\n\n`)}\n`;
}
