// Topic scheme, version 1: muni/v1/<site>/<device>/<channel>
// Site and device ids are part of every topic so that ACLs (a device may only speak for itself)
// and shared subscriptions can be expressed with plain MQTT wildcards.

export const TOPIC_ROOT = 'muni';
export const TOPIC_VERSION = 'v1';

/** Channels a device publishes on. `cmd` is the one it subscribes to. */
export const DEVICE_CHANNELS = ['metrics', 'state', 'inventory', 'event'] as const;
export type DeviceChannel = (typeof DEVICE_CHANNELS)[number];
export const COMMAND_CHANNEL = 'cmd';

/** Lower-case letters, digits, dot, dash and underscore; never MQTT wildcards or separators. */
export const ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export interface DeviceAddress {
  site: string;
  device: string;
}

export interface ParsedTopic extends DeviceAddress {
  channel: DeviceChannel;
}

export type TopicParseResult = { ok: true; topic: ParsedTopic } | { ok: false; reason: string };

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

// Letters a Windows host name may carry that NFD does not take apart into a base letter and a mark.
const LATIN_WITHOUT_DECOMPOSITION: Record<string, string> = { ı: 'i', ß: 'ss', æ: 'ae', ø: 'o', đ: 'd', ł: 'l', œ: 'oe' };

/**
 * Turns a host name into a usable id: "BİLGİİŞLEM-PC01.belediye.local" → "bilgiislem-pc01",
 * "ÇAĞRI-MERKEZİ" → "cagri-merkezi". Turkish letters become their base letters (not dashes), so
 * the id still reads as the name; the original is kept as the display name in the inventory.
 */
export function normaliseId(raw: string): string {
  const host = raw.trim().split('.')[0] ?? '';
  const lowered = host.toLocaleLowerCase('tr-TR').normalize('NFD').replace(/\p{M}+/gu, '');
  const latin = lowered.replace(/[ıßæøđłœ]/g, (c) => LATIN_WITHOUT_DECOMPOSITION[c] ?? c);
  const cleaned = latin.replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+/, '');
  return cleaned.slice(0, 64);
}

export function deviceTopic(address: DeviceAddress, channel: DeviceChannel | typeof COMMAND_CHANNEL): string {
  if (!isValidId(address.site)) throw new Error(`invalid site id "${address.site}" (expected ${ID_PATTERN})`);
  if (!isValidId(address.device)) throw new Error(`invalid device id "${address.device}" (expected ${ID_PATTERN})`);
  return `${TOPIC_ROOT}/${TOPIC_VERSION}/${address.site}/${address.device}/${channel}`;
}

/** Filter matching every device message of this contract version. */
export const ALL_DEVICE_TOPICS = `${TOPIC_ROOT}/${TOPIC_VERSION}/+/+/+`;

export function parseDeviceTopic(topic: string): TopicParseResult {
  const parts = topic.split('/');
  if (parts.length !== 5) return { ok: false, reason: `expected ${TOPIC_ROOT}/${TOPIC_VERSION}/<site>/<device>/<channel>` };
  const [root, version, site, device, channel] = parts as [string, string, string, string, string];
  if (root !== TOPIC_ROOT) return { ok: false, reason: `unknown topic root "${root}"` };
  if (version !== TOPIC_VERSION) return { ok: false, reason: `unsupported contract version "${version}"` };
  if (!isValidId(site)) return { ok: false, reason: `invalid site id "${site}"` };
  if (!isValidId(device)) return { ok: false, reason: `invalid device id "${device}"` };
  if (!(DEVICE_CHANNELS as readonly string[]).includes(channel)) return { ok: false, reason: `unknown channel "${channel}"` };
  return { ok: true, topic: { site, device, channel: channel as DeviceChannel } };
}
