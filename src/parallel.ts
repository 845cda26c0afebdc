/**
 * `Parallel(...)`: validates options once and returns a runner; each call of the runner drives one
 * {@link Execution} over the backend the options choose.
 */
import type { Task, TaskResult } from './delayed.js';
import { ClosedError, InvalidTaskError, describeValue } from './errors.js';
import { InThreadBackend, type Backend, type RunControl } from './backend.js';
import { ThreadsBackend } from './threads-backend.js';
import { terminateIdleWorkers } from './pool.js';
import { newSharedFlag } from './protocol.js';
import { AutoBatchSizer, FixedBatchSizer, type BatchSizer, type TaskCosts } from './scheduler.js';
import { Execution, type ResultSink } from './engine.js';
import { ArraySink, ResultStream, StreamSink } from './results.js';
import { ProgressReporter } from './progress.js';
import { resolveOptions, type ParallelOptions, type ResolvedOptions } from './options.js';

/** Any task, whatever its function's parameters and result. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTask = Task<unknown, any>;

/** What a runner accepts: any iterable or async iterable of tasks, read lazily. */
export type TaskInput<T extends AnyTask = AnyTask> = Iterable<T> | AsyncIterable<T>;

type OptionOf<O, K extends keyof ParallelOptions, Default> = K extends keyof O
  ? Exclude<O[K], undefined> | (undefined extends O[K] ? Default : never)
  : Default;

/** One result as the caller receives it: the value, or a settled record with `errors: 'settle'`. */
export type ParallelItem<O, R> =
  OptionOf<O, 'errors', 'raise'> extends 'settle'
    ? PromiseSettledResult<R>
    : OptionOf<O, 'errors', 'raise'> extends 'raise'
      ? R
      : R | PromiseSettledResult<R>;

/** What a runner returns for options `O` and result type `R`. */
export type ParallelOutput<O, R> =
  OptionOf<O, 'returnAs', 'array'> extends 'array'
    ? Promise<ParallelItem<O, R>[]>
    : OptionOf<O, 'returnAs', 'array'> extends 'generator' | 'generator_unordered'
      ? AsyncIterableIterator<ParallelItem<O, R>>
      : Promise<ParallelItem<O, R>[]> | AsyncIterableIterator<ParallelItem<O, R>>;

/**
 * Runs tasks with the options it was made with. Reusable: consecutive calls share the worker pool.
 * `close()` (or leaving an `await using` scope) stops its running calls and terminates idle workers.
 */
export interface ParallelRunner<O = ParallelOptions> extends AsyncDisposable {
  <T extends AnyTask>(tasks: TaskInput<T>): ParallelOutput<O, TaskResult<T>>;
  /** Stops this runner's calls still running (they reject with `ERR_CLOSED`) and terminates idle workers. */
  close(): Promise<void>;
}

/**
 * joblib's `Parallel`: returns a runner that executes `delayed(fn)(...args)` tasks on `nJobs` workers
 * and gives back results in input order.
 *
 * @param options the number of workers (`nJobs`), or {@link ParallelOptions}
 * @throws InvalidOptionError (`ERR_INVALID_OPTION`) for an invalid option, synchronously
 *
 * @example
 * const squares = await Parallel(2)([1, 2, 3].map((x) => delayed(square)(x))); // number[]
 * for await (const r of Parallel({ nJobs: -1, returnAs: 'generator_unordered' })(tasks)) console.log(r);
 */
export function Parallel(nJobs?: number): ParallelRunner<{ readonly nJobs: number }>;
export function Parallel<const O extends ParallelOptions>(
  options: O & { readonly [K in Exclude<keyof O, keyof ParallelOptions>]: never },
): ParallelRunner<O>;
export function Parallel(options?: number | ParallelOptions): unknown {
  const resolved = resolveOptions(options);
  const running = new Set<Execution>();
  const taskCosts: TaskCosts = new WeakMap();
  let closed = false;

  const runner = ((tasks: TaskInput) => {
    const settle = resolved.errors === 'settle';
    const start = (sink: ResultSink): Execution => {
      const execution = createExecution(tasks, resolved, sink, taskCosts);
      running.add(execution);
      return execution;
    };
    const problem = closed
      ? new ClosedError('This Parallel runner was closed; create a new one with Parallel(...)')
      : invalidInput(tasks);
    if (resolved.returnAs === 'array') {
      if (problem) return Promise.reject(problem);
      const sink = new ArraySink(settle, Array.isArray(tasks) ? tasks.length : 0);
      const execution = start(sink);
      return execution
        .run()
        .then(() => sink.results)
        .finally(() => running.delete(execution));
    }
    const sink = new StreamSink(resolved.returnAs === 'generator', settle);
    return new ResultStream(
      sink,
      () => {
        if (problem) throw problem;
        return start(sink);
      },
      (execution) => running.delete(execution),
    );
  }) as ParallelRunner<ParallelOptions>;

  runner.close = async () => {
    closed = true;
    for (const execution of running) execution.stop(new ClosedError('The Parallel runner was closed while this call ran'));
    await terminateIdleWorkers();
  };
  runner[Symbol.asyncDispose] = runner.close;
  return runner;
}

function invalidInput(tasks: unknown): InvalidTaskError | undefined {
  const iterable =
    typeof tasks === 'object' &&
    tasks !== null &&
    (typeof (tasks as Iterable<unknown>)[Symbol.iterator] === 'function' ||
      typeof (tasks as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function');
  if (iterable) return undefined;
  return new InvalidTaskError(
    `Expected an iterable or async iterable of tasks made by delayed(fn)(...args), got ${describeValue(tasks)}`,
  );
}

function createExecution(tasks: TaskInput, options: ResolvedOptions, sink: ResultSink, taskCosts: TaskCosts): Execution {
  const cancel = newSharedFlag();
  const control: RunControl = { cancel, settle: options.errors === 'settle', timeoutMs: options.timeoutMs };
  const progress = new ProgressReporter({
    nJobs: options.nJobs,
    verbose: options.verbose,
    progress: options.progress,
    onProgress: options.onProgress,
  });
  return new Execution(tasks, createBackend(options, control), cancel, sink, {
    sizer: createSizer(options),
    taskCosts,
    preDispatch: options.preDispatch,
    settle: control.settle,
    signal: options.signal,
    progress,
  });
}

function createBackend(options: ResolvedOptions, control: RunControl): Backend {
  switch (options.backend) {
    case 'threads':
      return new ThreadsBackend(options.nJobs, control, {
        ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}),
      });
    case 'async':
      return new InThreadBackend(options.nJobs, control);
    case 'sequential':
      return new InThreadBackend(1, control);
  }
}

/** Tasks that one in-thread batch runs before the engine looks at the input and the signal again. */
const IN_THREAD_BATCH = 64;

function createSizer(options: ResolvedOptions): BatchSizer {
  // 'async' runs one task per slot so that nJobs of them are in flight; batching would serialise them.
  if (options.backend === 'async') return new FixedBatchSizer(1);
  if (options.batchSize !== 'auto') return new FixedBatchSizer(options.batchSize);
  return options.backend === 'threads' ? new AutoBatchSizer() : new FixedBatchSizer(IN_THREAD_BATCH);
}
