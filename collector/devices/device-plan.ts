import { createHash } from 'node:crypto';
import type { DeviceKind } from '../../src/contract/schemas.ts';
import type { DeviceDriver, DriverTarget } from './driver.ts';
import type { DevicesFile } from './inventory.ts';
import type { PlannedDevice } from './poller.ts';
import type { Profile } from './profile.ts';
import type { SecretsFile } from './secrets.ts';

// Pure: device list + secrets + profiles + drivers → what the poller runs. Every reference is
// checked here, so a typo in a profile or credential name is an error naming the device entry,
// not a device that silently never gets polled.

export interface PlanInput {
  devices: DevicesFile;
  secrets: SecretsFile;
  profiles: ReadonlyMap<string, Profile>;
  drivers: ReadonlyMap<string, DeviceDriver>;
  defaultIntervalS: number;
}

export function planDevices(input: PlanInput): { plans: PlannedDevice[]; errors: string[] } {
  const errors: string[] = [];
  const plans: PlannedDevice[] = [];
  input.devices.devices.forEach((device, i) => {
    const at = `devices[${i}] (${device.site}/${device.id})`;
    const credential = device.credential === undefined ? undefined : input.secrets[device.credential];
    if (device.credential !== undefined && credential === undefined) errors.push(`${at}.credential: no credential "${device.credential}" in the secrets file`);
    const targets: DriverTarget[] = [];
    for (const profileId of device.profile) {
      const profile = input.profiles.get(profileId);
      if (!profile) {
        errors.push(`${at}.profile: unknown profile "${profileId}" (known: ${[...input.profiles.keys()].sort().join(', ')})`);
        continue;
      }
      const driver = input.drivers.get(profile.driver);
      if (!driver) {
        errors.push(`${at}.profile: profile "${profileId}" needs driver "${profile.driver}", which this collector does not have`);
        continue;
      }
      if (driver.credential !== 'none') {
        const needs = driver.credential === 'snmp' ? 'an SNMP' : 'an HTTP';
        if (credential && !(driver.credential in credential)) errors.push(`${at}.credential: profile "${profileId}" needs ${needs} credential, "${device.credential}" is not one`);
        if (!credential) errors.push(`${at}.credential: profile "${profileId}" needs ${needs} credential`);
      }
      const options = driver.options?.safeParse(device.options);
      if (options && !options.success) for (const issue of options.error.issues.slice(0, 5)) errors.push(`${at}.options${issue.path.length ? `.${issue.path.join('.')}` : ''}: ${issue.message}`);
      else if (!driver.options && Object.keys(device.options).length > 0) errors.push(`${at}.options: profile "${profileId}" takes no options`);
      targets.push({ device, profile, credential });
    }
    if (targets.length !== device.profile.length) return;
    const kind: DeviceKind = targets[0]!.profile.kind;
    const intervalS = device.intervalS ?? input.defaultIntervalS;
    // The credential is part of the fingerprint (rotated community → new session), hashed so the fingerprint holds no secret.
    const fingerprint = createHash('sha256').update(JSON.stringify({ device, credential, profiles: targets.map((t) => t.profile), intervalS })).digest('hex');
    plans.push({ device, kind, intervalS, targets, fingerprint });
  });
  return { plans: errors.length ? [] : plans, errors };
}
