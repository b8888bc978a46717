import { readFileSync } from 'node:fs';
import { ConfigError } from '../../src/config/load.ts';
import { emailChannel, type EmailConfig } from '../alerts/channels/email.ts';
import { parseNotifyFile, type NotifyFile } from '../alerts/notify-config.ts';
import { isAddress, type MonthlyReportConfig } from './config.ts';

// Who gets the monthly report and through which server, the way alert mail is configured: the
// channel is an `email` channel of the notification file (its SMTP server, sender, credentials,
// CA), a recipient is a contact of that file (its e-mail address and name) or a plain address.
// Every mistake is named with its key in the collector configuration.

export interface ReportRecipient {
  /** As configured: "ahmet" or "bilgiislem@belediye.gov.tr". */
  recipient: string;
  /** The contact's name; the address for a plain address. */
  name: string;
  address: string;
}

export interface ReportMailSetup {
  channelName: string;
  channel: EmailConfig;
  recipients: ReportRecipient[];
  notify: NotifyFile;
}

/** Pure: the recipients and channel against a parsed notification file; throws one ConfigError naming every problem. */
export function resolveMailSetup(monthly: Pick<MonthlyReportConfig, 'channel' | 'recipients'>, notify: NotifyFile, source: string): ReportMailSetup {
  const problems: string[] = [];
  const entry = notify.channels[monthly.channel];
  let channel: EmailConfig | undefined;
  if (!entry) {
    problems.push(`reports.monthly.channel: no channel "${monthly.channel}" in ${source} (channels there: ${Object.keys(notify.channels).join(', ') || 'none'})`);
  } else if (entry.type !== emailChannel.type) {
    problems.push(`reports.monthly.channel: channel "${monthly.channel}" in ${source} is of type ${entry.type}; the report is mailed, it needs an email channel`);
  } else {
    const { type: _type, ...options } = entry;
    // parseNotifyFile has validated it already; this gives its typed, defaulted form.
    channel = emailChannel.schema.parse(options);
  }
  const contacts = new Map(notify.contacts.map((c) => [c.id, c]));
  const recipients: ReportRecipient[] = [];
  monthly.recipients.forEach((recipient, i) => {
    const where = `reports.monthly.recipients[${i}]`;
    if (isAddress(recipient)) {
      recipients.push({ recipient, name: recipient, address: recipient });
      return;
    }
    const contact = contacts.get(recipient);
    if (!contact) problems.push(`${where}: no contact "${recipient}" in ${source}`);
    else if (!contact.email) problems.push(`${where}: contact "${recipient}" in ${source} has no email address`);
    else recipients.push({ recipient, name: contact.name, address: contact.email });
  });
  const addresses = new Set<string>();
  for (const r of recipients) {
    if (addresses.has(r.address.toLowerCase())) problems.push(`reports.monthly.recipients: ${r.address} is given twice (as "${r.recipient}" and before)`);
    addresses.add(r.address.toLowerCase());
  }
  if (problems.length > 0 || !channel) throw new ConfigError(`invalid monthly report configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  return { channelName: monthly.channel, channel, recipients, notify };
}

/** Reads the notification file (secrets from `env`, as the collector does) and resolves against it. */
export function loadMailSetup(monthly: MonthlyReportConfig, notifyFile: string | undefined, env: NodeJS.ProcessEnv): ReportMailSetup {
  if (notifyFile === undefined) {
    throw new ConfigError('invalid monthly report configuration:\n  reports.monthly.channel: the report is mailed through an e-mail channel of the notification file, and alerts.notifyFile is not set');
  }
  return resolveMailSetup(monthly, parseNotifyFile(readFileSync(notifyFile, 'utf8'), notifyFile, env), notifyFile);
}
