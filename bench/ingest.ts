import mqtt, { type MqttClient } from 'mqtt';
import { startInfluxDB, waitFor, type InfluxServer } from '../tests/helpers/servers.ts';
import { closeFleet, connectFleet, metricsPayload, POINTS_PER_MESSAGE, publishAtRate, publishCounts, startBenchCollector, waitForFirstWrites, type Fleet } from './fleet.ts';
import { commandVersion, latencySummary, machine, mib, median, packageVersion, round, sampleProcess, writeResult } from './lib.ts';

// Ingest benchmark: a simulated fleet (lightweight MQTT publishers speaking the real contract)
// → the collector as a separate process with its production defaults (embedded broker, batches
// of 5,000, 1 s flush) → InfluxDB 1.6.7. The rate steps up until a step loses a message or does
// not drain; the result is the highest step with zero loss (sent counted against stored).

const DEVICES = Number(process.env.BENCH_DEVICES ?? 1000);
const STEP_SECONDS = Number(process.env.BENCH_STEP_SECONDS ?? 20);
const RATES = (process.env.BENCH_RATES ?? '2000,4000,8000,12000,16000').split(',').map(Number);
const SITE = 'bench';

async function storedSince(influx: InfluxServer, since: number): Promise<number> {
  const rows = await influx.query('monitoring', `SELECT count(usage_pct) FROM cpu WHERE site = '${SITE}' AND device =~ /^bench-\\d+$/ AND time >= ${since}ms`);
  return Number(rows[0]?.values[0]?.[1] ?? 0);
}

/** Publish-to-stored latency by sampling: one marker at a time, polled in InfluxDB every 20 ms. */
async function sampleLatency(marker: MqttClient, influx: InfluxServer, until: number): Promise<number[]> {
  const latencies: number[] = [];
  let seq = 0;
  while (Date.now() < until) {
    const ts = Date.now();
    const sentAt = performance.now();
    await marker.publishAsync(`muni/v1/${SITE}/bench-marker/metrics`, metricsPayload(ts, seq++, 1), { qos: 1 });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const rows = await influx.query('monitoring', `SELECT usage_pct FROM cpu WHERE device = 'bench-marker' AND time = ${ts}ms`);
      if (rows.length > 0) {
        latencies.push(performance.now() - sentAt);
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return latencies;
}

async function runStep(fleet: Fleet, marker: MqttClient, influx: InfluxServer, collectorPid: number, rate: number) {
  const start = Date.now();
  const cpu = sampleProcess(collectorPid, 500);
  const latency = sampleLatency(marker, influx, start + STEP_SECONDS * 1000);
  const counts = publishCounts(fleet);
  await publishAtRate(fleet, rate, counts, (tick) => tick >= STEP_SECONDS * 20);
  const { sent } = counts;
  const publishSeconds = (Date.now() - start) / 1000;
  let stored = 0;
  const drained = await waitFor('drain', async () => (stored = await storedSince(influx, start)) >= sent, 30_000, 250).then(
    () => true,
    () => false,
  );
  const drainSeconds = (Date.now() - start) / 1000 - publishSeconds;
  const samples = cpu.stop();
  const latencies = await latency;
  const cpuPct = ((samples.at(-1)!.cpuMs - samples[0]!.cpuMs) / (samples.at(-1)!.at - samples[0]!.at)) * 100;
  return {
    targetMessagesPerSecond: rate,
    sent,
    publishErrors: counts.failed,
    stored,
    lost: sent - stored,
    drained,
    achievedMessagesPerSecond: round(sent / publishSeconds),
    pointsPerSecond: round((sent * POINTS_PER_MESSAGE) / publishSeconds),
    drainSecondsAfterPublishing: round(drainSeconds, 2),
    latencyMs: latencySummary(latencies),
    collector: { cpuPercentOfOneCore: round(cpuPct), rssMiBMedian: mib(median(samples.map((s) => s.rss))), rssMiBPeak: mib(Math.max(...samples.map((s) => s.rss))) },
  };
}

export async function benchIngest(): Promise<void> {
  const influx = await startInfluxDB();
  const collector = await startBenchCollector(influx.url);
  const fleet = await connectFleet(collector.mqttUrl, SITE, 'bench', DEVICES);
  const marker = await mqtt.connectAsync(collector.mqttUrl, { protocolVersion: 4, clientId: `${SITE}.bench-marker`, reconnectPeriod: 0 });
  // The latency probe queries the database, which the first write creates.
  await waitForFirstWrites(collector.apiPort);

  const steps = [];
  for (const rate of RATES) {
    const step = await runStep(fleet, marker, influx, collector.process.child.pid!, rate);
    steps.push(step);
    process.stderr.write(`ingest: ${rate} msg/s → sent ${step.sent}, stored ${step.stored}, latency ${JSON.stringify(step.latencyMs)} ms, collector ${step.collector.cpuPercentOfOneCore} % CPU\n`);
    if (step.lost !== 0 || !step.drained || step.achievedMessagesPerSecond < rate * 0.9) break;
  }
  const best = steps.filter((s) => s.lost === 0 && s.drained).at(-1);

  closeFleet(fleet);
  marker.end(true);
  await collector.stop();
  await influx.stop();

  writeResult('ingest', {
    benchmark: 'ingest',
    date: new Date().toISOString(),
    machine: machine(),
    versions: { influxdb: commandVersion('influxd', ['version']), aedes: packageVersion('aedes'), mqtt: packageVersion('mqtt'), zod: packageVersion('zod') },
    inputs: { devices: DEVICES, stepSeconds: STEP_SECONDS, rates: RATES, pointsPerMessage: POINTS_PER_MESSAGE, qos: 1, collector: 'separate process, embedded broker, influx-v1 writer, batch 5000, flush 1 s', latencyMethod: 'one marker message at a time, polled in InfluxDB every 20 ms (adds up to 20 ms)' },
    result: best ? { sustainedMessagesPerSecond: best.achievedMessagesPerSecond, sustainedPointsPerSecond: best.pointsPerSecond, lost: best.lost, latencyMs: best.latencyMs, collector: best.collector } : null,
    steps,
  });
}
