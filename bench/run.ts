import { benchAlerts } from './alerts.ts';
import { benchDrain } from './drain.ts';
import { benchFootprint } from './footprint.ts';
import { benchIngest } from './ingest.ts';
import { benchProbes } from './probes.ts';
import { benchSnmp } from './snmp.ts';

// npm run bench [ingest|footprint|drain [--points N --runs R …]]: runs the benchmarks, prints
// their JSON, writes bench/results/.
const [which, ...args] = process.argv.slice(2);
if (which === undefined || which === 'ingest') await benchIngest();
if (which === undefined || which === 'footprint') await benchFootprint(args);
if (which === undefined || which === 'drain') await benchDrain(args);
if (which === undefined || which === 'snmp') await benchSnmp(args);
if (which === undefined || which === 'alerts') await benchAlerts(args);
if (which === undefined || which === 'probes') await benchProbes(args);
process.exit(0);
