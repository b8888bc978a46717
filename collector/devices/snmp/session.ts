import snmp, { type Session, type Varbind } from 'net-snmp';
import { DeviceUnreachableError } from '../driver.ts';
import { parseAddress } from '../inventory.ts';
import type { SnmpCredential } from '../secrets.ts';
import type { RawValue } from './raw-value.ts';

// Thin adapter over net-snmp: GETs in small PDUs, GETBULK column walks with a row bound, and
// library varbinds turned into RawValues. Timeouts and retries are per device (inventory);
// a device that does not answer becomes DeviceUnreachableError, never an unhandled error.

export interface SnmpTarget {
  address: string;
  credential: SnmpCredential;
  timeoutMs: number;
  retries: number;
}

/** Small PDUs: many embedded agents (UPS cards, cheap switches) refuse large ones. */
const GET_CHUNK = 16;
const MAX_REPETITIONS = 20;

type V3Credential = Extract<SnmpCredential, { version: '3' }>;

/** A v3 credential of the secrets file as net-snmp's user (authPriv only); the trap receiver uses it too. */
export function snmpV3User(c: Omit<V3Credential, 'version'>): snmp.User {
  const auth = { sha: snmp.AuthProtocols.sha, sha256: snmp.AuthProtocols.sha256, sha512: snmp.AuthProtocols.sha512 }[c.authProtocol];
  const priv = { aes: snmp.PrivProtocols.aes, aes256b: snmp.PrivProtocols.aes256b, aes256r: snmp.PrivProtocols.aes256r }[c.privProtocol];
  return { name: c.user, level: snmp.SecurityLevel.authPriv, authProtocol: auth, authKey: c.authKey, privProtocol: priv, privKey: c.privKey };
}

export function openSnmpSession(target: SnmpTarget): SnmpClient {
  const { host, port } = parseAddress(target.address, 161);
  const transport = host.includes(':') ? 'udp6' : 'udp4';
  const common = { port, timeout: target.timeoutMs, retries: target.retries, transport, backoff: 1 } as const;
  const c = target.credential;
  const session =
    c.version === '3'
      ? snmp.createV3Session(host, snmpV3User(c), { ...common, version: snmp.Version3 })
      : snmp.createSession(host, c.community, { ...common, version: c.version === '1' ? snmp.Version1 : snmp.Version2c });
  // A socket error (e.g. an unresolvable host) is reported through the pending request; without a listener it would crash the process.
  session.on('error', () => {});
  return new SnmpClient(session, c.version === '1');
}

export class SnmpClient {
  private readonly session: Session;
  private readonly v1: boolean;

  constructor(session: Session, v1: boolean) {
    this.session = session;
    this.v1 = v1;
  }

  /** GETs the OIDs; absent ones (noSuchObject/Instance) are simply not in the result. */
  async get(oids: readonly string[]): Promise<Map<string, RawValue>> {
    const result = new Map<string, RawValue>();
    for (let i = 0; i < oids.length; i += GET_CHUNK) {
      const chunk = oids.slice(i, i + GET_CHUNK);
      for (const vb of await this.getChunk(chunk)) {
        const raw = toRaw(vb);
        if (raw) result.set(vb.oid, raw);
      }
    }
    return result;
  }

  private async getChunk(oids: string[]): Promise<Varbind[]> {
    try {
      return await new Promise<Varbind[]>((resolve, reject) => this.session.get(oids, (error, varbinds) => (error ? reject(error) : resolve(varbinds ?? []))));
    } catch (error) {
      // SNMPv1 fails the whole PDU when one OID is missing (noSuchName): ask one by one.
      if (this.v1 && oids.length > 1 && error instanceof snmp.RequestFailedError) {
        const found: Varbind[] = [];
        for (const oid of oids) found.push(...(await this.getChunk([oid]).catch(() => [])));
        return found;
      }
      throw unreachable(error);
    }
  }

  /** Walks a column: row index (the OID suffix after the column) → value, at most `maxRows`. */
  walkColumn(column: string, maxRows: number): Promise<Map<string, RawValue>> {
    const rows = new Map<string, RawValue>();
    const prefix = `${column}.`;
    return new Promise((resolve, reject) => {
      const feed = (varbinds: Varbind[]): boolean | undefined => {
        for (const vb of varbinds) {
          if (!vb.oid.startsWith(prefix)) return true;
          const raw = toRaw(vb);
          if (raw) rows.set(vb.oid.slice(prefix.length), raw);
          if (rows.size >= maxRows) return true;
        }
        return undefined;
      };
      const done = (error: Error | null) => (error ? reject(unreachable(error)) : resolve(rows));
      if (this.v1) this.session.walk(column, MAX_REPETITIONS, feed as never, done);
      else this.session.subtree(column, MAX_REPETITIONS, feed as never, done);
    });
  }

  /** Fails whatever is in flight (the poll was aborted); the session stays usable. */
  cancel(): void {
    this.session.cancelRequests(new DeviceUnreachableError('poll aborted', 'timeout'));
  }

  close(): void {
    try {
      this.session.close();
    } catch {
      // already closed
    }
  }
}

function toRaw(vb: Varbind): RawValue | undefined {
  if (snmp.isVarbindError(vb)) return undefined;
  const v = vb.value;
  switch (vb.type) {
    case snmp.ObjectType.Integer:
      return typeof v === 'number' ? { kind: 'integer', value: v } : undefined;
    case snmp.ObjectType.Gauge:
      return typeof v === 'number' ? { kind: 'gauge', value: v } : undefined;
    case snmp.ObjectType.Counter:
      return typeof v === 'number' ? { kind: 'counter32', value: v } : undefined;
    case snmp.ObjectType.TimeTicks:
      return typeof v === 'number' ? { kind: 'timeticks', value: v } : undefined;
    case snmp.ObjectType.Counter64:
      return { kind: 'counter64', value: toBigInt(v) };
    case snmp.ObjectType.OctetString:
    case snmp.ObjectType.Opaque:
      return { kind: 'octets', value: Buffer.isBuffer(v) ? v : Buffer.from(String(v ?? '')) };
    case snmp.ObjectType.OID:
      return { kind: 'oid', value: String(v) };
    case snmp.ObjectType.IpAddress:
      return { kind: 'ip', value: String(v) };
    default:
      return { kind: 'other', value: String(v).slice(0, 64) };
  }
}

function toBigInt(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (Buffer.isBuffer(v)) return v.length === 0 ? 0n : BigInt(`0x${v.toString('hex')}`);
  return 0n;
}

function unreachable(error: unknown): DeviceUnreachableError {
  if (error instanceof DeviceUnreachableError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof Error && error.name === 'RequestTimedOutError') return new DeviceUnreachableError('no answer (timeout)', 'timeout');
  if (error instanceof snmp.ResponseInvalidError && /auth|decrypt|digest|usm|engine/i.test(message)) return new DeviceUnreachableError(`SNMPv3 authentication refused: ${message}`, 'auth');
  if (/ECONNREFUSED|EHOSTUNREACH|ENETUNREACH/.test(message)) return new DeviceUnreachableError(message, 'refused');
  return new DeviceUnreachableError(message, 'error');
}
