/**
 * Tasks read from the input and not yet dispatched, in input order. An array with a moving head,
 * so that taking a batch from the front costs the batch, not the queue.
 */
import type { PendingTask } from './backend.js';

export class TaskQueue {
  private items: PendingTask[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  /** The first task, without removing it. */
  peek(): PendingTask | undefined {
    return this.items[this.head];
  }

  push(task: PendingTask): void {
    this.items.push(task);
  }

  /** Removes and returns up to `count` tasks from the front. */
  take(count: number): PendingTask[] {
    const batch = this.items.slice(this.head, this.head + count);
    this.head += batch.length;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return batch;
  }

  /** Puts tasks back at the front (they come before everything queued). */
  requeue(tasks: readonly PendingTask[]): void {
    if (tasks.length <= this.head) {
      this.head -= tasks.length;
      for (let i = 0; i < tasks.length; i++) this.items[this.head + i] = tasks[i] as PendingTask;
    } else {
      this.items = [...tasks, ...this.items.slice(this.head)];
      this.head = 0;
    }
  }
}
