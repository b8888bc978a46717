import type { DeviceKind, DeviceMessage } from '../../src/contract/schemas.ts';
import type { DeviceAddress } from '../../src/contract/topics.ts';
import type { Logger } from '../../src/log.ts';
import { DeviceUnreachableError, type DeviceDriver, type DeviceSession, type DriverTarget, type Language } from './driver.ts';
import type { DeviceEntry } from './inventory.ts';
import { outcomeMessages, stateMessage } from './poll-messages.ts';

// Schedules every configured device on its own interval and polls at most `concurrency` at
// once, so a thousand UPS cards never open a thousand sockets in the same millisecond and one
// dead device (waiting out its timeouts) never delays the others. A device whose previous poll
// is still running or waiting is skipped and counted (`overruns`), never stacked.

export interface PlannedDevice {
  device: DeviceEntry;
  kind: DeviceKind;
  intervalS: number;
  targets: DriverTarget[];
  /** Equal fingerprints: unchanged by a reload, keeps its sessions and counters. */
  fingerprint: string;
}

export interface PollerOptions {
  drivers: ReadonlyMap<string, DeviceDriver>;
  concurrency: number;
  language: Language;
  deliver: (address: DeviceAddress, message: DeviceMessage, receivedAt: number) => void;
  log: Logger;
}

export interface PollerStats {
  devices: number;
  polls: number;
  unreachable: number;
  problems: number;
  overruns: number;
  running: number;
  waiting: number;
}

interface Scheduled {
  plan: PlannedDevice;
  /** Every session's driver batches its own work (ICMP): the poll only waits, so it takes no slot. */
  batched: boolean;
  sessions: DeviceSession[];
  timer: NodeJS.Timeout | undefined;
  busy: boolean;
  online: boolean | undefined;
  lastProblems: number;
  stopped: boolean;
}

const keyOf = (d: DeviceEntry) => `${d.site}/${d.id}`;

export class DevicePoller {
  private readonly options: PollerOptions;
  private readonly devices = new Map<string, Scheduled>();
  private readonly waiting: Scheduled[] = [];
  private running = 0;
  private readonly counts = { polls: 0, unreachable: 0, problems: 0, overruns: 0 };
  private readonly inFlight = new Set<Promise<void>>();

  constructor(options: PollerOptions) {
    this.options = options;
  }

  /** Applies a (re)loaded inventory: new devices start, removed ones stop, changed ones restart. */
  update(plans: readonly PlannedDevice[]): { added: number; removed: number; changed: number } {
    const next = new Map(plans.map((p) => [keyOf(p.device), p]));
    const counts = { added: 0, removed: 0, changed: 0 };
    for (const [key, scheduled] of this.devices) {
      const plan = next.get(key);
      if (plan?.fingerprint === scheduled.plan.fingerprint) continue;
      this.stopDevice(scheduled);
      this.devices.delete(key);
      if (plan) {
        counts.changed++;
        this.startDevice(plan);
      } else {
        counts.removed++;
        const now = Date.now();
        this.options.deliver(address(scheduled.plan.device), stateMessage({ ...scheduled.plan, ts: now }, false, 'removed from the device list'), now);
      }
    }
    for (const [key, plan] of next) {
      if (this.devices.has(key)) continue;
      counts.added++;
      this.startDevice(plan);
    }
    return counts;
  }

  stats(): PollerStats {
    return { devices: this.devices.size, ...this.counts, running: this.running, waiting: this.waiting.length };
  }

  async close(): Promise<void> {
    for (const scheduled of this.devices.values()) this.stopDevice(scheduled);
    this.devices.clear();
    this.waiting.length = 0;
    await Promise.allSettled([...this.inFlight]);
  }

  private startDevice(plan: PlannedDevice): void {
    const sessions: DeviceSession[] = [];
    for (const target of plan.targets) {
      const driver = this.options.drivers.get(target.profile.driver);
      if (!driver) continue;
      try {
        sessions.push(driver.open({ ...target, language: this.options.language }));
      } catch (error) {
        this.options.log.log('error', 'cannot open device session', { device: keyOf(plan.device), profile: target.profile.id, error: (error as Error).message });
      }
    }
    const batched = plan.targets.length > 0 && plan.targets.every((t) => this.options.drivers.get(t.profile.driver)?.batched === true);
    const scheduled: Scheduled = { plan, batched, sessions, timer: undefined, busy: false, online: undefined, lastProblems: 0, stopped: false };
    this.devices.set(keyOf(plan.device), scheduled);
    // The first poll comes within 10 s (a new device shows up at once, a restart is spread out);
    // after it, each device keeps its own phase of the interval, so 500 devices every 60 s are
    // polled at a steady ~8 a second rather than in a burst every minute (bench/snmp.ts noticed).
    const intervalMs = plan.intervalS * 1000;
    const phase = pollPhase(keyOf(plan.device), intervalMs);
    const tick = () => {
      if (scheduled.stopped) return;
      scheduled.timer = setTimeout(tick, nextPollDelay(Date.now(), intervalMs, phase));
      this.due(scheduled);
    };
    scheduled.timer = setTimeout(tick, Math.random() * Math.min(intervalMs, 10_000));
  }

  private stopDevice(scheduled: Scheduled): void {
    scheduled.stopped = true;
    clearTimeout(scheduled.timer);
    const at = this.waiting.indexOf(scheduled);
    if (at >= 0) this.waiting.splice(at, 1);
    for (const session of scheduled.sessions) session.close();
  }

  private due(scheduled: Scheduled): void {
    if (scheduled.busy) {
      this.counts.overruns++;
      return;
    }
    scheduled.busy = true;
    if (scheduled.batched) this.run(scheduled, false);
    else {
      this.waiting.push(scheduled);
      this.drain();
    }
  }

  private drain(): void {
    while (this.running < this.options.concurrency && this.waiting.length > 0) this.run(this.waiting.shift()!, true);
  }

  private run(scheduled: Scheduled, takesSlot: boolean): void {
    if (takesSlot) this.running++;
    const run = this.pollDevice(scheduled).finally(() => {
      if (takesSlot) this.running--;
      scheduled.busy = false;
      this.inFlight.delete(run);
      this.drain();
    });
    this.inFlight.add(run);
  }

  private async pollDevice(scheduled: Scheduled): Promise<void> {
    const { plan } = scheduled;
    const started = Date.now();
    // A poll ends by its interval (the next one is due then), but a short interval still leaves a
    // slow device 10 s to finish a long table walk; the polls it misses meanwhile are counted as overruns.
    const signal = AbortSignal.timeout(Math.max(10_000, plan.intervalS * 1000));
    const results = await Promise.allSettled(scheduled.sessions.map((s) => s.poll(signal)));
    if (scheduled.stopped) return;
    this.counts.polls++;
    const ts = Date.now();
    const summary = { device: plan.device, kind: plan.kind, intervalS: plan.intervalS, ts, durationMs: ts - started };
    const addr = address(plan.device);
    const answered = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (answered.length === 0) {
      this.counts.unreachable++;
      const why = results.map((r) => (r.status === 'rejected' ? reasonOf(r.reason) : 'ok'))[0] ?? 'no session (see the log)';
      if (scheduled.online !== false) {
        scheduled.online = false;
        this.options.log.log('warn', 'device unreachable', { device: keyOf(plan.device), address: plan.device.address, reason: why });
        this.options.deliver(addr, stateMessage(summary, false, `unreachable: ${why}`), ts);
      }
      return;
    }
    if (scheduled.online !== true) {
      scheduled.online = true;
      this.options.deliver(addr, stateMessage(summary, true), ts);
    }
    const merged = { metrics: answered.flatMap((o) => o.metrics), events: answered.flatMap((o) => o.events), problems: answered.flatMap((o) => o.problems) };
    for (const r of results) if (r.status === 'rejected') merged.problems.push(`a profile did not answer: ${reasonOf(r.reason)}`);
    const { messages, problems } = outcomeMessages(merged, summary);
    this.counts.problems += problems.length;
    if (problems.length > 0 && scheduled.lastProblems === 0) this.options.log.log('warn', 'device sent values that could not be used', { device: keyOf(plan.device), count: problems.length, first: problems.slice(0, 3) });
    scheduled.lastProblems = problems.length;
    for (const message of messages) this.options.deliver(addr, message, ts);
  }
}

/** A device's fixed offset within its interval, from its name: stable across restarts and reloads. */
export function pollPhase(key: string, intervalMs: number): number {
  let hash = 2166136261;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 16777619) >>> 0;
  return hash % intervalMs;
}

/** Milliseconds until the next moment `t` with t ≡ phase (mod interval), at least a quarter interval away so a late first poll is not followed at once by another. */
export function nextPollDelay(now: number, intervalMs: number, phase: number): number {
  const delay = (((phase - now) % intervalMs) + intervalMs) % intervalMs;
  return delay < intervalMs / 4 ? delay + intervalMs : delay;
}

function address(device: DeviceEntry): DeviceAddress {
  return { site: device.site, device: device.id };
}

function reasonOf(error: unknown): string {
  if (error instanceof DeviceUnreachableError) return error.reason;
  return error instanceof Error ? error.message.slice(0, 100) : 'error';
}
