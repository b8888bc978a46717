import { loadDeviceConfig } from '../collector/devices/device-config.ts';
import { DRIVERS } from '../collector/devices/drivers/index.ts';
import { DevicePoller } from '../collector/devices/poller.ts';
import { createLogger } from '../src/log.ts';

// Our side of the SNMP benchmark, in its own process so that its CPU and RSS come from /proc
// like the exporter's: the collector's device-list path (devices.yaml + secrets file, shipped
// profiles, DRIVERS) and DevicePoller, with a `deliver` that only counts, so the poller is what
// is measured, not ingest or InfluxDB. Driven over IPC by bench/snmp.ts: 'stats' → counters,
// 'stop' → closes the poller and exits.
//   fork('bench/snmp-poller.ts', [devices.yaml, secrets.yaml, concurrency])

export interface PollerCounts {
  devices: number;
  polls: number;
  unreachable: number;
  problems: number;
  overruns: number;
  messages: number;
  metrics: number;
  fields: number;
}

const [file, secretsFile, concurrency] = process.argv.slice(2);
const send = process.send?.bind(process);
if (!send || !file || !secretsFile || !concurrency) {
  process.stderr.write('bench/snmp-poller.ts is started by bench/snmp.ts (IPC): fork(snmp-poller.ts, [devices.yaml, secrets.yaml, concurrency])\n');
  process.exit(2);
}

const log = createLogger({ name: 'bench-snmp-poller', level: 'warn' });
const delivered = { messages: 0, metrics: 0, fields: 0 };
const poller = new DevicePoller({
  drivers: DRIVERS,
  concurrency: Number(concurrency),
  language: 'en',
  log,
  deliver: (_address, message) => {
    delivered.messages++;
    if (message.channel !== 'metrics') return;
    for (const metric of message.body.metrics) {
      delivered.metrics++;
      delivered.fields += Object.keys(metric.fields).length;
    }
  },
});
const { plans } = loadDeviceConfig({ file, secretsFile, profilesDirs: [], defaultIntervalS: 60 }, DRIVERS, process.env, log);
poller.update(plans);

process.on('message', (request) => {
  if (request === 'stats') {
    const { devices, polls, unreachable, problems, overruns } = poller.stats();
    send({ devices, polls, unreachable, problems, overruns, ...delivered } satisfies PollerCounts);
  } else if (request === 'stop') {
    void poller.close().then(() => process.exit(0));
  }
});
send('ready');
