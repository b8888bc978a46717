import { z } from 'zod';

// Device credentials live in their own file (mode 600), never in the device list, dashboards
// or logs. A value written as ${NAME} is read from the environment, so a deployment can keep
// them in a secret store instead.

const secretText = z.string().min(1).max(256);

export const snmpCommunitySchema = z.strictObject({ version: z.enum(['1', '2c']), community: secretText });
export const snmpV3Schema = z.strictObject({
  version: z.literal('3'),
  user: z.string().min(1).max(32),
  /** authPriv only: noAuth and authNoPriv send credentials or data in the clear. */
  authProtocol: z.enum(['sha', 'sha256', 'sha512']).default('sha'),
  authKey: z.string().min(8, 'SNMPv3 keys need at least 8 characters').max(256),
  privProtocol: z.enum(['aes', 'aes256b', 'aes256r']).default('aes'),
  privKey: z.string().min(8, 'SNMPv3 keys need at least 8 characters').max(256),
});
export const httpCredentialSchema = z.strictObject({ username: z.string().min(1).max(64), password: secretText });

const snmpBranch = z.strictObject({ snmp: z.discriminatedUnion('version', [snmpCommunitySchema, snmpV3Schema]) });
const httpBranch = z.strictObject({ http: httpCredentialSchema });
export type Credential = z.infer<typeof snmpBranch> | z.infer<typeof httpBranch>;

/** The branch is chosen by its key, so a mistake is reported inside it ("ups.snmp.community: …") rather than as "invalid union". */
export const credentialSchema = z.unknown().transform((raw, ctx): Credential => {
  const branch = typeof raw === 'object' && raw !== null && 'http' in raw ? httpBranch : snmpBranch;
  const result = branch.safeParse(raw);
  if (result.success) return result.data;
  for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  return z.NEVER;
});
export type SnmpCredential = Extract<Credential, { snmp: unknown }>['snmp'];
export type HttpCredential = Extract<Credential, { http: unknown }>['http'];

export const secretsFileSchema = z.record(z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'expected a credential name like "ups-ro"'), credentialSchema);
export type SecretsFile = z.infer<typeof secretsFileSchema>;

/** Replaces ${NAME} in every string by the environment variable; a missing one is an error naming it. */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv, path = ''): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Z_][A-Z0-9_]*)\}/g, (_, name: string) => {
      const found = env[name];
      if (found === undefined) throw new Error(`${path || '(root)'}: environment variable ${name} is not set`);
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, `${path}[${i}]`));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandEnv(v, env, path ? `${path}.${k}` : k)]));
  }
  return value;
}
