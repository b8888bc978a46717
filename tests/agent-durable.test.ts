import { chmodSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { agentConfigSchema } from '../agent/config.ts';
import { startPublisher } from '../agent/publish.ts';
import { createMemoryQueue } from '../agent/queue/message-queue.ts';
import { validateConfig } from '../src/config/load.ts';
import { agentConfigFile, startAgentWithConfig } from './helpers/agent-process.ts';
import { connectClient } from './helpers/mqtt-client.ts';
import { freePort, startMosquitto, tempDir, waitFor, type ManagedProcess, type MosquittoServer } from './helpers/servers.ts';

// The offline queue on disk, proven with real processes: an agent that never reached its broker
// is killed (SIGKILL, as a power cut would) and started again; when the broker finally appears,
// everything both lifetimes measured arrives once, in order, with the time it was measured.

const SITE = 'zabita';
const DEVICE = 'srv-kuyruk';
const METRICS = `muni/v1/${SITE}/${DEVICE}/metrics`;

interface Metrics {
  ts: number;
  seq: number;
}

/** Metrics payloads waiting in the agent's queue file, oldest first. */
function queuedMetrics(stateDir: string): string[] {
  const db = new DatabaseSync(join(stateDir, 'queue.sqlite'), { readOnly: true });
  try {
    return (db.prepare('SELECT payload FROM messages WHERE topic = ? ORDER BY id').all(METRICS) as { payload: string }[]).map((r) => r.payload);
  } finally {
    db.close();
  }
}

const parse = (payload: string) => JSON.parse(payload) as Metrics;

describe('durable offline queue: agent restart before the broker is reachable', () => {
  const servers: MosquittoServer[] = [];
  const agents: ManagedProcess[] = [];
  let subscriber: MqttClient | undefined;
  afterAll(async () => {
    subscriber?.end(true);
    for (const agent of agents) await agent.stop('SIGKILL');
    for (const server of servers) await server.stop();
  });

  it('delivers the samples of both lifetimes exactly once, in order, with their original timestamps', async () => {
    // The subscriber's session is kept in Mosquitto's persistence file, so it is subscribed on the
    // agent's broker from its first moment: nothing the agent sends can come before the subscription.
    const sessionDir = tempDir('mosquitto-session');
    chmodSync(sessionDir, 0o777); // Mosquitto started as root drops to its own user before writing
    const persistence = `persistence true\npersistence_location ${sessionDir}/\n`;
    const staging = await startMosquitto(persistence);
    servers.push(staging);
    const session = { protocolVersion: 4 as const, clientId: 'noc-kuyruk', clean: false };
    const first = await connectClient(staging.url, session);
    await first.subscribeAsync(METRICS, { qos: 1 });
    await first.endAsync();
    await staging.stop();

    const port = await freePort();
    const stateDir = join(tempDir('agent-durable'), 'state');
    const config = agentConfigFile({ site: SITE, device: DEVICE, kind: 'server', intervalS: 1, stateDir, mqtt: { url: `mqtt://127.0.0.1:${port}` } });

    agents.push(startAgentWithConfig(config));
    await waitFor('8 metrics messages in the queue file', async () => queuedMetrics(stateDir).length >= 8, 30_000, 250);
    const killedAt = Date.now();
    await agents[0]!.stop('SIGKILL');

    agents.push(startAgentWithConfig(config));
    await waitFor('3 more from the second lifetime', async () => queuedMetrics(stateDir).filter((p) => parse(p).ts > killedAt).length >= 3, 30_000, 250);

    const queued = queuedMetrics(stateDir);
    const brokerAt = Date.now();
    const broker = await startMosquitto(persistence, port);
    servers.push(broker);
    const received: string[] = [];
    // Listening before the CONNACK: the stored messages may arrive in the same packet as it.
    subscriber = mqtt.connect(broker.url, { ...session, reconnectPeriod: 0 });
    subscriber.on('message', (_topic, payload) => received.push(payload.toString()));
    await waitFor('the queued messages at the subscriber', async () => received.length >= queued.length, 40_000);

    // Delivered means acknowledged: the agent deleted them from its file.
    await waitFor('the queue file emptied of what was delivered', async () => queuedMetrics(stateDir).every((p) => !queued.includes(p)), 10_000);
    const lastQueuedTs = parse(queued.at(-1)!).ts;
    const backlog = received.filter((p) => parse(p).ts <= lastQueuedTs);
    expect(backlog).toEqual(queued);
    expect(new Set(received).size).toBe(received.length);
    const times = received.map((p) => parse(p).ts);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const [before, after] = [backlog.filter((p) => parse(p).ts < killedAt), backlog.filter((p) => parse(p).ts > killedAt)];
    expect(before.length).toBeGreaterThanOrEqual(8);
    expect(after.length).toBeGreaterThanOrEqual(3);
    // seq starts again at 0 in the second process: the two lifetimes are really two processes.
    expect(parse(after[0]!).seq).toBe(0);
    expect(Math.max(...backlog.map((p) => parse(p).ts))).toBeLessThan(brokerAt);
  }, 120_000);
});

describe('publisher: a message leaves the queue only on PUBACK', () => {
  it('keeps unacknowledged messages queued; those in flight when the connection drops are sent again once, by mqtt.js', async () => {
    let connections = 0;
    let holdAcks = true;
    const received: { connection: number; payload: string }[] = [];
    // The broker receives the messages of the first connection but never acknowledges them.
    const broker = await Aedes.createBroker({
      authorizePublish(_client, packet, callback) {
        if (!packet.topic.endsWith('/metrics')) return callback(null);
        received.push({ connection: connections, payload: packet.payload.toString() });
        // Later, acknowledged as by a broker 200 ms away: the reconnect completes before the PUBACKs.
        if (!holdAcks) setTimeout(() => callback(null), 200);
      },
    });
    broker.on('client', () => connections++);
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      broker.handle(socket);
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));

    const config = validateConfig(agentConfigSchema, { site: SITE, device: 'pc-ack', mqtt: { url: `mqtt://127.0.0.1:${port}` } }, 'test');
    const queue = createMemoryQueue(100);
    const publisher = startPublisher(config, () => ({ v: 1, ts: Date.now(), state: 'online' }), queue, { log: () => undefined });
    try {
      await waitFor('first connection', async () => publisher.connected());
      for (const n of [1, 2, 3]) publisher.send('metrics', { n });
      await waitFor('three messages at the broker', async () => received.length === 3);
      expect(queue.peek(10, 0)).toHaveLength(3);

      holdAcks = false;
      for (const socket of sockets) socket.destroy();
      await waitFor('the connection lost', async () => !publisher.connected());
      await waitFor('the reconnect', async () => publisher.connected(), 20_000, 10);
      // Sent while mqtt.js is still resending 1–3 from its own store.
      publisher.send('metrics', { n: 4 });
      await waitFor('everything acknowledged', async () => queue.peek(10, 0).length === 0);
      expect(received.filter((r) => r.connection === 2).map((r) => JSON.parse(r.payload).n)).toEqual([1, 2, 3, 4]);
    } finally {
      await publisher.stop();
      for (const socket of sockets) socket.destroy();
      server.close();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    }
  });
});
