import { existsSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startInfluxDB, waitFor, type InfluxServer } from '../tests/helpers/servers.ts';
import { closeFleet, connectFleet, COUNTED_FIELDS, POINTS_PER_MESSAGE, publishAtRate, publishCounts, publishMetrics, scrapeMetrics, startBenchCollector, waitForFirstWrites, type Fleet, type PublishCounts } from './fleet.ts';
import { commandVersion, machine, median, mib, packageVersion, round, sampleProcess, writeResult } from './lib.ts';

// Recovery after an InfluxDB outage: with InfluxDB killed, a backlog of N points is published
// and spooled by the collector; InfluxDB is restarted and, under a steady live ingest, the time
// until the whole backlog is written is measured (the spool is FIFO: the backlog is written once
// the points written since the restart reach the depth at the restart). Then every point,
// backlog and live, is counted in InfluxDB per device. Fresh InfluxDB and collector per run; the
// durable spool runs `runs` times, the in-memory spool once in the same session as its peer.

const SITE = 'drain';
/** QoS 1 messages in flight per backlog device, like an agent draining its offline queue. */
const BACKLOG_WINDOW = 8;
const POLL_MS = 100;

interface Inputs {
  points: number;
  runs: number;
  backlogDevices: number;
  liveDevices: number;
  liveMessagesPerSecond: number;
}

function parseInputs(args: string[]): Inputs {
  const { values } = parseArgs({
    args,
    options: {
      points: { type: 'string', default: '1000000' },
      runs: { type: 'string', default: '3' },
      'backlog-devices': { type: 'string', default: '200' },
      'live-devices': { type: 'string', default: '1000' },
      // 1,000 agents at the default 10 s interval.
      'live-rate': { type: 'string', default: '100' },
    },
  });
  return {
    points: Number(values.points),
    runs: Number(values.runs),
    backlogDevices: Number(values['backlog-devices']),
    liveDevices: Number(values['live-devices']),
    liveMessagesPerSecond: Number(values['live-rate']),
  };
}

/** Every backlog device publishes its share with a small window of unacknowledged messages. */
async function publishBacklog(fleet: Fleet, perDevice: number, counts: PublishCounts): Promise<void> {
  await Promise.all(
    fleet.clients.map(async (_, n) => {
      let next = 0;
      const worker = async () => {
        while (next < perDevice) {
          next++;
          await publishMetrics(fleet, n, counts);
        }
      };
      await Promise.all(Array.from({ length: BACKLOG_WINDOW }, worker));
    }),
  );
}

const fileBytes = (path: string) => (existsSync(path) ? statSync(path).size : 0);

/** Stored points per device of each fleet, checked against its acknowledged messages. */
async function verifyStored(influx: InfluxServer, fleets: [Fleet, PublishCounts][]) {
  const stored = new Map<string, number>();
  for (const { measurement, field } of COUNTED_FIELDS) {
    const series = await influx.query('monitoring', `SELECT count(${field}) FROM ${measurement} WHERE site = '${SITE}' GROUP BY device`);
    for (const s of series) stored.set(s.tags!.device!, (stored.get(s.tags!.device!) ?? 0) + Number(s.values[0]![1]));
  }
  let expected = 0;
  let found = 0;
  let devicesMismatched = 0;
  for (const [fleet, counts] of fleets) {
    fleet.ids.forEach((id, n) => {
      const want = counts.ackedPerDevice[n]! * POINTS_PER_MESSAGE;
      const got = stored.get(id) ?? 0;
      expected += want;
      found += got;
      if (got !== want) devicesMismatched++;
    });
  }
  return { expectedPoints: expected, storedPoints: found, missingPoints: expected - found, devicesMismatched };
}

async function drainRun(inputs: Inputs, spool: 'disk' | 'memory') {
  const influx = await startInfluxDB();
  const collector = await startBenchCollector(influx.url, spool);
  const metrics = () => scrapeMetrics(collector.apiPort);
  const backlogFleet = await connectFleet(collector.mqttUrl, SITE, 'backlog', inputs.backlogDevices);
  const liveFleet = await connectFleet(collector.mqttUrl, SITE, 'live', inputs.liveDevices);
  await waitForFirstWrites(collector.apiPort);
  const memory = sampleProcess(collector.process.child.pid!, 1000);

  await influx.kill();
  const perDevice = Math.ceil(inputs.points / POINTS_PER_MESSAGE / inputs.backlogDevices);
  const backlogPoints = perDevice * inputs.backlogDevices * POINTS_PER_MESSAGE;
  const backlog = publishCounts(backlogFleet);
  const backlogStart = performance.now();
  await publishBacklog(backlogFleet, perDevice, backlog);
  const backlogSeconds = (performance.now() - backlogStart) / 1000;
  // Acknowledged means appended to the spool; this confirms it from the collector's side.
  await waitFor('backlog spooled', async () => (await metrics()).get('collector_queue_depth')! >= backlogPoints, 60_000, POLL_MS);
  const peak = await metrics();
  // The database and its WAL apart: a WAL that keeps growing would mean checkpoints cannot run.
  const spoolFile = spool === 'disk' ? { db: fileBytes(collector.spoolPath), wal: fileBytes(`${collector.spoolPath}-wal`) } : { db: 0, wal: 0 };
  const rssAtPeak = memory.samples.at(-1)!.rss;

  const restartStart = performance.now();
  await influx.restart();
  const restartedAt = performance.now();
  const atRestart = await metrics();
  const depthAtRestart = atRestart.get('collector_queue_depth')!;
  const writtenAtRestart = atRestart.get('collector_points_written_total')!;
  const live = publishCounts(liveFleet);
  let liveRunning = true;
  const liveDone = publishAtRate(liveFleet, inputs.liveMessagesPerSecond, live, () => !liveRunning);

  let firstWriteAt: number | undefined;
  let drainedAt: number | undefined;
  let maxDepth = depthAtRestart;
  let maxSpoolBytes = peak.get('collector_spool_bytes')!;
  while (drainedAt === undefined) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    const last = await metrics();
    const written = last.get('collector_points_written_total')! - writtenAtRestart;
    maxDepth = Math.max(maxDepth, last.get('collector_queue_depth')!);
    maxSpoolBytes = Math.max(maxSpoolBytes, last.get('collector_spool_bytes')!);
    if (written > 0) firstWriteAt ??= performance.now();
    if (written >= depthAtRestart) drainedAt = performance.now();
    if (performance.now() - restartedAt > 600_000) throw new Error(`backlog not written 10 minutes after the restart: ${written} of ${depthAtRestart} points`);
  }
  const liveAckedDuringDrain = live.acked;
  liveRunning = false;
  await liveDone;
  await waitFor('live acknowledgements', async () => live.acked + live.failed === live.sent, 30_000);
  await waitFor('queue empty', async () => (await metrics()).get('collector_queue_depth') === 0, 60_000, POLL_MS);
  const end = await metrics();
  const rss = memory.stop().map((s) => s.rss);
  const stored = await verifyStored(influx, [
    [backlogFleet, backlog],
    [liveFleet, live],
  ]);

  closeFleet(backlogFleet);
  closeFleet(liveFleet);
  await collector.stop();
  await influx.stop();

  const drainSeconds = (drainedAt - restartedAt) / 1000;
  const writingSeconds = (drainedAt - firstWriteAt!) / 1000;
  const delta = (name: string) => end.get(name)! - atRestart.get(name)!;
  return {
    spool,
    backlog: {
      points: backlogPoints,
      messages: backlog.sent,
      acknowledged: backlog.acked,
      publishErrors: backlog.failed,
      spooledMessagesPerSecond: round(backlog.acked / backlogSeconds),
      spoolBytesAtPeak: peak.get('collector_spool_bytes')!,
      spoolBytesPerPoint: round(peak.get('collector_spool_bytes')! / peak.get('collector_queue_depth')!),
      spoolFileBytesAtPeak: spoolFile,
      spoolFileBytesPerPoint: round((spoolFile.db + spoolFile.wal) / backlogPoints, 1),
      collectorRssMiBAtPeak: mib(rssAtPeak),
    },
    drain: {
      influxRestartSeconds: round((restartedAt - restartStart) / 1000, 2),
      depthAtRestart,
      firstWriteSeconds: round((firstWriteAt! - restartedAt) / 1000, 2),
      drainSeconds: round(drainSeconds, 2),
      pointsPerSecond: round(depthAtRestart / drainSeconds),
      pointsPerSecondWhileWriting: round(depthAtRestart / writingSeconds),
      maxQueueDepth: maxDepth,
      maxSpoolBytes,
    },
    live: {
      targetMessagesPerSecond: inputs.liveMessagesPerSecond,
      acknowledgedMessagesPerSecondDuringDrain: round(liveAckedDuringDrain / drainSeconds),
      messagesSent: live.sent,
      publishErrors: live.failed,
    },
    collector: {
      pointsDropped: end.get('collector_points_dropped_total')!,
      pointsQuarantined: end.get('collector_points_quarantined_total')!,
      writeErrorsDuringOutage: atRestart.get('collector_write_errors_total')!,
      writeErrorsAfterRestart: delta('collector_write_errors_total'),
      mqttRefusedOrThrottled: end.get('collector_mqtt_refused_total') ?? 0,
      rssMiBBeforeOutage: mib(rss[0]!),
      rssMiBMedian: mib(median(rss)),
      rssMiBPeak: mib(Math.max(...rss)),
      rssMiBAfterDrain: mib(rss.at(-1)!),
    },
    stored,
  };
}

type Run = Awaited<ReturnType<typeof drainRun>>;

function summarise(runs: Run[]) {
  const med = (pick: (r: Run) => number) => median(runs.map(pick));
  return {
    runs: runs.length,
    drainSeconds: med((r) => r.drain.drainSeconds),
    firstWriteSeconds: med((r) => r.drain.firstWriteSeconds),
    drainPointsPerSecond: med((r) => r.drain.pointsPerSecond),
    drainPointsPerSecondWhileWriting: med((r) => r.drain.pointsPerSecondWhileWriting),
    liveAcknowledgedMessagesPerSecond: med((r) => r.live.acknowledgedMessagesPerSecondDuringDrain),
    backlogSpooledMessagesPerSecond: med((r) => r.backlog.spooledMessagesPerSecond),
    spoolBytesAtPeak: med((r) => r.backlog.spoolBytesAtPeak),
    spoolBytesPerPoint: med((r) => r.backlog.spoolBytesPerPoint),
    spoolFileBytesPerPoint: med((r) => r.backlog.spoolFileBytesPerPoint),
    collectorRssMiBPeak: med((r) => r.collector.rssMiBPeak),
    pointsDropped: Math.max(...runs.map((r) => r.collector.pointsDropped)),
    missingPoints: Math.max(...runs.map((r) => r.stored.missingPoints)),
  };
}

export async function benchDrain(args: string[]): Promise<void> {
  const inputs = parseInputs(args);
  const plan: ('disk' | 'memory')[] = [...Array.from({ length: inputs.runs }, () => 'disk' as const), 'memory'];
  const runs: Run[] = [];
  for (const spool of plan) {
    const run = await drainRun(inputs, spool);
    runs.push(run);
    process.stderr.write(
      `drain (${spool}): ${run.drain.depthAtRestart} points in ${run.drain.drainSeconds} s (first write after ${run.drain.firstWriteSeconds} s, ${run.drain.pointsPerSecondWhileWriting} points/s while writing), live ${run.live.acknowledgedMessagesPerSecondDuringDrain} msg/s, dropped ${run.collector.pointsDropped}, missing ${run.stored.missingPoints}\n`,
    );
  }
  const disk = summarise(runs.filter((r) => r.spool === 'disk'));
  const memory = summarise(runs.filter((r) => r.spool === 'memory'));

  writeResult('drain', {
    benchmark: 'drain-after-influxdb-outage',
    date: new Date().toISOString(),
    machine: machine(),
    versions: { influxdb: commandVersion('influxd', ['version']), aedes: packageVersion('aedes'), mqtt: packageVersion('mqtt') },
    inputs: {
      ...inputs,
      pointsPerMessage: POINTS_PER_MESSAGE,
      qos: 1,
      backlogWindowPerDevice: BACKLOG_WINDOW,
      metricsPollMs: POLL_MS,
      collector: 'separate process, embedded broker, influx-v1 writer, batch 5000, flush 1 s, retry backoff 0.5–5 s; durable spool (synchronous=NORMAL) against queue.path ":memory:"',
      drainEnd: 'points written since the InfluxDB restart reach the queue depth at the restart (the spool is FIFO), from /metrics polled every 100 ms',
    },
    result: {
      disk,
      memory,
      ratiosDiskOverMemory: {
        drainSeconds: round(disk.drainSeconds / memory.drainSeconds, 2),
        drainPointsPerSecondWhileWriting: round(disk.drainPointsPerSecondWhileWriting / memory.drainPointsPerSecondWhileWriting, 2),
        backlogSpooledMessagesPerSecond: round(disk.backlogSpooledMessagesPerSecond / memory.backlogSpooledMessagesPerSecond, 2),
        collectorRssMiBPeak: round(disk.collectorRssMiBPeak / memory.collectorRssMiBPeak, 2),
      },
    },
    runs,
  });
}
