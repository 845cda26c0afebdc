import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TaskQueue } from '../dist/task-queue.js';
import { delayed } from '../dist/index.js';

const identity = (x: unknown) => x;

describe('task queue', () => {
  it('keeps input order across takes, the compactions they set off, and a requeue', () => {
    const queue = new TaskQueue();
    const pushed = (from: number, to: number) => {
      for (let i = from; i < to; i++) queue.push(i, delayed(identity)(i), i % 3);
    };
    pushed(0, 3000);
    const taken: number[] = [];
    const take = (count: number) => {
      const batch = queue.take(count);
      assert.deepEqual(batch.tasks.map((task) => task.args[0]), batch.indices);
      assert.deepEqual(batch.fnIds, batch.indices.map((i) => i % 3));
      return batch;
    };
    // Past 1,024 taken and half the queue, the front is dropped: the rest must stay in order.
    for (let round = 0; round < 3; round++) taken.push(...take(700).indices);
    assert.equal(queue.size, 900);
    assert.equal(queue.peek()?.args[0], 2100);
    pushed(3000, 3500);
    const back = take(400);
    queue.requeue(back);
    assert.equal(queue.at(0).args[0], 2100);
    while (queue.size > 0) taken.push(...take(650).indices);
    assert.deepEqual(taken, Array.from({ length: 3500 }, (_, i) => i));
  });
});
