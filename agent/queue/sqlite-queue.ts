import { DatabaseSync } from 'node:sqlite';
import { ensurePrivateFile } from '../../src/private-files.ts';
import type { DropCounts, MessageQueue, QueuedMessage, StoredMessage } from './message-queue.ts';

// The offline queue on disk (Node's built-in SQLite), surviving an agent restart and a power
// cut: synchronous=FULL syncs every commit, which costs little at one message per intervalS.
// AUTOINCREMENT keeps ids increasing across restarts, so the id order is the send order.

const PRIORITY = { sample: 0, event: 1 } as const;
const PRIORITY_NAME = ['sample', 'event'] as const;
type PriorityCode = (typeof PRIORITY)[keyof typeof PRIORITY];

const SCHEMA_VERSION = 1;
const MIGRATIONS: Record<number, string> = {
  1: `CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, payload TEXT NOT NULL,
        retain INTEGER NOT NULL, priority INTEGER NOT NULL);
      CREATE INDEX messages_eviction ON messages (priority, id);
      CREATE TABLE dropped (priority INTEGER PRIMARY KEY, count INTEGER NOT NULL);
      INSERT INTO dropped VALUES (0, 0), (1, 0)`,
};

interface Row {
  id: number;
  topic: string;
  payload: string;
  retain: number;
  priority: PriorityCode;
}

function prepare(db: DatabaseSync) {
  // SQLite creates the -wal and -shm files with the database file's permissions.
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const current = (db.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number | null }).v ?? 0;
  for (let v = current + 1; v <= SCHEMA_VERSION; v++) {
    db.exec(`BEGIN; ${MIGRATIONS[v]}; INSERT INTO schema_version VALUES (${v}); COMMIT;`);
  }
  // A damaged file can pass the lines above and fail later on a page they did not read.
  const check = (db.prepare('PRAGMA quick_check').get() as { quick_check: string }).quick_check;
  if (check !== 'ok') throw new Error(`damaged queue file: ${check}`);
  return {
    insert: db.prepare('INSERT INTO messages (topic, payload, retain, priority) VALUES (?, ?, ?, ?)'),
    count: db.prepare('SELECT count(*) AS n FROM messages'),
    victim: db.prepare('SELECT id, priority FROM messages ORDER BY priority, id LIMIT 1'),
    remove: db.prepare('DELETE FROM messages WHERE id = ?'),
    peek: db.prepare('SELECT id, topic, payload, retain, priority FROM messages WHERE id > ? ORDER BY id LIMIT ?'),
    dropped: db.prepare('SELECT priority, count FROM dropped'),
    countDrop: db.prepare('UPDATE dropped SET count = count + 1 WHERE priority = ?'),
    resetDrops: db.prepare('UPDATE dropped SET count = 0'),
  };
}

/** Throws when the file cannot be created or read, or is not a queue database (open-queue.ts falls back). */
export function openSqliteQueue(path: string, maxMessages: number): MessageQueue {
  // Owner-only: queued messages carry the inventory (serial numbers, MACs, software).
  ensurePrivateFile(path);
  const db = new DatabaseSync(path);
  let stmts: ReturnType<typeof prepare>;
  try {
    stmts = prepare(db);
  } catch (error) {
    db.close();
    throw error;
  }

  const inTransaction = <T>(work: () => T): T => {
    db.exec('BEGIN IMMEDIATE');
    try {
      const result = work();
      db.exec('COMMIT');
      return result;
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
  };

  const insert = (message: QueuedMessage) => {
    stmts.insert.run(message.topic, message.payload, message.retain ? 1 : 0, PRIORITY[message.priority]);
    for (let excess = (stmts.count.get() as { n: number }).n - maxMessages; excess > 0; excess--) {
      const victim = stmts.victim.get() as { id: number; priority: PriorityCode };
      stmts.remove.run(victim.id);
      stmts.countDrop.run(victim.priority);
    }
  };

  return {
    push: (message) => inTransaction(() => insert(message)),
    peek: (limit, afterId) =>
      (stmts.peek.all(afterId, limit) as unknown as Row[]).map((r): StoredMessage => ({ id: r.id, topic: r.topic, payload: r.payload, retain: r.retain === 1, priority: PRIORITY_NAME[r.priority] })),
    ack: (id) => void stmts.remove.run(id),
    reportDropped(toMessage) {
      return inTransaction(() => {
        const counts: DropCounts = { samples: 0, events: 0 };
        for (const r of stmts.dropped.all() as unknown as { priority: PriorityCode; count: number }[]) counts[r.priority === PRIORITY.event ? 'events' : 'samples'] = r.count;
        if (counts.samples + counts.events > 0) {
          stmts.resetDrops.run();
          insert(toMessage(counts));
        }
        return counts;
      });
    },
    close: () => db.close(),
  };
}
