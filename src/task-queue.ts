/**
 * Tasks read from the input and not yet dispatched, in input order, kept column by column (see
 * batch.ts) with a moving head, so that taking a batch from the front costs the batch, not the queue.
 */
import { Batch } from './batch.js';
import type { Task } from './delayed.js';

export class TaskQueue {
  private indices: number[] = [];
  private tasks: Task[] = objectArray();
  private fnIds: number[] = [];
  private head = 0;

  get size(): number {
    return this.indices.length - this.head;
  }

  /** The first task, without removing it. */
  peek(): Task | undefined {
    return this.tasks[this.head];
  }

  /** The task `offset` places from the front. */
  at(offset: number): Task {
    return this.tasks[this.head + offset] as Task;
  }

  push(index: number, task: Task, fnId: number): void {
    this.indices.push(index);
    this.tasks.push(task);
    this.fnIds.push(fnId);
  }

  /** Removes and returns up to `count` tasks from the front. */
  take(count: number): Batch {
    const end = Math.min(this.head + count, this.indices.length);
    const batch = new Batch(this.indices.slice(this.head, end), this.tasks.slice(this.head, end), this.fnIds.slice(this.head, end));
    this.head = end;
    if (this.head > 1024 && this.head * 2 > this.indices.length) this.compact();
    return batch;
  }

  /** Puts tasks back at the front (they come before everything queued). */
  requeue(batch: Batch): void {
    this.compact();
    this.indices = batch.indices.concat(this.indices);
    this.tasks = batch.tasks.concat(this.tasks);
    this.fnIds = batch.fnIds.concat(this.fnIds);
  }

  /**
   * Drops the taken tasks from the front, in place. Assigning new arrays (`slice`) made V8 drop the
   * code it had compiled for `push` and the input loop around it, which counted on the fields never
   * changing after the constructor (W2: at the first compaction of a call of 10,000 tasks, and
   * compiled again). `splice` moves the rest about as fast as `slice` copies it; `copyWithin` was 8x
   * slower. (`requeue` still assigns: it follows a crash or a timeout.)
   */
  private compact(): void {
    const { head } = this;
    if (head === 0) return;
    this.indices.splice(0, head);
    this.tasks.splice(0, head);
    this.fnIds.splice(0, head);
    this.head = 0;
  }
}

/**
 * An empty array that V8 already treats as holding objects. `[]` starts as an array of small
 * integers, and the first task pushed into it changes its kind: the optimized push, shaped by the
 * last call's queue, bailed out on it once per call, and the input loop around it was compiled
 * again (3-9 ms of a CPU at the start of every call of 10,000 tasks).
 */
function objectArray<T extends object>(): T[] {
  const array: (T | null)[] = [null];
  array.pop();
  return array as T[];
}
