import { DatabaseSync } from 'node:sqlite';
import { ensurePrivateFile } from '../../src/private-files.ts';
import type { DeviceAddress } from '../../src/contract/topics.ts';
import { migrateStore, type StoreSchema } from '../storage/schema-version.ts';
import { deviceUsername, enrollmentRefusal, type ApiRole, type EnrollmentTokenRow } from './policy.ts';
import { formatToken, hashSecret, newSecret, newTokenId, parseToken, secretMatches } from './secrets.ts';

// Enrollment tokens, device credentials, API tokens and the audit log, in their own SQLite
// file (readable by the collector's service account only). Only hashes of secrets are kept.
// The admin CLI writes the same file while the collector runs: WAL lets both in, and the
// collector polls `revokedSince` to disconnect a revoked device at once.

export interface AuditEntry {
  at: number;
  actor: string;
  action: string;
  target: string;
  detail: Record<string, unknown>;
}

export interface EnrollmentTokenInfo extends EnrollmentTokenRow {
  id: string;
  createdAt: number;
  createdBy: string;
}

export interface DeviceCredentialInfo extends DeviceAddress {
  username: string;
  createdAt: number;
  revokedAt: number | null;
}

export interface ApiTokenInfo {
  id: string;
  name: string;
  role: ApiRole;
  createdAt: number;
  revokedAt: number | null;
}

export type EnrollResult = { ok: true; username: string; password: string } | { ok: false; reason: string };

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS enrollment_tokens (id TEXT PRIMARY KEY, site TEXT NOT NULL, hash TEXT NOT NULL,
    expires_at INTEGER NOT NULL, max_uses INTEGER NOT NULL, uses INTEGER NOT NULL DEFAULT 0, revoked_at INTEGER,
    created_at INTEGER NOT NULL, created_by TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS device_credentials (username TEXT PRIMARY KEY, site TEXT NOT NULL, device TEXT NOT NULL,
    hash TEXT NOT NULL, created_at INTEGER NOT NULL, revoked_at INTEGER);
  CREATE TABLE IF NOT EXISTS api_tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, hash TEXT NOT NULL,
    created_at INTEGER NOT NULL, revoked_at INTEGER);
  CREATE TABLE IF NOT EXISTS audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS device_credentials_revoked ON device_credentials (revoked_at);`;

/** Version 1 is release 1's schema (its files have no schema_version table). */
export const SECURITY_SCHEMA: StoreSchema = { name: 'security store', migrations: [SCHEMA] };

export class SecurityStore {
  private readonly db: DatabaseSync;

  private constructor(db: DatabaseSync) {
    this.db = db;
  }

  static open(path: string): SecurityStore {
    if (path !== ':memory:') ensurePrivateFile(path);
    const db = new DatabaseSync(path);
    try {
      db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;');
      migrateStore(db, SECURITY_SCHEMA, path);
    } catch (error) {
      db.close();
      throw error;
    }
    return new SecurityStore(db);
  }

  close(): void {
    this.db.close();
  }

  audit(actor: string, action: string, target: string, detail: Record<string, unknown> = {}, at = Date.now()): void {
    this.db.prepare('INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)').run(at, actor, action, target, JSON.stringify(detail));
  }

  auditLog(limit = 100): AuditEntry[] {
    const rows = this.db.prepare('SELECT at, actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT ?').all(limit) as { at: number; actor: string; action: string; target: string; detail: string }[];
    return rows.map((r) => ({ at: r.at, actor: r.actor, action: r.action, target: r.target, detail: JSON.parse(r.detail) as Record<string, unknown> }));
  }

  /** The detail of the newest audit entry of this action, e.g. the configuration the collector last ran with. */
  lastAuditDetail(action: string): Record<string, unknown> | undefined {
    const row = this.db.prepare('SELECT detail FROM audit_log WHERE action = ? ORDER BY id DESC LIMIT 1').get(action) as { detail: string } | undefined;
    return row ? (JSON.parse(row.detail) as Record<string, unknown>) : undefined;
  }

  createEnrollmentToken(options: { site: string; maxUses: number; expiresAt: number; actor: string; now?: number }): { id: string; token: string } {
    const id = newTokenId();
    const secret = newSecret();
    const now = options.now ?? Date.now();
    this.db
      .prepare('INSERT INTO enrollment_tokens (id, site, hash, expires_at, max_uses, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(id, options.site, hashSecret(secret), options.expiresAt, options.maxUses, now, options.actor);
    this.audit(options.actor, 'enrollment_token.create', `token:${id}`, { site: options.site, maxUses: options.maxUses, expiresAt: new Date(options.expiresAt).toISOString() }, now);
    return { id, token: formatToken('enr', id, secret) };
  }

  enrollmentTokens(): EnrollmentTokenInfo[] {
    const rows = this.db.prepare('SELECT * FROM enrollment_tokens ORDER BY created_at').all() as Record<string, unknown>[];
    return rows.map((r) => ({ id: String(r.id), site: String(r.site), expiresAt: Number(r.expires_at), maxUses: Number(r.max_uses), uses: Number(r.uses), revokedAt: r.revoked_at === null ? null : Number(r.revoked_at), createdAt: Number(r.created_at), createdBy: String(r.created_by) }));
  }

  revokeEnrollmentToken(id: string, actor: string): boolean {
    const changed = this.db.prepare('UPDATE enrollment_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(Date.now(), id).changes > 0;
    if (changed) this.audit(actor, 'enrollment_token.revoke', `token:${id}`);
    return changed;
  }

  /**
   * Spends one use of the token and issues the device its own credentials. A device that holds
   * active credentials cannot enroll again: otherwise anyone with a site token could take over
   * an existing device's identity. Re-installing means revoking first.
   */
  enroll(token: string, address: DeviceAddress, now = Date.now()): EnrollResult {
    const parsed = parseToken('enr', token);
    const row = parsed ? (this.db.prepare('SELECT site, hash, expires_at, max_uses, uses, revoked_at FROM enrollment_tokens WHERE id = ?').get(parsed.id) as Record<string, unknown> | undefined) : undefined;
    const known = row && parsed && secretMatches(parsed.secret, String(row.hash)) ? row : undefined;
    const tokenRow: EnrollmentTokenRow | undefined = known && { site: String(known.site), expiresAt: Number(known.expires_at), maxUses: Number(known.max_uses), uses: Number(known.uses), revokedAt: known.revoked_at === null ? null : Number(known.revoked_at) };
    const target = deviceUsername(address);
    const refusal = enrollmentRefusal(tokenRow, address.site, now) ?? (this.hasActiveCredentials(target) ? `device ${target} is already enrolled; an administrator must revoke it before it can enroll again` : undefined);
    if (refusal) {
      this.audit(`token:${parsed?.id ?? 'unknown'}`, 'device.enroll_refused', target, { reason: refusal }, now);
      return { ok: false, reason: refusal };
    }
    // The use is counted in the same transaction that issues the credentials: two agents
    // racing for the last use cannot both get one.
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const spent = this.db.prepare('UPDATE enrollment_tokens SET uses = uses + 1 WHERE id = ? AND uses < max_uses').run(parsed!.id).changes;
      if (spent === 0) {
        this.db.exec('ROLLBACK');
        return { ok: false, reason: 'enrollment token is used up' };
      }
      const password = this.writeCredentials(address, now);
      this.audit(`token:${parsed!.id}`, 'device.enroll', target, {}, now);
      this.db.exec('COMMIT');
      return { ok: true, username: target, password };
    } catch (error) {
      this.db.exec('ROLLBACK');
      throw error;
    }
  }

  /** Credentials for a device that cannot enroll itself (a kiosk, a script), issued by an administrator. */
  issueDeviceCredentials(address: DeviceAddress, actor: string): { username: string; password: string } {
    const password = this.writeCredentials(address, Date.now());
    this.audit(actor, 'device.credentials_issue', deviceUsername(address));
    return { username: deviceUsername(address), password };
  }

  /** The device proves its current password and gets a new one; the old one stops working. */
  rotateDeviceCredentials(username: string, password: string): { username: string; password: string } | undefined {
    const identity = this.verifyDevice(username, password);
    if (!identity) return undefined;
    const fresh = this.writeCredentials(identity, Date.now());
    this.audit(`device:${username}`, 'device.credentials_rotate', username);
    return { username, password: fresh };
  }

  revokeDevice(address: DeviceAddress, actor: string): boolean {
    const username = deviceUsername(address);
    const changed = this.db.prepare('UPDATE device_credentials SET revoked_at = ? WHERE username = ? AND revoked_at IS NULL').run(Date.now(), username).changes > 0;
    if (changed) this.audit(actor, 'device.revoke', username);
    return changed;
  }

  /** The device this user name and password belong to, unless unknown, wrong or revoked. */
  verifyDevice(username: string, password: string): DeviceAddress | undefined {
    const row = this.db.prepare('SELECT site, device, hash, revoked_at FROM device_credentials WHERE username = ?').get(username) as Record<string, unknown> | undefined;
    if (!row || row.revoked_at !== null || !secretMatches(password, String(row.hash))) return undefined;
    return { site: String(row.site), device: String(row.device) };
  }

  deviceCredentials(): DeviceCredentialInfo[] {
    const rows = this.db.prepare('SELECT username, site, device, created_at, revoked_at FROM device_credentials ORDER BY username').all() as Record<string, unknown>[];
    return rows.map((r) => ({ username: String(r.username), site: String(r.site), device: String(r.device), createdAt: Number(r.created_at), revokedAt: r.revoked_at === null ? null : Number(r.revoked_at) }));
  }

  /** User names revoked at or after `since` (the broker disconnects them). */
  revokedSince(since: number): string[] {
    return (this.db.prepare('SELECT username FROM device_credentials WHERE revoked_at >= ?').all(since) as { username: string }[]).map((r) => r.username);
  }

  createApiToken(options: { name: string; role: ApiRole; actor: string }): { id: string; token: string } {
    const id = newTokenId();
    const secret = newSecret();
    this.db.prepare('INSERT INTO api_tokens (id, name, role, hash, created_at) VALUES (?, ?, ?, ?, ?)').run(id, options.name, options.role, hashSecret(secret), Date.now());
    this.audit(options.actor, 'api_token.create', `api:${id}`, { name: options.name, role: options.role });
    return { id, token: formatToken('api', id, secret) };
  }

  verifyApiToken(token: string): ApiTokenInfo | undefined {
    const parsed = parseToken('api', token);
    if (!parsed) return undefined;
    const row = this.db.prepare('SELECT id, name, role, hash, created_at, revoked_at FROM api_tokens WHERE id = ?').get(parsed.id) as Record<string, unknown> | undefined;
    if (!row || row.revoked_at !== null || !secretMatches(parsed.secret, String(row.hash))) return undefined;
    return { id: String(row.id), name: String(row.name), role: row.role as ApiRole, createdAt: Number(row.created_at), revokedAt: null };
  }

  revokeApiToken(id: string, actor: string): boolean {
    const changed = this.db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(Date.now(), id).changes > 0;
    if (changed) this.audit(actor, 'api_token.revoke', `api:${id}`);
    return changed;
  }

  private hasActiveCredentials(username: string): boolean {
    return this.db.prepare('SELECT 1 FROM device_credentials WHERE username = ? AND revoked_at IS NULL').get(username) !== undefined;
  }

  private writeCredentials(address: DeviceAddress, now: number): string {
    const password = newSecret();
    this.db
      .prepare('INSERT INTO device_credentials (username, site, device, hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, NULL) ON CONFLICT (username) DO UPDATE SET hash = excluded.hash, created_at = excluded.created_at, revoked_at = NULL')
      .run(deviceUsername(address), address.site, address.device, hashSecret(password), now);
    return password;
  }
}
