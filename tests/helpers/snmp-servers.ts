import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmodSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startProcess, tempDir, waitFor, type ManagedProcess } from './servers.ts';

// Real SNMP peers on loopback: Debian's snmpd (IF-MIB, HOST-RESOURCES-MIB, SNMPv3 users) and
// Debian's snmpsim serving recordings written from the MIB definitions (tests/fixtures/snmp).

const run = promisify(execFile);

export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** True once `snmpget` gets an answer for sysUpTime with these arguments. */
async function answers(args: string[]): Promise<boolean> {
  try {
    await run('snmpget', ['-t', '0.5', '-r', '0', '-Oqv', ...args, '1.3.6.1.2.1.1.3.0']);
    return true;
  } catch {
    return false;
  }
}

export interface SnmpV3User {
  user: string;
  authKey: string;
  privKey: string;
}

export interface SnmpdServer {
  address: string;
  port: number;
  process: ManagedProcess;
  stop: () => Promise<void>;
}

/** Debian's snmpd on a random loopback UDP port, with a read-only community and optional v3 authPriv (SHA/AES) users. */
export async function startSnmpd(options: { community?: string; v3Users?: SnmpV3User[]; sysName?: string } = {}): Promise<SnmpdServer> {
  const dir = tempDir('snmpd');
  const port = await freeUdpPort();
  const community = options.community ?? 'public';
  const lines = [
    `agentAddress udp:127.0.0.1:${port}`,
    `rocommunity ${community} 127.0.0.1`,
    `sysName ${options.sysName ?? 'test-switch'}`,
    'sysLocation test rack',
    'sysContact noc@example.invalid',
    ...(options.v3Users ?? []).flatMap((u) => [`createUser ${u.user} SHA "${u.authKey}" AES "${u.privKey}"`, `rouser ${u.user} priv`]),
  ];
  const config = join(dir, 'snmpd.conf');
  writeFileSync(config, `${lines.join('\n')}\n`);
  const proc = startProcess('snmpd', ['-f', '-Lo', '-C', '-c', config, '-p', join(dir, 'snmpd.pid')], { env: { ...process.env, SNMP_PERSISTENT_DIR: dir } });
  await waitFor(`snmpd on ${port}\n${proc.output()}`, () => answers(['-v2c', '-c', community, `127.0.0.1:${port}`]), 20_000, 200);
  return {
    address: `127.0.0.1:${port}`,
    port,
    process: proc,
    stop: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface SnmpsimServer {
  address: string;
  port: number;
  /** The data directory: a recording named <community>.snmprec answers to that community. */
  dataDir: string;
  /** Serves `recording` (a file of tests/fixtures/snmp) under `community` from now on. */
  serve: (community: string, recording: string) => void;
  /** Serves a recording given as text (a fixture edited by the test). */
  serveText: (community: string, text: string) => void;
  process: ManagedProcess;
  stop: () => Promise<void>;
}

export const SNMP_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'snmp');

/**
 * Debian's snmpsim. `recordings` maps a community to a recording file name under
 * tests/fixtures/snmp; changing what a community serves between two polls (serve()) is how a
 * test makes a UPS go on battery or a link go down.
 */
export async function startSnmpsim(recordings: Record<string, string>): Promise<SnmpsimServer> {
  const dir = tempDir('snmpsim');
  const dataDir = join(dir, 'data');
  const cacheDir = join(dir, 'cache');
  mkdirSync(dataDir);
  mkdirSync(cacheDir);
  // snmpsim re-indexes a recording whose modification time changed, at one-second resolution:
  // two swaps within a second would go unseen, so every swap gets a later whole second.
  let lastMtimeS = 0;
  const serveText = (community: string, text: string) => {
    const target = join(dataDir, `${community}.snmprec`);
    writeFileSync(target, text, { mode: 0o644 });
    lastMtimeS = Math.max(Math.ceil(Date.now() / 1000), lastMtimeS + 1);
    utimesSync(target, lastMtimeS, lastMtimeS);
  };
  const serve = (community: string, recording: string) => serveText(community, readFileSync(join(SNMP_FIXTURES, recording), 'utf8'));
  for (const [community, recording] of Object.entries(recordings)) serve(community, recording);
  // snmpsim drops root privileges to this user and needs to read the data and write its cache.
  chmodSync(dir, 0o777);
  chmodSync(dataDir, 0o777);
  chmodSync(cacheDir, 0o777);
  const port = await freeUdpPort();
  const proc = startProcess('snmpsimd', [`--data-dir=${dataDir}`, `--cache-dir=${cacheDir}`, `--agent-udpv4-endpoint=127.0.0.1:${port}`, '--process-user=nobody', '--process-group=nogroup']);
  const first = Object.keys(recordings)[0] ?? 'public';
  await waitFor(`snmpsim on ${port}\n${proc.output()}`, () => answers(['-v2c', '-c', first, `127.0.0.1:${port}`]), 30_000, 300);
  return {
    address: `127.0.0.1:${port}`,
    port,
    dataDir,
    serve,
    serveText,
    process: proc,
    stop: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
