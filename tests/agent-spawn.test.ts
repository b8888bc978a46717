import { afterAll, describe, expect, it } from 'vitest';
import { recordSpawns } from './helpers/spawn-recorder.ts';

// The fast path runs every few seconds on thousands of PCs: it must not start processes.
// child_process is wrapped before the agent (and systeminformation) is loaded, so every spawn
// anywhere in this worker is seen.

const { spawned, restore } = recordSpawns();
afterAll(restore);

describe('fast path on Linux (the platform this suite runs on)', () => {
  it('collects cpu, mem, swap, fs, diskio, net and system without spawning a process', async () => {
    const { sourcesFor } = await import('../agent/sources/index.ts');
    const { createCollector } = await import('../agent/collect.ts');
    const collector = createCollector({ log: () => undefined });
    const fast = sourcesFor('fast');
    expect(fast.map((s) => s.name).sort()).toEqual(['cpu', 'diskio', 'fs', 'mem', 'net', 'swap', 'system']);
    await collector.collect(fast, 5_000);
    await new Promise((r) => setTimeout(r, 300));
    const metrics = await collector.collect(fast, 5_000);
    expect(new Set(metrics.map((m) => m.name))).toEqual(new Set(['cpu', 'mem', 'swap', 'fs', 'diskio', 'net', 'system']));
    expect(metrics.find((m) => m.name === 'cpu')?.fields).toHaveProperty('usage_pct');
    expect(spawned).toEqual([]);
  });

  it('the wrapper does see spawns (so the check above can fail)', async () => {
    const si = (await import('systeminformation')).default;
    await si.currentLoad(); // runs `cat /proc/stat | grep cpu` via execSync on Linux
    expect(spawned.some((s) => s.includes('/proc/stat'))).toBe(true);
  });
});
