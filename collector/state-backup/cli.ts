import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CliError } from '../cli/cli-error.ts';
import { DEFAULT_CONFIG_FILE, loadCliConfig } from '../cli/collector-config.ts';
import { BackupInputError, createStateBackup, defaultArchiveName } from './create.ts';
import { parseReportCopyMember, REPORT_COPIES_KEY } from './manifest.ts';
import { RestoreRefused, restoreStateBackup } from './restore.ts';
import { ArchiveError } from './tar-gz.ts';

// izleme backup create|restore: the command line around create.ts and restore.ts.

export const BACKUP_USAGE = `usage: izleme backup create [--config FILE] [--output FILE]
       izleme backup restore ARCHIVE [--config FILE] [--force]
  create   a consistent copy of every store the collector's configuration names (taken with
           SQLite's online backup API: the collector keeps running and ingesting) and of the
           configuration files it names (collector.yaml, devices, secrets, notify, rules, backups,
           TLS files, own profiles), in one .tar.gz (mode 600: it holds secrets) with a manifest
           (schema versions, row counts, SHA-256 of every member).
           --output FILE   default: belediye-izleme-state-<UTC time>.tar.gz in selfBackup.dir, or here
  restore  onto a fresh install, with the collector stopped: checks every member against the
           manifest, refuses while a collector runs (a store open in another process, or the API
           port answering) and refuses to replace stores that hold data or files with other
           content unless --force. Stores and files go where the configuration names them: the
           --config file if it exists (the new install's), otherwise the archived collector.yaml
           is written there and its paths are used. Everything restored is owner-only (600).
  --config FILE   the collector's configuration (default ${DEFAULT_CONFIG_FILE})`;

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const months = (list: readonly string[]) => `${list.length} month${list.length === 1 ? '' : 's'} (${list.length === 1 ? list[0] : `${list[0]} … ${list.at(-1)}`})`;

async function create(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { config: { type: 'string', short: 'c' }, output: { type: 'string', short: 'o' } } });
  if (positionals.length > 0) throw new CliError(`unexpected "${positionals.join(' ')}"\n${BACKUP_USAGE}`, 2);
  const { config, file } = loadCliConfig(values.config);
  const now = new Date();
  const output = resolve(values.output ?? resolve(config.selfBackup?.dir ?? '.', defaultArchiveName(now)));
  const result = await createStateBackup({ config, configFile: resolve(file), output, now });
  const lines = [`backup written: ${result.file} (${kib(result.bytes)}, ${(result.ms / 1000).toFixed(2)} s)`];
  for (const store of result.manifest.stores) lines.push(`  store ${store.name.padEnd(9)} schema v${store.schemaVersion}  ${Object.entries(store.rows).map(([t, n]) => `${t} ${n}`).join(', ')}`);
  const copies = result.manifest.files.filter((f) => f.key === REPORT_COPIES_KEY);
  for (const f of result.manifest.files) if (f.key !== REPORT_COPIES_KEY) lines.push(`  file  ${f.key}: ${f.path}`);
  if (copies.length > 0) {
    const made = [...new Set(copies.flatMap((f) => parseReportCopyMember(f.member)?.month ?? []))].sort();
    lines.push(`  reports ${REPORT_COPIES_KEY}: ${copies.length} files of ${months(made)}, ${kib(copies.reduce((n, f) => n + f.bytes, 0))}`);
  }
  for (const n of result.manifest.notIncluded) lines.push(`  not included: ${n.key} (${n.path}): ${n.reason}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

async function restore(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { config: { type: 'string', short: 'c' }, force: { type: 'boolean' } } });
  if (positionals.length !== 1) throw new CliError(`restore takes one archive\n${BACKUP_USAGE}`, 2);
  const report = await restoreStateBackup({ archive: resolve(positionals[0]!), configFile: resolve(values.config ?? DEFAULT_CONFIG_FILE), force: values.force ?? false });
  const m = report.manifest;
  const lines = [`restored the backup of ${m.host} made ${m.createdAt} by release ${m.collectorVersion} (configuration: ${report.configUsed === 'current' ? 'the existing one names the paths' : 'the archived one, written to --config'})`];
  for (const s of report.stores) lines.push(`  store ${s.name.padEnd(9)} ${s.path}  ${Object.entries(s.rows).map(([t, n]) => `${t} ${n}`).join(', ')}`);
  for (const f of report.files) lines.push(`  file  ${f.key}: ${f.path}`);
  const copies = report.reportCopies;
  if (copies) lines.push(`  reports ${REPORT_COPIES_KEY}: ${copies.files} files of ${months(copies.months)} into ${copies.dir}`);
  for (const s of report.skipped) lines.push(`  skipped ${s}`);
  lines.push('Start the collector; agents reconnect with their credentials, no new enrollment is needed.');
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

export async function runBackup(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'create') return await create(rest);
    if (command === 'restore') return await restore(rest);
  } catch (error) {
    if (error instanceof RestoreRefused || error instanceof ArchiveError || error instanceof BackupInputError) throw new CliError(`izleme backup ${command}: ${error.message}`);
    throw error;
  }
  throw new CliError(`${command === undefined ? 'izleme backup: give create or restore' : `izleme backup: unknown command "${command}"`}\n${BACKUP_USAGE}`, 2);
}
