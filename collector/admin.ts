import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ID_PATTERN } from '../src/contract/topics.ts';
import { AlertStore } from './alerts/alert-store.ts';
import { alertActions, alertParam, listQuery, maintenanceBody, maintenanceParam, silenceBody, silenceParam } from './api/routes/alerts.ts';
import { HttpError } from './api/validate.ts';
import { CliError } from './cli/cli-error.ts';
import { loadCliConfig, type CliConfig } from './cli/collector-config.ts';
import { existingStore } from './cli/existing-store.ts';
import { API_ROLES } from './security/policy.ts';
import { SecurityStore } from './security/store.ts';

// Administration on the collector host: `izleme admin [--config FILE] <command>` (also
// `node collector/admin.ts …`). Works on the running collector's security and alert stores
// directly (so the first admin API token can be made before any exists, and alerts can be
// handled while the API is unreachable); the running collector sees revocations within a second,
// and silences and maintenance windows from the next alert that fires (it reads them from the
// store then). The stores are found through the collector's configuration
// (/etc/belediye-izleme/collector.yaml unless --config says otherwise) and must exist: a new
// empty one would be a store the collector does not read. Every change is audited as
// `cli:<operating system user>`. Secrets are printed once, here, and stored hashed.

export const ADMIN_USAGE = `usage: izleme admin [--config FILE] <command>      (or: node collector/admin.ts …)
  --config FILE   the running collector's configuration (default /etc/belediye-izleme/collector.yaml)
commands:
  enrollment-token create --site <site> [--uses N] [--hours H]   a token agents enroll with
  enrollment-token list | enrollment-token revoke <id>
  device credentials <site>/<device>    credentials for a device that cannot enroll (kiosk, script)
  device revoke <site>/<device>         the device is disconnected and refused from now on
  device list
  api-token create --name <name> --role read|operator|admin
  api-token revoke <id>
  audit [--limit N]
  alerts list [--state active|firing|resolved] [--site S] [--limit N]
  alerts ack <id> [--comment C]
  silence add --site S [--device D] [--rule R] --minutes N --comment C
  silence list | silence remove <id>
  maintenance add --site S [--device D] --from ISO --to ISO --reason R   times with their offset, e.g. 2026-03-01T22:00+03:00
  maintenance list | maintenance remove <id>
Answers are JSON. Secrets (tokens, passwords) are shown once.`;

class UsageError extends Error {}

/** The flag a field of an API body or query comes from (the CLI names flags, not body fields). */
const FLAG_OF: Record<string, string> = { sites: 'site', devices: 'device', 'matchers.site': 'site', 'matchers.device': 'device', 'matchers.rule': 'rule', matchers: 'site', durationMinutes: 'minutes' };

const deviceArg = (value: string | undefined) => {
  const [site, device, ...rest] = (value ?? '').split('/');
  if (!site || !device || rest.length > 0 || !ID_PATTERN.test(site) || !ID_PATTERN.test(device)) throw new UsageError(`expected <site>/<device> with ids matching ${ID_PATTERN}, got "${value ?? ''}"`);
  return { site, device };
};

function argument<S extends z.ZodType>(name: string, schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new UsageError(`--${name}: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/** Flags not given are left out, as an API client would leave them out of its body. */
const given = (value: Record<string, unknown>) => Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));

/** Checks flags with the API's schema; an error names the flag (or the positional id) it came from. */
function fields<S extends z.ZodType>(schema: S, value: Record<string, unknown>): z.infer<S> {
  const parsed = schema.safeParse(given(value));
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.filter((p) => typeof p === 'string').join('.');
  throw new UsageError(`${field === 'id' ? '<id>' : `--${FLAG_OF[field] ?? field}`}: ${issue.message}`);
}

interface Stores {
  security: SecurityStore;
  /** Opened on first use: only the alert commands need the alert store. */
  alerts: () => AlertStore;
}

/** alerts, silence and maintenance: the API's actions on the alert store. */
function runAlerts(stores: Stores, words: string[], flags: Record<string, string | undefined>, actor: string): unknown {
  const [noun, verb, target] = words;
  const store = stores.alerts();
  const actions = alertActions(store, stores.security);
  const remove = (param: z.ZodType<{ id: string }>, drop: (id: string, actor: string) => void) => {
    const { id } = fields(param, { id: target });
    drop(id, actor);
    return { removed: id };
  };
  switch (`${noun} ${verb}`) {
    case 'alerts list':
      return store.list(fields(listQuery, { state: flags.state, site: flags.site, limit: flags.limit }));
    case 'alerts ack':
      return actions.acknowledge(fields(alertParam, { id: target }).id, actor, argument('comment', z.string().max(500).optional(), flags.comment));
    case 'silence list':
      return store.silences(Date.now());
    case 'silence add': {
      argument('site', z.string({ error: 'required' }), flags.site);
      const minutes = flags.minutes === undefined ? undefined : Number(flags.minutes);
      return actions.addSilence(fields(silenceBody, { matchers: given({ site: flags.site, device: flags.device, rule: flags.rule }), durationMinutes: minutes, comment: flags.comment }), actor);
    }
    case 'silence remove':
      return remove(silenceParam, actions.removeSilence);
    case 'maintenance list':
      return store.maintenance(Date.now());
    case 'maintenance add': {
      if (flags.device !== undefined) argument('site', z.string({ error: 'required with --device (the device is site/device)' }), flags.site);
      const covers = flags.device !== undefined ? { devices: [`${flags.site}/${flags.device}`] } : flags.site !== undefined ? { sites: [flags.site] } : {};
      return actions.addMaintenance(fields(maintenanceBody, { ...covers, from: flags.from, to: flags.to, reason: flags.reason }), actor);
    }
    case 'maintenance remove':
      return remove(maintenanceParam, actions.removeMaintenance);
  }
  throw new UsageError(`unknown command "${words.join(' ')}"`);
}

function run(stores: Stores, words: string[], flags: Record<string, string | undefined>): unknown {
  const actor = `cli:${userInfo().username}`;
  const store = stores.security;
  if (['alerts', 'silence', 'maintenance'].includes(words[0] ?? '')) return runAlerts(stores, words, flags, actor);
  switch (words.join(' ')) {
    case 'enrollment-token create': {
      const site = argument('site', z.string().regex(ID_PATTERN, `expected a site id matching ${ID_PATTERN}`), flags.site);
      const uses = argument('uses', z.coerce.number().int().min(1).max(100_000), flags.uses ?? '1');
      const hours = argument('hours', z.coerce.number().positive().max(24 * 365), flags.hours ?? '72');
      const expiresAt = Date.now() + hours * 3_600_000;
      const created = store.createEnrollmentToken({ site, maxUses: uses, expiresAt, actor });
      return { id: created.id, token: created.token, site, maxUses: uses, expiresAt: new Date(expiresAt).toISOString() };
    }
    case 'enrollment-token list':
      return store.enrollmentTokens();
    case 'device list':
      return store.deviceCredentials();
    case 'audit':
      return store.auditLog(argument('limit', z.coerce.number().int().min(1).max(100_000), flags.limit ?? '100'));
    case 'api-token create': {
      const name = argument('name', z.string().min(1).max(64), flags.name);
      const role = argument('role', z.enum(API_ROLES), flags.role);
      const created = store.createApiToken({ name, role, actor });
      return { id: created.id, token: created.token, name, role };
    }
  }
  const [noun, verb, target] = words;
  if (noun === 'enrollment-token' && verb === 'revoke' && target) return { revoked: store.revokeEnrollmentToken(target, actor) };
  if (noun === 'api-token' && verb === 'revoke' && target) return { revoked: store.revokeApiToken(target, actor) };
  if (noun === 'device' && verb === 'revoke') return { revoked: store.revokeDevice(deviceArg(target), actor) };
  if (noun === 'device' && verb === 'credentials') {
    const issued = store.issueDeviceCredentials(deviceArg(target), actor);
    return { ...issued, clientId: issued.username };
  }
  throw new UsageError(`unknown command "${words.join(' ')}"`);
}

const FLAGS = ['site', 'uses', 'hours', 'name', 'role', 'limit', 'state', 'comment', 'device', 'rule', 'minutes', 'from', 'to', 'reason'] as const;

function openAlertStore({ config, file }: CliConfig): AlertStore {
  if (!config.alerts.enabled) throw new HttpError(409, 'alerting is turned off (alerts.enabled: false)');
  return AlertStore.open(existingStore(config.alerts.path, 'alert store', 'alerts.path', file));
}

/** Runs one admin command; returns the exit code (0 done, 1 failed, 2 bad command line or configuration). */
export function runAdmin(argv: string[]): number {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { config: { type: 'string', short: 'c' }, ...Object.fromEntries(FLAGS.map((flag) => [flag, { type: 'string' as const }])) } });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${ADMIN_USAGE}\n`);
    return 2;
  }
  if (parsed.positionals.length === 0) {
    process.stderr.write(`${ADMIN_USAGE}\n`);
    return 2;
  }
  let security: SecurityStore | undefined;
  let alerts: AlertStore | undefined;
  try {
    const cli = loadCliConfig(parsed.values.config);
    security = SecurityStore.open(existingStore(cli.config.security.path, 'security store', 'security.path', cli.file));
    const result = run({ security, alerts: () => (alerts ??= openAlertStore(cli)) }, parsed.positionals, parsed.values as Record<string, string | undefined>);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n${ADMIN_USAGE}\n`);
      return 2;
    }
    if (error instanceof HttpError || error instanceof CliError) {
      // What the API would answer 404 or 409 to (unknown id, a resolved alert), or a missing store: said plainly.
      process.stderr.write(`${error.message}\n`);
      return error instanceof CliError ? error.exitCode : 1;
    }
    throw error;
  } finally {
    alerts?.close();
    security?.close();
  }
}

if (import.meta.main) process.exitCode = runAdmin(process.argv.slice(2));
