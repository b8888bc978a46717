import { execFileSync } from 'node:child_process';
import { platform } from 'node:os';
import { ConfigError } from '../../src/config/load.ts';
import { defaultStateDir } from '../config.ts';
import { applyConfigure, parseConfigureArgs } from './configure.ts';
import { purgeState, setUpWindowsService } from './windows-service.ts';

// Installer-facing commands of the one executable: `belediye-agent <command> …`. Each prints
// one line on success and exits 2 with the reason on a wrong answer (the MSI logs it).

export const COMMANDS = ['configure', 'windows-service-setup', 'purge-state'] as const;
export const LINUX_SERVICE_USER = 'belediye-agent';

/** The Linux service account, when it exists (the .deb creates it) and we may chown to it. */
function linuxServiceOwner(): { uid: number; gid: number } | undefined {
  if (platform() !== 'linux' || process.getuid?.() !== 0) return undefined;
  try {
    const [uid, gid] = ['-u', '-g'].map((flag) => Number(execFileSync('id', [flag, LINUX_SERVICE_USER], { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim()));
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid: uid!, gid: gid! } : undefined;
  } catch {
    return undefined;
  }
}

function stateDirArg(args: string[]): string {
  const at = args.indexOf('--state-dir');
  return at >= 0 && args[at + 1] ? args[at + 1]! : defaultStateDir(platform(), process.env);
}

export function runCommand(command: string, args: string[]): number {
  try {
    switch (command) {
      case 'configure': {
        const { options, configPath, stateDir } = parseConfigureArgs(args, platform(), process.env);
        applyConfigure(options, { configPath, stateDir, owner: linuxServiceOwner() });
        process.stdout.write(`configured ${configPath} (site ${options.site}${options.token ? ', enrollment token saved for one use' : ''})\n`);
        return 0;
      }
      case 'windows-service-setup':
        setUpWindowsService(stateDirArg(args));
        process.stdout.write('service failure actions and state directory permissions set\n');
        return 0;
      case 'purge-state':
        purgeState(stateDirArg(args));
        return 0;
      default:
        process.stderr.write(`unknown command "${command}" (known: ${COMMANDS.join(', ')})\n`);
        return 2;
    }
  } catch (error) {
    process.stderr.write(`${command} failed: ${(error as Error).message}\n`);
    return error instanceof ConfigError ? 2 : 1;
  }
}
