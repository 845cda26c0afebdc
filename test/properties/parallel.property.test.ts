import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Parallel, delayed, type AnyTask, type ParallelOptions } from '../../dist/index.js';
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
const preDispatchArb = fc.oneof(fc.integer({ min: 1, max: 50 }), fc.constant('all' as const), fc.constant(undefined));
const returnAsArb = fc.constantFrom('array' as const, 'generator' as const, 'generator_unordered' as const);
const inputsArb = fc.array(fc.tuple(fc.integer(), fc.integer({ min: 0, max: 3000 })), { maxLength: 120 });

async function runWith(options: ParallelOptions, tasks: AnyTask[]): Promise<unknown[]> {
  const output = Parallel(options as ParallelOptions & { returnAs: 'array' })(tasks) as unknown;
  if (Array.isArray(await Promise.resolve(output))) return (await output) as unknown[];
  const collected: unknown[] = [];
  for await (const value of output as AsyncIterable<unknown>) collected.push(value);
  return collected;
}

describe('Parallel properties', () => {
  it('parallel result equals sequential result, in input order (unordered: the same multiset)', async () => {
    await fc.assert(
      fc.asyncProperty(inputsArb, nJobsArb, batchSizeArb, preDispatchArb, returnAsArb, async (inputs, nJobs, batchSize, preDispatch, returnAs) => {
        const expected = inputs.map(([x, cost]) => work(x, cost));
        const options = { nJobs, batchSize, returnAs, ...(preDispatch !== undefined ? { preDispatch } : {}) };
        const actual = await runWith(options, inputs.map(([x, cost]) => delayed(work)(x, cost)));
        if (returnAs === 'generator_unordered') {
          const sort = (values: unknown[]) => [...(values as number[])].sort((a, b) => a - b);
          assert.deepEqual(sort(actual), sort(expected));
        } else {
          assert.deepEqual(actual, expected);
        }
      }),
      propertySettings(60),
    );
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
