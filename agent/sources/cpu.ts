import { readFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, platform } from 'node:os';
import type { Metric } from '../../src/contract/schemas.ts';
import { round, type Source } from './types.ts';

// CPU usage from two readings of the cumulative CPU times. Not si.currentLoad(): on Linux it
// runs `cat /proc/stat | grep cpu` through execSync on every call, a process per interval that
// also blocks the event loop (docs/agent.md).

export interface CpuTimes {
  user: number;
  system: number;
  idle: number;
  /** Everything else that is busy time: nice, irq, softirq, steal. */
  other: number;
}

/** Pure: the aggregate `cpu ` line of /proc/stat. iowait counts as idle, like top and si do. */
export function cpuTimesFromProcStat(text: string): CpuTimes {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('/proc/stat has no aggregate "cpu" line');
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  return { user, system, idle: idle + iowait, other: nice + irq + softirq + steal };
}

/** Pure: os.cpus() summed over cores. On Windows kernel time includes interrupt time, so it is taken out of system. */
export function cpuTimesFromOsCpus(list: readonly { times: { user: number; nice: number; sys: number; idle: number; irq: number } }[], isWindows: boolean): CpuTimes {
  const sum: CpuTimes = { user: 0, system: 0, idle: 0, other: 0 };
  for (const { times } of list) {
    sum.user += times.user;
    sum.system += isWindows ? Math.max(0, times.sys - times.irq) : times.sys;
    sum.idle += times.idle;
    sum.other += times.nice + times.irq;
  }
  return sum;
}

const total = (t: CpuTimes) => t.user + t.system + t.idle + t.other;

/** Pure: usage between two readings; without a usable previous reading (first run, counters reset) only cores and load. */
export function cpuMetric(previous: CpuTimes | undefined, current: CpuTimes, loads: readonly number[] | null, cores: number): Metric {
  const fields: Metric['fields'] = { cores };
  const elapsed = previous ? total(current) - total(previous) : 0;
  if (previous && elapsed > 0 && current.idle >= previous.idle && current.user >= previous.user && current.system >= previous.system) {
    const pct = (delta: number) => round(Math.min(100, Math.max(0, (delta / elapsed) * 100)));
    fields.usage_pct = pct(elapsed - (current.idle - previous.idle));
    fields.user_pct = pct(current.user - previous.user);
    fields.system_pct = pct(current.system - previous.system);
  }
  // Windows has no load average (os.loadavg() is always zeros there).
  if (loads) Object.assign(fields, { load1: round(loads[0] ?? 0), load5: round(loads[1] ?? 0), load15: round(loads[2] ?? 0) });
  return { name: 'cpu', fields };
}

let previous: CpuTimes | undefined;

/** `os` picks how the times are read; elsewhere than Linux it is os.cpus(), which starts no process. */
export function cpuSourceFor(os: NodeJS.Platform): Source {
  return {
    name: 'cpu',
    cadence: 'fast',
    async collect() {
      const current = os === 'linux' ? cpuTimesFromProcStat(await readFile('/proc/stat', 'utf8')) : cpuTimesFromOsCpus(cpus(), os === 'win32');
      const metric = cpuMetric(previous, current, os === 'win32' ? null : loadavg(), availableParallelism());
      previous = current;
      return [metric];
    },
  };
}

export const cpuSource: Source = cpuSourceFor(platform());
