/**
 * Garbage collection on request, in the thread that asks. Workers need it for shared copies (see
 * shared-copy.ts): a copy is freed only once no thread refers to it, and a worker that received one
 * holds it, as garbage, until its next collection. A worker whose tasks allocate little may not
 * collect for a long time, so each call with a new 100 MiB array kept 100 MiB more alive (8 calls:
 * 1 GB). The calling thread asks the workers of a call that made large shared copies to collect as
 * it ends (threads-backend.ts).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** V8's collector, once {@link collectGarbage} has obtained it (until then, each request tries again). */
let collector: (() => void) | undefined;
/**
 * Tries at taking the collector. The flag is the process's, and other workers set and unset it too:
 * one may unset it between this worker's setting it and creating its context, which then has no
 * collector. That takes another worker in the same few microseconds, so a few tries suffice.
 */
const COLLECTOR_TRIES = 10;

/**
 * Collects the garbage of this worker now: about 5 ms on a worker's small heap. V8 gives its
 * collector only to programs started with --expose-gc; otherwise it is taken from a context created
 * while that flag is set, the flag then unset at once (V8 lets flags change while it runs).
 */
export function collectGarbage(): void {
  collector ??= takeCollector();
  collector?.();
}

function takeCollector(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') return exposed as () => void;
  for (let attempt = 0; attempt < COLLECTOR_TRIES; attempt++) {
    try {
      setFlagsFromString('--expose-gc');
      const gc: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
      if (typeof gc === 'function') return gc as () => void;
    } finally {
      setFlagsFromString('--no-expose-gc');
    }
  }
  return undefined;
}
