import { describe, expect, it } from 'vitest';
import type { DropCounts, MessageQueue, QueuedMessage } from '../../agent/queue/message-queue.ts';

// The contract every offline queue implementation passes (agent/queue/).

export interface QueueUnderTest {
  queue: MessageQueue;
  /** Closes the queue and opens it again from where it keeps its data (an agent restart); only durable queues. */
  reopen?: () => MessageQueue;
}

const msg = (name: string, priority: QueuedMessage['priority'] = 'sample', retain = false): QueuedMessage => ({ topic: `muni/v1/merkez/pc01/${name}`, payload: `{"n":"${name}"}`, retain, priority });
const names = (queue: MessageQueue) => queue.peek(1_000_000, 0).map((m) => m.payload.slice(6, -2));
const report = (dropped: DropCounts) => msg(`report-${dropped.samples}-${dropped.events}`, 'event');

export function describeQueueContract(name: string, traits: { durable: boolean }, open: (maxMessages: number) => QueueUnderTest) {
  describe(`${name}: offline queue contract`, () => {
    it('keeps messages in push order with increasing ids, and peeking does not remove them', () => {
      const { queue } = open(10);
      queue.push(msg('s1'));
      queue.push(msg('inv', 'event', true));
      queue.push(msg('s2'));
      const all = queue.peek(10, 0);
      expect(all.map(({ id: _id, ...m }) => m)).toEqual([msg('s1'), msg('inv', 'event', true), msg('s2')]);
      expect(all[0]!.id).toBeLessThan(all[1]!.id);
      expect(all[1]!.id).toBeLessThan(all[2]!.id);
      expect(queue.peek(2, 0).map((m) => m.id)).toEqual([all[0]!.id, all[1]!.id]);
      expect(queue.peek(10, all[1]!.id).map((m) => m.id)).toEqual([all[2]!.id]);
      expect(queue.peek(0, 0)).toEqual([]);
      expect(names(queue)).toEqual(['s1', 'inv', 's2']);
      queue.close();
    });

    it('removes a message only when acknowledged; an unknown id is ignored', () => {
      const { queue } = open(10);
      for (const n of ['s1', 's2', 's3']) queue.push(msg(n));
      const [first, second] = queue.peek(2, 0);
      queue.ack(second!.id);
      queue.ack(first!.id);
      queue.ack(first!.id);
      queue.ack(999_999);
      expect(names(queue)).toEqual(['s3']);
      queue.push(msg('s4'));
      expect(queue.peek(10, 0)[1]!.id).toBeGreaterThan(second!.id);
      queue.close();
    });

    it('when full drops the oldest samples first, events last, and counts both', () => {
      const { queue } = open(3);
      for (const [n, p] of [['e1', 'event'], ['s1', 'sample'], ['s2', 'sample'], ['s3', 'sample'], ['e2', 'event']] as const) queue.push(msg(n, p));
      expect(names(queue)).toEqual(['e1', 's3', 'e2']);
      queue.push(msg('e3', 'event'));
      queue.push(msg('e4', 'event'));
      expect(names(queue)).toEqual(['e2', 'e3', 'e4']);
      expect(queue.reportDropped(report)).toEqual({ samples: 3, events: 1 });
      queue.close();
    });

    it('queues one drop report and resets the counts; a quiet queue reports nothing', () => {
      const { queue } = open(3);
      expect(queue.reportDropped(() => expect.unreachable())).toEqual({ samples: 0, events: 0 });
      expect(names(queue)).toEqual([]);
      for (const n of ['s1', 's2', 's3', 's4']) queue.push(msg(n));
      expect(queue.reportDropped(report)).toEqual({ samples: 1, events: 0 });
      // The report is an event: queued last, pushing out one more sample, counted for next time.
      expect(names(queue)).toEqual(['s3', 's4', 'report-1-0']);
      const ackAll = () => queue.peek(10, 0).forEach((m) => queue.ack(m.id));
      ackAll();
      expect(queue.reportDropped(report)).toEqual({ samples: 1, events: 0 });
      ackAll();
      expect(queue.reportDropped(report)).toEqual({ samples: 0, events: 0 });
      expect(names(queue)).toEqual([]);
      queue.close();
    });

    // Only a durable queue has a restart to survive; the memory one gets no test (rather than a skipped one).
    if (traits.durable) {
      it('after a restart keeps the unacknowledged messages, their order and the drop counts', () => {
        const { queue, reopen } = open(3);
        for (const n of ['s1', 's2', 's3', 's4']) queue.push(msg(n));
        queue.push(msg('e1', 'event'));
        queue.ack(queue.peek(1, 0)[0]!.id);
        const before = queue.peek(10, 0);
        const again = reopen!();
        expect(again.peek(10, 0)).toEqual(before);
        again.push(msg('s5'));
        expect(again.peek(10, 0).at(-1)!.id).toBeGreaterThan(before.at(-1)!.id);
        expect(again.reportDropped(report)).toEqual({ samples: 2, events: 0 });
        again.close();
      });
    }
  });
}
