import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AutoBatchSizer, FixedBatchSizer, MAX_BATCH_MS, MIN_BATCH_MS, nextBatchSize } from '../dist/scheduler.js';

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
    assert.ok(settled * 0.001 >= MIN_BATCH_MS && settled * 0.001 <= MAX_BATCH_MS, `settled at ${settled}`);
  });

  it('keeps batches of 1 for tasks longer than the window', () => {
    assert.deepEqual(drive(new AutoBatchSizer(), 5, 10), Array(10).fill(1));
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
    const auto = new AutoBatchSizer();
    drive(auto, 0.001, 20);
    assert.equal(nextBatchSize(auto, undefined, 2), auto.current());
    assert.equal(nextBatchSize(auto, 40, 2), 10);
    assert.equal(nextBatchSize(auto, 1, 2), 1);
  });

  it('ignores empty or invalid measurements', () => {
    const sizer = new AutoBatchSizer();
    sizer.record(0, 5);
    sizer.record(3, Number.NaN);
    assert.equal(sizer.current(), 1);
  });
});
