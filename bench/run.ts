import { benchFootprint } from './footprint.ts';
import { benchIngest } from './ingest.ts';

// npm run bench [ingest|footprint]: runs the benchmarks, prints their JSON, writes bench/results/.
const which = process.argv[2];
if (which === undefined || which === 'ingest') await benchIngest();
if (which === undefined || which === 'footprint') await benchFootprint();
process.exit(0);
