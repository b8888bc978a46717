import { createHash } from 'node:crypto';
import smpp, { type PDU, type Session } from 'smpp';
import { z } from 'zod';
import type { Logger } from '../../../src/log.ts';
import { PermanentDeliveryError, type ChannelFactory, type DeliveryReceipt, type NotificationChannel } from './channel.ts';
import { encodeUserData, fitSms, splitSms, userDataHeader } from './sms-encoding.ts';
import { formatTurkishMobile, maxSegmentsSchema, timeoutMsSchema } from './sms-http.ts';

// SMS over SMPP 3.4 to an operator's SMSC with the `smpp` package: one bind_transceiver
// session, opened on the first message and kept with enquire_link; a session that drops or stops
// answering is thrown away and the next message binds again. A refused bind (wrong system id
// or password) is permanent, the SMSC being away is not.
//
// Text: data_coding 0 (the SMSC default alphabet, GSM 7-bit one septet per octet) when the
// text fits the GSM alphabet, else 0x08 UCS-2. Turkish letters outside GSM (ç ğ ı ş İ Ğ Ş) go
// as UCS-2 unless `nationalLanguageShift` is on: then the text stays 7-bit with the Turkish
// single shift table, announced by the national language single shift IE (0x24, language 1) in
// every part's UDH. That is cheaper (149 characters a part instead of 67) but only right if the
// SMSC passes the UDH and the septets through untouched, which is SMSC configuration we cannot
// see from here, so it is opt-in; UCS-2 always reads right. Long texts go as concatenated parts
// (UDH IE 0x00, esm_class 0x40) rather than message_payload, which many SMSCs do not take.

export const smppConfigSchema = z
  .strictObject({
    url: z.string().regex(/^s?smpp:\/\/[A-Za-z0-9.-]+(:\d{1,5})?\/?$/, 'expected smpp://host:port or ssmpp://host:port'),
    systemId: z.string().min(1).max(15),
    /** SMPP 3.4 §4.1.1: at most 8 characters. */
    password: z.string().min(1).max(8),
    systemType: z.string().max(12).default(''),
    /** source_addr: an alphanumeric sender name (at most 11) or a number. */
    sender: z.string().min(1).max(20),
    /** Defaults: 5/0 (alphanumeric) for a name, 1/1 (international, ISDN) for digits. */
    sourceAddrTon: z.number().int().min(0).max(6).optional(),
    sourceAddrNpi: z.number().int().min(0).max(18).optional(),
    /** destination_addr as 905XXXXXXXXX (TON 1) or 5XXXXXXXXX (TON 2), NPI 1. */
    phoneFormat: z.enum(['international', 'national']).default('international'),
    nationalLanguageShift: z.boolean().default(false),
    enquireLinkMs: z.number().int().min(1_000).max(600_000).default(30_000),
    /** For the bind and for each answer. */
    timeoutMs: timeoutMsSchema,
    maxSegments: maxSegmentsSchema,
  })
  .refine((c) => /^\+?\d+$/.test(c.sender) || c.sender.length <= 11, { path: ['sender'], message: 'an alphanumeric sender has at most 11 characters' });
export type SmppConfig = z.infer<typeof smppConfigSchema>;

/** SMPP 3.4 §5.1.3 command_status values after which the same message cannot succeed. */
const PERMANENT_STATUS: Record<number, string> = {
  0x01: 'invalid message length',
  0x0a: 'invalid source address',
  0x0b: 'invalid destination address',
  0x0d: 'bind failed',
  0x0e: 'invalid password',
  0x0f: 'invalid system id',
  0x43: 'invalid esm_class',
  0x48: 'invalid source address TON',
  0x49: 'invalid source address NPI',
  0x50: 'invalid destination address TON',
  0x51: 'invalid destination address NPI',
  0x65: 'permanent application error',
  0x66: 'rejected by the SMSC',
  0x104: 'invalid data_coding',
};
const BIND_CREDENTIAL_STATUS = new Set([0x0d, 0x0e, 0x0f]);

const hex = (status: number) => `0x${status.toString(16).padStart(8, '0')}`;

interface Link {
  session: Session;
  /** Rejecters of requests waiting for an answer, failed when the session goes. */
  waiting: Set<(error: Error) => void>;
  keepAlive?: NodeJS.Timeout;
}

export function smppChannel(name: string, config: SmppConfig, log: Logger): NotificationChannel {
  const host = new URL(config.url).host;
  const numericSender = /^\+?\d+$/.test(config.sender);
  const sourceTon = config.sourceAddrTon ?? (numericSender ? 1 : 5);
  const sourceNpi = config.sourceAddrNpi ?? (numericSender ? 1 : 0);
  const planOptions = { allowTurkishShift: config.nationalLanguageShift };
  let link: Promise<Link> | undefined;
  let closed = false;

  /** Sends a request on the link; no answer in time means the session is broken, so it is dropped. */
  function call(current: Link, command: 'submit_sm' | 'enquire_link' | 'unbind', params: Record<string, unknown>, signal?: AbortSignal): Promise<PDU> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        finish(new Error(`${name}: no ${command} answer from ${host} within ${config.timeoutMs} ms`));
        current.session.destroy();
      }, config.timeoutMs);
      const onAbort = () => finish(new Error(`${name}: sending was cancelled`));
      function finish(error: Error | undefined, pdu?: PDU) {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        current.waiting.delete(finish);
        if (error) reject(error);
        else resolve(pdu!);
      }
      current.waiting.add(finish);
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      if (!current.session[command](params, (pdu) => finish(undefined, pdu))) finish(new Error(`${name}: the SMPP connection to ${host} is not open`));
    });
  }

  /** Connects and binds; `onLost` runs when the session closes, whenever that is. */
  function bind(onLost: () => void): Promise<Link> {
    return new Promise((resolve, reject) => {
      const session = smpp.connect({ url: config.url });
      const current: Link = { session, waiting: new Set() };
      let bound = false;
      const fail = (error: Error) => {
        clearTimeout(timer);
        reject(error);
        session.destroy();
      };
      const timer = setTimeout(() => fail(new Error(`${name}: no bind answer from ${host} within ${config.timeoutMs} ms`)), config.timeoutMs);
      session.on('error', (error: NodeJS.ErrnoException) => {
        if (!bound) fail(new Error(`${name}: cannot connect to ${host} (${error.code ?? error.message})`));
        else log.log('warn', 'SMPP session error', { channel: name, host, error: error.code ?? error.message });
      });
      session.on('close', () => {
        clearTimeout(timer);
        clearInterval(current.keepAlive);
        if (!bound) reject(new Error(`${name}: ${host} closed the connection before answering the bind`));
        for (const finish of current.waiting) finish(new Error(`${name}: the SMPP connection to ${host} was lost`));
        if (bound && !closed) log.log('warn', 'SMPP session closed; the next message binds again', { channel: name, host });
        onLost();
      });
      session.on(config.url.startsWith('ssmpp:') ? 'secureConnect' : 'connect', () => {
        session.bind_transceiver({ system_id: config.systemId, password: config.password, system_type: config.systemType, interface_version: 0x34 }, (pdu) => {
          if (pdu.command_status !== 0) {
            const status = pdu.command_status;
            const why = `${PERMANENT_STATUS[status] ?? 'bind refused'}, status ${hex(status)}`;
            return fail(BIND_CREDENTIAL_STATUS.has(status) ? new PermanentDeliveryError(`${name}: ${host} refused the bind as ${config.systemId} (${why}): check system id and password`) : new Error(`${name}: ${host} refused the bind (${why})`));
          }
          clearTimeout(timer);
          bound = true;
          current.keepAlive = setInterval(() => void call(current, 'enquire_link', {}).catch(() => {}), config.enquireLinkMs).unref();
          resolve(current);
        });
      });
      // What an SMSC may ask of a transceiver: answer so it does not drop us.
      session.on('enquire_link', (pdu: PDU) => session.send(pdu.response()));
      session.on('deliver_sm', (pdu: PDU) => session.send(pdu.response()));
      session.on('unbind', (pdu: PDU) => {
        session.send(pdu.response());
        session.close();
      });
    });
  }

  function open(): Promise<Link> {
    if (!link) {
      const forget = () => {
        if (link === attempt) link = undefined;
      };
      const attempt = bind(forget);
      link = attempt;
      attempt.catch(forget);
    }
    return link;
  }

  /** Waits for `promise` only as long as the caller wants; the bind itself goes on and serves the next message. */
  function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(new Error(`${name}: sending was cancelled`));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  return {
    name,
    addressKind: 'phone',
    async send(recipient, message, signal): Promise<DeliveryReceipt> {
      if (closed) throw new Error(`${name}: the channel is closed`);
      const to = formatTurkishMobile(recipient.address, config.phoneFormat);
      if (!to) throw new PermanentDeliveryError(`${name}: the phone number of ${recipient.name} is not a Turkish mobile number (5XXXXXXXXX)`);
      const { plan, parts } = splitSms(fitSms(message.short, config.maxSegments, planOptions), planOptions);
      const current = await abortable(open(), signal);
      // Derived from the notification id, so a retry reuses the reference and a phone can merge duplicate parts.
      const ref = createHash('sha256').update(message.id).digest()[0]!;
      const ids: string[] = [];
      for (const [index, part] of parts.entries()) {
        const udh = userDataHeader(plan.encoding, parts.length > 1 ? { ref, total: parts.length, seq: index + 1 } : undefined);
        const answer = await call(
          current,
          'submit_sm',
          {
            source_addr_ton: sourceTon,
            source_addr_npi: sourceNpi,
            source_addr: config.sender,
            dest_addr_ton: config.phoneFormat === 'international' ? 1 : 2,
            dest_addr_npi: 1,
            destination_addr: to,
            esm_class: udh.length > 0 ? 0x40 : 0x00,
            data_coding: plan.encoding === 'ucs2' ? 0x08 : 0x00,
            short_message: Buffer.concat([udh, encodeUserData(part, plan.encoding)]),
          },
          signal,
        );
        const status = answer.command_status;
        if (status !== 0) {
          const progress = index > 0 ? ` after ${index} of ${parts.length} parts were accepted` : '';
          const why = `${PERMANENT_STATUS[status] ?? 'submit_sm refused'}, status ${hex(status)}${progress}`;
          if (PERMANENT_STATUS[status]) throw new PermanentDeliveryError(`${name}: ${host} refused the message to ${recipient.name} (${why})`);
          // ESME_RINVBNDSTS: the SMSC no longer sees us bound; start over with a new session.
          if (status === 0x04) current.session.destroy();
          throw new Error(`${name}: ${host} did not take the message (${why})`);
        }
        if (typeof answer['message_id'] === 'string' && answer['message_id'] !== '') ids.push(answer['message_id']);
      }
      return { providerId: ids.length > 0 ? ids.join(',') : undefined, segments: parts.length };
    },
    async close() {
      closed = true;
      const pending = link;
      link = undefined;
      const current = await pending?.catch(() => undefined);
      if (!current) return;
      clearInterval(current.keepAlive);
      await call(current, 'unbind', {}).catch(() => {});
      current.session.destroy();
    },
  };
}

export const smsSmppChannel: ChannelFactory<SmppConfig> = {
  type: 'sms-smpp',
  addressKind: 'phone',
  schema: smppConfigSchema,
  create: smppChannel,
};
