import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './servers.ts';

// Debian's wine64 runs the Windows agent executable here. Wine writes a Windows program's
// stdout to a file but not to a pipe, so output goes through files. Each test gets its own
// prefix (a fresh "C:"), set to report Windows 10, which Node 22 requires.

export const WINE = '/usr/lib/wine/wine64';

export interface WinePrefix {
  prefix: string;
  env: NodeJS.ProcessEnv;
  /** A Linux path as the Windows program sees it (drive Z: is /). */
  windowsPath: (linuxPath: string) => string;
  /** Runs to the end; stdout and stderr read back from files. */
  run: (exe: string, args: string[], timeoutMs: number) => { status: number | null; stdout: string; stderr: string };
  /** Starts and returns the process; its output lands in the returned files. */
  start: (exe: string, args: string[]) => { child: ChildProcess; stdoutFile: string; stderrFile: string; output: () => string };
  stop: () => void;
}

export function createWinePrefix(): WinePrefix {
  const prefix = tempDir('wine');
  const env = { ...process.env, WINEPREFIX: prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=' };
  execFileSync(WINE, ['wineboot', '--init'], { env, timeout: 180_000, stdio: 'ignore' });
  execFileSync(WINE, ['reg', 'add', 'HKCU\\Software\\Wine', '/v', 'Version', '/d', 'win10', '/f'], { env, timeout: 60_000, stdio: 'ignore' });
  let outputs = 0;
  const files = () => {
    outputs += 1;
    return { stdoutFile: join(prefix, `stdout-${outputs}.txt`), stderrFile: join(prefix, `stderr-${outputs}.txt`) };
  };
  const read = (file: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return '';
    }
  };
  return {
    prefix,
    env,
    windowsPath: (linuxPath) => `Z:${linuxPath.replace(/\//g, '\\')}`,
    run(exe, args, timeoutMs) {
      const { stdoutFile, stderrFile } = files();
      const [out, err] = [openSync(stdoutFile, 'w'), openSync(stderrFile, 'w')];
      try {
        execFileSync(WINE, [exe, ...args], { env, timeout: timeoutMs, stdio: ['ignore', out, err] });
        return { status: 0, stdout: read(stdoutFile), stderr: read(stderrFile) };
      } catch (error) {
        return { status: (error as { status: number | null }).status, stdout: read(stdoutFile), stderr: read(stderrFile) };
      } finally {
        closeSync(out);
        closeSync(err);
      }
    },
    start(exe, args) {
      const { stdoutFile, stderrFile } = files();
      const [out, err] = [openSync(stdoutFile, 'w'), openSync(stderrFile, 'w')];
      const child = spawn(WINE, [exe, ...args], { env, stdio: ['ignore', out, err] });
      child.once('exit', () => {
        closeSync(out);
        closeSync(err);
      });
      return { child, stdoutFile, stderrFile, output: () => `${read(stdoutFile)}${read(stderrFile)}` };
    },
    stop() {
      try {
        execFileSync('/usr/lib/wine/wineserver64', ['-k'], { env, timeout: 30_000, stdio: 'ignore' });
      } catch {
        // No wineserver left for this prefix: nothing to stop.
      }
    },
  };
}
