import { existsSync } from 'node:fs';
import { ADMIN_USAGE, runAdmin } from './admin.ts';
import { ALERTS_USAGE, runAlerts } from './cli/alerts.ts';
import { CliError } from './cli/cli-error.ts';
import { DEFAULT_CONFIG_FILE, loadCliConfig } from './cli/collector-config.ts';
import { DEVICES_USAGE, runDevices } from './cli/devices.ts';
import { existingStore } from './cli/existing-store.ts';
import { BACKUP_USAGE, runBackup } from './state-backup/cli.ts';
import { DISCOVER_USAGE, runDiscover } from './discover.ts';
import { REPORT_USAGE, runReport } from './report.ts';

// izleme: the one command for administrators on the collector host. Each subcommand is one of
// the existing tools; what they share is that they work on the running collector's own files,
// found through its configuration file, and never create a store of their own.

const USAGE = `izleme — Belediye İzleme administration on the collector host

usage: izleme <command> [options]      izleme <command> --help for the command's options

commands:
  admin      tokens, device credentials, audit log, alerts, silences, maintenance windows
  devices    the devices the collector knows: site, device, state, last seen
  alerts     active alerts (izleme alerts ack <id> acknowledges one)
  report     the monthly availability report (HTML and CSV)
  discover   ask a device over SNMP which profile fits it
  backup     back up the collector's stores and configuration into one archive, or restore one

Every command except discover reads the running collector's configuration:
  ${DEFAULT_CONFIG_FILE} by default, another file with --config FILE.
The stores it names must exist (the collector creates them on its first start); izleme never
creates one, except backup restore, which puts a backup's stores in place on a new install. Exit codes: 0 done, 1 failed, 2 wrong command line or configuration.`;

type Command = { usage: string; run: (argv: string[]) => number | Promise<number> };

const COMMANDS: Record<string, Command> = {
  admin: { usage: ADMIN_USAGE, run: runAdmin },
  devices: { usage: DEVICES_USAGE, run: runDevices },
  alerts: { usage: ALERTS_USAGE, run: runAlerts },
  report: { usage: REPORT_USAGE, run: (argv) => runReport(withCollectorFiles(argv)) },
  discover: { usage: DISCOVER_USAGE, run: runDiscover },
  backup: { usage: BACKUP_USAGE, run: runBackup },
};

const given = (argv: string[], flag: string) => argv.some((a) => a === `--${flag}` || a.startsWith(`--${flag}=`));

/**
 * report works on files named on its command line; from izleme it takes the collector's
 * configuration and outage log unless told otherwise. With --outages and no configuration
 * installed it runs on the outage log alone, as `node collector/report.ts` does.
 */
function withCollectorFiles(argv: string[]): string[] {
  if (!given(argv, 'config') && given(argv, 'outages') && !existsSync(DEFAULT_CONFIG_FILE)) return argv;
  const configFlag = argv.findIndex((a) => a === '--config' || a.startsWith('--config='));
  const configValue = configFlag < 0 ? undefined : argv[configFlag]!.includes('=') ? argv[configFlag]!.slice('--config='.length) : argv[configFlag + 1];
  const { config, file } = loadCliConfig(configValue);
  const out = given(argv, 'config') ? [...argv] : [...argv, '--config', file];
  if (!given(argv, 'outages')) out.push('--outages', existingStore(config.uptime.path, 'outage log', 'uptime.path', file));
  return out;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  if (name === 'help' || name === '--help' || name === '-h') {
    const topic = name === 'help' ? rest[0] : undefined;
    process.stdout.write(`${(topic && COMMANDS[topic]?.usage) || USAGE}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`izleme: unknown command "${name}"\n\n${USAGE}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof CliError) {
      process.stderr.write(`${error.message}\n`);
      return error.exitCode;
    }
    // node:util parseArgs: an option the command does not have, or one without its value.
    if (typeof (error as NodeJS.ErrnoException).code === 'string' && (error as NodeJS.ErrnoException).code!.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`${(error as Error).message}\n${command.usage}\n`);
      return 2;
    }
    throw error;
  }
}

// Exits when the command is done: nothing a command left open (an SNMP socket) keeps the shell waiting.
process.exit(await main(process.argv.slice(2)));
