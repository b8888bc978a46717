import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import { z } from 'zod';
import { DeviceUnreachableError, type DeviceDriver, type DeviceSession, type DriverTarget, type PollOutcome } from '../driver.ts';
import { deviceName, isHost, probeDeadline, round, sourceAddressSchema, unreachable } from './probe-tcp.ts';

// Uptime probe for DNS servers (the municipality's own resolvers and its authoritative zone):
// the device's address IS the server (IP, optionally :port); one question, `name` of `type`.
// Down: no answer, refused, NXDOMAIN, no record of the type, or `expect` not among the
// answers (a hijacked or stale zone answers, but wrongly).

const QUESTIONS = {
  A: (r: dns.Resolver, name: string) => r.resolve4(name),
  AAAA: (r: dns.Resolver, name: string) => r.resolve6(name),
  // An MX answer is compared by its exchange host, without the trailing dot some write.
  MX: async (r: dns.Resolver, name: string) => (await r.resolveMx(name)).map((mx) => mx.exchange),
  // A TXT record may come in several strings of up to 255 bytes: they form one value.
  TXT: async (r: dns.Resolver, name: string) => (await r.resolveTxt(name)).map((chunks) => chunks.join('')),
} as const;

const dnsOptionsSchema = z.strictObject({
  name: z.string({ error: 'expected the name to ask for, like "e.belediye.gov.tr"' }).refine(isHost, 'expected a DNS name like "e.belediye.gov.tr"'),
  type: z.enum(['A', 'AAAA', 'MX', 'TXT'], { error: 'expected A, AAAA, MX or TXT' }).default('A'),
  /** A value that must be among the answers (an address, an MX host, a TXT text). */
  expect: z.string().min(1, 'empty').max(1024, 'longer than 1024 characters').optional(),
  sourceAddress: sourceAddressSchema.optional(),
});
type DnsOptions = z.infer<typeof dnsOptionsSchema>;

/** How answers and `expect` are compared: names without case and trailing dot, addresses in canonical form, TXT exactly. */
function normalise(type: DnsOptions['type'], value: string): string {
  if (type === 'TXT') return value;
  if (type === 'MX') return value.toLowerCase().replace(/\.$/, '');
  return isIP(value) === 6 ? new URL(`http://[${value}]`).hostname : value;
}

const DNS_ERRORS: Record<string, string> = {
  ENOTFOUND: 'NXDOMAIN (the name does not exist)',
  ENODATA: 'no record of this type',
  ESERVFAIL: 'SERVFAIL (the server failed to answer)',
  EREFUSED: 'REFUSED (the server does not answer this question)',
  EBADRESP: 'malformed answer',
};

export const probeDnsDriver: DeviceDriver = {
  name: 'probe-dns',
  credential: 'none',
  options: dnsOptionsSchema,
  open(target: DriverTarget): DeviceSession {
    const options = dnsOptionsSchema.parse(target.device.options);
    const resolver = new dns.Resolver({ timeout: target.device.timeoutMs ?? 2_000, tries: 1 });
    try {
      resolver.setServers([target.device.address]);
    } catch {
      throw new Error(`${deviceName(target)}: address "${target.device.address}" is not a DNS server address (IP or IP:port)`);
    }
    if (options.sourceAddress) {
      const v6 = isIP(options.sourceAddress) === 6;
      resolver.setLocalAddress(v6 ? '0.0.0.0' : options.sourceAddress, v6 ? options.sourceAddress : '::0');
    }
    return {
      poll: (signal) => probeDns(resolver, options, probeDeadline(signal, target.device.timeoutMs)),
      close: () => resolver.cancel(),
    };
  },
};

async function probeDns(resolver: dns.Resolver, options: DnsOptions, deadline: AbortSignal): Promise<PollOutcome> {
  const what = `DNS ${options.type} ${options.name}`;
  const started = performance.now();
  const onAbort = () => resolver.cancel();
  deadline.addEventListener('abort', onAbort, { once: true });
  let answers: string[];
  try {
    answers = await QUESTIONS[options.type](resolver, options.name);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code === 'ETIMEOUT' || code === 'ECANCELLED') throw new DeviceUnreachableError(`${what}: no answer in time`, 'timeout');
    const meaning = DNS_ERRORS[code];
    throw meaning ? new DeviceUnreachableError(`${what}: ${meaning}`, 'error') : unreachable(error, deadline, what);
  } finally {
    deadline.removeEventListener('abort', onAbort);
  }
  const latency = performance.now() - started;
  if (options.expect !== undefined) {
    const wanted = normalise(options.type, options.expect);
    if (!answers.some((a) => normalise(options.type, a) === wanted)) {
      throw new DeviceUnreachableError(`${what}: wrong answer, "${options.expect}" is not among ${JSON.stringify(answers.slice(0, 5)).slice(0, 200)}`, 'error');
    }
  }
  return { metrics: [{ name: 'probe', fields: { ok: 1, latency_ms: round(latency), answers: answers.length } }], events: [], problems: [] };
}
