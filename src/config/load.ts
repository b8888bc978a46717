import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { formatPath } from '../contract/schemas.ts';

// One way to read configuration on both sides: a YAML (or JSON) file, then environment
// overrides, then schema validation whose message names the file, the field and the problem.

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * `PREFIX_MQTT__CLIENT_ID=x` sets `mqtt.clientId`: double underscore nests, single
 * underscore joins words in camelCase. Values that look like numbers or booleans become those.
 */
export function envOverrides(env: NodeJS.ProcessEnv, prefix: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(env)) {
    if (!key.startsWith(prefix) || raw === undefined) continue;
    const path = key.slice(prefix.length).split('__').map(camelCase);
    if (path.some((p) => p === '')) continue;
    let node = out;
    for (const part of path.slice(0, -1)) {
      node[part] = typeof node[part] === 'object' && node[part] !== null ? node[part] : {};
      node = node[part] as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = coerce(raw);
  }
  return out;
}

function camelCase(snake: string): string {
  return snake.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function coerce(raw: string): unknown {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  return raw;
}

export function deepMerge(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) return override === undefined ? base : override;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(override)) out[k] = deepMerge(base[k], v);
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses YAML text; syntax errors name the line. */
export function parseYamlText(text: string, source: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const line = first.linePos?.[0]?.line;
    throw new ConfigError(`${source}${line ? `:${line}` : ''}: ${first.message.split('\n')[0]}`);
  }
  return doc.toJS() ?? {};
}

export function validateConfig<S extends z.ZodType>(schema: S, raw: unknown, source: string): z.infer<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `  ${formatPath(i.path) || '(root)'}: ${i.message}`);
  throw new ConfigError(`invalid configuration in ${source}:\n${lines.join('\n')}`);
}

export interface LoadOptions {
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  envPrefix: string;
}

export function loadConfig<S extends z.ZodType>(schema: S, options: LoadOptions): z.infer<S> {
  let fromFile: unknown = {};
  if (options.file) {
    let text: string;
    try {
      text = readFileSync(options.file, 'utf8');
    } catch (error) {
      throw new ConfigError(`cannot read configuration file ${options.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    fromFile = parseYamlText(text, options.file);
  }
  const merged = deepMerge(fromFile, envOverrides(options.env ?? process.env, options.envPrefix));
  const source = [options.file, `${options.envPrefix}* environment`].filter(Boolean).join(' + ');
  return validateConfig(schema, merged, source);
}

/** For CLIs: loads the configuration, or prints the error naming the field and exits with 2. */
export function loadOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
}
