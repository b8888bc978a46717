import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writePrivateFileAtomically } from '../src/private-files.ts';
import type { EventMessage } from '../src/contract/schemas.ts';

// What the agent remembers across restarts: the last boot time (to see a reboot) and the hash
// of the last inventory it published (to publish only changes). Written atomically, owner-only.

export interface AgentState {
  bootTimeMs?: number;
  inventoryHash?: string;
}

/** Pure: a damaged or foreign state file is an empty state, never a crash. */
export function parseState(text: string): AgentState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {};
  }
  const raw = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const state: AgentState = {};
  if (typeof raw.bootTimeMs === 'number' && Number.isFinite(raw.bootTimeMs)) state.bootTimeMs = raw.bootTimeMs;
  if (typeof raw.inventoryHash === 'string') state.inventoryHash = raw.inventoryHash;
  return state;
}

export function loadState(dir: string): AgentState {
  try {
    return parseState(readFileSync(join(dir, 'state.json'), 'utf8'));
  } catch {
    return {};
  }
}

export function saveState(dir: string, state: AgentState): void {
  writePrivateFileAtomically(join(dir, 'state.json'), JSON.stringify(state));
}

/** A boot time that moved by more than a minute is a reboot (uptime and clock jitter stay well under that). */
export function isReboot(previous: number | undefined, current: number): boolean {
  return previous !== undefined && Math.abs(current - previous) > 60_000;
}

/** Pure: the `reboot` event when the boot time changed since the last run, else nothing. */
export function rebootEvent(previousBootMs: number | undefined, bootMs: number, now: number): EventMessage | undefined {
  if (previousBootMs === undefined || !isReboot(previousBootMs, bootMs)) return undefined;
  return { v: 1, ts: now, type: 'reboot', severity: 'warning', message: 'system restarted since the agent last ran', data: { boot_time_ms: bootMs, previous_boot_time_ms: previousBootMs } };
}
