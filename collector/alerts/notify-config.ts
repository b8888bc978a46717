import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, parseYamlText } from '../../src/config/load.ts';
import { formatPath } from '../../src/contract/schemas.ts';
import type { Logger } from '../../src/log.ts';
import { expandEnv } from '../devices/secrets.ts';
import type { NotificationChannel } from './channels/channel.ts';
import { CHANNEL_TYPES } from './channels/index.ts';
import { outboxSettingsSchema } from './outbox.ts';
import type { ChannelKinds } from './routing.ts';
import { checkRoutingReferences, routingFileObject } from './routing-schema.ts';

// The notification file (alerts.notifyFile): people, teams, rotations, routes, maintenance
// windows (routing-schema.ts), plus the channels with their provider settings, the outbox's
// tunables, site dependencies and the public URL for acknowledge links. Channel secrets come
// from the environment (${SMTP_PASSWORD}); every mistake names its place in the file.

const id = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'expected a lower-case id');
const siteDevice = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}\/[a-z0-9][a-z0-9._-]{0,63}$/, 'expected <site>/<device>');

export const notifyFileSchema = routingFileObject
  .safeExtend({
    channels: z.record(id, z.looseObject({ type: z.string().min(1) })),
    outbox: outboxSettingsSchema.prefault({}),
    /**
     * A site's alerts are consequences while one of its upstream devices (its uplink switch, the
     * fiber's far end, its UPS) has a firing alert: counted in that alert's notification, not
     * sent on their own.
     */
    dependencies: z.array(z.strictObject({ site: id, upstream: z.array(siteDevice).min(1) })).default([]),
    /** Where people reach the collector's API (acknowledge links in mails); none: no links. */
    publicUrl: z.url({ protocol: /^https?$/ }).optional(),
  })
  .superRefine(checkRoutingReferences);

export type NotifyFile = z.infer<typeof notifyFileSchema>;

export interface NotifyConfig {
  file: NotifyFile;
  channels: Map<string, NotificationChannel>;
  kinds: ChannelKinds;
}

export function parseNotifyFile(text: string, source: string, env: NodeJS.ProcessEnv): NotifyFile {
  const raw = parseYamlText(text, source) as { channels?: unknown };
  const withSecrets = { ...raw, channels: expandOrThrow(raw.channels, env, source) };
  const parsed = notifyFileSchema.safeParse(withSecrets);
  if (!parsed.success) throw new ConfigError(`invalid notification file ${source}:\n${parsed.error.issues.map((i) => `  ${formatPath(i.path) || '(root)'}: ${i.message}`).join('\n')}`);
  const problems: string[] = [];
  for (const [name, entry] of Object.entries(parsed.data.channels)) {
    const factory = CHANNEL_TYPES.get(entry.type);
    if (!factory) {
      problems.push(`  channels.${name}.type: unknown channel type "${entry.type}" (known: ${[...CHANNEL_TYPES.keys()].join(', ')})`);
      continue;
    }
    const { type: _type, ...options } = entry;
    const checked = factory.schema.safeParse(options);
    if (!checked.success) problems.push(...checked.error.issues.map((i) => `  channels.${name}.${formatPath(i.path) || '(root)'}: ${i.message}`));
  }
  if (problems.length > 0) throw new ConfigError(`invalid notification file ${source}:\n${problems.join('\n')}`);
  return parsed.data;
}

function expandOrThrow(channels: unknown, env: NodeJS.ProcessEnv, source: string): unknown {
  try {
    return expandEnv(channels, env, 'channels');
  } catch (error) {
    throw new ConfigError(`invalid notification file ${source}: ${(error as Error).message}`);
  }
}

export function loadNotifyConfig(path: string, env: NodeJS.ProcessEnv, log: Logger): NotifyConfig {
  const file = parseNotifyFile(readFileSync(path, 'utf8'), path, env);
  const channels = new Map<string, NotificationChannel>();
  const kinds = new Map<string, 'email' | 'phone' | 'url'>();
  for (const [name, entry] of Object.entries(file.channels)) {
    const factory = CHANNEL_TYPES.get(entry.type)!;
    const { type: _type, ...options } = entry;
    channels.set(name, factory.create(name, factory.schema.parse(options) as never, log));
    kinds.set(name, factory.addressKind);
  }
  return { file, channels, kinds };
}
