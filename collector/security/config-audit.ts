import { redact } from '../../src/log.ts';

// The collector's configuration is changed in files on its host; at every start the collector
// records in the audit log what differs from the configuration it last ran with, with secrets
// redacted, so "who changed the limits, and when" has an answer next to the identity changes.

type Flat = Record<string, string>;

/** Pure: nested values as `a.b.c` → JSON text, secrets redacted. */
export function flattenConfig(value: unknown, prefix = '', out: Flat = {}): Flat {
  const redacted = prefix === '' ? redact(value) : value;
  if (redacted !== null && typeof redacted === 'object' && !Array.isArray(redacted)) {
    for (const [key, inner] of Object.entries(redacted)) flattenConfig(inner, prefix ? `${prefix}.${key}` : key, out);
  } else {
    out[prefix] = JSON.stringify(redacted) ?? 'undefined';
  }
  return out;
}

/** Pure: `key: old → new` for every key added, removed or changed. */
export function configChanges(previous: Flat, current: Flat): string[] {
  const keys = [...new Set([...Object.keys(previous), ...Object.keys(current)])].sort();
  return keys.filter((k) => previous[k] !== current[k]).map((k) => `${k}: ${previous[k] ?? '(unset)'} → ${current[k] ?? '(unset)'}`);
}
