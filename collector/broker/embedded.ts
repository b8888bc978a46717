import { readFileSync } from 'node:fs';
import { createServer as createTcpServer, type Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes, type Client, type PublishPacket, type Subscription } from 'aedes';
import mqemitter from 'mqemitter';
import { COMMAND_CHANNEL, TOPIC_ROOT } from '../../src/contract/topics.ts';
import type { Logger } from '../../src/log.ts';
import type { MessageHandler } from '../ingest/handler.ts';

// The embedded MQTT broker (aedes). The collector ingests in-process, inside the publish
// authorisation hook: aedes reads a client's next packets only after the hook calls back, so
// a device that publishes faster than ingest accepts is slowed down by TCP, and a QoS 1 PUBACK
// is sent only once the message is accepted. See docs/broker.md for the two broker hazards.

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  tls?: { port: number; keyFile: string; certFile: string; caFile?: string | undefined } | undefined;
  handler: MessageHandler;
  log: Logger;
}

export interface EmbeddedBroker {
  port: number;
  tlsPort: number | undefined;
  stats(): { clients: number; refusedSubscriptions: number; handlerErrors: number };
  close(): Promise<void>;
}

/** Network clients may subscribe only to exact command topics: telemetry fans out to nobody. */
export function subscriptionAllowed(topic: string): boolean {
  const parts = topic.split('/');
  return parts.length === 5 && parts[0] === TOPIC_ROOT && parts[4] === COMMAND_CHANNEL && !topic.includes('+') && !topic.includes('#');
}

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const { handler, log } = options;
  let refusedSubscriptions = 0;
  let handlerErrors = 0;

  const broker = await Aedes.createBroker({
    // concurrency 0: mqemitter never queues, so it never drains a backlog recursively
    // (the RangeError of mqemitter PR #204 / aedes #193).
    mq: mqemitter({ concurrency: 0 }),
    authorizePublish(client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void) {
      if (packet.topic.startsWith('$SYS')) return callback(new Error('$SYS is reserved'));
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      handler(packet.topic, payload, Date.now()).then(
        () => callback(null),
        (error: unknown) => {
          // Ingest failures are counted and logged; the publisher is not punished for them.
          handlerErrors++;
          log.log('error', 'ingest failed', { error, client: client?.id });
          callback(null);
        },
      );
    },
    authorizeSubscribe(client: Client, subscription: Subscription, callback: (error: Error | null, subscription?: Subscription | null) => void) {
      if (subscriptionAllowed(subscription.topic)) return callback(null, subscription);
      refusedSubscriptions++;
      log.log('warn', 'subscription refused', { client: client.id, topic: subscription.topic.slice(0, 200) });
      callback(null, null);
    },
  });
  broker.on('clientError', (client: Client, error: Error) => log.log('warn', 'client error', { client: client?.id, error: error.message }));
  broker.on('connectionError', (_client: Client, error: Error) => log.log('warn', 'connection error', { error: error.message }));

  const servers: Server[] = [];
  const listen = (server: Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, options.host, () => {
        servers.push(server);
        const address = server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });

  const port = await listen(createTcpServer(broker.handle), options.port);
  let tlsPort: number | undefined;
  if (options.tls) {
    const tls = options.tls;
    const server = createTlsServer(
      { key: readFileSync(tls.keyFile), cert: readFileSync(tls.certFile), ...(tls.caFile ? { ca: readFileSync(tls.caFile) } : {}) },
      broker.handle,
    );
    tlsPort = await listen(server, tls.port);
  }

  return {
    port,
    tlsPort,
    stats: () => ({ clients: broker.connectedClients, refusedSubscriptions, handlerErrors }),
    async close() {
      for (const server of servers) server.close();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}
