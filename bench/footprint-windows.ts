// Pure: splits a run into the agent's collection windows, so that fast collections (every
// intervalS) and slow ones (hardware, inventory) are reported apart. Window k runs from one
// second before fast collection k to one second before collection k+1; a window in which a
// slow collection starts, and the window after it (a slow collection may run into it), are
// slow; every other window holds one fast collection and nothing else.

export interface Schedule {
  /** When the agent's timers started (its first fast collection), ms. */
  startMs: number;
  intervalS: number;
  /** Slow collections: first start after startMs and period, in seconds. */
  slow: readonly { name: string; firstAfterS: number; everyS: number }[];
}

export interface CollectionWindow {
  index: number;
  fromMs: number;
  toMs: number;
  /** Names of the slow collections starting in this window (or the one before). */
  slow: string[];
}

export function collectionWindows(schedule: Schedule, untilMs: number): CollectionWindow[] {
  const periodMs = schedule.intervalS * 1000;
  const windows: CollectionWindow[] = [];
  for (let index = 0; schedule.startMs - 1000 + (index + 1) * periodMs <= untilMs; index++) {
    windows.push({ index, fromMs: schedule.startMs - 1000 + index * periodMs, toMs: schedule.startMs - 1000 + (index + 1) * periodMs, slow: [] });
  }
  for (const slow of schedule.slow) {
    for (let at = schedule.startMs + slow.firstAfterS * 1000; at < untilMs; at += slow.everyS * 1000) {
      const index = windows.findIndex((w) => at >= w.fromMs && at < w.toMs);
      if (index < 0) continue;
      windows[index]!.slow.push(slow.name);
      if (windows[index + 1]) windows[index + 1]!.slow.push(`${slow.name} (spill-over)`);
    }
  }
  return windows;
}

/** Pure: CPU ms spent in [fromMs, toMs), from cumulative samples taken about every second (linear between samples). */
export function cpuBetween(samples: readonly { at: number; cpuMs: number }[], fromMs: number, toMs: number): number {
  const at = (t: number) => {
    const after = samples.findIndex((s) => s.at >= t);
    if (after <= 0) return after === 0 ? samples[0]!.cpuMs : samples.at(-1)!.cpuMs;
    const [a, b] = [samples[after - 1]!, samples[after]!];
    return a.cpuMs + ((b.cpuMs - a.cpuMs) * (t - a.at)) / (b.at - a.at);
  };
  return at(toMs) - at(fromMs);
}
