import { z } from 'zod';
import { PermanentDeliveryError, type ChannelFactory, type NotificationChannel } from './channel.ts';

// A webhook: the rendered notification as JSON, POSTed to the recipient's address (a URL), for
// chat tools and ticket systems. A URL often carries its secret in the path (chat webhooks do),
// so errors name only the scheme, host and port. The answer's status decides: 2xx delivered,
// 408/429/5xx and network failures retried, any other status (a wrong URL, a refused token,
// a redirect to somewhere else) will not change by retrying.

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Framing and body type are the channel's; a configured value could only break the request. */
const OWN_HEADERS = new Set(['host', 'content-length', 'content-type', 'transfer-encoding', 'connection']);

const schema = z.strictObject({
  /** Sent with every request, e.g. `Authorization: Bearer ${WEBHOOK_TOKEN}`. */
  headers: z
    .record(z.string(), z.string().regex(/^[^\r\n\0]*$/, 'a header value must not contain line breaks'))
    // Checked here rather than as a key schema, so the issue names the header and says what is wrong with it.
    .superRefine((headers, context) => {
      for (const name of Object.keys(headers)) {
        if (!HEADER_NAME.test(name)) context.addIssue({ code: 'custom', path: [name], message: 'not a valid HTTP header name' });
        else if (OWN_HEADERS.has(name.toLowerCase())) context.addIssue({ code: 'custom', path: [name], message: 'this header is set by the channel' });
      }
    })
    .default({}),
  timeoutMs: z.number().int().min(100).max(300_000).default(10_000),
});

export type WebhookConfig = z.infer<typeof schema>;

export const webhookChannel: ChannelFactory<WebhookConfig> = {
  type: 'webhook',
  addressKind: 'url',
  schema,
  create(name, config) {
    return createWebhookChannel(name, config);
  },
};

/** The answer is not used; reading a little of it lets the connection be reused, reading more could fill memory. */
const MAX_RESPONSE_BYTES = 64 * 1024;

function createWebhookChannel(name: string, config: WebhookConfig): NotificationChannel {
  return {
    name,
    addressKind: 'url',
    async send(recipient, message, signal) {
      const url = webhookUrl(recipient.address);
      if (!url) throw new PermanentDeliveryError(`webhook channel "${name}": the address of ${JSON.stringify(recipient.name)} is not an http(s) URL without credentials`);
      const where = `webhook channel "${name}" (${url.origin})`;
      const timeout = AbortSignal.timeout(config.timeoutMs);
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { ...config.headers, 'content-type': 'application/json; charset=utf-8' },
          body: JSON.stringify({ id: message.id, subject: message.subject, text: message.text, short: message.short }),
          redirect: 'manual',
          signal: AbortSignal.any([signal, timeout]),
        });
      } catch (error) {
        if (timeout.aborted) throw new Error(`${where}: no answer within ${config.timeoutMs} ms`);
        if (signal.aborted) throw new Error(`${where}: sending was aborted`);
        const cause = (error as { cause?: NodeJS.ErrnoException }).cause;
        throw new Error(`${where}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
      }
      await discard(response.body);
      const { status } = response;
      if (status >= 200 && status < 300) return {};
      if (status === 408 || status === 429 || status >= 500) throw new Error(`${where}: HTTP ${status}, will retry`);
      throw new PermanentDeliveryError(`${where}: HTTP ${status}${status >= 300 && status < 400 ? ' (a redirect: configure the final URL)' : ''}`);
    },
    async close() {},
  };
}

function webhookUrl(address: string): URL | undefined {
  const url = URL.parse(address);
  // fetch refuses credentials in a URL; they belong in the configured headers.
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password) return undefined;
  return url;
}

async function discard(body: ReadableStream<Uint8Array> | null): Promise<void> {
  if (!body) return;
  const reader = body.getReader();
  try {
    for (let read = 0; read <= MAX_RESPONSE_BYTES; ) {
      const chunk = await reader.read();
      if (chunk.done) return;
      read += chunk.value.byteLength;
    }
    await reader.cancel();
  } catch {
    // The status is already known; a body cut off or timed out does not change the outcome.
  }
}
