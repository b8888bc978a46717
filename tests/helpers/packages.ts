import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from './servers.ts';

// `npm run package` once per test run, whichever package test asks first: the test files run in
// parallel workers of one vitest process, and two builds writing dist/ at once would corrupt it.
// The stamp names the vitest process (the workers' parent); the lock is a directory (mkdir is
// atomic) holding the builder's pid, so a lock left by a killed run is recognised and taken.

const root = process.cwd();
const dist = join(root, 'dist');
const lock = join(dist, '.build-lock');
const stamp = join(dist, '.built-for');

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

function takeLock(): boolean {
  mkdirSync(dist, { recursive: true });
  try {
    mkdirSync(lock);
    writeFileSync(join(lock, 'pid'), String(process.pid));
    return true;
  } catch {
    const holder = Number(existsSync(join(lock, 'pid')) ? readFileSync(join(lock, 'pid'), 'utf8') : 0);
    if (holder > 0 && !alive(holder)) rmSync(lock, { recursive: true, force: true });
    return false;
  }
}

const builtForThisRun = () => existsSync(stamp) && readFileSync(stamp, 'utf8') === String(process.ppid);

export async function ensurePackagesBuilt(): Promise<void> {
  while (!builtForThisRun()) {
    if (takeLock()) {
      try {
        if (!builtForThisRun()) {
          execFileSync('npm', ['run', 'package'], { cwd: root, stdio: 'inherit', timeout: 900_000 });
          writeFileSync(stamp, String(process.ppid));
        }
      } finally {
        rmSync(lock, { recursive: true, force: true });
      }
      return;
    }
    await waitFor('the other worker\'s package build', async () => !existsSync(lock) || builtForThisRun(), 900_000, 500);
  }
}
