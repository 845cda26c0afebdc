/**
 * Copying a large array into new shared memory, with idle workers' help. Most of such a copy is the
 * kernel providing fresh pages (a page fault for every 4 KiB written the first time), not the copy:
 * the calling thread took 45-50 ms for 100 MiB alone, and about 35 ms while two idle workers wrote
 * to the far end of the buffer first, so that its pages were there when the copy reached them
 * (bench W6, where every task waits for that copy).
 *
 * The buffer is cut into chunks, each with a state in a small shared array. The calling thread
 * copies the chunks in order from the first; helpers take chunks from the last, down, touch one
 * byte in every page of the chunk (the buffer is new, so it holds zeros, and they write zeros), and
 * stop at the first chunk the calling thread has claimed. A chunk is written by one thread at a
 * time: the calling thread waits for a helper to finish a chunk it is touching before copying into
 * it. A helper that comes late (busy when asked) finds every chunk claimed and touches nothing.
 */

/** Bytes of a chunk: the unit the calling thread and the helpers claim. */
export const CHUNK_BYTES = 1 << 20;
/** Bytes between two writes of a helper: one per page of the smallest size. */
const PAGE_BYTES = 4096;

/** Chunk states (cells 0 to n - 1 of the states array). */
const FREE = 0;
const TOUCHING = 1;
const TOUCHED = 2;
const COPYING = 3;

/** How long the calling thread sleeps at most between two checks of a chunk a helper touches (ms). */
const WAIT_MS = 5;

/** Number of chunks of a buffer of `bytes`. */
function chunkCount(bytes: number): number {
  return Math.ceil(bytes / CHUNK_BYTES);
}

/**
 * The shared states of a copy into a buffer of `bytes`: one cell per chunk, and a last cell with the
 * number of chunks no helper has taken yet (helpers take the one below it).
 */
export function copyStates(bytes: number): Int32Array {
  const count = chunkCount(bytes);
  const states = new Int32Array(new SharedArrayBuffer((count + 1) * Int32Array.BYTES_PER_ELEMENT));
  states[count] = count;
  return states;
}

/** Calling thread: copies `source` into `target` (as large), chunk by chunk, from the first. */
export function copyIntoShared(source: Uint8Array, target: SharedArrayBuffer, states: Int32Array): void {
  const into = new Uint8Array(target);
  const count = chunkCount(source.byteLength);
  for (let chunk = 0; chunk < count; chunk++) {
    for (;;) {
      const was = Atomics.compareExchange(states, chunk, FREE, COPYING);
      if (was !== TOUCHING) break; // FREE (now ours) or TOUCHED: the chunk is ours to write
      Atomics.wait(states, chunk, TOUCHING, WAIT_MS);
    }
    const start = chunk * CHUNK_BYTES;
    into.set(source.subarray(start, Math.min(start + CHUNK_BYTES, source.byteLength)), start);
  }
}

/** Helper: touches every page of the chunks it can take, from the last, while the copy is elsewhere. */
export function touchShared(target: SharedArrayBuffer, states: Int32Array): void {
  const bytes = new Uint8Array(target);
  const takeFrom = states.length - 1;
  for (;;) {
    const chunk = Atomics.sub(states, takeFrom, 1) - 1;
    if (chunk < 0 || Atomics.compareExchange(states, chunk, FREE, TOUCHING) !== FREE) return;
    const end = Math.min((chunk + 1) * CHUNK_BYTES, bytes.byteLength);
    for (let at = chunk * CHUNK_BYTES; at < end; at += PAGE_BYTES) bytes[at] = 0;
    Atomics.store(states, chunk, TOUCHED);
    Atomics.notify(states, chunk);
  }
}
