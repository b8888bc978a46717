import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import snmp from 'net-snmp';
import type { SnmpCredential } from '../secrets.ts';
import { snmpV3User } from '../snmp/session.ts';
import { cutText, MAX_TEXT } from './trap-to-event.ts';

// Thin adapter over net-snmp's notification receiver: v1/v2c traps accepted with a configured
// community, v3 traps and INFORMs only from configured authPriv users. Every notification is
// normalised into a plain ReceivedTrap; everything refused or undecodable is counted and
// reported to onError, never thrown. No community, user name or key ever leaves this module.

export type TrapVersion = '1' | '2c' | '3';

export interface TrapVarbind {
  oid: string;
  /** SMIv2 type name: Integer, OctetString, OID, IpAddress, Counter32, Gauge32, TimeTicks, Counter64, … */
  type: string;
  /** OctetString as UTF-8 text when printable, else lower-case hex; Counter64 as a number; null types as "". */
  value: number | string;
}

export interface ReceivedTrap {
  /** Milliseconds since the epoch. */
  receivedAt: number;
  source: { address: string; port: number };
  /** The PDU format: a v1 Trap-PDU is '1', a scoped (USM) PDU '3', any other notification '2c'. */
  version: TrapVersion;
  /** An INFORM (net-snmp has already acknowledged it) rather than a trap. */
  inform: boolean;
  /** snmpTrapOID.0; for v1 as RFC 3584 §3.1 maps it (generic → 1.3.6.1.6.3.1.1.5.(generic+1), specific → enterprise.0.specific). */
  trapOid: string;
  /** v1 only: the enterprise and agent-addr fields of the Trap-PDU. */
  enterprise?: string;
  agentAddress?: string;
  /** The sender's sysUpTime in hundredths of a second, when it sent one. */
  uptime?: number;
  /** At most MAX_VARBINDS; for v2c/v3 without sysUpTime.0 and snmpTrapOID.0 (they are `uptime` and `trapOid`). */
  varbinds: TrapVarbind[];
}

export type TrapUser = Omit<Extract<SnmpCredential, { version: '3' }>, 'version'>;

export interface TrapReceiverOptions {
  /** IP address to bind (IPv6 addresses get a udp6 socket). */
  host: string;
  /** UDP port; 0 picks a free one (see TrapReceiver.port). */
  port: number;
  communities: string[];
  users: TrapUser[];
  onTrap: (trap: ReceivedTrap) => void;
  onError?: (error: TrapReceiverError) => void;
}

export interface TrapReceiverStats {
  /** Notifications handed to onTrap. */
  received: number;
  /** v1/v2c with a community not configured. */
  badCommunity: number;
  /** v3 from a user not configured, or with no user at all (noAuthNoPriv). */
  badUser: number;
  /** v3 from a configured user with a wrong key, a wrong protocol or a security level below authPriv. */
  badAuth: number;
  /** Datagrams that are not decodable SNMP notifications. */
  malformed: number;
  /** Decodable SNMP that is not a notification (GetRequest, SetRequest, Response, …). */
  unsupported: number;
  /** onTrap threw: the trap was counted as received, the error is reported. */
  handlerErrors: number;
  /** Socket errors and anything net-snmp reports that fits none of the above. */
  errors: number;
}

export type TrapErrorKind = Exclude<keyof TrapReceiverStats, 'received'>;

export interface TrapReceiverError {
  kind: TrapErrorKind;
  /** Our own wording; never contains a community, user name or key. */
  message: string;
  source?: { address: string; port: number };
}

export interface TrapReceiver {
  /** The bound address and port (the chosen one when `port` was 0). */
  readonly address: string;
  readonly port: number;
  stats(): TrapReceiverStats;
  close(): Promise<void>;
}

export const MAX_VARBINDS = 64;

const SYS_UPTIME = '1.3.6.1.2.1.1.3.0';
const SNMP_TRAP_OID = '1.3.6.1.6.3.1.1.4.1.0';
const GENERIC_TRAPS = '1.3.6.1.6.3.1.1.5';
const ENTERPRISE_SPECIFIC = 6;


export async function startTrapReceiver(options: TrapReceiverOptions): Promise<TrapReceiver> {
  const counts: TrapReceiverStats = { received: 0, badCommunity: 0, badUser: 0, badAuth: 0, malformed: 0, unsupported: 0, handlerErrors: 0, errors: 0 };
  let listening = false;

  const report = (error: TrapReceiverError) => {
    counts[error.kind] += 1;
    try {
      options.onError?.(error);
    } catch {
      // onError is the end of the line: nowhere left to report its own failure.
    }
  };

  const onNotification = (error: unknown, notification: Notification | null) => {
    if (error) {
      // Before the socket listens, a bind error rejects startTrapReceiver instead.
      if (listening) report(classify(error));
      return;
    }
    if (!notification) return;
    const source = { address: notification.rinfo.address, port: notification.rinfo.port };
    // net-snmp lets a v3 noAuthNoPriv message with an empty user name through its user check (it
    // is how engine discovery works); as a notification it is unauthenticated, so refuse it.
    if (notification.pdu.scoped && !notification.pdu.user) {
      report({ kind: 'badUser', message: 'SNMPv3 notification without a user (noAuthNoPriv) refused', source });
      return;
    }
    const trap = normalise(notification, Date.now());
    if (typeof trap === 'string') {
      report({ kind: 'malformed', message: trap, source });
      return;
    }
    counts.received += 1;
    try {
      options.onTrap(trap);
    } catch (handlerError) {
      report({ kind: 'handlerErrors', message: `onTrap failed: ${errorText(handlerError)}`, source });
    }
  };

  // net-snmp creates the socket inside createReceiver, through dgramModule.
  const sockets: ReceiverSocket[] = [];
  const transport = isIPv6(options.host) ? 'udp6' : 'udp4';
  const receiver = snmp.createReceiver(
    {
      // No port or address: ReceiverSocket binds where we were asked.
      transport,
      disableAuthorization: false,
      // Only for the v3 empty-user check above: community and user name are read there and
      // never copied into a ReceivedTrap or an error.
      includeAuthentication: true,
      dgramModule: {
        createSocket: (type: 'udp4' | 'udp6') => {
          const socket = new ReceiverSocket(createSocket(type), options.port, options.host, (thrown, rinfo) =>
            report({ kind: 'malformed', message: `net-snmp failed on the packet: ${errorText(thrown)}`, source: { address: rinfo.address, port: rinfo.port } }),
          );
          sockets.push(socket);
          return socket;
        },
      },
    },
    onNotification,
  ) as { getAuthorizer(): Authorizer; close(callback?: () => void): void };

  const authorizer = receiver.getAuthorizer();
  for (const community of options.communities) authorizer.addCommunity(community);
  for (const u of options.users) {
    authorizer.addUser(snmpV3User(u));
  }

  const bound = sockets[0]!.socket;
  await new Promise<void>((resolve, reject) => {
    const failed = (error: Error) => {
      bound.close();
      reject(new Error(`SNMP trap receiver cannot listen on ${options.host}:${options.port}: ${error.message}`));
    };
    bound.once('error', failed);
    bound.once('listening', () => {
      bound.off('error', failed);
      listening = true;
      resolve();
    });
  });
  const { address, port } = bound.address();

  let closed: Promise<void> | undefined;
  return {
    address,
    port,
    stats: () => ({ ...counts }),
    close: () => (closed ??= new Promise<void>((resolve) => receiver.close(() => resolve()))),
  };
}

/**
 * The UDP socket net-snmp's Listener is given (its `dgramModule` option), for two reasons:
 * net-snmp binds to `options.port || 162`, so port 0 (any free port) cannot be passed through;
 * and some hostile datagrams make net-snmp throw outside its own try/catch (3.29.2: a reportable
 * v3 message with a msgID above 2^31−1 throws a RangeError while the Report is written), which
 * from a socket 'message' listener would crash the process. Only the methods net-snmp calls.
 */
class ReceiverSocket {
  readonly socket: Socket;
  readonly #port: number;
  readonly #host: string;
  readonly #onThrow: (error: unknown, rinfo: RemoteInfo) => void;

  constructor(socket: Socket, port: number, host: string, onThrow: (error: unknown, rinfo: RemoteInfo) => void) {
    this.socket = socket;
    this.#port = port;
    this.#host = host;
    this.#onThrow = onThrow;
  }

  /** net-snmp passes `options.port || 162` and its address option; we bind where we were asked. */
  bind(): void {
    this.socket.bind(this.#port, this.#host);
  }

  on(event: string, listener: (...args: unknown[]) => void): this {
    if (event !== 'message') {
      this.socket.on(event, listener);
      return this;
    }
    this.socket.on('message', (message: Buffer, rinfo: RemoteInfo) => {
      try {
        listener(message, rinfo);
      } catch (error) {
        this.#onThrow(error, rinfo);
      }
    });
    return this;
  }

  send(buffer: Buffer, offset: number, length: number, port: number, address: string, callback: (error: Error | null) => void): void {
    this.socket.send(buffer, offset, length, port, address, callback);
  }

  address(): ReturnType<Socket['address']> {
    return this.socket.address();
  }

  close(callback?: () => void): void {
    this.socket.close(callback);
  }
}

// The parts of net-snmp's receiver API used here (@types/net-snmp types createReceiver as any).
interface Authorizer {
  addCommunity(community: string): void;
  addUser(user: snmp.User): void;
}

interface LibraryVarbind {
  oid: string;
  type: number;
  value: unknown;
}

interface Notification {
  pdu: {
    type: number;
    scoped?: boolean;
    user?: string;
    enterprise?: string;
    agentAddr?: string;
    generic?: number;
    specific?: number;
    upTime?: number;
    varbinds: LibraryVarbind[];
  };
  rinfo: RemoteInfo;
}

/** The ReceivedTrap, or why the notification cannot be one. */
function normalise(notification: Notification, receivedAt: number): ReceivedTrap | string {
  const { pdu, rinfo } = notification;
  const base = { receivedAt, source: { address: rinfo.address, port: rinfo.port }, inform: pdu.type === snmp.PduType.InformRequest };
  if (pdu.type === snmp.PduType.Trap) {
    const { generic = -1, specific = 0, enterprise = '' } = pdu;
    if (!Number.isInteger(generic) || generic < 0 || generic > ENTERPRISE_SPECIFIC) return `v1 trap with generic-trap ${generic} (expected 0–6)`;
    const trapOid = generic === ENTERPRISE_SPECIFIC ? `${enterprise}.0.${specific}` : `${GENERIC_TRAPS}.${generic + 1}`;
    return {
      ...base,
      version: '1',
      trapOid: cutText(trapOid),
      enterprise: cutText(enterprise),
      agentAddress: pdu.agentAddr ?? '',
      ...(typeof pdu.upTime === 'number' ? { uptime: pdu.upTime } : {}),
      varbinds: pdu.varbinds.slice(0, MAX_VARBINDS).map(toVarbind),
    };
  }
  const trapOid = pdu.varbinds.find((vb) => vb.oid === SNMP_TRAP_OID)?.value;
  if (typeof trapOid !== 'string') return 'notification without snmpTrapOID.0';
  const uptime = pdu.varbinds.find((vb) => vb.oid === SYS_UPTIME)?.value;
  const rest = pdu.varbinds.filter((vb) => vb.oid !== SNMP_TRAP_OID && vb.oid !== SYS_UPTIME);
  return {
    ...base,
    version: pdu.scoped ? '3' : '2c',
    trapOid: cutText(trapOid),
    ...(typeof uptime === 'number' ? { uptime } : {}),
    varbinds: rest.slice(0, MAX_VARBINDS).map(toVarbind),
  };
}

const TYPE_NAMES: Record<number, string> = {
  [snmp.ObjectType.Boolean]: 'Boolean',
  [snmp.ObjectType.Integer]: 'Integer',
  [snmp.ObjectType.BitString]: 'BitString',
  [snmp.ObjectType.OctetString]: 'OctetString',
  [snmp.ObjectType.Null]: 'Null',
  [snmp.ObjectType.OID]: 'OID',
  [snmp.ObjectType.IpAddress]: 'IpAddress',
  [snmp.ObjectType.Counter]: 'Counter32',
  [snmp.ObjectType.Gauge]: 'Gauge32',
  [snmp.ObjectType.TimeTicks]: 'TimeTicks',
  [snmp.ObjectType.Opaque]: 'Opaque',
  [snmp.ObjectType.Counter64]: 'Counter64',
  [snmp.ObjectType.NoSuchObject]: 'NoSuchObject',
  [snmp.ObjectType.NoSuchInstance]: 'NoSuchInstance',
  [snmp.ObjectType.EndOfMibView]: 'EndOfMibView',
};

function toVarbind(vb: LibraryVarbind): TrapVarbind {
  return { oid: cutText(vb.oid), type: TYPE_NAMES[vb.type] ?? `type${vb.type}`, value: valueOf(vb) };
}

function valueOf(vb: LibraryVarbind): number | string {
  const v = vb.value;
  if (vb.type === snmp.ObjectType.Counter64 && Buffer.isBuffer(v)) {
    const n = v.length === 0 ? 0 : Number(BigInt(`0x${v.toString('hex')}`));
    // Above 2^53 the number is approximate; a hostile 100-byte "counter" would be Infinity.
    return Number.isFinite(n) ? n : cutText(v.toString('hex'));
  }
  if (Buffer.isBuffer(v)) return octets(v);
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') return cutText(v);
  return '';
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });
// Control characters other than tab, CR and LF mean binary data (MAC addresses, bit strings).
// eslint-disable-next-line no-control-regex
const BINARY = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** UTF-8 text when the bytes are printable UTF-8, else hex; at most MAX_TEXT characters. */
function octets(bytes: Buffer): string {
  try {
    const text = UTF8.decode(bytes);
    if (!BINARY.test(text)) return cutText(text);
  } catch {
    // not UTF-8: binary
  }
  return bytes.subarray(0, MAX_TEXT / 2).toString('hex');
}

function errorText(error: unknown): string {
  return cutText(error instanceof Error ? error.message : String(error), 200);
}

/**
 * net-snmp's errors → our kind and wording. Its messages carry what we must not pass on (the
 * unknown community, the user name, digests; an auth failure even carries the user with its
 * keys in `info`), so only the kind is taken from them, by name, code and fixed message prefix
 * (net-snmp 3.29: processIncoming in index.js). The tests pin each case with real packets.
 */
function classify(error: unknown): TrapReceiverError {
  const e = (typeof error === 'object' && error !== null ? error : {}) as { name?: string; message?: string; code?: unknown; rinfo?: RemoteInfo; error?: unknown };
  const source = e.rinfo ? { address: e.rinfo.address, port: e.rinfo.port } : undefined;
  const message = e.message ?? '';
  const at = (kind: TrapErrorKind, text: string): TrapReceiverError => ({ kind, message: text, ...(source ? { source } : {}) });
  switch (e.name) {
    case 'ProcessingError':
      return at('malformed', `undecodable packet: ${errorText(e.error)}`);
    case 'RequestFailedError':
      if (message.startsWith('Local community not found')) return at('badCommunity', 'v1/v2c notification with an unknown community');
      if (message.startsWith('Local user not found')) return at('badUser', 'SNMPv3 notification from an unknown user');
      if (/requires (authentication|privacy) but message does not provide it/.test(message)) return at('badAuth', 'SNMPv3 notification below authPriv');
      break;
    case 'ResponseInvalidError':
      if (e.code === snmp.ResponseInvalidCode.EAuthFailure) return at('badAuth', 'SNMPv3 authentication failed (wrong authentication key or protocol)');
      if (e.code === snmp.ResponseInvalidCode.ECouldNotDecrypt) return at('badAuth', 'SNMPv3 decryption failed (wrong privacy key or protocol)');
      break;
    case 'RequestInvalidError':
      return at('unsupported', `not a notification: ${errorText(error)}`);
  }
  // Socket errors carry no credentials; anything else from net-snmp is described by its class only.
  return at('errors', e.rinfo ? `refused by net-snmp (${e.name ?? 'error'})` : `socket error: ${errorText(error)}`);
}
