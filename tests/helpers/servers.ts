import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Real servers for the tests, each on loopback, a random port and its own temp dir.
// Every process started here is killed when the test process exits, even on failure.

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `bi-${prefix}-`));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

export function tcpOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface ManagedProcess {
  child: ChildProcess;
  output: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<void>;
}

/** Spawns a process, keeps its last output for error messages, and kills it on teardown. */
export function startProcess(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): ManagedProcess {
  const child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let buffer = '';
  const keep = (chunk: Buffer) => {
    buffer = (buffer + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => running.delete(child));
  return {
    child,
    output: () => buffer,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface InfluxServer {
  url: string;
  port: number;
  dir: string;
  process: ManagedProcess;
  /** Stops the server and starts it again on the same port and data (an outage, then recovery). */
  kill: () => Promise<void>;
  restart: () => Promise<void>;
  /** Runs an InfluxQL query and returns the `series` of the first statement (empty when none). */
  query: (db: string, q: string) => Promise<InfluxSeries[]>;
  createDatabase: (db: string) => Promise<void>;
  stop: () => Promise<void>;
}

export interface InfluxSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

/** Debian's influxdb 1.6.7: speaks the v1 write API and InfluxQL. */
export async function startInfluxDB(): Promise<InfluxServer> {
  const dir = tempDir('influx');
  const [port, rpcPort] = [await freePort(), await freePort()];
  const config = join(dir, 'influxdb.conf');
  writeFileSync(
    config,
    `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"
[meta]
  dir = "${dir}/meta"
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:${port}"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
`,
  );
  const url = `http://127.0.0.1:${port}`;
  let proc: ManagedProcess;
  const launch = async () => {
    proc = startProcess('influxd', ['-config', config]);
    await waitFor(`influxd on ${url}\n${proc.output()}`, async () => (await fetch(`${url}/ping`)).status === 204);
  };
  await launch();
  const query = async (db: string, q: string): Promise<InfluxSeries[]> => {
    const response = await fetch(`${url}/query?db=${encodeURIComponent(db)}&epoch=ms&q=${encodeURIComponent(q)}`);
    const body = (await response.json()) as { results?: { series?: InfluxSeries[]; error?: string }[]; error?: string };
    const first = body.results?.[0];
    if (!response.ok || body.error || first?.error) throw new Error(`InfluxQL "${q}" failed: ${body.error ?? first?.error ?? response.status}`);
    return first?.series ?? [];
  };
  return {
    url,
    port,
    dir,
    get process() {
      return proc;
    },
    kill: () => proc.stop('SIGKILL'),
    restart: async () => {
      await proc.stop('SIGKILL');
      await launch();
    },
    query,
    createDatabase: async (db) => {
      const response = await fetch(`${url}/query?q=${encodeURIComponent(`CREATE DATABASE "${db}"`)}`, { method: 'POST' });
      if (!response.ok) throw new Error(`CREATE DATABASE failed: ${response.status}`);
    },
    stop: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface VictoriaMetricsServer {
  url: string;
  port: number;
  process: ManagedProcess;
  /** Series exported for a metric selector, e.g. `{__name__="cpu_usage_pct"}`. */
  exportSeries: (selector: string) => Promise<{ metric: Record<string, string>; values: number[]; timestamps: number[] }[]>;
  stop: () => Promise<void>;
}

/** Debian's victoria-metrics: a real server implementing InfluxDB's /api/v2/write. */
export async function startVictoriaMetrics(): Promise<VictoriaMetricsServer> {
  const dir = tempDir('vm');
  const port = await freePort();
  const proc = startProcess('victoria-metrics', [
    `-storageDataPath=${dir}`,
    `-httpListenAddr=127.0.0.1:${port}`,
    '-retentionPeriod=100y',
    '-search.latencyOffset=0s',
    '-search.disableCache',
    // InfluxDB overwrites a point with the same series and timestamp; this makes VM do the same.
    '-dedup.minScrapeInterval=1ms',
    '-loggerLevel=ERROR',
  ]);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`victoria-metrics on ${url}\n${proc.output()}`, async () => (await fetch(`${url}/health`)).ok);
  return {
    url,
    port,
    process: proc,
    exportSeries: async (selector) => {
      const response = await fetch(`${url}/api/v1/export?match[]=${encodeURIComponent(selector)}`);
      if (!response.ok) throw new Error(`export failed: ${response.status} ${await response.text()}`);
      const text = await response.text();
      return text
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as { metric: Record<string, string>; values: number[]; timestamps: number[] });
    },
    stop: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface MosquittoServer {
  url: string;
  port: number;
  process: ManagedProcess;
  stop: () => Promise<void>;
}

/**
 * Debian's mosquitto. `extraConfig` lets a test start it with the shipped production
 * configuration lines or with the defaults that are known to drop messages; `port` lets it
 * appear where a client has been trying to connect.
 */
export async function startMosquitto(extraConfig = '', port?: number): Promise<MosquittoServer> {
  const dir = tempDir('mosquitto');
  port ??= await freePort();
  const config = join(dir, 'mosquitto.conf');
  writeFileSync(config, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\n${extraConfig}\n`);
  const proc = startProcess('mosquitto', ['-c', config]);
  await waitFor(`mosquitto on ${port}\n${proc.output()}`, () => tcpOpen(port));
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    process: proc,
    stop: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
