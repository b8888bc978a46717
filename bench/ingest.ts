import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { freePort, startInfluxDB, startProcess, tempDir, waitFor, type InfluxServer } from '../tests/helpers/servers.ts';
import { commandVersion, machine, mib, median, packageVersion, quantile, round, sampleProcess, writeResult } from './lib.ts';

// Ingest benchmark: a simulated fleet (lightweight MQTT publishers speaking the real contract)
// → the collector as a separate process with its production defaults (embedded broker, batches
// of 5,000, 1 s flush) → InfluxDB 1.6.7. The rate steps up until a step loses a message or does
// not drain; the result is the highest step with zero loss (sent counted against stored).

const DEVICES = Number(process.env.BENCH_DEVICES ?? 1000);
const STEP_SECONDS = Number(process.env.BENCH_STEP_SECONDS ?? 20);
const RATES = (process.env.BENCH_RATES ?? '2000,4000,8000,12000,16000').split(',').map(Number);
const SITE = 'bench';

function metricsPayload(ts: number, seq: number, n: number): string {
  // Shaped like a real agent's fast message: 7 metrics, ~40 fields.
  return JSON.stringify({
    v: 1,
    ts,
    seq,
    metrics: [
      { name: 'cpu', fields: { usage_pct: (n % 100) + 0.5, user_pct: 10.2, system_pct: 3.1, load1: 0.4, load5: 0.3, load15: 0.2, cores: 4 } },
      { name: 'mem', fields: { total_bytes: 17179869184, used_bytes: 8589934592, available_bytes: 8589934592, used_pct: 50 } },
      { name: 'swap', fields: { total_bytes: 2147483648, used_bytes: 0, used_pct: 0 } },
      { name: 'fs', tags: { mount: '/' }, fields: { size_bytes: 107374182400, used_bytes: 53687091200, free_bytes: 53687091200, used_pct: 50, fstype: 'ext4' } },
      { name: 'fs', tags: { mount: '/var' }, fields: { size_bytes: 107374182400, used_bytes: 10737418240, free_bytes: 96636764160, used_pct: 10, fstype: 'ext4' } },
      { name: 'net', tags: { iface: 'eth0' }, fields: { rx_bps: 120000, tx_bps: 80000, rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0, up: true, speed_mbps: 1000 } },
      { name: 'net', tags: { iface: 'eth1' }, fields: { rx_bps: 1000, tx_bps: 800, rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0, up: true, speed_mbps: 1000 } },
    ],
  });
}
const POINTS_PER_MESSAGE = 7;

async function connectFleet(url: string): Promise<MqttClient[]> {
  const clients: MqttClient[] = [];
  for (let i = 0; i < DEVICES; i += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, DEVICES - i) }, async (_, j) => {
        const id = `bench-${i + j}`;
        const c = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: `${SITE}.${id}`, reconnectPeriod: 0, keepalive: 120 });
        await c.publishAsync(`muni/v1/${SITE}/${id}/state`, JSON.stringify({ v: 1, ts: Date.now(), state: 'online', kind: 'pc', intervalS: 10 }), { qos: 1, retain: true });
        return c;
      }),
    );
    clients.push(...batch);
  }
  return clients;
}

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

async function runStep(fleet: MqttClient[], marker: MqttClient, influx: InfluxServer, collectorPid: number, rate: number, lastTs: number[]) {
  const start = Date.now();
  const cpu = sampleProcess(collectorPid, 500);
  const latency = sampleLatency(marker, influx, start + STEP_SECONDS * 1000);
  let sent = 0;
  let failed = 0;
  const perTick = rate / 20;
  for (let tick = 0; tick < STEP_SECONDS * 20; tick++) {
    const due = start + tick * 50;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    const count = Math.round(perTick * (tick + 1)) - Math.round(perTick * tick);
    for (let k = 0; k < count; k++) {
      const n = (sent + k) % fleet.length;
      const ts = Math.max(Date.now(), lastTs[n]! + 1); // one point per device and millisecond
      lastTs[n] = ts;
      fleet[n]!.publish(`muni/v1/${SITE}/bench-${n}/metrics`, metricsPayload(ts, sent + k, n), { qos: 1 }, (error) => {
        if (error) failed++;
      });
    }
    sent += count;
  }
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
    publishErrors: failed,
    stored,
    lost: sent - stored,
    drained,
    achievedMessagesPerSecond: round(sent / publishSeconds),
    pointsPerSecond: round((sent * POINTS_PER_MESSAGE) / publishSeconds),
    drainSecondsAfterPublishing: round(drainSeconds, 2),
    latencyMs: { samples: latencies.length, p50: round(median(latencies)), p99: round(quantile(latencies, 0.99)) },
    collector: { cpuPercentOfOneCore: round(cpuPct), rssMiBMedian: mib(median(samples.map((s) => s.rss))), rssMiBPeak: mib(Math.max(...samples.map((s) => s.rss))) },
  };
}

export async function benchIngest(): Promise<void> {
  const influx = await startInfluxDB();
  const dir = tempDir('bench-collector');
  const [mqttPort, apiPort] = [await freePort(), await freePort()];
  const config = join(dir, 'collector.yaml');
  writeFileSync(config, stringify({ broker: { mode: 'embedded', host: '127.0.0.1', port: mqttPort }, storage: { type: 'influx-v1', url: influx.url }, api: { host: '127.0.0.1', port: apiPort }, registry: { path: join(dir, 'registry.sqlite') }, queue: { path: join(dir, 'spool.sqlite') } }));
  const collector = startProcess(process.execPath, ['--disable-warning=ExperimentalWarning', 'collector/main.ts', '--config', config], { env: { ...process.env, LOG_LEVEL: 'warn' } });
  await waitFor('collector', async () => (await fetch(`http://127.0.0.1:${apiPort}/readyz`)).ok);
  const url = `mqtt://127.0.0.1:${mqttPort}`;
  const fleet = await connectFleet(url);
  const marker = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: `${SITE}.bench-marker`, reconnectPeriod: 0 });
  const lastTs = fleet.map(() => 0);

  const steps = [];
  for (const rate of RATES) {
    const step = await runStep(fleet, marker, influx, collector.child.pid!, rate, lastTs);
    steps.push(step);
    process.stderr.write(`ingest: ${rate} msg/s → sent ${step.sent}, stored ${step.stored}, p50 ${step.latencyMs.p50} ms, collector ${step.collector.cpuPercentOfOneCore} % CPU\n`);
    if (step.lost !== 0 || !step.drained || step.achievedMessagesPerSecond < rate * 0.9) break;
  }
  const best = steps.filter((s) => s.lost === 0 && s.drained).at(-1);

  for (const c of [...fleet, marker]) c.end(true);
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
