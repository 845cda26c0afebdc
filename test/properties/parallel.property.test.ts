import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Parallel, delayed } from '../../dist/index.js';
import { checkParallelEquivalence } from '../../dist/testing/index.js';
import { propertySettings } from './settings.js';

/** A pure task whose cost varies with its input, so that workers finish out of order. */
function work(x: number, cost: number): number {
  let h = x | 0;
  for (let i = 0; i < cost; i++) h = (Math.imul(h, 31) + i) | 0;
  return h;
}

/** Marks that task `i` ran, then fails if `bad`. */
function markAndMaybeFail(i: number, bad: boolean, ran: Int32Array): number {
  Atomics.store(ran, i, 1);
  if (bad) throw new Error(`injected failure at ${i}`);
  return i;
}

const nJobsArb = fc.constantFrom(1, 2, 3, -1);
const batchSizeArb = fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constant('auto' as const));

describe('Parallel properties', () => {
  it('parallel result equals sequential result, in input order (unordered: the same multiset)', async () => {
    // Up to 120 tasks of uneven cost, with generated nJobs, batchSize, preDispatch, returnAs and errors.
    const { numRuns, seed, path } = propertySettings(60);
    await checkParallelEquivalence(work, fc.tuple(fc.integer(), fc.integer({ min: 0, max: 3000 })), {
      maxTasks: 120,
      numRuns,
      ...(seed !== undefined ? { seed } : {}),
      ...(path !== undefined ? { path } : {}),
    });
  });

  it('the rejection is the lowest-index injected failure among the tasks that ran', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 80 }).chain((n) => fc.tuple(fc.constant(n), fc.uniqueArray(fc.nat(n - 1), { minLength: 1, maxLength: 5 }))),
        nJobsArb,
        batchSizeArb,
        async ([n, injected], nJobs, batchSize) => {
          const ran = new Int32Array(new SharedArrayBuffer(4 * n));
          const bad = new Set(injected);
          const tasks = Array.from({ length: n }, (_, i) => delayed(markAndMaybeFail)(i, bad.has(i), ran));
          const error = await Parallel({ nJobs, batchSize })(tasks).then(
            () => assert.fail('expected a rejection'),
            (e: unknown) => e as Error & { taskIndex: number },
          );
          const lowestThatRan = Math.min(...injected.filter((i) => Atomics.load(ran, i) === 1));
          assert.equal(error.taskIndex, lowestThatRan);
          assert.equal(error.message, `injected failure at ${lowestThatRan}`);
          if (nJobs === 1) assert.equal(lowestThatRan, Math.min(...injected));
        },
      ),
      propertySettings(50),
    );
  });
});
