import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Parallel, delayed, isJoblibError } from '../dist/index.js';
import { addOffset, renamed, validate } from './fixtures/tasks.mjs';

function square(x: number): number {
  return x * x;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('Parallel', () => {
  it('returns results in input order for every backend', async () => {
    const expected = range(50).map(square);
    for (const backend of ['threads', 'async', 'sequential'] as const) {
      const results = await Parallel({ nJobs: 2, backend })(range(50).map((x) => delayed(square)(x)));
      assert.deepEqual(results, expected, backend);
    }
  });

  it('runs functions declared with task() from their module', async () => {
    const results = await Parallel(2)([delayed(addOffset)(1), delayed(renamed)(21)]);
    assert.deepEqual(results, [1001, 42]);
  });

  it('revives a task error with its class, name, own properties, cause and worker stack', async () => {
    const error = await Parallel(2)([0, 1, -2, 3].map((x) => delayed(validate)(x))).then(
      () => assert.fail('expected a rejection'),
      (e: unknown) => e as RangeError & { field: string; code: string; taskIndex: number },
    );
    assert.ok(error instanceof RangeError);
    assert.equal(error.name, 'ValidationError');
    assert.equal(error.message, 'negative: -2');
    assert.equal(error.field, 'x');
    assert.equal(error.code, 'E_VALIDATION');
    assert.equal(error.taskIndex, 2);
    assert.equal((error.cause as Error).message, 'root cause');
    assert.match(error.stack ?? '', /tasks\.mjs/);
    assert.equal(isJoblibError(error), false);
  });
});
