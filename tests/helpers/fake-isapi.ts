import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';

// No real Hikvision NVR can run here, so this server stands in for one: it answers the ISAPI
// requests the hikvision-isapi driver makes with the messages of Hikvision's "Intelligent
// Security API (General) Developer Guide" (XML_hdd / XML_hddList under <storage>,
// XML_InputProxyChannelStatusList, JSON_WorkingStatus), in the Hikvision namespace, behind
// real HTTP Digest authentication (RFC 7616 MD5 or SHA-256, qop=auth or the qop-less RFC 2069
// form, or Basic). Its Digest check is written from the RFC here, independently of the client,
// so the tests check the client against the specification rather than against itself.
// Nonces are fresh on every challenge and go stale after `nonceUses` requests, which makes the
// client take its `stale=true` path during an ordinary test. The state and failure modes are
// plain fields the test changes between polls.

const NS = 'http://www.hikvision.com/ver20/XMLSchema';

export interface FakeDisk {
  id: string;
  name: string;
  /** XML_hdd status: ok, unformatted, error, idle, mismatch, offline, smartFailed, … */
  status: string;
  capacityMb: number;
  freeMb: number;
}

export interface FakeChannel {
  id: number;
  online: boolean;
  recording: boolean;
  videoLoss: boolean;
}

/**
 * hang: authenticated requests are never answered; garbage: non-XML/non-JSON bodies;
 * huge: 10 MB bodies; wrongTypes: values of the wrong type, a missing id and a huge string;
 * truncated: documents cut in the middle.
 */
export type FakeFailure = 'hang' | 'garbage' | 'huge' | 'wrongTypes' | 'truncated';

export interface FakeIsapiState {
  disks: FakeDisk[];
  channels: FakeChannel[];
  failure: FakeFailure | undefined;
  /** Paths (without query) that answer 404, like an older firmware. */
  missing: string[];
  /** Paths (without query) that answer this body instead: a firmware's odd but well-formed document. */
  raw: Record<string, string>;
}

export interface FakeIsapiOptions {
  username?: string;
  password?: string;
  auth?: 'digest' | 'basic';
  /** MD5, SHA-256, or one the client does not speak (SHA-512-256). */
  algorithm?: 'MD5' | 'SHA-256' | 'SHA-512-256';
  /** false: challenges without qop (RFC 2069 responses). */
  qop?: boolean;
  /** Requests a nonce serves before it is answered with stale=true. */
  nonceUses?: number;
  tls?: { key: Buffer; cert: Buffer };
  /** Drops a kept-alive connection when another request arrives on it, like a server whose idle timeout just fired. */
  resetKeptAlive?: boolean;
  state?: Partial<FakeIsapiState>;
}

export interface FakeIsapiStats {
  requests: number;
  /** 401 answers: missing, wrong or stale credentials. */
  challenged: number;
  stale: number;
  /** Requests that passed authentication. */
  authorized: number;
  /** Kept-alive connections dropped by resetKeptAlive. */
  resets: number;
}

export interface FakeIsapi {
  /** host:port for the device entry. */
  address: string;
  port: number;
  state: FakeIsapiState;
  stats: FakeIsapiStats;
  close(): Promise<void>;
}

export const healthyState = (): FakeIsapiState => ({
  disks: [
    { id: '1', name: 'hdd1', status: 'ok', capacityMb: 1907729, freeMb: 476932 },
    { id: '2', name: 'hdd2', status: 'idle', capacityMb: 953869, freeMb: 953869 },
  ],
  channels: [
    { id: 1, online: true, recording: true, videoLoss: false },
    { id: 2, online: true, recording: true, videoLoss: false },
    { id: 3, online: false, recording: false, videoLoss: true },
  ],
  failure: undefined,
  missing: [],
  raw: {},
});

const REALM = 'DS-7608NI-K2';

export async function startFakeIsapi(options: FakeIsapiOptions = {}): Promise<FakeIsapi> {
  const username = options.username ?? 'admin';
  const password = options.password ?? 'Nvr.Parola-2024';
  const algorithm = options.algorithm ?? 'MD5';
  const qop = options.qop ?? true;
  const nonceUses = options.nonceUses ?? 5;
  const state: FakeIsapiState = { ...healthyState(), ...options.state };
  const stats: FakeIsapiStats = { requests: 0, challenged: 0, stale: 0, authorized: 0, resets: 0 };
  const served = new WeakSet<Socket>();
  /** Live nonces: how often each was used and the highest nc seen (a replayed nc is refused). */
  const nonces = new Map<string, { uses: number; lastNc: number }>();
  const opaque = randomBytes(8).toString('hex');

  const challenge = (res: ServerResponse, stale: boolean) => {
    stats.challenged++;
    if (stale) stats.stale++;
    if (options.auth === 'basic') res.setHeader('WWW-Authenticate', `Basic realm="${REALM}"`);
    else {
      const nonce = randomBytes(16).toString('hex');
      nonces.set(nonce, { uses: 0, lastNc: 0 });
      // Hikvision writes stale quoted and in capitals.
      res.setHeader('WWW-Authenticate', `Digest ${qop ? 'qop="auth", ' : ''}realm="${REALM}", nonce="${nonce}", opaque="${opaque}", algorithm=${algorithm}, stale="${stale ? 'TRUE' : 'FALSE'}"`);
    }
    res.writeHead(401, { 'content-type': 'application/xml' }).end(responseStatus('Unauthorized', 'unauthorized'));
  };

  /** 'ok', or why not: 'stale' when the hash is right but the nonce is used up. */
  const authenticate = (req: IncomingMessage): 'ok' | 'stale' | 'refused' => {
    const header = req.headers.authorization ?? '';
    if (options.auth === 'basic') {
      const expected = Buffer.from(`Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`);
      return header.length === expected.length && timingSafeEqual(Buffer.from(header), expected) ? 'ok' : 'refused';
    }
    if (!header.startsWith('Digest ')) return 'refused';
    const p = Object.fromEntries([...header.slice(7).matchAll(/([a-z]+)=(?:"([^"]*)"|([^,\s]*))/g)].map((m) => [m[1]!, m[2] ?? m[3] ?? '']));
    const known = nonces.get(p.nonce ?? '');
    if (!known || p.username !== username || p.realm !== REALM || p.uri !== req.url || (p.algorithm ?? 'MD5') !== algorithm || p.opaque !== opaque) return 'refused';
    const h = (s: string) => createHash({ 'MD5': 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512-256' }[algorithm]).update(s).digest('hex');
    const ha1 = h(`${username}:${REALM}:${password}`);
    const ha2 = h(`${req.method}:${p.uri}`);
    let expected: string;
    if (qop) {
      const nc = Number.parseInt(p.nc ?? '', 16);
      if (p.qop !== 'auth' || !p.cnonce || !/^[0-9a-f]{8}$/.test(p.nc ?? '') || nc <= known.lastNc) return 'refused';
      expected = h(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:auth:${ha2}`);
      known.lastNc = nc;
    } else {
      if (p.qop !== undefined) return 'refused';
      expected = h(`${ha1}:${p.nonce}:${ha2}`);
    }
    const given = Buffer.from(p.response ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, Buffer.from(expected))) return 'refused';
    if (++known.uses > nonceUses) {
      nonces.delete(p.nonce!);
      return 'stale';
    }
    return 'ok';
  };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    stats.requests++;
    if (options.resetKeptAlive && served.has(req.socket)) {
      stats.resets++;
      req.socket.destroy();
      return;
    }
    served.add(req.socket);
    const verdict = authenticate(req);
    if (verdict !== 'ok') return challenge(res, verdict === 'stale');
    stats.authorized++;
    const path = (req.url ?? '').split('?')[0]!;
    const document = documents(state)[path];
    if (!document || state.missing.includes(path) || req.method !== 'GET') {
      res.writeHead(404, { 'content-type': 'application/xml' }).end(responseStatus('Invalid Operation', 'notSupport'));
      return;
    }
    switch (state.failure) {
      case 'hang':
        return; // the socket stays open until the client gives up or the server closes
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/xml' }).end('\u0000\u0001 GIF89a not a document }{ <<');
        return;
      case 'huge':
        return sendHuge(res, path.startsWith('/ISAPI/System'));
      case 'truncated': {
        const body = document.body(state);
        res.writeHead(200, { 'content-type': document.type }).end(body.slice(0, Math.floor(body.length / 2)));
        return;
      }
      default:
        res.writeHead(200, { 'content-type': document.type }).end(state.raw[path] ?? document.body(state));
    }
  };

  const server: Server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handler) : createHttpServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('fake ISAPI server has no port');
  return {
    address: `127.0.0.1:${address.port}`,
    port: address.port,
    state,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface IsapiDocument {
  type: string;
  body: (state: FakeIsapiState) => string;
}

function documents(state: FakeIsapiState): Record<string, IsapiDocument> {
  const wrong = state.failure === 'wrongTypes';
  return {
    '/ISAPI/ContentMgmt/Storage': { type: 'application/xml', body: () => storageXml(state.disks, wrong) },
    '/ISAPI/ContentMgmt/InputProxy/channels/status': { type: 'application/xml', body: () => channelStatusXml(state.channels, wrong) },
    '/ISAPI/System/workingstatus': { type: 'application/json', body: () => workingStatusJson(state, wrong) },
  };
}

const esc = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** wrongTypes: the first disk's capacity is "abc" and the second's status is a 300-character string. */
function storageXml(disks: FakeDisk[], wrong: boolean): string {
  const hdds = disks.map(
    (d, i) => `<hdd version="2.0" xmlns="${NS}">
<id>${esc(d.id)}</id>
<hddName>${esc(d.name)}</hddName>
<hddPath></hddPath>
<hddType>SATA</hddType>
<status>${wrong && i === 1 ? 'x'.repeat(300) : esc(d.status)}</status>
<capacity>${wrong && i === 0 ? 'abc' : d.capacityMb}</capacity>
<freeSpace>${d.freeMb}</freeSpace>
<property>RW</property>
</hdd>`,
  );
  return `<?xml version="1.0" encoding="UTF-8"?>
<storage version="2.0" xmlns="${NS}">
<hddList version="2.0" xmlns="${NS}">
${hdds.join('\n')}
</hddList>
<nasList version="2.0" xmlns="${NS}"></nasList>
</storage>
`;
}

/** wrongTypes: the first channel's online is "maybe", the second has no id. */
function channelStatusXml(channels: FakeChannel[], wrong: boolean): string {
  const items = channels.map(
    (c, i) => `<InputProxyChannelStatus version="1.0" xmlns="${NS}">
${wrong && i === 1 ? '' : `<id>${c.id}</id>`}
<sourceInputPortDescriptor><proxyProtocol>HIKVISION</proxyProtocol><addressingFormatType>ipaddress</addressingFormatType><ipAddress>192.168.254.${c.id + 1}</ipAddress><managePortNo>8000</managePortNo><srcInputPort>1</srcInputPort></sourceInputPortDescriptor>
<online>${wrong && i === 0 ? 'maybe' : c.online}</online>
<streamingProxyChannelIdList><streamingProxyChannelId>${c.id}01</streamingProxyChannelId></streamingProxyChannelIdList>
<chanDetectResult>${c.online ? 'connect' : 'netUnreachable'}</chanDetectResult>
</InputProxyChannelStatus>`,
  );
  return `<?xml version="1.0" encoding="UTF-8"?>
<InputProxyChannelStatusList version="1.0" xmlns="${NS}">
${items.join('\n')}
</InputProxyChannelStatusList>
`;
}

/** wrongTypes: the first channel's record is "yes". */
function workingStatusJson(state: FakeIsapiState, wrong: boolean): string {
  return JSON.stringify(
    {
      WorkingStatus: {
        devStatus: 0,
        ChanStatus: state.channels.map((c, i) => ({
          chanNo: c.id,
          enable: 1,
          online: c.online ? 1 : 0,
          record: wrong && i === 0 ? 'yes' : c.recording ? 1 : 0,
          recordStatus: c.recording ? 0 : 2,
          signal: c.videoLoss ? 1 : 0,
          linkNum: 1,
          bitRate: c.online ? 4096 : 0,
        })),
        HDStatus: state.disks.map((d, i) => ({ hdNo: i + 1, status: d.status === 'ok' ? 0 : 2, volume: d.capacityMb, freeSpace: d.freeMb })),
      },
    },
    null,
    2,
  );
}

/** The ResponseStatus body Hikvision sends with errors (statusCode 4: invalid operation). */
function responseStatus(statusString: string, subStatusCode: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<ResponseStatus version="1.0" xmlns="${NS}"><requestURL></requestURL><statusCode>4</statusCode><statusString>${statusString}</statusString><subStatusCode>${subStatusCode}</subStatusCode></ResponseStatus>
`;
}

const HUGE_BYTES = 10 * 1024 * 1024;

/** 10 MB, streamed; with a Content-Length header or chunked so both of the client's checks are met. */
function sendHuge(res: ServerResponse, declareLength: boolean): void {
  res.writeHead(200, { 'content-type': 'application/xml', ...(declareLength ? { 'content-length': String(HUGE_BYTES) } : {}) });
  const chunk = Buffer.alloc(64 * 1024, '<hdd><id>1</id></hdd>');
  let sent = 0;
  const pump = () => {
    while (sent < HUGE_BYTES && !res.destroyed) {
      sent += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    if (!res.destroyed) res.end();
  };
  res.on('close', () => res.removeAllListeners('drain'));
  pump();
}
