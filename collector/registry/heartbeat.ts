// Pure: which online devices have been silent too long. A device announces its interval in its
// birth message; it is offline after three missed intervals, never sooner than the floor.

export interface HeartbeatCandidate {
  key: string;
  lastSeen: number;
  intervalS: number | null;
}

export function heartbeatTimeoutMs(intervalS: number | null, floorS: number): number {
  return Math.max(3 * (intervalS ?? 0), floorS) * 1000;
}

export function timedOut(devices: Iterable<HeartbeatCandidate>, now: number, floorS: number): string[] {
  const out: string[] = [];
  for (const d of devices) if (now - d.lastSeen > heartbeatTimeoutMs(d.intervalS, floorS)) out.push(d.key);
  return out;
}
