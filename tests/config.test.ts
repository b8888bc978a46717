import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCollectorConfig } from '../collector/config.ts';
import { parse } from 'yaml';
import { agentConfigSchema } from '../agent/config.ts';
import { ConfigError, envOverrides, validateConfig } from '../src/config/load.ts';
import { tempDir } from './helpers/servers.ts';

describe('configuration loading', () => {
  it('maps environment variables onto nested camelCase keys with types', () => {
    expect(envOverrides({ COLLECTOR_STORAGE__URL: 'http://x:8086', COLLECTOR_API__PORT: '9090', COLLECTOR_QUEUE__MAX_POINTS: '10', COLLECTOR_STORAGE__CREATE_DATABASE: 'false', OTHER: '1' }, 'COLLECTOR_')).toEqual({
      storage: { url: 'http://x:8086', createDatabase: false },
      api: { port: 9090 },
      queue: { maxPoints: 10 },
    });
  });

  it('runs on embedded defaults with nothing configured, and with one section given partly', () => {
    const defaults = loadCollectorConfig(undefined, {});
    expect(defaults).toMatchObject({ broker: { mode: 'embedded', port: 1883 }, storage: { type: 'influx-v1', url: 'http://127.0.0.1:8086', database: 'monitoring' }, api: { port: 8080 } });
    const partial = loadCollectorConfig(undefined, { COLLECTOR_BROKER__PORT: '1884', COLLECTOR_STORAGE__URL: 'http://influx:8086' });
    expect(partial).toMatchObject({ broker: { mode: 'embedded', port: 1884 }, storage: { type: 'influx-v1', url: 'http://influx:8086' } });
  });

  it('accepts the shipped example configurations, secure by default', () => {
    // The agent checks that its TLS files exist; the example names the production paths.
    const agent = validateConfig(agentConfigSchema, parse(readFileSync('deploy/agent.example.yaml', 'utf8')), 'deploy/agent.example.yaml');
    expect(agent.enrollment).toMatchObject({ url: 'https://izleme.belediye.local:8080', rotateAfterDays: 90 });
    const collector = loadCollectorConfig('deploy/collector.example.yaml', {});
    expect(collector).toMatchObject({ security: { deviceAuth: 'credentials', apiAuth: 'tokens' }, broker: { tls: { clientCerts: 'none' } }, queue: { sync: 'normal' } });
    expect(loadCollectorConfig(undefined, {}).security).toMatchObject({ deviceAuth: 'credentials', apiAuth: 'tokens' });
  });

  it('lets the environment override the file', () => {
    const file = join(tempDir('cfg'), 'collector.yaml');
    writeFileSync(file, 'storage:\n  type: influx-v2\n  url: http://influx:8086\n  org: belediye\napi:\n  port: 8081\n');
    expect(loadCollectorConfig(file, { COLLECTOR_STORAGE__TOKEN: 'gizli' })).toMatchObject({ storage: { type: 'influx-v2', org: 'belediye', token: 'gizli' }, api: { port: 8081 } });
  });

  it('names the file, line or field of a mistake', () => {
    const dir = tempDir('cfg');
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'api:\n  port: 8080\n  host: [unclosed\n');
    expect(() => loadCollectorConfig(broken, {})).toThrow(new RegExp(`${broken}:\\d+`));
    const wrong = join(dir, 'wrong.yaml');
    writeFileSync(wrong, 'storage:\n  type: influx-v3\napi:\n  port: -1\nqueue:\n  maxPoint: 5\n');
    const error = (() => {
      try {
        loadCollectorConfig(wrong, {});
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error?.message).toMatch(/storage\.type/);
    expect(error?.message).toMatch(/api\.port/);
    expect(error?.message).toMatch(/queue: Unrecognized key: "maxPoint"/);
    expect(() => loadCollectorConfig(join(dir, 'missing.yaml'), {})).toThrow(/cannot read configuration file .*missing\.yaml: ENOENT/);
  });
});
