/**
 * The backend contract, and the in-thread backends: `'sequential'` (one task at a time, in input
 * order: the reference every other backend is tested against) and `'async'` (up to nJobs tasks in
 * flight in the calling thread, for I/O-bound work).
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { isThenable } from './thenable.js';
import type { Task } from './delayed.js';
import { Batch, Outcomes, type Outcome } from './batch.js';
import { TaskTimeoutError } from './errors.js';

/** How a batch ended. */
export interface BatchEnd {
  /** Time the tasks ran, in ms, measured where they ran. */
  readonly durationMs: number;
  /** Tasks of the batch that ran (reported an outcome). */
  readonly ran: number;
  /** Tasks at the end of the batch that never started (cancelled, or behind a crash or a timeout). */
  readonly unrun: Batch;
}

/** Settings a backend needs from the call it serves. */
export interface RunControl {
  /** Shared flag: once non-zero, no further task starts. */
  readonly cancel: Int32Array;
  /** Keep running a batch after one of its tasks fails. */
  readonly settle: boolean;
  /** Per-task time limit in ms. */
  readonly timeoutMs: number | undefined;
}

/** Runs batches for one call. Created per call; {@link Backend.release} ends it. */
export interface Backend {
  /** How many batches may run at once. */
  readonly slots: number;
  /** Gets ready for a call of at most this many batches (starts no more workers), before its tasks are checked and read. */
  prestart?(expectedBatches: number): void;
  /**
   * How many of the next `count` tasks (`taskAt(0)` first) one batch should take, when the backend
   * limits batches by more than their number of tasks.
   */
  fit?(count: number, taskAt: (i: number) => Task): number;
  /** Checks a task before it is queued and returns the handle of its function; throws when it cannot run here. */
  prepare(task: Task): number;
  /** Runs one batch, reporting outcomes in batch order as they come; never rejects for a task's failure. */
  runBatch(batch: Batch, report: (outcomes: Outcomes) => void): Promise<BatchEnd>;
  /** Stops whatever is running now; running batches resolve promptly with their unrun tasks. */
  interrupt(): void;
  /** Gives back what the call held (workers return to the shared pool). */
  release(): void;
}

/** Longest stretch of synchronous tasks before the calling thread lets timers and signals through, in ms. */
const YIELD_EVERY_MS = 20;

/**
 * Runs tasks in the calling thread. Any function works, closures included. A synchronous task cannot
 * be interrupted here: if it overruns the timeout, the failure is reported when it returns.
 */
export class InThreadBackend implements Backend {
  private readonly interrupted: Promise<'interrupted'>;
  private interruptNow: () => void = () => {};
  private lastYield = performance.now();

  constructor(
    readonly slots: number,
    private readonly control: RunControl,
  ) {
    this.interrupted = new Promise((resolve) => {
      this.interruptNow = () => resolve('interrupted');
    });
  }

  prepare(): number {
    return 0;
  }

  async runBatch(batch: Batch, report: (outcomes: Outcomes) => void): Promise<BatchEnd> {
    let durationMs = 0;
    for (let i = 0; i < batch.length; i++) {
      if (Atomics.load(this.control.cancel, 0) !== 0) return { durationMs, ran: i, unrun: batch.slice(i) };
      const started = performance.now();
      const outcome = await this.runOne(batch.indices[i] as number, batch.tasks[i] as Task);
      const ended = performance.now();
      durationMs += ended - started;
      if (outcome === 'interrupted') return { durationMs, ran: i, unrun: batch.slice(i + 1) };
      report(Outcomes.of(outcome));
      if (!outcome.ok && !this.control.settle) return { durationMs, ran: i + 1, unrun: batch.slice(i + 1) };
      if (ended - this.lastYield > YIELD_EVERY_MS) {
        await yieldToEventLoop();
        this.lastYield = performance.now();
      }
    }
    return { durationMs, ran: batch.length, unrun: Batch.empty };
  }

  private async runOne(index: number, task: Task): Promise<Outcome | 'interrupted'> {
    const { timeoutMs } = this.control;
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      let value: unknown = task.fn(...task.args);
      if (isThenable(value)) {
        const contenders: Promise<unknown>[] = [Promise.resolve(value), this.interrupted];
        if (timeoutMs !== undefined) {
          contenders.push(
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(timeoutError(index, timeoutMs)), timeoutMs);
            }),
          );
        }
        value = await Promise.race(contenders);
        if (value === 'interrupted') return 'interrupted';
      } else if (timeoutMs !== undefined && performance.now() - started > timeoutMs) {
        throw timeoutError(index, timeoutMs);
      }
      return { index, ok: true, value, durationMs: performance.now() - started };
    } catch (error) {
      return { index, ok: false, error: withTaskIndex(error, index) };
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  interrupt(): void {
    this.interruptNow();
  }

  release(): void {
    this.interruptNow();
  }
}

/** The error for a task that ran past the `timeout` option. */
export function timeoutError(index: number, timeoutMs: number): TaskTimeoutError {
  return new TaskTimeoutError(`Task ${index} ran longer than the timeout of ${timeoutMs} ms`, timeoutMs, {
    taskIndex: index,
  });
}

/** Records on a task's own error which task threw it (when the error is an object that allows it). */
export function withTaskIndex(error: unknown, index: number): unknown {
  if (typeof error === 'object' && error !== null && Object.isExtensible(error) && !('taskIndex' in error)) {
    try {
      Object.defineProperty(error, 'taskIndex', { value: index, enumerable: false, writable: true, configurable: true });
    } catch {
      // A frozen or exotic object keeps its shape; the error still reaches the caller as itself.
    }
  }
  return error;
}
