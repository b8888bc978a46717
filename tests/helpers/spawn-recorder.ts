import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';

// Wraps every process-starting function of child_process so a test sees each start in this
// worker (the agent's fast path must start none). Named ESM imports follow the wrapped object
// once syncBuiltinESMExports has run.

const STARTERS = ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'] as const;

export function recordSpawns(): { spawned: string[]; restore: () => void } {
  const spawned: string[] = [];
  const patchable = childProcess as unknown as Record<string, (...args: unknown[]) => unknown>;
  const originals = new Map<string, (...args: unknown[]) => unknown>();
  for (const name of STARTERS) {
    const original = patchable[name]!;
    originals.set(name, original);
    patchable[name] = function (this: unknown, ...args: unknown[]) {
      spawned.push(`${name} ${String(args[0]).slice(0, 60)}`);
      return original.apply(this, args);
    };
  }
  syncBuiltinESMExports();
  return {
    spawned,
    restore() {
      for (const [name, original] of originals) patchable[name] = original;
      syncBuiltinESMExports();
    },
  };
}
