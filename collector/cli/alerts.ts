import { parseArgs } from 'node:util';
import { listQuery } from '../api/routes/alerts.ts';
import { AlertStore, type StoredAlert } from '../alerts/alert-store.ts';
import { runAdmin } from '../admin.ts';
import { CliError } from './cli-error.ts';
import { loadCliConfig } from './collector-config.ts';
import { existingStore } from './existing-store.ts';
import { ago, localTime, renderTable } from './table.ts';

// izleme alerts: the alerts now active (pending or firing) from the collector's alert store, as
// a table; the same filters as GET /api/v1/alerts. `izleme alerts ack <id>` is the admin
// command (audited), so there is one way to acknowledge.

export const ALERTS_USAGE = `usage: izleme alerts [list] [--config FILE] [--state active|pending|firing|resolved|cancelled] [--site SITE] [--limit N] [--json]
       izleme alerts ack <id> [--config FILE] [--comment TEXT]
  Lists alerts from the collector's alert store, newest first (default: the active ones, pending or firing).
  --config FILE   the running collector's configuration (default /etc/belediye-izleme/collector.yaml)
  --json          the stored alerts as JSON instead of a table`;

export function alertsTable(alerts: readonly StoredAlert[], now: number): string {
  if (alerts.length === 0) return 'no alerts\n';
  return renderTable(
    ['ID', 'SEVERITY', 'STATE', 'SITE', 'DEVICE', 'RULE', 'SINCE', 'NOTE'],
    alerts.map((a) => [
      a.id,
      a.severity,
      a.state,
      a.labels.site,
      a.labels.device,
      a.rule,
      `${localTime(a.since)} (${ago(a.since, now)})`,
      [a.ackBy ? `acknowledged by ${a.ackBy}` : '', a.suppressed ? `not notified: ${a.suppressed}` : ''].filter(Boolean).join('; '),
    ]),
  );
}

export function runAlerts(argv: string[]): number {
  if (argv[0] === 'ack') return runAdmin(['alerts', ...argv]);
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { config: { type: 'string', short: 'c' }, state: { type: 'string' }, site: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } } });
  if (positionals.length > (positionals[0] === 'list' ? 1 : 0)) throw new CliError(`unknown alerts command "${positionals.join(' ')}"\n${ALERTS_USAGE}`, 2);
  const query = listQuery.safeParse(Object.fromEntries(Object.entries({ state: values.state ?? 'active', site: values.site, limit: values.limit }).filter(([, v]) => v !== undefined)));
  if (!query.success) {
    const issue = query.error.issues[0]!;
    throw new CliError(`--${String(issue.path[0])}: ${issue.message}\n${ALERTS_USAGE}`, 2);
  }
  const { config, file } = loadCliConfig(values.config);
  if (!config.alerts.enabled) throw new CliError(`alerting is turned off (alerts.enabled: false in ${file}): there are no alerts`);
  const store = AlertStore.open(existingStore(config.alerts.path, 'alert store', 'alerts.path', file));
  try {
    const alerts = store.list(query.data);
    process.stdout.write(values.json ? `${JSON.stringify(alerts, null, 2)}\n` : alertsTable(alerts, Date.now()));
    return 0;
  } finally {
    store.close();
  }
}
