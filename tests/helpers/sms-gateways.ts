import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import smpp, { type PDU, type Session } from 'smpp';

// Stand-ins for the SMS providers on loopback. The real Netgsm and İleti Merkezi APIs and an
// operator SMSC cannot be reached from here, so these follow the providers' public
// documentation instead (cited in collector/alerts/channels/sms-netgsm.ts and
// sms-iletimerkezi.ts): they accept only requests in the documented shape (path, method,
// authentication, fields, number format, encoding) and refuse anything else with the
// provider's documented error code, and they record what a phone would receive.
// `failNext` makes the next request meet a provider-side condition a request cannot cause
// (rate limit, system error, no balance).

interface HttpAnswer {
  status: number;
  body: string;
}

type Handler = (request: { method: string; path: string; headers: IncomingHttpHeaders; body: string }) => HttpAnswer;

async function listen(handler: Handler): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const answer = handler({ method: req.method ?? '', path: new URL(req.url ?? '/', 'http://x').pathname, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(answer.status, { 'content-type': answer.body.startsWith('{') ? 'application/json;charset=UTF-8' : 'text/plain' }).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, server };
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function asObject(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

export interface FakeGateway<Delivery, Failure> {
  /** Base URL; the send endpoint is under the provider's documented path. */
  url: string;
  delivered: Delivery[];
  /** Requests that reached the send endpoint, accepted or not. */
  requests: number;
  failNext(failure: Failure): void;
  close(): Promise<void>;
}

// ---- Netgsm REST v2: POST /sms/rest/v2/send ---------------------------------------------------

export interface NetgsmAccount {
  username: string;
  password: string;
  /** Approved sender names (msgheader). */
  headers: string[];
}

export interface NetgsmDelivery {
  jobid: string;
  no: string;
  msgheader: string;
  encoding: string | undefined;
  msg: string;
  /** The text on the phone: without encoding "TR" Netgsm sends Turkish letters as their Latin base letters. */
  shown: string;
}

const NETGSM_DESCRIPTIONS: Record<string, string> = {
  '20': 'Mesaj metninde sorun var veya standart maksimum karakter sayısı aşıldı',
  '30': 'Geçersiz kullanıcı adı, şifre veya API erişim izniniz yok',
  '40': 'Mesaj başlığınız (gönderici adı) sistemde tanımlı değil',
  '70': 'Hatalı sorgulama. Parametrelerden biri hatalı veya zorunlu alan eksik',
  '80': 'Gönderim sınır aşımı',
  '100': 'Sistem hatası',
};

const WITHOUT_TURKISH: Record<string, string> = { 'ç': 'c', 'ğ': 'g', 'ı': 'i', 'ş': 's', 'Ğ': 'G', 'İ': 'I', 'Ş': 'S' };

export async function startFakeNetgsm(account: NetgsmAccount): Promise<FakeGateway<NetgsmDelivery, { code: string; status?: number }>> {
  const delivered: NetgsmDelivery[] = [];
  let requests = 0;
  let forced: { code: string; status?: number } | undefined;
  let nextJob = 17_000_000_000;
  const expectedAuth = `Basic ${Buffer.from(`${account.username}:${account.password}`).toString('base64')}`;
  const refuse = (code: string, status = 406): HttpAnswer => ({ status, body: JSON.stringify({ code, jobid: null, description: NETGSM_DESCRIPTIONS[code] ?? 'Hata' }) });

  const { url, server } = await listen(({ method, path, headers, body }) => {
    if (path !== '/sms/rest/v2/send') return { status: 404, body: 'Not Found' };
    if (method !== 'POST') return { status: 405, body: 'Method Not Allowed' };
    requests++;
    if (forced) {
      const failure = forced;
      forced = undefined;
      return refuse(failure.code, failure.status);
    }
    if (headers.authorization !== expectedAuth) return refuse('30');
    if (!(headers['content-type'] ?? '').startsWith('application/json')) return refuse('70');
    const request = parseObject(body);
    if (!request || typeof request['msgheader'] !== 'string' || !Array.isArray(request['messages']) || request['messages'].length === 0) return refuse('70');
    const msgheader = request['msgheader'];
    if (!account.headers.includes(msgheader)) return refuse('40');
    const encoding = request['encoding'];
    if (encoding !== undefined && (typeof encoding !== 'string' || encoding.toUpperCase() !== 'TR')) return refuse('70');
    const messages = request['messages'].map(asObject);
    for (const m of messages) {
      if (typeof m['msg'] !== 'string' || m['msg'] === '') return refuse('20');
      if (typeof m['no'] !== 'string' || !/^[0-9]{10}$/.test(m['no'])) return refuse('70');
    }
    const jobid = String(nextJob++);
    for (const m of messages) {
      const msg = m['msg'] as string;
      const shown = encoding === undefined ? [...msg].map((ch) => WITHOUT_TURKISH[ch] ?? ch).join('') : msg;
      delivered.push({ jobid, no: m['no'] as string, msgheader, encoding, msg, shown });
    }
    return { status: 200, body: JSON.stringify({ code: '00', jobid, description: 'queued' }) };
  });
  return {
    url,
    delivered,
    get requests() {
      return requests;
    },
    failNext(failure) {
      forced = failure;
    },
    close: () => closeServer(server),
  };
}

// ---- İleti Merkezi: POST /v1/send-sms/json --------------------------------------------------

export interface IletiMerkeziAccount {
  key: string;
  hash: string;
  senders: string[];
}

export interface IletiMerkeziDelivery {
  orderId: string;
  number: string;
  sender: string;
  iys: string;
  text: string;
}

const ILETI_MESSAGES: Record<number, string> = {
  200: 'İşlem başarılı',
  400: 'İstek çözümlenemedi',
  401: 'Üyelik bilgileri hatalı',
  402: 'Bakiye yetersiz',
  404: 'API istek yapılan yönteme sahip değil',
  450: 'Gönderilen başlık kullanıma uygun değil',
  452: 'Mesaj alıcıları hatalı',
  454: 'Mesaj metni boş',
  459: 'Başlık kısmı boş olamaz',
  468: 'IYS üzerinden sorgulama yapılıp, yapılmayacağını ayarlamalısınız.',
  469: 'IYS listenizi seçmelisiniz, BIREYSEL veya TACIR.',
  503: 'Sunucu geçici olarak hizmet veremiyor',
};

export async function startFakeIletiMerkezi(account: IletiMerkeziAccount): Promise<FakeGateway<IletiMerkeziDelivery, number>> {
  const delivered: IletiMerkeziDelivery[] = [];
  let requests = 0;
  let forced: number | undefined;
  let nextOrder = 9_100_000;
  // Errors carry only the status; the HTTP status mirrors the code.
  const refuse = (code: number): HttpAnswer => ({ status: code, body: JSON.stringify({ response: { status: { code, message: ILETI_MESSAGES[code] ?? 'Hata' } } }) });

  const { url, server } = await listen(({ method, path, body }) => {
    if (path !== '/v1/send-sms/json') return refuse(404);
    requests++;
    if (method !== 'POST') return refuse(404);
    if (forced !== undefined) {
      const code = forced;
      forced = undefined;
      return refuse(code);
    }
    const request = asObject(parseObject(body)?.['request']);
    if (Object.keys(request).length === 0) return refuse(400);
    const auth = asObject(request['authentication']);
    if (auth['key'] !== account.key || auth['hash'] !== account.hash) return refuse(401);
    const order = asObject(request['order']);
    const sender = order['sender'];
    if (typeof sender !== 'string' || sender === '') return refuse(459);
    if (!account.senders.includes(sender)) return refuse(450);
    const iys = order['iys'];
    if (iys !== '0' && iys !== '1') return refuse(468);
    if (iys === '1' && order['iysList'] !== 'BIREYSEL' && order['iysList'] !== 'TACIR') return refuse(469);
    const message = asObject(order['message']);
    const text = message['text'];
    if (typeof text !== 'string' || text === '') return refuse(454);
    const numbers = asObject(message['receipents'])['number'];
    if (!Array.isArray(numbers) || numbers.length === 0 || !numbers.every((n) => typeof n === 'string' && /^(\+?90)?5\d{9}$/.test(n))) return refuse(452);
    const orderId = String(nextOrder++);
    for (const number of numbers as string[]) delivered.push({ orderId, number, sender, iys, text });
    return { status: 200, body: JSON.stringify({ response: { status: { code: 200, message: ILETI_MESSAGES[200] }, order: { id: orderId } } }) };
  });
  return {
    url,
    delivered,
    get requests() {
      return requests;
    },
    failNext(code) {
      forced = code;
    },
    close: () => closeServer(server),
  };
}

// ---- an SMSC speaking SMPP 3.4 ----------------------------------------------------------------

export interface SmscAccount {
  systemId: string;
  password: string;
}

export interface SubmittedPart {
  sourceAddr: string;
  sourceTon: number;
  destinationAddr: string;
  destinationTon: number;
  dataCoding: number;
  esmClass: number;
  /** Information elements of the UDH, each [IEI, length, data...]. */
  udh: Buffer[];
  concat: { ref: number; total: number; seq: number } | undefined;
  turkishShift: boolean;
  /** Decoded by the smpp package itself, an implementation independent of the channel's encoder. */
  text: string;
}

export interface SmscMessage {
  from: string;
  to: string;
  text: string;
  parts: number;
  dataCoding: number;
  turkishShift: boolean;
}

export interface FakeSmsc {
  url: string;
  parts: SubmittedPart[];
  /** Whole messages, concatenated parts put back together. */
  messages: SmscMessage[];
  binds: number;
  enquireLinks: number;
  unbinds: number;
  /** Answers the next submit_sm with this command_status. */
  failNext(status: number): void;
  /** Drops every session, as a network cut or an SMSC restart would. */
  dropSessions(): void;
  close(): Promise<void>;
}

// The smpp package reads a text under the Turkish shift IE against a combined table that
// takes the Turkish locking table's letters for è ì Ø ø Æ æ ¡ ¿; test texts avoid those.
export async function startFakeSmsc(account: SmscAccount): Promise<FakeSmsc> {
  const parts: SubmittedPart[] = [];
  const messages: SmscMessage[] = [];
  const incomplete = new Map<string, SubmittedPart[]>();
  let binds = 0;
  let enquireLinks = 0;
  let unbinds = 0;
  let forced: number | undefined;
  let nextId = 1;

  function record(part: SubmittedPart) {
    parts.push(part);
    const whole = (pieces: SubmittedPart[]) =>
      messages.push({ from: part.sourceAddr, to: part.destinationAddr, text: pieces.map((p) => p.text).join(''), parts: pieces.length, dataCoding: part.dataCoding, turkishShift: part.turkishShift });
    if (!part.concat) return whole([part]);
    const key = `${part.sourceAddr}|${part.destinationAddr}|${part.concat.ref}`;
    const pieces = (incomplete.get(key) ?? []).filter((p) => p.concat!.seq !== part.concat!.seq).concat(part);
    if (pieces.length < part.concat.total) return void incomplete.set(key, pieces);
    incomplete.delete(key);
    whole(pieces.sort((a, b) => a.concat!.seq - b.concat!.seq));
  }

  function submit(session: Session, pdu: PDU, bound: boolean) {
    const answer = (command_status: number, message_id = '') => session.send(pdu.response(command_status === 0 ? { message_id } : { command_status }));
    if (!bound) return answer(0x04);
    if (forced !== undefined) {
      const status = forced;
      forced = undefined;
      return answer(status);
    }
    const destinationTon = pdu['dest_addr_ton'] as number;
    const destination = pdu['destination_addr'] as string;
    const validDestination = (destinationTon === 1 && /^905\d{9}$/.test(destination)) || (destinationTon === 2 && /^5\d{9}$/.test(destination));
    if (!validDestination || pdu['dest_addr_npi'] !== 1) return answer(0x0b);
    const dataCoding = pdu['data_coding'] as number;
    if (dataCoding !== 0x00 && dataCoding !== 0x08) return answer(0x104);
    const esmClass = pdu['esm_class'] as number;
    const message = pdu['short_message'] as { udh?: Buffer[]; message: string };
    const udh = message.udh ?? [];
    if ((esmClass & 0x40) === 0 && udh.length > 0) return answer(0x43);
    const concatIe = udh.find((ie) => ie[0] === 0x00 && ie[1] === 3);
    record({
      sourceAddr: pdu['source_addr'] as string,
      sourceTon: pdu['source_addr_ton'] as number,
      destinationAddr: destination,
      destinationTon,
      dataCoding,
      esmClass,
      udh,
      concat: concatIe ? { ref: concatIe[2]!, total: concatIe[3]!, seq: concatIe[4]! } : undefined,
      turkishShift: udh.some((ie) => ie[0] === 0x24 && ie[2] === 0x01),
      text: message.message,
    });
    answer(0, `m${nextId++}`);
  }

  const server = smpp.createServer((session) => {
    let bound = false;
    session.on('error', () => {});
    session.on('bind_transceiver', (pdu: PDU) => {
      binds++;
      const status = pdu['system_id'] !== account.systemId ? 0x0f : pdu['password'] !== account.password ? 0x0e : 0;
      if (status !== 0) {
        session.send(pdu.response({ command_status: status }));
        return session.close();
      }
      bound = true;
      session.send(pdu.response({ system_id: 'fake-smsc' }));
    });
    session.on('enquire_link', (pdu: PDU) => {
      enquireLinks++;
      session.send(pdu.response());
    });
    session.on('unbind', (pdu: PDU) => {
      unbinds++;
      session.send(pdu.response());
      session.close();
    });
    session.on('submit_sm', (pdu: PDU) => submit(session, pdu, bound));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  return {
    url: `smpp://127.0.0.1:${port}`,
    parts,
    messages,
    get binds() {
      return binds;
    },
    get enquireLinks() {
      return enquireLinks;
    },
    get unbinds() {
      return unbinds;
    },
    failNext(status) {
      forced = status;
    },
    dropSessions() {
      for (const session of [...server.sessions]) session.destroy();
    },
    close() {
      for (const session of [...server.sessions]) session.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
