import { existsSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { freePort, startMosquitto, startProcess, tempDir, waitFor, type ManagedProcess } from '../tests/helpers/servers.ts';
import { AGENT_EXEC_ARGV } from '../deploy/package/agent.ts';
import { buildExecutable } from '../deploy/package/sea.ts';
import { collectionWindows, cpuBetween, type CollectionWindow } from './footprint-windows.ts';
import { commandVersion, machine, median, mib, quantile, round, sampleProcess, writeResult } from './lib.ts';

// Agent footprint: the PACKAGED Linux agent (dist/build/belediye-agent, `npm run package`) beside
// Debian's prometheus-node-exporter scraped at the agent's interval, in the same run, for at
// least 10 minutes so that hardware and inventory collections fall inside the window. CPU is
// read per collection window (bench/footprint-windows.ts): fast windows hold one fast
// collection, slow ones a hardware or inventory collection. A second agent, traced by strace,
// counts the processes each kind of window starts (the traced one is not the one measured).
// Lever variants (the same bundle with other V8 flags) run beside the shipped executable in the
// same window, so each lever's effect is measured against the same load and the same exporter.

const INTERVAL_S = 10;
const HARDWARE_S = 120;
const INVENTORY_S = 300;
const WARMUP_S = 20;

const root = join(import.meta.dirname, '..');
const executable = join(root, 'dist', 'build', 'belediye-agent');
const bundle = join(root, 'dist', 'build', 'belediye-agent.cjs');

interface Variant {
  name: string;
  execArgv: readonly string[];
  executable: string;
}

/** Each lever taken away from the shipped set, one at a time, then all V8 flags. */
const LEVERS: { name: string; execArgv: readonly string[] }[] = [
  { name: 'without-lite-mode', execArgv: AGENT_EXEC_ARGV.filter((a) => a !== '--lite-mode') },
  { name: 'without-v8-flags', execArgv: AGENT_EXEC_ARGV.filter((a) => !a.startsWith('--max-semi-space-size') && a !== '--lite-mode') },
];

/** The shipped executable, and the same bundle in the same runtime with each lever's flags. */
async function variants(): Promise<Variant[]> {
  const work = join(root, 'bench', '.work', 'footprint');
  mkdirSync(work, { recursive: true });
  const node = realpathSync(join(root, 'node_modules', '.bin', 'node'));
  const built: Variant[] = [{ name: 'shipped', execArgv: AGENT_EXEC_ARGV, executable }];
  for (const lever of LEVERS) {
    const output = join(work, lever.name);
    await buildExecutable({ bundle, blobWriter: node, runtime: node, output, execArgv: [...lever.execArgv] });
    built.push({ ...lever, executable: output });
  }
  return built;
}

function agentConfig(mqttUrl: string, device: string): string {
  const dir = tempDir('bench-agent');
  const file = join(dir, 'agent.yaml');
  writeFileSync(file, stringify({ site: 'bench', device, intervalS: INTERVAL_S, hardwareIntervalS: HARDWARE_S, inventoryIntervalS: INVENTORY_S, mqtt: { url: mqttUrl }, stateDir: join(dir, 'state') }));
  return file;
}

/** The first fast metrics message of a device: its timers started within milliseconds of it. */
function firstFastCollection(mqttUrl: string, device: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(mqttUrl, { protocolVersion: 5 });
    client.on('error', reject);
    client.on('message', (_topic, payload) => {
      const message = JSON.parse(payload.toString()) as { ts: number; metrics: { name: string }[] };
      if (!message.metrics.some((m) => m.name === 'cpu')) return;
      client.end(true);
      resolve(message.ts);
    });
    void client.subscribeAsync(`muni/v1/bench/${device}/metrics`, { qos: 1 });
  });
}

/**
 * Processes the agent started, from an strace -f -ttt log of execve: each process other than the
 * agent itself, at its first successful execve (failed ones are PATH lookups; `/bin/sh -c cmd`
 * exec'ing cmd is still one process).
 */
export function startedProcesses(log: string): number[] {
  const firstExec = new Map<string, number>();
  let agentPid: string | undefined;
  // With -f, a call another process interrupts is logged in two lines, the second "<... execve resumed>".
  for (const match of log.matchAll(/^(\d+)\s+(\d+\.\d+) (?:execve\(|<\.\.\. execve resumed>).*\) = 0$/gm)) {
    const [, pid, at] = match as unknown as [string, string, string];
    agentPid ??= pid;
    if (pid !== agentPid && !firstExec.has(pid)) firstExec.set(pid, Number(at) * 1000);
  }
  return [...firstExec.values()];
}

function countIn(windows: readonly CollectionWindow[], times: readonly number[]) {
  return windows.map((w) => times.filter((t) => t >= w.fromMs && t < w.toMs).length);
}

async function oneRun(minutes: number, variantList: readonly Variant[]) {
  const mosquitto = await startMosquitto();
  const exporterPort = await freePort();
  const exporter = startProcess('prometheus-node-exporter', [`--web.listen-address=127.0.0.1:${exporterPort}`]);
  await waitFor('node-exporter', async () => (await fetch(`http://127.0.0.1:${exporterPort}/metrics`)).ok);

  const starts = variantList.map((v) => firstFastCollection(mosquitto.url, v.name));
  const tracedStart = firstFastCollection(mosquitto.url, 'traced');
  const agents = variantList.map((v) => startProcess(v.executable, ['--config', agentConfig(mosquitto.url, v.name)]));
  const traceLog = join(tempDir('bench-strace'), 'strace.log');
  const traced: ManagedProcess = startProcess('strace', ['-f', '-qq', '-ttt', '-e', 'trace=execve', '-e', 'signal=none', '-o', traceLog, executable, '--config', agentConfig(mosquitto.url, 'traced')]);
  const startMs = await starts[0]!;
  const variantStarts = await Promise.all(starts);
  const tracedStartMs = await tracedStart;

  const agentSamples = agents.map((agent) => sampleProcess(agent.child.pid!));
  const exporterSamples = sampleProcess(exporter.child.pid!);
  let scrapes = 0;
  const scrape = () => void fetch(`http://127.0.0.1:${exporterPort}/metrics`).then((r) => r.text()).then(() => scrapes++);
  const scraper = setInterval(scrape, INTERVAL_S * 1000);
  const endMs = startMs + (WARMUP_S + minutes * 60) * 1000;
  await new Promise((r) => setTimeout(r, endMs - Date.now() + 1500));
  clearInterval(scraper);
  const agentRuns = agentSamples.map((sampler) => sampler.stop());
  const exporterRun = exporterSamples.stop();
  await Promise.all([...agents.map((agent) => agent.stop()), traced.stop(), exporter.stop()]);
  await mosquitto.stop();

  const schedule = (start: number) => ({ startMs: start, intervalS: INTERVAL_S, slow: [{ name: 'hardware', firstAfterS: 2, everyS: HARDWARE_S }, { name: 'inventory', firstAfterS: 3, everyS: INVENTORY_S }] });
  const counted = (windows: CollectionWindow[], start: number) => windows.filter((w) => w.fromMs >= start + WARMUP_S * 1000 - 1000 || w.slow.length > 0);
  const measure = (agentRun: (typeof agentRuns)[number], start: number) => {
    const windows = counted(collectionWindows(schedule(start), endMs), start);
    const fast = windows.filter((w) => w.slow.length === 0);
    const slow = windows.filter((w) => w.slow.some((name) => !name.endsWith('(spill-over)')));
    const fastCpu = fast.map((w) => cpuBetween(agentRun, w.fromMs, w.toMs));
    const fastMedian = median(fastCpu);
    // A slow window's cost beyond the fast collection it also holds, with its spill-over window.
    const slowCpu = slow.map((w) => {
      const next = windows.find((n) => n.index === w.index + 1);
      return cpuBetween(agentRun, w.fromMs, next?.toMs ?? w.toMs) - fastMedian * (next ? 2 : 1);
    });
    const measuredWindow = agentRun.filter((sample) => sample.at >= start + WARMUP_S * 1000);
    return {
      fastWindows: fast.length,
      cpuMsPerFastCollection: { median: round(fastMedian, 2), p90: round(quantile(fastCpu, 0.9), 2), mean: round(fastCpu.reduce((a, b) => a + b, 0) / fastCpu.length, 2) },
      slowWindows: slow.map((w) => w.slow.join('+')),
      cpuMsPerSlowCollection: slowCpu.map((v) => round(v, 1)),
      rssMiB: { median: mib(median(measuredWindow.map((x) => x.rss))), peak: mib(Math.max(...measuredWindow.map((x) => x.rss))) },
      rssAnonMiB: { median: mib(median(measuredWindow.map((x) => x.rssAnon))), peak: mib(Math.max(...measuredWindow.map((x) => x.rssAnon))) },
    };
  };
  const exporterWindow = exporterRun.filter((s) => s.at >= startMs + WARMUP_S * 1000);
  const exporterCpu = exporterWindow.at(-1)!.cpuMs - exporterWindow[0]!.cpuMs;
  const exporterScrapesInWindow = Math.round((exporterWindow.at(-1)!.at - exporterWindow[0]!.at) / (INTERVAL_S * 1000));

  const tracedWindows = counted(collectionWindows(schedule(tracedStartMs), endMs), tracedStartMs);
  const spawns = startedProcesses(readFileSync(traceLog, 'utf8'));
  const tracedFast = tracedWindows.filter((w) => w.slow.length === 0);
  const tracedSlow = tracedWindows.filter((w) => w.slow.length > 0);
  const measured = variantList.map((v, i) => ({ variant: v.name, execArgv: v.execArgv, ...measure(agentRuns[i]!, variantStarts[i]!) }));
  const result = {
    agent: measured[0]!,
    levers: measured.slice(1),
    nodeExporter: {
      scrapes,
      cpuMsPerScrape: round(exporterCpu / exporterScrapesInWindow, 2),
      rssMiB: { median: mib(median(exporterWindow.map((x) => x.rss))), peak: mib(Math.max(...exporterWindow.map((x) => x.rss))) },
    },
    spawns: {
      processesInFastWindows: countIn(tracedFast, spawns).reduce((a, b) => a + b, 0),
      fastWindows: tracedFast.length,
      processesPerSlowWindow: countIn(tracedSlow, spawns),
      slowWindows: tracedSlow.map((w) => w.slow.join('+')),
      commands: [...new Set([...readFileSync(traceLog, 'utf8').matchAll(/execve\("([^"]+)".*\) = 0$/gm)].map((m) => m[1]!).slice(1))],
    },
  };
  return { ...result, ratios: { cpuFastCollectionPerScrape: round(result.agent.cpuMsPerFastCollection.mean / result.nodeExporter.cpuMsPerScrape, 2), rssMedian: round(result.agent.rssMiB.median / result.nodeExporter.rssMiB.median, 2) } };
}

export async function benchFootprint(args: string[] = []): Promise<void> {
  const { values } = parseArgs({ args, options: { minutes: { type: 'string', default: '10' }, runs: { type: 'string', default: '1' } } });
  const minutes = Number(values.minutes);
  const runs = Number(values.runs);
  if (!(minutes >= 10) || !Number.isInteger(runs) || runs < 1) throw new Error('footprint: --minutes must be at least 10 (hardware and inventory collections inside the window), --runs a whole number ≥ 1');
  if (!existsSync(executable)) throw new Error(`footprint: ${executable} is missing: run npm run package first`);
  if (!existsSync(bundle)) throw new Error(`footprint: ${bundle} is missing: run npm run package first`);
  const variantList = await variants();
  const results: Awaited<ReturnType<typeof oneRun>>[] = [];
  for (let run = 0; run < runs; run++) results.push(await oneRun(minutes, variantList));
  const med = (pick: (r: (typeof results)[number]) => number) => round(median(results.map(pick)), 2);
  writeResult('footprint', {
    benchmark: 'agent-footprint',
    date: new Date().toISOString(),
    machine: machine(),
    versions: {
      agentRuntime: `node ${(JSON.parse(readFileSync(join(root, 'node_modules', 'node', 'package.json'), 'utf8')) as { version: string }).version} (single executable application)`,
      agent: (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version,
      nodeExporter: commandVersion('prometheus-node-exporter', ['--version']),
    },
    inputs: { executable: 'dist/build/belediye-agent', executableMiB: mib(statSync(executable).size), minutes, runs, warmupExcludedS: WARMUP_S, intervalS: INTERVAL_S, hardwareIntervalS: HARDWARE_S, inventoryIntervalS: INVENTORY_S, nodeExporterScrapedEveryS: INTERVAL_S },
    notes: [
      'CPU is read from /proc/<pid>/stat in 10 ms ticks: one window median is quantised to 10 ms, so per-collection figures and the ratio use the mean over the fast windows of a run; medianOfRuns is the median of those means.',
      'RSS counts the pages of the executable file the process touched (shared, clean, reclaimable) as well as its private memory (RssAnon).',
      'Processes started come from a second, strace-traced agent: each process other than the agent, counted once at its first successful execve (failed execve calls are PATH lookups).',
    ],
    result: {
      medianOfRuns: {
        agentCpuMsPerFastCollection: med((r) => r.agent.cpuMsPerFastCollection.mean),
        nodeExporterCpuMsPerScrape: med((r) => r.nodeExporter.cpuMsPerScrape),
        cpuRatio: med((r) => r.ratios.cpuFastCollectionPerScrape),
        agentRssMiB: med((r) => r.agent.rssMiB.median),
        agentRssAnonMiB: med((r) => r.agent.rssAnonMiB.median),
        nodeExporterRssMiB: med((r) => r.nodeExporter.rssMiB.median),
        processesInFastWindows: Math.max(...results.map((r) => r.spawns.processesInFastWindows)),
        levers: variantList.slice(1).map((v, i) => ({
          variant: v.name,
          execArgv: v.execArgv,
          cpuMsPerFastCollection: med((r) => r.levers[i]!.cpuMsPerFastCollection.mean),
          rssMiB: med((r) => r.levers[i]!.rssMiB.median),
          rssAnonMiB: med((r) => r.levers[i]!.rssAnonMiB.median),
        })),
      },
      runs: results,
    },
  });
}
