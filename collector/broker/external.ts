import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { ALL_DEVICE_TOPICS } from '../../src/contract/topics.ts';
import type { Logger } from '../../src/log.ts';
import { backoffDelay } from '../../src/retry.ts';
import type { MessageHandler } from '../ingest/handler.ts';

// Ingest from an external broker (Mosquitto). MQTT 5 shared subscription so several collectors
// split the load; a persistent session so the broker keeps messages while the collector
// restarts; PUBACK only after ingest accepted the message (mqtt.js sends it when handleMessage
// calls back), so the broker holds what we have not taken.

export interface ExternalBrokerOptions {
  url: string;
  clientId: string;
  shareGroup: string;
  username?: string | undefined;
  password?: string | undefined;
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  handler: MessageHandler;
  log: Logger;
  /** Messages the broker may send before our acknowledgements; bounds what we hold. */
  receiveMaximum?: number;
}

export interface ExternalIngest {
  close(): Promise<void>;
}

const SESSION_EXPIRY_S = 7 * 24 * 3600;

export async function connectExternalBroker(options: ExternalBrokerOptions): Promise<ExternalIngest> {
  const { handler, log } = options;
  const file = (path: string | undefined) => (path ? readFileSync(path) : undefined);
  const clientOptions: IClientOptions = {
    protocolVersion: 5,
    clientId: options.clientId,
    clean: false,
    properties: { sessionExpiryInterval: SESSION_EXPIRY_S, receiveMaximum: options.receiveMaximum ?? 1000 },
    connectTimeout: 10_000,
    keepalive: 30,
    reconnectPeriod: 1_000,
    ...(options.username ? { username: options.username, password: options.password } : {}),
    ...(options.caFile ? { ca: file(options.caFile) } : {}),
    ...(options.certFile ? { cert: file(options.certFile), key: file(options.keyFile) } : {}),
  };
  const client: MqttClient = mqtt.connect(options.url, clientOptions);
  const subscription = `$share/${options.shareGroup}/${ALL_DEVICE_TOPICS}`;

  client.handleMessage = (packet, callback) => {
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    handler(packet.topic, payload, Date.now()).then(
      () => callback(),
      (error: unknown) => {
        log.log('error', 'ingest failed', { error, topic: packet.topic.slice(0, 200) });
        callback();
      },
    );
  };

  // Reconnect with growing, jittered delays: a restarted broker is not hit by every collector at once.
  let attempt = 0;
  client.on('connect', (connack) => {
    attempt = 0;
    log.log('info', 'connected to external broker', { url: options.url, sessionPresent: connack.sessionPresent });
    if (!connack.sessionPresent) {
      client.subscribe(subscription, { qos: 1 }, (error) => {
        if (error) log.log('error', 'subscription failed', { error, subscription });
      });
    }
  });
  client.on('reconnect', () => {
    client.options.reconnectPeriod = backoffDelay({ initialMs: 1_000, maxMs: 30_000 }, ++attempt);
  });
  client.on('error', (error) => log.log('warn', 'external broker error', { error: error.message }));
  client.on('offline', () => log.log('warn', 'external broker unreachable, reconnecting', { url: options.url }));

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`could not connect to ${options.url} within 30 s`)), 30_000);
    client.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
  });

  return {
    close: () => new Promise<void>((resolve) => client.end(false, {}, () => resolve())),
  };
}
