import { loadDeviceConfig } from '../collector/devices/device-config.ts';
import { DRIVERS } from '../collector/devices/drivers/index.ts';
import { fping } from '../collector/devices/drivers/probe-icmp.ts';
import { DevicePoller } from '../collector/devices/poller.ts';
import { createLogger } from '../src/log.ts';
import { PollTimer } from './poll-times.ts';

// Our side of the probe benchmark, in its own process so that its CPU (with the fping runs it
// starts) and RSS come from /proc like the exporter's: the collector's device-list path
// (devices.yaml, shipped profiles, DRIVERS) and DevicePoller, with a `deliver` that only counts,
// every driver wrapped to note when each poll starts (the schedule as the poller keeps it).
// Driven over IPC by bench/probes.ts: 'stats' → counters, 'times' → PollTimes, 'stop' → exits.
//   fork('bench/probe-poller.ts', [devices.yaml, concurrency])

export interface ProbePollerCounts {
  devices: number;
  polls: number;
  unreachable: number;
  problems: number;
  overruns: number;
  waiting: number;
  messages: number;
  fpingRuns: number;
  heapUsed: number;
}

const [file, concurrency] = process.argv.slice(2);
const send = process.send?.bind(process);
if (!send || !file || !concurrency) {
  process.stderr.write('bench/probe-poller.ts is started by bench/probes.ts (IPC): fork(probe-poller.ts, [devices.yaml, concurrency])\n');
  process.exit(2);
}

const timer = new PollTimer();
const drivers = new Map([...DRIVERS].map(([name, driver]) => [name, timer.wrap(driver)]));
const log = createLogger({ name: 'bench-probe-poller', level: 'warn' });
let messages = 0;
const poller = new DevicePoller({ drivers, concurrency: Number(concurrency), language: 'en', log, deliver: () => messages++ });
const { plans } = loadDeviceConfig({ file, secretsFile: undefined, profilesDirs: [], defaultIntervalS: 60 }, drivers, process.env, log);
poller.update(plans);

process.on('message', (request) => {
  if (request === 'stats') {
    const { devices, polls, unreachable, problems, overruns, waiting } = poller.stats();
    send({ devices, polls, unreachable, problems, overruns, waiting, messages, fpingRuns: fping.spawned, heapUsed: process.memoryUsage().heapUsed } satisfies ProbePollerCounts);
  } else if (request === 'times') {
    send(timer.times());
  } else if (request === 'stop') {
    void poller.close().then(() => process.exit(0));
  }
});
send('ready');
