import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

// The HTTP targets of bench/probes.ts, in their own process so that serving them is counted
// with neither prober: `listeners` servers on 127.0.0.1, random ports, each answering every GET
// with a small page that holds the keyword and closing the connection, so both probers open a
// connection per probe. It also notes when each target's request arrived (target = the path),
// which gives the schedule as the target sees it, the same way for both probers.
// Driven over IPC: 'arrivals' → { arrivals: { path: epoch ms[] } } and forgets them; 'stop' → exits.
//   fork('bench/probe-targets.ts', [listeners, keyword]) → { ports: number[] } when listening

export interface TargetsReady {
  ports: number[];
}
export interface TargetsArrivals {
  arrivals: Record<string, number[]>;
}

const [listeners, keyword] = process.argv.slice(2);
const send = process.send?.bind(process);
if (!send || !listeners || !keyword || !/^[1-9]\d?$/.test(listeners)) {
  process.stderr.write('bench/probe-targets.ts is started by bench/probes.ts (IPC): fork(probe-targets.ts, [listeners 1-99, keyword])\n');
  process.exit(2);
}

// About the size of a small status page; the keyword near the end, so a prober searches most of it.
const page = Buffer.from(`<!doctype html><html><head><meta charset="utf-8"><title>bench</title></head><body>${'<p>Belediye hizmetleri durum sayfası.</p>'.repeat(40)}<p>${keyword}</p></body></html>`);
const now = () => performance.timeOrigin + performance.now();
let arrivals = new Map<string, number[]>();

const servers: Server[] = [];
for (let i = 0; i < Number(listeners); i++) {
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    const times = arrivals.get(path);
    if (times) times.push(now());
    else arrivals.set(path, [now()]);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': page.length, connection: 'close' });
    res.end(page);
  });
  servers.push(server);
}
await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', 1_024, resolve))));

process.on('message', (request) => {
  if (request === 'arrivals') {
    send({ arrivals: Object.fromEntries(arrivals) } satisfies TargetsArrivals);
    arrivals = new Map();
  } else if (request === 'stop') {
    for (const server of servers) server.closeAllConnections();
    process.exit(0);
  }
});
send({ ports: servers.map((s) => (s.address() as AddressInfo).port) } satisfies TargetsReady);
