import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { EventMessage, StateMessage } from '../src/contract/schemas.ts';
import { deviceTopic, type DeviceAddress, type DeviceChannel } from '../src/contract/topics.ts';
import type { Logger } from '../src/log.ts';
import { backoffDelay } from '../src/retry.ts';
import type { AgentConfig } from './config.ts';
import type { DropCounts, MessageQueue, QueuedMessage } from './queue/message-queue.ts';

// MQTT publishing: last will and retained birth, QoS 1, reconnect with backoff and jitter, TLS.
// MQTT 5 first; a broker that refuses version 5 (the embedded aedes speaks 3.1.1) gets 3.1.1.
// Every message goes through the queue and leaves it only on PUBACK, so what waits while the
// broker is unreachable (or when the agent stops) is sent later, in order, with its own timestamp.
// At least once: after a restart the messages that were in flight are sent again; the collector
// stores points keyed by series and timestamp, so a repeat overwrites a point with itself.

const RECONNECT = { initialMs: 1_000, maxMs: 60_000 };
/** Messages published and not yet acknowledged, at most. */
const WINDOW = 64;
const STOP_PUBLISH_MS = 2_000;
const STOP_END_MS = 1_000;

/** True when `promise` settled within `ms`; the promise is left to settle on its own otherwise. */
function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([promise.then(() => true), late]).finally(() => clearTimeout(timer));
}

/** Pure: the broker URL without user and password, for logs. */
export function urlForLog(url: string): string {
  return url.replace(/^([a-z]+:\/\/)[^@/]*@/i, '$1');
}

export interface Publisher {
  /** New credentials (rotation) for the next connection; the current one goes on. */
  setCredentials(username: string, password: string): void;
  send(channel: DeviceChannel, body: object, options?: { retain?: boolean; priority?: QueuedMessage['priority'] }): void;
  connected(): boolean;
  stop(): Promise<void>;
}

export function startPublisher(config: AgentConfig, birth: () => StateMessage, queue: MessageQueue, log: Logger): Publisher {
  const address: DeviceAddress = { site: config.site, device: config.device };
  const credentials = { username: config.mqtt.username, password: config.mqtt.password };
  const stateTopic = deviceTopic(address, 'state');
  const file = (path: string | undefined) => (path ? readFileSync(path) : undefined);
  let protocolVersion: 4 | 5 = 5;
  let attempt = 0;
  let stopping = false;
  // Ids handed to mqtt.js in this process. mqtt.js keeps unacknowledged QoS 1 messages in its own
  // store across a reconnect and sends them again itself, so only ids above `sentUpTo` are
  // published here; one the broker refused stays queued until the next start.
  const inFlight = new Set<number>();
  let sentUpTo = 0;

  /** A failing queue file (full disk, I/O error) costs the message at hand, never the agent. */
  const guarded = <T>(operation: string, work: () => T, otherwise: T): T => {
    try {
      return work();
    } catch (error) {
      log.log('error', 'offline queue failed', { operation, error });
      return otherwise;
    }
  };

  // The broker publishes the will as stored at connect time; its ts is the last (re)connect.
  const lastWill = () => Buffer.from(JSON.stringify({ v: 1, ts: Date.now(), state: 'offline', reason: 'lwt' } satisfies StateMessage));

  const options = (): IClientOptions => ({
    protocolVersion,
    // The collector's device identity: with authentication on, the client id must be the user name.
    clientId: config.mqtt.clientId ?? `${config.site}/${config.device}`,
    clean: true,
    keepalive: config.mqtt.keepaliveS,
    connectTimeout: config.mqtt.connectTimeoutS * 1000,
    reconnectPeriod: backoffDelay(RECONNECT, 0),
    username: credentials.username,
    password: credentials.password,
    ca: file(config.mqtt.caFile),
    cert: file(config.mqtt.certFile),
    key: file(config.mqtt.keyFile),
    rejectUnauthorized: config.mqtt.rejectUnauthorized,
    will: { topic: stateTopic, payload: lastWill(), qos: 1, retain: true },
    // mqtt-packet's cache of all 65,536 packet ids as Buffers costs 6.5 MB of heap for a client
    // sending one message per interval; without it each id is written as it is needed.
    writeCache: false,
  });

  let client: MqttClient = connect();

  function connect(): MqttClient {
    const c = mqtt.connect(config.mqtt.url, options());
    c.on('connect', () => {
      attempt = 0;
      log.log('info', 'connected', { url: urlForLog(config.mqtt.url), protocolVersion });
      c.publish(stateTopic, JSON.stringify(birth()), { qos: 1, retain: true });
      const dropped = guarded('report drops', () => queue.reportDropped(dropReport), { samples: 0, events: 0 });
      if (dropped.samples + dropped.events > 0) log.log('warn', 'messages dropped while disconnected', { ...dropped });
      pump();
    });
    c.on('error', (error: Error & { code?: number }) => {
      // CONNACK return code 1: unacceptable protocol version.
      if (protocolVersion === 5 && (error.code === 1 || /protocol version/i.test(error.message))) {
        log.log('info', 'broker refused MQTT 5, using MQTT 3.1.1', { url: urlForLog(config.mqtt.url) });
        protocolVersion = 4;
        c.end(true);
        client = connect();
        return;
      }
      log.log('warn', 'mqtt error', { error: error.message });
    });
    // mqtt.js waits a fixed reconnectPeriod; setting it before its own close handler runs (hence
    // prepend) makes every wait a fresh backoff step with jitter.
    c.prependListener('close', () => {
      if (stopping) return;
      c.options.reconnectPeriod = backoffDelay(RECONNECT, attempt++);
      if (c.options.will) c.options.will.payload = lastWill();
    });
    return c;
  }

  function dropReport(dropped: DropCounts): QueuedMessage {
    const event: EventMessage = { v: 1, ts: Date.now(), type: 'agent_queue_dropped', severity: 'warning', data: { samples: dropped.samples, events: dropped.events } };
    return { topic: deviceTopic(address, 'event'), payload: JSON.stringify(event), retain: false, priority: 'event' };
  }

  /** Publishes the oldest queued messages not yet handed to mqtt.js, keeping WINDOW in flight. */
  function pump(): void {
    // Once stopping, mqtt.js refuses new messages: what is left is sent after the next start.
    if (stopping || !client.connected) return;
    for (const message of guarded('read', () => queue.peek(WINDOW - inFlight.size, sentUpTo), [])) {
      sentUpTo = message.id;
      inFlight.add(message.id);
      client.publish(message.topic, message.payload, { qos: 1, retain: message.retain }, (error) => {
        inFlight.delete(message.id);
        if (error) log.log('warn', 'message not accepted by the broker; kept in the queue until the agent restarts', { topic: message.topic, error });
        else guarded('acknowledge', () => queue.ack(message.id), undefined);
        pump();
      });
    }
  }

  return {
    setCredentials(username, password) {
      credentials.username = username;
      credentials.password = password;
      client.options.username = username;
      client.options.password = password;
    },
    send(channel, body, opts = {}) {
      const message: QueuedMessage = { topic: deviceTopic(address, channel), payload: JSON.stringify(body), retain: opts.retain ?? false, priority: opts.priority ?? 'sample' };
      guarded('write', () => queue.push(message), undefined);
      pump();
    },
    connected: () => client.connected,
    async stop() {
      stopping = true;
      // A collector that accepted the connection but stopped answering must not hold the stop
      // (a service stop, SIGTERM): each step has its own budget, and what is unsent stays queued.
      if (client.connected) {
        const offline: StateMessage = { v: 1, ts: Date.now(), state: 'offline', reason: 'shutdown' };
        await settledWithin(new Promise<void>((resolve) => client.publish(stateTopic, JSON.stringify(offline), { qos: 1, retain: true }, () => resolve())), STOP_PUBLISH_MS);
      }
      const ended = await settledWithin(new Promise<void>((resolve) => client.end(false, {}, () => resolve())), STOP_END_MS);
      if (!ended) await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
    },
  };
}
