import type { Profile } from './profile.ts';
import { planRequests } from './snmp/interpret.ts';

// Pure: which shipped profiles fit a device, from what it answered. A sysObjectID under a
// profile's vendor prefix is the strongest sign; then the profile's probe OID; then how many
// of the OIDs the profile reads the device has at all (a generic IF-MIB profile fits most
// network gear, so it ranks by coverage rather than identity).

export interface DeviceProbe {
  sysObjectId: string | undefined;
  /** OIDs (scalar instances or table columns) that returned a value. */
  answered: ReadonlySet<string>;
}

export interface ProfileMatch {
  profile: string;
  kind: string;
  description: string;
  score: number;
  /** Share of the profile's OIDs the device answered, 0..1. */
  coverage: number;
  reasons: string[];
}

/** The OIDs to ask a device about when ranking these profiles (scalars GET, columns one GETNEXT). */
export function probeOids(profiles: Iterable<Profile>): { scalars: string[]; columns: string[] } {
  const scalars = new Set<string>();
  const columns = new Set<string>();
  for (const profile of profiles) {
    if (profile.driver !== 'snmp') continue;
    const plan = planRequests(profile);
    for (const oid of plan.scalars) scalars.add(oid);
    for (const oid of plan.columns.keys()) columns.add(oid);
    if (profile.detect?.oid) scalars.add(profile.detect.oid);
  }
  return { scalars: [...scalars], columns: [...columns] };
}

export function rankProfiles(profiles: Iterable<Profile>, probe: DeviceProbe): ProfileMatch[] {
  const matches: ProfileMatch[] = [];
  for (const profile of profiles) {
    if (profile.driver !== 'snmp') continue;
    const plan = planRequests(profile);
    const wanted = [...plan.scalars.filter((oid) => oid !== '1.3.6.1.2.1.1.3.0'), ...plan.columns.keys()];
    const found = wanted.filter((oid) => probe.answered.has(oid)).length;
    const coverage = wanted.length ? found / wanted.length : 0;
    const reasons: string[] = [];
    let score = coverage * 50;
    const vendor = profile.detect?.sysObjectId?.find((prefix) => probe.sysObjectId === prefix || probe.sysObjectId?.startsWith(`${prefix}.`));
    if (vendor) {
      score += 40;
      reasons.push(`sysObjectID ${probe.sysObjectId} is under ${vendor}`);
    }
    if (profile.detect?.oid && probe.answered.has(profile.detect.oid)) {
      score += 30;
      reasons.push(`answers ${profile.detect.oid}`);
    }
    reasons.push(`${found} of ${wanted.length} OIDs answered`);
    if (found === 0) continue;
    matches.push({ profile: profile.id, kind: profile.kind, description: profile.description, score: Math.round(score), coverage: Math.round(coverage * 100) / 100, reasons });
  }
  return matches.sort((a, b) => b.score - a.score || a.profile.localeCompare(b.profile));
}
