import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// What the agent remembers across restarts: the last boot time (to see a reboot) and the hash
// of the last inventory it published (to publish only changes). Written atomically, owner-only.

export interface AgentState {
  bootTimeMs?: number;
  inventoryHash?: string;
}

export function loadState(dir: string): AgentState {
  try {
    const parsed = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as AgentState;
    return typeof parsed === 'object' && parsed !== null ? parsed : {};
  } catch {
    return {};
  }
}

export function saveState(dir: string, state: AgentState): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'state.json');
  writeFileSync(`${file}.tmp`, JSON.stringify(state), { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  chmodSync(file, 0o600);
}

/** A boot time that moved by more than a minute is a reboot (uptime and clock jitter stay well under that). */
export function isReboot(previous: number | undefined, current: number): boolean {
  return previous !== undefined && Math.abs(current - previous) > 60_000;
}
