import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, posix, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { collectorConfigSchema, type CollectorConfig } from '../collector/config.ts';
import { deepMerge, envOverrides, parseYamlText, validateConfig } from '../src/config/load.ts';

// docker-compose deployment (deploy/docker-compose.yml, deploy/collector.Dockerfile, deploy/compose/)
// checked without a Docker engine: the files are read and compared with each other, with the
// collector's configuration schema and with the documentation. Every check is a function
// returning the problems it finds; each is shown to find nothing in today's files and to fire
// on the files of before issue #12 (kept below) and on a small mutation of today's. The scripts
// the stack runs (InfluxDB's token init script, the collector's entrypoint, the healthcheck)
// run here for real against stand-ins (a fake `influx`, a fake `node`, a local HTTPS server).
//
// Only a real `docker compose up` can show: that the image builds (apt, setcap on overlayfs),
// that Docker copies the image's directory owner into a new named volume, that fping gets
// CAP_NET_RAW at run time as UID 10001, that InfluxDB 2.7 accepts the write-only token on
// /api/v2/write and the read-only one for InfluxQL, and Grafana's entrypoint (/run.sh).

const ROOT = resolve(import.meta.dirname, '..');
const DEPLOY = join(ROOT, 'deploy');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

// ---------------------------------------------------------------------------------------------
// The inputs

interface LongPort { target?: number | string; published?: number | string; host_ip?: string; protocol?: string }
interface LongVolume { type?: string; source?: string; target?: string; read_only?: boolean }
interface Service {
  image?: string;
  build?: { context?: string; dockerfile?: string; args?: Record<string, string | number> };
  environment?: Record<string, string | number | boolean | null> | string[];
  env_file?: string | Array<string | { path: string }>;
  volumes?: Array<string | LongVolume>;
  ports?: Array<string | number | LongPort>;
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  cap_add?: string[];
  security_opt?: string[];
  sysctls?: Record<string, string | number> | string[];
  entrypoint?: string | string[];
}
interface ComposeFile { services?: Record<string, Service>; volumes?: Record<string, unknown> }

interface Setup {
  compose: ComposeFile;
  /** compose/mqtt-plain.yml: what is published only when asked for. */
  override: ComposeFile;
  dockerfile: string;
  /** deploy/.env.example: what `docker compose` interpolates with after `cp .env.example .env`. */
  dotenv: Record<string, string>;
  /** docs/deploy.md, its docker-compose section. */
  docs: string;
  /** Reads a file of the repository by its path under deploy/ (mutations replace some). */
  deployFile: (path: string) => string | undefined;
}

function composeSection(deployMd: string): string {
  const start = deployMd.indexOf('## docker-compose');
  const end = deployMd.indexOf('\n## ', start + 1);
  if (start < 0) return '';
  return deployMd.slice(start, end < 0 ? undefined : end);
}

function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!.trim();
  }
  return out;
}

function currentSetup(): Setup {
  return {
    compose: parseYaml(read('deploy/docker-compose.yml')) as ComposeFile,
    override: existsSync(join(DEPLOY, 'compose/mqtt-plain.yml')) ? (parseYaml(read('deploy/compose/mqtt-plain.yml')) as ComposeFile) : {},
    dockerfile: read('deploy/collector.Dockerfile'),
    dotenv: existsSync(join(DEPLOY, '.env.example')) ? parseDotenv(read('deploy/.env.example')) : {},
    docs: composeSection(read('docs/deploy.md')),
    deployFile: (path) => (existsSync(join(DEPLOY, path)) ? readFileSync(join(DEPLOY, path), 'utf8') : undefined),
  };
}

// ---------------------------------------------------------------------------------------------
// Compose, read as `docker compose` reads it

/** ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, $$ → $, with the .env values. */
function interpolate(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (all, name: string | undefined, op: string | undefined, arg: string | undefined) => {
    if (all === '$$') return '$';
    const value = env[name!];
    if (op === ':-') return value ? value : (arg ?? '');
    if (op === '-') return value ?? arg ?? '';
    return value ?? '';
  });
}

function serviceEnv(service: Service | undefined, dotenv: Record<string, string>, raw = false): Record<string, string> {
  const out: Record<string, string> = {};
  const env = service?.environment;
  const entries: Array<[string, string]> = Array.isArray(env)
    ? env.map((line) => [line.split('=')[0]!, line.slice(line.indexOf('=') + 1)])
    : Object.entries(env ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]);
  for (const [k, v] of entries) out[k] = raw ? v : interpolate(v, dotenv);
  return out;
}

interface Mount { source: string; target: string; readOnly: boolean; named: boolean }

function mounts(service: Service | undefined, dotenv: Record<string, string>): Mount[] {
  return (service?.volumes ?? []).flatMap((v): Mount[] => {
    if (typeof v !== 'string') {
      if (!v.target) return [];
      return [{ source: interpolate(v.source ?? '', dotenv), target: v.target, readOnly: v.read_only === true, named: v.type === 'volume' }];
    }
    const parts = interpolate(v, dotenv).split(':');
    if (parts.length < 2) return []; // an anonymous volume: gone with the container
    const [source, target, mode = ''] = parts as [string, string, string?];
    return [{ source, target, readOnly: mode.split(',').includes('ro'), named: !/^[./~]/.test(source) }];
  });
}

/** The mount whose target holds `path` (the deepest, as Docker layers them). */
function mountFor(list: readonly Mount[], path: string): Mount | undefined {
  return list
    .filter((m) => path === m.target || path.startsWith(m.target.endsWith('/') ? m.target : `${m.target}/`))
    .sort((a, b) => b.target.length - a.target.length)[0];
}

interface Published { hostIp: string; published: number; target: number; protocol: 'tcp' | 'udp' }

function published(service: Service | undefined, dotenv: Record<string, string>): Published[] {
  return (service?.ports ?? []).flatMap((p): Published[] => {
    if (typeof p === 'object') {
      const target = Number(p.target);
      return [{ hostIp: p.host_ip ?? '', published: Number(p.published ?? target), target, protocol: p.protocol === 'udp' ? 'udp' : 'tcp' }];
    }
    const [spec, proto] = interpolate(String(p), dotenv).split('/') as [string, string?];
    const parts = spec.split(':');
    const target = Number(parts[parts.length - 1]);
    const host = parts.length >= 2 ? Number(parts[parts.length - 2]) : target;
    const hostIp = parts.length === 3 ? parts[0]! : '';
    return [{ hostIp, published: host, target, protocol: proto === 'udp' ? 'udp' : 'tcp' }];
  });
}

const onLan = (p: Published) => p.hostIp === '' || p.hostIp === '0.0.0.0' || p.hostIp === '::' || p.hostIp === '[::]';

function envFiles(service: Service | undefined): string[] {
  const f = service?.env_file;
  if (f === undefined) return [];
  return (Array.isArray(f) ? f : [f]).map((e) => (typeof e === 'string' ? e : e.path));
}

// ---------------------------------------------------------------------------------------------
// The Dockerfile, read as `docker build` runs it (the instructions this image uses)

interface Image {
  uid: string | undefined;
  gid: string | undefined;
  workdir: string;
  env: Record<string, string>;
  /** Directories the build creates, with their owner. */
  owned: Map<string, { uid: string; gid: string }>;
  symlinks: Map<string, string>;
  packages: Set<string>;
  setcap: Array<{ caps: string; file: string }>;
  copied: string[];
  entrypoint: string;
}

function parseDockerfile(text: string, buildArgs: Record<string, string>): Image {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const args: Record<string, string> = {};
  const image: Image = { uid: undefined, gid: undefined, workdir: '/', env: {}, owned: new Map(), symlinks: new Map(), packages: new Set(), setcap: [], copied: [], entrypoint: '' };
  const expand = (s: string) => s.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, n: string) => args[n] ?? image.env[n] ?? '').replace(/["']/g, '');
  for (const line of lines) {
    const [instr, ...rest] = line.split(/\s+/);
    const body = line.slice(instr!.length).trim();
    switch (instr!.toUpperCase()) {
      case 'ARG': {
        const [name, value = ''] = body.split('=') as [string, string?];
        args[name] = buildArgs[name] ?? value;
        break;
      }
      case 'ENV':
        for (const m of body.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)) image.env[m[1]!] = expand(m[2]!);
        break;
      case 'WORKDIR':
        image.workdir = posix.resolve(image.workdir, expand(body));
        break;
      case 'USER': {
        const [uid, gid] = expand(body).split(':');
        image.uid = uid;
        image.gid = gid ?? uid;
        break;
      }
      case 'COPY':
        image.copied.push(...rest.filter((r) => !r.startsWith('--')).slice(0, -1));
        break;
      case 'ENTRYPOINT':
        image.entrypoint = body;
        break;
      case 'RUN':
        for (const command of body.split(/&&|;/).map((c) => expand(c).trim().split(/\s+/))) runCommand(command, image);
        break;
    }
  }
  return image;
}

function runCommand(words: string[], image: Image): void {
  const [cmd, ...argv] = words;
  if (cmd === 'install' && argv.includes('-d')) {
    let uid = '0';
    let gid = '0';
    const dirs: string[] = [];
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      if (a === '-o') uid = argv[++i]!;
      else if (a === '-g') gid = argv[++i]!;
      else if (a === '-m') i++;
      else if (!a.startsWith('-')) dirs.push(a);
    }
    for (const d of dirs) image.owned.set(d, { uid, gid });
  } else if (cmd === 'ln' && argv[0] === '-s') {
    image.symlinks.set(posix.resolve(image.workdir, argv[2]!), argv[1]!);
  } else if (cmd === 'apt-get' && argv[0] === 'install') {
    for (const a of argv.slice(1)) if (!a.startsWith('-')) image.packages.add(a);
  } else if (cmd === 'setcap') {
    image.setcap.push({ caps: argv[0]!, file: argv[1]! });
  }
}

function imageOf(setup: Setup): Image {
  const build = setup.compose.services?.collector?.build;
  const args = Object.fromEntries(Object.entries(build?.args ?? {}).map(([k, v]) => [k, interpolate(String(v), setup.dotenv)]));
  return parseDockerfile(setup.dockerfile, args);
}

/** Where a path of the configuration is in the container: relative to the working directory, through the image's links. */
function inContainer(image: Image, path: string): string {
  let p = posix.resolve(image.workdir, path);
  for (const [link, target] of image.symlinks) {
    if (p === link || p.startsWith(`${link}/`)) p = target + p.slice(link.length);
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// The collector's configuration as the container gets it

/** The yaml block of the compose section: where the compose setup puts what the example leaves off. */
function docsYaml(docs: string): unknown {
  const m = /```yaml\n([\s\S]*?)```/.exec(docs);
  return m ? parseYaml(m[1]!) : {};
}

function containerConfig(setup: Setup, image: Image = imageOf(setup)): CollectorConfig {
  const collector = setup.compose.services?.collector;
  const fromEnvFiles = envFiles(collector).flatMap((f) => Object.entries(parseDotenv(envFileExample(setup, f) ?? '')));
  const env = { ...image.env, ...Object.fromEntries(fromEnvFiles), ...serviceEnv(collector, setup.dotenv) };
  const raw = deepMerge(parseYamlText(read('deploy/collector.example.yaml'), 'collector.example.yaml'), docsYaml(setup.docs));
  return validateConfig(collectorConfigSchema, deepMerge(raw, envOverrides(env, 'COLLECTOR_')), 'collector.example.yaml + docs/deploy.md + container environment');
}

interface PathKey { key: string; values: string[] | undefined; writes: boolean }

/** A configuration key that names a file or directory: …path, …Path, file, …File, dir, …Dirs. */
const PATH_KEY = /(?:^|[a-z])(?:path|Path|file|File|dir|Dir|dirs|Dirs)$/;
/** Of these, the collector writes (stores, archives) into …path, …Path and dir; it reads the rest. */
const WRITTEN_KEY = /^(?:path|dir)$|Path$/;

type Def = { type: string; shape?: Record<string, z.ZodType>; innerType?: z.ZodType; in?: z.ZodType; out?: z.ZodType; options?: z.ZodType[] };
const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** Every path key of the schema with its value in `value` (the parsed configuration). */
function pathKeys(schema: z.ZodType, value: unknown, key = '', out: PathKey[] = []): PathKey[] {
  const def = defOf(schema);
  switch (def.type) {
    case 'optional':
    case 'default':
    case 'prefault':
    case 'nullable':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return pathKeys(def.innerType!, value, key, out);
    case 'pipe':
      return pathKeys(defOf(def.out!).type === 'transform' ? def.in! : def.out!, value, key, out);
    case 'object':
      for (const [k, child] of Object.entries(def.shape!)) {
        const v = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[k] : undefined;
        pathKeys(child, v, key ? `${key}.${k}` : k, out);
      }
      return out;
    case 'union': {
      // The variant the configuration chose (broker embedded/external, storage type); all when none is set.
      const chosen = def.options!.filter((o) => value !== undefined && o.safeParse(value).success);
      for (const option of chosen.length > 0 ? chosen.slice(0, 1) : def.options!) pathKeys(option, value, key, out);
      return out;
    }
    default: {
      const name = key.split('.').pop() ?? '';
      if (!PATH_KEY.test(name) || out.some((k) => k.key === key)) return out;
      const values = Array.isArray(value) ? value.map(String) : typeof value === 'string' ? [value] : undefined;
      out.push({ key, values: values && values.length > 0 ? values : undefined, writes: WRITTEN_KEY.test(name) });
      return out;
    }
  }
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Does the compose section's shell make a host directory readable (or writable) by the image's group (user)? */
function docsGrant(docs: string, hostDir: string, kind: 'read' | 'write', image: Image): boolean {
  const dir = escapeRe(hostDir.replace(/^\.\//, ''));
  if (kind === 'read') return new RegExp(`chgrp\\s+-R\\s+${escapeRe(image.gid ?? '?')}\\s+(?:\\./)?${dir}\\b`).test(docs);
  return new RegExp(`(?:chown\\s+-R\\s+${escapeRe(image.uid ?? '?')}\\S*|install\\s+-d\\s+-o\\s+${escapeRe(image.uid ?? '?')}\\b[^\\n]*)\\s+(?:\\./)?${dir}\\b`).test(docs);
}

// ---------------------------------------------------------------------------------------------
// The checks

/** Every path the configuration uses is in a mount; stores in one the image's user can write. */
function checkPaths(setup: Setup): string[] {
  const problems: string[] = [];
  const image = imageOf(setup);
  if (!image.uid || image.uid === '0' || image.uid === 'root') problems.push(`the image runs as ${image.uid ?? 'root'}: it must run as its own user`);
  let config: CollectorConfig;
  try {
    config = containerConfig(setup, image);
  } catch (error) {
    return [...problems, `the configuration does not load: ${(error as Error).message}`];
  }
  const collectorMounts = mounts(setup.compose.services?.collector, setup.dotenv);
  for (const { key, values, writes } of pathKeys(collectorConfigSchema, config)) {
    if (!values) {
      problems.push(`${key}: set neither by collector.example.yaml nor by the yaml of the compose section (docs/deploy.md): the compose setup has no place for it`);
      continue;
    }
    for (const value of values) {
      if (value === ':memory:') continue;
      const path = inContainer(image, value);
      const mount = mountFor(collectorMounts, path);
      const where = `${key} = ${value} (${path} in the container)`;
      if (!mount) {
        problems.push(`${where}: inside no volume or bind mount of the collector`);
      } else if (writes) {
        if (mount.readOnly) problems.push(`${where}: the collector writes there, but ${mount.source}:${mount.target} is read-only`);
        else if (mount.named) {
          const owner = image.owned.get(mount.target);
          if (!owner || owner.uid !== image.uid) problems.push(`${where}: volume ${mount.source}: the Dockerfile does not create ${mount.target} owned by the image's user ${image.uid ?? '(none)'}, so a new volume is root's`);
        } else if (!docsGrant(setup.docs, mount.source, 'write', image)) {
          problems.push(`${where}: bind mount ${mount.source} is not made writable for UID ${image.uid ?? '?'} by the compose section's commands`);
        }
      } else if (!mount.named && !docsGrant(setup.docs, mount.source, 'read', image)) {
        problems.push(`${where}: bind mount ${mount.source} is not made readable for GID ${image.gid ?? '?'} by the compose section's commands (chgrp -R ${image.gid ?? '?'} …): a key of mode 600 stays unreadable`);
      }
    }
  }
  return problems;
}

interface NamedPort { port: number; protocol: 'tcp' | 'udp'; where: string; grafana?: boolean }

/** Ports the documentation gives users, agents and devices. */
function docsPorts(deployMd: string): NamedPort[] {
  const out: NamedPort[] = [];
  for (const file of ['docs/deploy.md', 'docs/security.md', 'docs/agent.md', 'docs/backups.md', 'docs/alerts.md', 'docs/devices.md']) {
    const text = file === 'docs/deploy.md' ? deployMd : read(file);
    for (const m of text.matchAll(/(?:https?|mqtts?):\/\/(?:izleme\.belediye\.local|host):(\d+)/g)) out.push({ port: Number(m[1]), protocol: 'tcp', where: `${file}: ${m[0]}` });
    for (const m of text.matchAll(/\b(\d+)\/udp\b/g)) out.push({ port: Number(m[1]), protocol: 'udp', where: `${file}: ${m[0]}` });
    for (const m of text.matchAll(/Grafana on port (\d+)/g)) out.push({ port: Number(m[1]), protocol: 'tcp', where: `${file}: ${m[0]}`, grafana: true });
  }
  return out;
}

function checkPorts(setup: Setup, deployMd = read('docs/deploy.md')): string[] {
  const problems: string[] = [];
  let config: CollectorConfig;
  try {
    config = containerConfig(setup);
  } catch (error) {
    return [`the configuration does not load: ${(error as Error).message}`];
  }
  const services = setup.compose.services ?? {};
  const main = Object.entries(services).flatMap(([name, s]) => published(s, setup.dotenv).map((p) => ({ ...p, service: name })));
  const extra = Object.entries(setup.override.services ?? {}).flatMap(([name, s]) => published(s, setup.dotenv).map((p) => ({ ...p, service: name })));
  const plain = config.broker.mode === 'embedded' ? config.broker.port : undefined;

  const lan = (list: typeof main, service: string, port: number, protocol: string, side: 'target' | 'published') =>
    list.find((p) => p.service === service && p[side] === port && p.protocol === protocol && onLan(p));
  // What the configuration listens on, by container port.
  const listens: Array<{ port: number; protocol: 'tcp' | 'udp'; key: string }> = [{ port: config.api.port, protocol: 'tcp', key: 'api.port' }];
  if (config.broker.mode === 'embedded' && config.broker.tls) listens.push({ port: config.broker.tls.port, protocol: 'tcp', key: 'broker.tls.port' });
  if (config.devices.traps.enabled) listens.push({ port: config.devices.traps.port, protocol: 'udp', key: 'devices.traps.port' });
  for (const l of listens) {
    if (!lan(main, 'collector', l.port, l.protocol, 'target')) problems.push(`${l.key} ${l.port}/${l.protocol}: not published on the LAN (every address) by the collector`);
  }
  if (plain !== undefined) {
    if (main.some((p) => p.service === 'collector' && p.target === plain)) problems.push(`broker.port ${plain} (plain MQTT) is published by default; only when asked for (compose/mqtt-plain.yml)`);
    if (!lan(extra, 'collector', plain, 'tcp', 'target')) problems.push(`broker.port ${plain} (plain MQTT): compose/mqtt-plain.yml does not publish it`);
  }
  // What the documentation tells people to connect to, by host port.
  for (const named of docsPorts(deployMd)) {
    const service = named.grafana ? 'grafana' : 'collector';
    const list = named.port === plain ? extra : main;
    if (!lan(list, service, named.port, named.protocol, 'published')) problems.push(`${named.where}: port ${named.port}/${named.protocol} is not published on the LAN by ${service}${named.port === plain ? ' in compose/mqtt-plain.yml' : ''}`);
  }
  // A port below 1024 in the container needs the privilege a non-root user lacks.
  const image = imageOf(setup);
  const sysctls = services.collector?.sysctls;
  const start = Number(Array.isArray(sysctls) ? sysctls.find((s) => s.startsWith('net.ipv4.ip_unprivileged_port_start='))?.split('=')[1] : sysctls?.['net.ipv4.ip_unprivileged_port_start']);
  for (const l of listens) {
    if (l.port < 1024 && image.uid !== '0' && !(start <= l.port)) problems.push(`${l.key} ${l.port}: below 1024 for a non-root user, and the collector's net.ipv4.ip_unprivileged_port_start is not lowered`);
  }
  return problems;
}

/** ${NAME} the example configuration files (device secrets, the notification file) reference. */
function referencedSecrets(): Map<string, string> {
  const names = new Map<string, string>();
  const add = (text: string, where: string) => {
    for (const m of text.matchAll(/\$\{([A-Z_][A-Z0-9_]*)\}/g)) if (m[1] !== 'NAME') names.set(m[1]!, where);
  };
  for (const file of ['deploy/collector.example.yaml', 'deploy/devices.example.yaml', 'deploy/device-secrets.example.yaml']) add(read(file), file);
  // The notification file exists only as the example in docs/alerts.md.
  for (const m of read('docs/alerts.md').matchAll(/```yaml\n([\s\S]*?)```/g)) add(m[1]!, 'docs/alerts.md (notification file)');
  return names;
}

/** The example a compose section command copies into an env_file (`install … X collector.env` / `cp X collector.env`). */
function envFileExample(setup: Setup, envFile: string): string | undefined {
  const m = new RegExp(`(?:install(?:\\s+-m\\s+\\d+)?|cp)\\s+(\\S+)\\s+(?:\\./)?${escapeRe(envFile.replace(/^\.\//, ''))}\\b`).exec(setup.docs);
  return m ? setup.deployFile(m[1]!) : undefined;
}

function checkSecrets(setup: Setup): string[] {
  const problems: string[] = [];
  const collector = setup.compose.services?.collector;
  const provided = new Set(Object.keys(serviceEnv(collector, setup.dotenv)));
  for (const file of envFiles(collector)) {
    const example = envFileExample(setup, file);
    if (example === undefined) problems.push(`env_file ${file}: the compose section's commands do not make it from an example file`);
    else for (const k of Object.keys(parseDotenv(example))) provided.add(k);
  }
  for (const [name, where] of referencedSecrets()) {
    if (!provided.has(name)) problems.push(`\${${name}} (${where}) is not passed to the collector (neither env_file nor environment)`);
  }
  return problems;
}

function checkHealth(setup: Setup): string[] {
  const problems: string[] = [];
  const services = setup.compose.services ?? {};
  const image = imageOf(setup);
  const test = services.collector?.healthcheck?.test;
  const words = Array.isArray(test) ? test : typeof test === 'string' ? test.split(/\s+/) : [];
  if (words.length === 0 || services.collector?.healthcheck?.disable) problems.push('collector: no healthcheck');
  else if (!words.join(' ').includes('/readyz')) {
    // A script in the image: the repository file it was copied from must ask /readyz.
    const script = words.find((w) => w.startsWith(`${image.workdir}/`));
    const source = script?.slice(image.workdir.length + 1);
    if (!source || !image.copied.some((c) => source.startsWith(c.replace(/^\.\//, '')) || c === source)) problems.push(`collector healthcheck ${words.join(' ')}: not /readyz, nor a script the Dockerfile copies`);
    else if (!read(source).includes('/readyz')) problems.push(`collector healthcheck: ${source} does not ask /readyz`);
  }
  const influxTest = services.influxdb?.healthcheck?.test;
  const influxWords = (Array.isArray(influxTest) ? influxTest.join(' ') : influxTest) ?? '';
  if (!/influx ping|\/health\b/.test(influxWords)) problems.push('influxdb: no healthcheck (influx ping or /health)');
  for (const name of ['collector', 'grafana']) {
    const deps = services[name]?.depends_on;
    const condition = deps && !Array.isArray(deps) ? deps.influxdb?.condition : undefined;
    if (condition !== 'service_healthy') problems.push(`${name}: depends_on influxdb without condition: service_healthy`);
  }
  return problems;
}

function checkFping(setup: Setup): string[] {
  const problems: string[] = [];
  const image = imageOf(setup);
  const collector = setup.compose.services?.collector;
  if (!image.packages.has('fping')) problems.push('fping is not installed in the image (apt-get install fping)');
  if (!image.setcap.some((s) => s.file.endsWith('/fping') && /cap_net_raw\+e?p|cap_net_raw=e?p/.test(s.caps))) problems.push('fping has no cap_net_raw file capability: the non-root collector cannot ping');
  if (!(collector?.cap_add ?? []).some((c) => c.replace(/^CAP_/, '') === 'NET_RAW')) problems.push('collector: cap_add NET_RAW missing');
  if ((collector?.security_opt ?? []).some((o) => o.startsWith('no-new-privileges'))) problems.push('collector: no-new-privileges voids the file capability fping needs');
  return problems;
}

interface TokenSource { kind: 'env' | 'volume' | 'none'; value: string }

function tokenSource(setup: Setup, service: 'collector' | 'grafana'): TokenSource {
  const s = setup.compose.services?.[service];
  const raw = serviceEnv(s, setup.dotenv, true);
  const envName = service === 'collector' ? 'COLLECTOR_STORAGE__TOKEN' : 'INFLUX_TOKEN';
  // ${INFLUX_TOKEN} and ${INFLUX_TOKEN:?…} are the same token: compare the variable.
  if (raw[envName] !== undefined) return { kind: 'env', value: /^\$\{([A-Za-z_][A-Za-z0-9_]*)/.exec(raw[envName]!)?.[1] ?? raw[envName]! };
  // A token file: named by IZLEME_INFLUX_TOKEN_FILE (collector) or in the entrypoint (Grafana).
  const file = service === 'collector' ? raw.IZLEME_INFLUX_TOKEN_FILE : /\/\S*?\/token\b/.exec([s?.entrypoint ?? ''].flat().join(' '))?.[0];
  const mount = file ? mountFor(mounts(s, setup.dotenv), file) : undefined;
  return mount?.named ? { kind: 'volume', value: mount.source } : { kind: 'none', value: file ?? '' };
}

function checkTokens(setup: Setup): string[] {
  const problems: string[] = [];
  const influx = setup.compose.services?.influxdb;
  const adminRaw = serviceEnv(influx, setup.dotenv, true).DOCKER_INFLUXDB_INIT_ADMIN_TOKEN;
  const admin = adminRaw === undefined ? undefined : (/^\$\{([A-Za-z_][A-Za-z0-9_]*)/.exec(adminRaw)?.[1] ?? adminRaw);
  const collector = tokenSource(setup, 'collector');
  const grafana = tokenSource(setup, 'grafana');
  for (const [name, source] of [['collector', collector], ['grafana', grafana]] as const) {
    if (source.kind === 'none') problems.push(`${name}: its InfluxDB token comes from nowhere (${source.value || 'no file, no variable'})`);
    if (source.kind === 'env' && admin !== undefined && source.value === admin) problems.push(`${name}: gets the all-access admin token ${admin}`);
  }
  if (collector.kind === grafana.kind && collector.value === grafana.value) problems.push(`collector and Grafana share one InfluxDB token (${collector.value})`);
  // The volumes must be the ones InfluxDB's init script writes each token into.
  const influxEnv = serviceEnv(influx, setup.dotenv);
  for (const [source, dirVar] of [[collector, 'IZLEME_COLLECTOR_TOKEN_DIR'], [grafana, 'IZLEME_GRAFANA_TOKEN_DIR']] as const) {
    if (source.kind !== 'volume') continue;
    const at = mounts(influx, setup.dotenv).find((m) => m.source === source.value);
    if (!at || at.readOnly || at.target !== influxEnv[dirVar]) problems.push(`volume ${source.value}: InfluxDB does not mount it writable at ${dirVar} (${influxEnv[dirVar] ?? 'unset'})`);
  }
  if (collector.kind === 'volume') {
    const image = imageOf(setup);
    if (!image.entrypoint.includes('collector-entrypoint.sh') || !image.copied.some((c) => c.endsWith('collector-entrypoint.sh'))) problems.push('the image does not run compose/collector-entrypoint.sh, which reads the token file');
  }
  return problems;
}

function checkGrafanaLanguage(setup: Setup): string[] {
  const problems: string[] = [];
  const grafana = setup.compose.services?.grafana;
  const env = serviceEnv(grafana, setup.dotenv);
  // Grafana reads GF_<SECTION>_<KEY>; the UI language is [users] default_language.
  if ('GF_DEFAULT_LOCALE' in env) problems.push('GF_DEFAULT_LOCALE is no Grafana setting (the UI language is [users] default_language: GF_USERS_DEFAULT_LANGUAGE)');
  const language = env.GF_USERS_DEFAULT_LANGUAGE;
  if (language === undefined) problems.push('Grafana: GF_USERS_DEFAULT_LANGUAGE not set');
  else if (!/^[a-z]{2}-(?:[A-Z]{2}|Hans|Hant)$/.test(language)) problems.push(`GF_USERS_DEFAULT_LANGUAGE=${language}: not an IETF tag Grafana lists (e.g. tr-TR)`);
  // Turkish joined Grafana's language list in 12.0 (grafana/grafana#102971); before, the tag falls back to English.
  const major = Number(/:(\d+)\./.exec(grafana?.image ?? '')?.[1]);
  if (language === 'tr-TR' && !(major >= 12)) problems.push(`Grafana ${grafana?.image ?? '?'} has no tr-TR; Turkish needs Grafana 12 or later`);
  return problems;
}

/** The same numbers everywhere: image user, InfluxDB's chown of the collector's token, the docs' chgrp. */
function checkIds(setup: Setup): string[] {
  const problems: string[] = [];
  const image = imageOf(setup);
  const influxEnv = serviceEnv(setup.compose.services?.influxdb, setup.dotenv);
  if (influxEnv.IZLEME_COLLECTOR_UID !== undefined && influxEnv.IZLEME_COLLECTOR_UID !== image.uid) problems.push(`InfluxDB gives the collector's token to UID ${influxEnv.IZLEME_COLLECTOR_UID}, the image runs as ${image.uid ?? '?'}`);
  for (const m of setup.docs.matchAll(/chgrp\s+-R\s+(\S+)/g)) if (m[1] !== image.gid) problems.push(`docs: chgrp -R ${m[1]} but the image's group is ${image.gid ?? '?'}`);
  return problems;
}

const CHECKS = { paths: checkPaths, ports: (s: Setup) => checkPorts(s), secrets: checkSecrets, health: checkHealth, fping: checkFping, tokens: checkTokens, grafanaLanguage: checkGrafanaLanguage, ids: checkIds };

// ---------------------------------------------------------------------------------------------
// The files of before issue #12 (deploy/docker-compose.yml and deploy/collector.Dockerfile of
// commit c62b720): every check must fire on them.

const OLD_COMPOSE = `
name: belediye-izleme
services:
  influxdb:
    image: influxdb:2.7
    restart: unless-stopped
    environment:
      DOCKER_INFLUXDB_INIT_MODE: setup
      DOCKER_INFLUXDB_INIT_USERNAME: \${INFLUX_ADMIN_USER:-admin}
      DOCKER_INFLUXDB_INIT_PASSWORD: \${INFLUX_ADMIN_PASSWORD:?set INFLUX_ADMIN_PASSWORD in deploy/.env}
      DOCKER_INFLUXDB_INIT_ORG: \${INFLUX_ORG:-belediye}
      DOCKER_INFLUXDB_INIT_BUCKET: monitoring
      DOCKER_INFLUXDB_INIT_RETENTION: \${INFLUX_RETENTION:-400d}
      DOCKER_INFLUXDB_INIT_ADMIN_TOKEN: \${INFLUX_TOKEN:?set INFLUX_TOKEN in deploy/.env}
    volumes:
      - influxdb-data:/var/lib/influxdb2
    ports:
      - "127.0.0.1:8086:8086"
  collector:
    build:
      context: ..
      dockerfile: deploy/collector.Dockerfile
    restart: unless-stopped
    depends_on: [influxdb]
    environment:
      COLLECTOR_STORAGE__TYPE: influx-v2
      COLLECTOR_STORAGE__URL: http://influxdb:8086
      COLLECTOR_STORAGE__ORG: \${INFLUX_ORG:-belediye}
      COLLECTOR_STORAGE__BUCKET: monitoring
      COLLECTOR_STORAGE__TOKEN: \${INFLUX_TOKEN}
    volumes:
      - ./collector.example.yaml:/etc/belediye-izleme/collector.yaml:ro
      - \${PKI_DIR:-./pki-files}:/etc/belediye-izleme/pki:ro
      - \${DEVICES_FILE:-./devices.example.yaml}:/etc/belediye-izleme/devices.yaml:ro
      - \${DEVICE_SECRETS_FILE:-./device-secrets.example.yaml}:/etc/belediye-izleme/device-secrets.yaml:ro
      - collector-data:/var/lib/belediye-collector
    stop_grace_period: 30s
    ports:
      - "1883:1883"
      - "8883:8883"
      - "162:162/udp"
      - "127.0.0.1:8080:8080"
  grafana:
    image: grafana/grafana:11.3.0
    restart: unless-stopped
    depends_on: [influxdb]
    environment:
      GF_SECURITY_ADMIN_PASSWORD: \${GRAFANA_ADMIN_PASSWORD:?set GRAFANA_ADMIN_PASSWORD in deploy/.env}
      GF_DEFAULT_LOCALE: \${GRAFANA_LOCALE:-tr-TR}
      INFLUX_URL: http://influxdb:8086
      INFLUX_DATABASE: monitoring
      INFLUX_TOKEN: \${INFLUX_TOKEN}
    volumes:
      - ../dashboard-config/provisioning:/etc/grafana/provisioning:ro
      - ../dashboard-config/dashboards/\${DASHBOARD_LANG:-tr}:/var/lib/grafana/dashboards/belediye-izleme:ro
      - grafana-data:/var/lib/grafana
    ports:
      - "3000:3000"
volumes:
  influxdb-data:
  collector-data:
  grafana-data:
`;

const OLD_DOCKERFILE = `
FROM node:24-bookworm-slim
WORKDIR /opt/belediye-izleme
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY src ./src
COPY collector ./collector
USER node
ENV COLLECTOR_REGISTRY__PATH=/var/lib/belediye-collector/registry.sqlite
ENV COLLECTOR_QUEUE__PATH=/var/lib/belediye-collector/spool.sqlite
VOLUME ["/var/lib/belediye-collector"]
EXPOSE 1883 8883 8080
ENTRYPOINT ["node", "collector/main.ts"]
CMD ["--config", "/etc/belediye-izleme/collector.yaml"]
`;

const OLD_DOTENV = { INFLUX_ADMIN_PASSWORD: 'x', INFLUX_TOKEN: 'change-me-long-random-token', INFLUX_ORG: 'belediye', INFLUX_RETENTION: '400d', GRAFANA_ADMIN_PASSWORD: 'x', DASHBOARD_LANG: 'tr', PKI_DIR: './pki-files' };

function oldSetup(): Setup {
  const current = currentSetup();
  return { ...current, compose: parseYaml(OLD_COMPOSE) as ComposeFile, override: {}, dockerfile: OLD_DOCKERFILE, dotenv: OLD_DOTENV, deployFile: () => undefined };
}

/** Today's files with one change. */
function mutated(change: (s: Setup) => void): Setup {
  const s = currentSetup();
  s.compose = structuredClone(s.compose);
  s.override = structuredClone(s.override);
  change(s);
  return s;
}

const svc = (s: Setup, name: string): Service => s.compose.services![name]!;
const setEnv = (service: Service, name: string, value: string | undefined) => {
  const env = service.environment as Record<string, string>;
  if (value === undefined) delete env[name];
  else env[name] = value;
};

// ---------------------------------------------------------------------------------------------

describe('docker-compose deployment: today\'s files', () => {
  const setup = currentSetup();

  it.each(Object.entries(CHECKS))('%s: no problem', (_name, check) => {
    expect(check(setup)).toEqual([]);
  });

  it('derives the path keys from the schema, and they are the ones the collector uses', () => {
    const keys = pathKeys(collectorConfigSchema, containerConfig(setup)).map((k) => k.key);
    // Spot checks that the walk reaches every kind of nesting (not the list the check uses).
    expect(keys).toEqual(expect.arrayContaining(['queue.path', 'security.path', 'alerts.outboxPath', 'alerts.notifyFile', 'broker.tls.keyFile', 'api.tls.certFile', 'devices.secretsFile', 'devices.profilesDirs', 'selfBackup.dir', 'backups.path']));
    expect(keys.length).toBeGreaterThanOrEqual(18);
    // The external broker's files belong to the variant the configuration did not choose.
    expect(keys.filter((k) => k.startsWith('broker.')).sort()).toEqual(['broker.tls.caFile', 'broker.tls.certFile', 'broker.tls.keyFile']);
  });

  it('puts the stores where they are written: the data volume, owned by the image user', () => {
    const config = containerConfig(setup);
    const image = imageOf(setup);
    expect(image.uid).toBe('10001');
    expect(inContainer(image, config.alerts.outboxPath)).toBe('/var/lib/belediye-collector/outbox.sqlite');
    expect(inContainer(image, config.queue.path)).toBe('/var/lib/belediye-collector/spool.sqlite');
    expect(image.owned.get('/var/lib/belediye-collector')).toEqual({ uid: '10001', gid: '10001' });
  });
});

describe('docker-compose deployment: every check fires on the files of before #12', () => {
  const old = oldSetup();
  it('paths: stores in a root-owned volume', () => {
    expect(checkPaths(old)).toEqual(expect.arrayContaining([expect.stringMatching(/^security\.path = .*the Dockerfile does not create \/var\/lib\/belediye-collector owned by/)]));
    // alerts.outboxPath was left at ./data/outbox.sqlite: outside every mount.
    expect(checkPaths(old)).toEqual(expect.arrayContaining([expect.stringMatching(/^alerts\.outboxPath = \.\/data\/outbox\.sqlite .*inside no volume/)]));
  });
  it('ports: the API on 127.0.0.1, plain MQTT always', () => {
    const problems = checkPorts(old);
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(/^api\.port 8080\/tcp: not published on the LAN/), expect.stringMatching(/plain MQTT\) is published by default/)]));
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(/https:\/\/izleme\.belediye\.local:8080: port 8080\/tcp is not published/)]));
  });
  it('secrets: ${UPS_COMMUNITY} and the notification passwords not passed', () => {
    expect(checkSecrets(old)).toEqual(expect.arrayContaining([expect.stringContaining('${UPS_COMMUNITY}'), expect.stringContaining('${SMTP_PASSWORD}')]));
  });
  it('health: no healthchecks, depends_on without condition', () => {
    expect(checkHealth(old)).toEqual(['collector: no healthcheck', 'influxdb: no healthcheck (influx ping or /health)', 'collector: depends_on influxdb without condition: service_healthy', 'grafana: depends_on influxdb without condition: service_healthy']);
  });
  it('fping: missing', () => {
    expect(checkFping(old)).toEqual(expect.arrayContaining(['fping is not installed in the image (apt-get install fping)', 'collector: cap_add NET_RAW missing']));
  });
  it('tokens: one all-access token shared', () => {
    expect(checkTokens(old)).toEqual(['collector: gets the all-access admin token INFLUX_TOKEN', 'grafana: gets the all-access admin token INFLUX_TOKEN', 'collector and Grafana share one InfluxDB token (INFLUX_TOKEN)']);
  });
  it('Grafana language: GF_DEFAULT_LOCALE', () => {
    expect(checkGrafanaLanguage(old)).toEqual(expect.arrayContaining([expect.stringMatching(/^GF_DEFAULT_LOCALE is no Grafana setting/)]));
  });
});

describe('docker-compose deployment: each check fires on a small change of today\'s files', () => {
  it('paths: the Dockerfile no longer makes the data directory the user\'s', () => {
    const s = mutated((m) => (m.dockerfile = m.dockerfile.replace(/install -d -o [^\n]*\n/, '\n')));
    expect(checkPaths(s)).toEqual(expect.arrayContaining([expect.stringMatching(/^queue\.path .*does not create \/var\/lib\/belediye-collector owned by the image's user 10001/)]));
  });
  it('paths: the data volume read-only', () => {
    const s = mutated((m) => (svc(m, 'collector').volumes = svc(m, 'collector').volumes!.map((v) => (v === 'collector-data:/var/lib/belediye-collector' ? `${v}:ro` : v))));
    expect(checkPaths(s)).toEqual(expect.arrayContaining([expect.stringMatching(/^registry\.path .*read-only/)]));
  });
  it('paths: without the ./data link, stores left at their default fall outside the volume', () => {
    const s = mutated((m) => (m.dockerfile = m.dockerfile.replace(/RUN ln -s [^\n]*\n/, '')));
    expect(checkPaths(s)).toEqual(expect.arrayContaining([expect.stringMatching(/^reports\.path = \.\/data\/reports\.sqlite \(\/opt\/belediye-izleme\/data\/reports\.sqlite in the container\): inside no volume/)]));
  });
  it('paths: the configuration directory not mounted, or not made readable for the group', () => {
    const unmounted = mutated((m) => (svc(m, 'collector').volumes = svc(m, 'collector').volumes!.filter((v) => typeof v !== 'string' || !v.includes('/etc/belediye-izleme'))));
    expect(checkPaths(unmounted)).toEqual(expect.arrayContaining([expect.stringMatching(/^broker\.tls\.keyFile = \/etc\/belediye-izleme\/pki\/collector\.key .*inside no volume/)]));
    const noChgrp = mutated((m) => (m.docs = m.docs.replace(/chgrp -R 10001 config/g, 'true')));
    expect(checkPaths(noChgrp)).toEqual(expect.arrayContaining([expect.stringMatching(/^api\.tls\.keyFile .*not made readable for GID 10001/)]));
  });
  it('paths: a store key the compose setup has no place for', () => {
    const s = mutated((m) => (m.docs = m.docs.replace(/selfBackup:\n(?: {2}.*\n)+/, '')));
    expect(checkPaths(s)).toEqual(expect.arrayContaining([expect.stringMatching(/^selfBackup\.dir: set neither/)]));
  });
  it('ports: API on loopback, traps dropped, plain MQTT by default or not at all', () => {
    const loopback = mutated((m) => (svc(m, 'collector').ports = svc(m, 'collector').ports!.map((p) => (p === '8080:8080' ? '127.0.0.1:8080:8080' : p))));
    expect(checkPorts(loopback)).toEqual(expect.arrayContaining([expect.stringMatching(/^api\.port 8080\/tcp: not published on the LAN/)]));
    const noTraps = mutated((m) => (svc(m, 'collector').ports = svc(m, 'collector').ports!.filter((p) => p !== '162:162/udp')));
    expect(checkPorts(noTraps)).toEqual(expect.arrayContaining([expect.stringMatching(/^devices\.traps\.port 162\/udp/), expect.stringMatching(/162\/udp is not published/)]));
    const plainAlways = mutated((m) => svc(m, 'collector').ports!.push('1883:1883'));
    expect(checkPorts(plainAlways)).toEqual([expect.stringMatching(/plain MQTT\) is published by default/)]);
    const noOverride = mutated((m) => (m.override = {}));
    expect(checkPorts(noOverride)).toEqual(expect.arrayContaining([expect.stringMatching(/compose\/mqtt-plain\.yml does not publish it/), expect.stringMatching(/mqtt:\/\/host:1883: port 1883\/tcp is not published/)]));
    const privileged = mutated((m) => delete svc(m, 'collector').sysctls);
    expect(checkPorts(privileged)).toEqual([expect.stringMatching(/^devices\.traps\.port 162: below 1024/)]);
  });
  it('ports: Grafana not published', () => {
    const s = mutated((m) => delete svc(m, 'grafana').ports);
    expect(checkPorts(s)).toEqual([expect.stringMatching(/Grafana on port 3000: port 3000\/tcp is not published on the LAN by grafana/)]);
  });
  it('secrets: no env_file, or an example without a name', () => {
    const noFile = mutated((m) => delete svc(m, 'collector').env_file);
    expect(checkSecrets(noFile)).toEqual(expect.arrayContaining([expect.stringContaining('${NVR_PASSWORD}'), expect.stringContaining('${NETGSM_PASSWORD}')]));
    const short = mutated((m) => {
      const real = m.deployFile;
      m.deployFile = (p) => (p === 'compose/collector.env.example' ? real(p)!.replace(/^NVR_PASSWORD=.*$/m, '') : real(p));
    });
    expect(checkSecrets(short)).toEqual([expect.stringMatching(/^\$\{NVR_PASSWORD\} \(deploy\/device-secrets\.example\.yaml\) is not passed/)]);
  });
  it('health: collector healthcheck gone, depends_on as a list', () => {
    const s = mutated((m) => {
      delete svc(m, 'collector').healthcheck;
      svc(m, 'grafana').depends_on = ['influxdb'];
    });
    expect(checkHealth(s)).toEqual(['collector: no healthcheck', 'grafana: depends_on influxdb without condition: service_healthy']);
    const notCopied = mutated((m) => (m.dockerfile = m.dockerfile.replace(' deploy/compose/healthcheck.ts', '')));
    expect(checkHealth(notCopied)).toEqual([expect.stringMatching(/^collector healthcheck .*nor a script the Dockerfile copies/)]);
  });
  it('fping: no setcap, no NET_RAW, no-new-privileges', () => {
    const s = mutated((m) => {
      m.dockerfile = m.dockerfile.replace(/&& setcap [^\n]*\n/, '\n');
      delete svc(m, 'collector').cap_add;
      svc(m, 'collector').security_opt = ['no-new-privileges:true'];
    });
    expect(checkFping(s)).toEqual(['fping has no cap_net_raw file capability: the non-root collector cannot ping', 'collector: cap_add NET_RAW missing', 'collector: no-new-privileges voids the file capability fping needs']);
  });
  it('tokens: Grafana reads the collector\'s token, or gets the admin token', () => {
    const shared = mutated((m) => (svc(m, 'grafana').volumes = svc(m, 'grafana').volumes!.map((v) => (typeof v === 'string' ? v.replace('influx-token-grafana:', 'influx-token-collector:') : v))));
    expect(checkTokens(shared)).toEqual(['collector and Grafana share one InfluxDB token (influx-token-collector)', 'volume influx-token-collector: InfluxDB does not mount it writable at IZLEME_GRAFANA_TOKEN_DIR (/run/izleme/grafana-token)']);
    const admin = mutated((m) => setEnv(svc(m, 'grafana'), 'INFLUX_TOKEN', '${INFLUX_ADMIN_TOKEN:?set INFLUX_ADMIN_TOKEN in deploy/.env}'));
    expect(checkTokens(admin)).toEqual(['grafana: gets the all-access admin token INFLUX_ADMIN_TOKEN']);
    const swapped = mutated((m) => setEnv(svc(m, 'influxdb'), 'IZLEME_COLLECTOR_TOKEN_DIR', '/run/izleme/grafana-token'));
    expect(checkTokens(swapped)).toEqual([expect.stringMatching(/^volume influx-token-collector: InfluxDB does not mount it writable at IZLEME_COLLECTOR_TOKEN_DIR/)]);
  });
  it('Grafana language: the old variable, or Turkish on a Grafana without it', () => {
    const s = mutated((m) => {
      setEnv(svc(m, 'grafana'), 'GF_USERS_DEFAULT_LANGUAGE', undefined);
      setEnv(svc(m, 'grafana'), 'GF_DEFAULT_LOCALE', 'tr-TR');
    });
    expect(checkGrafanaLanguage(s)).toEqual([expect.stringMatching(/^GF_DEFAULT_LOCALE is no Grafana setting/), 'Grafana: GF_USERS_DEFAULT_LANGUAGE not set']);
    const older = mutated((m) => (svc(m, 'grafana').image = 'grafana/grafana:11.3.0'));
    expect(checkGrafanaLanguage(older)).toEqual(['Grafana grafana/grafana:11.3.0 has no tr-TR; Turkish needs Grafana 12 or later']);
  });
  it('ids: the docs or InfluxDB use another number than the image', () => {
    const s = mutated((m) => {
      m.docs = m.docs.replace(/chgrp -R 10001/g, 'chgrp -R 1000');
      setEnv(svc(m, 'influxdb'), 'IZLEME_COLLECTOR_UID', '1000');
    });
    expect(checkIds(s)).toEqual(expect.arrayContaining(["InfluxDB gives the collector's token to UID 1000, the image runs as 10001", "docs: chgrp -R 1000 but the image's group is 10001"]));
  });
});

// ---------------------------------------------------------------------------------------------
// The scripts, run for real

describe('the scripts the stack runs', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'deploy-compose-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (file: string, args: string[], env: NodeJS.ProcessEnv) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      execFile(file, args, { env, timeout: 30_000 }, (error, stdout, stderr) => done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }));
    });
  /** The environment without the test runner's COLLECTOR_* variables. */
  const cleanEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => ({ ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('COLLECTOR_'))), ...extra });

  it('InfluxDB init script: a write-only token for the collector\'s volume, a read-only one for Grafana\'s, once', async () => {
    const setup = currentSetup();
    const script = join(DEPLOY, 'compose/influxdb-init/10-tokens.sh');
    // The image runs only executable *.sh files of /docker-entrypoint-initdb.d (run-parts).
    expect(statSync(script).mode & 0o111).toBe(0o111);
    const initDir = mounts(setup.compose.services!.influxdb, setup.dotenv).find((m) => m.target === '/docker-entrypoint-initdb.d');
    expect(initDir && resolve(DEPLOY, initDir.source)).toBe(join(DEPLOY, 'compose/influxdb-init'));

    // A stand-in for the influx CLI: records its arguments, answers like influx 2.7 does.
    const bin = join(dir, 'bin');
    mkdirSync(bin, { recursive: true });
    const log = join(dir, 'influx.log');
    writeFileSync(
      join(bin, 'influx'),
      `#!/bin/bash
echo "$*" >> "${log}"
case "$1 $2" in
  "org list") printf 'org0001\\tbelediye\\n' ;;
  "bucket list") printf 'bkt0002\\tmonitoring\\t9600h0m0s\\torg0001\\n' ;;
  "auth create") n=$(wc -l < "${log}"); printf '{\\n\\t"id": "auth%s",\\n\\t"description": "x",\\n\\t"token": "tok%s_A-b==",\\n\\t"status": "active"\\n}\\n' "$n" "$n" ;;
  *) exit 3 ;;
esac
`,
    );
    chmodSync(join(bin, 'influx'), 0o755);
    // The compose file's environment for InfluxDB, with its token directories moved under the test's.
    const env = serviceEnv(setup.compose.services!.influxdb, setup.dotenv);
    const place = (containerDir: string) => join(dir, 'volumes', containerDir);
    for (const name of ['IZLEME_COLLECTOR_TOKEN_DIR', 'IZLEME_GRAFANA_TOKEN_DIR']) mkdirSync(place(env[name]!), { recursive: true });
    const uid = String(process.getuid!());
    const runEnv = { ...env, IZLEME_COLLECTOR_TOKEN_DIR: place(env.IZLEME_COLLECTOR_TOKEN_DIR!), IZLEME_GRAFANA_TOKEN_DIR: place(env.IZLEME_GRAFANA_TOKEN_DIR!), IZLEME_COLLECTOR_UID: uid, IZLEME_GRAFANA_UID: uid, PATH: `${bin}:${process.env.PATH ?? ''}` };

    const first = await run(script, [], runEnv);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const calls = readFileSync(log, 'utf8').trim().split('\n');
    const creates = calls.filter((c) => c.startsWith('auth create'));
    expect(creates).toHaveLength(2);
    const write = creates.find((c) => c.includes('--write-bucket bkt0002'))!;
    const readOnly = creates.find((c) => c.includes('--read-bucket bkt0002'))!;
    expect(write).not.toContain('--read-bucket');
    expect(readOnly).not.toContain('--write-bucket');
    for (const c of creates) {
      expect(c).toContain('--org-id org0001');
      expect(c).not.toMatch(/--all-access|--operator/);
    }
    // Which file each consumer reads: follow the compose file from the consumer's volume to InfluxDB's directory.
    const influxMounts = mounts(setup.compose.services!.influxdb, setup.dotenv);
    const fileOf = (service: 'collector' | 'grafana') => join(place(influxMounts.find((m) => m.source === tokenSource(setup, service).value)!.target), 'token');
    const tokenNo = (call: string) => String(calls.indexOf(call) + 1);
    expect(readFileSync(fileOf('collector'), 'utf8')).toBe(`tok${tokenNo(write)}_A-b==`);
    expect(readFileSync(fileOf('grafana'), 'utf8')).toBe(`tok${tokenNo(readOnly)}_A-b==`);
    expect(readFileSync(fileOf('collector'), 'utf8')).not.toBe(readFileSync(fileOf('grafana'), 'utf8'));
    for (const service of ['collector', 'grafana'] as const) {
      expect(statSync(fileOf(service)).mode & 0o777).toBe(0o400);
      expect(String(statSync(fileOf(service)).uid)).toBe(uid);
    }

    // Run again (the container restarted, or by hand): nothing new, nothing replaced.
    const before = readFileSync(fileOf('collector'), 'utf8');
    const second = await run(script, [], runEnv);
    expect(second.code).toBe(0);
    expect(readFileSync(log, 'utf8').trim().split('\n').filter((c) => c.startsWith('auth create'))).toHaveLength(2);
    expect(readFileSync(fileOf('collector'), 'utf8')).toBe(before);
  });

  it('collector entrypoint: the token file becomes COLLECTOR_STORAGE__TOKEN; without it the collector does not start', async () => {
    const setup = currentSetup();
    const bin = join(dir, 'fake-node');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'node'), '#!/bin/sh\nprintf "token=%s\\nargs=%s\\n" "$COLLECTOR_STORAGE__TOKEN" "$*"\n');
    chmodSync(join(bin, 'node'), 0o755);
    const token = join(dir, 'collector-token');
    writeFileSync(token, 'tok-write-only');
    const script = join(DEPLOY, 'compose/collector-entrypoint.sh');
    // The variable the compose file gives it, pointing at the test's file.
    expect(serviceEnv(setup.compose.services!.collector, setup.dotenv).IZLEME_INFLUX_TOKEN_FILE).toBe('/run/izleme/influx-token/token');
    const ok = await run('/bin/sh', [script, '--config', '/etc/belediye-izleme/collector.yaml'], cleanEnv({ IZLEME_INFLUX_TOKEN_FILE: token, PATH: `${bin}:${process.env.PATH ?? ''}` }));
    expect(ok).toEqual({ code: 0, stdout: 'token=tok-write-only\nargs=/opt/belediye-izleme/collector/main.ts --config /etc/belediye-izleme/collector.yaml\n', stderr: '' });
    const missing = await run('/bin/sh', [script], cleanEnv({ IZLEME_INFLUX_TOKEN_FILE: join(dir, 'nothing'), PATH: `${bin}:${process.env.PATH ?? ''}` }));
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toContain('10-tokens.sh');
  });

  describe('healthcheck: GET /readyz on the container\'s own API', () => {
    const healthcheck = join(DEPLOY, 'compose/healthcheck.ts');
    let status = 503;
    let https: Server;
    let http: Server;
    const listen = (server: Server) => new Promise<number>((done) => server.listen(0, '127.0.0.1', () => done((server.address() as AddressInfo).port)));
    const handler = (req: { url?: string }, res: { writeHead: (s: number) => void; end: (b: string) => void }) => {
      res.writeHead(req.url === '/readyz' ? status : 404);
      res.end('{}');
    };
    const check = (config: object) => {
      const file = join(dir, `collector-${Math.random().toString(36).slice(2)}.yaml`);
      writeFileSync(file, JSON.stringify(config));
      return run(process.execPath, [healthcheck, '--config', file], cleanEnv({}));
    };
    let pki: string;
    beforeAll(async () => {
      // A certificate of the private CA for the LAN names only, as the real one: not for 127.0.0.1.
      pki = join(dir, 'pki');
      const ca = join(ROOT, 'deploy/pki/private-ca.sh');
      expect((await run(ca, [pki, 'ca'], process.env)).code).toBe(0);
      expect((await run(ca, [pki, 'server', 'collector', 'izleme.belediye.local', '10.0.0.5'], process.env)).code).toBe(0);
      https = createHttpsServer({ key: readFileSync(join(pki, 'collector.key')), cert: readFileSync(join(pki, 'collector.pem')) }, handler);
      http = createHttpServer(handler);
    });
    afterAll(() => {
      https.close();
      http.close();
    });

    it('HTTPS with a private-CA certificate: healthy on 200, unhealthy on 503 and when nothing listens', async () => {
      const port = await listen(https);
      const config = { api: { host: '0.0.0.0', port, tls: { keyFile: join(pki, 'collector.key'), certFile: join(pki, 'collector.pem') } } };
      status = 200;
      expect((await check(config)).code).toBe(0);
      status = 503;
      const starting = await check(config);
      expect(starting.code).toBe(1);
      expect(starting.stderr).toContain(`https://127.0.0.1:${port}/readyz answered 503`);
      await new Promise((done) => https.close(done));
      const down = await check(config);
      expect(down.code).toBe(1);
      expect(down.stderr).toContain('ECONNREFUSED');
    });

    it('plain HTTP when api.tls is not set, on the address the API is bound to', async () => {
      const port = await listen(http);
      status = 200;
      expect((await check({ api: { host: '127.0.0.1', port } })).code).toBe(0);
      // Over HTTPS the same server would not answer: the scheme really follows api.tls.
      expect((await check({ api: { host: '127.0.0.1', port, tls: { keyFile: 'k', certFile: 'c' } } })).code).toBe(1);
    });

    it('a configuration that does not load is unhealthy', async () => {
      const result = await check({ api: { port: 'eighty' } });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('api.port');
    });
  });
});
