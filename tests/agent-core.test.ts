import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { rotationDue } from '../agent/enroll.ts';
import { createCollector } from '../agent/collect.ts';
import { agentConfigSchema, defaultKind, defaultStateDir, loadAgentConfig } from '../agent/config.ts';
import { urlForLog } from '../agent/publish.ts';
import { createMemoryQueue } from '../agent/queue/message-queue.ts';
import { openQueue } from '../agent/queue/open-queue.ts';
import { openSqliteQueue } from '../agent/queue/sqlite-queue.ts';
import type { Source } from '../agent/sources/types.ts';
import { loadState, parseState, rebootEvent, saveState } from '../agent/state.ts';
import { validateConfig } from '../src/config/load.ts';
import { eventMessageSchema, type Metric } from '../src/contract/schemas.ts';
import type { LogFields } from '../src/log.ts';
import { describeQueueContract } from './helpers/queue-contract.ts';
import { tempDir } from './helpers/servers.ts';

describe('agent configuration', () => {
  it('names every bad field', () => {
    expect(() => validateConfig(agentConfigSchema, { site: 'Merkez Bina', mqtt: { url: 'http://x' }, intervalS: 0, kind: 'laptop' }, 'agent.yaml')).toThrow(
      /site: expected lower-case[\s\S]*kind: [\s\S]*intervalS: [\s\S]*mqtt\.url: expected mqtt:\/\//,
    );
    expect(() => validateConfig(agentConfigSchema, { site: 'merkez' }, 'agent.yaml')).toThrow(/mqtt: /);
    expect(() => validateConfig(agentConfigSchema, { site: 'merkez', mqtt: { url: 'mqtt://a:1883', pasword: 'x' } }, 'agent.yaml')).toThrow(/mqtt: Unrecognized key: "pasword"/);
  });

  it('fills defaults: KVKK-safe, 10 s, server or PC from the OS', () => {
    const config = validateConfig(agentConfigSchema, { site: 'merkez', mqtt: { url: 'mqtt://collector:1883' } }, 'agent.yaml');
    expect(config).toMatchObject({ intervalS: 10, hardwareIntervalS: 300, inventoryIntervalS: 3600, collectUserName: false, mqtt: { rejectUnauthorized: true, keepaliveS: 30, connectTimeoutS: 15 } });
    expect(config.device).toMatch(/^[a-z0-9][a-z0-9._-]*$/);
    expect(defaultKind('linux', '#1 SMP Debian 6.1.106-3')).toBe('server');
    expect(defaultKind('win32', 'Windows Server 2019 Standard')).toBe('server');
    expect(defaultKind('win32', 'Windows 11 Pro')).toBe('pc');
    expect(defaultKind('darwin', 'Darwin Kernel Version 23.1.0')).toBe('pc');
    expect(defaultStateDir('win32', { ProgramData: 'D:\\ProgramData' })).toMatch(/^D:\\ProgramData[\\/]belediye-agent$/);
    expect(defaultStateDir('linux', {})).toBe('/var/lib/belediye-agent');
  });

  it('takes AGENT_* environment overrides, and reports unreadable TLS files by field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agent-config-'));
    const file = join(dir, 'agent.yaml');
    writeFileSync(file, 'site: merkez\nmqtt:\n  url: mqtt://a:1883\n');
    const config = loadAgentConfig(file, { AGENT_DEVICE: 'bi-pc014', AGENT_MQTT__PASSWORD: 'gizli', AGENT_INTERVAL_S: '30' });
    expect(config).toMatchObject({ device: 'bi-pc014', intervalS: 30, mqtt: { password: 'gizli' } });
    expect(() => loadAgentConfig(file, { AGENT_MQTT__CA_FILE: join(dir, 'yok.crt') })).toThrow(/mqtt\.caFile: cannot read .*yok\.crt: ENOENT/);
    expect(() => loadAgentConfig(file, { AGENT_MQTT__CERT_FILE: file })).toThrow(/mqtt\.keyFile: required when mqtt\.certFile is set/);
  });

  it('never puts broker credentials in a log line', () => {
    expect(urlForLog('mqtts://merkez.pc01:gizli@izleme.belediye.local:8883')).toBe('mqtts://izleme.belediye.local:8883');
    expect(urlForLog('mqtt://127.0.0.1:1883')).toBe('mqtt://127.0.0.1:1883');
  });
});

describe('state file and reboot detection', () => {
  it('a reboot event when the boot time moved by more than a minute since the last run', () => {
    const event = rebootEvent(1_733_000_000_000, 1_733_212_800_000, 1_733_212_860_000);
    expect(event).toMatchObject({ type: 'reboot', severity: 'warning', data: { boot_time_ms: 1_733_212_800_000, previous_boot_time_ms: 1_733_000_000_000 } });
    expect(eventMessageSchema.safeParse(event).success).toBe(true);
    expect(rebootEvent(undefined, 1_733_212_800_000, 1_733_212_860_000)).toBeUndefined();
    expect(rebootEvent(1_733_212_790_000, 1_733_212_800_000, 1_733_212_860_000)).toBeUndefined();
  });

  it('survives a restart, and a damaged file is an empty state', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'agent-state-')), 'nested');
    saveState(dir, { bootTimeMs: 1_733_212_800_000, inventoryHash: 'ab'.repeat(32) });
    expect(loadState(dir)).toEqual({ bootTimeMs: 1_733_212_800_000, inventoryHash: 'ab'.repeat(32) });
    expect(parseState('{"bootTimeMs":"dün"}')).toEqual({});
    expect(parseState('not json')).toEqual({});
    expect(parseState('[1,2]')).toEqual({});
    expect(loadState(join(dir, 'yok'))).toEqual({});
  });
});

describeQueueContract('in memory', { durable: false }, (maxMessages) => ({ queue: createMemoryQueue(maxMessages) }));
describeQueueContract('SQLite file', { durable: true }, (maxMessages) => {
  const path = join(tempDir('agent-queue'), 'queue.sqlite');
  const queue = openSqliteQueue(path, maxMessages);
  return {
    queue,
    reopen: () => {
      queue.close();
      return openSqliteQueue(path, maxMessages);
    },
  };
});

describe('offline queue file', () => {
  const msg = { topic: 'muni/v1/merkez/pc01/metrics', payload: '{}', retain: false, priority: 'sample' } as const;
  const opened = (stateDir: string) => {
    const logged: { level: string; msg: string; fields: LogFields }[] = [];
    const queue = openQueue(stateDir, 10, { log: (level, message, fields) => logged.push({ level, msg: message, fields: fields ?? {} }) });
    return { queue, logged };
  };

  it('is <stateDir>/queue.sqlite, owner-only, in an owner-only directory', () => {
    const stateDir = join(tempDir('agent-queue'), 'state');
    const { queue, logged } = opened(stateDir);
    queue.push(msg);
    queue.close();
    expect(logged).toEqual([]);
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(stateDir, 'queue.sqlite')).mode & 0o777).toBe(0o600);
    expect(opened(stateDir).queue.peek(10, 0)).toMatchObject([msg]);
  });

  it('falls back to memory with one clear error when the file is damaged, foreign or cannot be created', () => {
    const garbage = tempDir('agent-queue');
    writeFileSync(join(garbage, 'queue.sqlite'), 'this is not a database'.repeat(100));
    const foreign = tempDir('agent-queue');
    const other = new DatabaseSync(join(foreign, 'queue.sqlite'));
    other.exec('CREATE TABLE schema_version (version INTEGER); INSERT INTO schema_version VALUES (1); CREATE TABLE messages (x TEXT)');
    other.close();
    const truncated = tempDir('agent-queue');
    const full = openSqliteQueue(join(truncated, 'queue.sqlite'), 100_000);
    for (let i = 0; i < 2000; i++) full.push({ ...msg, payload: `{"i":${i},"pad":"${'x'.repeat(200)}"}` });
    full.close();
    const bytes = readFileSync(join(truncated, 'queue.sqlite'));
    writeFileSync(join(truncated, 'queue.sqlite'), bytes.subarray(0, bytes.length / 2));
    const notADir = join(tempDir('agent-queue'), 'state');
    writeFileSync(notADir, '');

    for (const stateDir of [garbage, foreign, truncated, notADir]) {
      const { queue, logged } = opened(stateDir);
      expect(logged, stateDir).toMatchObject([{ level: 'error', msg: expect.stringMatching(/offline queue file.*will not survive a restart/), fields: { path: join(stateDir, 'queue.sqlite') } }]);
      queue.push(msg);
      expect(queue.peek(10, 0)).toMatchObject([msg]);
    }
  });
});

describe('collection of sources', () => {
  const source = (name: string, collect: Source['collect']): Source => ({ name, cadence: 'fast', collect });

  it('a failing, a hanging and a misbehaving source do not stop the others; each distinct error is logged once', async () => {
    const logged: LogFields[] = [];
    const collector = createCollector({ log: (_level, _msg, fields) => logged.push(fields ?? {}) });
    const sources = [
      source('cpu', async () => [{ name: 'cpu', fields: { cores: 4 } }]),
      source('temp', async () => Promise.reject(new Error('no sensors'))),
      source('fan', () => new Promise(() => undefined)),
      source('odd', async (): Promise<Metric[]> => [{ name: 'temp', tags: { sensor: 'x'.repeat(200) }, fields: { celsius: 40 } }, { name: 'mem', fields: { used_pct: Number.NaN } }]),
    ];
    for (let i = 0; i < 3; i++) expect(await collector.collect(sources, 50)).toEqual([{ name: 'cpu', fields: { cores: 4 } }]);
    expect(Object.fromEntries(collector.failures())).toEqual({ temp: 3, fan: 3, odd: 6 });
    expect(logged.map((f) => f.source)).toEqual(['temp', 'fan', 'odd', 'odd']);
    expect(logged[1]!.error).toMatch(/source fan timed out after 50 ms/);
  });
});

describe('credential rotation schedule', () => {
  it('is due once the credentials are older than the rotation period', () => {
    const issued = { username: 'merkez/pc', password: 'x', clientId: 'merkez/pc', issuedAt: 1_000_000 };
    expect(rotationDue(issued, 90, 1_000_000 + 89 * 86_400_000)).toBe(false);
    expect(rotationDue(issued, 90, 1_000_000 + 90 * 86_400_000)).toBe(true);
  });
});
