import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build, type Metafile } from 'esbuild';

// The agent as one CommonJS file: a Node single executable application runs one CommonJS
// script, and one file parses faster than ~130 packages resolved from node_modules. The
// collector as ES modules (its `izleme` command awaits at top level, which CommonJS cannot)
// run by a packaged Node runtime.

export interface BundleResult {
  file: string;
  bytes: number;
  metafile: Metafile;
}

/**
 * V8 keeps a script's source for as long as the script lives, and one character above U+007F
 * makes it a two-byte string: the agent's 1.8 MB bundle would hold 3.5 MB of heap. esbuild
 * escapes strings but leaves a few characters inside regular expressions (systeminformation's
 * "°"), where \uXXXX means the same character, with or without the u flag.
 */
export function asciiOnly(code: string): string {
  return code.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** What both bundles share. Whitespace and syntax only: names stay, so a stack trace in a log still reads. */
const COMMON = { bundle: true, platform: 'node', minifyWhitespace: true, minifySyntax: true, legalComments: 'none', metafile: true, logLevel: 'warning' } as const;

export async function bundleAgent(options: { entry: string; outfile: string; version: string; nodeTarget: string }): Promise<BundleResult> {
  const result = await build({
    ...COMMON,
    entryPoints: [options.entry],
    outfile: options.outfile,
    format: 'cjs',
    target: options.nodeTarget,
    define: { AGENT_BUILD_VERSION: JSON.stringify(options.version) },
    // agent/version.ts reads import.meta.url only when AGENT_BUILD_VERSION is not defined,
    // which in a bundle it always is: that branch is dead code here.
    logOverride: { 'empty-import-meta': 'silent' },
  });
  writeFileSync(options.outfile, asciiOnly(readFileSync(options.outfile, 'utf8')));
  return { file: options.outfile, bytes: statSync(options.outfile).size, metafile: result.metafile };
}

export interface ModulesBundleResult {
  /** Every file written: one per entry (`<name>.mjs`) and the chunks they share. */
  files: string[];
  bytes: number;
  metafile: Metafile;
}

/**
 * Several entry points as ES modules in one folder, code they share in chunks beside them (not
 * in a subfolder: every module's import.meta.dirname is then that folder, which
 * collector/assets.ts relies on).
 */
export async function bundleModules(options: { entries: Record<string, string>; outdir: string; nodeTarget: string; define?: Record<string, string> }): Promise<ModulesBundleResult> {
  const result = await build({
    ...COMMON,
    entryPoints: options.entries,
    outdir: options.outdir,
    format: 'esm',
    splitting: true,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunk-[hash]',
    target: options.nodeTarget,
    define: {
      ...options.define,
      // `if (import.meta.main)` starts a tool run on its own (collector/admin.ts); bundled into
      // another entry's file it would be that file's import.meta and run there too.
      'import.meta.main': 'false',
    },
    // CommonJS packages inside an ES module bundle still call require() for Node's built-ins.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
  const files = Object.keys(result.metafile.outputs).map((file) => resolve(file));
  let bytes = 0;
  for (const file of files) {
    writeFileSync(file, asciiOnly(readFileSync(file, 'utf8')));
    bytes += statSync(file).size;
  }
  return { files, bytes, metafile: result.metafile };
}

/** Each bundled package's name, version, licence and licence text: what their licences ask a redistributor to pass on. */
export function thirdPartyNotices(metafile: Metafile, projectRoot: string, product = 'belediye-agent'): string {
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
  return `Third-party software in ${product}\n\n${sections.join(`\n\n${'-'.repeat(72)}\n\n`)}\n`;
}
