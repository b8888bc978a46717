import { z } from 'zod';
import { PermanentDeliveryError, type ChannelFactory } from './channel.ts';
import { httpSmsChannel, httpUrlSchema, maxSegmentsSchema, parseJson, phoneFormatSchema, timeoutMsSchema, type SmsGateway } from './sms-http.ts';

// İleti Merkezi through its JSON API:
//   POST https://api.iletimerkezi.com/v1/send-sms/json, Content-Type application/json,
//   {"request": {"authentication": {"key", "hash"}, "order": {"sender", "iys", "message":
//   {"text", "receipents": {"number": [...]}}}}} ("receipents" is their spelling);
//   answer {"response": {"status": {"code", "message"}, "order": {"id"}}}, the HTTP status
//   mirroring status.code (200 "İşlem başarılı", errors 4xx/5xx with only "status").
// The hash is issued by the panel next to the API key and passed through unchanged. Alerts are
// transactional, so "iys" is "0" (no İYS consent check; "1" is for commercial messages).
// Numbers may be 5XXXXXXXXX, 905XXXXXXXXX or +905XXXXXXXXX.
// Sources: iletimerkezi.com/en/docs/api/send-sms, /en/docs/api/authentication and
// /en/docs/api/error-codes (also toplusmsapi.com/en/sms/send/json and /durum-kodlari-ve-mesajlar).

export const iletiMerkeziConfigSchema = z.strictObject({
  apiKey: z.string().min(1).max(256),
  /** The "API Hash" from the panel; named so the logger redacts it. */
  secretHash: z.string().min(1).max(256),
  /** Approved sender title: at most 11 characters, no Turkish letters (their code 460). */
  sender: z.string().regex(/^[\x20-\x7e]{1,11}$/, 'expected at most 11 characters without Turkish letters'),
  url: httpUrlSchema.default('https://api.iletimerkezi.com/v1/send-sms/json'),
  phoneFormat: phoneFormatSchema.default('national'),
  /** Whether Turkish letters go out with the Turkish single shift table; only changes the part count we plan for. */
  turkishShift: z.boolean().default(true),
  timeoutMs: timeoutMsSchema,
  maxSegments: maxSegmentsSchema,
});
export type IletiMerkeziConfig = z.infer<typeof iletiMerkeziConfigSchema>;

/**
 * Their status codes for send-sms. 402 (no balance) is retried rather than dropped: topping the
 * account up fixes it without touching the message, and meanwhile the failing channel raises its
 * own alert elsewhere. 451 (duplicate order) is final: the same order again gets the same answer.
 */
const CODES: Record<number, { meaning: string; permanent: boolean }> = {
  400: { meaning: 'the request could not be parsed', permanent: true },
  401: { meaning: 'wrong API key or hash, or API access is off in the panel', permanent: true },
  402: { meaning: 'insufficient balance', permanent: false },
  404: { meaning: 'the API has no such method (check the url)', permanent: true },
  422: { meaning: 'values in the request could not be validated', permanent: true },
  450: { meaning: 'the sender title cannot be used', permanent: true },
  451: { meaning: 'duplicate order', permanent: true },
  452: { meaning: 'the recipients are invalid', permanent: true },
  453: { meaning: 'the order is too large', permanent: true },
  454: { meaning: 'the message text is empty', permanent: true },
  459: { meaning: 'the sender title is empty', permanent: true },
  460: { meaning: 'the sender title is longer than 11 characters or has Turkish letters', permanent: true },
  466: { meaning: 'invalid number', permanent: true },
  468: { meaning: 'the İYS setting is missing', permanent: true },
  469: { meaning: 'the İYS list is missing', permanent: true },
  470: { meaning: 'the İYS code is not set', permanent: true },
  503: { meaning: 'the service is temporarily unavailable', permanent: false },
};

function iletiMerkeziGateway(name: string, config: IletiMerkeziConfig): SmsGateway {
  return {
    request(to, text) {
      const body = {
        request: {
          authentication: { key: config.apiKey, hash: config.secretHash },
          order: { sender: config.sender, iys: '0', message: { text, receipents: { number: [to] } } },
        },
      };
      return { method: 'POST', url: config.url, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
    },
    accept({ status, body }, describe) {
      const response = parseJson(body)?.['response'] as { status?: { code?: unknown }; order?: { id?: unknown } } | undefined;
      // The code comes as a number in the current documentation and as a string in older examples;
      // without one, the HTTP status mirrors it (but a bare 200 is no proof the order was taken).
      const reported = response?.status?.code;
      const code = reported === undefined ? status : Number(reported);
      if (code === 200) {
        if (reported === undefined) throw new Error(`${name}: unexpected İleti Merkezi answer (HTTP ${status}): ${describe(body)}`);
        const id = response?.order?.id;
        return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
      }
      const known = CODES[code];
      if (known?.permanent) throw new PermanentDeliveryError(`${name}: İleti Merkezi refused the message, code ${code}: ${known.meaning}`);
      if (known) throw new Error(`${name}: İleti Merkezi code ${code}: ${known.meaning}`);
      if (code >= 400 && code < 500) throw new PermanentDeliveryError(`${name}: İleti Merkezi refused the message, code ${code}: ${describe(body)}`);
      throw new Error(`${name}: unexpected İleti Merkezi answer (HTTP ${status}): ${describe(body)}`);
    },
  };
}

export const smsIletiMerkeziChannel: ChannelFactory<IletiMerkeziConfig> = {
  type: 'sms-iletimerkezi',
  addressKind: 'phone',
  schema: iletiMerkeziConfigSchema,
  create(name, config, log) {
    const settings = { ...config, secrets: [config.apiKey, config.secretHash] };
    return httpSmsChannel(name, settings, iletiMerkeziGateway(name, config), log);
  },
};
