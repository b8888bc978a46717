import { describe, expect, it } from 'vitest';
import { collectorConfigSchema } from '../collector/config.ts';
import { defaultArchiveName } from '../collector/state-backup/create.ts';
import { fileMember, memberProblems, parseReportCopyMember, reportCopyMember, type Manifest } from '../collector/state-backup/manifest.ts';
import { fileAt, planBackup, schemaOf, storeAt } from '../collector/state-backup/members.ts';
import { REPORT_STORE_SCHEMA } from '../collector/reports/report-store.ts';
import { archivesToDelete, nextRunAt, RETRY_MS } from '../collector/state-backup/self-backup.ts';
import { BLOCK, decodeHeader, encodeHeader, TarFormatError } from '../collector/state-backup/ustar.ts';

// The pure parts of state backups: tar headers, member names, the manifest check, what the
// configuration puts in a backup, and when the collector's own backup runs and what it deletes.

describe('ustar headers', () => {
  it('round-trips a regular file, also a name longer than 100 bytes (prefix/name)', () => {
    const long = `files/devices.profilesDirs.0/${'a'.repeat(90)}.yaml`;
    for (const name of ['manifest.json', long]) {
      const block = encodeHeader({ name, size: 123_456, mtime: 1_768_464_000 });
      expect(block).toHaveLength(BLOCK);
      expect(decodeHeader(block)).toEqual({ name, size: 123_456, mtime: 1_768_464_000 });
    }
  });

  it('refuses a damaged header, a symbolic link, and a member over 8 GiB', () => {
    const block = encodeHeader({ name: 'stores/security.sqlite', size: 10, mtime: 0 });
    block[0] = 0x58;
    expect(() => decodeHeader(block)).toThrow('tar header checksum does not match');
    const link = encodeHeader({ name: 'etc-passwd', size: 0, mtime: 0 });
    link.write('2', 156, 'ascii');
    let sum = 0;
    link.write('        ', 148, 'ascii');
    for (const b of link) sum += b;
    link.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
    expect(() => decodeHeader(link)).toThrow('etc-passwd: only regular files belong in a state backup (tar type "2")');
    expect(() => encodeHeader({ name: 'big', size: 8 * 1024 ** 3, mtime: 0 })).toThrow(TarFormatError);
  });
});

describe('manifest', () => {
  const entry = { name: 'security', key: 'security.path', path: '/var/lib/x/security.sqlite', member: 'stores/security.sqlite', schemaVersion: 1, rows: {}, bytes: 3, sha256: 'a'.repeat(64) };
  const manifest = { stores: [entry], files: [] } as unknown as Manifest;

  it('names members by configuration key, with characters a member name may not hold replaced', () => {
    expect(fileMember('devices.profilesDirs[1]', '/etc/belediye-izleme/profiller/ups özel.yaml')).toBe('files/devices.profilesDirs.1/ups__zel.yaml');
    expect(fileMember('config', '/etc/belediye-izleme/collector.yaml')).toBe('files/config/collector.yaml');
  });

  it('names a monthly report copy by month and file, and reads back only that shape', () => {
    expect(reportCopyMember('2026-10', 'rapor-2026-10.html')).toBe('files/reports.monthly.dir/2026-10/rapor-2026-10.html');
    expect(parseReportCopyMember('files/reports.monthly.dir/2026-10/mail.json')).toEqual({ month: '2026-10', name: 'mail.json' });
    for (const odd of ['files/reports.monthly.dir/mail.json', 'files/reports.monthly.dir/2026-10/alt/mail.json', 'files/reports.monthly.dir/2026-1/mail.json', 'files/reports.monthly.dir/2026-10/..', 'files/reports.monthly.dir/2026-10/.gizli', 'files/config/2026-10/mail.json', 'stores/reports.sqlite']) {
      expect(parseReportCopyMember(odd), odd).toBeUndefined();
    }
  });

  it('reports a missing member, a size or hash mismatch, and a member the manifest does not list', () => {
    expect(memberProblems(manifest, [{ name: 'manifest.json', file: '', size: 1, sha256: '' }])).toEqual(['stores/security.sqlite is listed in the manifest but missing from the archive']);
    expect(memberProblems(manifest, [{ name: 'stores/security.sqlite', file: '', size: 4, sha256: 'a'.repeat(64) }])).toEqual(['stores/security.sqlite has 4 bytes, the manifest says 3']);
    expect(memberProblems(manifest, [{ name: 'stores/security.sqlite', file: '', size: 3, sha256: 'b'.repeat(64) }])[0]).toMatch(/SHA-256 b{64} does not match the manifest's a{64}/);
    expect(memberProblems(manifest, [{ name: 'stores/security.sqlite', file: '', size: 3, sha256: 'a'.repeat(64) }, { name: 'extra.sh', file: '', size: 1, sha256: '' }])).toEqual(['extra.sh is in the archive but not in the manifest']);
  });
});

describe('what a backup holds', () => {
  it('every store path and every file the configuration names; stores in memory are left out', () => {
    const config = collectorConfigSchema.parse({
      queue: { path: ':memory:' },
      devices: { file: '/etc/b/devices.yaml', secretsFile: '/etc/b/device-secrets.yaml', profilesDirs: ['/etc/b/profiles'] },
      alerts: { rulesFile: '/etc/b/rules.yaml', notifyFile: '/etc/b/notify.yaml' },
      broker: { mode: 'embedded', tls: { keyFile: '/etc/b/collector.key', certFile: '/etc/b/collector.pem', caFile: '/etc/b/ca.pem' } },
    });
    const plan = planBackup(config, '/etc/b/collector.yaml');
    expect(plan.stores.map((s) => s.key)).toEqual(['security.path', 'registry.path', 'alerts.path', 'alerts.outboxPath', 'uptime.path', 'backups.path', 'reports.path']);
    expect(plan.stores.find((s) => s.key === 'reports.path')).toEqual({ name: 'reports', key: 'reports.path', path: './data/reports.sqlite', schema: REPORT_STORE_SCHEMA });
    expect(plan.inMemory).toEqual(['queue.path']);
    // No reports.monthly: no copies to keep.
    expect(plan.reportCopies).toBeUndefined();
    expect(plan.files.map((f) => f.key)).toEqual(['config', 'alerts.rulesFile', 'alerts.notifyFile', 'devices.file', 'devices.secretsFile', 'broker.tls.keyFile', 'broker.tls.certFile', 'broker.tls.caFile']);
    expect(plan.dirs).toEqual([{ key: 'devices.profilesDirs[0]', path: '/etc/b/profiles' }]);
  });

  it('the report store and the monthly report copies (newest `keep` months), also with the monthly report turned off; a restore finds both by key', () => {
    const config = collectorConfigSchema.parse({ reports: { path: '/var/lib/b/reports.sqlite', monthly: { enabled: false, channel: 'eposta', recipients: ['ahmet'], dir: '/var/lib/b/raporlar', keep: 12 } } });
    expect(planBackup(config, undefined).reportCopies).toEqual({ key: 'reports.monthly.dir', path: '/var/lib/b/raporlar', keep: 12 });
    expect(storeAt(config, 'reports.path')).toBe('/var/lib/b/reports.sqlite');
    expect(fileAt(config, 'reports.monthly.dir')).toBe('/var/lib/b/raporlar');
    expect(schemaOf('reports')).toBe(REPORT_STORE_SCHEMA);
    const inMemory = planBackup(collectorConfigSchema.parse({ reports: { path: ':memory:' } }), undefined);
    expect(inMemory.inMemory).toContain('reports.path');
    expect(inMemory.stores.map((s) => s.key)).not.toContain('reports.path');
  });

  it('selfBackup needs a directory and a site; the schedule defaults to 02:30 Istanbul time, keep to 7', () => {
    expect(collectorConfigSchema.safeParse({ selfBackup: { dir: '/var/backups/izleme' } }).error?.issues[0]?.path).toEqual(['selfBackup', 'site']);
    const parsed = collectorConfigSchema.parse({ selfBackup: { dir: '/var/backups/izleme', site: 'merkez' } }).selfBackup!;
    expect(parsed).toMatchObject({ job: 'izleme-self-backup', keep: 7, grace: 7_200_000, schedule: { text: '30 2 * * *', timezone: 'Europe/Istanbul' } });
    expect(collectorConfigSchema.safeParse({ selfBackup: { dir: '/x', site: 'merkez', keep: 0 } }).success).toBe(false);
    expect(collectorConfigSchema.safeParse({ selfBackup: { dir: '/x', site: 'merkez', schedule: { every: '10s' } } }).success).toBe(false);
  });
});

describe('the collector\'s own backup', () => {
  const now = Date.UTC(2026, 0, 15, 12);
  it('runs at once on a new install and when its time has come, otherwise at the scheduled time; after a failure, not before RETRY_MS', () => {
    expect(nextRunAt({ lastSuccessAt: null, nextExpectedAt: null }, undefined, now)).toBe(now);
    expect(nextRunAt({ lastSuccessAt: now - 1_000, nextExpectedAt: now + 3_600_000 }, undefined, now)).toBe(now + 3_600_000);
    expect(nextRunAt({ lastSuccessAt: now - 90_000_000, nextExpectedAt: now - 3_600_000 }, undefined, now)).toBe(now);
    expect(nextRunAt({ lastSuccessAt: null, nextExpectedAt: null }, now - 60_000, now)).toBe(now - 60_000 + RETRY_MS);
    expect(nextRunAt({ lastSuccessAt: null, nextExpectedAt: null }, now - RETRY_MS, now)).toBe(now);
  });

  it('keeps the newest `keep` archives and touches no other file', () => {
    const names = ['belediye-izleme-state-20260101T023000Z.tar.gz', 'notes.txt', 'belediye-izleme-state-20260103T023000Z.tar.gz', 'belediye-izleme-state-20260102T023000Z.tar.gz', 'belediye-izleme-state-x.tar.gz'];
    expect(archivesToDelete(names, 2)).toEqual(['belediye-izleme-state-20260101T023000Z.tar.gz']);
    expect(archivesToDelete(names, 5)).toEqual([]);
    expect(defaultArchiveName(new Date(now))).toBe('belediye-izleme-state-20260115T120000Z.tar.gz');
  });
});
