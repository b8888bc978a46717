import { availableParallelism, loadavg, platform } from 'node:os';
import si from 'systeminformation';
import type { Metric } from '../../src/contract/schemas.ts';
import { round, type Source } from './types.ts';

export function cpuMetric(load: { currentLoad: number; currentLoadUser: number; currentLoadSystem: number }, loads: number[] | null, cores: number): Metric {
  const fields: Metric['fields'] = { usage_pct: round(load.currentLoad), user_pct: round(load.currentLoadUser), system_pct: round(load.currentLoadSystem), cores };
  // Windows has no load average (os.loadavg() is always zeros there).
  if (loads) Object.assign(fields, { load1: round(loads[0]!), load5: round(loads[1]!), load15: round(loads[2]!) });
  return { name: 'cpu', fields };
}

export const cpuSource: Source = {
  name: 'cpu',
  cadence: 'fast',
  async collect() {
    // currentLoad reads /proc/stat on Linux and os.cpus() elsewhere: no process spawned.
    const load = await si.currentLoad();
    return [cpuMetric(load, platform() === 'win32' ? null : loadavg(), availableParallelism())];
  },
};
