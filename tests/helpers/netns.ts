import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

// Test "internet lines": a network namespace each, joined to ours by a veth pair with a /30;
// the far end answers pings and can be taken down. Needs root (CI runs as root).

export interface Line {
  ns: string;
  hostVeth: string;
  nsVeth: string;
  /** Our end: the source address of probes through this line. */
  local: string;
  /** The far end, the target. */
  remote: string;
}

export const sh = (command: string, args: string[]) => execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** Creates `count` lines named after `prefix` (≤ 3 characters) in 10.<subnet>.x.0/30 ranges; a random tag keeps parallel runs apart. */
export function createLines(prefix: string, subnet: number, count: number): Line[] {
  const tag = randomBytes(3).toString('hex');
  const octet = 10 + 2 * Math.floor(Math.random() * 110);
  const lines: Line[] = [];
  for (let n = 1; n <= count; n++) {
    const line: Line = { ns: `bi-${prefix}${n}-${tag}`, hostVeth: `${prefix.slice(0, 2)}${n}h${tag}`, nsVeth: `${prefix.slice(0, 2)}${n}n${tag}`, local: `10.${subnet}.${octet + n - 1}.1`, remote: `10.${subnet}.${octet + n - 1}.2` };
    lines.push(line);
    sh('ip', ['netns', 'add', line.ns]);
    sh('ip', ['link', 'add', line.hostVeth, 'type', 'veth', 'peer', 'name', line.nsVeth, 'netns', line.ns]);
    sh('ip', ['addr', 'add', `${line.local}/30`, 'dev', line.hostVeth]);
    sh('ip', ['link', 'set', line.hostVeth, 'up']);
    sh('ip', ['-n', line.ns, 'addr', 'add', `${line.remote}/30`, 'dev', line.nsVeth]);
    sh('ip', ['-n', line.ns, 'link', 'set', line.nsVeth, 'up']);
    sh('ip', ['-n', line.ns, 'link', 'set', 'lo', 'up']);
  }
  return lines;
}

/** Deleting a namespace deletes its veth end and with it ours; also after a failed setup. */
export function removeLines(lines: readonly Line[]): void {
  for (const line of lines) {
    for (const args of [['netns', 'del', line.ns], ['link', 'del', line.hostVeth]]) {
      try {
        sh('ip', args);
      } catch {
        // already gone
      }
    }
  }
}
