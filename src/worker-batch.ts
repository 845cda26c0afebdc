/**
 * The worker's side of one batch: runs its tasks in order and reports them in chunks. Tasks that
 * return plain values run in a small synchronous loop; only a task that returns a promise, or a
 * function still being compiled or imported, goes through the async function around it, so that a
 * batch of 1 µs tasks does not pay for the async machinery at every task.
 */
import { performance } from 'node:perf_hooks';
import { workerData } from 'node:worker_threads';
import { isThenable } from './thenable.js';
import { functionById, prepareFunctions } from './worker-functions.js';
import { argsCount, callWithArgs, encodeValues, type EncodedArgs } from './batch-codec.js';
import { MAX_BATCH_MS } from './scheduler.js';
import { cellIndex, serializeError, type BatchChunk, type BatchRequest, type PoolWorkerData, type SerializedError } from './protocol.js';

type Callable = (...args: unknown[]) => unknown;

/**
 * While a batch runs without streaming, send what is done at least this often (ms): progress and
 * the results a generator yields are at most this late, and a crash loses at most this much
 * finished work. As long as the longest batch of 'auto', so that its batches send one message, at
 * their end: every message wakes the calling thread, which takes a CPU from the workers (bench W2,
 * 10,000 tasks of 100 µs, was about 2% slower flushing every 2 ms). Large fixed batches flush at
 * this pace.
 */
const FLUSH_INTERVAL_MS = MAX_BATCH_MS;

/** The ended-task counters this worker shares with the pool that started it (see PoolWorkerData). */
const { endedCounters } = workerData as PoolWorkerData;

/** Where a batch's chunks go: `send(sink, chunk)`, one function for every batch (see WorkerBatch). */
export interface ChunkSink<S> {
  readonly sink: S;
  readonly send: (sink: S, chunk: BatchChunk) => void;
}

/** Runs one batch to its end, or until cancelled or (without `settle`) its first failure. */
export async function runBatch<S>(request: BatchRequest, emit: ChunkSink<S>): Promise<void> {
  prepareFunctions(request.newFns);
  const batch = new WorkerBatch(request, emit as ChunkSink<unknown>);
  while (batch.next < batch.count && !batch.stopped) {
    let fn: Callable | Promise<Callable>;
    try {
      fn = functionById(batch.fnIdAt(batch.next));
      if (fn instanceof Promise) {
        fn = await fn;
        batch.restartClock(); // compiling or importing is not the task's time
      }
    } catch (error) {
      batch.failed(error);
      continue;
    }
    const running = batch.runPlain(fn);
    if (running === undefined) continue;
    try {
      batch.succeeded(await running);
    } catch (error) {
      batch.failed(error);
    }
  }
  batch.finish();
}

class WorkerBatch {
  /** Offset of the next task to start. */
  next = 0;
  /** Cancelled, or a task failed without `settle`: no further task starts. */
  stopped = false;
  private values: unknown[] = [];
  private durations: number[] = [];
  private errors: [number, SerializedError][] = [];
  private durationMs = 0;
  /** When the running task started (a task starts when the one before it ended: one clock reading per task). */
  private started: number;
  private lastFlush: number;

  /** Number of tasks in the batch. */
  readonly count: number;
  // The request's fields, read once here. The request is a message, and messages differ in shape
  // (the first batch of a worker brings functions, the next ones an empty list): the optimized task
  // loop, reading them from it, bailed out on a later batch and was compiled again.
  private readonly args: EncodedArgs;
  /**
   * The argument lists when they travel as lists: the worker's own copy (a message), so each is let
   * go of as its task is called. Lists held until the end of their batch were still alive when the
   * reply's buffers, allocated there, set off garbage collections for the external memory of the
   * batch's arrays: those collections moved the arrays to the old generation, which only
   * mark-compacts free, and the workers ran one or two per call, with concurrent marking besides
   * (`--trace-gc`). Bench W5 (200 tasks, each given its own 1 MiB array), 3 alternating runs of 8:
   * 0.26-0.30x before, 0.32-0.38x after, piscina 0.28-0.34x alongside.
   */
  private readonly lists: (readonly unknown[] | undefined)[] | undefined;
  private readonly fnIds: number | readonly number[];
  private readonly cancel: Int32Array;
  private readonly endedCell: number;
  private readonly settle: boolean;
  private readonly stream: boolean;

  constructor(
    request: BatchRequest,
    /**
     * The same `send` for every batch, given this batch's sink: a new closure per batch, inlined in
     * the optimized task loop, made V8 throw that code away at the next batch.
     */
    private readonly emit: ChunkSink<unknown>,
  ) {
    this.args = request.args;
    this.lists = request.args.kind === 'lists' ? (request.args.lists as (readonly unknown[] | undefined)[]) : undefined;
    this.fnIds = request.fnIds;
    this.cancel = request.cancel;
    this.endedCell = cellIndex(request.endedSlot);
    this.settle = request.settle;
    this.stream = request.stream;
    this.count = argsCount(request.args);
    this.started = this.lastFlush = performance.now();
    if (request.stream) this.flush(); // tells the caller the first task starts now
  }

  fnIdAt(offset: number): number {
    const { fnIds } = this;
    return typeof fnIds === 'number' ? fnIds : (fnIds[offset] as number);
  }

  restartClock(): void {
    this.started = performance.now();
  }

  /**
   * Runs the tasks of `fn` from {@link next} on, as long as they return plain values. Returns the
   * promise of a task that returned one (that task is under way: its outcome is not recorded yet).
   */
  runPlain(fn: Callable): PromiseLike<unknown> | undefined {
    const { cancel, fnIds } = this;
    const id = this.fnIdAt(this.next);
    while (this.next < this.count) {
      if (Atomics.load(cancel, 0) !== 0) {
        this.stopped = true;
        return undefined;
      }
      if (typeof fnIds !== 'number' && fnIds[this.next] !== id) return undefined;
      let value: unknown;
      try {
        value = this.call(fn, this.next);
        if (isThenable(value)) return value;
      } catch (error) {
        this.failed(error);
        return undefined;
      }
      this.succeeded(value); // may fail the task: a result that cannot be sent back
      if (this.stopped) return undefined;
    }
    return undefined;
  }

  /** Calls task `i`, letting go of its argument list first (see {@link lists}). */
  private call(fn: Callable, i: number): unknown {
    const { lists } = this;
    if (lists === undefined) return callWithArgs(fn, this.args, i);
    const list = lists[i] as unknown[];
    lists[i] = undefined;
    return fn(...list);
  }

  succeeded(value: unknown): void {
    let checked: unknown;
    try {
      checked = checkClonable(value);
    } catch (error) {
      this.failed(error);
      return;
    }
    this.values.push(checked);
    this.ended(false);
  }

  failed(error: unknown): void {
    this.values.push(undefined);
    this.errors.push([this.values.length - 1, serializeError(error)]);
    this.ended(true);
  }

  finish(): void {
    this.emit.send(this.emit.sink, this.chunk({ durationMs: this.durationMs, ran: this.next }));
  }

  private ended(failed: boolean): void {
    const ended = performance.now();
    this.durations.push(ended - this.started);
    this.durationMs += ended - this.started;
    this.started = ended;
    this.next++;
    Atomics.store(endedCounters, this.endedCell, this.next);
    if (failed && !this.settle) this.stopped = true;
    // The last task's outcome travels with the end of the batch: one message fewer per batch.
    else if (this.next < this.count && (this.stream || failed || ended - this.lastFlush >= FLUSH_INTERVAL_MS)) {
      this.flush();
      this.started = this.lastFlush;
    }
  }

  private flush(): void {
    this.emit.send(this.emit.sink, this.chunk());
    this.lastFlush = performance.now();
  }

  private chunk(done?: BatchChunk['done']): BatchChunk {
    const chunk: BatchChunk = {
      values: encodeValues(this.values),
      durations: Float64Array.from(this.durations),
      ...(this.errors.length > 0 ? { errors: this.errors } : {}),
      ...(done ? { done } : {}),
    };
    this.values = [];
    this.durations = [];
    this.errors = [];
    return chunk;
  }
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
