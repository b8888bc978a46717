import { readFileSync } from 'node:fs';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { z } from 'zod';
import { DeviceUnreachableError, type DeviceDriver, type DeviceSession, type DriverTarget, type PollOutcome } from '../driver.ts';
import { parseAddress } from '../inventory.ts';

// Uptime probe: a TCP port that accepts a connection is up (latency = connect time).
//
// This file also holds what every socket probe shares (TLS, SMTP, LDAP, HTTP): the poll
// deadline, the connect, reading until an answer is complete, and turning a failure into the
// registry's reason (timeout / refused / error + what happened). One place, so a refused
// connection means the same thing for every probe.

const DEFAULT_PROBE_TIMEOUT_MS = 5_000;

/** The redundant internet line to probe through: an address of this machine. */
export const sourceAddressSchema = z.string().refine((v) => isIP(v) !== 0, 'expected an IP address of this machine (the line to probe through)');
export const portSchema = z.number({ error: 'expected a port number' }).int('expected a port number').min(1, 'expected a port from 1 to 65535').max(65_535, 'expected a port from 1 to 65535');
export const tlsVerifySchema = z.boolean({ error: 'expected true or false' }).default(true);
/** PEM file of the CA that signed the service's certificate (a municipality's private CA). */
export const caFileSchema = z.string().min(1).max(4096);

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$/i;

/** An IP address or a DNS name: nothing else may reach a socket or a command line. */
export function isHost(host: string): boolean {
  return isIP(host) !== 0 || HOST_NAME.test(host);
}

export interface Endpoint {
  host: string;
  port: number;
  sourceAddress?: string | undefined;
}

/**
 * `host`, `host:port`, `[v6]:port` → where to connect, `port` applying when the address has
 * none; a clear error naming the device entry otherwise (also for two different ports).
 */
export function endpointOf(address: string, port: number | undefined, device: string): { host: string; port: number } {
  const parsed = parseAddress(address, Number.NaN);
  if (!isHost(parsed.host)) throw new Error(`${device}: address "${address}" is not a host name or IP address`);
  const given = Number.isNaN(parsed.port) ? port : parsed.port;
  if (given === undefined) throw new Error(`${device}: address "${address}" has no port (write host:port or set options.port)`);
  if (!Number.isInteger(given) || given < 1 || given > 65_535) throw new Error(`${device}: address "${address}" has no valid port (1 to 65535)`);
  return { host: parsed.host, port: given };
}

export const deviceName = (target: DriverTarget) => `${target.device.site}/${target.device.id}`;

/** Read once at open: a missing CA file is a configuration error, not an outage of the service. */
export function readCaFile(path: string | undefined, device: string): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Error(`${device}: options.caFile: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

/** The poller's signal (the interval) or the device's own timeout, whichever ends first. */
export function probeDeadline(signal: AbortSignal, timeoutMs: number | undefined): AbortSignal {
  return AbortSignal.any([signal, AbortSignal.timeout(timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS)]);
}

const TLS_TRUST_CODES = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID']);

/** Any failure of a probe → the registry's reason, with what happened in the message. */
export function unreachable(error: unknown, deadline: AbortSignal, what: string): DeviceUnreachableError {
  if (error instanceof DeviceUnreachableError) return error;
  if (deadline.aborted) return new DeviceUnreachableError(`${what}: no answer in time`, 'timeout');
  const code = (error as NodeJS.ErrnoException).code;
  const message = error instanceof Error ? error.message : String(error);
  switch (code) {
    case 'ECONNREFUSED':
      return new DeviceUnreachableError(`${what}: connection refused`, 'refused');
    case 'ETIMEDOUT':
      return new DeviceUnreachableError(`${what}: no answer in time`, 'timeout');
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new DeviceUnreachableError(`${what}: host name not found (${code})`, 'error');
    case 'ECONNRESET':
      return new DeviceUnreachableError(`${what}: connection reset by the peer`, 'error');
    case 'EADDRNOTAVAIL':
      return new DeviceUnreachableError(`${what}: options.sourceAddress is not an address of this machine`, 'error');
  }
  if (code !== undefined && TLS_TRUST_CODES.has(code)) return new DeviceUnreachableError(`${what}: certificate not trusted (${code}); set options.caFile, or tlsVerify: false for a self-signed certificate`, 'error');
  return new DeviceUnreachableError(`${what}: ${message.slice(0, 160)}`, 'error');
}

/** Opens a TCP (or TLS, when `tls` is given) connection; resolves once it is usable. */
export function connectTo(target: Endpoint & { tls?: ConnectionOptions }, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const where = { host: target.host, port: target.port, ...(target.sourceAddress ? { localAddress: target.sourceAddress } : {}) };
    const socket = target.tls ? tlsConnect({ ...where, ...target.tls }) : netConnect(where);
    const done = () => {
      signal.removeEventListener('abort', onAbort);
      socket.off('error', onError);
    };
    const onAbort = () => {
      done();
      socket.destroy();
      reject(signal.reason);
    };
    const onError = (error: Error) => {
      done();
      socket.destroy();
      reject(error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', onError);
    socket.once(target.tls ? 'secureConnect' : 'connect', () => {
      done();
      // Errors after this point surface through readUntil or are of no interest (we are closing).
      socket.on('error', () => {});
      resolve(socket);
    });
  });
}

/**
 * Collects what the peer sends until `complete` makes something of it (undefined: not yet).
 * A peer that closes first, sends more than `maxBytes` or outlasts the signal is an error.
 * The socket is paused afterwards so nothing sent next is lost before the next read.
 */
export function readUntil<T>(socket: Socket, complete: (data: Buffer) => T | undefined, maxBytes: number, signal: AbortSignal, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    let data = Buffer.alloc(0);
    const finish = (error: unknown, value?: T) => {
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
      signal.removeEventListener('abort', onAbort);
      socket.pause();
      if (error === undefined) resolve(value as T);
      else reject(error);
    };
    const onData = (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      try {
        const value = complete(data);
        if (value !== undefined) return finish(undefined, value);
      } catch (error) {
        return finish(error);
      }
      if (data.length > maxBytes) finish(new DeviceUnreachableError(`${what}: answer longer than ${maxBytes} bytes`, 'error'));
    };
    const onClose = () => finish(new DeviceUnreachableError(`${what}: connection closed before an answer`, 'error'));
    const onError = (error: Error) => finish(error);
    const onAbort = () => finish(signal.reason);
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.resume();
  });
}

export const round = (value: number, digits = 3) => Math.round(value * 10 ** digits) / 10 ** digits;

const tcpOptionsSchema = z.strictObject({
  port: portSchema.optional(),
  sourceAddress: sourceAddressSchema.optional(),
});

export const probeTcpDriver: DeviceDriver = {
  name: 'probe-tcp',
  credential: 'none',
  options: tcpOptionsSchema,
  open(target: DriverTarget): DeviceSession {
    const options = tcpOptionsSchema.parse(target.device.options);
    const { host, port } = endpointOf(target.device.address, options.port, deviceName(target));
    if (options.port !== undefined && port !== options.port) throw new Error(`${deviceName(target)}: address "${target.device.address}" and options.port ${options.port} name different ports`);
    return {
      poll: (signal) => probeTcp({ host, port, sourceAddress: options.sourceAddress }, probeDeadline(signal, target.device.timeoutMs)),
      close: () => {},
    };
  },
};

async function probeTcp(endpoint: Endpoint, deadline: AbortSignal): Promise<PollOutcome> {
  const started = performance.now();
  try {
    const socket = await connectTo(endpoint, deadline);
    const latency = performance.now() - started;
    socket.destroy();
    return { metrics: [{ name: 'probe', fields: { ok: 1, latency_ms: round(latency) } }], events: [], problems: [] };
  } catch (error) {
    throw unreachable(error, deadline, `TCP ${endpoint.host}:${endpoint.port}`);
  }
}
