// The one in-memory shape every source becomes at the edge (agent messages, SNMP polls,
// traps, HTTP drivers) and every consumer downstream sees (writers, spool, rules, registry).

export type FieldValue = number | boolean | string;

export interface Point {
  measurement: string;
  /** Bounded values only (site, device, kind, mount, iface, …): they form InfluxDB series keys. */
  tags: Record<string, string>;
  fields: Record<string, FieldValue>;
  /** Milliseconds since the epoch. */
  time: number;
}
