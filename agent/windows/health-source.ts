import { execFile } from 'node:child_process';
import { uptime } from 'node:os';
import { win32 } from 'node:path';
import type { Source } from '../sources/types.ts';
import { bootTimeMs } from '../sources/system.ts';
import { setWindowsDrives } from './drives.ts';
import { healthScript } from './health-script.ts';
import { healthMetrics, parseHealthOutput, type NetSnapshot } from './parse-health.ts';

// The Windows hardware cadence's one process: powershell.exe running the health script
// (agent/windows/health-script.ts) and printing one JSON document. It replaces the
// systeminformation calls that each started PowerShell (page file, network counters,
// temperature, three for the battery, the drive list) and adds disk failure prediction, WHEA
// errors, services, pending reboot, updates and Defender (docs/agent.md#windows-health).

export const POWERSHELL_ARGS: readonly string[] = ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-Command', '-'];
export const HEALTH_TIMEOUT_MS = 60_000;
/** The report is a few kilobytes; a hundred WHEA events and update titles stay far below this. */
export const HEALTH_MAX_BYTES = 4 * 1024 * 1024;

/** Pure: Windows PowerShell 5.1 by its full path, so no powershell.exe earlier on the PATH is run as SYSTEM. */
export function powershellPath(env: NodeJS.ProcessEnv): string {
  return win32.join(env.SystemRoot ?? env.windir ?? 'C:\\Windows', 'System32', 'WindowsPowerShell', 'v1.0', 'powershell.exe');
}

export interface RunOptions {
  command: string;
  args: readonly string[];
  timeoutMs: number;
  maxBytes: number;
}

export interface ScriptRun {
  stdout: string;
  durationMs: number;
}

/**
 * Starts `command args`, writes `script` to its standard input and collects standard output.
 * Rejects with one clear line on a timeout (the process is killed), an output over `maxBytes`,
 * a command that cannot start, or an exit with nothing printed; output that is there is
 * returned whatever the exit code (PowerShell's exit code says little; the JSON says it all).
 */
export function runScript(script: string, options: RunOptions): Promise<ScriptRun> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = execFile(
      options.command,
      [...options.args],
      { timeout: options.timeoutMs, killSignal: 'SIGKILL', maxBuffer: options.maxBytes, windowsHide: true, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const durationMs = performance.now() - started;
        if (!error) return resolve({ stdout, durationMs });
        const e = error as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null; code?: string | number | null };
        if (e.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') return reject(new Error(`the health script printed more than ${options.maxBytes} bytes; stopped`));
        if (e.killed) return reject(new Error(`the health script did not finish within ${Math.round(options.timeoutMs / 1000)} s; stopped`));
        if (typeof e.code === 'string') return reject(new Error(`cannot start ${options.command}: ${e.code}`));
        if (stdout.trim() !== '') return resolve({ stdout, durationMs });
        const why = stderr.trim().split(/\r?\n/)[0]?.slice(0, 200) ?? '';
        reject(new Error(`the health script failed (exit ${e.code ?? e.signal ?? '?'})${why ? `: ${why}` : ''}`));
      },
    );
    // A process that dies before reading its input makes the write fail: the exit callback reports it.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(script, 'utf8');
  });
}

export interface WindowsHealthOptions {
  /** The configured services, read at every round (agent.yaml windows.services). */
  services: () => readonly string[];
  /** The one process; tests put a real stand-in process here. */
  run?: (script: string) => Promise<ScriptRun>;
  now?: () => number;
  /** Where the fixed drive list goes (the fs source). */
  onDrives?: typeof setWindowsDrives;
}

export function createWindowsHealthSource(options: WindowsHealthOptions): Source {
  const run = options.run ?? ((script: string) => runScript(script, { command: powershellPath(process.env), args: POWERSHELL_ARGS, timeoutMs: HEALTH_TIMEOUT_MS, maxBytes: HEALTH_MAX_BYTES }));
  const now = options.now ?? Date.now;
  const onDrives = options.onDrives ?? setWindowsDrives;
  let previousNet: NetSnapshot | undefined;
  let pendingSince: number | undefined;
  return {
    name: 'windows_health',
    cadence: 'slow',
    async collect() {
      const services = options.services();
      const { stdout, durationMs } = await run(healthScript({ services }));
      const parsed = parseHealthOutput(stdout);
      if ('error' in parsed) throw new Error(parsed.error);
      const at = now();
      const result = healthMetrics(parsed.report, { now: at, services, bootMs: bootTimeMs(at, uptime()), previousNet, pendingSince, durationMs });
      previousNet = result.net ?? previousNet;
      pendingSince = result.pendingSince;
      if (result.drives) onDrives(result.drives);
      return result.metrics;
    },
  };
}
