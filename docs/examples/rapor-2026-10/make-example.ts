// Regenerates this example: node docs/examples/rapor-2026-10/make-example.ts
// A made-up October 2026 for two sites (five outages), two heartbeat backup jobs and one agent
// backup check, written into real stores in a temp dir, then reported by the real CLI
// (collector/report.ts --config …) into this directory. Made-up data only.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { HeartbeatStore } from '../../../collector/backups/heartbeat-store.ts';
import { runReport } from '../../../collector/report.ts';
import { ReportStore } from '../../../collector/reports/report-store.ts';
import { OutageLog } from '../../../collector/uptime/outage-log.ts';

const ist = (local: string) => Date.parse(`${local}:00+03:00`);
const out = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'rapor-ornek-'));

const outages = OutageLog.open(join(dir, 'uptime.sqlite'));
const targets = [
  ['merkez', 'hat-turktelekom', 'link'],
  ['merkez', 'hat-superonline', 'link'],
  ['merkez', 'e-belediye', 'service'],
  ['itfaiye', 'hat-fiber', 'link'],
  ['itfaiye', 'nvr-kgys', 'service'],
] as const;
for (const [site, device, kind] of targets) outages.record({ site, device, kind, online: true, reason: 'birth', at: ist('2026-09-01T00:00') });
const down: [string, string, string, string, string][] = [
  ['merkez', 'hat-turktelekom', '2026-10-03T02:10', '2026-10-03T02:55', 'unreachable: timeout'],
  ['merkez', 'e-belediye', '2026-10-14T11:20', '2026-10-14T11:32', 'unreachable: error'],
  ['itfaiye', 'hat-fiber', '2026-10-21T23:40', '2026-10-22T00:25', 'unreachable: timeout'],
  ['itfaiye', 'nvr-kgys', '2026-10-21T23:41', '2026-10-22T00:26', 'unreachable: timeout'],
  ['merkez', 'hat-superonline', '2026-10-27T09:00', '2026-10-27T09:05', 'unreachable: timeout'],
];
for (const [site, device, from, to, reason] of down) {
  const kind = targets.find((t) => t[1] === device)![2];
  outages.record({ site, device, kind, online: false, reason, at: ist(from) });
  outages.record({ site, device, kind, online: true, reason: 'birth', at: ist(to) });
}
outages.close();

writeFileSync(
  join(dir, 'backups.yaml'),
  stringify({
    jobs: [
      { id: 'ebys-sql', site: 'merkez', description: 'EBYS veritabanı, günlük tam yedek', schedule: { cron: '0 2 * * *', timezone: 'Europe/Istanbul' }, grace: '2h', drillEvery: '90d' },
      { id: 'nas-haftalik', site: 'itfaiye', description: 'NAS haftalık kopya', schedule: { every: '7d' }, grace: '1d' },
    ],
  }),
);
const heartbeats = HeartbeatStore.open(join(dir, 'backups.sqlite'));
heartbeats.knownSince('ebys-sql', ist('2026-09-01T00:00'));
heartbeats.knownSince('nas-haftalik', ist('2026-09-01T00:00'));
for (let day = 1; day <= 31; day++) {
  if (day === 18) continue; // the server was being moved: no backup that night
  const date = `2026-10-${String(day).padStart(2, '0')}`;
  heartbeats.finish('ebys-sql', day === 9 ? 'failure' : 'success', ist(`${date}T02:3${day % 10}`), day === 9 ? { message: 'yedek diski dolu' } : { sizeBytes: 812_000_000 + day * 1_000_000, durationS: 1_240 }, '10.1.0.12');
}
heartbeats.addDrill('ebys-sql', { at: ist('2026-10-16T14:00'), result: 'passed', notes: 'test sunucusuna geri yüklendi, EBYS açıldı', actor: 'api:ahmet' });
for (const at of ['2026-09-28T04:00', '2026-10-05T04:00', '2026-10-12T04:05', '2026-10-19T04:02', '2026-10-26T04:01']) heartbeats.finish('nas-haftalik', 'success', ist(at), {}, '10.2.0.7');
heartbeats.close();

// The agent on the backup server checks the newest SQL dump every 15 minutes; on the 24th and
// 25th the dump was late (out of date for 10 hours), on the 28th one was half the usual size.
const reports = ReportStore.open(join(dir, 'reports.sqlite'));
const check = (time: number, status: string, detail?: string) => ({
  measurement: 'backup_file',
  tags: { site: 'merkez', device: 'srv-yedek', kind: 'server', instance: 'sql-dump' },
  fields: { ok: status === 'ok' ? 1 : 0, status, ...(detail ? { detail } : {}) },
  time,
});
for (let t = ist('2026-10-01T00:00'); t < ist('2026-11-01T00:00'); t += 15 * 60_000) {
  const late = t >= ist('2026-10-24T20:00') && t < ist('2026-10-25T06:00');
  const small = t >= ist('2026-10-28T03:00') && t < ist('2026-10-28T09:00');
  reports.observe([late ? check(t, 'missed', 'newest backup sql-20261023.bak is 27 h old (allowed: 26 h)') : small ? check(t, 'too_small', 'sql-20261028.bak is 402653184 bytes, 48 % of the usual size (median of the previous 7)') : check(t, 'ok')]);
}
reports.close();

writeFileSync(
  join(dir, 'collector.yaml'),
  stringify({
    registry: { path: join(dir, 'registry.sqlite') },
    alerts: { path: join(dir, 'alerts.sqlite') },
    backups: { file: join(dir, 'backups.yaml'), path: join(dir, 'backups.sqlite') },
    reports: { path: join(dir, 'reports.sqlite'), institution: 'Örnekköy Belediyesi' },
    uptime: { path: join(dir, 'uptime.sqlite') },
  }),
);
process.exitCode = runReport(['--config', join(dir, 'collector.yaml'), '--month', '2026-10', '--outages', join(dir, 'uptime.sqlite'), '--lang', 'tr', '--out', out]);
