import { join } from 'node:path';
import type { Logger } from '../../src/log.ts';
import { createMemoryQueue, type MessageQueue } from './message-queue.ts';
import { openSqliteQueue } from './sqlite-queue.ts';

/**
 * `<stateDir>/queue.sqlite`, or, when it cannot be created or read (a read-only or full disk, a
 * damaged file), the in-memory queue: the agent keeps sending, and the operator learns from one
 * error line that what waits for the broker is lost on a restart.
 */
export function openQueue(stateDir: string, maxMessages: number, log: Logger): MessageQueue {
  const path = join(stateDir, 'queue.sqlite');
  try {
    return openSqliteQueue(path, maxMessages);
  } catch (error) {
    log.log('error', 'cannot open the offline queue file; queued messages are kept in memory and will not survive a restart', { path, error });
    return createMemoryQueue(maxMessages);
  }
}
