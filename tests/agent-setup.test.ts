import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadAgentConfig } from '../agent/config.ts';
import { ensureCredentials, saveCredentials } from '../agent/enroll.ts';
import { createLogger } from '../src/log.ts';
import { applyConfigure, collectorAddresses, configuredAgent, parseConfigureArgs } from '../agent/setup/configure.ts';
import { failureActionArgs, stateDirAclArgs } from '../agent/setup/windows-service.ts';

describe('belediye-agent configure', () => {
  it('derives the API and broker addresses from a host name or a URL', () => {
    expect(collectorAddresses('izleme.belediye.local', true)).toEqual({ apiUrl: 'https://izleme.belediye.local:8080', mqttUrl: 'mqtts://izleme.belediye.local:8883' });
    expect(collectorAddresses('izleme', false)).toEqual({ apiUrl: 'http://izleme:8080', mqttUrl: 'mqtt://izleme:1883' });
    expect(collectorAddresses('https://10.0.0.5:9443/', false)).toEqual({ apiUrl: 'https://10.0.0.5:9443', mqttUrl: 'mqtts://10.0.0.5:8883' });
    expect(collectorAddresses('http://127.0.0.1:4000', false, 'mqtt://127.0.0.1:4001').mqttUrl).toBe('mqtt://127.0.0.1:4001');
    expect(() => collectorAddresses('ftp://x', false)).toThrow(/http\(s\)/);
    expect(() => collectorAddresses('  ', false)).toThrow(/collector/);
  });

  it('keeps the keys an administrator set, never writes the token into the configuration', () => {
    const existing = { site: 'eski', intervalS: 30, windows: undefined, enrollment: { url: 'http://old:8080', token: 'leaked', rotateAfterDays: 30 }, mqtt: { url: 'mqtt://old:1883', keepaliveS: 60 } };
    const result = configuredAgent(JSON.parse(JSON.stringify(existing)), { site: 'zabita', collector: 'izleme', token: 'bk_x', caFile: '/etc/ca.pem' }, 'test');
    expect(result).toMatchObject({ site: 'zabita', intervalS: 30, enrollment: { url: 'https://izleme:8080', caFile: '/etc/ca.pem', rotateAfterDays: 30 }, mqtt: { url: 'mqtts://izleme:8883', caFile: '/etc/ca.pem', keepaliveS: 60 } });
    expect(JSON.stringify(result)).not.toContain('leaked');
    expect(JSON.stringify(result)).not.toContain('bk_x');
  });

  it('an upgrade that repeats SITE and COLLECTOR without CA_FILE keeps the CA and TLS', () => {
    const existing = { site: 'merkez', enrollment: { url: 'https://izleme:8080', caFile: 'C:\\ProgramData\\belediye-agent\\ca.pem' }, mqtt: { url: 'mqtts://izleme:8883', caFile: 'C:\\ProgramData\\belediye-agent\\ca.pem' } };
    const result = configuredAgent(existing, { site: 'merkez', collector: 'izleme' }, 'test');
    expect(result).toMatchObject({ enrollment: { url: 'https://izleme:8080', caFile: existing.enrollment.caFile }, mqtt: { url: 'mqtts://izleme:8883', caFile: existing.mqtt.caFile } });
  });

  it('refuses a site the agent would refuse, naming the field', () => {
    expect(() => configuredAgent({}, { site: 'Fen İşleri', collector: 'izleme' }, 'agent.yaml')).toThrow(/site: expected lower-case/);
  });

  it('treats the empty properties an MSI passes as not given, and requires site and collector', () => {
    const parsed = parseConfigureArgs(['--site', 'merkez', '--collector', 'izleme', '--token', '', '--ca-file', ' '], 'win32', { ProgramData: 'C:\\ProgramData' });
    expect(parsed.options.token).toBeUndefined();
    expect(parsed.options.caFile).toBeUndefined();
    expect(parsed.configPath).toBe('C:\\ProgramData\\belediye-agent\\agent.yaml');
    expect(parseConfigureArgs(['--site', 'merkez', '--collector', 'izleme'], 'linux', {}).configPath).toBe('/etc/belediye-izleme/agent.yaml');
    expect(() => parseConfigureArgs(['--site', '', '--collector', 'izleme'], 'linux', {})).toThrow(/--site and --collector are required/);
    expect(() => parseConfigureArgs(['--bogus'], 'linux', {})).toThrow(/usage: belediye-agent configure/);
  });

  it('writes a configuration the agent loads and a one-use token file only the service can read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'configure-'));
    const configPath = join(dir, 'etc', 'agent.yaml');
    const stateDir = join(dir, 'state');
    applyConfigure({ site: 'merkez', collector: 'http://127.0.0.1:8080', token: 'tok-1', stateDir }, { configPath, stateDir });
    expect(loadAgentConfig(configPath, {})).toMatchObject({ site: 'merkez', stateDir, enrollment: { url: 'http://127.0.0.1:8080' }, mqtt: { url: 'mqtt://127.0.0.1:1883' } });
    expect(readFileSync(join(stateDir, 'enrollment-token'), 'utf8')).toBe('tok-1\n');
    expect(statSync(join(stateDir, 'enrollment-token')).mode & 0o777).toBe(0o600);
    expect(statSync(configPath).mode & 0o777).toBe(0o640);
    // A second run (an upgrade with new answers) keeps what the administrator added by hand.
    writeFileSync(configPath, `${readFileSync(configPath, 'utf8')}intervalS: 20\n`);
    applyConfigure({ site: 'zabita', collector: 'http://127.0.0.1:8080' }, { configPath, stateDir });
    expect(parse(readFileSync(configPath, 'utf8'))).toMatchObject({ site: 'zabita', intervalS: 20 });
  });
});

describe('the one-use enrollment token file', () => {
  it('is removed, unused, when the machine is already enrolled (a reinstall that repeated ENROLL_TOKEN)', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'enrolled-'));
    const saved = { username: 'merkez/pc-1', password: 'p', clientId: 'merkez/pc-1', issuedAt: Date.now() };
    saveCredentials(stateDir, saved);
    writeFileSync(join(stateDir, 'enrollment-token'), 'leftover\n');
    // No collector listens on the URL: a call to it would fail the test.
    const config = loadAgentConfig(undefined, { AGENT_SITE: 'merkez', AGENT_DEVICE: 'pc-1', AGENT_STATE_DIR: stateDir, AGENT_MQTT__URL: 'mqtt://127.0.0.1:1', AGENT_ENROLLMENT__URL: 'http://127.0.0.1:1' });
    expect(await ensureCredentials(config, createLogger({ name: 'test', level: 'error' }))).toEqual(saved);
    expect(existsSync(join(stateDir, 'enrollment-token'))).toBe(false);
  });
});

describe('Windows service set-up (what wixl cannot put in the MSI)', () => {
  it('restarts after 10, 30 and 60 s and gives the state directory to Administrators, SYSTEM and the service only', () => {
    expect(failureActionArgs()).toEqual(['failure', 'belediye-agent', 'reset=', '86400', 'actions=', 'restart/10000/restart/30000/restart/60000']);
    const acl = stateDirAclArgs('C:\\ProgramData\\belediye-agent');
    expect(acl).toContain('/inheritance:r');
    expect(acl.filter((a) => a.includes(':(OI)(CI)'))).toEqual(['*S-1-5-32-544:(OI)(CI)F', '*S-1-5-18:(OI)(CI)F', 'NT SERVICE\\belediye-agent:(OI)(CI)M']);
  });
});
