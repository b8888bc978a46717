import type { DeviceEvent, Language } from '../driver.ts';
import { parseAddress, type DeviceEntry } from '../inventory.ts';
import type { TrapSpec } from '../profile.ts';
import type { ReceivedTrap, TrapVarbind } from './receiver.ts';

// Pure: a received trap → the event the collector stores, and the sender → the configured
// device. No I/O. Known traps (the profile's table, then the built-in generic ones) get their
// type, severity and message; unknown traps are kept as `snmp_trap` with their first varbinds,
// never dropped. Every name and value fits the event contract (eventMessageSchema).


/** The contract's limit for a text value (fieldValueSchema). */
export const MAX_TEXT = 256;
/** Varbinds copied into the data of an unknown trap. */
export const MAX_UNKNOWN_VARBINDS = 10;

const CONTRACT_NAME = /^[a-z][a-z0-9_]{0,63}$/;

const IF_ENTRY = '1.3.6.1.2.1.2.2.1';
const LINK_DATA = {
  if_index: `${IF_ENTRY}.1`,
  if_descr: `${IF_ENTRY}.2`,
  if_admin_status: `${IF_ENTRY}.7`,
  if_oper_status: `${IF_ENTRY}.8`,
  if_name: '1.3.6.1.2.1.31.1.1.1.1',
};

/** The generic traps of RFC 1907 / SNMPv2-MIB (v1 generic-trap 0–4 map onto these, RFC 3584). */
export const STANDARD_TRAPS: Readonly<Record<string, TrapSpec>> = {
  '1.3.6.1.6.3.1.1.5.1': {
    type: 'cold_start',
    severity: 'warning',
    message: { en: 'Device restarted (cold start)', tr: 'Cihaz yeniden başladı (soğuk başlatma)' },
  },
  '1.3.6.1.6.3.1.1.5.2': {
    type: 'warm_start',
    severity: 'info',
    message: { en: 'Device reinitialised without a configuration change (warm start)', tr: 'Cihaz yapılandırması değişmeden yeniden başladı (sıcak başlatma)' },
  },
  '1.3.6.1.6.3.1.1.5.3': {
    type: 'link_down',
    severity: 'warning',
    message: { en: 'Interface link down', tr: 'Arayüz bağlantısı kesildi' },
    data: LINK_DATA,
  },
  '1.3.6.1.6.3.1.1.5.4': {
    type: 'link_up',
    severity: 'info',
    message: { en: 'Interface link up', tr: 'Arayüz bağlantısı kuruldu' },
    data: LINK_DATA,
  },
  '1.3.6.1.6.3.1.1.5.5': {
    type: 'authentication_failure',
    severity: 'warning',
    message: { en: 'SNMP authentication failure on the device (wrong community or user)', tr: 'Cihazda SNMP kimlik doğrulama hatası (yanlış community ya da kullanıcı)' },
  },
};

type EventData = NonNullable<DeviceEvent['data']>;

/**
 * The event for a trap. `specs` (the device's profiles) win over STANDARD_TRAPS.
 *
 * Known trap: `data` has `trap_oid` and each varbind the spec names, found by OID prefix (the
 * varbind is the spec OID itself or below it). A table column's row index is kept as
 * `<name>_index` (a number, or text like "1.4" for a compound index), except when the value is
 * the index itself (ifIndex.3 = 3), the spec names that field, or the name would be too long.
 *
 * Unknown trap: type `snmp_trap`, severity `info`, `data` with `trap_oid` and the first
 * MAX_UNKNOWN_VARBINDS varbinds as `vb1_oid`/`vb1`, `vb2_oid`/`vb2`, …
 */
export function trapToEvent(trap: Pick<ReceivedTrap, 'trapOid' | 'varbinds'>, specs: Readonly<Record<string, TrapSpec>>, language: Language): DeviceEvent {
  const trapOid = cutText(trap.trapOid);
  // Object.hasOwn: a trap OID is sender-controlled text, "__proto__" must not find a spec.
  const spec = Object.hasOwn(specs, trap.trapOid) ? specs[trap.trapOid] : Object.hasOwn(STANDARD_TRAPS, trap.trapOid) ? STANDARD_TRAPS[trap.trapOid] : undefined;
  if (!spec) {
    const data: EventData = { trap_oid: trapOid };
    trap.varbinds.slice(0, MAX_UNKNOWN_VARBINDS).forEach((vb, i) => {
      data[`vb${i + 1}_oid`] = cutText(vb.oid);
      data[`vb${i + 1}`] = fieldValue(vb.value);
    });
    const message = language === 'tr' ? `Tanınmayan SNMP trap'i alındı: ${trapOid}` : `Unrecognised SNMP trap received: ${trapOid}`;
    return { type: 'snmp_trap', severity: 'info', message, data };
  }
  return { type: spec.type, severity: spec.severity, message: spec.message[language], data: { ...specData(spec.data ?? {}, trap.varbinds), trap_oid: trapOid } };
}

function specData(wanted: Readonly<Record<string, string>>, varbinds: readonly TrapVarbind[]): EventData {
  const data: EventData = {};
  for (const [name, oid] of Object.entries(wanted)) {
    const vb = varbinds.find((v) => v.oid === oid || v.oid.startsWith(`${oid}.`));
    if (!vb) continue;
    data[name] = fieldValue(vb.value);
    const suffix = vb.oid.slice(oid.length + 1);
    const indexName = `${name}_index`;
    if (suffix === '' || suffix === '0' || Object.hasOwn(wanted, indexName) || !CONTRACT_NAME.test(indexName)) continue;
    const index = /^\d+$/.test(suffix) ? Number(suffix) : cutText(suffix);
    if (index !== vb.value) data[indexName] = index;
  }
  return data;
}

function fieldValue(value: number | string): number | string {
  if (typeof value === 'string') return cutText(value);
  // The contract refuses NaN and ±Infinity; keep what was sent, as text.
  return Number.isFinite(value) ? value : String(value);
}

/** At most `max` UTF-16 units (the contract counts those), never splitting a surrogate pair. */
export function cutText(text: string, max = MAX_TEXT): string {
  if (text.length <= max) return text;
  const end = /[\ud800-\udbff]/.test(text[max - 1]!) ? max - 1 : max;
  return text.slice(0, end);
}

export interface TrapSender {
  site: string;
  device: string;
  /** The configured device, or undefined when the sender is not in the inventory. */
  entry: DeviceEntry | undefined;
}

export const UNKNOWN_SITE = 'unknown';

/**
 * Which configured device sent a trap: the host part of each device's `address` compared with
 * the packet's source address, then (v1) with the agent-addr the trap names, for traps relayed
 * or NATed on the way. No DNS here: a device configured by host name matches only when the
 * caller passes the resolved address. Unknown senders are still reported: site `unknown`,
 * device = the address made into an id (10.0.0.5 → 10-0-0-5).
 */
export function deviceForSource(sourceAddress: string, devices: readonly DeviceEntry[], agentAddress?: string): TrapSender {
  const source = normaliseHost(sourceAddress);
  const byHost = (host: string) => devices.find((d) => normaliseHost(parseAddress(d.address, 161).host) === host);
  const entry = byHost(source) ?? (agentAddress ? byHost(normaliseHost(agentAddress)) : undefined);
  if (entry) return { site: entry.site, device: entry.id, entry };
  return { site: UNKNOWN_SITE, device: addressId(source), entry: undefined };
}

/** Lower case, and an IPv4-mapped IPv6 address (::ffff:10.0.0.5, from a udp6 socket) as IPv4. */
function normaliseHost(host: string): string {
  const lower = host.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  return mapped ? mapped[1]! : lower;
}

function addressId(host: string): string {
  const id = host.replace(/[^a-z0-9]/g, '-');
  // "::1" → "--1": an id must start with a letter or digit.
  return (/^[a-z0-9]/.test(id) ? id : `0${id}`).slice(0, 64);
}
