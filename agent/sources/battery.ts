import si from 'systeminformation';
import type { Metric } from '../../src/contract/schemas.ts';
import type { Source } from './types.ts';

type BatteryData = Awaited<ReturnType<typeof si.battery>>;

/** Pure: only machines that have a battery report one. On Windows the same shape comes from the health script (agent/windows/parse-health.ts). */
export function batteryMetrics(b: Pick<BatteryData, 'hasBattery' | 'percent' | 'isCharging' | 'acConnected' | 'cycleCount' | 'maxCapacity' | 'designedCapacity'>): Metric[] {
  if (!b.hasBattery) return [];
  const fields: Metric['fields'] = { charge_pct: b.percent, charging: b.isCharging, ac_connected: b.acConnected };
  if (b.cycleCount > 0) fields.cycle_count = b.cycleCount;
  if (b.maxCapacity > 0 && b.designedCapacity > 0) fields.health_pct = Math.round((b.maxCapacity / b.designedCapacity) * 1000) / 10;
  return [{ name: 'battery', tags: { battery: 'bat0' }, fields }];
}

export const batterySource: Source = {
  name: 'battery',
  cadence: 'slow',
  collect: async () => batteryMetrics(await si.battery()),
};
