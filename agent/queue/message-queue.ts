// Every message the agent sends waits here until the broker acknowledged it (PUBACK): the
// publisher reads the oldest, publishes them with QoS 1 and acknowledges each one here only then.
// Bounded: when full, the oldest health samples go first and events last, because an event (a
// reboot) says more than one more CPU sample. What was dropped is counted and reported when the
// agent reconnects. The durable implementation is ./sqlite-queue.ts; this in-memory one is the
// fallback when the state dir cannot hold it.

export interface QueuedMessage {
  topic: string;
  payload: string;
  retain: boolean;
  /** Lower is dropped first. */
  priority: 'sample' | 'event';
}

export interface StoredMessage extends QueuedMessage {
  /** Increasing in push order, never reused within a queue's lifetime. */
  id: number;
}

export interface DropCounts {
  samples: number;
  events: number;
}

export interface MessageQueue {
  /** Appends, evicting the oldest sample (else the oldest event) while over the bound. */
  push(message: QueuedMessage): void;
  /** Up to `limit` messages with an id above `afterId`, oldest first; they stay queued. */
  peek(limit: number, afterId: number): StoredMessage[];
  /** The broker has it: removes it (an id already evicted is ignored). */
  ack(id: number): void;
  /**
   * When anything was dropped since the last report, queues the report `toMessage` builds from
   * the counts and resets them in one step, so a crash neither loses nor repeats a report.
   */
  reportDropped(toMessage: (dropped: DropCounts) => QueuedMessage): DropCounts;
  close(): void;
}

export function createMemoryQueue(maxMessages: number): MessageQueue {
  const items: StoredMessage[] = [];
  const dropped: DropCounts = { samples: 0, events: 0 };
  let nextId = 1;
  const push = (message: QueuedMessage) => {
    items.push({ ...message, id: nextId++ });
    while (items.length > maxMessages) {
      const victim = items.findIndex((m) => m.priority === 'sample');
      const [gone] = items.splice(victim === -1 ? 0 : victim, 1);
      if (gone?.priority === 'event') dropped.events++;
      else dropped.samples++;
    }
  };
  return {
    push,
    peek: (limit, afterId) => items.filter((m) => m.id > afterId).slice(0, limit),
    ack(id) {
      const index = items.findIndex((m) => m.id === id);
      if (index !== -1) items.splice(index, 1);
    },
    reportDropped(toMessage) {
      const counts = { ...dropped };
      if (counts.samples + counts.events === 0) return counts;
      dropped.samples = 0;
      dropped.events = 0;
      push(toMessage(counts));
      return counts;
    },
    close: () => undefined,
  };
}
