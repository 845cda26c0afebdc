// Type tests: checked by `tsc -p tsconfig.test.json` in `npm test`; a wrong inference fails the build.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { Parallel, delayed, type Task, type TaskResult } from '../dist/index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<_T extends true>(): void {}

const square = (x: number) => x * x;
const shout = async (s: string) => s.toUpperCase();

it('infers result types from delayed(fn)', async () => {
  const task = delayed(square)(3);
  assertType<Equal<typeof task, Task<number, [x: number]>>>();
  assertType<Equal<TaskResult<ReturnType<ReturnType<typeof delayed<[string], Promise<string>>>>>, string>>();

  const numbers = Parallel(2)([delayed(square)(1)]);
  assertType<Equal<typeof numbers, Promise<number[]>>>();

  // Mixed tasks give a union; async functions give their awaited type.
  const mixed = Parallel(2)([delayed(square)(1), delayed(shout)('a')]);
  assertType<Equal<typeof mixed, Promise<(number | string)[]>>>();

  const ordered = Parallel({ nJobs: 2, returnAs: 'generator' })([delayed(square)(1)]);
  assertType<Equal<typeof ordered, AsyncIterableIterator<number>>>();

  const settled = Parallel({ nJobs: 2, errors: 'settle' })([delayed(shout)('a')]);
  assertType<Equal<typeof settled, Promise<PromiseSettledResult<string>[]>>>();

  const unordered = Parallel({ nJobs: 2, returnAs: 'generator_unordered', errors: 'settle' })([delayed(square)(1)]);
  assertType<Equal<typeof unordered, AsyncIterableIterator<PromiseSettledResult<number>>>>();

  // @ts-expect-error the arguments must match the function's parameters
  delayed(square)('not a number');
  // @ts-expect-error an unknown option is a type error, and an ERR_INVALID_OPTION at run time
  assert.throws(() => Parallel({ nJobs: 2, njobs: 3 }), { code: 'ERR_INVALID_OPTION' });

  for await (const value of ordered) assert.equal(value, 1);
  assert.deepEqual(await Promise.all([numbers, mixed, settled]), [[1], [1, 'A'], [{ status: 'fulfilled', value: 'A' }]]);
  await unordered.return?.(undefined);
});
