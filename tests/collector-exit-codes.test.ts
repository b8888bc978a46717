import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startProcess, tempDir, waitFor } from './helpers/servers.ts';

// The unit has RestartPreventExitStatus=2: whatever only the operator can fix must end the
// collector with 2, or systemd restarts it every few seconds into the same wall.

describe('collector exit codes', () => {
  it('a store written by a newer release (an upgrade rolled back) ends the start with exit 2, naming the file', async () => {
    const dir = tempDir('exit-codes');
    const registry = join(dir, 'registry.sqlite');
    const db = new DatabaseSync(registry);
    db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (99);');
    db.close();
    const config = join(dir, 'collector.yaml');
    writeFileSync(
      config,
      stringify({
        storage: { type: 'influx-v1', url: 'http://127.0.0.1:9', database: 'x' },
        broker: { host: '127.0.0.1', port: 0 },
        api: { host: '127.0.0.1', port: 0 },
        registry: { path: registry },
        queue: { path: join(dir, 'spool.sqlite') },
        alerts: { path: join(dir, 'alerts.sqlite'), outboxPath: join(dir, 'outbox.sqlite') },
        uptime: { path: join(dir, 'uptime.sqlite') },
        backups: { path: join(dir, 'backups.sqlite') },
        reports: { path: join(dir, 'reports.sqlite') },
        security: { path: join(dir, 'security.sqlite'), deviceAuth: 'open', apiAuth: 'open' },
      }),
    );
    const collector = startProcess(process.execPath, ['--disable-warning=ExperimentalWarning', 'collector/main.ts', '--config', config]);
    await waitFor('the collector to exit', async () => collector.child.exitCode !== null, 30_000);
    expect(collector.child.exitCode, collector.output()).toBe(2);
    expect(collector.output()).toContain(`${registry}: this`);
    expect(collector.output()).toContain('written by a newer collector');
  });
});
