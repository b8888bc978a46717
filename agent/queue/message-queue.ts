// Messages waiting for the broker. Bounded: when full, the oldest health samples go first and
// events last, because an event (a reboot) says more than one more CPU sample. What was dropped
// is counted and reported when the agent reconnects. (A durable on-disk queue is issue #4.)

export interface QueuedMessage {
  topic: string;
  payload: string;
  retain: boolean;
  /** Lower is dropped first. */
  priority: 'sample' | 'event';
}

export interface MessageQueue {
  push(message: QueuedMessage): void;
  shift(): QueuedMessage | undefined;
  readonly size: number;
  /** Dropped since the last call, by priority; resets the count. */
  takeDropped(): { samples: number; events: number };
}

export function createMemoryQueue(maxMessages: number): MessageQueue {
  const items: QueuedMessage[] = [];
  let droppedSamples = 0;
  let droppedEvents = 0;
  return {
    push(message) {
      items.push(message);
      while (items.length > maxMessages) {
        const victim = items.findIndex((m) => m.priority === 'sample');
        const [dropped] = items.splice(victim === -1 ? 0 : victim, 1);
        if (dropped?.priority === 'event') droppedEvents++;
        else droppedSamples++;
      }
    },
    shift: () => items.shift(),
    get size() {
      return items.length;
    },
    takeDropped() {
      const out = { samples: droppedSamples, events: droppedEvents };
      droppedSamples = 0;
      droppedEvents = 0;
      return out;
    },
  };
}
