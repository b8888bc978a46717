import type { ChannelFactory } from './channel.ts';
import { emailChannel } from './email.ts';
import { smsHttpChannel } from './sms-http.ts';
import { smsIletiMerkeziChannel } from './sms-iletimerkezi.ts';
import { smsNetgsmChannel } from './sms-netgsm.ts';
import { smsSmppChannel } from './sms-smpp.ts';
import { webhookChannel } from './webhook.ts';

// The channel registry: a `channels:` entry of the notification file names one of these types.
export const CHANNEL_TYPES: ReadonlyMap<string, ChannelFactory<never>> = new Map(
  ([emailChannel, smsHttpChannel, smsNetgsmChannel, smsIletiMerkeziChannel, smsSmppChannel, webhookChannel] as ChannelFactory<never>[]).map((f) => [f.type, f]),
);
