import type { DeviceDriver } from '../collector/devices/driver.ts';

// When each device's polls start and how long they take, noted by wrapping its driver (ours in
// bench/probe-poller.ts, the exporter's scrapes in bench/probes.ts), and the schedule jitter
// computed from those starts.

export interface PollTimes {
  /** Per device (site/id): epoch ms at which each poll started. */
  starts: Record<string, number[]>;
  durationsMs: number[];
}

/** Epoch milliseconds with sub-millisecond steps, comparable between processes on one machine. */
export const epochMs = () => performance.timeOrigin + performance.now();

export class PollTimer {
  private readonly starts = new Map<string, number[]>();
  private readonly durationsMs: number[] = [];

  /** The same driver, its sessions' polls timed. */
  wrap(driver: DeviceDriver): DeviceDriver {
    const { starts, durationsMs } = this;
    return {
      ...driver,
      open(target) {
        const session = driver.open(target);
        const times: number[] = [];
        starts.set(`${target.device.site}/${target.device.id}`, times);
        return {
          async poll(signal) {
            const started = epochMs();
            times.push(started);
            try {
              return await session.poll(signal);
            } finally {
              durationsMs.push(epochMs() - started);
            }
          },
          close: () => session.close(),
        };
      },
    };
  }

  times(): PollTimes {
    return { starts: Object.fromEntries(this.starts), durationsMs: this.durationsMs };
  }
}

/**
 * |gap − interval| for every two successive starts of a target that both lie in [from, to).
 * A target's first gap is left out: DevicePoller puts the first poll anywhere in the first 10 s
 * and the second on the target's own phase, so that gap is not meant to be one interval.
 */
export function scheduleDeviations(starts: Record<string, number[]>, intervalMs: number, from: number, to: number): number[] {
  const deviations: number[] = [];
  for (const times of Object.values(starts)) {
    for (let k = 2; k < times.length; k++) {
      if (times[k - 1]! >= from && times[k]! < to) deviations.push(Math.abs(times[k]! - times[k - 1]! - intervalMs));
    }
  }
  return deviations;
}
