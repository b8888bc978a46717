import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort, startMosquitto, startProcess, tempDir, waitFor } from '../tests/helpers/servers.ts';
import { commandVersion, machine, mib, median, packageVersion, round, sampleProcess, writeResult } from './lib.ts';

// Agent footprint: the agent at a 10 s interval beside Debian's prometheus-node-exporter scraped
// at the same interval, same window. CPU per collection excludes the start-up (first 15 s).

const DURATION_S = Number(process.env.BENCH_FOOTPRINT_SECONDS ?? 180);
const INTERVAL_S = 10;
const WARMUP_S = 15;

function summarise(samples: { at: number; cpuMs: number; rss: number }[], collections: number) {
  const after = samples.filter((s) => s.at >= samples[0]!.at + WARMUP_S * 1000);
  const cpuMs = after.at(-1)!.cpuMs - after[0]!.cpuMs;
  return { cpuMsPerCollection: round(cpuMs / collections, 2), rssMiBMedian: mib(median(after.map((s) => s.rss))), rssMiBPeak: mib(Math.max(...after.map((s) => s.rss))) };
}

export async function benchFootprint(): Promise<void> {
  const mosquitto = await startMosquitto();
  const dir = tempDir('bench-agent');
  const config = join(dir, 'agent.yaml');
  writeFileSync(config, stringify({ site: 'bench', device: 'footprint', intervalS: INTERVAL_S, mqtt: { url: mosquitto.url }, stateDir: join(dir, 'state') }));
  const agent = startProcess(process.execPath, ['agent/main.ts', '--config', config]);
  const exporterPort = await freePort();
  const exporter = startProcess('prometheus-node-exporter', [`--web.listen-address=127.0.0.1:${exporterPort}`]);
  await waitFor('node-exporter', async () => (await fetch(`http://127.0.0.1:${exporterPort}/metrics`)).ok);

  const agentSamples = sampleProcess(agent.child.pid!);
  const exporterSamples = sampleProcess(exporter.child.pid!);
  let scrapes = 0;
  const scraper = setInterval(() => {
    void fetch(`http://127.0.0.1:${exporterPort}/metrics`).then((r) => r.text()).then(() => scrapes++);
  }, INTERVAL_S * 1000);
  await new Promise((r) => setTimeout(r, DURATION_S * 1000));
  clearInterval(scraper);
  const collections = Math.floor((DURATION_S - WARMUP_S) / INTERVAL_S);
  const agentResult = summarise(agentSamples.stop(), collections);
  const exporterResult = summarise(exporterSamples.stop(), collections);
  await agent.stop();
  await exporter.stop();
  await mosquitto.stop();

  writeResult('footprint', {
    benchmark: 'agent-footprint',
    date: new Date().toISOString(),
    machine: machine(),
    versions: { nodeExporter: commandVersion('prometheus-node-exporter', ['--version']), systeminformation: packageVersion('systeminformation'), mqtt: packageVersion('mqtt') },
    inputs: { durationS: DURATION_S, intervalS: INTERVAL_S, warmupExcludedS: WARMUP_S, collectionsCounted: collections, nodeExporterScrapes: scrapes, agentHardwareIntervalS: 300 },
    result: {
      agent: agentResult,
      nodeExporter: exporterResult,
      ratios: { cpuPerCollection: round(agentResult.cpuMsPerCollection / exporterResult.cpuMsPerCollection, 2), rssMedian: round(agentResult.rssMiBMedian / exporterResult.rssMiBMedian, 2) },
    },
  });
}
