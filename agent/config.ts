import { hostname, platform } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { loadConfig } from '../src/config/load.ts';
import { ID_PATTERN, normaliseId } from '../src/contract/topics.ts';

// Agent configuration: YAML file + AGENT_* environment overrides (AGENT_MQTT__URL=…).

const idSchema = z.string().regex(ID_PATTERN, `expected lower-case letters, digits, ".", "-" or "_" (${ID_PATTERN})`);

function defaultStateDir(): string {
  return platform() === 'win32' ? join(process.env.ProgramData ?? 'C:\\ProgramData', 'belediye-agent') : '/var/lib/belediye-agent';
}

export const agentConfigSchema = z.strictObject({
  site: idSchema,
  device: idSchema.default(() => normaliseId(hostname())),
  kind: z.enum(['pc', 'server']).default(() => (platform() === 'linux' ? 'server' : 'pc')),
  intervalS: z.number().min(1).max(3600).default(10),
  hardwareIntervalS: z.number().min(10).max(86_400).default(300),
  inventoryIntervalS: z.number().min(60).max(7 * 86_400).default(3600),
  stateDir: z.string().min(1).default(defaultStateDir),
  /** KVKK: the logged-in user name is personal data; off unless the institution decides otherwise. */
  collectUserName: z.boolean().default(false),
  queue: z.strictObject({ maxMessages: z.number().int().positive().max(1_000_000).default(10_000) }).prefault({}),
  mqtt: z.strictObject({
    url: z.string().regex(/^(mqtts?|tcp|ssl):\/\/[^\s]+$/, 'expected mqtt://host:port or mqtts://host:port'),
    username: z.string().optional(),
    password: z.string().optional(),
    clientId: z.string().min(1).max(64).optional(),
    caFile: z.string().optional(),
    certFile: z.string().optional(),
    keyFile: z.string().optional(),
    rejectUnauthorized: z.boolean().default(true),
    keepaliveS: z.number().int().min(5).max(3600).default(30),
  }),
});
export type AgentConfig = z.infer<typeof agentConfigSchema>;

export function loadAgentConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  return loadConfig(agentConfigSchema, { file, env, envPrefix: 'AGENT_' });
}
