import { hostname } from 'node:os';
import type { Socket } from 'node:net';
import { z } from 'zod';
import { DeviceUnreachableError, type DeviceDriver, type DeviceSession, type DriverTarget, type PollOutcome } from '../driver.ts';
import { connectTo, deviceName, endpointOf, probeDeadline, readUntil, round, sourceAddressSchema, unreachable, type Endpoint } from './probe-tcp.ts';

// Uptime probe for mail servers (port 25 or 587): connect, read the greeting, say QUIT.
// Up: a 220 greeting (RFC 5321 §4.2, §3.1). A 554 greeting ("no SMTP service here") or
// anything that is not SMTP is down. With `starttls: true` the probe also sends EHLO and
// reports whether STARTTLS is offered (`starttls_ok`): a server that stopped offering it still
// takes mail, in clear, so that is a warning for a rule, not an outage. No mail is ever sent.

/** A greeting or EHLO answer is a few lines; anything longer is not a mail server talking. */
const MAX_REPLY_BYTES = 8_192;

const smtpOptionsSchema = z.strictObject({
  starttls: z.boolean({ error: 'expected true or false' }).default(false),
  sourceAddress: sourceAddressSchema.optional(),
});

interface Reply {
  code: number;
  lines: string[];
}

/** A complete SMTP reply ("250-first", …, "250 last"), or undefined while lines are still coming. */
function smtpReply(data: Buffer, what: string): Reply | undefined {
  const lines = data.toString('latin1').split('\n');
  lines.pop(); // the unfinished line after the last newline
  const texts: string[] = [];
  for (const raw of lines) {
    const line = raw.replace(/\r$/, '');
    const match = /^(\d{3})([ -]|$)(.*)$/.exec(line);
    if (!match) throw new DeviceUnreachableError(`${what}: not an SMTP answer ("${line.slice(0, 60)}")`, 'error');
    texts.push(match[3]!);
    if (match[2] !== '-') return { code: Number(match[1]), lines: texts };
  }
  return undefined;
}

export const probeSmtpDriver: DeviceDriver = {
  name: 'probe-smtp',
  credential: 'none',
  options: smtpOptionsSchema,
  open(target: DriverTarget): DeviceSession {
    const options = smtpOptionsSchema.parse(target.device.options);
    const endpoint: Endpoint = { ...endpointOf(target.device.address, 25, deviceName(target)), sourceAddress: options.sourceAddress };
    return {
      poll: (signal) => probeSmtp(endpoint, options.starttls, probeDeadline(signal, target.device.timeoutMs)),
      close: () => {},
    };
  },
};

async function probeSmtp(endpoint: Endpoint, checkStarttls: boolean, deadline: AbortSignal): Promise<PollOutcome> {
  const what = `SMTP ${endpoint.host}:${endpoint.port}`;
  const started = performance.now();
  let socket: Socket | undefined;
  try {
    socket = await connectTo(endpoint, deadline);
    const greeting = await readUntil(socket, (data) => smtpReply(data, what), MAX_REPLY_BYTES, deadline, `${what} greeting`);
    const latency = performance.now() - started;
    if (greeting.code !== 220) throw new DeviceUnreachableError(`${what}: greeting ${greeting.code} ${greeting.lines.join(' ').slice(0, 100)}`, 'error');
    const fields: Record<string, number> = { ok: 1, latency_ms: round(latency), banner_ok: 1 };
    if (checkStarttls) {
      socket.write(`EHLO ${hostname()}\r\n`);
      const ehlo = await readUntil(socket, (data) => smtpReply(data, what), MAX_REPLY_BYTES, deadline, `${what} EHLO`);
      // The first line is the server's name; the keywords follow (RFC 5321 §4.1.1.1).
      fields.starttls_ok = ehlo.code === 250 && ehlo.lines.slice(1).some((l) => /^STARTTLS\b/i.test(l)) ? 1 : 0;
    }
    const open = socket;
    open.end('QUIT\r\n', () => open.destroy());
    return { metrics: [{ name: 'probe', fields }], events: [], problems: [] };
  } catch (error) {
    socket?.destroy();
    throw unreachable(error, deadline, what);
  }
}
