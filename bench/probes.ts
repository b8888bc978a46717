import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { z } from 'zod';
import { DeviceUnreachableError, emptyOutcome, type DeviceDriver } from '../collector/devices/driver.ts';
import { DevicePoller, type PlannedDevice } from '../collector/devices/poller.ts';
import { loadProfiles } from '../collector/devices/profile-loader.ts';
import { validateConfig } from '../src/config/load.ts';
import { createLogger } from '../src/log.ts';
import { freePort, startProcess, tempDir, waitFor } from '../tests/helpers/servers.ts';
import { commandVersion, machine, median, mib, processSample, quantile, round, sampleProcess, writeResult } from './lib.ts';
import { epochMs, PollTimer, scheduleDeviations, type PollTimes } from './poll-times.ts';
import type { ProbePollerCounts } from './probe-poller.ts';
import type { TargetsArrivals, TargetsReady } from './probe-targets.ts';

// Uptime probes at scale: our DevicePoller with the probe-icmp and probe-http drivers
// (bench/probe-poller.ts, its own process) and Debian's prometheus-blackbox-exporter 0.23 probe
// the same targets — loopback addresses 127.0.x.y for ICMP (every one answers on Linux), pages
// of a Node server (bench/probe-targets.ts, its own process) for HTTP — on the same schedule:
// the exporter is scraped (`/probe?target=…&module=…`) by DevicePoller in this process, through
// a driver whose poll is one scrape, with the same interval, concurrency limit and deadline.
// Measured per side: probes completed a minute, CPU per probe and RSS from /proc, and the
// schedule jitter: for each target, how far each gap between two successive probe starts is
// from the interval. For HTTP also as the target server saw the requests arrive.

const KINDS = ['icmp', 'http'] as const;
type Kind = (typeof KINDS)[number];
const PROFILE: Record<Kind, string> = { icmp: 'probe-icmp', http: 'probe-http' };
const MODULE: Record<Kind, string> = { icmp: 'icmp', http: 'http_2xx' };
/** Our drivers' default timeouts (probe-icmp's DEFAULT_TIMEOUT_MS, probe-tcp's DEFAULT_PROBE_TIMEOUT_MS), given to the exporter's modules. */
const TIMEOUT_S: Record<Kind, number> = { icmp: 1, http: 5 };
const KEYWORD = 'Hizmet calisiyor';
/** The max-throughput variant: 5,000 targets every 5 s is 60,000 probes a minute due. */
const MAX_INTERVAL_S = 5;

const count = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const inputsSchema = z.strictObject({
  kinds: z
    .string()
    .transform((v) => v.split(','))
    .pipe(z.array(z.enum(KINDS, { error: 'expected icmp, http or icmp,http' })).min(1)),
  // The device list takes at most 20,000 entries.
  targets: count(1, 20_000),
  interval: count(1, 3_600),
  seconds: count(5, 3_600),
  runs: count(1, 20),
  'max-seconds': count(0, 600),
  concurrency: count(1, 1_024),
  listeners: count(1, 99),
  'icmp-count': count(1, 100),
  'default-pings-side': z.boolean(),
})
  // The jitter is taken from two successive probes of a target that both fall in the window.
  .refine((i) => i.seconds > i.interval, { message: 'must be longer than --interval (the jitter needs two probes of a target inside the window)', path: ['seconds'] })
  .refine((i) => i['max-seconds'] === 0 || i['max-seconds'] > MAX_INTERVAL_S, { message: `must be 0 (skip) or longer than the ${MAX_INTERVAL_S} s interval of the max-throughput run`, path: ['max-seconds'] });
type Inputs = z.infer<typeof inputsSchema>;

function parseInputs(args: string[]): Inputs {
  const { values } = parseArgs({
    args,
    options: {
      kinds: { type: 'string', default: 'icmp,http' },
      targets: { type: 'string', default: '5000' },
      // Seconds between two probes of a target.
      interval: { type: 'string', default: '20' },
      // Measured window per run and side, after the warm-up.
      seconds: { type: 'string', default: '30' },
      runs: { type: 'string', default: '1' },
      // Window of the max-throughput variant (interval MAX_INTERVAL_S); 0 skips it.
      'max-seconds': { type: 'string', default: '10' },
      // The collector's default devices.concurrency.
      concurrency: { type: 'string', default: '64' },
      // Ports of the HTTP target server.
      listeners: { type: 'string', default: '4' },
      // Pings per ICMP probe on our side; the exporter sends one.
      'icmp-count': { type: 'string', default: '1' },
      // Skips the extra run of our ICMP side with the driver's default options.
      'no-default-pings': { type: 'boolean', default: false },
    },
  });
  const { 'no-default-pings': noDefaultPings, ...rest } = values;
  return validateConfig(inputsSchema, { ...rest, 'default-pings-side': !noDefaultPings }, 'npm run bench -- probes arguments');
}

function requireCommands(): void {
  for (const command of ['prometheus-blackbox-exporter', 'fping']) {
    try {
      execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`${command} is not installed: run \`bash scripts/setup.sh bench\` (installs prometheus-blackbox-exporter, fping)`);
    }
  }
  // The exporter's ICMP prober needs a raw socket (the unprivileged kind only where ping_group_range allows it).
  if (process.getuid?.() !== 0) throw new Error('the ICMP probes of prometheus-blackbox-exporter need root (raw sockets): run the benchmark as root');
}

interface Forked<Ready> {
  pid: number;
  ready: Ready;
  ask: <T>(request: string) => Promise<T>;
  stderr: () => string;
  stop: () => Promise<void>;
}

/** A bench/ script as a child process answering IPC requests; killed if this process exits first. */
async function forkScript<Ready>(script: string, args: string[]): Promise<Forked<Ready>> {
  const child: ChildProcess = fork(join(import.meta.dirname, script), args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: ['--disable-warning=ExperimentalWarning'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const ready = await new Promise<Ready>((resolve, reject) => {
    child.once('message', (message) => resolve(message as Ready));
    child.once('exit', (code) => reject(new Error(`bench/${script} exited (${code}) before it was ready: ${stderr}`)));
  });
  return {
    pid: child.pid!,
    ready,
    ask: <T>(request: string) =>
      new Promise<T>((resolve, reject) => {
        child.once('message', (answer) => resolve(answer as T));
        child.send(request, (error) => error && reject(error));
      }),
    stderr: () => stderr,
    stop: async () => {
      child.send('stop');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      process.off('exit', killOnExit);
    },
  };
}

interface Target {
  id: string;
  /** What our device entry says. */
  address: string;
  options: Record<string, unknown>;
  /** The same target as the exporter's `target` parameter. */
  exporterTarget: string;
}

/** 127.0.0.1, 127.0.0.2, …: the whole of 127.0.0.0/8 is this host's. */
function icmpTargets(n: number, pings: number | undefined): Target[] {
  return Array.from({ length: n }, (_, i) => {
    const a = i + 1;
    const ip = `127.${(a >> 16) & 255}.${(a >> 8) & 255}.${a & 255}`;
    return { id: `icmp-${i}`, address: ip, options: pings === undefined ? {} : { count: pings }, exporterTarget: ip };
  });
}

/** One page per target (its own path), the targets spread over the server's ports. */
function httpTargets(n: number, ports: number[]): Target[] {
  return Array.from({ length: n }, (_, i) => {
    const host = `127.0.0.1:${ports[i % ports.length]}`;
    return { id: `http-${i}`, address: host, options: { path: `/t/${i}`, keyword: KEYWORD }, exporterTarget: `http://${host}/t/${i}` };
  });
}

interface SideCounts {
  polls: number;
  unreachable: number;
  problems: number;
  overruns: number;
  /** Polls due but waiting for a concurrency slot. */
  waiting: number;
  fpingRuns?: number;
  heapUsed?: number;
}

interface Side {
  pid: number;
  /** CPU time of the side's process, with that of the children it has reaped (the fping runs). */
  cpuMs: () => number;
  counts: () => Promise<SideCounts>;
  times: () => Promise<PollTimes>;
  /** Why probes failed, for the report: the side's log. */
  failures: () => string;
  stop: () => Promise<void>;
}

/** CPU ms of a process's children that have ended and been waited for (cutime + cstime). */
function reapedChildrenCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100;
}

/** Our poller as a separate process, given a devices.yaml like the collector's. */
async function startOurs(kind: Kind, targets: Target[], intervalS: number, inputs: Inputs): Promise<Side> {
  const dir = tempDir('bench-probe-poller');
  const devicesFile = join(dir, 'devices.yaml');
  writeFileSync(devicesFile, stringify({ devices: targets.map((t) => ({ site: 'bench', id: t.id, address: t.address, profile: PROFILE[kind], intervalS, options: t.options })) }));
  const poller = await forkScript<'ready'>('probe-poller.ts', [devicesFile, String(inputs.concurrency)]);
  return {
    pid: poller.pid,
    cpuMs: () => processSample(poller.pid).cpuMs + reapedChildrenCpuMs(poller.pid),
    counts: () => poller.ask<ProbePollerCounts>('stats'),
    times: () => poller.ask<PollTimes>('times'),
    failures: () => poller.stderr(),
    stop: async () => {
      await poller.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** blackbox.yml with one module per kind, our timeouts, IPv4 as the targets are. */
function exporterConfig(): string {
  return stringify({
    modules: {
      [MODULE.icmp]: { prober: 'icmp', timeout: `${TIMEOUT_S.icmp}s`, icmp: { preferred_ip_protocol: 'ip4' } },
      [MODULE.http]: { prober: 'http', timeout: `${TIMEOUT_S.http}s`, http: { preferred_ip_protocol: 'ip4', follow_redirects: false, fail_if_body_not_matches_regexp: [KEYWORD] } },
    },
  });
}

/** The exporter, and DevicePoller in this process scraping it through a driver whose poll is one probe request. */
async function startExporter(kind: Kind, targets: Target[], intervalS: number, inputs: Inputs): Promise<Side> {
  const dir = tempDir('bench-blackbox');
  const config = join(dir, 'blackbox.yml');
  writeFileSync(config, exporterConfig());
  const port = await freePort();
  const exporter = startProcess('prometheus-blackbox-exporter', [`--config.file=${config}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn']);
  await waitFor(`prometheus-blackbox-exporter\n${exporter.output()}`, async () => (await fetch(`http://127.0.0.1:${port}/-/healthy`)).ok);

  const driver: DeviceDriver = {
    name: 'blackbox-probe',
    credential: 'none',
    open: (target) => {
      const url = `http://127.0.0.1:${port}/probe?module=${MODULE[kind]}&target=${encodeURIComponent(target.device.address)}`;
      return {
        async poll(signal) {
          let response: Response;
          let text: string;
          try {
            response = await fetch(url, { signal });
            text = await response.text();
          } catch (error) {
            // The poll's deadline aborted the request (or the exporter is gone).
            throw new DeviceUnreachableError((error as Error).message, 'timeout');
          }
          if (!response.ok) throw new DeviceUnreachableError(`HTTP ${response.status}: ${text.slice(0, 100)}`, 'error');
          // The exporter answers 200 either way; probe_success says whether the target answered.
          if (!/^probe_success 1$/m.test(text)) throw new DeviceUnreachableError('probe_success 0', 'error');
          return emptyOutcome();
        },
        close: () => {},
      };
    },
  };
  const profile = loadProfiles().get(PROFILE[kind])!;
  const scrapeProfile = { ...profile, driver: driver.name };
  const timer = new PollTimer();
  const poller = new DevicePoller({ drivers: new Map([[driver.name, timer.wrap(driver)]]), concurrency: inputs.concurrency, language: 'en', log: createLogger({ name: 'bench-blackbox-scrapes', level: 'warn' }), deliver: () => {} });
  poller.update(
    targets.map((t): PlannedDevice => {
      const device = { site: 'bench', id: t.id, address: t.exporterTarget, profile: [profile.id], intervalS, links: [], options: {} };
      return { device, kind: profile.kind, intervalS, targets: [{ device, profile: scrapeProfile, credential: undefined }], fingerprint: device.id };
    }),
  );
  return {
    pid: exporter.child.pid!,
    cpuMs: () => processSample(exporter.child.pid!).cpuMs,
    counts: async () => poller.stats(),
    times: async () => timer.times(),
    failures: () => exporter.output().slice(-4_000),
    stop: async () => {
      await poller.close();
      await exporter.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface HttpTargetServer {
  pid: number;
  ports: number[];
  arrivals: () => Promise<Record<string, number[]>>;
  stop: () => Promise<void>;
}

async function startTargetServer(listeners: number): Promise<HttpTargetServer> {
  const server = await forkScript<TargetsReady>('probe-targets.ts', [String(listeners), KEYWORD]);
  return { pid: server.pid, ports: server.ready.ports, arrivals: async () => (await server.ask<TargetsArrivals>('arrivals')).arrivals, stop: server.stop };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function spread(values: number[]) {
  return { samples: values.length, p50: round(quantile(values, 0.5), 2), p99: round(quantile(values, 0.99), 2), max: round(values.length ? Math.max(...values) : Number.NaN, 2) };
}

/** Schedule jitter in ms, and the gaps that missed a probe altogether (more than half an interval off). */
function jitter(starts: Record<string, number[]>, intervalS: number, from: number, to: number) {
  const deviations = scheduleDeviations(starts, intervalS * 1000, from, to);
  return { ...spread(deviations), offByHalfAnInterval: deviations.filter((d) => d > (intervalS * 1000) / 2).length };
}

type Which = 'ours' | 'exporter' | 'oursDefaultPings';

/**
 * Warm-up: DevicePoller's first polls fall within 10 s and the regular phase starts within a
 * quarter interval after; then until no poll waits for a concurrency slot (the start-up burst
 * can queue), or until polls are being skipped (the side cannot keep this schedule, waiting
 * longer changes nothing), at most a minute more.
 */
async function warmUp(side: Side, intervalS: number) {
  const started = performance.now();
  const minimumMs = (Math.ceil(10 + intervalS / 4) + 2) * 1000;
  let peakWaiting = 0;
  for (;;) {
    await sleep(1000);
    const { waiting, overruns } = await side.counts();
    peakWaiting = Math.max(peakWaiting, waiting);
    const elapsed = performance.now() - started;
    if (elapsed >= minimumMs && (waiting === 0 || overruns > 0 || elapsed >= minimumMs + 60_000)) return { seconds: round(elapsed / 1000), peakWaiting };
  }
}

/** One side for one run: start, warm up, then the measured window. */
async function runSide(kind: Kind, which: Which, start: () => Promise<Side>, targets: number, server: HttpTargetServer | undefined, intervalS: number, seconds: number) {
  const side = await start();
  try {
    const warmup = await warmUp(side, intervalS);
    const windowStart = epochMs();
    const before = { at: performance.now(), cpuMs: side.cpuMs(), counts: await side.counts(), bench: process.cpuUsage(), serverCpuMs: server ? processSample(server.pid).cpuMs : 0 };
    const memory = sampleProcess(side.pid, 1000);
    let peakWaiting = 0;
    while (performance.now() - before.at < seconds * 1000 - 1000) {
      await sleep(1000);
      peakWaiting = Math.max(peakWaiting, (await side.counts()).waiting);
    }
    await sleep(Math.max(0, seconds * 1000 - (performance.now() - before.at)));
    const after = { at: performance.now(), cpuMs: side.cpuMs(), counts: await side.counts(), bench: process.cpuUsage(before.bench), serverCpuMs: server ? processSample(server.pid).cpuMs : 0 };
    const windowEnd = epochMs();
    const load = loadavg()[0]!;
    const rss = memory.stop().map((s) => s.rss);
    const times = await side.times();
    // The server forgets what it returns; a straggler of the previous side is before windowStart.
    const arrivals = server ? jitter(await server.arrivals(), intervalS, windowStart, windowEnd) : undefined;
    const elapsedMs = after.at - before.at;
    const delta = (key: 'polls' | 'unreachable' | 'problems' | 'overruns') => after.counts[key] - before.counts[key];
    const failed = delta('unreachable');
    const completed = delta('polls') - failed;
    const cpuMs = after.cpuMs - before.cpuMs;
    if (failed > 0) process.stderr.write(`probes ${kind} ${which}: ${failed} probes failed; its log ends with:\n${side.failures().slice(-1_500)}\n`);
    return {
      kind,
      side: which,
      intervalS,
      warmup,
      seconds: round(elapsedMs / 1000, 1),
      completedProbes: completed,
      failedProbes: failed,
      overruns: delta('overruns'),
      probesPerMinute: round(completed / (elapsedMs / 60_000)),
      duePerMinute: round(targets * (60 / intervalS)),
      peakWaitingInWindow: peakWaiting,
      cpuMsPerProbe: round(cpuMs / completed, 3),
      cpuPercentOfOneCore: round((cpuMs / elapsedMs) * 100),
      rssMiBMedian: mib(median(rss)),
      ...(after.counts.heapUsed === undefined ? {} : { heapUsedMiB: mib(after.counts.heapUsed) }),
      ...(after.counts.fpingRuns === undefined ? {} : { fpingRuns: after.counts.fpingRuns - before.counts.fpingRuns! }),
      // Gaps between two probe starts of a target, both in the window.
      jitterMs: jitter(times.starts, intervalS, windowStart, windowEnd),
      ...(arrivals ? { arrivalJitterMs: arrivals } : {}),
      // Every probe since the side started.
      probeDurationMs: spread(times.durationsMs),
      ...(server ? { serverCpuPercent: round(((after.serverCpuMs - before.serverCpuMs) / elapsedMs) * 100) } : {}),
      // The benchmark process: the exporter side's scheduler and HTTP client (Prometheus's part in production).
      benchProcessCpuPercent: round(((after.bench.user + after.bench.system) / 1000 / elapsedMs) * 100),
      loadAverage1m: round(load, 2),
    };
  } finally {
    await side.stop();
  }
}

type SideRun = Awaited<ReturnType<typeof runSide>>;

function summarise(runs: SideRun[]) {
  const med = (pick: (r: SideRun) => number) => median(runs.map(pick));
  return {
    runs: runs.length,
    completedProbes: runs.reduce((n, r) => n + r.completedProbes, 0),
    failedProbes: runs.reduce((n, r) => n + r.failedProbes, 0),
    overruns: runs.reduce((n, r) => n + r.overruns, 0),
    probesPerMinute: med((r) => r.probesPerMinute),
    duePerMinute: med((r) => r.duePerMinute),
    cpuMsPerProbe: med((r) => r.cpuMsPerProbe),
    cpuPercentOfOneCore: med((r) => r.cpuPercentOfOneCore),
    rssMiBMedian: med((r) => r.rssMiBMedian),
    jitterP50Ms: med((r) => r.jitterMs.p50),
    jitterP99Ms: med((r) => r.jitterMs.p99),
    jitterMaxMs: Math.max(...runs.map((r) => r.jitterMs.max)),
    ...(runs[0]?.arrivalJitterMs ? { arrivalJitterP50Ms: med((r) => r.arrivalJitterMs?.p50 ?? Number.NaN), arrivalJitterP99Ms: med((r) => r.arrivalJitterMs?.p99 ?? Number.NaN) } : {}),
  };
}

function compare(runs: SideRun[]) {
  const ours = runs.filter((r) => r.side === 'ours');
  const exporter = runs.filter((r) => r.side === 'exporter');
  if (ours.length === 0 || exporter.length === 0) return null;
  const a = summarise(ours);
  const b = summarise(exporter);
  const defaultPings = runs.filter((r) => r.side === 'oursDefaultPings');
  return {
    ours: a,
    exporter: b,
    ratiosOursOverExporter: {
      probesPerMinute: round(a.probesPerMinute / b.probesPerMinute, 2),
      cpuMsPerProbe: round(a.cpuMsPerProbe / b.cpuMsPerProbe, 2),
      rssMiBMedian: round(a.rssMiBMedian / b.rssMiBMedian, 2),
    },
    ...(defaultPings.length > 0 ? { oursWithDefaultPings: summarise(defaultPings) } : {}),
  };
}

function report(label: string, r: SideRun): void {
  const arrival = r.arrivalJitterMs ? `, at the target ${r.arrivalJitterMs.p50} / ${r.arrivalJitterMs.p99} ms` : '';
  process.stderr.write(
    `probes ${r.kind} ${label} ${r.side}: warm-up ${r.warmup.seconds} s (peak ${r.warmup.peakWaiting} waiting); ${r.completedProbes} probes in ${r.seconds} s = ${r.probesPerMinute}/min of ${r.duePerMinute} due, ${r.failedProbes} failed, ${r.overruns} overruns, ${r.cpuMsPerProbe} ms CPU/probe (${r.cpuPercentOfOneCore} % of a core), RSS ${r.rssMiBMedian} MiB, jitter p50 ${r.jitterMs.p50} / p99 ${r.jitterMs.p99} ms (${r.jitterMs.samples} gaps)${arrival}, probe p50 ${r.probeDurationMs.p50} ms, load ${r.loadAverage1m}\n`,
  );
}

export async function benchProbes(args: string[]): Promise<void> {
  const inputs = parseInputs(args);
  requireCommands();
  const server = inputs.kinds.includes('http') ? await startTargetServer(inputs.listeners) : undefined;
  const targets: Record<Kind, Target[]> = { icmp: icmpTargets(inputs.targets, inputs['icmp-count']), http: server ? httpTargets(inputs.targets, server.ports) : [] };
  const steady: SideRun[] = [];
  const ceiling: SideRun[] = [];

  const measure = (kind: Kind, which: Which, intervalS: number, seconds: number): Promise<SideRun> => {
    const kindTargets = which === 'oursDefaultPings' ? icmpTargets(inputs.targets, undefined) : targets[kind];
    const start = () => (which === 'exporter' ? startExporter : startOurs)(kind, kindTargets, intervalS, inputs);
    return runSide(kind, which, start, kindTargets.length, kind === 'http' ? server : undefined, intervalS, seconds);
  };
  try {
    for (const kind of inputs.kinds) {
      for (let run = 0; run < inputs.runs; run++) {
        // Alternating which side goes first spreads slow drifts of the machine over both.
        for (const which of run % 2 === 0 ? (['ours', 'exporter'] as const) : (['exporter', 'ours'] as const)) {
          const result = await measure(kind, which, inputs.interval, inputs.seconds);
          steady.push(result);
          report(`run ${run + 1}`, result);
        }
      }
      // What the collector does with a probe-icmp entry that sets no options (3 pings 500 ms apart): once.
      if (kind === 'icmp' && inputs['default-pings-side']) {
        const result = await measure(kind, 'oursDefaultPings', inputs.interval, inputs.seconds);
        steady.push(result);
        report('default pings', result);
      }
    }
    if (inputs['max-seconds'] > 0) {
      for (const kind of inputs.kinds) {
        for (const which of ['ours', 'exporter'] as const) {
          const result = await measure(kind, which, MAX_INTERVAL_S, inputs['max-seconds']);
          ceiling.push(result);
          report('max', result);
        }
      }
    }
  } finally {
    await server?.stop();
  }

  const debianVersion = (pkg: string) => commandVersion('dpkg-query', ['-W', '-f=${Version}', pkg]);
  const byKind = (runs: SideRun[], kind: Kind) => compare(runs.filter((r) => r.kind === kind));
  writeResult('probes', {
    benchmark: 'uptime-probes',
    date: new Date().toISOString(),
    machine: machine(),
    versions: { node: process.version, fping: debianVersion('fping'), prometheusBlackboxExporter: debianVersion('prometheus-blackbox-exporter') },
    inputs: {
      kinds: inputs.kinds,
      targets: inputs.targets,
      intervalS: inputs.interval,
      durationS: inputs.seconds,
      runs: inputs.runs,
      concurrency: inputs.concurrency,
      icmp: {
        targets: `127.0.0.1 onwards (${inputs.targets} loopback addresses)`,
        oursPingsPerProbe: inputs['icmp-count'],
        exporterPingsPerProbe: 1,
        timeoutS: TIMEOUT_S.icmp,
        oursWithDefaultPings: inputs['default-pings-side'] ? 'one more run of our side with probe-icmp defaults (3 pings, 500 ms apart)' : null,
      },
      http: { targets: `${inputs.targets} pages (/t/<n>) of one Node process (bench/probe-targets.ts) on ${inputs.listeners} ports of 127.0.0.1, Connection: close`, keyword: KEYWORD, timeoutS: TIMEOUT_S.http },
      ours: 'bench/probe-poller.ts: DevicePoller + probe-icmp/probe-http from a devices.yaml, deliver only counts; separate process; its CPU includes the fping runs it reaped',
      exporter: `prometheus-blackbox-exporter, modules ${MODULE.icmp} (prober icmp, ip4) and ${MODULE.http} (prober http, ip4, fail_if_body_not_matches_regexp), scraped over HTTP by DevicePoller in the benchmark process (same schedule, concurrency and deadline)`,
      warmup: 'at least 10 s + interval/4 + 2 s (first polls, then the regular phase), then until no poll waits for a concurrency slot or polls are being skipped, at most 60 s more',
      maxThroughput: inputs['max-seconds'] > 0 ? { intervalS: MAX_INTERVAL_S, durationS: inputs['max-seconds'], runs: 1 } : null,
      method:
        'probes completed = polls that succeeded in the window; CPU per probe = process CPU time delta (/proc/<pid>/stat, with reaped children) ÷ completed; jitter = |gap − interval| for two successive probe starts of a target both in the window (start = the driver poll called, after the concurrency queue); arrival jitter = the same from the times the HTTP target server received the requests; medians over runs',
    },
    result: Object.fromEntries(inputs.kinds.map((kind) => [kind, { steady: byKind(steady, kind), maxThroughput: byKind(ceiling, kind) }])),
    runs: [...steady, ...ceiling],
  });
}
