import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agentConfigFile, startAgentWithConfig } from './helpers/agent-process.ts';
import { startSilentServer } from './helpers/loopback-stubs.ts';
import { freePort, startMosquitto, waitFor, type ManagedProcess } from './helpers/servers.ts';

// A service stop (SIGTERM; WinSW sends Ctrl+C, which Node sees as SIGINT) must end within 5 s
// whatever the collector does, and leave every unsent message in the offline queue.

const STOP_BUDGET_MS = 5_000;

function queuedMessages(stateDir: string): number {
  const db = new DatabaseSync(join(stateDir, 'queue.sqlite'), { readOnly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

async function timedStop(agent: ManagedProcess, signal: NodeJS.Signals): Promise<{ ms: number; code: number | null }> {
  const started = performance.now();
  const exited = new Promise<number | null>((resolve) => agent.child.once('exit', (code) => resolve(code)));
  agent.child.kill(signal);
  const code = await exited;
  return { ms: performance.now() - started, code };
}

function startAgent(mqttUrl: string) {
  const file = agentConfigFile({ site: 'zabita', device: 'stop-test', kind: 'pc', intervalS: 1, mqtt: { url: mqttUrl, connectTimeoutS: 30 } });
  const stateDir = join(file, '..', 'state');
  return { agent: startAgentWithConfig(file), stateDir };
}

describe('agent stop is bounded with the collector unreachable', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('nobody listening: SIGTERM ends within 5 s and the queue keeps what was collected', async () => {
    const { agent, stateDir } = startAgent(`mqtt://127.0.0.1:${await freePort()}`);
    cleanups.push(() => agent.stop('SIGKILL'));
    await waitFor('queued metrics', async () => queuedMessages(stateDir) >= 3, 20_000).catch((e) => Promise.reject(new Error(`${e}\n${agent.output()}`)));
    const { ms, code } = await timedStop(agent, 'SIGTERM');
    expect(code).toBe(0);
    expect(ms).toBeLessThan(STOP_BUDGET_MS);
    expect(queuedMessages(stateDir)).toBeGreaterThanOrEqual(3);
  });

  it('a server that accepts TCP and never answers MQTT: SIGINT (Ctrl+C) ends within 5 s', async () => {
    const silent = await startSilentServer();
    cleanups.push(() => silent.close());
    const { agent, stateDir } = startAgent(silent.url.replace('http://', 'mqtt://'));
    cleanups.push(() => agent.stop('SIGKILL'));
    await waitFor('queued metrics', async () => queuedMessages(stateDir) >= 2, 20_000);
    const { ms, code } = await timedStop(agent, 'SIGINT');
    expect(code).toBe(0);
    expect(ms).toBeLessThan(STOP_BUDGET_MS);
    expect(queuedMessages(stateDir)).toBeGreaterThanOrEqual(2);
  });

  it('a broker frozen after the connection (SIGSTOP): SIGTERM ends within 5 s, unacknowledged messages stay queued', async () => {
    const mosquitto = await startMosquitto();
    cleanups.push(async () => {
      mosquitto.process.child.kill('SIGCONT');
      await mosquitto.stop();
    });
    const { agent, stateDir } = startAgent(mosquitto.url);
    cleanups.push(() => agent.stop('SIGKILL'));
    await waitFor('connected and draining', async () => /connected/.test(agent.output()) && queuedMessages(stateDir) === 0, 20_000);
    mosquitto.process.child.kill('SIGSTOP');
    await waitFor('messages waiting for a PUBACK', async () => queuedMessages(stateDir) >= 2, 20_000);
    const { ms, code } = await timedStop(agent, 'SIGTERM');
    expect(code).toBe(0);
    expect(ms).toBeLessThan(STOP_BUDGET_MS);
    expect(queuedMessages(stateDir)).toBeGreaterThanOrEqual(2);
  });
});
