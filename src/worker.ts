/**
 * Entry of every pool worker. It answers each batch with chunks of outcomes and never throws across
 * the thread boundary: a task's failure is an outcome; only a dying worker is a crash.
 */
import { expose, Transfer } from 'threads/worker';
import { performance } from 'node:perf_hooks';
import { isThenable } from './thenable.js';
import { functionById, prepareFunctions } from './worker-functions.js';
import { argsCount, callWithArgs, encodeValues, transferables } from './batch-codec.js';
import { serializeError, type BatchChunk, type BatchRequest, type ChunkObserver, type SerializedError } from './protocol.js';

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

/**
 * While a batch runs without streaming, send what is done at least this often (ms): progress stays
 * current, and a crash loses little finished work. One message per 2 ms is negligible next to the work.
 */
const FLUSH_INTERVAL_MS = 2;

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

expose({
  runBatch(request: BatchRequest) {
    return replies((observer) => {
      // Start once subscribed: chunks emitted while the subscriber function still runs are held
      // back until it returns, and a batch of synchronous tasks would then report nothing until its end.
      queueMicrotask(() => {
        const send = (chunk: BatchChunk) =>
          observer.next(Transfer(chunk, [...transferables(chunk.values), chunk.durations.buffer as ArrayBuffer]));
        const batch = previousBatch.then(() => runBatch(request, send));
        previousBatch = batch.catch(() => undefined);
        batch.then(
          () => observer.complete(),
          (error: unknown) => observer.error(error),
        );
      });
    });
  },
});

async function runBatch(request: BatchRequest, emit: (chunk: BatchChunk) => void): Promise<void> {
  prepareFunctions(request.newFns);
  const { args, fnIds, cancel } = request;
  let values: unknown[] = [];
  let durations: number[] = [];
  let errors: [number, SerializedError][] = [];
  let ran = 0;
  let durationMs = 0;
  let lastFlush = performance.now();
  const chunk = (done?: BatchChunk['done']): BatchChunk => {
    const chunk: BatchChunk = {
      values: encodeValues(values),
      durations: Float64Array.from(durations),
      ...(errors.length > 0 ? { errors } : {}),
      ...(done ? { done } : {}),
    };
    values = [];
    durations = [];
    errors = [];
    return chunk;
  };
  const flush = () => {
    emit(chunk());
    lastFlush = performance.now();
  };
  Atomics.store(request.ended, 0, 0);
  if (request.stream) flush(); // tells the caller the first task starts now

  const count = argsCount(args);
  // One clock reading per task: a task starts when the one before it ended. (For 1 µs tasks a
  // second reading would cost a tenth of the task.)
  let started = performance.now();
  for (let i = 0; i < count; i++) {
    if (Atomics.load(cancel, 0) !== 0) break;
    let failed = false;
    try {
      let fn = functionById(typeof fnIds === 'number' ? fnIds : (fnIds[i] as number));
      if (fn instanceof Promise) {
        fn = await fn; // compiling or importing is not the task's time
        started = performance.now();
      }
      let value = callWithArgs(fn, args, i);
      if (isThenable(value)) value = await value;
      values.push(checkClonable(value));
    } catch (error) {
      failed = true;
      values.push(undefined);
      errors.push([values.length - 1, serializeError(error)]);
    }
    const ended = performance.now();
    durations.push(ended - started);
    durationMs += ended - started;
    started = ended;
    ran++;
    Atomics.store(request.ended, 0, ran);
    if (failed && !request.settle) break;
    if (request.stream || failed || ended - lastFlush >= FLUSH_INTERVAL_MS) {
      flush();
      started = lastFlush;
    }
  }
  emit(chunk({ durationMs, ran }));
}

/**
 * Throws a DataCloneError, as the failure of this task, when its result cannot be sent back; posting
 * it would otherwise fail the whole batch. Cheap for the common results (primitives, typed arrays,
 * arrays of primitives); anything else is test-cloned.
 */
function checkClonable(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) {
    if (typeof value === 'function' || typeof value === 'symbol') throwUnclonable(typeof value);
    return value;
  }
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value;
  if (Array.isArray(value) && value.every((item) => typeof item !== 'object' && typeof item !== 'function' && typeof item !== 'symbol')) {
    return value;
  }
  try {
    structuredClone(value);
  } catch (error) {
    throwUnclonable((error as Error).message);
  }
  return value;
}

function throwUnclonable(detail: string): never {
  throw new DOMException(
    `The task's result cannot be sent back from the worker thread (${detail}). Results travel by structured clone: ` +
      'functions, symbols, promises and class instances with behaviour do not survive; return plain data.',
    'DataCloneError',
  );
}
