import { createHash, randomBytes } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

// A small HTTP GET client for devices behind HTTP Digest authentication (RFC 7616 with MD5 or
// SHA-256, and the older RFC 2617/2069 forms NVRs still answer with). The last challenge is kept so later
// requests authenticate at once (nc counts up); a 401 on such a request, `stale=true` or not,
// means the nonce expired and is answered once with the new challenge. Basic is used only
// when the server offers nothing else. Every request is bounded in time (the caller's signal
// and a per-request timeout) and in size, so a device cannot hang a poll or fill memory.
// The password is only ever hashed or, for Basic, encoded into a header: no message names it.

export interface DigestClientOptions {
  https: boolean;
  host: string;
  port: number;
  username: string;
  password: string;
  /** Per request; the caller's signal may end it sooner. */
  timeoutMs: number;
  /** Bodies larger than this are refused, not buffered. */
  maxBodyBytes?: number;
  /** NVRs usually have self-signed certificates; turning verification off must be explicit. */
  rejectUnauthorized?: boolean;
}

export interface HttpResponse {
  status: number;
  contentType: string;
  body: string;
}

/**
 * Why a request gave no usable response: refused / timeout / network (the device did not
 * answer), auth (it answered 401 to our credentials), too_large (it answered too much).
 */
export type HttpFailure = 'refused' | 'timeout' | 'network' | 'auth' | 'too_large';

export class HttpClientError extends Error {
  readonly kind: HttpFailure;
  constructor(message: string, kind: HttpFailure) {
    super(message);
    this.name = 'HttpClientError';
    this.kind = kind;
  }
}

export const DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024;
const MAX_CHALLENGE_CHARS = 4096;
const MAX_ATTEMPTS = 3;

type DigestAlgorithm = 'MD5' | 'SHA-256';
const DIGEST_ALGORITHMS: Record<string, DigestAlgorithm> = { 'md5': 'MD5', 'sha-256': 'SHA-256' };

type Challenge =
  | { scheme: 'digest'; realm: string; nonce: string; opaque: string | undefined; algorithm: DigestAlgorithm; qop: 'auth' | undefined; stale: boolean }
  | { scheme: 'basic' };

interface RawResponse extends HttpResponse {
  challenges: string[];
}

export class DigestClient {
  readonly #options: DigestClientOptions;
  readonly #agent: HttpAgent;
  readonly #where: string;
  #challenge: Challenge | undefined;
  #nc = 0;

  constructor(options: DigestClientOptions) {
    this.#options = options;
    // One kept-alive connection per device: NVRs are small machines and requests are sequential.
    this.#agent = options.https
      ? new HttpsAgent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: options.rejectUnauthorized ?? true })
      : new HttpAgent({ keepAlive: true, maxSockets: 1 });
    this.#where = `${options.https ? 'https' : 'http'}://${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`;
  }

  /** GET `path`; any final status is returned except a 401 to our credentials (HttpClientError 'auth'). */
  async get(path: string, signal: AbortSignal): Promise<HttpResponse> {
    let freshChallenge = false;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const authorization = this.#authorization(path);
      const response = await this.#send(path, authorization, signal);
      if (response.status !== 401) return { status: response.status, contentType: response.contentType, body: response.body };
      const challenge = pickChallenge(response.challenges);
      if (!challenge) {
        const offered = response.challenges.join(' | ').slice(0, 200) || 'none';
        throw new HttpClientError(`${this.#where}${path}: HTTP 401 with no challenge this client can answer (offered: ${offered})`, 'auth');
      }
      const stale = challenge.scheme === 'digest' && challenge.stale;
      // Credentials computed from a challenge received just now and still refused: wrong user or password.
      if (authorization !== undefined && freshChallenge && !stale) {
        throw new HttpClientError(`${this.#where}${path}: HTTP 401, user "${this.#options.username}" was refused (wrong user name or password?)`, 'auth');
      }
      this.#challenge = challenge;
      this.#nc = 0;
      freshChallenge = true;
    }
    throw new HttpClientError(`${this.#where}${path}: still HTTP 401 after ${MAX_ATTEMPTS} attempts (the nonce keeps going stale)`, 'auth');
  }

  /** Releases the kept-alive socket. */
  close(): void {
    this.#agent.destroy();
  }

  #authorization(path: string): string | undefined {
    const challenge = this.#challenge;
    if (!challenge) return undefined;
    const { username, password } = this.#options;
    if (challenge.scheme === 'basic') return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    const hash = (text: string) => createHash(challenge.algorithm === 'SHA-256' ? 'sha256' : 'md5').update(text).digest('hex');
    const cnonce = randomBytes(8).toString('hex');
    const nc = (++this.#nc).toString(16).padStart(8, '0');
    const ha1 = hash(`${username}:${challenge.realm}:${password}`);
    const ha2 = hash(`GET:${path}`);
    // Without qop the server speaks RFC 2069: no nc and no cnonce in the hash.
    const response = challenge.qop ? hash(`${ha1}:${challenge.nonce}:${nc}:${cnonce}:${challenge.qop}:${ha2}`) : hash(`${ha1}:${challenge.nonce}:${ha2}`);
    const params = [
      `username=${quote(username)}`,
      `realm=${quote(challenge.realm)}`,
      `nonce=${quote(challenge.nonce)}`,
      `uri=${quote(path)}`,
      `algorithm=${challenge.algorithm}`,
      `response="${response}"`,
      ...(challenge.opaque === undefined ? [] : [`opaque=${quote(challenge.opaque)}`]),
      ...(challenge.qop ? [`qop=${challenge.qop}`, `nc=${nc}`, `cnonce="${cnonce}"`] : []),
    ];
    return `Digest ${params.join(', ')}`;
  }

  #send(path: string, authorization: string | undefined, callerSignal: AbortSignal): Promise<RawResponse> {
    const { https, host, port, timeoutMs } = this.#options;
    const maxBytes = this.#options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    const where = `${this.#where}${path}`;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([callerSignal, timeout]);
    const abortError = () =>
      timeout.aborted ? new HttpClientError(`${where}: no answer within ${timeoutMs} ms`, 'timeout') : new HttpClientError(`${where}: poll aborted before the device answered`, 'timeout');
    if (signal.aborted) return Promise.reject(abortError());

    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        outcome();
      };
      const headers: Record<string, string> = { accept: 'application/xml, application/json;q=0.9, */*;q=0.1' };
      if (authorization) headers.authorization = authorization;
      const request = (https ? httpsRequest : httpRequest)({ host, port, path, method: 'GET', agent: this.#agent, headers });
      // Node reports the error given to destroy() first, before the socket error it causes.
      const cut = (error: HttpClientError) => request.destroy(error);
      const fail = (error: unknown) => {
        // A kept-alive socket the device closed while idle: Node's advice is to retry once on a new one.
        if (request.reusedSocket && (error as NodeJS.ErrnoException).code === 'ECONNRESET') {
          settle(() => resolve(this.#send(path, authorization, callerSignal)));
        } else settle(() => reject(classify(error, where)));
      };
      const onAbort = () => cut(abortError());
      signal.addEventListener('abort', onAbort, { once: true });
      request.on('error', fail);
      request.on('response', (response: IncomingMessage) => {
        response.on('error', fail);
        const declared = Number(response.headers['content-length']);
        if (declared > maxBytes) {
          cut(new HttpClientError(`${where}: response of ${declared} bytes, more than the ${maxBytes} allowed`, 'too_large'));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) cut(new HttpClientError(`${where}: response larger than the ${maxBytes} bytes allowed`, 'too_large'));
          else chunks.push(chunk);
        });
        response.on('end', () =>
          settle(() =>
            resolve({
              status: response.statusCode ?? 0,
              contentType: response.headers['content-type'] ?? '',
              body: Buffer.concat(chunks).toString('utf8'),
              challenges: response.headersDistinct['www-authenticate'] ?? [],
            }),
          ),
        );
      });
      request.end();
    });
  }
}

function classify(error: unknown, where: string): HttpClientError {
  if (error instanceof HttpClientError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED') return new HttpClientError(`${where}: connection refused`, 'refused');
  if (code === 'ETIMEDOUT') return new HttpClientError(`${where}: connection timed out`, 'timeout');
  return new HttpClientError(`${where}: ${code ?? 'error'}: ${(error as Error).message}`, 'network');
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/** The challenge to answer: Digest (MD5 or SHA-256, qop auth or none) first, Basic only when nothing else is offered. */
function pickChallenge(headers: string[]): Challenge | undefined {
  const offered = headers.flatMap((h) => parseChallenges(h.slice(0, MAX_CHALLENGE_CHARS)));
  let basic = false;
  for (const { scheme, params } of offered) {
    if (scheme === 'basic') basic = true;
    if (scheme !== 'digest') continue;
    const algorithm = DIGEST_ALGORITHMS[(params.algorithm ?? 'MD5').toLowerCase()];
    const qops = params.qop?.split(',').map((q) => q.trim().toLowerCase());
    if (!algorithm || params.realm === undefined || !params.nonce || (qops && !qops.includes('auth'))) continue;
    return { scheme: 'digest', realm: params.realm, nonce: params.nonce, opaque: params.opaque, algorithm, qop: qops ? 'auth' : undefined, stale: params.stale?.toLowerCase() === 'true' };
  }
  return basic ? { scheme: 'basic' } : undefined;
}

/** Splits one WWW-Authenticate value into challenges: `Digest realm="a", nonce="b", Basic realm="c"`. */
function parseChallenges(header: string): { scheme: string; params: Record<string, string> }[] {
  const challenges: { scheme: string; params: Record<string, string> }[] = [];
  const token = /\s*,?\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?:\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*)))?/y;
  let match: RegExpExecArray | null;
  while ((match = token.exec(header)) !== null) {
    const [, name, quoted, bare] = match;
    // A null prototype: a device sending `__proto__=…` sets a key, not the object's prototype.
    if (quoted === undefined && bare === undefined) challenges.push({ scheme: name!.toLowerCase(), params: Object.create(null) as Record<string, string> });
    else {
      const current = challenges.at(-1);
      if (current) current.params[name!.toLowerCase()] = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : bare!;
    }
    if (token.lastIndex >= header.length) break;
  }
  return challenges;
}
