/**
 * The options of `Parallel(...)`: their types (documented where editors show them), their defaults,
 * and their validation, done once, up front.
 */
import { availableParallelism } from 'node:os';
import { isMainThread, workerData, type ResourceLimits } from 'node:worker_threads';
import { InvalidOptionError, describeValue } from './errors.js';
import type { PoolWorkerData } from './protocol.js';

/** Where tasks run. */
export type BackendName = 'threads' | 'async' | 'sequential';
/** The shape of the results. */
export type ReturnAs = 'array' | 'generator' | 'generator_unordered';
/** What a failing task does to the call. */
export type ErrorMode = 'raise' | 'settle';

/** Reported as tasks complete, through the `onProgress` option. */
export interface ProgressEvent {
  /** Tasks completed so far (successfully or not). */
  readonly completed: number;
  /** Number of tasks, once known: from the start for arrays, when the input is exhausted otherwise. */
  readonly total?: number;
  /** Time since the call started, in ms. */
  readonly elapsedMs: number;
  /** Size the batching policy gives the next batches (moves with `batchSize: 'auto'`). */
  readonly batchSize: number;
}

/**
 * Options of {@link Parallel}.
 *
 * @example
 * const run = Parallel({ nJobs: -1, batchSize: 'auto', returnAs: 'generator_unordered', timeout: 60_000 });
 */
export interface ParallelOptions {
  /**
   * Number of workers; negative counts from the CPU count (-1: all CPUs, -2: all but one; at least 1).
   * 1 runs sequentially in the calling thread. Inside a joblib-ts worker, a negative value means 1,
   * so nested calls do not oversubscribe the CPUs.
   * @default 1
   */
  readonly nJobs?: number;
  /**
   * `'threads'`: worker threads (the default when nJobs > 1). `'async'`: the calling thread, at most
   * nJobs tasks in flight, for I/O-bound async functions; any closure works. `'sequential'`: one by
   * one in input order in the calling thread.
   * @default 'threads'
   */
  readonly backend?: BackendName;
  /**
   * Tasks sent to a worker in one message: `'auto'` adapts to the measured cost of a task.
   * @default 'auto'
   */
  readonly batchSize?: 'auto' | number;
  /**
   * How far ahead of the workers the input is read, in tasks (counting tasks queued, running and, in
   * generator modes, finished but not yet consumed), or `'all'`.
   * @default two batches per worker
   */
  readonly preDispatch?: number | 'all';
  /**
   * `'array'`: a promise of all results in input order. `'generator'`: an async iterable in input
   * order, each result as soon as it and all before it are done. `'generator_unordered'`: in
   * completion order.
   * @default 'array'
   */
  readonly returnAs?: ReturnAs;
  /** Time limit of one task in ms; a task over it fails the call with `ERR_TASK_TIMEOUT`. */
  readonly timeout?: number;
  /** Aborting it rejects the call with `signal.reason` and stops running tasks. */
  readonly signal?: AbortSignal;
  /**
   * `'raise'`: the first failure rejects the call (fail fast). `'settle'`: every task runs and each
   * result is `{ status: 'fulfilled', value }` or `{ status: 'rejected', reason }`.
   * @default 'raise'
   */
  readonly errors?: ErrorMode;
  /** joblib-style progress lines on stderr; higher prints more often, above 10 at every progress update. @default 0 */
  readonly verbose?: number;
  /** Called as tasks complete (also with nJobs 1). */
  readonly onProgress?: (event: ProgressEvent) => void;
  /** A progress bar on stderr when it is a terminal; nothing otherwise. @default false */
  readonly progress?: boolean;
  /** V8 heap limits of each worker thread (`'threads'` backend). */
  readonly resourceLimits?: ResourceLimits;
}

/** Options after defaults and validation. */
export interface ResolvedOptions {
  readonly nJobs: number;
  readonly backend: BackendName;
  readonly batchSize: 'auto' | number;
  readonly preDispatch: number | 'all' | undefined;
  readonly returnAs: ReturnAs;
  readonly timeoutMs: number | undefined;
  readonly signal: AbortSignal | undefined;
  readonly errors: ErrorMode;
  readonly verbose: number;
  readonly onProgress: ((event: ProgressEvent) => void) | undefined;
  readonly progress: boolean;
  readonly resourceLimits: ResourceLimits | undefined;
}

/** Number of CPUs this process may use (`os.availableParallelism()`). */
export function cpuCount(): number {
  return availableParallelism();
}

const KNOWN_OPTIONS = [
  'nJobs',
  'backend',
  'batchSize',
  'preDispatch',
  'returnAs',
  'timeout',
  'signal',
  'errors',
  'verbose',
  'onProgress',
  'progress',
  'resourceLimits',
] as const;

/** Validates options and fills in defaults. @throws InvalidOptionError */
export function resolveOptions(input: number | ParallelOptions | undefined): ResolvedOptions {
  const options: ParallelOptions = typeof input === 'number' ? { nJobs: input } : (input ?? {});
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError(`Expected Parallel() options to be an nJobs number or an object, got ${describeValue(input)}`);
  }
  for (const key of Object.keys(options)) {
    if (!(KNOWN_OPTIONS as readonly string[]).includes(key)) {
      throw new InvalidOptionError(`Expected options among ${KNOWN_OPTIONS.join(', ')}, got \`${key}\``);
    }
  }
  const nJobs = resolveNJobs(options.nJobs ?? 1);
  const backend = oneOf('backend', options.backend, ['threads', 'async', 'sequential'] as const, 'threads');
  const batchSize = options.batchSize ?? 'auto';
  if (batchSize !== 'auto' && !isPositiveInteger(batchSize)) {
    throw invalid('batchSize', "`'auto'` or an integer from 1 up", batchSize);
  }
  const preDispatch = options.preDispatch;
  if (preDispatch !== undefined && preDispatch !== 'all' && !isPositiveInteger(preDispatch)) {
    throw invalid('preDispatch', "`'all'` or an integer from 1 up", preDispatch);
  }
  const timeout = options.timeout;
  if (timeout !== undefined && !(typeof timeout === 'number' && timeout > 0 && timeout <= 2 ** 31 - 1)) {
    throw invalid('timeout', 'a number of milliseconds above 0 and at most 2147483647', timeout);
  }
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalid('signal', 'an AbortSignal', signal);
  const verbose = options.verbose ?? 0;
  if (typeof verbose !== 'number' || !Number.isInteger(verbose) || verbose < 0) {
    throw invalid('verbose', 'an integer from 0 up', verbose);
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw invalid('onProgress', 'a function', options.onProgress);
  }
  if (options.progress !== undefined && typeof options.progress !== 'boolean') {
    throw invalid('progress', 'a boolean', options.progress);
  }
  if (options.resourceLimits !== undefined && (typeof options.resourceLimits !== 'object' || options.resourceLimits === null)) {
    throw invalid('resourceLimits', 'an object of worker_threads resource limits', options.resourceLimits);
  }
  return {
    nJobs,
    // nJobs resolving to 1 runs in the calling thread: a pool of one worker only adds overhead.
    backend: backend === 'threads' && nJobs === 1 ? 'sequential' : backend,
    batchSize,
    preDispatch,
    returnAs: oneOf('returnAs', options.returnAs, ['array', 'generator', 'generator_unordered'] as const, 'array'),
    timeoutMs: timeout,
    signal,
    errors: oneOf('errors', options.errors, ['raise', 'settle'] as const, 'raise'),
    verbose,
    onProgress: options.onProgress,
    progress: options.progress ?? false,
    resourceLimits: options.resourceLimits,
  };
}

function resolveNJobs(nJobs: unknown): number {
  if (typeof nJobs !== 'number' || !Number.isInteger(nJobs) || nJobs === 0) {
    throw invalid('nJobs', 'a non-zero integer (negative counts from the CPU count)', nJobs);
  }
  if (nJobs > 0) return nJobs;
  if (insidePoolWorker()) return 1;
  return Math.max(1, cpuCount() + 1 + nJobs);
}

function insidePoolWorker(): boolean {
  return !isMainThread && (workerData as PoolWorkerData | undefined)?.joblibTsWorker === true;
}

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if ((allowed as readonly unknown[]).includes(value)) return value as T;
  throw invalid(name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}

function invalid(name: string, expected: string, received: unknown): InvalidOptionError {
  return new InvalidOptionError(`Expected \`${name}\` to be ${expected}, got ${describeValue(received)}`);
}
