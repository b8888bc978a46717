import { platform } from 'node:os';
import { raidSource } from '../hardware/raid.ts';
import { smartSource } from '../hardware/smart.ts';
import { createWindowsHealthSource } from '../windows/health-source.ts';
import { batterySource } from './battery.ts';
import { cpuSourceFor } from './cpu.ts';
import { diskioSourceFor } from './diskio.ts';
import { fanSource } from './fan.ts';
import { fsSourceFor } from './fs.ts';
import { memSourceFor } from './mem.ts';
import { netSource } from './net.ts';
import { swapSource } from './swap.ts';
import { systemSourceFor } from './system.ts';
import { tempSource } from './temp.ts';
import type { Source } from './types.ts';

// Every metric family the agent knows. A new family is a new file and one line here; the
// collection loop never names a source.

let windowsServices: readonly string[] = [];

/** agent.yaml's windows.services, read by the Windows health source at every round. */
export function configureWindowsServices(names: readonly string[]): void {
  windowsServices = [...names];
}

const windowsHealthSource = createWindowsHealthSource({ services: () => windowsServices });

/**
 * Pure: the sources for a platform. On Windows the fast cadence reads Node's os module and
 * statfs only, and the hardware cadence starts one PowerShell (windows_health) that also yields
 * what swap, net, temp and battery would each have started PowerShell for through
 * systeminformation; smart starts smartctl.exe only where it is installed, raid and fan start
 * nothing there.
 */
export function platformSources(os: NodeJS.Platform): Source[] {
  const fast = [cpuSourceFor(os), memSourceFor(os), fsSourceFor(os), diskioSourceFor(os), systemSourceFor(os)];
  if (os === 'win32') return [...fast, windowsHealthSource, fanSource, smartSource, raidSource];
  return [...fast, swapSource, netSource, tempSource, fanSource, batterySource, smartSource, raidSource];
}

const sources: Source[] = [];

export function registerSource(source: Source): void {
  if (sources.some((s) => s.name === source.name)) throw new Error(`source "${source.name}" registered twice`);
  sources.push(source);
}

for (const source of platformSources(platform())) registerSource(source);

export function sourcesFor(cadence: Source['cadence']): readonly Source[] {
  return sources.filter((s) => s.cadence === cadence);
}
