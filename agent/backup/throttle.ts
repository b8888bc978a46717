import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

// Reading a backup must not starve the machine's real work (the database that writes the next
// backup, file sharing): reads are paced to a byte rate, sleeping between chunks.

export interface ReadPace {
  bytesPerSecond: number;
  /** Byte range [start, end); `end` undefined reads to the end of the file. */
  start?: number;
  end?: number;
  signal?: AbortSignal;
}

const MIN_CHUNK = 64 * 1024;
const MAX_CHUNK = 1024 * 1024;

/** Chunks of `path` at no more than `bytesPerSecond` on average (the consumer's own time counts, so a slow consumer is not slowed further). */
export async function* pacedChunks(path: string, pace: ReadPace): AsyncGenerator<Buffer> {
  // Small chunks at low rates keep the pacing smooth instead of bursting a megabyte then sleeping.
  const chunkSize = Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, Math.floor(pace.bytesPerSecond / 8)));
  const handle = await open(path, 'r');
  try {
    const began = performance.now();
    let position = pace.start ?? 0;
    let done = 0;
    while (pace.end === undefined || position < pace.end) {
      pace.signal?.throwIfAborted();
      const want = pace.end === undefined ? chunkSize : Math.min(chunkSize, pace.end - position);
      const buffer = Buffer.allocUnsafe(want);
      const { bytesRead } = await handle.read(buffer, 0, want, position);
      if (bytesRead === 0) {
        if (pace.end !== undefined) throw new Error(`file ends at byte ${position}, before byte ${pace.end}`);
        return;
      }
      position += bytesRead;
      done += bytesRead;
      yield buffer.subarray(0, bytesRead);
      const aheadMs = (done / pace.bytesPerSecond) * 1000 - (performance.now() - began);
      if (aheadMs > 0) await sleep(aheadMs, undefined, pace.signal ? { signal: pace.signal } : undefined);
    }
  } finally {
    await handle.close();
  }
}
