import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

// Secrets the collector hands out (enrollment tokens, device passwords, API tokens) are 256
// random bits, shown once and stored only as a SHA-256 hash. A slow password hash (scrypt)
// protects guessable human passwords; against 256 random bits it would only cost CPU on every
// one of thousands of agent connections, so a plain hash is the right tool here.

/** A new random secret, URL- and YAML-safe. */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** A short public id that names a token in lists and the audit log without revealing it. */
export function newTokenId(): string {
  return randomBytes(6).toString('hex');
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Constant-time comparison of a presented secret with a stored hash. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const presented = Buffer.from(hashSecret(secret), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

/** Tokens travel as `<prefix>_<id>.<secret>`: the id finds the row, the secret proves possession. */
export function formatToken(prefix: 'enr' | 'api', id: string, secret: string): string {
  return `${prefix}_${id}.${secret}`;
}

export function parseToken(prefix: 'enr' | 'api', token: string): { id: string; secret: string } | undefined {
  const match = new RegExp(`^${prefix}_([0-9a-f]{12})\\.([A-Za-z0-9_-]{43})$`).exec(token.trim());
  return match ? { id: match[1]!, secret: match[2]! } : undefined;
}
