import { chownSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, posix, win32 } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { ConfigError, parseYamlText, validateConfig } from '../../src/config/load.ts';
import { agentConfigSchema, defaultStateDir } from '../config.ts';
import { enrollmentTokenPath } from '../enroll.ts';

// `belediye-agent configure`: what an installer needs to make a machine report — the site, the
// collector, a one-use enrollment token, the municipality's CA — written into the agent's
// configuration without touching the rest of it. The MSI runs it with SITE=… COLLECTOR=…
// ENROLL_TOKEN=… CA_FILE=…; on Linux it is the one command after `dpkg -i`.

export interface ConfigureOptions {
  site: string;
  /** The collector: a host name (izleme.belediye.local) or the API's URL (https://izleme:8080). */
  collector: string;
  token?: string | undefined;
  caFile?: string | undefined;
  /** Overrides the broker address derived from `collector`. */
  mqttUrl?: string | undefined;
  /** Written into the configuration only when given: the platform's default needs no line. */
  stateDir?: string | undefined;
}

export const DEFAULT_CONFIG_PATH: Partial<Record<NodeJS.Platform, string>> = { linux: '/etc/belediye-izleme/agent.yaml' };

export function defaultConfigPath(os: NodeJS.Platform, env: NodeJS.ProcessEnv): string {
  return DEFAULT_CONFIG_PATH[os] ?? (os === 'win32' ? win32 : posix).join(defaultStateDir(os, env), 'agent.yaml');
}

/**
 * Pure: the collector's API and broker addresses from what an installer typed. A bare host
 * means the defaults of docs/deploy.md: with a CA file, HTTPS on 8080 and MQTT over TLS on
 * 8883; without, plain HTTP and MQTT (a lab, or a LAN the municipality decided to trust).
 */
export function collectorAddresses(collector: string, tls: boolean, mqttUrl?: string): { apiUrl: string; mqttUrl: string } {
  const text = collector.trim();
  if (text.length === 0) throw new ConfigError('collector: expected a host name or an http(s):// URL');
  const url = /^[a-z]+:\/\//i.test(text) ? new URL(text) : new URL(`${tls ? 'https' : 'http'}://${text}`);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`collector: expected http(s)://, got ${url.protocol}//`);
  if (!url.port) url.port = '8080';
  const secure = url.protocol === 'https:';
  return { apiUrl: url.origin, mqttUrl: mqttUrl ?? `${secure ? 'mqtts' : 'mqtt'}://${url.hostname}:${secure ? 8883 : 1883}` };
}

/** Pure: the existing configuration with the installer's answers merged in, validated as the agent will read it. */
export function configuredAgent(existing: Record<string, unknown>, options: ConfigureOptions, source: string): Record<string, unknown> {
  const enrollment: Record<string, unknown> = { ...((existing.enrollment as Record<string, unknown> | undefined) ?? {}) };
  const mqtt: Record<string, unknown> = { ...((existing.mqtt as Record<string, unknown> | undefined) ?? {}) };
  // An upgrade that repeats SITE and COLLECTOR but not CA_FILE keeps the CA the machine already
  // has, and with it TLS: leaving out an answer must never turn encryption off.
  const tls = options.caFile !== undefined || enrollment.caFile !== undefined || mqtt.caFile !== undefined;
  const { apiUrl, mqttUrl } = collectorAddresses(options.collector, tls, options.mqttUrl);
  enrollment.url = apiUrl;
  mqtt.url = mqttUrl;
  // The token goes to its own one-use file, never into the configuration that outlives it.
  delete enrollment.token;
  if (options.caFile !== undefined) {
    enrollment.caFile = options.caFile;
    mqtt.caFile = options.caFile;
  }
  const result = { ...existing, site: options.site, ...(options.stateDir !== undefined ? { stateDir: options.stateDir } : {}), enrollment, mqtt };
  validateConfig(agentConfigSchema, result, source);
  return result;
}

export interface ConfigureTarget {
  configPath: string;
  stateDir: string;
  /** Linux: the service account that must read the configuration and own the state. */
  owner?: { uid: number; gid: number } | undefined;
}

function writeAtomically(path: string, text: string, mode: number): void {
  writeFileSync(`${path}.tmp`, text, { mode });
  renameSync(`${path}.tmp`, path);
}

/** Writes the configuration (root-owned, readable by the service's group) and the token (the service's own, owner-only). */
export function applyConfigure(options: ConfigureOptions, target: ConfigureTarget): void {
  const existing = existsSync(target.configPath) ? ((parseYamlText(readFileSync(target.configPath, 'utf8'), target.configPath) ?? {}) as Record<string, unknown>) : {};
  const config = configuredAgent(existing, options, target.configPath);
  mkdirSync(dirname(target.configPath), { recursive: true, mode: 0o755 });
  writeAtomically(target.configPath, `# Written by belediye-agent configure; other keys are kept on the next run (docs/agent.md).\n${stringify(config)}`, 0o640);
  if (target.owner) chownSync(target.configPath, 0, target.owner.gid);
  mkdirSync(target.stateDir, { recursive: true, mode: 0o700 });
  if (target.owner) chownSync(target.stateDir, target.owner.uid, target.owner.gid);
  if (options.token !== undefined) {
    const tokenPath = enrollmentTokenPath(target.stateDir);
    writeAtomically(tokenPath, `${options.token.trim()}\n`, 0o600);
    if (target.owner) chownSync(tokenPath, target.owner.uid, target.owner.gid);
  }
}

export const CONFIGURE_USAGE = `usage: belediye-agent configure --site SITE --collector HOST|URL [--token TOKEN] [--ca-file FILE] [--mqtt-url URL] [--config FILE] [--state-dir DIR]`;

/** Pure: the command line → options and where to write; ConfigError with the usage when something is missing. */
export function parseConfigureArgs(args: string[], os: NodeJS.Platform, env: NodeJS.ProcessEnv): { options: ConfigureOptions; configPath: string; stateDir: string } {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      options: { site: { type: 'string' }, collector: { type: 'string' }, token: { type: 'string' }, 'ca-file': { type: 'string' }, 'mqtt-url': { type: 'string' }, config: { type: 'string' }, 'state-dir': { type: 'string' } },
    }));
  } catch (error) {
    throw new ConfigError(`${(error as Error).message}\n${CONFIGURE_USAGE}`);
  }
  // An MSI passes every property, empty when not given: empty means "not given".
  const given = (value: string | undefined) => (value === undefined || value.trim() === '' ? undefined : value.trim());
  const site = given(values.site);
  const collector = given(values.collector);
  if (!site || !collector) throw new ConfigError(`--site and --collector are required\n${CONFIGURE_USAGE}`);
  return {
    options: { site, collector, token: given(values.token), caFile: given(values['ca-file']), mqttUrl: given(values['mqtt-url']), stateDir: given(values['state-dir']) },
    configPath: given(values.config) ?? defaultConfigPath(os, env),
    stateDir: given(values['state-dir']) ?? defaultStateDir(os, env),
  };
}
