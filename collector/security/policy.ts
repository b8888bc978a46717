import { COMMAND_CHANNEL, TOPIC_ROOT, TOPIC_VERSION, parseDeviceTopic, type DeviceAddress } from '../../src/contract/topics.ts';

// Pure decisions of device identity and access: who may enroll, what a device may publish
// and subscribe to. The store and the broker only carry them out.

export const API_ROLES = ['read', 'operator', 'admin'] as const;
export type ApiRole = (typeof API_ROLES)[number];

/** True when `held` includes what `needed` allows (admin ⊃ operator ⊃ read). */
export function roleAllows(held: ApiRole, needed: ApiRole): boolean {
  return API_ROLES.indexOf(held) >= API_ROLES.indexOf(needed);
}

/** A device's MQTT user name and client id: '/' cannot occur in a site or device id, so it is unambiguous. */
export function deviceUsername(address: DeviceAddress): string {
  return `${address.site}/${address.device}`;
}

export interface EnrollmentTokenRow {
  site: string;
  expiresAt: number;
  maxUses: number;
  uses: number;
  revokedAt: number | null;
}

/** Why a token cannot enroll this device now, in words an installer can act on; undefined when it can. */
export function enrollmentRefusal(token: EnrollmentTokenRow | undefined, site: string, now: number): string | undefined {
  if (!token) return 'unknown enrollment token';
  if (token.revokedAt !== null) return 'enrollment token has been revoked';
  if (now >= token.expiresAt) return `enrollment token expired at ${new Date(token.expiresAt).toISOString()}`;
  if (token.uses >= token.maxUses) return `enrollment token is used up (${token.uses} of ${token.maxUses} uses)`;
  if (token.site !== site) return `enrollment token is for site "${token.site}", not "${site}"`;
  return undefined;
}

/**
 * A device publishes only under its own id. Retained messages only on its state and inventory
 * topics (birth/last will and inventory are retained by the contract); anything else retained
 * would be replayed to every future subscriber.
 */
export function publishRefusal(identity: DeviceAddress, topic: string, retain: boolean): string | undefined {
  const parsed = parseDeviceTopic(topic);
  if (!parsed.ok) return `not a device topic: ${parsed.reason}`;
  const { site, device, channel } = parsed.topic;
  if (site !== identity.site || device !== identity.device) return `publishes as ${site}/${device}`;
  if (retain && channel !== 'state' && channel !== 'inventory') return `retained message on ${channel}`;
  return undefined;
}

/** A device subscribes to its own command topic and nothing else (no wildcards, no other device). */
export function subscribeAllowed(identity: DeviceAddress | undefined, topic: string): boolean {
  const parts = topic.split('/');
  if (parts.length !== 5 || parts[0] !== TOPIC_ROOT || parts[1] !== TOPIC_VERSION || parts[4] !== COMMAND_CHANNEL || topic.includes('+') || topic.includes('#')) return false;
  return identity === undefined || (parts[2] === identity.site && parts[3] === identity.device);
}
