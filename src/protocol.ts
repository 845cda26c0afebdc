/**
 * What crosses the thread boundary, in both directions, and how errors survive the crossing.
 *
 * One request carries one batch; the worker answers with one or more chunks of outcomes, in batch
 * order, and never throws across the boundary: a task's failure is an outcome like any other.
 * Structured clone keeps only an error's message, name (for built-in classes) and stack, so errors
 * travel as {@link SerializedError} and are revived with their class, own properties and cause.
 */
import type { FnRef } from './fn-ref.js';
import type { EncodedArgs, EncodedValues } from './batch-codec.js';

/** Where `task()` records the module that exports a function (a registered symbol, shared by both threads). */
export const MODULE_REF: unique symbol = Symbol.for('joblib-ts.module-ref') as never;

/** `workerData` of the pool's workers: tells joblib-ts, when a task imports it inside a worker, where it is. */
export interface PoolWorkerData {
  readonly joblibTsWorker: true;
  /** URL of tsx's ESM API when the program runs under tsx: the worker registers it for TypeScript task modules. */
  readonly typeScriptLoader?: string;
  /**
   * Shared counters, one per batch the worker holds (see {@link BatchRequest.endedSlot}): made once
   * per worker, since allocating shared memory for every batch cost the calling thread ~10 µs each.
   */
  readonly endedCounters: Int32Array;
}

/**
 * Messages a pool worker takes outside any batch (threads.js ignores messages not its own):
 * - `touch-shared`, to an idle worker while the calling thread copies a large array into new shared
 *   memory: the worker touches the far end of the buffer first (see shared-copy.ts);
 * - `collect-garbage`, as a call that made large shared copies ends: the worker collects the
 *   garbage in which they may be (see worker-gc.ts).
 */
export type WorkerControl =
  | { readonly joblibTsControl: 'touch-shared'; readonly buffer: SharedArrayBuffer; readonly states: Int32Array }
  | { readonly joblibTsControl: 'collect-garbage' };

export function isWorkerControl(message: unknown): message is WorkerControl {
  return typeof message === 'object' && message !== null && typeof (message as Partial<WorkerControl>).joblibTsControl === 'string';
}

/** Counters in {@link PoolWorkerData.endedCounters}: more than the batches a worker ever holds at once. */
export const ENDED_COUNTERS = 8;

/**
 * Shared memory that a thread writes at every task sits on cache lines of its own: a worker writes
 * its counter of ended tasks at each task, and every worker reads the call's cancel flag at each
 * task, so neither may share a line with memory another thread writes (false sharing: the line
 * would move between CPUs at each write). One worker's counters sit a line apart too; the gain of
 * that was within the noise (bench W1), and it costs a few hundred bytes per worker.
 */
const CACHE_LINE_BYTES = 64;

/** `count` shared Int32 cells, cell i at index {@link cellIndex}(i), each on a cache line of its own. */
export function newSharedCells(count: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer((count + 2) * CACHE_LINE_BYTES));
}

/** Index of cell `cell` in an array made by {@link newSharedCells}. */
export function cellIndex(cell: number): number {
  return ((cell + 1) * CACHE_LINE_BYTES) / Int32Array.BYTES_PER_ELEMENT;
}

/** One shared Int32 flag, at index 0, alone on its cache line. */
export function newSharedFlag(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(3 * CACHE_LINE_BYTES), CACHE_LINE_BYTES, 1);
}

/** A function the worker has not seen yet: compile or import it, and remember it under `id`. */
export interface ShippedFn {
  readonly id: number;
  readonly ref: FnRef;
}

/** One batch of tasks for one worker. */
export interface BatchRequest {
  /** Functions first used by this worker in this batch. */
  readonly newFns: readonly ShippedFn[];
  /** The function id of every task, or one id shared by all of them. */
  readonly fnIds: number | readonly number[];
  /** Each task's arguments (packed when they are all numbers: see batch-codec.ts). */
  readonly args: EncodedArgs;
  /** Keep running after a task fails (`errors: 'settle'`) instead of stopping the batch there. */
  readonly settle: boolean;
  /** Report every task as soon as it ends (needed to time each task), rather than batching replies. */
  readonly stream: boolean;
  /** Shared flag: once it is non-zero, start no further task (fail-fast, abort). */
  readonly cancel: Int32Array;
  /**
   * The counter of {@link PoolWorkerData.endedCounters} where the worker keeps the number of tasks of
   * this batch that have ended. If the worker dies, it tells which task was running, even when the
   * results before it were not sent yet.
   */
  readonly endedSlot: number;
}

/** The outcomes of the next tasks of a batch, in batch order. */
export interface BatchChunk {
  /** One value per task; the slot of a failed task holds `undefined`. */
  readonly values: EncodedValues;
  /** How long each task ran, in ms, parallel to `values` (the cache records it). */
  readonly durations: Float64Array;
  /** Failures, as [offset within `values`, error]. */
  readonly errors?: readonly (readonly [number, SerializedError])[];
  /** Present on the last chunk of a batch. */
  readonly done?: BatchDone;
}

/** Who receives the chunks of one batch, on either side of the boundary. */
export interface ChunkObserver {
  next(chunk: BatchChunk): void;
  error(error: unknown): void;
  complete(): void;
}

/** The reply stream of one batch, as threads.js hands it to the calling thread. */
export interface ChunkReplies {
  subscribe(observer: ChunkObserver): { unsubscribe(): void };
}

/** How a batch ended, measured in the worker. */
export interface BatchDone {
  /** Time spent running task bodies, in milliseconds (excludes compiling and importing). */
  readonly durationMs: number;
  /** Tasks that ran; fewer than the batch when it stopped early. */
  readonly ran: number;
}

/** An error (or any thrown value) in a form that survives structured clone. */
export type SerializedError =
  | {
      readonly kind: 'error';
      /** Nearest built-in error class in the prototype chain. */
      readonly ctor: string;
      readonly name: string;
      readonly message: string;
      readonly stack?: string;
      /** Own enumerable properties that survive structured clone (`code`, `errno`, ...). */
      readonly props: Readonly<Record<string, unknown>>;
      readonly cause?: SerializedError;
      readonly errors?: readonly SerializedError[];
    }
  | { readonly kind: 'value'; readonly value: unknown }
  | { readonly kind: 'unclonable'; readonly text: string };

const BUILTIN_ERRORS: Readonly<Record<string, ErrorConstructor | AggregateErrorConstructor>> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  AggregateError,
};

const SKIPPED_PROPS = new Set(['name', 'message', 'stack', 'cause', 'errors']);

/** Turns anything thrown into a {@link SerializedError}. Never throws. */
export function serializeError(thrown: unknown, depth = 0): SerializedError {
  if (!(thrown instanceof Error)) {
    return isClonable(thrown) ? { kind: 'value', value: thrown } : { kind: 'unclonable', text: safeString(thrown) };
  }
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(thrown)) {
    if (SKIPPED_PROPS.has(key)) continue;
    const value = (thrown as unknown as Record<string, unknown>)[key];
    if (isClonable(value)) props[key] = value;
  }
  const serialized: {
    -readonly [K in keyof Extract<SerializedError, { kind: 'error' }>]: Extract<SerializedError, { kind: 'error' }>[K];
  } = {
    kind: 'error',
    ctor: builtinCtorName(thrown),
    name: safeString(thrown.name),
    message: safeString(thrown.message),
    props,
  };
  if (typeof thrown.stack === 'string') serialized.stack = thrown.stack;
  if (depth < 8 && 'cause' in thrown) serialized.cause = serializeError(thrown.cause, depth + 1);
  if (depth < 8 && thrown instanceof AggregateError && Array.isArray(thrown.errors)) {
    serialized.errors = thrown.errors.map((e: unknown) => serializeError(e, depth + 1));
  }
  return serialized;
}

/** Rebuilds a thrown value from {@link serializeError}: same built-in class, name, message, stack, props, cause. */
export function reviveError(serialized: SerializedError): unknown {
  if (serialized.kind === 'value') return serialized.value;
  if (serialized.kind === 'unclonable') return new Error(serialized.text);
  const Ctor = BUILTIN_ERRORS[serialized.ctor] ?? Error;
  const error: Error =
    Ctor === AggregateError
      ? new AggregateError((serialized.errors ?? []).map(reviveError), serialized.message)
      : new (Ctor as ErrorConstructor)(serialized.message);
  if (error.name !== serialized.name) {
    Object.defineProperty(error, 'name', { value: serialized.name, writable: true, configurable: true });
  }
  if (serialized.stack !== undefined) {
    Object.defineProperty(error, 'stack', { value: serialized.stack, writable: true, configurable: true });
  }
  if (serialized.cause !== undefined) {
    Object.defineProperty(error, 'cause', { value: reviveError(serialized.cause), writable: true, configurable: true });
  }
  Object.assign(error, serialized.props);
  return error;
}

function builtinCtorName(error: Error): string {
  for (let proto = Object.getPrototypeOf(error); proto; proto = Object.getPrototypeOf(proto)) {
    const name = (proto as { constructor?: { name?: string } }).constructor?.name;
    if (name && BUILTIN_ERRORS[name]?.prototype === proto) return name;
  }
  return 'Error';
}

function isClonable(value: unknown): boolean {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function' && typeof value !== 'symbol')) {
    return true;
  }
  if (typeof value !== 'object') return false;
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
