import { platform } from 'node:os';
import type { Metric } from '../../src/contract/schemas.ts';
import { readHwmon, sensorName, type HwmonReading } from './hwmon.ts';
import type { Source } from './types.ts';

/** Pure: hwmon fan readings → `fan` metrics; the sensor is the chip's label ("fan2", "cpu_fan"). */
export function fanMetricsFromHwmon(readings: readonly HwmonReading[]): Metric[] {
  return readings.map((r) => ({ name: 'fan', tags: { sensor: sensorName(r.label) || 'fan' }, fields: { rpm: r.value } }));
}

export const fanSource: Source = {
  name: 'fan',
  cadence: 'slow',
  // Windows has no standard fan interface (vendor tools only): not covered, docs/agent.md.
  collect: async () => (platform() === 'linux' ? fanMetricsFromHwmon(await readHwmon('fan')) : []),
};
