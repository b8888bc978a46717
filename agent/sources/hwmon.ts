import { readdir, readFile, readlink } from 'node:fs/promises';
import { basename, join } from 'node:path';

// Linux hardware monitoring chips in /sys/class/hwmon: plain files, no process (si's
// cpuTemperature runs shell loops and `sensors` for the same data).

export interface HwmonReading {
  /** Chip driver: coretemp, k10temp, nvme, drivetemp, nct6775, acpitz, pch_cannonlake… */
  chip: string;
  /** The chip's device: nvme0, sda (drivetemp), or a bus address. */
  device: string;
  kind: 'temp' | 'fan';
  label: string;
  /** As the kernel gives it: millidegrees Celsius, or rpm. */
  value: number;
}

async function chipDevice(dir: string): Promise<string> {
  const blocks = await readdir(join(dir, 'device', 'block')).catch(() => [] as string[]);
  if (blocks[0]) return blocks[0];
  return basename(await readlink(join(dir, 'device')).catch(() => ''));
}

export async function readHwmon(kind: HwmonReading['kind'], root = '/sys/class/hwmon'): Promise<HwmonReading[]> {
  const readings: HwmonReading[] = [];
  for (const chipDir of await readdir(root).catch(() => [] as string[])) {
    const dir = join(root, chipDir);
    const files = await readdir(dir).catch(() => [] as string[]);
    const inputs = files.map((f) => new RegExp(`^${kind}(\\d+)_input$`).exec(f)).filter((m) => m !== null);
    if (inputs.length === 0) continue;
    const chip = (await readFile(join(dir, 'name'), 'utf8').catch(() => chipDir)).trim();
    const device = await chipDevice(dir);
    for (const m of inputs) {
      const value = Number((await readFile(join(dir, m[0]), 'utf8').catch(() => '')).trim());
      if (!Number.isFinite(value) || value === 0) continue;
      const label = (await readFile(join(dir, `${kind}${m[1]}_label`), 'utf8').catch(() => `${kind}${m[1]}`)).trim();
      readings.push({ chip, device, kind, label, value });
    }
  }
  return readings;
}

/** Pure: a bounded tag value from free text ("Package id 0" → "package_id_0"). */
export function sensorName(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 64);
}
