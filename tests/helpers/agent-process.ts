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
