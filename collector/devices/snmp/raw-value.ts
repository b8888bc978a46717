// One SNMP value as the interpreter sees it, independent of the SNMP library: the adapter
// (session.ts) turns library varbinds into these, the pure interpreter only reads them.

export type RawValue =
  | { kind: 'integer' | 'gauge' | 'counter32' | 'timeticks'; value: number }
  | { kind: 'counter64'; value: bigint }
  | { kind: 'octets'; value: Buffer }
  | { kind: 'oid' | 'ip'; value: string }
  | { kind: 'other'; value: string };

/** Values of one poll: scalars by instance OID, table columns by column OID then row index. */
export interface RawPoll {
  scalars: Map<string, RawValue>;
  columns: Map<string, Map<string, RawValue>>;
}

const NUMERIC_TEXT = /^\s*-?\d+(\.\d+)?\s*$/;

/** A number from an integer-like value, or a number written as text (many sensors send "23.5"); else undefined. */
export function numberOf(raw: RawValue): number | undefined {
  switch (raw.kind) {
    case 'integer':
    case 'gauge':
    case 'counter32':
    case 'timeticks':
      return raw.value;
    case 'counter64':
      return Number(raw.value);
    case 'octets': {
      if (raw.value.length > 32) return undefined;
      const text = raw.value.toString('latin1');
      return NUMERIC_TEXT.test(text) ? Number(text) : undefined;
    }
    default:
      return undefined;
  }
}

/** Printable text from an OctetString (UTF-8 when valid, control characters removed), at most `max` characters. */
export function textOf(raw: RawValue, max: number): string | undefined {
  if (raw.kind === 'octets') {
    const text = new TextDecoder('utf-8', { fatal: false }).decode(raw.value.subarray(0, max * 4));
    // eslint-disable-next-line no-control-regex
    return text.replace(/[\u0000-\u001f\u007f\ufffd]/g, '').trim().slice(0, max);
  }
  if (raw.kind === 'oid' || raw.kind === 'ip') return raw.value.slice(0, max);
  if (raw.kind === 'counter64') return raw.value.toString();
  if (raw.kind === 'other') return undefined;
  return String(raw.value);
}

export function describeRaw(raw: RawValue): string {
  const shown = raw.kind === 'octets' ? `${raw.value.length} bytes` : String(raw.value).slice(0, 40);
  return `${raw.kind} ${shown}`;
}
