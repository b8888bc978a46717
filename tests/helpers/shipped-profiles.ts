import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import YAML from 'yaml';
import { profileSchema, type Profile } from '../../collector/devices/profile.ts';
import { BUILTIN_PROFILES_DIR, parseProfile } from '../../collector/devices/profile-loader.ts';
import { SNMP_FIXTURES } from './snmp-servers.ts';

// The checks every shipped SNMP profile gets, shared by the profile test files: the file parses
// with the plain schema and with the loader, carries its file name as id, and its detection
// rule recognises the recording of its device.

export function loadShippedProfiles<Id extends string>(kinds: Record<Id, string>): Map<Id, Profile> {
  return new Map((Object.keys(kinds) as Id[]).map((id) => [id, parseProfile(profileText(id), `${id}.yaml`)]));
}

function profileText(id: string): string {
  return readFileSync(join(BUILTIN_PROFILES_DIR, `${id}.yaml`), 'utf8');
}

export function expectProfileFiles<Id extends string>(kinds: Record<Id, string>, profiles: ReadonlyMap<Id, Profile>): void {
  for (const id of Object.keys(kinds) as Id[]) {
    const profile = profileSchema.parse(YAML.parse(profileText(id)));
    expect(profile.id).toBe(id);
    expect(profile.driver).toBe('snmp');
    expect(profile.kind).toBe(kinds[id]);
    expect(profiles.get(id)).toEqual(profile);
  }
}

/** The value a recording holds for an OID, or undefined. */
export function recorded(file: string, oid: string): string | undefined {
  return readFileSync(join(SNMP_FIXTURES, file), 'utf8').split('\n').find((line) => line.startsWith(`${oid}|`))?.split('|')[2];
}

export function expectDetects<Id extends string>(profiles: ReadonlyMap<Id, Profile>, cases: [Id, string][]): void {
  for (const [id, file] of cases) {
    const detect = profiles.get(id)!.detect!;
    if (detect.oid) expect(recorded(file, detect.oid), `${id}: ${detect.oid} in ${file}`).toBeDefined();
    const sysObjectId = recorded(file, '1.3.6.1.2.1.1.2.0')!;
    if (detect.sysObjectId) expect(detect.sysObjectId.some((prefix) => sysObjectId === prefix || sysObjectId.startsWith(`${prefix}.`)), `${id}: ${sysObjectId}`).toBe(true);
  }
}
