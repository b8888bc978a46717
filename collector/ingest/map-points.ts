import type { EventMessage, InventoryMessage, MetricsMessage } from '../../src/contract/schemas.ts';
import type { DeviceAddress } from '../../src/contract/topics.ts';
import type { FieldValue, Point } from '../model/point.ts';

// Pure mapping of validated contract messages to points, as docs/data-model.md describes.
// Numbers and booleans become floats so that no device can cause a field type conflict.

function storedValue(value: FieldValue): FieldValue {
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value;
}

function deviceTags(address: DeviceAddress, kind: string): Record<string, string> {
  return { site: address.site, device: address.device, kind };
}

export function metricsToPoints(address: DeviceAddress, kind: string, msg: MetricsMessage): Point[] {
  return msg.metrics.map((metric) => {
    const fields: Record<string, FieldValue> = {};
    for (const [name, value] of Object.entries(metric.fields)) fields[name] = storedValue(value);
    const tags = { ...deviceTags(address, kind) };
    for (const [key, value] of Object.entries(metric.tags ?? {})) if (value !== undefined) tags[key as keyof typeof tags] = value;
    return { measurement: metric.name, tags, fields, time: msg.ts };
  });
}

export function eventToPoint(address: DeviceAddress, kind: string, msg: EventMessage): Point {
  const fields: Record<string, FieldValue> = { count: 1 };
  if (msg.message !== undefined) fields.message = msg.message;
  if (msg.data !== undefined) fields.data = JSON.stringify(msg.data);
  return { measurement: 'events', tags: { ...deviceTags(address, kind), type: msg.type, severity: msg.severity }, fields, time: msg.ts };
}

export function stateToPoint(address: DeviceAddress, kind: string, online: boolean, reason: string, time: number): Point {
  return { measurement: 'device_state', tags: deviceTags(address, kind), fields: { online: online ? 1 : 0, reason }, time };
}

/**
 * `device_info`: what the dashboards show about a device beside its id — the host name as the
 * device reports it ("BİLGİİŞLEM-PC01" for the id "bilgiislem-pc01") and a few basics of its
 * inventory. Strings only, so no device can make a field's type change. Null when the inventory
 * has none of them (an empty point cannot be written).
 */
export function inventoryToPoint(address: DeviceAddress, kind: string, msg: InventoryMessage): Point | null {
  const { system, os } = msg.inventory;
  const candidates: Record<string, string | undefined> = {
    display_name: os?.hostname,
    manufacturer: system.manufacturer,
    model: system.model,
    serial: system.serial,
    os: os?.distro,
    os_release: os?.release,
  };
  const fields: Record<string, FieldValue> = {};
  for (const [name, value] of Object.entries(candidates)) if (value !== undefined && value.trim() !== '') fields[name] = value.trim();
  return Object.keys(fields).length > 0 ? { measurement: 'device_info', tags: deviceTags(address, kind), fields, time: msg.ts } : null;
}
