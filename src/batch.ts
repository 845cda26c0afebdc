/**
 * A batch of tasks and the outcomes it reports, both stored column by column: a call of 100,000 tiny
 * tasks must not cost the calling thread a record per task on the way out and another on the way
 * back. Every record allocated per task lived as long as its batch, and the garbage collector of the
 * calling thread, copying them, competed with the workers for the CPUs (bench W1).
 */
import type { Task } from './delayed.js';

/** What happened to one task. */
export type Outcome =
  | { readonly index: number; readonly ok: true; readonly value: unknown; readonly durationMs?: number }
  | { readonly index: number; readonly ok: false; readonly error: unknown };

/** Tasks in the order they run: their input positions, the tasks, and their functions' handles. */
export class Batch {
  constructor(
    /** Input position of each task. */
    readonly indices: readonly number[],
    readonly tasks: readonly Task[],
    /** Backend-specific handle of each task's function (the shipment id for worker threads). */
    readonly fnIds: readonly number[],
  ) {}

  static readonly empty = new Batch([], [], []);

  get length(): number {
    return this.indices.length;
  }

  /** The tasks from `start` to `end` (exclusive). */
  slice(start: number, end: number = this.length): Batch {
    if (start === 0 && end >= this.length) return this;
    return new Batch(this.indices.slice(start, end), this.tasks.slice(start, end), this.fnIds.slice(start, end));
  }

  /** The tasks at these offsets, in this order. */
  pick(offsets: readonly number[]): Batch {
    return new Batch(
      offsets.map((o) => this.indices[o] as number),
      offsets.map((o) => this.tasks[o] as Task),
      offsets.map((o) => this.fnIds[o] as number),
    );
  }

  /** This batch followed by `other`. */
  concat(other: Batch): Batch {
    if (other.length === 0) return this;
    if (this.length === 0) return other;
    return new Batch(this.indices.concat(other.indices), this.tasks.concat(other.tasks), this.fnIds.concat(other.fnIds));
  }
}

/**
 * The outcomes of consecutive tasks of a batch, from `offset` on: one value per task (a typed array
 * when they all were numbers), and the failures apart, by position in this chunk.
 */
export class Outcomes {
  constructor(
    /** Input positions of the batch's tasks (see {@link Batch.indices}). */
    private readonly indices: readonly number[],
    /** Position in the batch of this chunk's first task. */
    private readonly offset: number,
    /** Values by position in this chunk; the slot of a failed task holds undefined. */
    readonly values: ArrayLike<unknown>,
    /** Errors by position in this chunk, when some task failed. */
    readonly errors: ReadonlyMap<number, unknown> | undefined,
    /** How long each task ran, in ms, when it was measured. */
    private readonly durations?: ArrayLike<number>,
  ) {}

  /** A chunk of one outcome. */
  static of(outcome: Outcome): Outcomes {
    return outcome.ok
      ? new Outcomes([outcome.index], 0, [outcome.value], undefined, [outcome.durationMs ?? 0])
      : new Outcomes([outcome.index], 0, [undefined], new Map([[0, outcome.error]]));
  }

  get count(): number {
    return this.values.length;
  }

  /** Input position of the task at position `i` of this chunk. */
  indexAt(i: number): number {
    return this.indices[this.offset + i] as number;
  }

  /** The outcome at position `i` as a record, for the paths that handle outcomes one by one. */
  at(i: number): Outcome {
    const index = this.indexAt(i);
    if (this.errors?.has(i)) return { index, ok: false, error: this.errors.get(i) };
    return { index, ok: true, value: this.values[i], durationMs: this.durations?.[i] ?? 0 };
  }
}
