import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { platform } from 'node:os';
import si from 'systeminformation';
import type { Metric } from '../../src/contract/schemas.ts';
import { round, type Source } from './types.ts';

export interface HwmonReading {
  chip: string;
  kind: 'temp' | 'fan';
  label: string;
  value: number;
}

/** Pure: hwmon readings → temp (°C, from millidegrees) and fan (rpm) metrics with bounded sensor names. */
export function sensorMetrics(readings: readonly HwmonReading[]): Metric[] {
  return readings.map((r): Metric => {
    const base = r.chip === 'coretemp' || r.chip === 'k10temp' ? 'cpu' : r.chip;
    const sensor = `${base}_${r.label}`.toLowerCase().replace(/[^a-z0-9_]+/g, '_').slice(0, 64);
    return r.kind === 'temp' ? { name: 'temp', tags: { sensor }, fields: { celsius: round(r.value / 1000, 1) } } : { name: 'fan', tags: { sensor }, fields: { rpm: r.value } };
  });
}

async function readHwmon(): Promise<HwmonReading[]> {
  const root = '/sys/class/hwmon';
  const chips = await readdir(root).catch(() => [] as string[]);
  const readings: HwmonReading[] = [];
  for (const chipDir of chips) {
    const dir = join(root, chipDir);
    const chip = (await readFile(join(dir, 'name'), 'utf8').catch(() => chipDir)).trim();
    for (const file of await readdir(dir).catch(() => [] as string[])) {
      const m = /^(temp|fan)(\d+)_input$/.exec(file);
      if (!m) continue;
      const value = Number((await readFile(join(dir, file), 'utf8').catch(() => '')).trim());
      if (!Number.isFinite(value) || value === 0) continue;
      const label = (await readFile(join(dir, `${m[1]}${m[2]}_label`), 'utf8').catch(() => `${m[1]}${m[2]}`)).trim();
      readings.push({ chip, kind: m[1] as 'temp' | 'fan', label, value });
    }
  }
  return readings;
}

export const sensorsSource: Source = {
  name: 'sensors',
  cadence: 'slow',
  async collect() {
    if (platform() === 'linux') return sensorMetrics(await readHwmon());
    const t = await si.cpuTemperature();
    return t.main !== null && t.main > 0 ? [{ name: 'temp', tags: { sensor: 'cpu' }, fields: { celsius: t.main } }] : [];
  },
};
