import { execFile } from 'node:child_process';
import type { Metric } from '../../src/contract/schemas.ts';
import type { Source } from '../sources/types.ts';

// Disk health through smartctl's JSON output (smartmontools 7+), when smartctl is installed.

interface SmartctlReport {
  device?: { name?: string };
  smart_status?: { passed?: boolean };
  temperature?: { current?: number };
  power_on_time?: { hours?: number };
  ata_smart_attributes?: { table?: { id: number; raw?: { value?: number } }[] };
  nvme_smart_health_information_log?: { media_errors?: number; temperature?: number; power_on_hours?: number };
}

/** Pure: one `smartctl -a -j` report → a `smart` metric (or nothing when the disk reports no verdict). */
export function smartMetric(report: SmartctlReport): Metric | undefined {
  const name = report.device?.name?.replace(/^\/dev\//, '');
  const passed = report.smart_status?.passed;
  if (!name || passed === undefined) return undefined;
  const fields: Metric['fields'] = { passed };
  const attr = (id: number) => report.ata_smart_attributes?.table?.find((a) => a.id === id)?.raw?.value;
  const nvme = report.nvme_smart_health_information_log;
  const temperature = report.temperature?.current ?? nvme?.temperature;
  const hours = report.power_on_time?.hours ?? nvme?.power_on_hours;
  const set = (key: string, value: number | undefined) => {
    if (value !== undefined && Number.isFinite(value)) fields[key] = value;
  };
  set('temperature_c', temperature);
  set('power_on_hours', hours);
  set('reallocated_sectors', attr(5));
  set('pending_sectors', attr(197));
  set('media_errors', nvme?.media_errors);
  return { name: 'smart', tags: { disk: name.slice(0, 128) }, fields };
}

/** smartctl's exit status is a bit mask that is non-zero for failing disks too: the JSON is what counts. */
function smartctl(args: string[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile('smartctl', [...args, '--json'], { timeout: 30_000, maxBuffer: 4 * 1024 * 1024 }, (error, stdout) => {
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
    if (smartctlMissing) return [];
    let scan: { devices?: { name: string; type?: string }[] };
    try {
      scan = (await smartctl(['--scan-open'])) as typeof scan;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') smartctlMissing = true;
      return [];
    }
    const reports = await Promise.allSettled((scan.devices ?? []).map((d) => smartctl(['-a', '-d', d.type ?? 'auto', d.name])));
    return reports.flatMap((r) => {
      const metric = r.status === 'fulfilled' ? smartMetric(r.value as SmartctlReport) : undefined;
      return metric ? [metric] : [];
    });
  },
};
