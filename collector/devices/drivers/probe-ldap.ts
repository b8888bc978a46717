import type { Socket } from 'node:net';
import { z } from 'zod';
import { DeviceUnreachableError, type DeviceDriver, type DeviceSession, type DriverTarget, type PollOutcome } from '../driver.ts';
import { caFileSchema, connectTo, deviceName, endpointOf, probeDeadline, readCaFile, readUntil, round, sourceAddressSchema, tlsVerifySchema, unreachable, type Endpoint } from './probe-tcp.ts';

// Uptime probe for directory servers (Active Directory, OpenLDAP): connect (ldap:// on 389, or
// ldaps:// on 636 with TLS), send an anonymous simple bind, read the answer, unbind.
//
// The few BER bytes are written here (RFC 4511 §4.2, implicit tags) instead of pulling in an
// LDAP library:
//   LDAPMessage  30 0c                SEQUENCE
//     messageID    02 01 01           INTEGER 1
//     BindRequest  60 07              [APPLICATION 0]
//       version      02 01 03         INTEGER 3
//       name         04 00            LDAPDN ""
//       simple       80 00            [0] ""  (anonymous)
//
// A good answer is a BindResponse ([APPLICATION 1], 0x61) to message 1: the server is up and
// speaks LDAP. Its resultCode 0 (success) means anonymous binds are allowed (`bind_ok` 1);
// servers hardened against anonymous binds answer 48 (inappropriateAuthentication), 49 or 53
// (unwillingToPerform) — still up, `bind_ok` 0, the code in `result_code`. Down: no answer, a
// Notice of Disconnection (RFC 4511 §4.4.1, message 0), or bytes that are not an LDAP message.

const BIND_ANONYMOUS = Buffer.from('300c020101600702010304008000', 'hex');
const UNBIND = Buffer.from('30050201024200', 'hex');
const TAG = { sequence: 0x30, integer: 0x02, enumerated: 0x0a, bindResponse: 0x61, extendedResponse: 0x78 } as const;
/** A bind answer is a few dozen bytes; referrals and diagnostics may add some. */
const MAX_ANSWER_BYTES = 65_536;

const ldapOptionsSchema = z.strictObject({
  tlsVerify: tlsVerifySchema,
  caFile: caFileSchema.optional(),
  sourceAddress: sourceAddressSchema.optional(),
});

interface Tlv {
  tag: number;
  start: number;
  end: number;
}

const notLdap = (what: string, detail: string) => new DeviceUnreachableError(`${what}: not an LDAP answer (${detail})`, 'error');

/** One BER tag-length-value at `at`; undefined while its bytes are still coming. Definite lengths only (LDAP uses no others). */
function readTlv(data: Buffer, at: number, what: string): Tlv | undefined {
  if (data.length < at + 2) return undefined;
  const first = data[at + 1]!;
  if (first < 0x80) return data.length < at + 2 + first ? undefined : { tag: data[at]!, start: at + 2, end: at + 2 + first };
  const count = first & 0x7f;
  if (count === 0 || count > 3) throw notLdap(what, `length of ${count} bytes`);
  if (data.length < at + 2 + count) return undefined;
  const length = data.readUIntBE(at + 2, count);
  const start = at + 2 + count;
  return data.length < start + length ? undefined : { tag: data[at]!, start, end: start + length };
}

function integerOf(data: Buffer, tlv: Tlv): number {
  return tlv.end - tlv.start >= 1 && tlv.end - tlv.start <= 4 ? data.readIntBE(tlv.start, tlv.end - tlv.start) : Number.NaN;
}

/** The resultCode of the server's answer to BIND_ANONYMOUS, or undefined while the answer is incomplete. */
function bindResult(data: Buffer, what: string): number | undefined {
  if (data[0] !== TAG.sequence) throw notLdap(what, `starts with 0x${data[0]!.toString(16).padStart(2, '0')}`);
  const message = readTlv(data, 0, what);
  if (!message) return undefined;
  const id = readTlv(data, message.start, what);
  const op = id && id.end < message.end ? readTlv(data, id.end, what) : undefined;
  if (!id || id.tag !== TAG.integer || !op || op.end > message.end) throw notLdap(what, 'no message id and operation');
  const messageId = integerOf(data, id);
  if (op.tag === TAG.extendedResponse && messageId === 0) {
    const code = readTlv(data, op.start, what);
    throw new DeviceUnreachableError(`${what}: the server ended the session (notice of disconnection, result ${code ? integerOf(data, code) : '?'})`, 'error');
  }
  if (op.tag !== TAG.bindResponse || messageId !== 1) throw notLdap(what, `operation 0x${op.tag.toString(16)} to message ${messageId}`);
  const result = readTlv(data, op.start, what);
  const code = result?.tag === TAG.enumerated && result.end <= op.end ? integerOf(data, result) : Number.NaN;
  if (!Number.isInteger(code)) throw notLdap(what, 'bind answer without a result code');
  return code;
}

const SCHEMES = [
  { prefix: 'ldaps://', tls: true, port: 636 },
  { prefix: 'ldap://', tls: false, port: 389 },
  { prefix: '', tls: false, port: 389 },
] as const;

export const probeLdapDriver: DeviceDriver = {
  name: 'probe-ldap',
  credential: 'none',
  options: ldapOptionsSchema,
  open(target: DriverTarget): DeviceSession {
    const options = ldapOptionsSchema.parse(target.device.options);
    const address = target.device.address;
    const scheme = SCHEMES.find((s) => address.toLowerCase().startsWith(s.prefix))!;
    const endpoint: Endpoint = { ...endpointOf(address.slice(scheme.prefix.length).replace(/\/$/, ''), scheme.port, deviceName(target)), sourceAddress: options.sourceAddress };
    const ca = readCaFile(options.caFile, deviceName(target));
    const tls = scheme.tls ? { tls: { rejectUnauthorized: options.tlsVerify, ...(ca ? { ca } : {}) } } : {};
    return {
      poll: (signal) => probeLdap({ ...endpoint, ...tls }, probeDeadline(signal, target.device.timeoutMs)),
      close: () => {},
    };
  },
};

async function probeLdap(endpoint: Parameters<typeof connectTo>[0], deadline: AbortSignal): Promise<PollOutcome> {
  const what = `LDAP ${endpoint.host}:${endpoint.port}`;
  const started = performance.now();
  let socket: Socket | undefined;
  try {
    socket = await connectTo(endpoint, deadline);
    socket.write(BIND_ANONYMOUS);
    const resultCode = await readUntil(socket, (data) => bindResult(data, what), MAX_ANSWER_BYTES, deadline, what);
    const latency = performance.now() - started;
    const open = socket;
    open.end(UNBIND, () => open.destroy());
    return { metrics: [{ name: 'probe', fields: { ok: 1, latency_ms: round(latency), bind_ok: resultCode === 0 ? 1 : 0, result_code: resultCode } }], events: [], problems: [] };
  } catch (error) {
    socket?.destroy();
    throw unreachable(error, deadline, what);
  }
}
