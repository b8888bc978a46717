import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { z } from 'zod';
import { DeviceUnreachableError, emptyOutcome, type DeviceDriver } from '../collector/devices/driver.ts';
import { DevicePoller, type PlannedDevice } from '../collector/devices/poller.ts';
import { loadProfiles } from '../collector/devices/profile-loader.ts';
import type { Profile } from '../collector/devices/profile.ts';
import { planRequests } from '../collector/devices/snmp/interpret.ts';
import { validateConfig } from '../src/config/load.ts';
import { createLogger } from '../src/log.ts';
import { freePort, startProcess, tempDir, waitFor, type ManagedProcess } from '../tests/helpers/servers.ts';
import { commandVersion, machine, median, mib, packageVersion, processSample, round, sampleProcess, writeResult } from './lib.ts';
import type { PollerCounts } from './snmp-poller.ts';

// SNMP polling throughput: our DevicePoller (bench/snmp-poller.ts, its own process) and Debian's
// prometheus-snmp-exporter 0.21 poll the same simulated devices (snmpsim, one UDP endpoint per
// device, one community) for the same OIDs: the exporter module is written from the profile's
// own request plan, with our timeout, retries and GETBULK size. The exporter is scraped by
// DevicePoller itself (a driver whose poll is one HTTP scrape), so both sides run on exactly the
// same schedule, concurrency limit and per-poll deadline. Runs alternate sides; CPU and RSS of
// each side and of the simulators come from /proc.

const COMMUNITY = 'bench';
/** As collector/devices/snmp/session.ts (MAX_REPETITIONS) and drivers/snmp.ts (timeout, retries). */
const WALK = { maxRepetitions: 20, timeout: '2s', retries: 1 } as const;
/** A recording per profile the benchmark can run; the recording is what every simulated device serves. */
const RECORDINGS = { 'ups-mib': 'ups-mib.snmprec', 'if-mib': 'switch-24port.snmprec' } as const;
const FIXTURES = join(import.meta.dirname, 'fixtures');
/** The max-throughput variant: the smallest interval a device entry allows, so a side polls as fast as it can. */
const MAX_INTERVAL_S = 1;
const MAX_WARMUP_S = 5;

const count = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const inputsSchema = z.strictObject({
  profile: z.enum(Object.keys(RECORDINGS) as [keyof typeof RECORDINGS]),
  devices: count(1, 5_000),
  interval: z.coerce.number().min(1).max(3_600),
  seconds: count(5, 3_600),
  runs: count(1, 20),
  'max-seconds': count(0, 600),
  concurrency: count(1, 1_024),
  simulators: count(1, 64),
});
type Inputs = z.infer<typeof inputsSchema>;

function parseInputs(args: string[]): Inputs {
  const { values } = parseArgs({
    args,
    options: {
      profile: { type: 'string', default: 'ups-mib' },
      devices: { type: 'string', default: '500' },
      // Seconds between two polls of a device.
      interval: { type: 'string', default: '10' },
      // Measured window per run and side, after a warm-up of one interval.
      seconds: { type: 'string', default: '30' },
      runs: { type: 'string', default: '3' },
      // Window of the max-throughput variant (interval 1 s); 0 skips it.
      'max-seconds': { type: 'string', default: '20' },
      // The collector's default devices.concurrency.
      concurrency: { type: 'string', default: '64' },
      simulators: { type: 'string', default: '4' },
    },
  });
  return validateConfig(inputsSchema, values, 'npm run bench -- snmp arguments');
}

function requireCommands(): void {
  for (const command of ['prometheus-snmp-exporter', 'snmpsimd', 'snmpget']) {
    try {
      execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`${command} is not installed: run \`bash scripts/setup.sh bench\` (installs prometheus-snmp-exporter, snmpsim, snmp)`);
    }
  }
}

interface Simulators {
  ports: number[];
  pids: number[];
  stop: () => Promise<void>;
}

/** `processes` snmpsim processes sharing the devices' endpoints; every endpoint serves the recording under COMMUNITY. */
async function startSimulators(devices: number, processes: number, recording: string): Promise<Simulators> {
  const dir = tempDir('bench-snmpsim');
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  copyFileSync(join(FIXTURES, recording), join(dataDir, `${COMMUNITY}.snmprec`));
  const ports = await freeUdpPorts(devices);
  // snmpsim drops root privileges to nobody and must still read the data and write its cache.
  const asRoot = process.getuid?.() === 0;
  const started: ManagedProcess[] = [];
  for (let p = 0; p < processes; p++) {
    const cacheDir = join(dir, `cache-${p}`);
    mkdirSync(cacheDir);
    chmodSync(cacheDir, 0o777);
    const endpoints = ports.filter((_, i) => i % processes === p).map((port) => `--agent-udpv4-endpoint=127.0.0.1:${port}`);
    // --v2c-arch answers v1/v2c without the SNMPv3 engine; per-request logging would cost more CPU than answering.
    const args = ['--v2c-arch', '--logging-method=null', `--data-dir=${dataDir}`, `--cache-dir=${cacheDir}`, ...endpoints];
    started.push(startProcess('snmpsimd', asRoot ? [...args, '--process-user=nobody', '--process-group=nogroup'] : args));
  }
  chmodSync(dir, 0o777);
  chmodSync(dataDir, 0o777);
  const stop = async () => {
    await Promise.all(started.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor('every simulated device to answer', async () => unanswered(ports).length === 0, 60_000, 1_000);
  } catch (error) {
    const missing = unanswered(ports);
    const owner = started[ports.indexOf(missing[0]!) % processes];
    await stop();
    throw new Error(`${(error as Error).message}: ${missing.length} of ${ports.length} endpoints silent (first ${missing[0]}, snmpsim exit code ${owner?.child.exitCode}): ${owner?.output().slice(-1_000)}`);
  }
  return { ports, pids: started.map((s) => s.child.pid!), stop };
}

/**
 * `n` free loopback UDP ports below the kernel's ephemeral range (32768–60999), from a random
 * start: a port from bind(0) can be handed to another client socket (snmpget, a test running
 * beside the benchmark) before snmpsim binds it, and one endpoint it cannot bind stops the
 * whole snmpsim process.
 */
async function freeUdpPorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  const first = 10_000 + Math.floor(Math.random() * (32_000 - n - 10_000));
  for (let port = first; ports.length < n && port < 32_768; port++) {
    const socket = createSocket('udp4');
    const free = await new Promise<boolean>((resolve) => {
      socket.once('error', () => resolve(false));
      socket.bind(port, '127.0.0.1', () => resolve(true));
    });
    socket.close();
    if (free) ports.push(port);
  }
  if (ports.length < n) throw new Error(`only ${ports.length} free UDP ports below 32768 from ${first}, ${n} needed`);
  return ports;
}

/** Endpoints that do not answer a GET of sysUpTime (checked 50 at a time with snmpget). */
function unanswered(ports: number[]): number[] {
  const silent: number[] = [];
  for (let i = 0; i < ports.length; i += 50) {
    const batch = ports.slice(i, i + 50);
    const script = batch.map((port) => `snmpget -v2c -c ${COMMUNITY} -t 1 -r 0 -Oqv 127.0.0.1:${port} 1.3.6.1.2.1.1.3.0 >/dev/null 2>&1 || echo ${port} &`).join('\n');
    const out = execFileSync('sh', ['-c', `${script}\nwait`], { encoding: 'utf8' });
    silent.push(...out.split('\n').filter(Boolean).map(Number));
  }
  return silent;
}

/**
 * The snmp_exporter 0.21 module for exactly the OIDs the profile's request plan reads (GETs for
 * scalars, walks for table columns), a table's tag column as a label lookup like the generator
 * writes for ifName. Indexes are one integer, which holds for the benchmark's profiles.
 */
function exporterModule(profile: Profile) {
  const plan = planRequests(profile);
  const tagColumns = new Map(profile.tables.flatMap((t) => (t.table.tag.oid ? [[t.table.tag.oid, t.table.tag.key] as const] : [])));
  const name = (oid: string) => `oid_${oid.replaceAll('.', '_')}`;
  const index = [{ labelname: 'index', type: 'gauge' }];
  const lookups = [...tagColumns].map(([oid, key]) => ({ labels: ['index'], labelname: key, oid, type: 'DisplayString' }));
  // A scalar's metric is its object (the OID without .0); a table cell read by GET (upsInputVoltage.1) is its column with the index as a label.
  const objects = new Map(plan.scalars.map((oid) => [oid.slice(0, oid.lastIndexOf('.')), oid.endsWith('.0')]));
  const scalarMetrics = [...objects].map(([oid, scalar]) => ({ name: name(oid), oid, type: 'gauge', help: oid, ...(scalar ? {} : { indexes: index }) }));
  const columnMetrics = [...plan.columns.keys()].filter((oid) => !tagColumns.has(oid)).map((oid) => ({ name: name(oid), oid, type: 'gauge', help: oid, indexes: index, lookups }));
  return {
    get: plan.scalars,
    walk: [...plan.columns.keys()],
    metrics: [...scalarMetrics, ...columnMetrics],
    version: 2,
    max_repetitions: WALK.maxRepetitions,
    retries: WALK.retries,
    timeout: WALK.timeout,
    auth: { community: COMMUNITY },
  };
}

/** Values one poll reads from the recording: the scalars present, and every row of each column (up to maxRows). */
function valuesPerPoll(profile: Profile, recording: string): number {
  const oids = readFileSync(join(FIXTURES, recording), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => line.slice(0, line.indexOf('|')));
  const plan = planRequests(profile);
  const scalars = plan.scalars.filter((oid) => oids.includes(oid)).length;
  let rows = 0;
  for (const [column, maxRows] of plan.columns) rows += Math.min(maxRows, oids.filter((oid) => oid.startsWith(`${column}.`)).length);
  return scalars + rows;
}

interface SideCounts {
  polls: number;
  unreachable: number;
  problems: number;
  overruns: number;
}

interface Side {
  pid: number;
  counts: () => Promise<SideCounts & { fields?: number; pdus?: number; packets?: number }>;
  stop: () => Promise<void>;
}

function deviceEntries(ports: number[], intervalS: number) {
  return ports.map((port, i) => ({ site: 'bench', id: `sim-${i}`, address: `127.0.0.1:${port}`, intervalS, credential: 'bench', links: [], options: {} }));
}

/** Our poller as a separate process, given a devices.yaml and secrets file like the collector's. */
async function startOurs(inputs: Inputs, ports: number[], intervalS: number): Promise<Side> {
  const dir = tempDir('bench-poller');
  const devicesFile = join(dir, 'devices.yaml');
  const secretsFile = join(dir, 'secrets.yaml');
  writeFileSync(devicesFile, stringify({ devices: deviceEntries(ports, intervalS).map((d) => ({ ...d, profile: inputs.profile })) }));
  writeFileSync(secretsFile, stringify({ bench: { snmp: { version: '2c', community: COMMUNITY } } }), { mode: 0o600 });
  const child = fork(join(import.meta.dirname, 'snmp-poller.ts'), [devicesFile, secretsFile, String(inputs.concurrency)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: ['--disable-warning=ExperimentalWarning'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`bench/snmp-poller.ts exited (${code}) before it was ready: ${stderr}`)));
  });
  return {
    pid: child.pid!,
    counts: () => ask(child),
    stop: async () => {
      child.send('stop');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      process.off('exit', killOnExit);
      if (stderr.includes('"level":"error"')) process.stderr.write(`snmp-poller: ${stderr}\n`);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function ask(child: ChildProcess): Promise<PollerCounts> {
  return new Promise((resolve, reject) => {
    child.once('message', (counts) => resolve(counts as PollerCounts));
    child.send('stats', (error) => error && reject(error));
  });
}

/** The exporter, and DevicePoller in this process scraping it through a driver whose poll is one HTTP scrape. */
async function startExporter(inputs: Inputs, profile: Profile, ports: number[], intervalS: number, expectedPdus: number): Promise<Side> {
  const dir = tempDir('bench-exporter');
  const config = join(dir, 'snmp.yml');
  const module = `bench_${profile.id.replaceAll('-', '_')}`;
  // 0.21's snmp.yml maps module names to modules at the top level, auth inside the module.
  writeFileSync(config, stringify({ [module]: exporterModule(profile) }));
  const port = await freePort();
  const exporter = startProcess('prometheus-snmp-exporter', [`--config.file=${config}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn']);
  await waitFor(`prometheus-snmp-exporter\n${exporter.output()}`, async () => (await fetch(`http://127.0.0.1:${port}/`)).ok);

  const scraped = { pdus: 0, packets: 0 };
  const driver: DeviceDriver = {
    name: 'snmp-exporter',
    credential: 'snmp',
    open: (target) => ({
      async poll(signal) {
        const url = `http://127.0.0.1:${port}/snmp?target=${encodeURIComponent(target.device.address)}&module=${module}`;
        let response: Response;
        let text: string;
        try {
          response = await fetch(url, { signal });
          text = await response.text();
        } catch (error) {
          // The poll's deadline aborted the scrape (or the exporter is gone).
          throw new DeviceUnreachableError((error as Error).message, 'timeout');
        }
        // 0.21 answers HTTP 500 when the SNMP walk failed.
        if (!response.ok) throw new DeviceUnreachableError(`HTTP ${response.status}: ${text.slice(0, 100)}`, 'error');
        const pdus = Number(/^snmp_scrape_pdus_returned (\d+)$/m.exec(text)?.[1]);
        scraped.pdus += pdus;
        scraped.packets += Number(/^snmp_scrape_packets_sent (\d+)$/m.exec(text)?.[1]);
        const outcome = emptyOutcome();
        if (pdus !== expectedPdus) outcome.problems.push(`${pdus} values, expected ${expectedPdus}`);
        return outcome;
      },
      close: () => {},
    }),
  };
  const scrapeProfile: Profile = { ...profile, driver: driver.name };
  const poller = new DevicePoller({ drivers: new Map([[driver.name, driver]]), concurrency: inputs.concurrency, language: 'en', log: createLogger({ name: 'bench-exporter-scrapes', level: 'warn' }), deliver: () => {} });
  poller.update(
    deviceEntries(ports, intervalS).map((entry): PlannedDevice => {
      const device = { ...entry, profile: [profile.id] };
      return { device, kind: profile.kind, intervalS, targets: [{ device, profile: scrapeProfile, credential: undefined }], fingerprint: device.id };
    }),
  );
  return {
    pid: exporter.child.pid!,
    counts: async () => ({ ...poller.stats(), ...scraped }),
    stop: async () => {
      await poller.close();
      await exporter.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Busy and total CPU time of the whole machine (all cores, every process, other users' too), from /proc/stat. */
function machineCpu(): { busy: number; total: number } {
  const ticks = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  // idle and iowait
  return { busy: total - ticks[3]! - ticks[4]!, total };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One side for one run: start, warm up, then the measured window. */
async function runSide(which: 'ours' | 'exporter', start: () => Promise<Side>, sims: Simulators, warmupS: number, seconds: number) {
  const side = await start();
  try {
    await sleep(warmupS * 1000);
    const simulatorsBefore = sims.pids.map(processSample);
    const machineBefore = machineCpu();
    const before = { at: performance.now(), cpu: processSample(side.pid), counts: await side.counts(), bench: process.cpuUsage() };
    const memory = sampleProcess(side.pid, 1000);
    await sleep(seconds * 1000);
    const simulatorsAfter = sims.pids.map(processSample);
    const machineAfter = machineCpu();
    const after = { at: performance.now(), cpu: processSample(side.pid), counts: await side.counts(), bench: process.cpuUsage(before.bench) };
    const rss = memory.stop().map((s) => s.rss);
    const elapsedMs = after.at - before.at;
    const delta = (key: keyof SideCounts) => after.counts[key] - before.counts[key];
    const failed = delta('unreachable');
    const completed = delta('polls') - failed;
    const simulatorCpu = simulatorsAfter.map((s, i) => ((s.cpuMs - simulatorsBefore[i]!.cpuMs) / elapsedMs) * 100);
    const perPoll = (key: 'fields' | 'pdus' | 'packets') => (after.counts[key] === undefined ? undefined : round((after.counts[key] - before.counts[key]!) / completed, 1));
    return {
      side: which,
      seconds: round(elapsedMs / 1000, 1),
      completedPolls: completed,
      failedPolls: failed,
      overruns: delta('overruns'),
      problems: delta('problems'),
      pollsPerMinute: round(completed / (elapsedMs / 60_000)),
      cpuMsPerPoll: round((after.cpu.cpuMs - before.cpu.cpuMs) / completed, 3),
      cpuPercentOfOneCore: round(((after.cpu.cpuMs - before.cpu.cpuMs) / elapsedMs) * 100),
      rssMiBMedian: mib(median(rss)),
      ...(which === 'ours' ? { fieldsPerPoll: perPoll('fields') } : { pdusPerScrape: perPoll('pdus'), packetsPerScrape: perPoll('packets') }),
      simulatorCpuPercent: { busiestProcess: round(Math.max(...simulatorCpu)), total: round(simulatorCpu.reduce((a, b) => a + b, 0)) },
      // The benchmark process: scheduling for both sides, plus the HTTP client on the exporter's side (Prometheus's part in production).
      benchProcessCpuPercent: round(((after.bench.user + after.bench.system) / 1000 / elapsedMs) * 100),
      // Near 100 means every core was busy: the window measured a saturated machine, whoever used it.
      machineCpuBusyPercent: round(((machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total)) * 100),
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
    completedPolls: runs.reduce((n, r) => n + r.completedPolls, 0),
    failedPolls: runs.reduce((n, r) => n + r.failedPolls, 0),
    overruns: runs.reduce((n, r) => n + r.overruns, 0),
    problems: runs.reduce((n, r) => n + r.problems, 0),
    pollsPerMinute: med((r) => r.pollsPerMinute),
    cpuMsPerPoll: med((r) => r.cpuMsPerPoll),
    cpuPercentOfOneCore: med((r) => r.cpuPercentOfOneCore),
    rssMiBMedian: med((r) => r.rssMiBMedian),
    simulatorBusiestProcessCpuPercentMax: Math.max(...runs.map((r) => r.simulatorCpuPercent.busiestProcess)),
  };
}

function compare(runs: SideRun[]) {
  const ours = summarise(runs.filter((r) => r.side === 'ours'));
  const exporter = summarise(runs.filter((r) => r.side === 'exporter'));
  return {
    ours,
    exporter,
    ratiosOursOverExporter: {
      pollsPerMinute: round(ours.pollsPerMinute / exporter.pollsPerMinute, 2),
      cpuMsPerPoll: round(ours.cpuMsPerPoll / exporter.cpuMsPerPoll, 2),
      rssMiBMedian: round(ours.rssMiBMedian / exporter.rssMiBMedian, 2),
    },
  };
}

function report(label: string, r: SideRun): void {
  process.stderr.write(
    `snmp ${label} ${r.side}: ${r.completedPolls} polls in ${r.seconds} s = ${r.pollsPerMinute}/min, ${r.failedPolls} failed, ${r.overruns} overruns, ${r.cpuMsPerPoll} ms CPU/poll (${r.cpuPercentOfOneCore} % of a core), RSS ${r.rssMiBMedian} MiB, busiest snmpsim ${r.simulatorCpuPercent.busiestProcess} %, machine ${r.machineCpuBusyPercent} % busy\n`,
  );
}

export async function benchSnmp(args: string[]): Promise<void> {
  const inputs = parseInputs(args);
  requireCommands();
  const profile = loadProfiles().get(inputs.profile);
  if (!profile) throw new Error(`profile ${inputs.profile} is not among the shipped profiles (collector/devices/profiles)`);
  const recording = RECORDINGS[inputs.profile];
  const expectedValues = valuesPerPoll(profile, recording);
  const plan = planRequests(profile);
  const sims = await startSimulators(inputs.devices, inputs.simulators, recording);

  const steady: SideRun[] = [];
  const ceiling: SideRun[] = [];
  try {
    const sides = {
      ours: (intervalS: number) => () => startOurs(inputs, sims.ports, intervalS),
      exporter: (intervalS: number) => () => startExporter(inputs, profile, sims.ports, intervalS, expectedValues),
    };
    for (let run = 0; run < inputs.runs; run++) {
      // Alternating which side goes first spreads slow drifts of the machine over both.
      for (const which of run % 2 === 0 ? (['ours', 'exporter'] as const) : (['exporter', 'ours'] as const)) {
        const result = await runSide(which, sides[which](inputs.interval), sims, inputs.interval, inputs.seconds);
        steady.push(result);
        report(`run ${run + 1}`, result);
      }
    }
    if (inputs['max-seconds'] > 0) {
      for (const which of ['ours', 'exporter'] as const) {
        const result = await runSide(which, sides[which](MAX_INTERVAL_S), sims, MAX_WARMUP_S, inputs['max-seconds']);
        ceiling.push(result);
        report('max', result);
      }
    }
  } finally {
    await sims.stop();
  }

  const debianVersion = (pkg: string) => commandVersion('dpkg-query', ['-W', '-f=${Version}', pkg]);
  writeResult(inputs.profile === 'ups-mib' ? 'snmp' : `snmp-${inputs.profile}`, {
    benchmark: 'snmp-polling',
    date: new Date().toISOString(),
    machine: machine(),
    versions: { node: process.version, netSnmp: packageVersion('net-snmp'), snmpsim: debianVersion('snmpsim'), prometheusSnmpExporter: debianVersion('prometheus-snmp-exporter') },
    inputs: {
      profile: inputs.profile,
      recording: `bench/fixtures/${recording}`,
      devices: inputs.devices,
      oidsPerPoll: { scalars: plan.scalars.length, tableColumns: plan.columns.size, valuesReturned: expectedValues },
      intervalS: inputs.interval,
      warmupS: inputs.interval,
      durationS: inputs.seconds,
      runs: inputs.runs,
      concurrency: inputs.concurrency,
      snmp: { version: '2c', timeout: WALK.timeout, retries: WALK.retries, maxRepetitions: WALK.maxRepetitions },
      simulators: `${inputs.simulators} snmpsim processes (--v2c-arch, no request logging), ${inputs.devices} UDP endpoints on 127.0.0.1 split between them, one community`,
      ours: 'bench/snmp-poller.ts: DevicePoller + snmp driver from devices.yaml/secrets, deliver only counts; separate process',
      exporter: 'prometheus-snmp-exporter with a module for the same OIDs, scraped over HTTP by DevicePoller in the benchmark process (same schedule, concurrency and deadline)',
      maxThroughput: inputs['max-seconds'] > 0 ? { intervalS: MAX_INTERVAL_S, warmupS: MAX_WARMUP_S, durationS: inputs['max-seconds'], runs: 1 } : null,
      method: 'polls completed = polls that answered in the window; polls/min = completed ÷ window minutes; CPU per poll = the process CPU time delta (/proc/<pid>/stat) ÷ completed polls; medians over runs',
    },
    result: {
      steady: compare(steady),
      maxThroughput: ceiling.length > 0 ? compare(ceiling) : null,
    },
    runs: [...steady, ...ceiling],
  });
}
