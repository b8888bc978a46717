import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ReportStore } from '../collector/reports/report-store.ts';
import { monthKey } from '../collector/reports/schedule.ts';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';
import { connectClient, publish } from './helpers/mqtt-client.ts';
import { startProcess, tempDir, waitFor } from './helpers/servers.ts';
import { startSmtpServer, type SmtpTestServer } from './helpers/smtp-server.ts';
import { writeReportNotifyFile } from './helpers/report-notify.ts';

// The report service wired into the real collector process: an agent's backup_file metric over
// MQTT ends up in the report store; a month due at start (the store says the monthly report has
// been configured for long) is made and mailed at once through a real SMTP server; a recipient
// mistake stops the collector with the key named. InfluxDB is not needed: points wait in the spool.

describe('monthly report in the collector', () => {
  let smtp: SmtpTestServer;
  let collector: CollectorProcess | undefined;
  let dir: string;
  let notifyFile: string;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    dir = tempDir('reports-collector');
    notifyFile = join(dir, 'notify.yaml');
    writeReportNotifyFile(notifyFile, smtp.port);
  });
  afterAll(async () => {
    await collector?.stop();
    await smtp.stop();
  });

  const config = (recipients: string[]) => ({
    storage: { type: 'influx-v1', url: 'http://127.0.0.1:9', database: 'monitoring' },
    alerts: { notifyFile },
    reports: { path: join(dir, 'reports.sqlite'), institution: 'Iğdır Belediyesi', monthly: { channel: 'eposta', recipients, dir: join(dir, 'raporlar') } },
  });

  it('mails the month due at start and sums agent backup checks into the report store', async () => {
    // The monthly report has been on since 2020: last month is due now, and was never made.
    const seed = ReportStore.open(join(dir, 'reports.sqlite'));
    seed.remember('monthly.since', String(Date.parse('2020-01-01T00:00:00Z')));
    seed.close();
    collector = await startCollectorProcess(config(['ahmet']));
    await waitFor('the monthly report mail', async () => smtp.received.some((m) => m.envelope.to.includes('ahmet@igdir.bel.tr')));
    const mail = smtp.received.find((m) => m.envelope.to.includes('ahmet@igdir.bel.tr'))!;
    expect(mail.mail.subject).toMatch(/^Iğdır Belediyesi — (Ocak|Şubat|Mart|Nisan|Mayıs|Haziran|Temmuz|Ağustos|Eylül|Ekim|Kasım|Aralık) \d{4} Erişilebilirlik Raporu$/);
    expect(mail.mail.attachments.map((a) => a.filename)).toHaveLength(3);

    const client = await connectClient(collector.mqttUrl!);
    const ts = Date.now();
    await publish(client, 'muni/v1/merkez/srv-yedek/metrics', { v: 1, ts, metrics: [{ name: 'backup_file', tags: { instance: 'ebys-sql' }, fields: { ok: 0, status: 'too_small', files: 4, size_bytes: 1024, detail: 'ebys.bak küçük' } }] });
    client.end();
    const store = ReportStore.open(join(dir, 'reports.sqlite'));
    try {
      await waitFor('the check in the report store', async () => store.checkHours(ts - 3_600_000, ts + 3_600_000).length > 0);
      expect(store.checkHours(ts - 3_600_000, ts + 3_600_000)).toMatchObject([{ site: 'merkez', device: 'srv-yedek', job: 'ebys-sql', checks: 1, byStatus: { too_small: 1 }, lastDetail: 'ebys.bak küçük' }]);
      const [made] = store.reports();
      expect(store.deliveries(made!.month)).toMatchObject([{ address: 'ahmet@igdir.bel.tr', state: 'sent' }]);
      expect(made!.month).toMatch(/^\d{4}-\d{2}$/);
      expect(monthKey({ year: Number(made!.month.slice(0, 4)), month: Number(made!.month.slice(5)) })).toBe(made!.month);
    } finally {
      store.close();
    }

    // Restarted: the month is not made or mailed again.
    await collector.stop();
    collector = await startCollectorProcess(config(['ahmet']), collector);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(smtp.received.filter((m) => m.envelope.to.includes('ahmet@igdir.bel.tr'))).toHaveLength(1);
  });

  it('does not start with a recipient that is not a contact, and says which', async () => {
    const bad = join(tempDir('reports-bad'), 'collector.yaml');
    writeFileSync(bad, stringify({ ...config(['ahmet', 'ayse']), reports: { ...config([]).reports, path: join(dir, 'bad.sqlite'), monthly: { channel: 'eposta', recipients: ['ahmet', 'ayse'] } }, queue: { path: join(dir, 'bad-spool.sqlite') }, registry: { path: join(dir, 'bad-registry.sqlite') }, security: { path: join(dir, 'bad-security.sqlite') }, alerts: { notifyFile, path: join(dir, 'bad-alerts.sqlite'), outboxPath: join(dir, 'bad-outbox.sqlite') }, uptime: { path: join(dir, 'bad-uptime.sqlite') }, backups: { path: join(dir, 'bad-backups.sqlite') } }));
    const proc = startProcess(process.execPath, ['--disable-warning=ExperimentalWarning', 'collector/main.ts', '--config', bad]);
    await waitFor('the collector to exit', async () => proc.child.exitCode !== null);
    expect(proc.child.exitCode).toBe(2);
    const failed = proc.output().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { msg: string; error?: { message: string } }).find((l) => l.msg === 'collector failed to start');
    expect(failed?.error?.message).toMatch(/^invalid monthly report configuration:\n {2}reports\.monthly\.recipients\[1\]: no contact "ayse" in \S+notify\.yaml$/);
  });
});
