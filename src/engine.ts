/**
 * One call of a runner: reads the input lazily, cuts it into batches, keeps every slot of the backend
 * busy, hands outcomes to a result sink, and stops everything on the first failure, on abort, or when
 * the consumer of a generator leaves.
 */
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { isTask, type Task } from './delayed.js';
import { InvalidTaskError, describeValue } from './errors.js';
import type { Backend, BatchEnd } from './backend.js';
import type { Batch, Outcome, Outcomes } from './batch.js';
import { nextBatchSize, recallTaskCost, rememberTaskCost, type BatchSizer, type TaskCosts } from './scheduler.js';
import type { ProgressReporter } from './progress.js';
import { TaskQueue } from './task-queue.js';
import { CacheStage } from './cache-stage.js';
import { cachedCallOf } from './cached-function.js';

/** Where outcomes go: an array being filled, or a generator's buffer. */
export interface ResultSink {
  /** Takes the outcome of one task, in whatever order tasks complete. */
  accept(outcome: Outcome): void;
  /** Takes a chunk of outcomes; failures only with `errors: 'settle'` (otherwise they end the call). */
  acceptAll(outcomes: Outcomes): void;
  /** Results the consumer has taken so far (for an array: every accepted one). */
  readonly consumed: number;
}

export interface ExecutionSettings {
  readonly sizer: BatchSizer;
  /** Task costs measured by earlier calls of the same runner. */
  readonly taskCosts: TaskCosts;
  /** Read-ahead limit in tasks, `'all'`, or undefined for the default (two batches per slot). */
  readonly preDispatch: number | 'all' | undefined;
  /** Failures are outcomes (`errors: 'settle'`) rather than the end of the call. */
  readonly settle: boolean;
  readonly signal: AbortSignal | undefined;
  readonly progress: ProgressReporter;
}

/**
 * After the first failure no task starts; tasks still running get this long (ms) to finish, so that a
 * failure with a lower index, already under way, can still be the one reported. Then their workers
 * are terminated.
 */
const FAIL_FAST_GRACE_MS = 100;

type TaskSource = Iterable<unknown> | AsyncIterable<unknown>;

export class Execution {
  private readonly queue = new TaskQueue();
  private running = 0;
  private read = 0;
  private dispatched = 0;
  private completed = 0;
  private total: number | undefined;
  private inputDone = false;
  private failure: { index: number; error: unknown } | undefined;
  private stopReason: { reason: unknown } | undefined;
  private stopping = false;
  private wakeUp: (() => void) | undefined;
  private wokenEarly = false;
  private graceTimer: NodeJS.Timeout | undefined;
  private checkedUpFront = false;
  /** Completed count of the last progress update. */
  private reported = 0;
  /** The function of the first task dispatched: batch sizing starts from its cost measured before. */
  private sizedFor: object | undefined;
  private readonly cache = new CacheStage({
    deliver: (outcome) => this.take(outcome),
    enqueue: (index, task) => {
      try {
        this.queue.push(index, task, this.backend.prepare(task));
      } catch (error) {
        this.fail(index, error);
      }
    },
    fail: (index, error) => this.fail(index, error),
    wake: () => this.wake(),
  });

  constructor(
    private readonly source: TaskSource,
    private readonly backend: Backend,
    private readonly cancel: Int32Array,
    private readonly sink: ResultSink,
    private readonly settings: ExecutionSettings,
  ) {}

  /** Runs the call to its end; rejects with the failure, the abort reason or the stop reason. */
  async run(): Promise<void> {
    const { signal } = this.settings;
    const onAbort = () => this.stop(signal?.reason);
    if (signal?.aborted) {
      this.backend.release();
      throw signal.reason;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    const iterator = openIterator(this.source);
    try {
      if (Array.isArray(this.source)) {
        // Only when tasks will surely run: not for an empty input, nor for a cached function
        // (its tasks may all be hits), nor for an iterable, which may well be empty.
        const first: unknown = this.source[0];
        if (isTask(first) && !cachedCallOf(first.fn)) {
          // Fixed batches: no more workers than batches. 'auto' may start with batches of 1.
          const { sizer } = this.settings;
          this.backend.prestart?.(Math.ceil(this.source.length / (sizer.adaptive ? 1 : sizer.current())));
        }
        this.checkAll(this.source);
        this.checkedUpFront = true;
        // Before the first read: how far ahead the input is read depends on the batch size (bench
        // W6: read-ahead sized for batches of 1 held three workers' slots empty for a whole batch).
        if (isTask(first)) this.sizeFor(first.fn);
      }
      while (!this.stopping) {
        await this.readInput(iterator);
        this.cache.lookUp();
        this.dispatch(true);
        if (this.inputDone && this.queue.size === 0 && this.running === 0 && !this.cache.busy) break;
        await this.sleep();
        this.reportProgress(); // outcomes delivered without a chunk (cache hits)
      }
      this.reportProgress();
      while (this.running > 0 || this.cache.busy) await this.sleep();
      await this.cache.flushed();
      if (this.sizedFor) rememberTaskCost(this.settings.sizer, this.sizedFor, this.settings.taskCosts);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      clearTimeout(this.graceTimer);
      this.backend.release();
      if (!this.inputDone) await closeQuietly(iterator);
      this.settings.progress.finish(this.completed, this.total, this.stopping);
    }
    if (this.stopReason) throw this.stopReason.reason;
    if (this.failure) throw this.failure.error;
  }

  /** Ends the call now with `reason`: no more input is read, running tasks are stopped. */
  stop(reason: unknown): void {
    if (this.stopReason) return;
    this.stopReason = { reason };
    this.stopping = true;
    Atomics.store(this.cancel, 0, 1);
    this.backend.interrupt();
    this.wake();
  }

  /** The consumer took results: reading may resume. */
  wake(): void {
    if (this.wakeUp) {
      const wakeUp = this.wakeUp;
      this.wakeUp = undefined;
      wakeUp();
    } else {
      this.wokenEarly = true;
    }
  }

  private sleep(): Promise<void> {
    if (this.wokenEarly) {
      this.wokenEarly = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.wakeUp = resolve;
    });
  }

  /** Arrays are checked whole before anything runs, so a bad task at the end fails the call up front. */
  private checkAll(tasks: readonly unknown[]): void {
    this.total = tasks.length;
    const seen = new Set<unknown>();
    for (let index = 0; index < tasks.length; index++) {
      const task = this.checkTask(tasks[index], index);
      if (!seen.has(task.fn)) {
        seen.add(task.fn);
        // A cached function's misses run its underlying function: that one must be able to run here.
        const call = cachedCallOf(task.fn);
        this.backend.prepare(call ? { fn: call.inner, args: task.args } : task);
      }
    }
  }

  private checkTask(item: unknown, index: number): Task {
    if (isTask(item)) return item;
    throw new InvalidTaskError(
      `Expected the input to hold tasks made by delayed(fn)(...args), got ${describeValue(item)} at index ${index}`,
      { taskIndex: index },
    );
  }

  private limit(): number {
    const { preDispatch } = this.settings;
    if (preDispatch === 'all') return Infinity;
    if (preDispatch !== undefined) return preDispatch;
    return 2 * this.backend.slots * this.settings.sizer.current();
  }

  private canRead(): boolean {
    return !this.inputDone && !this.stopping && this.read - this.sink.consumed < this.limit();
  }

  private async readInput(iterator: Iterator<unknown> | AsyncIterator<unknown>): Promise<void> {
    if (this.checkedUpFront) return this.readArray(this.source as readonly Task[]);
    const isAsync = !isSyncIterator(this.source);
    while (this.canRead()) {
      let result: IteratorResult<unknown>;
      try {
        if (!isAsync) {
          result = (iterator as Iterator<unknown>).next();
        } else {
          const next = (iterator as AsyncIterator<unknown>).next();
          // A worker is waiting and the input is slow: send what is queued instead of waiting for more.
          if (this.running < this.backend.slots && this.queue.size > 0) {
            if ((await Promise.race([next, nextMacrotask(SLOW_INPUT)])) === SLOW_INPUT) this.dispatch(true);
          }
          result = await next;
        }
      } catch (error) {
        this.inputDone = true; // a throwing iterator is finished
        this.fail(this.read, error);
        return;
      }
      if (this.stopping) return;
      if (result.done) {
        this.inputDone = true;
        this.total = this.read;
        return;
      }
      const index = this.read++;
      try {
        const task = this.checkTask(result.value, index);
        if (!this.cache.admit(index, task)) this.queue.push(index, task, this.backend.prepare(task));
      } catch (error) {
        this.fail(index, error);
        return;
      }
      this.dispatch(false);
    }
  }

  /**
   * {@link readInput} for an array, checked whole: indexed reads, without an iterator result per
   * task, and batches start once the read-ahead is queued (reading costs nothing to wait for).
   */
  private readArray(tasks: readonly Task[]): void {
    while (this.canRead()) {
      // Up to the length checked up front: tasks added while the call runs are not read.
      if (this.read >= (this.total as number)) {
        this.inputDone = true;
        return;
      }
      const index = this.read++;
      const task = tasks[index] as Task;
      try {
        if (!this.cache.admit(index, task)) this.queue.push(index, task, this.backend.prepare(task));
      } catch (error) {
        this.fail(index, error);
        return;
      }
    }
    this.dispatch(false);
  }

  /** Batch sizes start from what earlier calls measured for `fn`, the function of the first task. */
  private sizeFor(fn: object): void {
    this.sizedFor = fn;
    recallTaskCost(this.settings.sizer, fn, this.settings.taskCosts);
  }

  /** Starts batches on free slots; a short batch waits for more input unless `allowPartial`. */
  private dispatch(allowPartial: boolean): void {
    if (this.sizedFor === undefined && this.queue.size > 0) this.sizeFor((this.queue.peek() as Task).fn);
    while (!this.stopping && this.running < this.backend.slots && this.queue.size > 0) {
      const remaining = this.total === undefined ? undefined : this.total - this.dispatched;
      const size = nextBatchSize(this.settings.sizer, remaining, this.backend.slots);
      if (this.queue.size < size && !allowPartial && this.canRead()) return;
      const count = Math.min(size, this.queue.size);
      this.startBatch(this.queue.take(this.backend.fit ? this.backend.fit(count, (i) => this.queue.at(i)) : count));
    }
  }

  private startBatch(batch: Batch): void {
    this.running++;
    this.dispatched += batch.length;
    this.backend.runBatch(batch, (outcomes) => this.onOutcomes(outcomes)).then(
      (end) => this.onBatchEnd(end),
      (error: unknown) => {
        // Backends report task failures as outcomes; a rejection here is a fault of the backend itself.
        this.running--;
        this.fail(batch.indices[0] as number, error);
      },
    );
  }

  private onBatchEnd(end: BatchEnd): void {
    this.running--;
    if (end.ran > 0) this.settings.sizer.record(end.ran, end.durationMs);
    if (end.unrun.length > 0 && !this.stopping) {
      // Tasks behind a crash or a timeout (errors: 'settle'): nothing is lost, they run again elsewhere.
      this.queue.requeue(end.unrun);
      this.dispatched -= end.unrun.length;
    }
    this.wake();
  }

  private onOutcomes(outcomes: Outcomes): void {
    if (this.cache.observing) {
      // Cached misses among the tasks: each outcome is recorded for the store.
      for (let i = 0; i < outcomes.count; i++) {
        const outcome = outcomes.at(i);
        this.cache.observe(outcome);
        this.take(outcome);
      }
      this.cache.storeComputed();
    } else {
      this.completed += outcomes.count;
      if (outcomes.errors && !this.settings.settle) {
        for (const [position, error] of outcomes.errors) this.fail(outcomes.indexAt(position), error);
      }
      this.sink.acceptAll(outcomes);
      this.wake();
    }
    this.reportProgress();
  }

  /** Counts one task as completed and hands its outcome on. */
  private take(outcome: Outcome): void {
    this.completed++;
    if (outcome.ok || this.settings.settle) this.sink.accept(outcome);
    else this.fail(outcome.index, outcome.error);
    this.wake();
  }

  /**
   * One progress update per chunk of outcomes, not per task: with 100,000 tasks of 1 µs, an update
   * (and an onProgress call) per task cost the calling thread as much as the tasks themselves.
   */
  private reportProgress(): void {
    if (this.completed === this.reported) return;
    this.reported = this.completed;
    this.settings.progress.update(this.completed, this.total, this.settings.sizer.current());
  }

  /** Records a failure; the lowest index among failures seen before the call ends is the one reported. */
  private fail(index: number, error: unknown): void {
    if (this.failure === undefined || index < this.failure.index) this.failure = { index, error };
    if (this.stopping) return;
    this.stopping = true;
    Atomics.store(this.cancel, 0, 1);
    this.graceTimer = setTimeout(() => this.backend.interrupt(), FAIL_FAST_GRACE_MS);
    this.wake();
  }
}

const SLOW_INPUT = Symbol('slow input');

function isSyncIterator(source: TaskSource): source is Iterable<unknown> {
  return typeof (source as Iterable<unknown>)[Symbol.iterator] === 'function';
}

function openIterator(source: TaskSource): Iterator<unknown> | AsyncIterator<unknown> {
  return isSyncIterator(source) ? source[Symbol.iterator]() : source[Symbol.asyncIterator]();
}

async function closeQuietly(iterator: Iterator<unknown> | AsyncIterator<unknown>): Promise<void> {
  try {
    await iterator.return?.();
  } catch {
    // The call already has its outcome; an input that fails to close does not change it.
  }
}
