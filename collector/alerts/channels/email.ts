import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import nodemailer, { type NodemailerError } from 'nodemailer';
import addressparser from 'nodemailer/lib/addressparser';
import { z } from 'zod';
import type { Logger } from '../../../src/log.ts';
import { PermanentDeliveryError, type ChannelFactory, type NotificationChannel } from './channel.ts';

// E-mail over SMTP (nodemailer, one pooled transport per channel). `starttls` makes the upgrade
// mandatory: a server (or someone in the path) that does not offer STARTTLS gets no message and
// no password. A password is never configured for an unencrypted connection at all. SMTP replies
// decide what the outbox does next: a permanent (5xx) reply is a PermanentDeliveryError, a
// temporary reply or a broken connection a plain error that is retried.

/** One mailbox, with or without a display name: "Belediye İzleme <izleme@belediye.gov.tr>". */
function parseMailbox(value: string): { name: string; address: string } | undefined {
  if (/[\r\n\0]/.test(value)) return undefined;
  const parsed = addressparser(value, { flatten: true });
  const [only] = parsed;
  return parsed.length === 1 && only && BARE_ADDRESS.test(only.address) ? only : undefined;
}

/** A recipient's address is bare: no display name, no list, nothing a header could be built from. */
const BARE_ADDRESS = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/u;

const mailbox = z.string().refine((value) => parseMailbox(value) !== undefined, 'expected one address, e.g. "Belediye İzleme <izleme@belediye.gov.tr>"');

const schema = z
  .strictObject({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(587),
    /** starttls: plain connect, then a mandatory upgrade (587); tls: TLS from the first byte (465); none: local relay only. */
    security: z.enum(['starttls', 'tls', 'none']).default('starttls'),
    auth: z.strictObject({ user: z.string().min(1), password: z.string().min(1) }).optional(),
    from: mailbox,
    /** The private CA that signed the SMTP server's certificate (instead of the public roots). */
    caFile: z.string().min(1).optional(),
    rejectUnauthorized: z.boolean().default(true),
    /** For connecting, the greeting, the TLS upgrade and each wait for a reply. */
    timeoutMs: z.number().int().min(100).max(300_000).default(15_000),
    replyTo: mailbox.optional(),
  })
  .superRefine((config, context) => {
    if (config.security === 'none' && config.auth) {
      context.addIssue({ code: 'custom', path: ['auth'], message: 'a password is never sent over an unencrypted connection: use security starttls or tls' });
    }
  });

export type EmailConfig = z.infer<typeof schema>;

export const emailChannel: ChannelFactory<EmailConfig> = {
  type: 'email',
  addressKind: 'email',
  schema,
  create(name, config, log) {
    return createEmailChannel(name, config, log);
  },
};

// A few connections are plenty for alert mail, and a relay that limits clients is not flooded.
const MAX_CONNECTIONS = 2;
const MAX_REPLY_CHARS = 300;

function createEmailChannel(name: string, config: EmailConfig, log: Logger): NotificationChannel {
  const where = `e-mail channel "${name}" (${config.host}:${config.port})`;
  const from = parseMailbox(config.from);
  if (!from) throw new Error(`${where}: from is not one e-mail address`);
  const messageIdDomain = from.address.slice(from.address.lastIndexOf('@') + 1);
  if (config.security === 'none') log.log('warn', 'e-mail channel sends without encryption (security: none); use it only for a relay on this host or network', { channel: name, host: config.host });
  if (config.security !== 'none' && !config.rejectUnauthorized) log.log('warn', 'e-mail channel does not verify the SMTP server certificate (rejectUnauthorized: false)', { channel: name, host: config.host });

  const transport = nodemailer.createTransport({
    pool: true,
    maxConnections: MAX_CONNECTIONS,
    // One quick retry when a kept-alive connection dies under a message; anything longer is the outbox's job.
    maxRequeues: 1,
    ...smtpConnectionOptions(config, where),
  });
  const scrub = secretScrubber(config.auth);

  return {
    name,
    addressKind: 'email',
    async send(recipient, message, signal) {
      if (!BARE_ADDRESS.test(recipient.address)) throw new PermanentDeliveryError(`${where}: the address of ${JSON.stringify(recipient.name)} is not one e-mail address`);
      try {
        const info = await transport.sendMail({
          from: config.from,
          to: { name: recipient.name, address: recipient.address },
          ...(config.replyTo ? { replyTo: config.replyTo } : {}),
          subject: message.subject,
          text: message.text,
          html: message.html,
          messageId: messageIdFor(message.id, messageIdDomain),
          headers: { 'X-Belediye-Izleme-Notification': message.id, 'Content-Language': recipient.language },
          signal,
        });
        return { providerId: info.serverMessageId ?? info.messageId };
      } catch (error) {
        throw deliveryError(where, error as NodemailerError, scrub);
      }
    },
    async close() {
      transport.close();
    },
  };
}

/**
 * How to reach the SMTP server, shared by alert mail and the monthly report: TLS 1.2 or later
 * unless the channel says none, a timeout on every phase, and no file or URL a message could name.
 */
export function smtpConnectionOptions(config: EmailConfig, where: string) {
  return {
    host: config.host,
    port: config.port,
    secure: config.security === 'tls',
    requireTLS: config.security === 'starttls',
    ignoreTLS: config.security === 'none',
    ...(config.auth ? { auth: { user: config.auth.user, pass: config.auth.password } } : {}),
    ...(config.security === 'none' ? {} : { tls: { minVersion: 'TLSv1.2' as const, rejectUnauthorized: config.rejectUnauthorized, ...(config.caFile ? { ca: readCa(where, config.caFile) } : {}) } }),
    connectionTimeout: config.timeoutMs,
    greetingTimeout: config.timeoutMs,
    socketTimeout: config.timeoutMs,
    dnsTimeout: config.timeoutMs,
    // Messages never embed files or URLs to fetch; refuse them rather than trust a template.
    disableFileAccess: true,
    disableUrlAccess: true,
    logger: false,
  };
}

function readCa(where: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new Error(`${where}: cannot read caFile ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/**
 * The same notification always gets the same Message-ID, so a mail delivered twice (sent, the
 * reply lost, sent again) is recognisable as one. Ids that are not valid msg-id text are hashed.
 */
function messageIdFor(id: string, domain: string): string {
  const local = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(id) && id.length <= 128 ? id : createHash('sha256').update(id).digest('hex').slice(0, 32);
  return `<${local}@${domain}>`;
}

/** Removes the password, also in the base64 forms AUTH PLAIN and LOGIN send it in, from text a server or library produced. */
export function secretScrubber(auth: EmailConfig['auth']): (text: string) => string {
  if (!auth) return (text) => text;
  const forms = [auth.password, Buffer.from(auth.password).toString('base64'), Buffer.from(`\0${auth.user}\0${auth.password}`).toString('base64')];
  return (text) => forms.reduce((out, form) => out.split(form).join('[redacted]'), text);
}

function deliveryError(where: string, error: NodemailerError, scrub: (text: string) => string): Error {
  if (error.code === 'EABORT' || error.name === 'AbortError') return new Error(`${where}: sending was aborted (the server may still have taken the message)`);
  if (error.responseCode !== undefined) {
    // Only the command verb: the rest of an AUTH command line carries credentials.
    const step = error.command?.split(' ')[0] ?? 'SMTP';
    const reply = scrub((error.response ?? '').slice(0, MAX_REPLY_CHARS));
    // A refused STARTTLS is the server's (or the path's) state, not this message's fault: retried
    // like a server that is down, so alerts wait in the outbox instead of being dropped.
    if (step === 'STARTTLS') return new Error(`${where}: the server refused STARTTLS, required by security: starttls; nothing was sent: ${reply}`);
    // nodemailer marks 5xx permanent except 503 (wrong command order: a new connection may succeed).
    if (error.permanent) return new PermanentDeliveryError(`${where}: ${step} refused for good: ${reply}`);
    return new Error(`${where}: ${step} refused for now: ${reply}`);
  }
  const message = scrub(error.message.slice(0, MAX_REPLY_CHARS));
  // Node's own hint for this error names the system CA store; here the answer is usually caFile.
  const hint = /certificate/i.test(message) ? ' (caFile must name the CA that signed the SMTP server certificate)' : '';
  return new Error(`${where}: ${error.code ?? 'error'}: ${message}${hint}`);
}
