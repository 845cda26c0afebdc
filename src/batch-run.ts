/**
 * One batch sent to one worker, from the request to its end: maps the worker's chunks to outcomes,
 * times tasks when there is a timeout, and, when the worker dies or the batch cannot be sent, says
 * which task failed and which tasks must run again.
 */
import { WorkerCrashedError } from './errors.js';
import { cellIndex, reviveError, type BatchChunk, type BatchRequest, type ChunkReplies, type ShippedFn } from './protocol.js';
import { decodeValues, encodeArgs, shareLargeArrays, type SharedCopies } from './batch-codec.js';
import { timeoutError, withTaskIndex, type BatchEnd, type RunControl } from './backend.js';
import { Batch, Outcomes } from './batch.js';
import type { FnRef } from './fn-ref.js';
import type { Task } from './delayed.js';

/** What a batch run needs from its worker. */
export interface RunHost {
  /** Function ids the worker has been sent. */
  readonly knownFns: Set<number>;
  /** The worker's shared counters of ended tasks (PoolWorkerData.endedCounters). */
  readonly endedCounters: Int32Array;
  /** Terminates the worker (a task ran past its timeout). */
  kill(): void;
}

/** What a batch run needs from the call it serves. */
export interface RunContext {
  readonly refs: ReadonlyMap<number, FnRef>;
  readonly control: RunControl;
  /** Shared copies of large argument arrays, one per buffer for the whole call. */
  readonly sharedCopies: SharedCopies;
}

export class BatchRun {
  readonly request: BatchRequest;
  readonly finished: Promise<BatchEnd>;
  private resolve!: (end: BatchEnd) => void;
  /** Offset in the batch of the first task without an outcome. */
  private next = 0;
  private timer: NodeJS.Timeout | undefined;
  private done = false;
  private subscription: { unsubscribe(): void } | undefined;

  private readonly control: RunControl;

  constructor(
    private readonly batch: Batch,
    context: RunContext,
    private readonly report: (outcomes: Outcomes) => void,
    private readonly host: RunHost,
    /** Where the worker counts the tasks of this batch that have ended (see BatchRequest.endedSlot). */
    readonly endedSlot: number,
    /** Called once, when the run ends, whatever the way. */
    private readonly onEnd: (run: BatchRun) => void,
  ) {
    this.finished = new Promise((resolve) => {
      this.resolve = resolve;
    });
    this.control = context.control;
    this.request = this.buildRequest(context);
  }

  /** Subscribes to the worker's replies; the timer of the first task starts now. */
  listen(replies: ChunkReplies): void {
    this.armTimer();
    this.subscription = replies.subscribe({
      next: (chunk) => this.onChunk(chunk),
      error: (error) => this.onError(error),
      complete: () => undefined,
    });
  }

  /**
   * The worker died. A run whose tasks all ended before (their results lost in flight) runs them
   * again; the run whose task was under way fails that task; runs queued behind it never started.
   */
  workerDied(code: number, cause: unknown, onPurpose: boolean, crashedAlready: boolean): boolean {
    const endedInWorker = Atomics.load(this.host.endedCounters, cellIndex(this.endedSlot));
    if (onPurpose || crashedAlready || endedInWorker >= this.batch.length) {
      this.end(0, this.next, this.batch.slice(this.next));
      return false;
    }
    const running = Math.max(this.next, endedInWorker);
    const current = this.batch.indices[running];
    this.failTask(
      running,
      new WorkerCrashedError(
        `The worker thread running task ${current ?? '?'} died (exit code ${code}` +
          `${cause ? `: ${String((cause as Error)?.message ?? cause)}` : ''}); it has been replaced.`,
        { taskIndex: current, exitCode: code, cause },
      ),
    );
    return true;
  }

  private onChunk(chunk: BatchChunk): void {
    const values = decodeValues(chunk.values);
    let errors: Map<number, unknown> | undefined;
    for (const [offset, error] of chunk.errors ?? []) {
      const index = this.batch.indices[this.next + offset] as number;
      (errors ??= new Map()).set(offset, withTaskIndex(reviveError(error), index));
    }
    const offset = this.next;
    this.next += values.length;
    if (values.length > 0) this.report(new Outcomes(this.batch.indices, offset, values, errors, chunk.durations));
    if (chunk.done) this.end(chunk.done.durationMs, chunk.done.ran, this.batch.slice(chunk.done.ran), true);
    else this.armTimer();
  }

  private onError(error: unknown): void {
    if (this.next === 0 && (error as Error)?.name === 'DataCloneError') {
      // The batch could not be sent: some task's arguments cannot be cloned. Those tasks fail with
      // the DataCloneError; the others never started and run again. The worker never received the
      // functions this request introduced.
      for (const { id } of this.request.newFns) this.host.knownFns.delete(id);
      const unclonable: number[] = [];
      const clonable: number[] = [];
      for (let offset = 0; offset < this.batch.length; offset++) {
        (canClone((this.batch.tasks[offset] as Task).args) ? clonable : unclonable).push(offset);
      }
      const failed = this.batch.pick(unclonable);
      const errors = new Map(unclonable.map((_, i) => [i, withTaskIndex(argumentsError(failed.indices[i] as number, error), failed.indices[i] as number)]));
      this.report(new Outcomes(failed.indices, 0, new Array(unclonable.length), errors));
      this.end(0, 0, this.batch.pick(clonable));
      return;
    }
    this.failTask(this.next, new WorkerCrashedError(`A worker thread failed to run a batch: ${String(error)}`, { cause: error }));
  }

  /** Fails the task at `offset`; the tasks after it never ran, and those before it whose results were lost run again. */
  private failTask(offset: number, error: unknown): void {
    const failed = this.batch.indices[offset];
    if (failed !== undefined) this.report(Outcomes.of({ index: failed, ok: false, error }));
    this.end(0, offset + 1, this.batch.slice(this.next, offset).concat(this.batch.slice(offset + 1)));
  }

  private armTimer(): void {
    const { timeoutMs } = this.control;
    if (timeoutMs === undefined) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const current = this.batch.indices[this.next];
      if (current === undefined || this.done) return;
      this.failTask(this.next, timeoutError(current, timeoutMs));
      this.host.kill();
    }, timeoutMs);
  }

  private end(durationMs: number, ran: number, unrun: Batch, completed = false): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    // A batch that ended normally closes its own subscription; unsubscribing would send the worker
    // a needless cancel message per batch.
    if (!completed) this.subscription?.unsubscribe();
    this.onEnd(this);
    this.resolve({ durationMs, ran, unrun });
  }

  private buildRequest({ refs, sharedCopies }: RunContext): BatchRequest {
    const { fnIds } = this.batch;
    return {
      newFns: functionsToShip(fnIds, this.host.knownFns, refs),
      fnIds: allEqual(fnIds) ? (fnIds[0] as number) : fnIds,
      args: encodeArgs(shareLargeArrays(argsOf(this.batch.tasks), sharedCopies)),
      settle: this.control.settle,
      stream: this.control.timeoutMs !== undefined,
      cancel: this.control.cancel,
      endedSlot: this.endedSlot,
    };
  }
}

/**
 * The functions among `fnIds` that the worker has not been sent yet, counted as known from now on.
 * Kept out of buildRequest: it ships something only in the first batches a worker gets, and
 * buildRequest's optimized code, which had not seen that happen, bailed out there and was compiled
 * again with the codec inlined in it, 20-50 ms of a CPU at the start of a call on new workers.
 */
function functionsToShip(fnIds: readonly number[], knownFns: Set<number>, refs: ReadonlyMap<number, FnRef>): ShippedFn[] {
  const newFns: ShippedFn[] = [];
  // A batch is mostly runs of one function: the set is asked once per run.
  let previous: number | undefined;
  for (let i = 0; i < fnIds.length; i++) {
    const fnId = fnIds[i] as number;
    if (fnId === previous) continue;
    previous = fnId;
    if (!knownFns.has(fnId)) {
      knownFns.add(fnId);
      newFns.push({ id: fnId, ref: refs.get(fnId) as FnRef });
    }
  }
  return newFns;
}

function allEqual(values: readonly number[]): boolean {
  const first = values[0];
  for (let i = 1; i < values.length; i++) if (values[i] !== first) return false;
  return true;
}

/**
 * The argument lists of `tasks`, in an array built by push, so always of one elements kind.
 * `Array.prototype.map` returned packed or holey arrays depending on how V8 ran it, and the
 * codec's optimized code, compiled for one kind, bailed out at almost every batch given the other
 * (about 250 deoptimizations in a call of 10,000 tasks of 100 µs).
 */
function argsOf(tasks: readonly Task[]): (readonly unknown[])[] {
  const lists: (readonly unknown[])[] = [];
  for (let i = 0; i < tasks.length; i++) lists.push((tasks[i] as Task).args);
  return lists;
}

function canClone(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

function argumentsError(index: number, cause: unknown): Error {
  const error = new DOMException(
    `The arguments of task ${index} cannot be sent to a worker thread (${(cause as Error)?.message ?? cause}). ` +
      'Arguments travel by structured clone: functions, symbols and promises do not survive; pass plain data, ' +
      "or use backend 'async' or 'sequential'.",
    'DataCloneError',
  );
  return Object.assign(error, { cause });
}
