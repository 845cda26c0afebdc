/**
 * Copying a large array into new shared memory, with idle workers' help. Most of such a copy is the
 * kernel providing fresh pages (a page fault for every 4 KiB written the first time), not the copy:
 * the calling thread took 47-63 ms for 100 MiB alone, and 33-38 ms while two idle workers touched
 * the far end of the buffer first, so that its pages were there when the copy reached them (bench
 * W6, where every task waits for that copy; 4 alternating runs of each). When new pages come cheap,
 * the helpers gain little: one full bench run timed 35 ms alone and 41 ms helped.
 *
 * The buffer is cut into chunks. The calling thread copies them in order from the first, and says
 * which one it is at; helpers take chunks from the last, down, and stop at the calling thread's.
 * A helper touches a page with an atomic compare-exchange of 0 for 0 on one of its bytes: on a new
 * page the byte is 0, and storing 0 makes the kernel provide the page; where the copy got there
 * first, the comparison fails and the byte stays as the copy left it. So the calling thread never
 * waits for a helper (one that stops halfway, or comes late, changes nothing). That a compare-exchange
 * never undoes a plain write racing with it is a property of the hardware's atomic instructions
 * (x86-64, arm64), not one the JavaScript memory model promises for racing non-atomic writes. An
 * atomic add of 0 took twice as long, 90-100 ms against 40-50 for a plain write on 100 MiB of new
 * pages; the compare-exchange 45 ms.
 */

/** Bytes of a chunk: what a helper takes at a time. */
export const CHUNK_BYTES = 1 << 20;
/** Bytes between two touches of a helper: one per page of the smallest size. */
const PAGE_BYTES = 4096;

/** Cells of the states array: the chunk the calling thread copies, and how many chunks are left to take from the end. */
const COPYING_AT = 0;
const LEFT_TO_TAKE = 1;
/** {@link COPYING_AT} once the copy is done: past every chunk. */
const DONE = 0x7fffffff;

/** The shared states of a copy into a buffer of `bytes` (for {@link copyIntoShared} and {@link touchShared}). */
export function copyStates(bytes: number): Int32Array {
  const states = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
  states[LEFT_TO_TAKE] = Math.ceil(bytes / CHUNK_BYTES);
  return states;
}

/** Calling thread: copies `source` into `target` (as large), chunk by chunk, from the first. */
export function copyIntoShared(source: Uint8Array, target: SharedArrayBuffer, states: Int32Array): void {
  const into = new Uint8Array(target);
  for (let start = 0, chunk = 0; start < source.byteLength; start += CHUNK_BYTES, chunk++) {
    Atomics.store(states, COPYING_AT, chunk);
    into.set(source.subarray(start, Math.min(start + CHUNK_BYTES, source.byteLength)), start);
  }
  Atomics.store(states, COPYING_AT, DONE); // a helper that comes now takes nothing
}

/** Helper: touches every page of the chunks it can take, from the last, while the copy is elsewhere. */
export function touchShared(target: SharedArrayBuffer, states: Int32Array): void {
  const bytes = new Uint8Array(target);
  for (;;) {
    const chunk = Atomics.sub(states, LEFT_TO_TAKE, 1) - 1;
    if (chunk <= Atomics.load(states, COPYING_AT)) return;
    touchPages(bytes, chunk * CHUNK_BYTES, Math.min((chunk + 1) * CHUNK_BYTES, bytes.byteLength));
  }
}

/** Makes the kernel provide the pages of `bytes` from `from` to `to`, leaving every byte as it is. */
export function touchPages(bytes: Uint8Array, from: number, to: number): void {
  for (let at = from; at < to; at += PAGE_BYTES) Atomics.compareExchange(bytes, at, 0, 0);
}
