import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadCollectorConfig } from '../collector/config.ts';
import { loadDeviceConfig, type DeviceConfigPaths } from '../collector/devices/device-config.ts';
import { DRIVERS } from '../collector/devices/drivers/index.ts';
import { loadProfiles } from '../collector/devices/profile-loader.ts';
import { tempDir } from './helpers/servers.ts';

// The device list, the secrets file and the profiles as an operator writes them: the shipped
// examples load with every shipped profile, and every kind of mistake is refused with a message
// that names the entry and field.

const ENV = { UPS_COMMUNITY: 'u-7781', PRINTER_COMMUNITY: 'p-1', OMURGA_AUTH_KEY: 'auth-12345678', OMURGA_PRIV_KEY: 'priv-12345678', NVR_PASSWORD: 'nvr-parola' };
const examplePaths = (): DeviceConfigPaths => ({ file: 'deploy/devices.example.yaml', secretsFile: 'deploy/device-secrets.example.yaml', profilesDirs: [], defaultIntervalS: 60 });

function files(devices: unknown, secrets: unknown = { ro: { snmp: { version: '2c', community: 'c' } }, web: { http: { username: 'u', password: 'p' } } }): DeviceConfigPaths {
  const dir = tempDir('devcfg');
  const file = join(dir, 'devices.yaml');
  const secretsFile = join(dir, 'secrets.yaml');
  writeFileSync(file, typeof devices === 'string' ? devices : stringify(devices));
  writeFileSync(secretsFile, stringify(secrets));
  chmodSync(secretsFile, 0o600);
  return { file, secretsFile, profilesDirs: [], defaultIntervalS: 60 };
}

describe('device configuration', () => {
  it('loads the shipped examples with the shipped profiles, secrets from the environment', () => {
    const loaded = loadDeviceConfig(examplePaths(), DRIVERS, ENV);
    expect(loaded.plans.map((p) => `${p.device.site}/${p.device.id}:${p.kind}`)).toEqual([
      'merkez/ups-sistem-odasi:ups',
      'kultur-merkezi/ups-giris:ups',
      'merkez/sw-omurga:switch',
      'merkez/nvr-kgys-1:nvr',
      'merkez/sistem-odasi-sicaklik:sensor',
      'merkez/yazici-kat2:printer',
    ]);
    expect(loaded.secrets['omurga-v3']).toEqual({ snmp: { version: '3', user: 'izleme', authProtocol: 'sha', authKey: ENV.OMURGA_AUTH_KEY, privProtocol: 'aes', privKey: ENV.OMURGA_PRIV_KEY } });
    expect(loadCollectorConfig('deploy/collector.example.yaml', {}).devices).toMatchObject({ file: '/etc/belediye-izleme/devices.yaml', traps: { enabled: true, port: 162 } });
  });

  it('every shipped profile validates and names a driver this collector has', () => {
    const profiles = loadProfiles();
    expect(profiles.size).toBeGreaterThanOrEqual(8);
    for (const profile of profiles.values()) expect(DRIVERS.has(profile.driver), profile.id).toBe(true);
  });

  it('refuses a missing environment variable, naming it', () => {
    const { NVR_PASSWORD: _, ...partial } = ENV;
    expect(() => loadDeviceConfig(examplePaths(), DRIVERS, partial)).toThrow(/nvr-izleme\.http\.password: environment variable NVR_PASSWORD is not set/);
  });

  it.each([
    ['an unknown profile', [{ site: 'a', id: 'ups1', address: '10.0.0.1', profile: 'ups-mibb', credential: 'ro' }], /devices\[0\] \(a\/ups1\)\.profile: unknown profile "ups-mibb"/],
    ['an unknown credential', [{ site: 'a', id: 'ups1', address: '10.0.0.1', profile: 'ups-mib', credential: 'rw' }], /devices\[0\] \(a\/ups1\)\.credential: no credential "rw"/],
    ['an HTTP login for an SNMP profile', [{ site: 'a', id: 'ups1', address: '10.0.0.1', profile: 'ups-mib', credential: 'web' }], /needs an SNMP credential, "web" is not one/],
    ['an SNMP device without a credential', [{ site: 'a', id: 'ups1', address: '10.0.0.1', profile: 'ups-mib' }], /devices\[0\] \(a\/ups1\)\.credential: profile "ups-mib" needs an SNMP credential/],
    ['a device listed twice', [{ site: 'a', id: 'u', address: '1', profile: 'ups-mib', credential: 'ro' }, { site: 'a', id: 'u', address: '2', profile: 'ups-mib', credential: 'ro' }], /devices\.1\.id|devices\[1\]\.id: a\/u is listed twice/],
    ['an id with capitals', [{ site: 'a', id: 'UPS-1', address: '1', profile: 'ups-mib', credential: 'ro' }], /devices\[0\]\.id: expected a lower-case id/],
    ['an unknown key', [{ site: 'a', id: 'u', address: '1', profile: 'ups-mib', credential: 'ro', comunity: 'x' }], /devices\[0\]: Unrecognized key: "comunity"/],
  ])('refuses %s, naming the entry and field', (_what, devices, message) => {
    expect(() => loadDeviceConfig(files({ devices }), DRIVERS, {})).toThrow(message);
  });

  it('refuses weak or incomplete credentials and broken YAML with the file and line', () => {
    expect(() => loadDeviceConfig(files({ devices: [] }, { v3: { snmp: { version: '3', user: 'u', authKey: 'short', privKey: 'long-enough-1' } } }), DRIVERS, {})).toThrow(/v3\.snmp\.authKey: SNMPv3 keys need at least 8 characters/);
    expect(() => loadDeviceConfig(files({ devices: [] }, { v1: { snmp: { version: '1' } } }), DRIVERS, {})).toThrow(/v1\.snmp\.community/);
    const broken = files('devices:\n  - site: a\n    id: [unclosed\n');
    expect(() => loadDeviceConfig(broken, DRIVERS, {})).toThrow(new RegExp(`${broken.file}:\\d+`));
  });
});
