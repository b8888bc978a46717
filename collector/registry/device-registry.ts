import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { InventoryMessage, StateMessage } from '../../src/contract/schemas.ts';
import type { DeviceAddress } from '../../src/contract/topics.ts';
import type { StateTransition } from '../ingest/ingest.ts';
import { ensurePrivateFile } from '../../src/private-files.ts';
import { migrateStore, type StoreSchema } from '../storage/schema-version.ts';
import { timedOut } from './heartbeat.ts';

// Device registry in the embedded store (Node's built-in SQLite). The hot ingest path only
// touches an in-memory map; `last_seen` is written back in one transaction per second, so a
// flood of metrics never turns into a flood of disk writes.

export interface DeviceSummary {
  site: string;
  device: string;
  kind: string;
  online: boolean;
  stateSince: number;
  offlineReason: string | null;
  firstSeen: number;
  lastSeen: number;
  intervalS: number | null;
  agent: { name: string; version: string } | null;
  inventoryAt: number | null;
}

export interface DeviceDetail extends DeviceSummary {
  bootTime: number | null;
  inventoryHash: string | null;
}

interface Row {
  site: string;
  device: string;
  kind: string;
  online: number;
  state_since: number;
  offline_reason: string | null;
  first_seen: number;
  last_seen: number;
  interval_s: number | null;
  boot_time: number | null;
  agent_name: string | null;
  agent_version: string | null;
  inventory_hash: string | null;
  inventory_at: number | null;
}

export const REGISTRY_SCHEMA: StoreSchema = {
  name: 'device registry',
  migrations: [
    `CREATE TABLE devices (
        site TEXT NOT NULL, device TEXT NOT NULL, kind TEXT NOT NULL DEFAULT 'other',
        online INTEGER NOT NULL DEFAULT 0, state_since INTEGER NOT NULL, offline_reason TEXT,
        first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, interval_s REAL, boot_time INTEGER,
        agent_name TEXT, agent_version TEXT,
        inventory_json TEXT, inventory_hash TEXT, inventory_at INTEGER,
        PRIMARY KEY (site, device))`,
  ],
};

const keyOf = (a: DeviceAddress) => `${a.site}/${a.device}`;

export interface RegistryOptions {
  /** Floor of the heartbeat timeout, seconds. */
  heartbeatTimeoutS: number;
}

export class DeviceRegistry {
  private readonly db: DatabaseSync;
  private readonly options: RegistryOptions;
  private readonly cache = new Map<string, Row>();
  private readonly dirtySeen = new Set<string>();
  private readonly stmts: Record<'upsert' | 'seen' | 'inventory', StatementSync>;
  private readonly flushTimer: NodeJS.Timeout;

  static open(path: string, options: RegistryOptions = { heartbeatTimeoutS: 60 }): DeviceRegistry {
    // Owner-only like the other stores: inventories name hosts, serials and (optionally) users (KVKK).
    if (path !== ':memory:') ensurePrivateFile(path);
    const db = new DatabaseSync(path);
    try {
      db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;');
      migrateStore(db, REGISTRY_SCHEMA, path);
    } catch (error) {
      db.close();
      throw error;
    }
    return new DeviceRegistry(db, options);
  }

  private constructor(db: DatabaseSync, options: RegistryOptions) {
    this.db = db;
    this.options = options;
    this.stmts = {
      upsert: db.prepare(`INSERT INTO devices (site, device, kind, online, state_since, offline_reason, first_seen, last_seen, interval_s, boot_time, agent_name, agent_version)
        VALUES (:site, :device, :kind, :online, :state_since, :offline_reason, :first_seen, :last_seen, :interval_s, :boot_time, :agent_name, :agent_version)
        ON CONFLICT (site, device) DO UPDATE SET kind = excluded.kind, online = excluded.online, state_since = excluded.state_since,
          offline_reason = excluded.offline_reason, last_seen = excluded.last_seen, interval_s = excluded.interval_s,
          boot_time = excluded.boot_time, agent_name = excluded.agent_name, agent_version = excluded.agent_version`),
      seen: db.prepare('UPDATE devices SET last_seen = ? WHERE site = ? AND device = ?'),
      inventory: db.prepare('UPDATE devices SET inventory_json = ?, inventory_hash = ?, inventory_at = ? WHERE site = ? AND device = ?'),
    };
    // The inventory JSON stays on disk (read on demand); the cache holds exactly the Row columns, which persist() writes back.
    const columns = 'site, device, kind, online, state_since, offline_reason, first_seen, last_seen, interval_s, boot_time, agent_name, agent_version, inventory_hash, inventory_at';
    for (const row of db.prepare(`SELECT ${columns} FROM devices`).all() as unknown as Row[]) this.cache.set(keyOf(row), { ...row });
    this.flushTimer = setInterval(() => this.flushSeen(), 1000);
    this.flushTimer.unref();
  }

  kindOf(address: DeviceAddress): string {
    return this.cache.get(keyOf(address))?.kind ?? 'other';
  }

  recordState(address: DeviceAddress, msg: StateMessage, receivedAt: number): StateTransition | null {
    const known = this.cache.has(keyOf(address));
    const row = this.ensure(address, receivedAt);
    const online = msg.state === 'online';
    // Pollers know a device's kind even when it never answered; an agent's last will has no kind.
    row.kind = msg.kind ?? row.kind;
    if (online) {
      row.interval_s = msg.intervalS ?? row.interval_s;
      row.boot_time = msg.bootTime ?? row.boot_time;
      row.agent_name = msg.agent?.name ?? row.agent_name;
      row.agent_version = msg.agent?.version ?? row.agent_version;
      row.last_seen = receivedAt;
    }
    // A device first heard of as offline (a polled device that never answered) is a transition too: its reason must be recorded.
    return this.setOnline(row, online, online ? 'birth' : (msg.reason ?? 'offline'), receivedAt, !known && !online);
  }

  recordSeen(address: DeviceAddress, receivedAt: number): StateTransition | null {
    const row = this.ensure(address, receivedAt);
    row.last_seen = Math.max(row.last_seen, receivedAt);
    this.dirtySeen.add(keyOf(address));
    return row.online ? null : this.setOnline(row, true, 'seen', receivedAt);
  }

  recordInventory(address: DeviceAddress, msg: InventoryMessage, receivedAt: number): { changed: boolean } {
    const row = this.ensure(address, receivedAt);
    if (row.inventory_hash === msg.hash) return { changed: false };
    row.inventory_hash = msg.hash;
    row.inventory_at = receivedAt;
    this.stmts.inventory.run(JSON.stringify(msg.inventory), msg.hash, receivedAt, address.site, address.device);
    return { changed: true };
  }

  /** Marks silent devices offline (`heartbeat_timeout`) and returns the transitions. */
  sweep(now: number): StateTransition[] {
    const online = [...this.cache.entries()].filter(([, r]) => r.online).map(([key, r]) => ({ key, lastSeen: r.last_seen, intervalS: r.interval_s }));
    return timedOut(online, now, this.options.heartbeatTimeoutS).flatMap((key) => {
      const change = this.setOnline(this.cache.get(key)!, false, 'heartbeat_timeout', now);
      return change ? [change] : [];
    });
  }

  list(filter: { site?: string | undefined; online?: boolean | undefined; kind?: string | undefined } = {}): DeviceSummary[] {
    return [...this.cache.values()]
      .filter((r) => (filter.site === undefined || r.site === filter.site) && (filter.online === undefined || Boolean(r.online) === filter.online) && (filter.kind === undefined || r.kind === filter.kind))
      .sort((a, b) => a.site.localeCompare(b.site) || a.device.localeCompare(b.device))
      .map(summary);
  }

  get(address: DeviceAddress): DeviceDetail | null {
    const row = this.cache.get(keyOf(address));
    return row ? { ...summary(row), bootTime: row.boot_time, inventoryHash: row.inventory_hash } : null;
  }

  inventory(address: DeviceAddress): unknown {
    const found = this.db.prepare('SELECT inventory_json FROM devices WHERE site = ? AND device = ?').get(address.site, address.device) as { inventory_json: string | null } | undefined;
    return found?.inventory_json ? JSON.parse(found.inventory_json) : null;
  }

  sites(): { site: string; total: number; online: number }[] {
    const bySite = new Map<string, { site: string; total: number; online: number }>();
    for (const r of this.cache.values()) {
      const s = bySite.get(r.site) ?? { site: r.site, total: 0, online: 0 };
      s.total++;
      s.online += r.online;
      bySite.set(r.site, s);
    }
    return [...bySite.values()].sort((a, b) => a.site.localeCompare(b.site));
  }

  close(): void {
    clearInterval(this.flushTimer);
    this.flushSeen();
    this.db.close();
  }

  private ensure(address: DeviceAddress, now: number): Row {
    const key = keyOf(address);
    let row = this.cache.get(key);
    if (!row) {
      row = { site: address.site, device: address.device, kind: 'other', online: 0, state_since: now, offline_reason: null, first_seen: now, last_seen: now, interval_s: null, boot_time: null, agent_name: null, agent_version: null, inventory_hash: null, inventory_at: null };
      this.cache.set(key, row);
      this.persist(row);
    }
    return row;
  }

  private setOnline(row: Row, online: boolean, reason: string, at: number, force = false): StateTransition | null {
    const changed = force || Boolean(row.online) !== online;
    if (changed) {
      row.online = online ? 1 : 0;
      row.state_since = at;
      row.offline_reason = online ? null : reason;
    }
    this.persist(row);
    return changed ? { site: row.site, device: row.device, kind: row.kind, online, reason, at } : null;
  }

  private persist(row: Row): void {
    const { inventory_hash: _h, inventory_at: _a, ...columns } = row;
    this.stmts.upsert.run(columns);
  }

  private flushSeen(): void {
    if (this.dirtySeen.size === 0) return;
    this.db.exec('BEGIN');
    for (const key of this.dirtySeen) {
      const row = this.cache.get(key);
      if (row) this.stmts.seen.run(row.last_seen, row.site, row.device);
    }
    this.db.exec('COMMIT');
    this.dirtySeen.clear();
  }
}

function summary(r: Row): DeviceSummary {
  return {
    site: r.site,
    device: r.device,
    kind: r.kind,
    online: Boolean(r.online),
    stateSince: r.state_since,
    offlineReason: r.offline_reason,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    intervalS: r.interval_s,
    agent: r.agent_name ? { name: r.agent_name, version: r.agent_version ?? '' } : null,
    inventoryAt: r.inventory_at,
  };
}
