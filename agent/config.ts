import { accessSync, constants } from 'node:fs';
import { hostname, platform, version } from 'node:os';
import { win32 } from 'node:path';
import { z } from 'zod';
import { ConfigError, loadConfig } from '../src/config/load.ts';
import { ID_PATTERN, normaliseId } from '../src/contract/topics.ts';
import { backupsSchema } from './backup/config.ts';
import { windowsSchema } from './windows/config.ts';

// Agent configuration: YAML file + AGENT_* environment overrides (AGENT_MQTT__URL=…).
// TLS file names follow the collector's configuration (caFile, certFile, keyFile).

const idSchema = z.string().regex(ID_PATTERN, `expected lower-case letters, digits, ".", "-" or "_" (${ID_PATTERN})`);

/** Pure: Linux machines and Windows Server are servers, everything else a PC. `osVersion` is os.version(), e.g. "Windows Server 2019 Standard". */
export function defaultKind(os: NodeJS.Platform, osVersion: string): 'pc' | 'server' {
  return os === 'linux' || (os === 'win32' && /server/i.test(osVersion)) ? 'server' : 'pc';
}

export function defaultStateDir(os: NodeJS.Platform, env: NodeJS.ProcessEnv): string {
  return os === 'win32' ? win32.join(env.ProgramData ?? 'C:\\ProgramData', 'belediye-agent') : '/var/lib/belediye-agent';
}

export const agentConfigSchema = z.strictObject({
  site: idSchema,
  device: idSchema.default(() => normaliseId(hostname())),
  kind: z.enum(['pc', 'server']).default(() => defaultKind(platform(), version())),
  intervalS: z.number().min(1).max(3600).default(10),
  hardwareIntervalS: z.number().min(10).max(86_400).default(300),
  inventoryIntervalS: z.number().min(60).max(7 * 86_400).default(3600),
  stateDir: z.string().min(1).default(() => defaultStateDir(platform(), process.env)),
  /** KVKK: the logged-in user name is personal data; off unless the institution decides otherwise. */
  collectUserName: z.boolean().default(false),
  /** Enrollment with the collector (docs/security.md): the agent gets its own credentials once. */
  enrollment: z
    .strictObject({
      /** The collector's HTTP API, e.g. https://izleme.belediye.local:8080 */
      url: z.string().regex(/^https?:\/\/[^\s]+$/, 'expected http(s)://host:port'),
      /** Spent on first start; not needed once <stateDir>/credentials.json exists. */
      token: z.string().min(1).optional(),
      caFile: z.string().min(1).optional(),
      rotateAfterDays: z.number().min(1).max(3650).default(90),
    })
    .optional(),
  /** Backup files this machine holds, checked on the hardware cadence (docs/agent.md#backups). */
  backups: backupsSchema,
  /** Windows only: services whose state is reported on the hardware cadence (docs/agent.md#windows-health). */
  windows: windowsSchema,
  queue: z.strictObject({ maxMessages: z.number().int().positive().max(1_000_000).default(10_000) }).prefault({}),
  mqtt: z.strictObject({
    url: z.string().regex(/^(mqtts?|tcp|ssl):\/\/[^\s]+$/, 'expected mqtt://host:port or mqtts://host:port'),
    username: z.string().optional(),
    password: z.string().optional(),
    clientId: z.string().min(1).max(64).optional(),
    caFile: z.string().min(1).optional(),
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
    rejectUnauthorized: z.boolean().default(true),
    keepaliveS: z.number().int().min(5).max(3600).default(30),
    connectTimeoutS: z.number().min(1).max(300).default(15),
  }),
});
export type AgentConfig = z.infer<typeof agentConfigSchema>;

/** A TLS file that cannot be read is a configuration error, reported by field at start, not a crash at connect time. */
function checkReadableFiles(config: AgentConfig): void {
  const problems: string[] = [];
  const files: [string, string | undefined][] = [
    ['mqtt.caFile', config.mqtt.caFile],
    ['mqtt.certFile', config.mqtt.certFile],
    ['mqtt.keyFile', config.mqtt.keyFile],
    ['enrollment.caFile', config.enrollment?.caFile],
  ];
  for (const [field, path] of files) {
    if (!path) continue;
    try {
      accessSync(path, constants.R_OK);
    } catch (error) {
      problems.push(`  ${field}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  if (config.mqtt.certFile && !config.mqtt.keyFile) problems.push('  mqtt.keyFile: required when mqtt.certFile is set');
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n${problems.join('\n')}`);
}

export function loadAgentConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const config = loadConfig(agentConfigSchema, { file, env, envPrefix: 'AGENT_' });
  checkReadableFiles(config);
  return config;
}
