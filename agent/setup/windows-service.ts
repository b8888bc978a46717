import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

// What the MSI cannot say in its own tables (wixl writes ServiceInstall and ServiceControl but
// not MsiServiceConfigFailureActions nor LockPermissions), done by the agent's executable in
// deferred custom actions that run as LocalSystem.

export const SERVICE_NAME = 'belediye-agent';
/** The service's virtual account: its own SID, so the ACLs below name exactly this service. */
export const SERVICE_ACCOUNT = `NT SERVICE\\${SERVICE_NAME}`;

/** Pure: SCM failure actions — restart after 10 s, 30 s and 60 s; the count resets after a day without failure. */
export function failureActionArgs(): string[] {
  return ['failure', SERVICE_NAME, 'reset=', '86400', 'actions=', 'restart/10000/restart/30000/restart/60000'];
}

/** Pure: the failure actions also apply when the agent exits with an error code, not only when it crashes. */
export function failureFlagArgs(): string[] {
  return ['failureflag', SERVICE_NAME, '1'];
}

/**
 * Pure: icacls arguments giving the state directory (configuration, credentials, offline queue)
 * to Administrators and SYSTEM (full) and the service (modify), inherited by every file in it,
 * and nobody else: Users lose the read access ProgramData gives them by default.
 */
export function stateDirAclArgs(dir: string): string[] {
  return [dir, '/inheritance:r', '/grant:r', '*S-1-5-32-544:(OI)(CI)F', '/grant:r', '*S-1-5-18:(OI)(CI)F', '/grant:r', `${SERVICE_ACCOUNT}:(OI)(CI)M`, '/T', '/C', '/Q'];
}

function systemTool(name: string, env: NodeJS.ProcessEnv): string {
  return join(env.SystemRoot ?? 'C:\\Windows', 'System32', name);
}

function run(command: string, args: string[]): void {
  execFileSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000, windowsHide: true });
}

/** After InstallServices: failure actions, then the state directory's ACL (logs go there too). */
export function setUpWindowsService(stateDir: string, env: NodeJS.ProcessEnv = process.env): void {
  mkdirSync(join(stateDir, 'logs'), { recursive: true });
  run(systemTool('sc.exe', env), failureActionArgs());
  run(systemTool('sc.exe', env), failureFlagArgs());
  run(systemTool('icacls.exe', env), stateDirAclArgs(stateDir));
}

/** PURGE=1 on uninstall: the configuration, credentials and queue go too. */
export function purgeState(stateDir: string): void {
  rmSync(stateDir, { recursive: true, force: true });
}
