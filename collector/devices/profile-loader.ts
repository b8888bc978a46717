import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseYamlText, validateConfig } from '../../src/config/load.ts';
import { collectorAsset } from '../assets.ts';
import { profileSchema, type Profile } from './profile.ts';
import { checkProfile } from './snmp/interpret.ts';

// Profiles are YAML files: the shipped ones in collector/devices/profiles, plus any directory
// the configuration names (a municipality's own UPS model). A later directory may override a
// shipped profile by id. A bad file fails the load with the file and field named.

export const BUILTIN_PROFILES_DIR = collectorAsset('devices/profiles');

export function parseProfile(text: string, source: string): Profile {
  const profile = validateConfig(profileSchema, parseYamlText(text, source), source);
  try {
    checkProfile(profile);
  } catch (error) {
    throw new Error(`${source}: ${(error as Error).message}`);
  }
  return profile;
}

export function loadProfiles(extraDirs: readonly string[] = []): Map<string, Profile> {
  const profiles = new Map<string, Profile>();
  for (const dir of [BUILTIN_PROFILES_DIR, ...extraDirs]) {
    for (const file of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
      const path = join(dir, file);
      const profile = parseProfile(readFileSync(path, 'utf8'), path);
      profiles.set(profile.id, profile);
    }
  }
  return profiles;
}
