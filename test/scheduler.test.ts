import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AutoBatchSizer,
  FixedBatchSizer,
  MAX_AUTO_BATCH,
  MAX_BATCH_MS,
  TARGET_BATCH_MS,
  nextBatchSize,
  recallTaskCost,
  rememberTaskCost,
} from '../dist/scheduler.js';

/** Feeds the sizer batches whose tasks each cost `perTaskMs`, as a worker would report them. */
function drive(sizer: AutoBatchSizer, perTaskMs: number, steps: number): number[] {
  const sizes: number[] = [];
  for (let i = 0; i < steps; i++) {
    const size = sizer.current();
    sizes.push(size);
    sizer.record(size, size * perTaskMs);
  }
  return sizes;
}

describe('batch sizing', () => {
  it('starts at 1 and at most doubles per step for tiny tasks', () => {
    const sizes = drive(new AutoBatchSizer(), 0.001, 20);
    assert.equal(sizes[0], 1);
    for (let i = 1; i < sizes.length; i++) assert.ok((sizes[i] as number) <= 2 * (sizes[i - 1] as number));
    const settled = sizes.at(-1) as number;
    assert.equal(settled, TARGET_BATCH_MS / 0.001, `settled at ${settled}`);
  });

  it('grows batches of tasks of a few ms to the target, and keeps longer tasks one to a batch', () => {
    // A 5 ms batch is cheap next to its messages, yet the messages of 1,000 of them are not.
    assert.deepEqual(drive(new AutoBatchSizer(), 5, 6), [1, 2, 4, 8, 8, 8]);
    assert.deepEqual(drive(new AutoBatchSizer(), 15, 4), [1, 2, 2, 2]);
    assert.deepEqual(drive(new AutoBatchSizer(), MAX_BATCH_MS + 1, 5), Array(5).fill(1));
  });

  it('grows back after one slow batch', () => {
    // A pause (a GC, another process) made one batch of 1 ms tasks take 100 ms.
    const sizer = new AutoBatchSizer();
    drive(sizer, 1, 10);
    assert.equal(sizer.current(), 40);
    sizer.record(40, 100);
    const shrunk = sizer.current();
    assert.ok(shrunk < 40, `shrunk to ${shrunk}`);
    drive(sizer, 1, 12);
    // The moving average comes back to 1 ms from above, never quite reaching it.
    assert.ok(sizer.current() >= 36, `as the average cost comes back to 1 ms, so does the size: ${shrunk} -> ${sizer.current()}`);
  });

  it('shrinks at once when tasks become slower', () => {
    const sizer = new AutoBatchSizer();
    drive(sizer, 0.001, 20);
    const big = sizer.current();
    for (let i = 0; i < 5; i++) sizer.record(sizer.current(), sizer.current() * 2);
    assert.ok(sizer.current() < big / 100, `${big} -> ${sizer.current()}`);
    assert.ok(sizer.current() * 2 <= MAX_BATCH_MS);
  });

  it('cuts the last batches so that every worker gets a share of the end', () => {
    const sizer = new FixedBatchSizer(100);
    assert.equal(nextBatchSize(sizer, 10, 2), 100, 'a fixed size stays fixed');
    const slow = new AutoBatchSizer();
    drive(slow, 0.5, 10); // 0.5 ms tasks: batches of 80
    assert.equal(nextBatchSize(slow, undefined, 2), slow.current());
    assert.equal(nextBatchSize(slow, 12, 2), 3, 'the last 12 tasks go out 3 at a time');
    assert.equal(nextBatchSize(slow, 1, 2), 1);
  });

  it('does not cut the end of the input into batches shorter than half a millisecond', () => {
    const tiny = new AutoBatchSizer();
    drive(tiny, 0.001, 20); // 1 µs tasks
    assert.equal(nextBatchSize(tiny, 40, 2), 40, 'cutting 40 µs of work would cost more round trips than it saves');
    assert.equal(nextBatchSize(tiny, 4000, 2), 1000);
  });

  it('does not let a cost recalled from an earlier call keep the end of the input in large batches', () => {
    // An earlier call measured 12 µs a task (a small input); this call's tasks take 10 ms.
    const recalled = new AutoBatchSizer();
    recalled.startFrom(0.012);
    assert.equal(recalled.costMeasured, false);
    assert.equal(nextBatchSize(recalled, 100, 4), 13, 'an eighth of what is left, not the 42 tasks of 0.5 ms at 12 µs');
    recalled.record(13, 130);
    assert.equal(recalled.costMeasured, true);
    assert.equal(nextBatchSize(recalled, 50, 4), TARGET_BATCH_MS / 10, 'the target in tasks of 10 ms');
    // Once measured here, the floor holds again.
    const tiny = new AutoBatchSizer();
    tiny.startFrom(0.001);
    assert.equal(nextBatchSize(tiny, 40, 2), 10);
    tiny.record(1000, 1);
    assert.equal(nextBatchSize(tiny, 40, 2), 40);
  });

  it('starts from the cost an earlier call measured for the same function', () => {
    const costs = new WeakMap<object, number>();
    const first = new AutoBatchSizer();
    drive(first, 0.001, 20);
    const fn = () => 0;
    rememberTaskCost(first, fn, costs);
    const second = new AutoBatchSizer();
    recallTaskCost(second, fn, costs);
    assert.ok(second.current() > 1000, `started at ${second.current()}`);
    const other = new AutoBatchSizer();
    recallTaskCost(other, () => 1, costs);
    assert.equal(other.current(), 1, 'another function starts from 1');
    const elsewhere = new AutoBatchSizer();
    recallTaskCost(elsewhere, fn, new WeakMap());
    assert.equal(elsewhere.current(), 1, 'another runner starts from 1');
  });

  it('ignores empty or invalid measurements', () => {
    const sizer = new AutoBatchSizer();
    sizer.record(0, 5);
    sizer.record(3, Number.NaN);
    sizer.record(3, Infinity);
    sizer.record(3, -1);
    assert.equal(sizer.current(), 1);
    assert.equal(sizer.taskCostMs, undefined);
    const recalled = new AutoBatchSizer();
    recalled.startFrom(Infinity);
    assert.equal(recalled.taskCostMs, undefined, 'an infinite cost is not recalled');
  });

  it('caps the size of batches of tasks that take no measurable time', () => {
    const sizes = drive(new AutoBatchSizer(), 0, 40);
    assert.equal(sizes.at(-1), MAX_AUTO_BATCH);
    const recalled = new AutoBatchSizer();
    recalled.startFrom(1e-9);
    assert.equal(recalled.current(), MAX_AUTO_BATCH);
  });
});
