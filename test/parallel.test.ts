import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Parallel, delayed, isJoblibError, type ProgressEvent } from '../dist/index.js';
import { addOffset, renamed, validate } from './fixtures/tasks.mjs';
import { distance } from './fixtures/typescript-task.js';
import { task } from '../dist/index.js';

function square(x: number): number {
  return x * x;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

describe('Parallel results', () => {
  it('returns results in input order for every backend', async () => {
    const expected = range(50).map(square);
    for (const backend of ['threads', 'async', 'sequential'] as const) {
      const results = await Parallel({ nJobs: 2, backend })(range(50).map((x) => delayed(square)(x)));
      assert.deepEqual(results, expected, backend);
    }
  });

  it('runs the tasks an array held when the call began, not those pushed while it runs', async () => {
    const tasks = range(2000).map((x) => delayed(square)(x));
    const call = Parallel({ nJobs: 2, batchSize: 10 })(tasks);
    tasks.push(delayed(square)(-1));
    assert.deepEqual(await call, range(2000).map(square));
  });

  it('gives an empty array for an empty input', async () => {
    assert.deepEqual(await Parallel(2)([]), []);
    assert.deepEqual(await collect(Parallel({ nJobs: 2, returnAs: 'generator' })([])), []);
  });

  it('reads a generator lazily, no further than preDispatch ahead of the results', async () => {
    let produced = 0;
    function* tasks() {
      for (let i = 0; i < 1000; i++) {
        produced++;
        yield delayed(square)(i);
      }
    }
    const stream = Parallel({ nJobs: 2, returnAs: 'generator', preDispatch: 8, batchSize: 2 })(tasks());
    const first = await stream.next();
    assert.deepEqual(first, { value: 0, done: false });
    // The consumer has taken one result: the input is read at most preDispatch tasks past it.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(produced <= 1 + 8, `read ${produced} tasks`);
    await stream.return?.();
  });

  it('reads an async generator and keeps its order', async () => {
    async function* tasks() {
      for (let i = 0; i < 40; i++) {
        if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
        yield delayed(square)(i);
      }
    }
    assert.deepEqual(await Parallel(2)(tasks()), range(40).map(square));
  });

  it('yields completion order with generator_unordered, fastest first', async () => {
    const sleep = (ms: number) => new Promise<number>((resolve) => setTimeout(() => resolve(ms), ms));
    const run = Parallel({ nJobs: 3, backend: 'async', returnAs: 'generator_unordered' });
    assert.deepEqual(await collect(run([300, 10, 100].map((ms) => delayed(sleep)(ms)))), [10, 100, 300]);
  });

  it('yields input order with generator even when later tasks finish first', async () => {
    const sleep = (ms: number) => new Promise<number>((resolve) => setTimeout(() => resolve(ms), ms));
    const run = Parallel({ nJobs: 3, backend: 'async', returnAs: 'generator' });
    assert.deepEqual(await collect(run([60, 10, 30].map((ms) => delayed(sleep)(ms)))), [60, 10, 30]);
  });

  it('mixes tasks of different functions in one call', async () => {
    const results = await Parallel(2)([delayed(square)(3), delayed((s: string) => s.toUpperCase())('a'), delayed(addOffset)(1)]);
    assert.deepEqual(results, [9, 'A', 1001]);
  });

  it('runs functions declared with task() from their module, whatever name they are exported under', async () => {
    assert.deepEqual(await Parallel(2)([delayed(addOffset)(1), delayed(renamed)(21)]), [1001, 42]);
  });

  it('imports a TypeScript task module in workers when the program runs under tsx', async () => {
    assert.deepEqual(await Parallel(2)([delayed(distance)({ x: 3, y: 4 }), delayed(distance)({ x: 0, y: 1 })]), [5, 1]);
  });

  it('refuses task() in the entry script, which every worker would run again', () => {
    assert.throws(() => task(import.meta.url, function inEntry() {}), { code: 'ERR_INVALID_TASK', message: /entry script/ });
  });

  it('gives an empty result for an iterator already exhausted', async () => {
    const tasks = [1, 2].map((x) => delayed(square)(x)).values();
    assert.deepEqual(await Parallel(2)(tasks), [1, 4]);
    assert.deepEqual(await Parallel(2)(tasks), []);
  });

  it('shares a typed array on a SharedArrayBuffer with the workers instead of copying it', async () => {
    const shared = new Int32Array(new SharedArrayBuffer(4 * 8));
    const mark = (cells: Int32Array, i: number) => {
      Atomics.store(cells, i, i + 1);
      return i;
    };
    await Parallel(2)(range(8).map((i) => delayed(mark)(shared, i)));
    assert.deepEqual([...shared], [1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('reports progress at nJobs 1 and with workers, ending at the total', async () => {
    for (const nJobs of [1, 2]) {
      const events: ProgressEvent[] = [];
      await Parallel({ nJobs, onProgress: (event) => events.push(event) })(range(30).map((x) => delayed(square)(x)));
      const last = events.at(-1);
      assert.equal(last?.completed, 30, `nJobs ${nJobs}`);
      assert.equal(last?.total, 30);
      assert.ok(events.every((e, i) => i === 0 || e.completed >= (events[i - 1] as ProgressEvent).completed));
    }
  });

  it('prints joblib-style verbose lines to stderr', async () => {
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      await Parallel({ nJobs: 2, verbose: 11 })(range(10).map((x) => delayed(square)(x)));
    } finally {
      process.stderr.write = write;
    }
    assert.ok(lines.length >= 1);
    assert.match(lines.at(-1) ?? '', /^\[Parallel\(nJobs=2\)\]: Done {2}10 out of {2}10 \| elapsed: \d+\.\ds finished\n$/);
  });

  it('settles every task with errors: settle, like Promise.allSettled', async () => {
    const results = await Parallel({ nJobs: 2, errors: 'settle' })([1, -1, 2].map((x) => delayed(validate)(x)));
    assert.equal(results.length, 3);
    assert.deepEqual(results[0], { status: 'fulfilled', value: 1 });
    assert.equal(results[1]?.status, 'rejected');
    assert.equal(((results[1] as PromiseRejectedResult).reason as Error).message, 'negative: -1');
    assert.deepEqual(results[2], { status: 'fulfilled', value: 2 });
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

  it('returns a value thrown that is not an Error as itself', async () => {
    const throwValue = (v: unknown) => {
      throw v;
    };
    await assert.rejects(Parallel(2)([delayed(throwValue)({ reason: 'plain object' })]), { reason: 'plain object' });
  });

  it('fails the task whose result cannot be sent back, with a DataCloneError', async () => {
    const makeFunction = () => () => 1;
    await assert.rejects(Parallel(2)([delayed(square)(1), delayed(makeFunction)()]), (error: Error & { taskIndex: number }) => {
      assert.equal(error.name, 'DataCloneError');
      assert.equal(error.taskIndex, 1);
      return true;
    });
  });

  it('starts no further task of the batch after a result that cannot be sent back', async () => {
    const started = new Int32Array(new SharedArrayBuffer(4)); // shared with the workers, not copied
    const countAndReturn = (counter: Int32Array, i: number) => {
      Atomics.add(counter, 0, 1);
      return i === 0 ? () => i : i;
    };
    const tasks = range(50).map((i) => delayed(countAndReturn)(started, i));
    await assert.rejects(Parallel({ nJobs: 2, batchSize: 50 })(tasks), (error: Error & { taskIndex: number }) => error.taskIndex === 0);
    assert.equal(Atomics.load(started, 0), 1);
  });
});
