import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { PackageFile } from './deb.ts';

// A .tar.gz for distributions without dpkg: one top folder, files owned by root, sorted, with a
// fixed time, so the same inputs give the same archive.

export function buildTarball(topFolder: string, files: PackageFile[], output: string, mtimeS: number): void {
  const root = mkdtempSync(join(tmpdir(), 'tarball-'));
  try {
    for (const file of files) {
      const target = join(root, topFolder, file.to);
      mkdirSync(dirname(target), { recursive: true });
      if ('path' in file.from) copyFileSync(file.from.path, target);
      else writeFileSync(target, file.from.text);
      chmodSync(target, file.mode);
    }
    mkdirSync(dirname(output), { recursive: true });
    execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', `--mtime=@${mtimeS}`, '-czf', output, '-C', root, topFolder], { timeout: 600_000 });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
