import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ID_PATTERN } from '../../src/contract/topics.ts';
import { DeviceRegistry, type DeviceSummary } from '../registry/device-registry.ts';
import { CliError } from './cli-error.ts';
import { loadCliConfig } from './collector-config.ts';
import { existingStore } from './existing-store.ts';
import { ago, localTime, renderTable } from './table.ts';

// izleme devices: what the collector's registry knows — every device, online or offline, and
// when it was last heard from. Read from the registry file the running collector keeps (it writes
// states at once and last-seen times every second), so it works while the API is unreachable.

export const DEVICES_USAGE = `usage: izleme devices [--config FILE] [--site SITE] [--state online|offline] [--json]
  Lists the devices in the collector's registry: site, device, kind, state, last seen.
  --config FILE   the running collector's configuration (default /etc/belediye-izleme/collector.yaml)
  --json          the registry's records as JSON instead of a table`;

const filterSchema = z.strictObject({
  site: z.string().regex(ID_PATTERN, 'expected a site id like "merkez"').optional(),
  state: z.enum(['online', 'offline'], { error: 'expected online or offline' }).optional(),
});

function stateText(device: DeviceSummary): string {
  return device.online ? 'online' : `offline${device.offlineReason ? ` (${device.offlineReason})` : ''}`;
}

export function devicesTable(devices: readonly DeviceSummary[], now: number): string {
  if (devices.length === 0) return 'no devices\n';
  return renderTable(
    ['SITE', 'DEVICE', 'KIND', 'STATE', 'LAST SEEN'],
    devices.map((d) => [d.site, d.device, d.kind, stateText(d), `${localTime(d.lastSeen)} (${ago(d.lastSeen, now)})`]),
  );
}

export function runDevices(argv: string[]): number {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { config: { type: 'string', short: 'c' }, site: { type: 'string' }, state: { type: 'string' }, json: { type: 'boolean' } } });
  if (positionals.length > 0) throw new CliError(`unexpected "${positionals.join(' ')}"\n${DEVICES_USAGE}`, 2);
  const filter = filterSchema.safeParse({ site: values.site, state: values.state });
  if (!filter.success) {
    const issue = filter.error.issues[0]!;
    throw new CliError(`--${String(issue.path[0])}: ${issue.message}\n${DEVICES_USAGE}`, 2);
  }
  const { config, file } = loadCliConfig(values.config);
  const registry = DeviceRegistry.open(existingStore(config.registry.path, 'device registry', 'registry.path', file), { heartbeatTimeoutS: config.registry.heartbeatTimeoutS });
  try {
    const state = filter.data.state;
    const devices = registry.list({ site: filter.data.site, online: state === undefined ? undefined : state === 'online' });
    process.stdout.write(values.json ? `${JSON.stringify(devices, null, 2)}\n` : devicesTable(devices, Date.now()));
    return 0;
  } finally {
    registry.close();
  }
}
