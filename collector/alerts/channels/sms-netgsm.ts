import { z } from 'zod';
import { PermanentDeliveryError, type ChannelFactory } from './channel.ts';
import { httpSmsChannel, httpUrlSchema, maxSegmentsSchema, parseJson, timeoutMsSchema, type SmsGateway } from './sms-http.ts';

// Netgsm through its REST v2 API, the one Netgsm's own SDKs use (the older /sms/send/get and
// /sms/send/xml forms are kept by Netgsm for existing integrations):
//   POST https://api.netgsm.com.tr/sms/rest/v2/send, HTTP Basic with the user code and password,
//   JSON {"msgheader", "encoding"?, "appname"?, "messages": [{"msg", "no"}]}, "no" = 10 digits (5XXXXXXXXX);
//   answer {"code", "jobid", "description"}: HTTP 200 with code "00" when queued, HTTP 406 with an error code.
// "encoding": "TR" is sent only when the text has Turkish letters outside the GSM alphabet:
// Netgsm counts and bills such a text by the Turkish table, a text without them by plain GSM.
// Sources: github.com/netgsm/netgsm-sms-js (openapi.json: /sms/rest/v2/send, basicAuth, the
// RestSendRequest schema; src/enums.ts SendSmsErrorCode; the unit tests show the 406 answers),
// github.com/netgsm/netgsm-sms-python (encoding only for Turkish text), and the "encoding" row
// of the parameter table in Netgsm's composer package README (packagist.org/packages/netgsm/sms).

export const netgsmConfigSchema = z.strictObject({
  /** Netgsm user code (the subscriber number). */
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(256),
  /** Approved sender name (msgheader), at most 11 characters. */
  sender: z.string().min(1).max(11),
  appname: z.string().min(1).max(64).optional(),
  url: httpUrlSchema.default('https://api.netgsm.com.tr/sms/rest/v2/send'),
  timeoutMs: timeoutMsSchema,
  maxSegments: maxSegmentsSchema,
});
export type NetgsmConfig = z.infer<typeof netgsmConfigSchema>;

/** SendSmsErrorCode of /sms/rest/v2/send and what a retry can do about it. */
const CODES: Record<string, { meaning: string; permanent: boolean }> = {
  '20': { meaning: 'the message text is invalid or too long', permanent: true },
  '30': { meaning: 'wrong user code or password, no API access, or this IP address is not allowed', permanent: true },
  '40': { meaning: 'the sender name (msgheader) is not defined for the account', permanent: true },
  '50': { meaning: 'the account cannot send IYS-checked messages', permanent: true },
  '51': { meaning: 'no IYS brand is defined for the account', permanent: true },
  '70': { meaning: 'a parameter is wrong or missing', permanent: true },
  '80': { meaning: 'sending rate limit exceeded', permanent: false },
  '85': { meaning: 'more than 20 messages to the same number within a minute', permanent: false },
  '100': { meaning: 'Netgsm system error', permanent: false },
  '101': { meaning: 'Netgsm system error', permanent: false },
};

function netgsmGateway(name: string, config: NetgsmConfig): SmsGateway {
  const authorization = `Basic ${Buffer.from(`${config.username}:${config.password}`).toString('base64')}`;
  return {
    request(to, text, plan) {
      const body = {
        msgheader: config.sender,
        ...(plan.encoding === 'gsm7' ? {} : { encoding: 'TR' }),
        ...(config.appname ? { appname: config.appname } : {}),
        messages: [{ msg: text, no: to }],
      };
      return { method: 'POST', url: config.url, headers: { 'authorization': authorization, 'content-type': 'application/json' }, body: JSON.stringify(body) };
    },
    accept({ status, body }, describe) {
      const answer = parseJson(body);
      const code = typeof answer?.['code'] === 'string' ? answer['code'] : undefined;
      if (code === '00' && status === 200) return typeof answer?.['jobid'] === 'string' ? answer['jobid'] : undefined;
      const known = code === undefined ? undefined : CODES[code];
      if (known?.permanent) throw new PermanentDeliveryError(`${name}: Netgsm refused the message, code ${code}: ${known.meaning}`);
      if (known) throw new Error(`${name}: Netgsm code ${code}: ${known.meaning}`);
      // No Netgsm code: a 4xx is our request or URL (will not change by itself), anything else may pass.
      if (code === undefined && status >= 400) throw new PermanentDeliveryError(`${name}: Netgsm answered HTTP ${status}: ${describe(body)}`);
      throw new Error(`${name}: unexpected Netgsm answer (HTTP ${status}): ${describe(body)}`);
    },
  };
}

export const smsNetgsmChannel: ChannelFactory<NetgsmConfig> = {
  type: 'sms-netgsm',
  addressKind: 'phone',
  schema: netgsmConfigSchema,
  create(name, config, log) {
    const settings = { phoneFormat: 'national' as const, turkishShift: true, maxSegments: config.maxSegments, timeoutMs: config.timeoutMs, secrets: [config.password] };
    return httpSmsChannel(name, settings, netgsmGateway(name, config), log);
  },
};
