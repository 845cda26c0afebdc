/**
 * Entry of every pool worker. It answers each batch with chunks of outcomes and never throws across
 * the thread boundary: a task's failure is an outcome; only a dying worker is a crash.
 */
import { parentPort } from 'node:worker_threads';
import { expose, Transfer } from 'threads/worker';
import { transferables } from './batch-codec.js';
import { runBatch } from './worker-batch.js';
import { isWorkerControl, type BatchChunk, type BatchRequest, type ChunkObserver } from './protocol.js';
import { touchShared } from './shared-copy.js';
import { collectGarbage } from './worker-gc.js';

/**
 * threads.js keeps a worker alive after an uncaught error and reports it later with a message that
 * nothing waits for, so the running batch would hang. Without its handlers, an uncaught error ends
 * the worker as it ends a Node program, and the pool reports ERR_WORKER_CRASHED.
 */
for (const event of ['uncaughtException', 'unhandledRejection']) {
  for (const listener of process.listeners(event as 'uncaughtException')) {
    if (String(listener).includes('postUncaughtErrorMessage')) process.off(event, listener);
  }
}

// Help with a shared copy the calling thread is making, or free those of ended calls (see WorkerControl).
parentPort?.on('message', (message: unknown) => {
  if (!isWorkerControl(message)) return;
  if (message.joblibTsControl === 'touch-shared') touchShared(message.buffer, message.states);
  else collectGarbage();
});

/**
 * The caller may send the next batch before this one ends, so that no worker waits for the calling
 * thread between batches: batches still run one after the other, in the order they came.
 */
let previousBatch: Promise<unknown> = Promise.resolve();

/**
 * The reply stream of one batch. threads.js treats any object with `subscribe` as an observable;
 * this one saves the worker loading an observable library at start.
 */
function replies(produce: (observer: ChunkObserver) => void) {
  return {
    // threads.js subscribes with three callbacks (next, error, complete), as zen-observable allows.
    subscribe(next: ChunkObserver['next'], error: ChunkObserver['error'], complete: ChunkObserver['complete']) {
      produce({ next, error, complete });
      return { unsubscribe: () => undefined };
    },
  };
}

/** Sends a chunk to the calling thread, moving its large buffers. */
function sendChunk(observer: ChunkObserver, chunk: BatchChunk): void {
  observer.next(Transfer(chunk, transferables(chunk.values, chunk.durations)));
}

expose({
  runBatch(request: BatchRequest) {
    return replies((observer) => {
      // Start once subscribed: chunks emitted while the subscriber function still runs are held
      // back until it returns, and a batch of synchronous tasks would then report nothing until its end.
      queueMicrotask(() => {
        const batch = previousBatch.then(() => runBatch(request, { sink: observer, send: sendChunk }));
        previousBatch = batch.catch(() => undefined);
        batch.then(
          () => observer.complete(),
          (error: unknown) => observer.error(error),
        );
      });
    });
  },
});
