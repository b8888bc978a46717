import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { platform } from 'node:os';
import { win32 } from 'node:path';
import type { Metric } from '../../src/contract/schemas.ts';
import type { Source } from '../sources/types.ts';

// Disk health through smartctl's JSON output (smartmontools 7+), when smartctl is installed.

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {});

/**
 * Pure: one `smartctl -a -j` report → a `smart` metric, or nothing when the disk gives no
 * verdict (a CD drive, a USB bridge without SAT). Disks behind a RAID controller share a
 * device name (/dev/bus/0 with type megaraid,N), so the type becomes part of the tag there.
 */
export function smartMetric(report: unknown): Metric | undefined {
  const device = obj(obj(report).device);
  const passed = obj(obj(report).smart_status).passed;
  if (typeof device.name !== 'string' || typeof passed !== 'boolean') return undefined;
  const type = typeof device.type === 'string' && device.type.includes(',') ? `:${device.type}` : '';
  const disk = `${device.name.replace(/^\/dev\//, '')}${type}`.slice(0, 128);

  const table = obj(obj(report).ata_smart_attributes).table;
  const attr = (id: number) => (Array.isArray(table) ? num(obj(obj(table.find((a) => obj(a).id === id)).raw).value) : undefined);
  const nvme = obj(obj(report).nvme_smart_health_information_log);
  const fields: Metric['fields'] = { passed };
  const values: [string, number | undefined][] = [
    ['temperature_c', num(obj(obj(report).temperature).current) ?? num(nvme.temperature)],
    ['power_on_hours', num(obj(obj(report).power_on_time).hours) ?? num(nvme.power_on_hours)],
    ['reallocated_sectors', attr(5)],
    ['pending_sectors', attr(197)],
    ['media_errors', num(nvme.media_errors)],
  ];
  for (const [key, value] of values) if (value !== undefined) fields[key] = value;
  return { name: 'smart', tags: { disk }, fields };
}

/** Pure: `smartctl --scan-open --json` → devices to ask, with the type smartctl found for each. */
export function scannedDevices(scan: unknown): { name: string; type: string }[] {
  const devices = (scan as { devices?: unknown })?.devices;
  if (!Array.isArray(devices)) return [];
  return devices.flatMap((d: { name?: unknown; type?: unknown }) => (typeof d?.name === 'string' ? [{ name: d.name, type: typeof d.type === 'string' ? d.type : 'auto' }] : []));
}

/**
 * Pure: the smartctl to run, or none. Linux: `smartctl` from the PATH (a missing one fails once
 * with ENOENT and is not asked again). Windows: smartctl.exe only where it is on disk — the
 * smartmontools installer does not put it on SYSTEM's PATH, so Program Files first, then the
 * PATH — and otherwise nothing is started at all: on Windows the hardware cadence's process
 * budget is the one health script (agent/windows/).
 */
export function smartctlCommand(os: NodeJS.Platform, env: NodeJS.ProcessEnv, exists: (path: string) => boolean): string | undefined {
  if (os !== 'win32') return 'smartctl';
  const dirs = [win32.join(env.ProgramFiles ?? 'C:\\Program Files', 'smartmontools', 'bin'), ...(env.PATH ?? env.Path ?? '').split(';').filter((d) => d.trim() !== '')];
  return dirs.map((dir) => win32.join(dir.trim().replace(/^"(.*)"$/, '$1'), 'smartctl.exe')).find((path) => exists(path));
}

const command = smartctlCommand(platform(), process.env, existsSync);

/** smartctl's exit status is a bit mask that is non-zero for failing disks too: the JSON is what counts. */
function smartctl(command: string, args: string[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile(command, [...args, '--json'], { timeout: 20_000, maxBuffer: 4 * 1024 * 1024, windowsHide: true }, (error, stdout) => {
      if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') return reject(error);
      try {
        resolve(JSON.parse(stdout));
      } catch {
        reject(new Error(`smartctl ${args.join(' ')} gave no JSON`));
      }
    });
  });
}

let smartctlMissing = false;

export const smartSource: Source = {
  name: 'smart',
  cadence: 'slow',
  async collect() {
    if (smartctlMissing || command === undefined) return [];
    let scan: unknown;
    try {
      scan = await smartctl(command, ['--scan-open']);
    } catch (error) {
      // Not installed is a normal state: remember it and stop asking. Anything else is a real failure.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      smartctlMissing = true;
      return [];
    }
    // One disk after the other: parallel smartctl runs on a busy controller only compete.
    const metrics: Metric[] = [];
    for (const d of scannedDevices(scan).slice(0, 64)) {
      const metric = smartMetric(await smartctl(command, ['-a', '-d', d.type, d.name]).catch(() => undefined));
      if (metric) metrics.push(metric);
    }
    return metrics;
  },
};
