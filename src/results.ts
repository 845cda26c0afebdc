/**
 * The two shapes of results: an array in input order, and an async iterator (in input order or in
 * completion order) whose consumer sets the pace of the whole call.
 */
import type { Outcome, Outcomes } from './batch.js';
import type { Execution, ResultSink } from './engine.js';

/** Turns an outcome into what the caller sees: the value, or a settled record with `errors: 'settle'`. */
export function presentOutcome(outcome: Outcome, settle: boolean): unknown {
  if (!settle) return outcome.ok ? outcome.value : undefined;
  return outcome.ok
    ? { status: 'fulfilled', value: outcome.value }
    : { status: 'rejected', reason: outcome.error };
}

/** Collects results by input position. */
export class ArraySink implements ResultSink {
  readonly results: unknown[];
  consumed = 0;

  constructor(
    private readonly settle: boolean,
    expectedLength = 0,
  ) {
    this.results = new Array<unknown>(expectedLength);
  }

  accept(outcome: Outcome): void {
    this.results[outcome.index] = presentOutcome(outcome, this.settle);
    this.consumed++;
  }

  acceptAll(outcomes: Outcomes): void {
    const { values, errors, count } = outcomes;
    if (errors || this.settle) {
      for (let i = 0; i < count; i++) if (this.settle || !errors?.has(i)) this.accept(outcomes.at(i));
      return;
    }
    for (let i = 0; i < count; i++) this.results[outcomes.indexAt(i)] = values[i];
    this.consumed += count;
  }
}

/** Holds finished results until the consumer of a generator takes them. */
export class StreamSink implements ResultSink {
  consumed = 0;
  private readonly byIndex = new Map<number, unknown>();
  private readonly inOrder: unknown[] = [];
  private orderHead = 0;
  private nextIndex = 0;
  private changed: (() => void) | undefined;

  constructor(
    private readonly ordered: boolean,
    private readonly settle: boolean,
  ) {}

  acceptAll(outcomes: Outcomes): void {
    for (let i = 0; i < outcomes.count; i++) {
      if (this.settle || !outcomes.errors?.has(i)) this.accept(outcomes.at(i));
    }
  }

  accept(outcome: Outcome): void {
    const value = presentOutcome(outcome, this.settle);
    if (this.ordered) this.byIndex.set(outcome.index, value);
    else this.inOrder.push(value);
    this.notify();
  }

  /** The next result the consumer may have, if one is ready. */
  take(): { value: unknown } | undefined {
    if (this.ordered) {
      if (!this.byIndex.has(this.nextIndex)) return undefined;
      const value = this.byIndex.get(this.nextIndex);
      this.byIndex.delete(this.nextIndex++);
      this.consumed++;
      return { value };
    }
    if (this.orderHead >= this.inOrder.length) return undefined;
    const value = this.inOrder[this.orderHead];
    this.inOrder[this.orderHead++] = undefined;
    if (this.orderHead > 1024 && this.orderHead * 2 > this.inOrder.length) {
      this.inOrder.splice(0, this.orderHead);
      this.orderHead = 0;
    }
    this.consumed++;
    return { value };
  }

  /** Resolves at the next accepted result or at {@link notify}. */
  whenChanged(): Promise<void> {
    return new Promise((resolve) => {
      this.changed = resolve;
    });
  }

  notify(): void {
    const changed = this.changed;
    this.changed = undefined;
    changed?.();
  }
}

/** Why the execution behind a generator was stopped when its consumer left early. */
const CONSUMER_LEFT = Symbol('consumer left');

/**
 * The async iterator of a generator-mode call. Work starts at the first `next()`; leaving a
 * `for await` loop early (`return()`) stops the call and frees its workers.
 */
export class ResultStream<T> implements AsyncIterableIterator<T> {
  private execution: Execution | undefined;
  private finished: Promise<void> | undefined;
  private outcome: { error?: unknown; failed: boolean } | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly sink: StreamSink,
    private readonly start: () => Execution,
    private readonly ended: (execution: Execution) => void,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    // Calls are served one after the other, as a `for await` loop makes them.
    const result = this.queue.then(() => this.pull());
    this.queue = result.catch(() => undefined);
    return result;
  }

  async return(value?: unknown): Promise<IteratorResult<T>> {
    if (this.execution && !this.outcome) {
      this.execution.stop(CONSUMER_LEFT);
      await this.finished;
    }
    this.outcome = { failed: false };
    return { value: value as T, done: true };
  }

  async throw(error?: unknown): Promise<IteratorResult<T>> {
    await this.return();
    throw error;
  }

  private async pull(): Promise<IteratorResult<T>> {
    if (!this.execution) this.begin();
    for (;;) {
      const ready = this.sink.take();
      if (ready) {
        this.execution?.wake();
        return { value: ready.value as T, done: false };
      }
      if (this.outcome) {
        if (!this.outcome.failed) return { value: undefined, done: true };
        const { error } = this.outcome;
        this.outcome = { failed: false }; // the error is thrown once; the iterator is then done
        throw error;
      }
      await this.sink.whenChanged();
    }
  }

  private begin(): void {
    const execution = this.start();
    this.execution = execution;
    this.finished = execution.run().then(
      () => {
        this.outcome ??= { failed: false };
      },
      (error: unknown) => {
        this.outcome ??= error === CONSUMER_LEFT ? { failed: false } : { error, failed: true };
      },
    );
    void this.finished.then(() => {
      this.ended(execution);
      this.sink.notify();
    });
  }
}
