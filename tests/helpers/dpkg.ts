import { spawnSync } from 'node:child_process';
import { waitFor } from './servers.ts';

// Installing the project's .deb packages on the test machine (root in CI). Package tests run in
// parallel workers, and dpkg refuses at once, with no option to wait, while another package
// operation holds its lock: that refusal alone is retried.

/** The environment root has in a login shell: no node_modules/.bin, so packaged commands run on their own runtime. */
export const ROOT_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8' };

export async function dpkg(args: string[], env: NodeJS.ProcessEnv = ROOT_ENV): Promise<string> {
  let output = '';
  let failed = false;
  await waitFor(
    `dpkg ${args.join(' ')} (the dpkg lock)`,
    async () => {
      const run = spawnSync('dpkg', args, { encoding: 'utf8', env, timeout: 300_000 });
      if (run.status !== 0 && /lock was locked by another process|could not get lock/i.test(run.stderr)) return false;
      failed = run.status !== 0;
      output = failed ? `dpkg ${args.join(' ')} failed (${run.status}): ${run.stdout}${run.stderr}` : run.stdout + run.stderr;
      return true;
    },
    600_000,
    500,
  );
  if (failed) throw new Error(output);
  return output;
}

export function installed(name: string): boolean {
  // dpkg-query fails for a package it never saw.
  const known = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' });
  return known.status === 0 && !known.stdout.includes('not-installed') && known.stdout.trim() !== '';
}

/** Leaves no trace of an earlier run. */
export async function purgeIfInstalled(name: string): Promise<void> {
  if (installed(name)) await dpkg(['--purge', name]);
}
