import childProcess from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';

// The fast path runs every few seconds on thousands of PCs: it must not start processes.
// child_process is wrapped before the agent (and systeminformation) is loaded, so every spawn
// anywhere in this worker is seen.

const spawned: string[] = [];
const originals = new Map<string, unknown>();
const patchable = childProcess as unknown as Record<string, (...args: unknown[]) => unknown>;
for (const name of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']) {
  const original = patchable[name]!;
  originals.set(name, original);
  patchable[name] = function (this: unknown, ...args: unknown[]) {
    spawned.push(`${name} ${String(args[0]).slice(0, 60)}`);
    return original.apply(this, args);
  };
}
afterAll(() => {
  for (const [name, original] of originals) patchable[name] = original as (...args: unknown[]) => unknown;
});

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
