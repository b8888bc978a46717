import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { z } from 'zod';
import { DeviceUnreachableError, type DeviceDriver, type DeviceSession, type DriverTarget, type PollOutcome } from '../driver.ts';
import { caFileSchema, deviceName, isHost, probeDeadline, readCaFile, round, sourceAddressSchema, tlsVerifySchema, unreachable } from './probe-tcp.ts';

// Uptime probe for web services (e-Belediye, the municipality's site, an API): one request,
// the status and optionally a keyword of the page decide whether it is up.
//
// Address: a URL (`https://e.belediye.gov.tr/giris`) or a host[:port] (plain HTTP). Every probe
// opens a fresh connection (no keep-alive), so latency includes connect and TLS handshake, as a
// citizen's first visit would. Latency is measured to the end of the answer (or the first 1 MB
// of it, which is all that is read and searched). Redirects are not followed unless asked: a
// login page that starts redirecting to an error page should show, not be followed silently.
// Down: refused, timeout, a status outside `expectStatus`, the keyword missing.

const MAX_BODY_BYTES = 1024 * 1024;
const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = 'belediye-izleme-probe/1';

const STATUS_HINT = 'expected a status like 200 or a range like "200-399"';
const statusItem = z.union(
  [
    z.number().int(STATUS_HINT).min(100, STATUS_HINT).max(599, STATUS_HINT),
    z
      .string()
      .regex(/^[1-5]\d\d-[1-5]\d\d$/, { error: STATUS_HINT, abort: true })
      .refine((range) => Number(range.slice(0, 3)) <= Number(range.slice(4)), 'the range must go from low to high'),
  ],
  { error: STATUS_HINT },
);

const httpOptionsSchema = z
  .strictObject({
    path: z
      .string()
      .max(2048, 'longer than 2048 characters')
      .regex(/^\/(?!\/)\S*$/, 'expected a path like "/giris" (starting with one "/", no spaces)')
      .optional(),
    method: z.enum(['GET', 'HEAD'], { error: 'expected GET or HEAD' }).default('GET'),
    expectStatus: z.union([statusItem, z.array(statusItem).min(1).max(20)], { error: `${STATUS_HINT}, or a list of them` }).default('200-399'),
    keyword: z.string().min(1, 'empty').max(256, 'longer than 256 characters').optional(),
    tlsVerify: tlsVerifySchema,
    caFile: caFileSchema.optional(),
    sourceAddress: sourceAddressSchema.optional(),
    followRedirects: z.boolean({ error: 'expected true or false' }).default(false),
  })
  .refine((o) => o.keyword === undefined || o.method === 'GET', { message: 'a HEAD answer has no body to search: use method GET', path: ['keyword'] });
type HttpOptions = z.infer<typeof httpOptionsSchema>;

/** `expectStatus` → a test of one status. */
function statusMatcher(expect: HttpOptions['expectStatus']): (status: number) => boolean {
  const ranges = (Array.isArray(expect) ? expect : [expect]).map((item) => (typeof item === 'number' ? [item, item] : [Number(item.slice(0, 3)), Number(item.slice(4))]));
  return (status) => ranges.some(([low, high]) => status >= low! && status <= high!);
}

/** The address (URL or host[:port]) with `options.path` applied; an error naming the device otherwise. */
function probeUrl(address: string, path: string | undefined, device: string): URL {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(address)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'http' && scheme !== 'https') throw new Error(`${device}: address "${address}" is ${scheme}://, not http:// or https://`);
  let url: URL;
  try {
    url = new URL(scheme ? address : `http://${address}`);
  } catch {
    throw new Error(`${device}: address "${address}" is not a URL (https://host/path) or host[:port]`);
  }
  if (!isHost(url.hostname.replace(/^\[|\]$/g, ''))) throw new Error(`${device}: address "${address}" has no valid host`);
  if (url.username || url.password) throw new Error(`${device}: address "${address}" holds a user name or password: probes are anonymous, remove it`);
  if (path !== undefined) {
    const withPath = new URL(path, url);
    url.pathname = withPath.pathname;
    url.search = withPath.search;
  }
  return url;
}

interface Answer {
  status: number;
  location: string | undefined;
  /** Up to MAX_BODY_BYTES: what the keyword is searched in. */
  body: Buffer;
  bytes: number;
}

export const probeHttpDriver: DeviceDriver = {
  name: 'probe-http',
  credential: 'none',
  options: httpOptionsSchema,
  open(target: DriverTarget): DeviceSession {
    const options = httpOptionsSchema.parse(target.device.options);
    const url = probeUrl(target.device.address, options.path, deviceName(target));
    const ca = readCaFile(options.caFile, deviceName(target));
    const settings: RequestOptions & { rejectUnauthorized: boolean } = {
      method: options.method,
      agent: false,
      headers: { 'user-agent': USER_AGENT, accept: '*/*', connection: 'close' },
      rejectUnauthorized: options.tlsVerify,
      ...(ca ? { ca } : {}),
      ...(options.sourceAddress ? { localAddress: options.sourceAddress } : {}),
    };
    const accepted = statusMatcher(options.expectStatus);
    return {
      poll: (signal) => probeHttp(url, settings, options, accepted, probeDeadline(signal, target.device.timeoutMs)),
      close: () => {},
    };
  },
};

async function probeHttp(start: URL, settings: RequestOptions, options: HttpOptions, accepted: (status: number) => boolean, deadline: AbortSignal): Promise<PollOutcome> {
  const started = performance.now();
  let url = start;
  let answer: Answer;
  try {
    for (let hops = 0; ; hops++) {
      answer = await fetchOnce(url, settings, deadline);
      if (!options.followRedirects || !REDIRECTS.has(answer.status) || answer.location === undefined) break;
      if (hops === MAX_REDIRECTS) throw new DeviceUnreachableError(`HTTP ${start.host}: more than ${MAX_REDIRECTS} redirects`, 'error');
      url = new URL(answer.location, url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new DeviceUnreachableError(`HTTP ${start.host}: redirected to ${url.protocol} (not HTTP)`, 'error');
    }
  } catch (error) {
    throw unreachable(error, deadline, `HTTP ${url.host}`);
  }
  const latency = performance.now() - started;
  if (!accepted(answer.status)) throw new DeviceUnreachableError(`HTTP ${answer.status}`, 'error');
  const fields: Record<string, number> = { ok: 1, latency_ms: round(latency), status_code: answer.status, bytes: answer.bytes };
  if (options.keyword !== undefined) {
    // Byte search of the UTF-8 text: no decoding, so a page cut at 1 MB mid-character cannot throw.
    if (!answer.body.includes(Buffer.from(options.keyword, 'utf8'))) throw new DeviceUnreachableError(`keyword not found: "${options.keyword}" is not in the page (HTTP ${answer.status})`, 'error');
    fields.keyword_found = 1;
  }
  return { metrics: [{ name: 'probe', fields }], events: [], problems: [] };
}

function fetchOnce(url: URL, settings: RequestOptions, signal: AbortSignal): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(url, { ...settings, signal }, (res) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      let bytes = 0;
      let settled = false;
      const finish = () => {
        if (settled) return;
        settled = true;
        const location = res.headers.location;
        resolve({ status: res.statusCode ?? 0, location, body: Buffer.concat(chunks), bytes });
        res.destroy();
      };
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (kept < MAX_BODY_BYTES) chunks.push(chunk.subarray(0, MAX_BODY_BYTES - kept));
        kept = Math.min(MAX_BODY_BYTES, kept + chunk.length);
        // The rest of a huge page is not read: 1 MB is enough to find a keyword and to know it is up.
        if (bytes >= MAX_BODY_BYTES) finish();
      });
      res.on('end', finish);
      res.on('error', (error) => {
        if (!settled) reject(error);
        settled = true;
      });
      res.on('close', () => {
        if (!settled) reject(new DeviceUnreachableError(`HTTP ${url.host}: connection closed in the middle of the answer`, 'error'));
        settled = true;
      });
    });
    req.on('error', reject);
    req.end();
  });
}
