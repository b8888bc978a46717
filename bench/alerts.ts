import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import type { MqttClient } from 'mqtt';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { MAX_POINT_AGE_MS } from '../collector/alerts/alert-service.ts';
import { parseDuration } from '../src/duration.ts';
import { RuleEngine, alertId, type ActiveAlert, type AlertChange } from '../collector/alerts/engine.ts';
import type { Rule } from '../collector/alerts/rule-schema.ts';
import { DEFAULT_RULES_FILE, loadRules, parseRules } from '../collector/alerts/rules-loader.ts';
import type { FieldValue, Point } from '../collector/model/point.ts';
import { validateConfig } from '../src/config/load.ts';
import { startCollectorProcess, type CollectorProcess } from '../tests/helpers/collector-process.ts';
import { connectClient, publish } from '../tests/helpers/mqtt-client.ts';
import { mulberry32 } from '../tests/helpers/prng.ts';
import { freePort, startInfluxDB, tempDir, waitFor, type InfluxServer } from '../tests/helpers/servers.ts';
import { startFakeNetgsm, type FakeGateway, type NetgsmDelivery } from '../tests/helpers/sms-gateways.ts';
import { startSmtpServer, type SmtpTestServer } from '../tests/helpers/smtp-server.ts';
import { commandVersion, machine, median, packageVersion, quantile, round, writeResult } from './lib.ts';

// Alerting benchmark, two parts.
// Throughput: the real RuleEngine with the shipped default rules, in this process, fed a
// simulated municipal fleet (agents' fast and hardware messages, SNMP/HTTP polls of switches,
// UPSs, NVRs, printers and room sensors, device states and events) in the order and with the
// timestamps live data would have, only faster; a few per cent of the devices go in and out of
// faults so rules fire and resolve. Only engine.observe() is timed, not making the points.
// Latency: a real collector process with a notification file, a real SMTP server and the Netgsm
// stand-in in this process; a UPS publishes `on_battery: 1` over MQTT like a device would, and
// the time until the mail's DATA has been received and the SMS gateway has been called is taken
// on this process's clock.

// ---- inputs -----------------------------------------------------------------------------------

const count = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const inputsSchema = z.strictObject({
  devices: count(100, 1_000_000),
  seconds: count(1, 600),
  runs: count(1, 50),
  iterations: count(1, 1_000),
  'group-waits': z
    .string()
    .transform((text) => text.split(',').map((part) => part.trim()))
    .pipe(z.array(z.string().refine((text) => parseDuration(text) !== undefined, 'expected durations like "1s,10s"')).min(1).max(5)),
});
type Inputs = z.infer<typeof inputsSchema>;

function parseInputs(args: string[]): Inputs {
  const { values } = parseArgs({
    args,
    options: {
      devices: { type: 'string', default: '10000' },
      // Engine time measured per run (only observe() counts), after a warm-up.
      seconds: { type: 'string', default: '5' },
      runs: { type: 'string', default: '3' },
      // Faults per groupWait setting (and once more with InfluxDB down).
      iterations: { type: 'string', default: '30' },
      'group-waits': { type: 'string', default: '1s,10s' },
    },
  });
  return validateConfig(inputsSchema, values, 'npm run bench -- alerts arguments');
}

// ---- the simulated fleet ----------------------------------------------------------------------

type Kind = 'pc' | 'server' | 'switch' | 'printer' | 'ups' | 'nvr' | 'sensor';
type MessageType = 'fast' | 'slow' | 'poll' | 'state' | 'event';

/** A municipality's devices by kind: mostly office PCs, one switch per ~10 devices, a UPS per building room. */
const FLEET_MIX: readonly (readonly [Kind, number])[] = [
  ['pc', 0.7],
  ['server', 0.08],
  ['switch', 0.08],
  ['printer', 0.05],
  ['ups', 0.04],
  ['nvr', 0.03],
  ['sensor', 0.02],
];
const DEVICES_PER_SITE = 100;
/** The agent's defaults (intervalS, hardwareIntervalS) and the collector's devices.defaultIntervalS. */
const AGENT_FAST_MS = 10_000;
const AGENT_SLOW_MS = 300_000;
const POLL_MS = 60_000;
/** The schedule repeats every 5 minutes: every interval above divides it. */
const CYCLE_MS = 300_000;
/** Devices that go in and out of faults (two cycles bad, two good): what makes rules fire and resolve. */
const TROUBLED_SHARE = 0.02;
const FAULT_CYCLES = 2;
/** Points reach the engine this long after they were taken (network and ingest). */
const DELIVERY_MS = 20;
const PC_MOUNTS = ['C:', 'D:', 'E:'];
const SERVER_MOUNTS = ['/', '/var', '/data'];
const SWITCH_PORTS = [...Array.from({ length: 24 }, (_, i) => `Gi1/0/${i + 1}`), 'Te1/1/1', 'Te1/1/2', 'Vlan1', 'Null0'];
const UPLINKS = ['Te1/1/1', 'Te1/1/2'];
const SUPPLIES = ['Black Toner', 'Cyan Toner', 'Magenta Toner', 'Yellow Toner'];

interface SimDevice {
  tags: { site: string; device: string; kind: Kind };
  kind: Kind;
  troubled: boolean;
  /** 0..1, fixed per device: where its levels sit (disk fill, load, temperature). */
  level: number;
  /** Offset, in cycles, of the device's fault phases. */
  faultOffset: number;
  /** Switches: the far site of the fiber uplinks, when the link is configured. */
  link?: string;
}

interface Due {
  at: number;
  device: number;
  type: MessageType;
}

interface Message {
  points: Point[];
  fields: number;
  now: number;
}

const AGENT_KINDS: ReadonlySet<Kind> = new Set(['pc', 'server']);
/** Kinds whose reboots the default rule unexpected_reboot watches. */
const REBOOTING_KINDS: ReadonlySet<Kind> = new Set(['server', 'switch', 'nvr', 'ups']);

function buildFleet(devices: number, random: () => number): SimDevice[] {
  const sites = Math.max(1, Math.round(devices / DEVICES_PER_SITE));
  const fleet: SimDevice[] = [];
  let share = 0;
  for (const [kind, part] of FLEET_MIX) {
    const upTo = Math.round((share += part) * devices);
    for (let n = 0; fleet.length < upTo; n++) {
      const site = `site-${String(fleet.length % sites).padStart(3, '0')}`;
      const device: SimDevice = { tags: { site, device: `${kind}-${n}`, kind }, kind, troubled: random() < TROUBLED_SHARE, level: random(), faultOffset: random() * 2 * FAULT_CYCLES };
      if (kind === 'switch' && random() < 0.5) device.link = `site-${String(Math.floor(random() * sites)).padStart(3, '0')}`;
      fleet.push(device);
    }
  }
  return fleet;
}

/** One cycle of messages, in time order: each device at its own phase of each of its intervals. */
function buildSchedule(fleet: readonly SimDevice[], random: () => number): Due[] {
  const due: Due[] = [];
  const every = (device: number, type: MessageType, intervalMs: number) => {
    const phase = Math.floor(random() * intervalMs);
    for (let at = phase; at < CYCLE_MS; at += intervalMs) due.push({ at, device, type });
  };
  fleet.forEach((d, i) => {
    if (AGENT_KINDS.has(d.kind)) {
      every(i, 'fast', AGENT_FAST_MS);
      every(i, 'slow', AGENT_SLOW_MS);
    } else every(i, 'poll', POLL_MS);
    if (d.troubled) {
      every(i, 'state', CYCLE_MS);
      if (REBOOTING_KINDS.has(d.kind)) every(i, 'event', CYCLE_MS);
    }
  });
  return due.sort((a, b) => a.at - b.at);
}

/** Where a device is in its fault pattern, in fault phases: odd whole parts are faults, the fraction is how far into one it is. */
const faultPhase = (d: SimDevice, time: number) => (time / CYCLE_MS + d.faultOffset) / FAULT_CYCLES;
const inFault = (d: SimDevice, time: number) => d.troubled && Math.floor(faultPhase(d, time)) % 2 === 1;

/** The points of one message, shaped like the collector makes them (data-model.md, devices-data-model.md). */
function messagePoints(d: SimDevice, type: MessageType, time: number, random: () => number): Point[] {
  const fault = inFault(d, time);
  const point = (measurement: string, fields: Record<string, FieldValue>, tags?: Record<string, string>): Point => ({ measurement, tags: { ...d.tags, ...tags }, fields, time });
  const jitter = (center: number, spread: number) => center + (random() - 0.5) * spread;
  const points: Point[] = [];
  switch (type) {
    case 'fast': {
      const usage = jitter(10 + d.level * 40, 20);
      points.push(point('cpu', { usage_pct: usage, user_pct: usage * 0.7, system_pct: usage * 0.3, load1: usage / 25, load5: usage / 30, load15: usage / 35, cores: 8 }));
      const memPct = jitter(40 + d.level * 30, 4);
      points.push(point('mem', { total_bytes: 17179869184, used_bytes: 171798691.84 * memPct, available_bytes: 171798691.84 * (100 - memPct), used_pct: memPct }));
      points.push(point('swap', { total_bytes: 2147483648, used_bytes: 0, used_pct: 0 }));
      (d.kind === 'server' ? SERVER_MOUNTS : PC_MOUNTS).forEach((mount, m) => {
        let used = 20 + d.level * 50 + m * 5;
        // A PC's system disk full; a server's data disk filling at a rate that reaches 100 % within hours.
        if (fault && d.kind === 'pc' && m === 0) used = 93;
        if (fault && d.kind === 'server' && m === 2) used += (faultPhase(d, time) % 1) * 5;
        points.push(point('fs', { size_bytes: 512110190592, used_bytes: 5121101905.92 * used, free_bytes: 5121101905.92 * (100 - used), used_pct: used, fstype: d.kind === 'server' ? 'ext4' : 'NTFS' }, { mount }));
      });
      points.push(point('diskio', { read_bps: jitter(200_000, 100_000), write_bps: jitter(100_000, 50_000), read_iops: jitter(20, 10), write_iops: jitter(10, 5) }));
      for (const iface of d.kind === 'server' ? ['eth0', 'eth1'] : ['eth0']) {
        points.push(point('net', { rx_bps: jitter(120_000, 50_000), tx_bps: jitter(80_000, 30_000), rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0, up: 1, speed_mbps: 1000 }, { iface }));
      }
      points.push(point('system', { uptime_s: Math.floor(time / 1000) % 864_000, boot_time_ms: time - 3_600_000, processes: 180 }));
      break;
    }
    case 'slow': {
      const sensors = d.kind === 'server' ? ['cpu', 'chipset', 'disk_sda'] : ['cpu', 'chipset'];
      for (const sensor of sensors) points.push(point('temp', { celsius: fault && sensor === 'cpu' ? 88 : jitter(45 + d.level * 15, 4) }, { sensor }));
      if (d.kind === 'server') for (const sensor of ['fan1', 'fan2']) points.push(point('fan', { rpm: jitter(4200, 300) }, { sensor }));
      for (const disk of d.kind === 'server' ? ['sda', 'sdb'] : ['sda']) {
        points.push(point('smart', { passed: 1, temperature_c: jitter(38, 4), power_on_hours: 21_000, reallocated_sectors: 0, pending_sectors: fault && disk === 'sdb' ? 3 : 0, media_errors: 0 }, { disk }));
      }
      if (d.kind === 'server') points.push(point('raid', { degraded: fault ? 1 : 0, active_devices: fault ? 1 : 2, total_devices: 2, state: fault ? 'degraded' : 'clean' }, { instance: 'md0' }));
      break;
    }
    case 'poll':
      points.push(...pollPoints(d, fault, point, jitter));
      points.push(point('snmp_poll', { duration_ms: jitter(40, 20), fields: 20, problems: 0 }));
      break;
    case 'state': {
      const agent = AGENT_KINDS.has(d.kind);
      points.push(point('device_state', { online: fault ? 0 : 1, reason: fault ? (agent ? 'lwt' : 'unreachable: timeout') : 'birth' }));
      break;
    }
    case 'event': {
      const lost = d.kind === 'ups' && fault;
      const type = d.kind === 'ups' ? (lost ? 'ups_communication_lost' : 'ups_communication_restored') : 'reboot';
      points.push(point('events', { count: 1, message: type === 'reboot' ? 'Cihaz yeniden başladı (sysUpTime geriye gitti)' : type, data: '{}' }, { type, severity: 'warning' }));
      break;
    }
  }
  return points;
}

type PointOf = (measurement: string, fields: Record<string, FieldValue>, tags?: Record<string, string>) => Point;

function pollPoints(d: SimDevice, fault: boolean, point: PointOf, jitter: (center: number, spread: number) => number): Point[] {
  const points: Point[] = [];
  switch (d.kind) {
    case 'switch':
      for (const iface of SWITCH_PORTS) {
        const uplink = UPLINKS.includes(iface);
        const down = fault && iface === UPLINKS[0];
        const errors = fault && iface === 'Gi1/0/5' ? 25 : 0;
        const tags: Record<string, string> = uplink && d.link ? { iface, link: d.link } : { iface };
        points.push(point('interface', { oper_up: down ? 0 : 1, admin_up: 1, speed_mbps: uplink ? 10_000 : 1000, in_bps: jitter(2e6, 1e6), out_bps: jitter(1e6, 5e5), in_errors_ps: errors, out_errors_ps: 0, in_discards_ps: 0, out_discards_ps: 0 }, tags));
      }
      for (const iface of UPLINKS) {
        const rx = fault && iface === UPLINKS[1] ? -23 : jitter(-9, 2);
        points.push(point('optical', { rx_dbm: rx, tx_dbm: jitter(-2.5, 0.5), rx_low_dbm: -20, rx_high_dbm: 0, tx_low_dbm: -8, tx_high_dbm: 1 }, d.link ? { iface, link: d.link } : { iface }));
      }
      break;
    case 'ups':
      points.push(
        point('ups', {
          status: fault ? 'on_battery' : 'online',
          on_battery: fault ? 1 : 0,
          on_bypass: 0,
          battery_status: 'normal',
          battery_low: 0,
          charge_pct: fault ? 80 : 100,
          runtime_s: fault ? 1500 : 2400,
          battery_temp_c: jitter(27, 2),
          input_voltage_v: fault ? 0 : jitter(229, 4),
          input_frequency_hz: fault ? 0 : 50,
          output_voltage_v: 230,
          output_frequency_hz: 50,
          load_pct: fault ? 95 : jitter(35 + d.level * 30, 4),
          replace_battery: 0,
          self_test: 'passed',
          self_test_ok: 1,
        }),
      );
      break;
    case 'nvr':
      for (const disk of ['1', '2']) {
        const ok = !(fault && disk === '2');
        points.push(point('nvr_disk', { ok: ok ? 1 : 0, status: ok ? 'ok' : 'error', capacity_bytes: 4e12, free_bytes: 4e11, used_pct: 90 }, { disk }));
      }
      for (let channel = 1; channel <= 16; channel++) {
        const lost = fault && channel === 3;
        points.push(point('nvr_channel', { online: lost ? 0 : 1, recording: lost ? 0 : 1, video_loss: lost ? 1 : 0 }, { channel: String(channel) }));
      }
      break;
    case 'printer':
      SUPPLIES.forEach((supply, i) => {
        const level = fault && i === 0 ? 5 : 30 + ((d.level * 100 + i * 17) % 60);
        points.push(point('printer_supply', { level_pct: level, level: level * 100, max_capacity: 10_000 }, { supply }));
      });
      break;
    case 'sensor':
      points.push(point('environment', { temperature_c: fault ? 32 : jitter(23, 2), humidity_pct: fault ? 75 : jitter(45, 6) }, { sensor: 'room' }));
      break;
    case 'pc':
    case 'server':
      throw new Error(`${d.kind} is not polled`);
  }
  if (d.kind !== 'nvr') points.push(point('system', { uptime_s: 864_000 }));
  return points;
}

/** The fleet's messages in time order from `start`, cycle after cycle. */
class FleetStream {
  private readonly fleet: readonly SimDevice[];
  private readonly schedule: readonly Due[];
  private readonly random: () => number;
  private readonly start: number;
  private cycle = 0;
  private index = 0;

  constructor(fleet: readonly SimDevice[], schedule: readonly Due[], start: number, random: () => number) {
    this.fleet = fleet;
    this.schedule = schedule;
    this.start = start;
    this.random = random;
  }

  /** Simulated time of the next message. */
  get time(): number {
    return this.start + this.cycle * CYCLE_MS + (this.schedule[this.index]?.at ?? CYCLE_MS);
  }

  /** The messages of the next `ms` of simulated time. */
  next(ms: number): Message[] {
    const until = this.time + ms;
    const messages: Message[] = [];
    while (this.time < until) {
      const due = this.schedule[this.index];
      if (!due) {
        this.cycle++;
        this.index = 0;
        continue;
      }
      const time = this.time;
      const points = messagePoints(this.fleet[due.device]!, due.type, time, this.random);
      let fields = 0;
      for (const p of points) fields += Object.keys(p.fields).length;
      messages.push({ points, fields, now: time + DELIVERY_MS });
      this.index++;
    }
    return messages;
  }
}

// ---- throughput -------------------------------------------------------------------------------

type ChangeCounts = Record<AlertChange['to'], number>;
const noChanges = (): ChangeCounts => ({ pending: 0, firing: 0, resolved: 0, cancelled: 0 });

interface ThroughputRun {
  observeSeconds: number;
  /** This process's CPU time in observe(): on a shared machine wall time also counts time the process waited for a core. */
  observeCpuSeconds: number;
  /** Including making the points and the untimed ticks. */
  wallSeconds: number;
  simulatedSeconds: number;
  messages: number;
  points: number;
  fields: number;
  pointsPerSecond: number;
  pointsPerCpuSecond: number;
  fieldsPerSecond: number;
  messagesPerSecond: number;
  /** Messages whose observe() returned at least one alert change. */
  messagesWithChanges: number;
  changes: ChangeCounts;
  /** Changes from the once-a-simulated-second tick (not timed): `for` elapsed, events expired. */
  tickChanges: ChangeCounts;
  activeAlertsAtEnd: number;
}

/** Feeds the stream one simulated second at a time until observe() has run `seconds`; ticks between seconds are not timed. */
function throughputRun(engine: RuleEngine, stream: FleetStream, seconds: number): ThroughputRun {
  const run = { observeMs: 0, cpuMs: 0, messages: 0, points: 0, fields: 0, messagesWithChanges: 0, changes: noChanges(), tickChanges: noChanges() };
  const simStart = stream.time;
  const wallStart = performance.now();
  while (run.observeMs < seconds * 1000) {
    const batch = stream.next(1000);
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    for (const message of batch) {
      const changes = engine.observe(message.points, message.now);
      if (changes.length === 0) continue;
      run.messagesWithChanges++;
      for (const change of changes) run.changes[change.to]++;
    }
    run.observeMs += performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    run.cpuMs += (cpu.user + cpu.system) / 1000;
    for (const message of batch) {
      run.points += message.points.length;
      run.fields += message.fields;
    }
    run.messages += batch.length;
    for (const change of engine.tick(stream.time)) run.tickChanges[change.to]++;
  }
  const perSecond = (n: number) => round((n / run.observeMs) * 1000, 0);
  return {
    observeSeconds: round(run.observeMs / 1000, 2),
    observeCpuSeconds: round(run.cpuMs / 1000, 2),
    wallSeconds: round((performance.now() - wallStart) / 1000, 1),
    simulatedSeconds: round((stream.time - simStart) / 1000, 0),
    messages: run.messages,
    points: run.points,
    fields: run.fields,
    pointsPerSecond: perSecond(run.points),
    pointsPerCpuSecond: round((run.points / run.cpuMs) * 1000, 0),
    fieldsPerSecond: perSecond(run.fields),
    messagesPerSecond: perSecond(run.messages),
    messagesWithChanges: run.messagesWithChanges,
    changes: run.changes,
    tickChanges: run.tickChanges,
    activeAlertsAtEnd: engine.alerts().length,
  };
}

/**
 * A collector that has run for a while: every server's disks have the trend rule's full sample
 * window (20 minutes at 10 s), then the whole stream runs untimed for a few seconds (JIT, caches).
 */
function warmUp(engine: RuleEngine, fleet: readonly SimDevice[], stream: FleetStream, random: () => number): void {
  const start = stream.time;
  for (let t = start - 21 * 60_000; t < start; t += AGENT_FAST_MS) {
    for (const d of fleet) {
      if (d.kind !== 'server') continue;
      engine.observe(messagePoints(d, 'fast', t, random).filter((p) => p.measurement === 'fs'), t + DELIVERY_MS);
    }
  }
  throughputRun(engine, stream, 2);
}

function fleetCounts(fleet: readonly SimDevice[]) {
  const byKind: Record<string, number> = {};
  for (const d of fleet) byKind[d.kind] = (byKind[d.kind] ?? 0) + 1;
  return { devices: fleet.length, sites: new Set(fleet.map((d) => d.tags.site)).size, byKind, troubled: fleet.filter((d) => d.troubled).length };
}

// ---- tick -------------------------------------------------------------------------------------

const TICK_ALERTS = 1_000;
const TICK_CALLS = 2_000;

/** An absence rule (none is shipped): tick() then looks at every device it has seen, so its cost grows with the fleet. */
const ABSENCE_RULE = `rules:
  - id: agent_silent
    type: absence
    severity: warning
    category: systems
    match: { measurement: system, kinds: [pc, server] }
    after: 15m
    message: { tr: "{{device}} 15 dakikadır veri göndermiyor", en: "{{device}} has sent nothing for 15 minutes" }
`;

/** Alerts on real devices of the fleet: threshold alerts waiting out `for` (40 %), firing state alerts (40 %), firing event alerts that expire later (20 %). */
function activeAlerts(fleet: readonly SimDevice[], now: number): ActiveAlert[] {
  const of = (kind: Kind, share: number) => fleet.filter((d) => d.kind === kind).slice(0, share * TICK_ALERTS);
  const alert = (rule: string, d: SimDevice, instance: string, rest: Pick<ActiveAlert, 'state'> & Partial<ActiveAlert>): ActiveAlert => {
    const labels = { ...d.tags, instance };
    return { id: alertId(rule, labels), rule, labels, since: now - 60_000, ...rest };
  };
  const firing = { state: 'firing', firedAt: now - 60_000 } as const;
  return [
    ...of('pc', 0.4).map((d) => alert('disk_almost_full', d, PC_MOUNTS[0]!, { state: 'pending', value: 93 })),
    ...of('switch', 0.4).map((d) => alert('fiber_link_down', d, UPLINKS[0]!, { ...firing, value: 0 })),
    ...of('server', 0.2).map((d) => alert('unexpected_reboot', d, '', { ...firing, value: 'reboot', expiresAt: now + 3_600_000 })),
  ];
}

/** tick() at ~`TICK_ALERTS` active alerts (fewer in a small fleet) over a fleet every device of which has been seen once; the clock stands so no transition happens. */
function tickCost(rules: readonly Rule[], fleet: readonly SimDevice[], random: () => number) {
  const engine = new RuleEngine(rules, { maxPointAgeMs: MAX_POINT_AGE_MS });
  const now = Date.now();
  for (const d of fleet) engine.observe(messagePoints({ ...d, troubled: false }, AGENT_KINDS.has(d.kind) ? 'fast' : 'poll', now, random), now);
  engine.restore(activeAlerts(fleet, now));
  const micros: number[] = [];
  let changes = 0;
  for (let i = 0; i < TICK_CALLS; i++) {
    const started = performance.now();
    changes += engine.tick(now + 1_000).length;
    micros.push((performance.now() - started) * 1000);
  }
  return { activeAlerts: engine.alerts().length, calls: TICK_CALLS, changes, p50Micros: round(median(micros)), p99Micros: round(quantile(micros, 0.99)), maxMicros: round(Math.max(...micros)) };
}

function measureThroughput(inputs: Inputs) {
  const random = mulberry32(20_261_130);
  const fleet = buildFleet(inputs.devices, random);
  const rules = loadRules();
  const engine = new RuleEngine(rules, { maxPointAgeMs: MAX_POINT_AGE_MS });
  const stream = new FleetStream(fleet, buildSchedule(fleet, random), Date.now(), random);
  warmUp(engine, fleet, stream, random);
  // Other work on the machine shows here: compare runs made at a similar load.
  const loadAverageBefore = loadavg().map((l) => round(l, 2));
  const runs: ThroughputRun[] = [];
  for (let r = 0; r < inputs.runs; r++) {
    runs.push(throughputRun(engine, stream, inputs.seconds));
    const last = runs.at(-1)!;
    process.stderr.write(`alerts throughput run ${r + 1}: ${last.pointsPerSecond} points/s (${last.pointsPerCpuSecond} per CPU second), ${last.fieldsPerSecond} fields/s over ${last.simulatedSeconds} simulated s\n`);
  }
  const total = (pick: (run: ThroughputRun) => number) => runs.reduce((sum, run) => sum + pick(run), 0);
  const livePointsPerSecond = total((r) => r.points) / total((r) => r.simulatedSeconds);
  const pointsPerSecond = median(runs.map((r) => r.pointsPerSecond));
  return {
    fleet: fleetCounts(fleet),
    loadAverage: { before: loadAverageBefore, after: loadavg().map((l) => round(l, 2)) },
    rules: { enabled: rules.filter((r) => r.enabled).length, byType: countBy(rules.filter((r) => r.enabled).map((r) => r.type)) },
    pointsPerSecond,
    pointsPerCpuSecond: median(runs.map((r) => r.pointsPerCpuSecond)),
    fieldsPerSecond: median(runs.map((r) => r.fieldsPerSecond)),
    messagesPerSecond: median(runs.map((r) => r.messagesPerSecond)),
    fleetLivePointsPerSecond: round(livePointsPerSecond, 0),
    headroom: round(pointsPerSecond / livePointsPerSecond, 0),
    shareOfMessagesWithChanges: round(total((r) => r.messagesWithChanges) / total((r) => r.messages), 5),
    changesPerMillionPoints: round((total((r) => r.changes.pending + r.changes.firing + r.changes.resolved + r.changes.cancelled) / total((r) => r.points)) * 1e6, 0),
    runs,
    tick: {
      defaultRules: tickCost(rules, fleet, random),
      withOneAbsenceRule: tickCost([...rules, ...parseRules(ABSENCE_RULE, 'bench/alerts.ts ABSENCE_RULE')], fleet, random),
    },
  };
}

function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}

// ---- latency ----------------------------------------------------------------------------------

const NETGSM = { username: '8503051234', password: 'bench-netgsm-parola', headers: ['BELEDIYE'] };
const ON_DUTY = { id: 'nobetci', name: 'Nöbetçi Teknisyen', email: 'nobetci@belediye.gov.tr', phone: '0532 111 22 33', language: 'tr' } as const;
/** The number as the Netgsm stand-in records it (10 digits, no country code). */
const ON_DUTY_SMS_NO = '5321112233';
/** The rule the faults trip, from the shipped defaults with its for-duration spelled out as 0s. */
const FAULT_RULE = 'ups_on_battery';
/** Faults are published this far apart plus up to as much again at random, so they meet the collector's 1 s timers at every phase. */
const FAULT_SPACING_MS = 1_000;
const STAMP_EVERY_MS = 1;

interface Variant {
  groupWait: string;
  storage: 'influxdb' | 'down';
}

interface Arrival {
  mailAt?: number;
  smsAt?: number;
}

/** The site in a notification's subject or SMS text: "[KRİTİK] v0-f001 / ups-1: …", "KRİTİK: v0-f001 / ups-1: …". */
const siteOf = (text: string | undefined) => /(?:^|[\]:] )([a-z0-9._-]+) \/ /.exec(text ?? '')?.[1];

/** Receive times on this process's clock: the servers run here, so a 1 ms poll of what they recorded is within ~1 ms of the moment. */
function stampArrivals(smtp: SmtpTestServer, netgsm: FakeGateway<NetgsmDelivery, unknown>) {
  const arrivals = new Map<string, Arrival>();
  const extra = { mails: 0, sms: 0 };
  let mails = smtp.received.length;
  let sms = netgsm.delivered.length;
  const timer = setInterval(() => {
    const now = performance.now();
    for (; mails < smtp.received.length; mails++) {
      const site = siteOf(smtp.received[mails]!.mail.subject);
      const arrival = site === undefined ? undefined : arrivals.get(site);
      if (arrival && arrival.mailAt === undefined) arrival.mailAt = now;
      else extra.mails++;
    }
    for (; sms < netgsm.delivered.length; sms++) {
      const delivery = netgsm.delivered[sms]!;
      const site = delivery.no === ON_DUTY_SMS_NO ? siteOf(delivery.msg) : undefined;
      const arrival = site === undefined ? undefined : arrivals.get(site);
      if (arrival && arrival.smsAt === undefined) arrival.smsAt = now;
      else extra.sms++;
    }
  }, STAMP_EVERY_MS);
  return {
    expect: (site: string) => arrivals.set(site, {}).get(site)!,
    /** Notifications no fault of this variant explains (duplicates, other alerts). */
    extra,
    stop: () => clearInterval(timer),
  };
}

function writeCollectorFiles(dir: string, smtp: SmtpTestServer, netgsmUrl: string, groupWait: string) {
  const defaults = parse(readFileSync(DEFAULT_RULES_FILE, 'utf8')) as { rules: { id: string }[] };
  const rule = defaults.rules.find((r) => r.id === FAULT_RULE);
  if (!rule) throw new Error(`${FAULT_RULE} is not among the default rules`);
  writeFileSync(join(dir, 'rules.yaml'), stringify({ rules: [{ ...rule, for: '0s' }] }));
  writeFileSync(
    join(dir, 'notify.yaml'),
    stringify({
      channels: {
        eposta: { type: 'email', host: '127.0.0.1', port: smtp.port, security: 'none', from: 'Belediye İzleme <izleme@belediye.gov.tr>' },
        sms: { type: 'sms-netgsm', username: NETGSM.username, password: '${NETGSM_PASSWORD}', sender: 'BELEDIYE', url: `${netgsmUrl}/sms/rest/v2/send` },
      },
      // Every fault pages the same person: the default limit (10 per 15 minutes) would hold the rest for one summary.
      outbox: { rateLimit: { perRecipient: 100_000 } },
      contacts: [ON_DUTY],
      teams: [{ id: 'bilgi-islem', name: 'Bilgi İşlem', members: [ON_DUTY.id], onDuty: { rotation: 'weekly', handoff: '2026-01-05T08:30', order: [ON_DUTY.id] } }],
      // No team working hours: the offHours rule applies around the clock. Resolved notices off, so only the measured pages are sent.
      routes: [{ team: 'bilgi-islem', offHours: { channels: ['eposta', 'sms'], to: 'onDuty' }, groupWait, repeat: '0', resolved: false }],
    }),
  );
  return { rulesFile: join(dir, 'rules.yaml'), notifyFile: join(dir, 'notify.yaml') };
}

const upsFields = (onBattery: boolean) => ({ status: onBattery ? 'on_battery' : 'online', on_battery: onBattery ? 1 : 0, battery_low: 0, charge_pct: onBattery ? 99 : 100, load_pct: 40, input_voltage_v: onBattery ? 0 : 229 });

interface UpsDevice {
  site: string;
  client: MqttClient;
  topic: string;
}

/** A UPS as a device publishing for itself: birth (a long interval, so no heartbeat timeout interferes), then a reading on mains. */
async function connectUps(mqttUrl: string, site: string): Promise<UpsDevice> {
  const device = 'ups-1';
  const client = await connectClient(mqttUrl, { clientId: `${site}.${device}` });
  await publish(client, `muni/v1/${site}/${device}/state`, { v: 1, ts: Date.now(), state: 'online', kind: 'ups', intervalS: 3_600 }, { retain: true });
  const ups = { site, client, topic: `muni/v1/${site}/${device}/metrics` };
  await publishUps(ups, false);
  return ups;
}

const publishUps = (ups: UpsDevice, onBattery: boolean) => publish(ups.client, ups.topic, { v: 1, ts: Date.now(), metrics: [{ name: 'ups', fields: upsFields(onBattery) }] });

interface Fault {
  site: string;
  publishedAt: number;
  ackedAt?: number;
  arrival: Arrival;
}

/** Publishes a fault, records when it was sent and acknowledged (the collector acknowledges after ingest and rule evaluation). */
function fault(ups: UpsDevice, arrivals: ReturnType<typeof stampArrivals>): Fault {
  const record: Fault = { site: ups.site, publishedAt: performance.now(), arrival: arrivals.expect(ups.site) };
  void publishUps(ups, true).then(() => (record.ackedAt = performance.now()));
  return record;
}

const delivered = (f: Fault) => f.arrival.mailAt !== undefined && f.arrival.smsAt !== undefined;

function latencyStats(values: readonly number[], expected: number, digits = 0) {
  return { received: values.length, missing: expected - values.length, p50Ms: round(median(values), digits), p99Ms: round(quantile(values, 0.99), digits), maxMs: round(Math.max(...values), digits), minMs: round(Math.min(...values), digits) };
}

/** One UPS per fault plus one for the warm-up; faults overlap (1-2 s apart), each is cleared once both its notifications are in. */
async function publishFaults(collector: CollectorProcess, arrivals: ReturnType<typeof stampArrivals>, index: number, iterations: number, groupWaitMs: number) {
  const random = mulberry32(index + 1);
  const devices: UpsDevice[] = [];
  try {
    // Site per fault: each alert is its own notification group, so faults can overlap in time without being grouped together.
    for (let i = 0; i <= iterations; i++) devices.push(await connectUps(collector.mqttUrl!, `v${index}-f${String(i).padStart(3, '0')}`));
    const deliveredWithin = (f: Fault) => waitFor(`notifications for ${f.site}`, async () => delivered(f), groupWaitMs + 30_000, 5);
    // The first fault warms the path (SMTP pool connection, JIT) and is reported apart.
    const warmUp = fault(devices[0]!, arrivals);
    await deliveredWithin(warmUp);
    const faults: Fault[] = [];
    const clears: Promise<void>[] = [];
    for (const ups of devices.slice(1)) {
      await new Promise((r) => setTimeout(r, FAULT_SPACING_MS + random() * FAULT_SPACING_MS));
      const f = fault(ups, arrivals);
      faults.push(f);
      // A fault never delivered is counted as missing, not waited for again.
      clears.push(deliveredWithin(f).then(() => publishUps(ups, false), () => undefined));
    }
    await Promise.all(clears);
    // Anything more than one mail and one SMS per fault would show up here.
    await new Promise((r) => setTimeout(r, 2_000));
    const sent = (channel: string) => collector.metric(`collector_notifications_total{channel="${channel}",result="sent"}`);
    return { warmUp, faults, sent: { eposta: await sent('eposta'), sms: await sent('sms') } };
  } finally {
    for (const ups of devices) ups.client.end(true);
  }
}

/** When the notifier put each site's notifications into the outbox (the collector's clock), read from its outbox file after it stopped. */
function queuedAt(outboxPath: string): Map<string, number> {
  const db = new DatabaseSync(outboxPath, { readOnly: true });
  try {
    const queued = new Map<string, number>();
    for (const row of db.prepare('SELECT message, created_at FROM entries').all() as { message: string; created_at: number }[]) {
      const site = siteOf((JSON.parse(row.message) as { subject?: string }).subject);
      if (site !== undefined) queued.set(site, Math.min(queued.get(site) ?? Infinity, row.created_at));
    }
    return queued;
  } finally {
    db.close();
  }
}

async function latencyVariant(variant: Variant, index: number, servers: { smtp: SmtpTestServer; netgsm: FakeGateway<NetgsmDelivery, unknown>; influx: InfluxServer }, iterations: number) {
  const groupWaitMs = parseDuration(variant.groupWait)!;
  const dir = tempDir('bench-alerts');
  const files = writeCollectorFiles(dir, servers.smtp, servers.netgsm.url, variant.groupWait);
  const storageUrl = variant.storage === 'influxdb' ? servers.influx.url : `http://127.0.0.1:${await freePort()}`;
  process.env.NETGSM_PASSWORD = NETGSM.password;
  const collector = await startCollectorProcess({ storage: { type: 'influx-v1', url: storageUrl }, alerts: files });
  const arrivals = stampArrivals(servers.smtp, servers.netgsm);
  let run: Awaited<ReturnType<typeof publishFaults>>;
  try {
    run = await publishFaults(collector, arrivals, index, iterations, groupWaitMs);
  } finally {
    arrivals.stop();
    await collector.stop();
  }
  const queued = queuedAt(join(collector.dir, 'outbox.sqlite'));
  for (const path of [dir, collector.dir]) rmSync(path, { recursive: true, force: true });

  const { faults, warmUp } = run;
  const n = faults.length;
  // Publish and receive times are this process's monotonic clock; the outbox's are the collector's wall clock (same machine).
  const wall = (at: number) => performance.timeOrigin + at;
  const between = (pick: (f: Fault) => [number | undefined, number | undefined]) =>
    faults.flatMap((f) => {
      const [from, to] = pick(f);
      return from === undefined || to === undefined ? [] : [to - from];
    });
  const result = {
    groupWait: variant.groupWait,
    storage: variant.storage,
    faults: n,
    mail: latencyStats(between((f) => [f.publishedAt, f.arrival.mailAt]), n),
    sms: latencyStats(between((f) => [f.publishedAt, f.arrival.smsAt]), n),
    breakdown: {
      /** Publish → PUBACK: the collector acknowledges after ingest, rule evaluation and the alert store. */
      acknowledged: latencyStats(between((f) => [f.publishedAt, f.ackedAt]), n, 1),
      /** Publish → notification in the outbox: groupWait plus the wait for the notifier's next 1 s tick. */
      queued: latencyStats(between((f) => [wall(f.publishedAt), queued.get(f.site)]), n),
      /** Outbox → the SMTP server has the message; outbox → the SMS gateway was called. */
      mailSend: latencyStats(between((f) => [queued.get(f.site), f.arrival.mailAt === undefined ? undefined : wall(f.arrival.mailAt)]), n, 1),
      smsSend: latencyStats(between((f) => [queued.get(f.site), f.arrival.smsAt === undefined ? undefined : wall(f.arrival.smsAt)]), n, 1),
    },
    warmUpFault: { mailMs: round(warmUp.arrival.mailAt! - warmUp.publishedAt, 0), smsMs: round(warmUp.arrival.smsAt! - warmUp.publishedAt, 0) },
    unexpected: { ...arrivals.extra },
    collectorNotificationsSent: run.sent,
  };
  process.stderr.write(`alerts latency groupWait ${variant.groupWait}, storage ${variant.storage}: mail p50 ${result.mail.p50Ms} ms p99 ${result.mail.p99Ms} ms, SMS p50 ${result.sms.p50Ms} ms p99 ${result.sms.p99Ms} ms\n`);
  return result;
}

async function measureLatency(inputs: Inputs) {
  const [smtp, netgsm, influx] = await Promise.all([startSmtpServer(), startFakeNetgsm(NETGSM), startInfluxDB()]);
  try {
    // Each groupWait with InfluxDB up; the first once more with nothing listening at the storage URL (points wait in the spool).
    const variants: Variant[] = [...inputs['group-waits'].map((groupWait) => ({ groupWait, storage: 'influxdb' as const })), { groupWait: inputs['group-waits'][0]!, storage: 'down' }];
    const results = [];
    for (const [i, variant] of variants.entries()) results.push(await latencyVariant(variant, i, { smtp, netgsm, influx }, inputs.iterations));
    return results;
  } finally {
    await netgsm.close();
    await smtp.stop();
    await influx.stop();
  }
}

// ---- the benchmark ----------------------------------------------------------------------------

export async function benchAlerts(args: string[]): Promise<void> {
  const inputs = parseInputs(args);
  const startedAt = Date.now();
  const throughput = measureThroughput(inputs);
  const latency = await measureLatency(inputs);
  writeResult('alerts', {
    benchmark: 'alerts',
    date: new Date().toISOString(),
    durationS: round((Date.now() - startedAt) / 1000, 0),
    machine: machine(),
    versions: {
      node: process.version,
      influxdb: commandVersion('influxd', ['version']),
      mqtt: packageVersion('mqtt'),
      aedes: packageVersion('aedes'),
      nodemailer: packageVersion('nodemailer'),
      smtpServer: packageVersion('smtp-server'),
    },
    inputs: {
      devices: inputs.devices,
      measuredSecondsPerRun: inputs.seconds,
      runs: inputs.runs,
      faultsPerVariant: inputs.iterations,
      groupWaits: inputs['group-waits'],
      routeDefaultGroupWait: '30s',
      faultRule: `${FAULT_RULE} (for: 0s)`,
      faultSpacingMs: [FAULT_SPACING_MS, 2 * FAULT_SPACING_MS],
      receiveStampResolutionMs: STAMP_EVERY_MS,
    },
    throughput,
    latency,
  });
}
