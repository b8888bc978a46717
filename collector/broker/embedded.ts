import { readFileSync } from 'node:fs';
import { createServer as createTcpServer, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, TLSSocket } from 'node:tls';
import { Aedes, type AuthenticateError, type AuthErrorCode, type Client, type PublishPacket, type Subscription } from 'aedes';
import mqemitter from 'mqemitter';
import type { DeviceAddress } from '../../src/contract/topics.ts';
import type { Logger } from '../../src/log.ts';
import type { MessageHandler } from '../ingest/handler.ts';
import { publishRefusal, subscribeAllowed } from '../security/policy.ts';
import { ConnectionGuard, type GuardLimits } from './connection-guard.ts';

// The embedded MQTT broker (aedes). The collector ingests in-process, inside the publish
// authorisation hook: aedes reads a client's next packets only after the hook calls back, so
// a device that publishes faster than ingest accepts is slowed down by TCP, and a QoS 1 PUBACK
// is sent only once the message is accepted. See docs/broker.md for the two broker hazards.
// With device authentication on, a client is a device: its user name and client id are
// `<site>/<device>`, it publishes only as itself and subscribes only to its own command topic
// (docs/security.md). Every socket passes a ConnectionGuard (packet size, message rate).

/** Why the broker refused someone: counted by the collector's self-metrics. */
export type BrokerRefusal = 'auth' | 'client_id' | 'publish_acl' | 'subscribe_acl' | 'oversize' | 'malformed' | 'throttled' | 'connections';

/** Checks a device's credentials; undefined when they are unknown, wrong or revoked. */
export type DeviceVerifier = (username: string, password: string) => DeviceAddress | undefined;

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  tls?: { port: number; keyFile: string; certFile: string; caFile?: string | undefined; clientCerts: 'none' | 'require' } | undefined;
  handler: MessageHandler;
  log: Logger;
  /** Device authentication; undefined lets anyone connect (a lab only: docs/security.md). */
  verifyDevice: DeviceVerifier | undefined;
  limits: GuardLimits & { maxConnections: number };
  onRefused: (reason: BrokerRefusal) => void;
}

export interface EmbeddedBroker {
  port: number;
  tlsPort: number | undefined;
  stats(): { clients: number; handlerErrors: number };
  /** Closes the connection of the device with this user name (its credentials were revoked). */
  disconnect(username: string): boolean;
  close(): Promise<void>;
}

/** A refused CONNECT: aedes answers with the CONNACK return code and closes the connection. */
function connectRefusal(message: string, returnCode: 2 | 4 | 5): AuthenticateError {
  return Object.assign(new Error(message), { returnCode: returnCode as AuthErrorCode });
}

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const { handler, log, verifyDevice, onRefused } = options;
  let handlerErrors = 0;
  const identities = new WeakMap<Client, DeviceAddress>();
  /** The certificate CN a device presented (mutual TLS), by the connection aedes sees. */
  const certificateNames = new WeakMap<object, string>();
  const refuse = (reason: BrokerRefusal, detail: Record<string, unknown>) => {
    onRefused(reason);
    log.log('warn', 'mqtt client refused', { reason, ...detail });
  };

  const broker = await Aedes.createBroker({
    // concurrency 0: mqemitter never queues, so it never drains a backlog recursively
    // (the RangeError of mqemitter PR #204 / aedes #193).
    mq: mqemitter({ concurrency: 0 }),
    // `<site>/<device>` is up to 129 characters; aedes' default of 23 would refuse real devices.
    maxClientsIdLength: 129,
    authenticate(client: Client, username: string | undefined, password: Buffer | undefined, callback: (error: AuthenticateError | null, success: boolean | null) => void) {
      if (!verifyDevice) return callback(null, true);
      const identity = username && password ? verifyDevice(username, password.toString('utf8')) : undefined;
      if (!identity) {
        refuse('auth', { client: client.id.slice(0, 129), username: username?.slice(0, 129) });
        return callback(connectRefusal('bad user name or password', 4), null);
      }
      // The client id is the identity: another credential can never take over this client id.
      if (client.id !== username) {
        refuse('client_id', { client: client.id.slice(0, 129), username });
        return callback(connectRefusal('client id must be the device user name', 2), null);
      }
      const certificateName = certificateNames.get(client.conn);
      if (certificateName !== undefined && certificateName !== username) {
        refuse('auth', { username, certificate: certificateName.slice(0, 129) });
        return callback(connectRefusal('certificate belongs to another device', 5), null);
      }
      identities.set(client, identity);
      callback(null, true);
    },
    authorizePublish(client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void) {
      if (packet.topic.startsWith('$SYS')) return callback(new Error('$SYS is reserved'));
      const identity = client ? identities.get(client) : undefined;
      const refusal = identity && publishRefusal(identity, packet.topic, packet.retain);
      if (refusal) {
        // MQTT 3.1.1 has no negative PUBACK: aedes closes the connection, and the message is not acknowledged.
        refuse('publish_acl', { client: client?.id, topic: packet.topic.slice(0, 200), refusal });
        return callback(new Error(`publish refused: ${refusal}`));
      }
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
    // Telemetry fans out to nobody: a client subscribes only to an exact command topic, a device only to its own.
    authorizeSubscribe(client: Client, subscription: Subscription, callback: (error: Error | null, subscription?: Subscription | null) => void) {
      // With authentication on, every client that got this far has an identity (authenticate set it).
      const identity = identities.get(client);
      const allowed = verifyDevice ? identity !== undefined && subscribeAllowed(identity, subscription.topic) : subscribeAllowed(undefined, subscription.topic);
      if (allowed) return callback(null, subscription);
      refuse('subscribe_acl', { client: client.id, topic: subscription.topic.slice(0, 200) });
      callback(null, null);
    },
  });
  broker.on('clientError', (client: Client, error: Error) => log.log('warn', 'client error', { client: client?.id, error: error.message }));
  broker.on('connectionError', (_client: Client, error: Error) => log.log('warn', 'connection error', { error: error.message }));

  const guarded = (socket: Duplex) => {
    const connection = new ConnectionGuard(socket, options.limits, {
      oversize: (bytes) => refuse('oversize', { bytes, limit: options.limits.maxPacketBytes }),
      malformed: () => refuse('malformed', {}),
      // Not logged: a flooding client would flood the log too; the counter says it.
      throttled: () => onRefused('throttled'),
    });
    if (socket instanceof TLSSocket) {
      const name = socket.getPeerCertificate()?.subject?.CN;
      if (typeof name === 'string') certificateNames.set(connection, name);
    }
    broker.handle(connection);
  };

  const servers: Server[] = [];
  const listen = (server: Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.maxConnections = options.limits.maxConnections;
      server.on('drop', () => refuse('connections', { limit: options.limits.maxConnections }));
      server.listen(port, options.host, () => {
        servers.push(server);
        const address = server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });

  const port = await listen(createTcpServer(guarded), options.port);
  let tlsPort: number | undefined;
  if (options.tls) {
    const tls = options.tls;
    const server = createTlsServer(
      {
        key: readFileSync(tls.keyFile),
        cert: readFileSync(tls.certFile),
        ...(tls.caFile ? { ca: readFileSync(tls.caFile) } : {}),
        // Mutual TLS: the handshake itself refuses a device without a certificate from the municipal CA.
        ...(tls.clientCerts === 'require' ? { requestCert: true, rejectUnauthorized: true } : {}),
      },
      guarded,
    );
    tlsPort = await listen(server, tls.port);
  }

  return {
    port,
    tlsPort,
    stats: () => ({ clients: broker.connectedClients, handlerErrors }),
    disconnect(username) {
      const client = (broker as unknown as { clients: Record<string, Client | undefined> }).clients[username];
      client?.close();
      return client !== undefined;
    },
    async close() {
      for (const server of servers) server.close();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}
