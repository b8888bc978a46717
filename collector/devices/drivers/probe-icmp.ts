import { spawn } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { z } from 'zod';
import { DeviceUnreachableError, type DeviceDriver, type DeviceSession, type DriverTarget, type PollOutcome } from '../driver.ts';
import { deviceName, isHost, round, sourceAddressSchema } from './probe-tcp.ts';

// Uptime probe by ICMP echo (ping) through Debian's fping: packet loss, round-trip time and
// jitter of an internet line, a remote unit's fiber, a building's switch.
//
// Many devices, few processes: pings asked for within WINDOW_MS are gathered and run as ONE
// `fping -C <count> -q …` over all their targets (at most MAX_TARGETS; more start another run,
// and runs go on side by side). A run is per source address (`-S`, the redundant internet line
// a device is probed through) and per count/period/timeout, since those are fping-wide flags.
// Host names are resolved here, per device, before a device joins a run: fping would resolve
// them one after the other and a slow name would hold up every target of the run.
//
// Down: not one reply (`timeout`). Some replies lost is not down: `loss_pct` says how much and
// an alert rule decides. A dead target in a run delays the others' results by at most its
// timeout (the run ends when its last ping timed out), never by more. fping needs CAP_NET_RAW
// (Debian's package grants it).

/** Pings asked for within this window share one fping run. */
const WINDOW_MS = 100;
/** Targets per fping run: bounds one command line and one run's length. */
const MAX_TARGETS = 500;
/** fping's gap between any two packets it sends (-i, its minimum is 1): 500 targets × 3 pings take 1.5 s. */
const SEND_GAP_MS = 1;
const DEFAULT_TIMEOUT_MS = 1_000;
/** Bound on what one run can make us hold (500 targets × 100 pings × 8 characters fit well). */
const MAX_OUTPUT_BYTES = 8 * 1024 * 1024;

const icmpOptionsSchema = z.strictObject({
  count: z.number({ error: 'expected a number of pings' }).int('expected a whole number of pings').min(1, 'at least 1 ping').max(100, 'at most 100 pings').default(3),
  /** Time between two pings to the same target (fping -p). */
  periodMs: z.number({ error: 'expected milliseconds' }).int('expected whole milliseconds').min(20, 'at least 20 ms').max(10_000, 'at most 10000 ms').default(500),
  sourceAddress: sourceAddressSchema.optional(),
});

export interface PingSettings {
  count: number;
  periodMs: number;
  /** How long to wait for each reply (fping -t): the device's timeoutMs. */
  timeoutMs: number;
  sourceAddress?: string | undefined;
}

/** One round-trip time (ms) per ping sent, null for a ping that got no reply. */
export type Rtts = (number | null)[];

interface Waiter {
  resolve: (rtts: Rtts) => void;
  reject: (error: unknown) => void;
}

interface Run {
  settings: PingSettings;
  targets: Map<string, Set<Waiter>>;
  timer: NodeJS.Timeout | undefined;
}

/** Gathers pings into shared fping runs. */
export class FpingBatcher {
  /** fping processes started: for the collector's own metrics and the tests' proof of batching. */
  spawned = 0;
  private readonly windowMs: number;
  private readonly maxTargets: number;
  private readonly gathering = new Map<string, Run>();

  constructor(options: { windowMs: number; maxTargets: number }) {
    this.windowMs = options.windowMs;
    this.maxTargets = options.maxTargets;
  }

  /** Round-trip times to `ip` (an IP address, never a name or anything fping could take for an option). */
  ping(ip: string, settings: PingSettings, signal: AbortSignal): Promise<Rtts> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      if (isIP(ip) === 0) return reject(new Error(`fping: "${ip}" is not an IP address`));
      const key = JSON.stringify([settings.sourceAddress ?? '', settings.count, settings.periodMs, settings.timeoutMs]);
      let run = this.gathering.get(key);
      if (!run) {
        const created: Run = { settings, targets: new Map(), timer: undefined };
        created.timer = setTimeout(() => this.start(key, created), this.windowMs);
        this.gathering.set(key, created);
        run = created;
      }
      const waiters = run.targets.get(ip) ?? new Set<Waiter>();
      run.targets.set(ip, waiters);
      const onAbort = () => {
        // A poll that gave up leaves the run; the others' results still come.
        waiters.delete(waiter);
        reject(signal.reason);
      };
      const waiter: Waiter = {
        resolve: (rtts) => {
          signal.removeEventListener('abort', onAbort);
          resolve(rtts);
        },
        reject: (error) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      waiters.add(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
      if (run.targets.size >= this.maxTargets) {
        clearTimeout(run.timer);
        this.start(key, run);
      }
    });
  }

  private start(key: string, run: Run): void {
    if (this.gathering.get(key) === run) this.gathering.delete(key);
    const targets = [...run.targets].filter(([, waiters]) => waiters.size > 0);
    if (targets.length === 0) return;
    const { count, periodMs, timeoutMs, sourceAddress } = run.settings;
    const args = ['-C', String(count), '-q', '-p', String(periodMs), '-t', String(timeoutMs), '-i', String(SEND_GAP_MS), ...(sourceAddress ? ['-S', sourceAddress] : []), '--', ...targets.map(([ip]) => ip)];
    // A hung fping must not hold its polls forever: it is killed well after it should have ended.
    const killAfterMs = count * periodMs + targets.length * count * SEND_GAP_MS + timeoutMs + 10_000;
    this.spawned++;
    runFping(args, killAfterMs).then(
      (stderr) => {
        const results = parseFpingCounts(stderr);
        for (const [ip, waiters] of targets) {
          const rtts = results.get(ip);
          for (const waiter of [...waiters]) {
            if (rtts?.length === count) waiter.resolve(rtts);
            else waiter.reject(new Error(`fping gave no result for ${ip}: ${complaints(stderr) || 'no reason given'}`));
          }
        }
      },
      (error: unknown) => {
        for (const [, waiters] of targets) for (const waiter of [...waiters]) waiter.reject(error);
      },
    );
  }
}

/** The batcher every ICMP device shares. */
export const fping = new FpingBatcher({ windowMs: WINDOW_MS, maxTargets: MAX_TARGETS });

/** Runs fping, resolves with its stderr (where -C results go) when it ran, rejects when it could not. */
function runFping(args: string[], killAfterMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('fping', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < MAX_OUTPUT_BYTES) stderr += chunk;
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(killer);
      reject(new Error(error.code === 'ENOENT' ? 'fping is not installed (apt install fping)' : `fping could not start: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(killer);
      // 0: all answered, 1: some did not, 2: a name was not found. 3 and 4: bad arguments or a system call failed (e.g. -S not an address here).
      if (code !== null && code <= 2) resolve(stderr);
      else reject(new Error(`fping ${signal ? `was killed (${signal})` : `failed (exit ${code})`}: ${complaints(stderr) || 'no message'}`));
    });
  });
}

const RESULT_LINE = /^(\S+)\s+:((?:\s+(?:\d+(?:\.\d+)?|-))+)\s*$/;

/** fping -C -q output: `host : 0.05 0.04 -` per target → round-trip times per host. */
export function parseFpingCounts(stderr: string): Map<string, Rtts> {
  const results = new Map<string, Rtts>();
  for (const line of stderr.split('\n')) {
    const match = RESULT_LINE.exec(line);
    if (match) results.set(match[1]!, match[2]!.trim().split(/\s+/).map((v) => (v === '-' ? null : Number(v))));
  }
  return results;
}

/** fping's own messages (everything but result lines), shortened for a reason text. */
function complaints(stderr: string): string {
  return stderr
    .split('\n')
    .filter((line) => line.trim() !== '' && !RESULT_LINE.test(line))
    .slice(0, 2)
    .join('; ')
    .slice(0, 160);
}

/** The `probe` fields of one target's pings; undefined when not one reply came. */
export function pingFields(rtts: Rtts): Record<string, number> | undefined {
  const replies = rtts.filter((v): v is number => v !== null);
  if (replies.length === 0) return undefined;
  const avg = replies.reduce((a, b) => a + b, 0) / replies.length;
  const fields: Record<string, number> = {
    ok: 1,
    latency_ms: round(avg),
    loss_pct: round(((rtts.length - replies.length) / rtts.length) * 100, 2),
    rtt_ms: round(avg),
    rtt_min_ms: round(Math.min(...replies)),
    rtt_max_ms: round(Math.max(...replies)),
  };
  // Jitter: mean absolute difference of successive replies' round-trip times (as RFC 3550 uses it, without smoothing).
  if (replies.length >= 2) fields.jitter_ms = round(replies.slice(1).reduce((sum, v, i) => sum + Math.abs(v - replies[i]!), 0) / (replies.length - 1));
  return fields;
}

/** A host name → an address of the family the source address has (any when none is set). */
async function resolveHost(host: string, sourceAddress: string | undefined, signal: AbortSignal): Promise<string> {
  if (isIP(host) !== 0) return host;
  const family = sourceAddress === undefined ? 0 : isIP(sourceAddress);
  const aborted = new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
  try {
    return (await Promise.race([lookup(host, { family }), aborted])).address;
  } catch (error) {
    if (signal.aborted) throw error;
    throw new DeviceUnreachableError(`ICMP ${host}: host name not found (${(error as NodeJS.ErrnoException).code ?? 'error'})`, 'error');
  }
}

export const probeIcmpDriver: DeviceDriver = {
  name: 'probe-icmp',
  credential: 'none',
  batched: true,
  options: icmpOptionsSchema,
  open(target: DriverTarget): DeviceSession {
    const options = icmpOptionsSchema.parse(target.device.options);
    const host = target.device.address;
    if (!isHost(host)) throw new Error(`${deviceName(target)}: address "${host}" must be an IP address or host name (ICMP has no port)`);
    if (options.sourceAddress && isIP(host) !== 0 && isIP(host) !== isIP(options.sourceAddress)) {
      throw new Error(`${deviceName(target)}: options.sourceAddress ${options.sourceAddress} and address ${host} are not of the same IP version`);
    }
    const settings: PingSettings = { count: options.count, periodMs: options.periodMs, timeoutMs: target.device.timeoutMs ?? DEFAULT_TIMEOUT_MS, sourceAddress: options.sourceAddress };
    // The poller cuts a poll at its interval: pings that cannot fit would show a healthy line as down.
    const needsMs = WINDOW_MS + (settings.count - 1) * settings.periodMs + settings.timeoutMs;
    const intervalS = target.device.intervalS;
    if (intervalS !== undefined && needsMs > intervalS * 1000) {
      throw new Error(`${deviceName(target)}: ${settings.count} pings every ${settings.periodMs} ms with a ${settings.timeoutMs} ms timeout take up to ${needsMs} ms, longer than intervalS ${intervalS}: lower options.count or options.periodMs, or raise intervalS`);
    }
    return {
      poll: (signal) => probeIcmp(host, settings, signal),
      close: () => {},
    };
  },
};

async function probeIcmp(host: string, settings: PingSettings, signal: AbortSignal): Promise<PollOutcome> {
  let rtts: Rtts;
  try {
    rtts = await fping.ping(await resolveHost(host, settings.sourceAddress, signal), settings, signal);
  } catch (error) {
    if (signal.aborted) throw new DeviceUnreachableError(`ICMP ${host}: the poll ran out of time`, 'timeout');
    throw error;
  }
  const fields = pingFields(rtts);
  if (!fields) throw new DeviceUnreachableError(`ICMP ${host}: no echo reply to ${settings.count} ping${settings.count > 1 ? 's' : ''}`, 'timeout');
  return { metrics: [{ name: 'probe', fields }], events: [], problems: [] };
}
