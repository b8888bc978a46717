import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { parseYamlText, validateConfig } from '../src/config/load.ts';
import { normaliseId } from '../src/contract/topics.ts';
import { probeOids, rankProfiles } from './devices/discovery.ts';
import { loadProfiles } from './devices/profile-loader.ts';
import { textOf } from './devices/snmp/raw-value.ts';
import { expandEnv, secretsFileSchema, snmpCommunitySchema, type SnmpCredential } from './devices/secrets.ts';
import { openSnmpSession } from './devices/snmp/session.ts';

// izleme discover <address> [--community C | --credential NAME --secrets FILE] [--site S]
// (also node collector/discover.ts …)
// Asks a device what it is and which profiles fit, and prints the devices.yaml entry to add, so
// a technician can add a UPS or a switch without reading MIBs. Exit 0 with suggestions, 1 when
// nothing fits, 2 on bad arguments, 3 when the device does not answer.

export const DISCOVER_USAGE = `usage: izleme discover <address[:port]> [--community C | --credential NAME --secrets FILE] [--site SITE] [--profiles-dir DIR] [--timeout-ms N]
  Asks a device over SNMP what it is, lists the profiles that fit and prints the devices.yaml entry to add.
  exit 0 suggestions printed, 1 no profile fits, 2 bad arguments, 3 the device does not answer`;

const SYSTEM = { descr: '1.3.6.1.2.1.1.1.0', objectId: '1.3.6.1.2.1.1.2.0', name: '1.3.6.1.2.1.1.5.0' };

async function discover(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { community: { type: 'string' }, credential: { type: 'string' }, secrets: { type: 'string' }, site: { type: 'string' }, 'profiles-dir': { type: 'string', multiple: true }, 'timeout-ms': { type: 'string' } },
    });
  } catch (error) {
    return usage((error as Error).message);
  }
  const { values, positionals } = parsed;
  const address = positionals[0];
  if (!address || positionals.length > 1) return usage('give one device address');
  let credential: SnmpCredential;
  if (values.credential) {
    if (!values.secrets) return usage('--credential needs --secrets <file>');
    const secrets = validateConfig(secretsFileSchema, expandEnv(parseYamlText(readFileSync(values.secrets, 'utf8'), values.secrets), process.env), values.secrets);
    const found = secrets[values.credential];
    if (!found || !('snmp' in found)) return usage(`no SNMP credential "${values.credential}" in ${values.secrets}`);
    credential = found.snmp;
  } else {
    credential = snmpCommunitySchema.parse({ version: '2c', community: values.community ?? 'public' });
  }
  const profiles = loadProfiles(values['profiles-dir'] ?? []);
  const client = openSnmpSession({ address, credential, timeoutMs: Number(values['timeout-ms'] ?? 2000), retries: 1 });
  try {
    const oids = probeOids(profiles.values());
    let scalars;
    try {
      scalars = await client.get([...Object.values(SYSTEM), ...oids.scalars]);
    } catch (error) {
      process.stderr.write(`${address} does not answer: ${(error as Error).message}\n`);
      return 3;
    }
    const answered = new Set(scalars.keys());
    for (const column of oids.columns) if ((await client.walkColumn(column, 1).catch(() => new Map())).size > 0) answered.add(column);
    const raw = scalars.get(SYSTEM.objectId);
    const sysObjectId = raw?.kind === 'oid' ? raw.value : undefined;
    const sysName = scalars.get(SYSTEM.name);
    const sysDescr = scalars.get(SYSTEM.descr);
    const matches = rankProfiles(profiles.values(), { sysObjectId, answered });
    const out = process.stdout;
    out.write(`device:      ${address}\nsysName:     ${(sysName && textOf(sysName, 64)) || '-'}\nsysDescr:    ${(sysDescr && textOf(sysDescr, 120)) || '-'}\nsysObjectID: ${sysObjectId ?? '-'}\n\n`);
    if (matches.length === 0) {
      out.write('no shipped profile fits this device: write one (docs/devices.md, "Writing a profile")\n');
      return 1;
    }
    out.write('profiles that fit, best first:\n');
    for (const m of matches.slice(0, 6)) out.write(`  ${m.profile.padEnd(18)} score ${String(m.score).padStart(3)}  ${m.kind.padEnd(7)} ${m.reasons.join('; ')}\n`);
    // The best vendor/probe match plus generic profiles that cover a part of their own, as one entry.
    const best = matches[0]!;
    const chosen = [best.profile, ...matches.slice(1).filter((m) => m.kind === best.kind && m.coverage >= 0.5 && m.score >= 40).map((m) => m.profile)];
    const entry = {
      site: values.site ?? 'SITE',
      id: normaliseId((sysName && textOf(sysName, 64)) || address.replace(/[.:[\]]/g, '-')) || 'DEVICE',
      address,
      profile: chosen.length === 1 ? chosen[0] : chosen,
      credential: values.credential ?? 'CREDENTIAL-NAME',
    };
    out.write(`\nadd to devices.yaml:\n${stringify({ devices: [entry] }).replace(/^devices:\n/, '')}`);
    return 0;
  } finally {
    client.close();
  }
}

function usage(why: string): number {
  process.stderr.write(`${why}\n${DISCOVER_USAGE}\n`);
  return 2;
}

/** Runs discovery and returns the exit code; an unexpected failure (a secrets file that cannot be read, a bad profile) is said in one line, exit 2. */
export function runDiscover(argv: string[]): Promise<number> {
  return discover(argv).catch((error: unknown) => {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  });
}

if (import.meta.main) process.exit(await runDiscover(process.argv.slice(2)));
