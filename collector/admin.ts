import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { loadOrExit } from '../src/config/load.ts';
import { ID_PATTERN } from '../src/contract/topics.ts';
import { loadCollectorConfig } from './config.ts';
import { API_ROLES } from './security/policy.ts';
import { SecurityStore } from './security/store.ts';

// Administration on the collector host: node collector/admin.ts [--config collector.yaml] <command>
// Works on the collector's security store directly (so the first admin API token can be made
// before any exists); the running collector sees revocations within a second. Every change is
// audited as `cli:<operating system user>`. Secrets are printed once, here, and stored hashed.

const USAGE = `usage: node collector/admin.ts [--config collector.yaml] <command>
  enrollment-token create --site <site> [--uses N] [--hours H]   a token agents enroll with
  enrollment-token list | enrollment-token revoke <id>
  device credentials <site>/<device>    credentials for a device that cannot enroll (kiosk, script)
  device revoke <site>/<device>         the device is disconnected and refused from now on
  device list
  api-token create --name <name> --role read|operator|admin
  api-token revoke <id>
  audit [--limit N]`;

class UsageError extends Error {}

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

function run(store: SecurityStore, words: string[], flags: Record<string, string | undefined>): unknown {
  const actor = `cli:${userInfo().username}`;
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

function main(): void {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: { config: { type: 'string', short: 'c' }, site: { type: 'string' }, uses: { type: 'string' }, hours: { type: 'string' }, name: { type: 'string' }, role: { type: 'string' }, limit: { type: 'string' } },
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  const config = loadOrExit(() => loadCollectorConfig(parsed.values.config));
  const store = SecurityStore.open(config.security.path);
  try {
    process.stdout.write(`${JSON.stringify(run(store, parsed.positionals, parsed.values), null, 2)}\n`);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n${USAGE}\n`);
    process.exitCode = 2;
  } finally {
    store.close();
  }
}

main();
