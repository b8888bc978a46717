import { platform } from 'node:os';
import si from 'systeminformation';
import type { Metric } from '../../src/contract/schemas.ts';
import { readHwmon, sensorName, type HwmonReading } from './hwmon.ts';
import { round, type Source } from './types.ts';

const CPU_CHIPS = new Set(['coretemp', 'k10temp', 'zenpower', 'cpu_thermal']);

/** Pure: sensor tag as in docs/data-model.md: cpu, cpu_core0…, chipset, disk_<name>, else chip_label. */
export function tempSensorName(r: Pick<HwmonReading, 'chip' | 'device' | 'label'>): string {
  if (CPU_CHIPS.has(r.chip)) {
    const core = /^core\s*(\d+)$/i.exec(r.label);
    if (core) return `cpu_core${core[1]}`;
    if (/^(package id \d+|tctl|tdie|temp1|cpu)$/i.test(r.label)) return 'cpu';
    return `cpu_${sensorName(r.label)}`;
  }
  if (r.chip === 'nvme' || r.chip === 'drivetemp') return `disk_${sensorName(r.device) || r.chip}`;
  if (r.chip.startsWith('pch_')) return 'chipset';
  return sensorName(`${r.chip}_${r.label}`);
}

/** Pure: hwmon millidegrees → `temp` metrics, one per sensor name (the first reading wins, e.g. NVMe "Composite"). */
export function tempMetricsFromHwmon(readings: readonly HwmonReading[]): Metric[] {
  const bySensor = new Map<string, Metric>();
  for (const r of readings) {
    const sensor = tempSensorName(r);
    if (!bySensor.has(sensor)) bySensor.set(sensor, { name: 'temp', tags: { sensor }, fields: { celsius: round(r.value / 1000, 1) } });
  }
  return [...bySensor.values()];
}

/** Pure: si.cpuTemperature() (ACPI thermal zone through WMI on Windows); null or 0 means the machine does not say. */
export function tempMetricsFromSi(t: { main: number | null; cores: readonly number[]; chipset?: number | null }): Metric[] {
  const metrics: Metric[] = [];
  const add = (sensor: string, celsius: number | null | undefined) => {
    if (typeof celsius === 'number' && celsius > 0) metrics.push({ name: 'temp', tags: { sensor }, fields: { celsius: round(celsius, 1) } });
  };
  add('cpu', t.main);
  t.cores.forEach((c, i) => add(`cpu_core${i}`, c));
  add('chipset', t.chipset);
  return metrics;
}

export const tempSource: Source = {
  name: 'temp',
  cadence: 'slow',
  async collect() {
    if (platform() === 'linux') return tempMetricsFromHwmon(await readHwmon('temp'));
    return tempMetricsFromSi(await si.cpuTemperature());
  },
};
