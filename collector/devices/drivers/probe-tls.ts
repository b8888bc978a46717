import { isIP, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { z } from 'zod';
import { DeviceUnreachableError, type DeviceDriver, type DeviceSession, type DriverTarget, type PollOutcome } from '../driver.ts';
import { caFileSchema, connectTo, deviceName, endpointOf, isHost, probeDeadline, readCaFile, round, sourceAddressSchema, tlsVerifySchema, unreachable, type Endpoint } from './probe-tcp.ts';

// Uptime probe for TLS certificates (HTTPS, LDAPS, SMTPS, the VPN portal): connect, read the
// peer certificate's expiry, report how many whole days are left.
//
// An expiring certificate is not an outage: the poll succeeds with `cert_days_left` and an
// alert rule on that field warns (below 30 days) and resolves by itself after renewal. An
// EXPIRED certificate is still reported (negative days) rather than failing, so the rule says
// "expired", not "unreachable". A certificate that is not trusted for another reason (unknown
// CA, wrong host name) is down when `tlsVerify` is on; `tlsVerify: false` reads self-signed
// certificates (devices' management pages). SNI is the host name (never an IP, RFC 6066).

const DAY_MS = 86_400_000;

const tlsOptionsSchema = z.strictObject({
  tlsVerify: tlsVerifySchema,
  caFile: caFileSchema.optional(),
  /** SNI and the name checked in the certificate, when the address is an IP of a named service. */
  servername: z.string().refine((v) => isIP(v) === 0 && isHost(v), 'expected a host name (not an IP address)').optional(),
  sourceAddress: sourceAddressSchema.optional(),
});

export const probeTlsDriver: DeviceDriver = {
  name: 'probe-tls',
  credential: 'none',
  options: tlsOptionsSchema,
  open(target: DriverTarget): DeviceSession {
    const options = tlsOptionsSchema.parse(target.device.options);
    const endpoint: Endpoint = { ...endpointOf(target.device.address, 443, deviceName(target)), sourceAddress: options.sourceAddress };
    const servername = options.servername ?? (isIP(endpoint.host) === 0 ? endpoint.host : undefined);
    const ca = readCaFile(options.caFile, deviceName(target));
    // Never rejected in the handshake: the certificate is judged below, so an expired one still gives its date.
    const tls = { rejectUnauthorized: false, ...(servername ? { servername } : {}), ...(ca ? { ca } : {}) };
    return {
      poll: (signal) => probeTls({ ...endpoint, tls }, options.tlsVerify, probeDeadline(signal, target.device.timeoutMs)),
      close: () => {},
    };
  },
};

async function probeTls(endpoint: Parameters<typeof connectTo>[0], verify: boolean, deadline: AbortSignal): Promise<PollOutcome> {
  const what = `TLS ${endpoint.host}:${endpoint.port}`;
  const started = performance.now();
  let socket: Socket;
  try {
    socket = await connectTo(endpoint, deadline);
  } catch (error) {
    throw unreachable(error, deadline, what);
  }
  const latency = performance.now() - started;
  try {
    const tlsSocket = socket as TLSSocket;
    const validTo = Date.parse(tlsSocket.getPeerCertificate().valid_to ?? '');
    if (!Number.isFinite(validTo)) throw new DeviceUnreachableError(`${what}: the server sent no certificate with an expiry date`, 'error');
    const problem = tlsSocket.authorized ? undefined : String(tlsSocket.authorizationError);
    if (verify && problem !== undefined && problem !== 'CERT_HAS_EXPIRED') {
      throw new DeviceUnreachableError(`${what}: certificate not trusted (${problem}); set options.caFile, or tlsVerify: false for a self-signed certificate`, 'error');
    }
    const daysLeft = Math.floor((validTo - Date.now()) / DAY_MS);
    return { metrics: [{ name: 'probe', fields: { ok: 1, latency_ms: round(latency), cert_days_left: daysLeft, cert_expires_at: validTo } }], events: [], problems: [] };
  } finally {
    socket.destroy();
  }
}
