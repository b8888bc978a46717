import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

// Prebuilt pieces that ship inside npm packages (a Node runtime for another OS, WinSW inside
// node-windows), fetched from the npm registry with `npm pack` and checked against an
// integrity pinned here, so a build uses exactly the bytes that were reviewed.

export interface PinnedPackage {
  name: string;
  version: string;
  /** `npm view <name>@<version> dist.integrity` */
  integrity: string;
}

/** Returns the package's extracted directory (its `package/` folder), fetching it once into `cacheDir`. */
export function fetchNpmPackage(pin: PinnedPackage, cacheDir: string): string {
  const target = join(cacheDir, `${pin.name}-${pin.version}`);
  if (existsSync(join(target, 'package', 'package.json'))) return join(target, 'package');
  mkdirSync(cacheDir, { recursive: true });
  const file = execFileSync('npm', ['pack', `${pin.name}@${pin.version}`, '--pack-destination', cacheDir, '--silent'], { encoding: 'utf8', timeout: 600_000 }).trim().split('\n').at(-1)!;
  const tarball = join(cacheDir, file);
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  if (integrity !== pin.integrity) {
    rmSync(tarball, { force: true });
    throw new Error(`${pin.name}@${pin.version}: integrity ${integrity} is not the pinned ${pin.integrity}`);
  }
  const partial = `${target}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', partial], { timeout: 300_000 });
  rmSync(tarball, { force: true });
  renameSync(partial, target);
  return join(target, 'package');
}
