import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCollector } from '../agent/collect.ts';
import { agentConfigSchema, defaultKind, defaultStateDir, loadAgentConfig } from '../agent/config.ts';
import { urlForLog } from '../agent/publish.ts';
import { createMemoryQueue } from '../agent/queue/message-queue.ts';
import type { Source } from '../agent/sources/types.ts';
import { loadState, parseState, rebootEvent, saveState } from '../agent/state.ts';
import { validateConfig } from '../src/config/load.ts';
import { eventMessageSchema, type Metric } from '../src/contract/schemas.ts';
import type { LogFields } from '../src/log.ts';

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

describe('offline queue', () => {
  it('drops the oldest samples first, events last, and counts both', () => {
    const q = createMemoryQueue(3);
    const msg = (n: string, priority: 'sample' | 'event') => ({ topic: n, payload: n, retain: false, priority });
    q.push(msg('e1', 'event'));
    q.push(msg('s1', 'sample'));
    q.push(msg('s2', 'sample'));
    q.push(msg('s3', 'sample'));
    q.push(msg('e2', 'event'));
    expect(q.size).toBe(3);
    expect([q.shift()?.topic, q.shift()?.topic, q.shift()?.topic]).toEqual(['e1', 's3', 'e2']);
    expect(q.takeDropped()).toEqual({ samples: 2, events: 0 });
    expect(q.takeDropped()).toEqual({ samples: 0, events: 0 });
    const events = createMemoryQueue(1);
    events.push(msg('e1', 'event'));
    events.push(msg('e2', 'event'));
    expect(events.takeDropped()).toEqual({ samples: 0, events: 1 });
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
