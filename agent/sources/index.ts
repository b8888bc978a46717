import { raidSource } from '../hardware/raid.ts';
import { smartSource } from '../hardware/smart.ts';
import { batterySource } from './battery.ts';
import { cpuSource } from './cpu.ts';
import { diskioSource } from './diskio.ts';
import { fanSource } from './fan.ts';
import { fsSource } from './fs.ts';
import { memSource } from './mem.ts';
import { netSource } from './net.ts';
import { swapSource } from './swap.ts';
import { systemSource } from './system.ts';
import { tempSource } from './temp.ts';
import type { Source } from './types.ts';

// Every metric family the agent knows. A new family is a new file and one line here; the
// collection loop never names a source.
const sources: Source[] = [];

export function registerSource(source: Source): void {
  if (sources.some((s) => s.name === source.name)) throw new Error(`source "${source.name}" registered twice`);
  sources.push(source);
}

for (const source of [cpuSource, memSource, swapSource, fsSource, diskioSource, netSource, systemSource, tempSource, fanSource, batterySource, smartSource, raidSource]) {
  registerSource(source);
}

export function sourcesFor(cadence: Source['cadence']): readonly Source[] {
  return sources.filter((s) => s.cadence === cadence);
}
