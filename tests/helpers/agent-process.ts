import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startProcess, tempDir, type ManagedProcess } from './servers.ts';

// A real agent process (`node agent/main.ts`) with its own configuration file and state dir.

export function agentConfigFile(values: Record<string, unknown>): string {
  const dir = tempDir('agent');
  const file = join(dir, 'agent.yaml');
  writeFileSync(file, stringify({ stateDir: join(dir, 'state'), ...values }));
  return file;
}

export function startAgentProcess(values: { site: string; device: string; mqttUrl: string; kind?: 'pc' | 'server'; intervalS?: number }): ManagedProcess {
  return startAgentWithConfig(agentConfigFile({ site: values.site, device: values.device, kind: values.kind ?? 'server', intervalS: values.intervalS ?? 1, mqtt: { url: values.mqttUrl } }));
}

/** Starting twice with the same file is an agent restart: same configuration, same state dir. */
export function startAgentWithConfig(file: string): ManagedProcess {
  return startProcess(process.execPath, ['agent/main.ts', '--config', file]);
}

/**
 * An agent on a machine named `hostName` (a UTS namespace of its own, so this machine's name is
 * untouched; needs root, as CI runs): with no `device` in its configuration it derives its id
 * from that name, and its inventory reports the name as the OS does.
 */
export function startAgentOnHost(hostName: string, values: Record<string, unknown>): ManagedProcess {
  // unshare and sh exec into node: the process stopped is the agent itself.
  const script = 'printf %s "$1" > /proc/sys/kernel/hostname && exec "$2" agent/main.ts --config "$3"';
  return startProcess('unshare', ['--uts', 'sh', '-c', script, 'sh', hostName, process.execPath, agentConfigFile(values)]);
}
