import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'postject';

// A Node single executable application: the bundle is turned into a preparation blob by a Node
// of the same version as the target runtime (the blob's format follows the version, not the
// OS), and injected into a copy of the target's node binary (ELF or PE) with postject.

// Node's documented fuse: the runtime looks for the blob only when this string is flipped.
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

export interface SeaOptions {
  bundle: string;
  /** A node for this machine, of the same version as `runtime`, that writes the blob. */
  blobWriter: string;
  /** The target's node binary (node or node.exe). */
  runtime: string;
  output: string;
  /** Node and V8 options the executable always starts with (Node ≥ 22.20 / 24.6 read them from the blob). */
  execArgv?: string[];
}

export async function buildExecutable(options: SeaOptions): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'sea-'));
  try {
    const blob = join(work, 'sea-prep.blob');
    const config = join(work, 'sea-config.json');
    // No code cache or snapshot: both are tied to the writer's V8 build and platform.
    writeFileSync(config, JSON.stringify({ main: options.bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: false, useSnapshot: false, execArgv: options.execArgv ?? [] }));
    execFileSync(options.blobWriter, ['--experimental-sea-config', config], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    // Built beside and renamed over: the previous executable may be running (a benchmark, a
    // test), and writing into a running binary fails with ETXTBSY.
    const partial = `${options.output}.partial`;
    copyFileSync(options.runtime, partial);
    chmodSync(partial, 0o755);
    await inject(partial, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: SEA_FUSE });
    renameSync(partial, options.output);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
