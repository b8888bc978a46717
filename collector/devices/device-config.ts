import { statSync, readFileSync, unwatchFile, watchFile } from 'node:fs';
import { parseYamlText, validateConfig } from '../../src/config/load.ts';
import type { Logger } from '../../src/log.ts';
import type { DeviceDriver } from './driver.ts';
import { planDevices } from './device-plan.ts';
import { devicesFileSchema, type DevicesFile } from './inventory.ts';
import type { PlannedDevice } from './poller.ts';
import type { Profile } from './profile.ts';
import { loadProfiles } from './profile-loader.ts';
import { expandEnv, secretsFileSchema, type SecretsFile } from './secrets.ts';

// Reads devices.yaml, the secrets file and the profiles, and reloads them when a file changes
// (checked every second; also on SIGHUP) without restarting the collector. A reload that does
// not validate is refused with the reasons logged, and the devices keep being polled as before.

export interface DeviceConfigPaths {
  /** None: no polled devices (traps only). */
  file: string | undefined;
  secretsFile: string | undefined;
  profilesDirs: readonly string[];
  defaultIntervalS: number;
}

export interface LoadedDevices {
  plans: PlannedDevice[];
  devices: DevicesFile['devices'];
  secrets: SecretsFile;
  profiles: ReadonlyMap<string, Profile>;
}

export function loadDeviceConfig(paths: DeviceConfigPaths, drivers: ReadonlyMap<string, DeviceDriver>, env: NodeJS.ProcessEnv, log?: Logger): LoadedDevices {
  const devices: DevicesFile = paths.file ? validateConfig(devicesFileSchema, parseYamlText(readFileSync(paths.file, 'utf8'), paths.file), paths.file) : { devices: [] };
  let secrets: SecretsFile = {};
  if (paths.secretsFile) {
    const mode = statSync(paths.secretsFile).mode;
    if (process.platform !== 'win32' && (mode & 0o077) !== 0) log?.log('warn', 'the device secrets file can be read by other users: chmod 600 it', { file: paths.secretsFile });
    const raw = parseYamlText(readFileSync(paths.secretsFile, 'utf8'), paths.secretsFile);
    let expanded: unknown;
    try {
      expanded = expandEnv(raw, env);
    } catch (error) {
      throw new Error(`${paths.secretsFile}: ${(error as Error).message}`);
    }
    secrets = validateConfig(secretsFileSchema, expanded, paths.secretsFile);
  }
  const profiles = loadProfiles(paths.profilesDirs);
  const { plans, errors } = planDevices({ devices, secrets, profiles, drivers, defaultIntervalS: paths.defaultIntervalS });
  if (errors.length > 0) throw new Error(`invalid device list in ${paths.file}:\n  ${errors.slice(0, 20).join('\n  ')}`);
  return { plans, devices: devices.devices, secrets, profiles };
}

export interface DeviceConfigWatcher {
  reload(): void;
  close(): void;
}

export function watchDeviceConfig(paths: DeviceConfigPaths, onChange: () => void): DeviceConfigWatcher {
  const files = [paths.file, paths.secretsFile].filter((f): f is string => f !== undefined);
  const listener = (current: { mtimeMs: number }, previous: { mtimeMs: number }) => {
    if (current.mtimeMs !== previous.mtimeMs) onChange();
  };
  for (const file of files) watchFile(file, { interval: 1_000 }, listener);
  const onHup = () => onChange();
  process.on('SIGHUP', onHup);
  return {
    reload: onChange,
    close() {
      for (const file of files) unwatchFile(file, listener);
      process.off('SIGHUP', onHup);
    },
  };
}
