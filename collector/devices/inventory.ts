import { z } from 'zod';
import { ID_PATTERN } from '../../src/contract/topics.ts';

// The devices the collector polls, as configuration (devices.yaml). Credentials are named, not
// written here: `credential: ups-ro` refers to an entry of the secrets file.

const id = z.string().regex(ID_PATTERN, 'expected a lower-case id like "ups-sistem-odasi"');

/** An interface that is "the fiber link to site X": its points get the tag link=<to>. */
const linkSchema = z.strictObject({
  iface: z.string().min(1).max(128),
  to: id,
  description: z.string().max(200).optional(),
});

export const deviceEntrySchema = z.strictObject({
  site: id,
  id,
  /** Host name or IP address; a port may follow (10.0.0.5:1161, [fd00::5]:161). */
  address: z.string().min(1).max(255),
  profile: z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(8)]).transform((p) => (Array.isArray(p) ? p : [p])),
  credential: z.string().min(1).optional(),
  intervalS: z.number().min(1).max(86_400).optional(),
  timeoutMs: z.number().int().min(100).max(60_000).optional(),
  retries: z.number().int().min(0).max(5).optional(),
  links: z.array(linkSchema).max(256).default([]),
  /** Driver-specific settings (an HTTP probe's path and keyword, a line's source address): each driver validates its own. */
  options: z.record(z.string().regex(/^[a-zA-Z][a-zA-Z0-9]{0,63}$/), z.unknown()).default({}),
  description: z.string().max(200).optional(),
});
export type DeviceEntry = z.infer<typeof deviceEntrySchema>;

export const devicesFileSchema = z.strictObject({
  devices: z
    .array(deviceEntrySchema)
    .max(20_000)
    .default([])
    .superRefine((devices, ctx) => {
      const seen = new Set<string>();
      devices.forEach((d, i) => {
        const key = `${d.site}/${d.id}`;
        if (seen.has(key)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `${key} is listed twice` });
        seen.add(key);
      });
    }),
});
export type DevicesFile = z.infer<typeof devicesFileSchema>;

/** Splits "host", "host:port", "[v6]:port" and a bare IPv6 address. */
export function parseAddress(address: string, defaultPort: number): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(address);
  if (bracketed) return { host: bracketed[1]!, port: bracketed[2] ? Number(bracketed[2]) : defaultPort };
  const parts = address.split(':');
  if (parts.length === 2) return { host: parts[0]!, port: Number(parts[1]) };
  return { host: address, port: defaultPort };
}
