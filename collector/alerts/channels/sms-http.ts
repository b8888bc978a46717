import { z } from 'zod';
import type { Logger } from '../../../src/log.ts';
import { PermanentDeliveryError, type ChannelFactory, type DeliveryReceipt, type NotificationChannel } from './channel.ts';
import { fitSms, planSms, type SmsPlan } from './sms-encoding.ts';

// SMS through an HTTP gateway. The transport (number check, cutting the text to a number of
// parts, timeout, reading a bounded answer, error classes) is shared; what differs between
// gateways is how the request looks and how the answer reads, an `SmsGateway`. The generic
// `sms-http` type describes both in configuration (templates and a success pattern); provider
// presets (sms-netgsm, sms-iletimerkezi) are gateways written in code on the same transport.
// Error messages name the contact and the gateway's host, never the number, the URL (a GET
// gateway may carry the password in it) or a configured secret.

export type PhoneFormat = 'national' | 'international' | 'e164';

/**
 * A Turkish mobile number (5XXXXXXXXX after any +90 / 0090 / 90 / 0 prefix, spaces, dots, dashes
 * and brackets) in the gateway's format: national 5XXXXXXXXX, international 905XXXXXXXXX or
 * e164 +905XXXXXXXXX; undefined for anything else.
 */
export function formatTurkishMobile(address: string, format: PhoneFormat): string | undefined {
  const match = /^(?:\+90|0090|90|0)?(5\d{9})$/.exec(address.replace(/[\s().-]/g, ''));
  if (!match) return undefined;
  const national = match[1]!;
  return format === 'national' ? national : format === 'international' ? `90${national}` : `+90${national}`;
}

export interface GatewayRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
}

export interface GatewayResponse {
  status: number;
  body: string;
}

export interface SmsGateway {
  /** The request that sends `text` to `to` (already in the gateway's number format). */
  request(to: string, text: string, plan: SmsPlan, id: string): GatewayRequest;
  /**
   * Reads a 2xx or 4xx answer (5xx, 408, 429 and redirects are handled before): returns the
   * provider's message id, or throws PermanentDeliveryError / Error (retried).
   */
  accept(response: GatewayResponse, describe: (body: string) => string): string | undefined;
}

export interface HttpSmsSettings {
  phoneFormat: PhoneFormat;
  /** Whether the gateway sends Turkish letters with the single shift table; only changes the part count we plan for. */
  turkishShift: boolean;
  maxSegments: number;
  timeoutMs: number;
  /** Configured secrets, cut out of any answer quoted in an error. */
  secrets: readonly string[];
}

export const httpUrlSchema = z
  .string()
  .max(2000)
  .refine((text) => ['http:', 'https:'].includes(URL.parse(text)?.protocol ?? ''), 'expected an http:// or https:// URL');
export const timeoutMsSchema = z.number().int().min(100).max(120_000).default(10_000);
export const maxSegmentsSchema = z.number().int().min(1).max(10).default(3);
export const phoneFormatSchema = z.enum(['national', 'international', 'e164']);

const MAX_ANSWER_BYTES = 64 * 1024;
const QUOTED_ANSWER_CHARS = 160;

export function httpSmsChannel(name: string, settings: HttpSmsSettings, gateway: SmsGateway, log: Logger): NotificationChannel {
  const describe = (body: string) => quote(body, settings.secrets);
  return {
    name,
    addressKind: 'phone',
    async send(recipient, message, signal): Promise<DeliveryReceipt> {
      const to = formatTurkishMobile(recipient.address, settings.phoneFormat);
      if (!to) throw new PermanentDeliveryError(`${name}: the phone number of ${recipient.name} is not a Turkish mobile number (5XXXXXXXXX)`);
      const options = { allowTurkishShift: settings.turkishShift };
      const text = fitSms(message.short, settings.maxSegments, options);
      const plan = planSms(text, options);
      const request = gateway.request(to, text, plan, message.id);
      const response = await exchange(name, request, settings.timeoutMs, signal);
      const host = new URL(request.url).host;
      if (response.status >= 300 && response.status < 400) throw new PermanentDeliveryError(`${name}: ${host} answered with a redirect (HTTP ${response.status}); check the url`);
      if (response.status >= 500 || response.status === 408 || response.status === 429) throw new Error(`${name}: ${host} answered HTTP ${response.status}: ${describe(response.body)}`);
      const providerId = gateway.accept(response, describe);
      log.log('debug', 'sms accepted by the gateway', { channel: name, recipient: recipient.name, segments: plan.segments, encoding: plan.encoding, providerId });
      return { providerId, segments: plan.segments };
    },
    async close() {},
  };
}

async function exchange(name: string, request: GatewayRequest, timeoutMs: number, signal: AbortSignal): Promise<GatewayResponse> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const host = new URL(request.url).host;
  try {
    const response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
      signal: AbortSignal.any([signal, timeout]),
    });
    return { status: response.status, body: await readBounded(response) };
  } catch (error) {
    if (timeout.aborted) throw new Error(`${name}: no answer from ${host} within ${timeoutMs} ms`);
    if (signal.aborted) throw new Error(`${name}: sending was cancelled`);
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new Error(`${name}: ${host} could not be reached (${cause})`);
  }
}

/** The first MAX_ANSWER_BYTES of the answer: a gateway cannot make us buffer an endless body. */
async function readBounded(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < MAX_ANSWER_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
  }
  await reader.cancel().catch(() => {});
  return Buffer.concat(chunks).subarray(0, MAX_ANSWER_BYTES).toString('utf8');
}

/** A JSON object answer, or undefined for anything else (HTML error pages, plain text). */
export function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A short, single-line excerpt of an answer with the configured secrets cut out (a gateway might echo them). */
function quote(body: string, secrets: readonly string[]): string {
  let text = body.replace(/\s+/g, ' ').trim();
  for (const secret of secrets) if (secret.length >= 3) text = text.split(secret).join('[redacted]');
  if (text === '') return '(empty answer)';
  return text.length > QUOTED_ANSWER_CHARS ? `${text.slice(0, QUOTED_ANSWER_CHARS)}…` : text;
}

// ---- the generic templated gateway ------------------------------------------------------------

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
const MESSAGE_VALUES = ['to', 'text', 'id'] as const;

type BodyEscaping = 'form' | 'json' | 'xml';
const CONTENT_TYPES: Record<string, BodyEscaping> = {
  'application/x-www-form-urlencoded': 'form',
  'application/json': 'json',
  'application/xml': 'xml',
  'text/xml': 'xml',
};

function escapingOf(contentType: string): BodyEscaping | undefined {
  return CONTENT_TYPES[contentType.split(';')[0]!.trim().toLowerCase()];
}

const ESCAPE: Record<BodyEscaping | 'url', (value: string) => string> = {
  url: encodeURIComponent,
  form: encodeURIComponent,
  // Inside a JSON string literal: the template supplies the quotes.
  json: (value) => JSON.stringify(value).slice(1, -1),
  xml: (value) => value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;'),
};

function render(template: string, values: Readonly<Record<string, string>>, escape: (value: string) => string): string {
  return template.replace(PLACEHOLDER, (_, key: string) => escape(values[key] ?? ''));
}

function placeholders(template: string): string[] {
  return Array.from(template.matchAll(PLACEHOLDER), (m) => m[1]!);
}

function validRegex(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

const regexSchema = z.string().min(1).max(500).refine(validRegex, 'not a valid regular expression');

export const smsHttpConfigSchema = z
  .strictObject({
    /** May hold placeholders; values are URL-encoded there. */
    url: z.string().regex(/^https?:\/\//, 'expected an http:// or https:// URL').max(2000),
    method: z.enum(['GET', 'POST']).default('POST'),
    /** Header values may use the `params` and {{id}}, not the number or the text. */
    headers: z.record(z.string().regex(/^[A-Za-z0-9-]+$/, 'expected a header name'), z.string().max(1000)).default({}),
    /** Request body template; values are escaped for `contentType`. */
    body: z.string().max(10_000).optional(),
    contentType: z.string().refine((t) => escapingOf(t) !== undefined, `expected one of ${Object.keys(CONTENT_TYPES).join(', ')}`).default('application/x-www-form-urlencoded'),
    /** Values the templates can name besides {{to}}, {{text}} and {{id}}: user name, password, sender... */
    params: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected a name like "sender"'), z.string().max(1000)).default({}),
    basicAuth: z.strictObject({ username: z.string().min(1).max(256), password: z.string().min(1).max(256) }).optional(),
    /** The answer body must match for the message to count as accepted; its first group, if any, is the provider's id. */
    successMatch: regexSchema.optional(),
    /** A non-matching answer that matches this is retried (e.g. "^100"); any other is refused for good. */
    retryMatch: regexSchema.optional(),
    phoneFormat: phoneFormatSchema.default('national'),
    turkishShift: z.boolean().default(true),
    timeoutMs: timeoutMsSchema,
    maxSegments: maxSegmentsSchema,
  })
  .superRefine((config, ctx) => {
    const known = new Set<string>([...MESSAGE_VALUES, ...Object.keys(config.params)]);
    const check = (template: string, path: (string | number)[], allowed: ReadonlySet<string>) => {
      for (const key of placeholders(template)) {
        if (!allowed.has(key)) ctx.addIssue({ code: 'custom', path, message: `{{${key}}} is not available here (known: ${[...allowed].join(', ')})` });
      }
    };
    check(config.url, ['url'], known);
    if (config.body !== undefined) check(config.body, ['body'], known);
    const headerValues = new Set<string>(['id', ...Object.keys(config.params)]);
    for (const [header, value] of Object.entries(config.headers)) {
      check(value, ['headers', header], headerValues);
      if (/[\r\n]/.test(render(value, config.params, (v) => v))) ctx.addIssue({ code: 'custom', path: ['headers', header], message: 'a header value cannot contain a line break' });
    }
    const used = new Set([...placeholders(config.url), ...placeholders(config.body ?? '')]);
    for (const key of ['to', 'text'] as const) if (!used.has(key)) ctx.addIssue({ code: 'custom', path: [config.body === undefined ? 'url' : 'body'], message: `the request must contain {{${key}}}` });
    if (config.method === 'GET' && config.body !== undefined) ctx.addIssue({ code: 'custom', path: ['body'], message: 'a GET request has no body: put the values in the url' });
    try {
      new URL(render(config.url, {}, () => 'x'));
    } catch {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'not a valid URL' });
    }
  });
export type SmsHttpConfig = z.infer<typeof smsHttpConfigSchema>;

/** The generic gateway: everything about the request and the answer comes from configuration. */
function templatedGateway(name: string, config: SmsHttpConfig): SmsGateway {
  const escaping = escapingOf(config.contentType)!;
  const success = config.successMatch === undefined ? undefined : new RegExp(config.successMatch);
  const retry = config.retryMatch === undefined ? undefined : new RegExp(config.retryMatch);
  const baseHeaders: Record<string, string> = {};
  if (config.basicAuth) baseHeaders['authorization'] = `Basic ${Buffer.from(`${config.basicAuth.username}:${config.basicAuth.password}`).toString('base64')}`;
  if (config.body !== undefined) baseHeaders['content-type'] = config.contentType;
  return {
    request(to, text, _plan, id) {
      const values = { ...config.params, to, text, id };
      const headers = { ...baseHeaders };
      for (const [header, value] of Object.entries(config.headers)) headers[header.toLowerCase()] = render(value, values, (v) => v);
      return {
        method: config.method,
        url: render(config.url, values, ESCAPE.url),
        headers,
        body: config.body === undefined ? undefined : render(config.body, values, ESCAPE[escaping]),
      };
    },
    accept({ status, body }, describe) {
      if (status === 401 || status === 403) throw new PermanentDeliveryError(`${name}: the gateway refused the credentials (HTTP ${status})`);
      if (status < 200 || status >= 300) throw new PermanentDeliveryError(`${name}: the gateway refused the message (HTTP ${status}: ${describe(body)})`);
      if (!success) return undefined;
      const match = success.exec(body);
      if (match) return match[1];
      if (retry?.test(body)) throw new Error(`${name}: the gateway asks to try again: ${describe(body)}`);
      throw new PermanentDeliveryError(`${name}: the gateway did not accept the message: ${describe(body)}`);
    },
  };
}

export const smsHttpChannel: ChannelFactory<SmsHttpConfig> = {
  type: 'sms-http',
  addressKind: 'phone',
  schema: smsHttpConfigSchema,
  create(name, config, log) {
    const secrets = [...Object.values(config.params), ...(config.basicAuth ? [config.basicAuth.password] : [])];
    return httpSmsChannel(name, { ...config, secrets }, templatedGateway(name, config), log);
  },
};
