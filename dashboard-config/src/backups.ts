import { DashboardBuilder, MappingType, type ValueMapping } from '@grafana/grafana-foundation-sdk/dashboard';
import { t, type Lang, type TextKey } from './i18n.ts';
import { deviceFilter, deviceVariables } from './influxql.ts';
import { binaryStates, graph, grid, single, timeline, type State } from './panels.ts';

// Backup verification from both sources (docs/backups.md): jobs reporting through push
// heartbeats (measurement `backup`, written by the collector: device = the job id, fields from
// collector/backups/evaluate.ts) and backup files checked by agents (measurement `backup_file`:
// device = the agent's host, instance = the job id, fields from agent/sources/backup.ts).
// `$job` lists the heartbeat jobs; it matches an agent job by its instance, so a job checked
// both ways (the same id) is picked once.

const JOBS = deviceFilter('job');
const FILES = `"site" =~ /^$site$/ AND "instance" =~ /^$job$/ AND $timeFilter`;
/** Both measurements in one query: a heartbeat job by its device tag, an agent's file by its instance. */
const EITHER = `"site" =~ /^$site$/ AND ("device" =~ /^$job$/ OR "instance" =~ /^$job$/) AND $timeFilter`;
const JOB_TAGS = `"site", "device", "owner"`;
const FILE_TAGS = `"site", "device", "instance"`;
const perSeries = `GROUP BY time($__interval), "site", "device", "instance" fill(null)`;

// One selector (last status) with plain fields beside it: every column comes from the same,
// latest point (a field a later point lacks stays empty instead of showing an older value).
const latestJobs = (fields: string) => `SELECT last("status") AS "status", ${fields} FROM "backup" WHERE ${JOBS} GROUP BY ${JOB_TAGS}`;
const latestFiles = (fields: string) => `SELECT last("status") AS "status", ${fields} FROM "backup_file" WHERE ${FILES} GROUP BY ${FILE_TAGS}`;
// A job taken out of backups.yaml gets a last point with status removed and no ok: not listed.
const CURRENT = `"status" <> 'removed'`;

/** Every state of either source (collector/backups/evaluate.ts BackupState, agent/backup/evaluate.ts BACKUP_STATUSES): red, amber, green. */
const STATES: [string, TextKey, string][] = [
  ['ok', 'stateOk', 'green'],
  ['running', 'stateRunning', 'green'],
  ['late', 'stateLate', 'orange'],
  ['too_small', 'stateTooSmall', 'orange'],
  ['missed', 'stateMissed', 'red'],
  ['failed', 'stateFailed', 'red'],
  ['no_file', 'stateNoFile', 'red'],
  ['checksum_bad', 'stateChecksumBad', 'red'],
  ['unreadable', 'stateUnreadable', 'red'],
];

function stateTexts(tr: (k: TextKey) => string): ValueMapping[] {
  return [{ type: MappingType.ValueToText, options: Object.fromEntries(STATES.map(([value, key, color], index) => [value, { text: tr(key), color, index }])) }];
}

/** A count that is green at 0 and red from 1. */
const NONE_GREEN = [
  { value: null, color: 'green' },
  { value: 1, color: 'red' },
];

export function backups(lang: Lang): DashboardBuilder {
  const tr = (k: TextKey) => t(lang, k);
  const state = { mappings: stateTexts(tr) };
  const flag = (one: State) => ({ mappings: binaryStates({ text: tr('no'), color: 'green' }, one) });
  const check = { mappings: binaryStates({ text: tr('faulty'), color: 'red' }, { text: tr('healthy'), color: 'green' }) };
  const builder = new DashboardBuilder(tr('backupsTitle')).uid('backups').tags(['belediye-izleme', 'backups']).refresh('1m').time({ from: 'now-7d', to: 'now' }).timezone('browser');
  for (const variable of deviceVariables('backup', { label: tr('site') }, { name: 'job', label: tr('backupJob') })) builder.withVariable(variable);
  return (
    builder
      // ok is 1 for ok and running (and not too small); a removed job's last point has no ok, so it is not counted.
      .withPanel(single({ title: tr('backupJobsNotOk'), description: tr('backupJobsNotOkDesc'), width: 12, thresholds: NONE_GREEN, query: `SELECT count("ok") - sum("ok") AS "not_ok" FROM (${latestJobs('"ok"')})` }))
      .withPanel(single({ title: tr('backupFilesNotOk'), description: tr('backupFilesNotOkDesc'), width: 12, thresholds: NONE_GREEN, query: `SELECT count("ok") - sum("ok") AS "not_ok" FROM (${latestFiles('"ok"')})` }))
      .withPanel(
        grid({
          title: tr('backupJobs'),
          description: tr('backupJobsDesc'),
          width: 24,
          columnUnits: { age_s: 's', size_bytes: 'bytes', duration_s: 's' },
          colouredColumns: { status: state },
          query: `SELECT "status", "age_s", "size_bytes", "duration_s" FROM (${latestJobs('"age_s", "size_bytes", "duration_s"')}) WHERE ${CURRENT} GROUP BY ${JOB_TAGS}`,
        }),
      )
      .withPanel(
        grid({
          title: tr('backupFiles'),
          description: tr('backupFilesDesc'),
          width: 24,
          columnUnits: { age_s: 's', size_bytes: 'bytes' },
          colouredColumns: { status: state, checksum_ok: check, archive_ok: check },
          query: `SELECT "status", "age_s", "size_bytes", "size_ratio", "checksum_ok", "archive_ok", "newest_name", "detail" FROM (${latestFiles('"age_s", "size_bytes", "size_ratio", "checksum_ok", "archive_ok", "newest_name", "detail"')}) GROUP BY ${FILE_TAGS}`,
        }),
      )
      // min: one evaluation not OK inside a bucket is enough to paint it red.
      .withPanel(timeline({ title: tr('backupHistory'), description: tr('backupHistoryDesc'), mappings: binaryStates({ text: tr('faulty'), color: 'red' }, { text: tr('healthy'), color: 'green' }), query: `SELECT min("ok") AS "ok" FROM "backup", "backup_file" WHERE ${EITHER} ${perSeries}` }))
      .withPanel(graph({ title: tr('backupSize'), description: tr('backupSizeDesc'), unit: 'bytes', query: `SELECT last("size_bytes") AS "size" FROM "backup", "backup_file" WHERE ${EITHER} ${perSeries}` }))
      .withPanel(graph({ title: tr('backupAge'), description: tr('backupAgeDesc'), unit: 's', query: `SELECT max("age_s") AS "age" FROM "backup", "backup_file" WHERE ${EITHER} ${perSeries}` }))
      .withPanel(
        grid({
          title: tr('drills'),
          description: tr('drillsDesc'),
          colouredColumns: { drill_overdue: flag({ text: tr('yes'), color: 'orange' }), drill_failed: flag({ text: tr('yes'), color: 'red' }) },
          query: `SELECT "drill_age_days", "drill_overdue", "drill_failed" FROM (${latestJobs('"drill_age_days", "drill_overdue", "drill_failed"')}) WHERE ${CURRENT} GROUP BY ${JOB_TAGS}`,
        }),
      )
      .withPanel(
        grid({
          title: tr('offsite'),
          description: tr('offsiteDesc'),
          columnUnits: { age_s: 's', size_bytes: 'bytes' },
          query: `SELECT "offsite_role", "offsite_pair", "age_s", "newest_name", "size_bytes", "newest_sha256" FROM (${latestFiles('"offsite_role", "offsite_pair", "age_s", "newest_name", "size_bytes", "newest_sha256"')}) WHERE "offsite_role" =~ /./ GROUP BY ${FILE_TAGS}`,
        }),
      )
  );
}
