import type { z } from 'zod';
import type { Logger } from '../../../src/log.ts';
import type { Language } from '../../devices/driver.ts';

// The small interface every notification channel implements (e-mail, SMS over an HTTP gateway
// or SMPP, webhook). A channel only delivers one rendered message to one address; what to send
// to whom, when, and how often is decided before it (routing, grouping, outbox). Adding an SMS
// provider is a new file plus one line in channels/index.ts.

export type AddressKind = 'email' | 'phone' | 'url';

export interface Recipient {
  /** Contact name, for logs and the audit trail (never the address itself in logs). */
  name: string;
  address: string;
  language: Language;
}

/** One notification, already rendered in the recipient's language. */
export interface OutgoingMessage {
  /** Mail subject; also the first line of a webhook message. */
  subject: string;
  /** Plain text body (mail text part, webhook text). */
  text: string;
  /** HTML body for e-mail. */
  html: string;
  /** The SMS text: short, no markup. */
  short: string;
  /** Stable id of the notification: lets a receiver drop a duplicate after a retry. */
  id: string;
}

export interface DeliveryReceipt {
  /** The provider's id for the message (SMTP message id, SMS job id), when it gives one. */
  providerId?: string;
  /** SMS segments billed, when known. */
  segments?: number;
}

/** The provider refused the message for good (bad number, wrong credentials): retrying will not help. */
export class PermanentDeliveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentDeliveryError';
  }
}

export interface NotificationChannel {
  /** Configured name, e.g. "eposta", "netgsm". */
  readonly name: string;
  readonly addressKind: AddressKind;
  /**
   * Delivers or throws: PermanentDeliveryError when retrying cannot help, any other error is
   * retried by the outbox with backoff. Must honour `signal` (a timeout) and never put
   * credentials in an error message.
   */
  send(recipient: Recipient, message: OutgoingMessage, signal: AbortSignal): Promise<DeliveryReceipt>;
  close(): Promise<void>;
}

/**
 * How a channel type is configured and built. The notification file's `channels:` entries name
 * a type; its options are validated with `schema` (errors name the field), secrets may come
 * from the environment as ${NAME} (expanded before validation).
 */
export interface ChannelFactory<Config = unknown> {
  readonly type: string;
  readonly addressKind: AddressKind;
  readonly schema: z.ZodType<Config>;
  create(name: string, config: Config, log: Logger): NotificationChannel;
}
