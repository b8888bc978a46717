import { createHash } from 'node:crypto';
import nodemailer, { type NodemailerError } from 'nodemailer';
import { secretScrubber, smtpConnectionOptions, type EmailConfig } from '../alerts/channels/email.ts';
import type { ReportMail } from './mail.ts';

// Sends the monthly report through the notification file's e-mail channel settings: the same
// server, sender, credentials and TLS rules as alert mail (starttls mandatory, TLS 1.2 or later,
// the private CA), with its own connection per send and its own timeout. Not through the alert
// outbox: that one carries rendered text of at most 256 KiB with no attachments, limits how many
// messages a person gets in 15 minutes and pushes out the least severe entry when full — right
// for alerts, wrong for a monthly mail with attachments. Retries are the report service's.

export class ReportDeliveryError extends Error {
  override name = 'ReportDeliveryError';
  /** A 5xx refusal (no such mailbox, message too large): trying again will not help. */
  readonly permanent: boolean;
  constructor(message: string, permanent: boolean) {
    super(message);
    this.permanent = permanent;
  }
}

export interface ReportMailer {
  /** Sends to one recipient; the same month and address always get the same Message-ID. */
  send(to: { name: string; address: string }, mail: ReportMail, month: string, signal: AbortSignal): Promise<void>;
  close(): void;
}

const MAX_REPLY_CHARS = 300;

export function createReportMailer(channelName: string, config: EmailConfig): ReportMailer {
  const where = `e-mail channel "${channelName}" (${config.host}:${config.port})`;
  const fromAddress = /<([^>]+)>\s*$/.exec(config.from)?.[1] ?? config.from.trim();
  const domain = fromAddress.slice(fromAddress.lastIndexOf('@') + 1);
  // One connection per report run: the alert channel's pool and requeue are for its steady trickle.
  const transport = nodemailer.createTransport(smtpConnectionOptions(config, where));
  const scrub = secretScrubber(config.auth);

  return {
    async send(to, mail, month, signal) {
      const local = `izleme-rapor-${month}-${createHash('sha256').update(to.address.toLowerCase()).digest('hex').slice(0, 16)}`;
      try {
        await transport.sendMail({
          from: config.from,
          to: { name: to.name, address: to.address },
          ...(config.replyTo ? { replyTo: config.replyTo } : {}),
          subject: mail.subject,
          text: mail.text,
          html: mail.html,
          attachments: mail.attachments.map((f) => ({ filename: f.name, content: Buffer.from(f.content, 'utf8'), contentType: f.contentType })),
          messageId: `<${local}@${domain}>`,
          headers: { 'X-Belediye-Izleme-Report': month },
          signal,
        });
      } catch (error) {
        const e = error as NodemailerError;
        if (e.responseCode !== undefined) {
          const step = e.command?.split(' ')[0] ?? 'SMTP';
          throw new ReportDeliveryError(`${where}: ${step} refused${e.permanent ? ' for good' : ' for now'}: ${scrub((e.response ?? '').slice(0, MAX_REPLY_CHARS))}`, e.permanent === true && step !== 'STARTTLS');
        }
        throw new ReportDeliveryError(`${where}: ${e.code ?? 'error'}: ${scrub(e.message.slice(0, MAX_REPLY_CHARS))}`, false);
      }
    },
    close: () => transport.close(),
  };
}
