import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Parallel, delayed, isJoblibError, type JoblibErrorCode } from '../dist/index.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function spin(ms: number): number {
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) n++;
  return n;
}

function failAt(i: number, bad: number): number {
  if (i === bad) throw new Error(`task ${i} failed`);
  return i;
}

function hasCode(code: JoblibErrorCode, taskIndex?: number) {
  return (error: unknown) => {
    assert.ok(isJoblibError(error, code), `expected ${code}, got ${String(error)}`);
    if (taskIndex !== undefined) assert.equal(error.taskIndex, taskIndex);
    return true;
  };
}

describe('failures and cancellation', () => {
  it('fails fast: one failing task behind 100 slow ones rejects well under a second', async () => {
    const started = Date.now();
    const tasks = [delayed(failAt)(0, 0), ...range(100).map(() => delayed(spin)(200))];
    await assert.rejects(Parallel(2)(tasks), /task 0 failed/);
    assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
  });

  it('reports the lowest failing index when several tasks fail', async () => {
    // The failures after the first wait 50 ms before they throw: the first failure then happens
    // before any other, whichever worker starts first (the reported one is the lowest among the
    // tasks that ran, and a task that has not started when a failure stops the call never runs).
    const fail = (i: number) => {
      if (i % 7 !== 3) return i;
      for (const until = Date.now() + (i > 3 ? 50 : 0); Date.now() < until; );
      throw new Error(`bad ${i}`);
    };
    for (const nJobs of [1, 2]) {
      await assert.rejects(Parallel({ nJobs, batchSize: 4 })(range(40).map((i) => delayed(fail)(i))), (error: Error & { taskIndex: number }) => {
        assert.equal(error.message, 'bad 3');
        assert.equal(error.taskIndex, 3);
        return true;
      });
    }
  });

  it('works again after a call that failed', async () => {
    const run = Parallel(2);
    await assert.rejects(run(range(10).map((i) => delayed(failAt)(i, 5))));
    assert.deepEqual(await run(range(10).map((i) => delayed(failAt)(i, -1))), range(10));
  });

  it('ends an infinite loop with ERR_TASK_TIMEOUT and the task index, and replaces the worker', async () => {
    const loopForever = (x: number) => {
      for (;;) if (x < 0) return x;
    };
    const tasks = [delayed(spin)(1), delayed(loopForever)(1), delayed(spin)(1)];
    await assert.rejects(Parallel({ nJobs: 2, timeout: 200 })(tasks), hasCode('ERR_TASK_TIMEOUT', 1));
    assert.deepEqual(await Parallel(2)([delayed(spin)(1), delayed(spin)(1)]).then((r) => r.length), 2);
  });

  it('times a task from its own start, not from the start of its batch', async () => {
    // Ten 60 ms tasks in one batch take 600 ms, far over the timeout; each one alone is under it.
    const results = await Parallel({ nJobs: 2, batchSize: 10, timeout: 300 })(range(20).map(() => delayed(spin)(60)));
    assert.equal(results.length, 20);
  });

  it('times async tasks out in the calling thread too', async () => {
    const never = () => new Promise<never>(() => undefined);
    await assert.rejects(Parallel({ nJobs: 2, backend: 'async', timeout: 50 })([delayed(never)()]), hasCode('ERR_TASK_TIMEOUT', 0));
  });

  it('reports a worker that calls process.exit as ERR_WORKER_CRASHED with the task index', async () => {
    const exit = (code: number) => process.exit(code);
    const tasks = [delayed(spin)(1), delayed(spin)(1), delayed(exit)(7)];
    await assert.rejects(Parallel({ nJobs: 2, batchSize: 1 })(tasks), (error: unknown) => {
      hasCode('ERR_WORKER_CRASHED', 2)(error);
      assert.equal((error as { exitCode?: number }).exitCode, 7);
      return true;
    });
    assert.deepEqual(await Parallel(2)(range(4).map((i) => delayed(failAt)(i, -1))), range(4));
  });

  it('reports an uncaught error in a timer of a task as ERR_WORKER_CRASHED with the error as cause', async () => {
    const throwLater = () =>
      new Promise(() => {
        setTimeout(() => {
          throw new Error('thrown in a timer');
        }, 5);
      });
    await assert.rejects(Parallel(2)([delayed(throwLater)()]), (error: unknown) => {
      hasCode('ERR_WORKER_CRASHED', 0)(error);
      assert.equal(((error as Error).cause as Error).message, 'thrown in a timer');
      return true;
    });
  });

  it('reports a worker out of memory under resourceLimits as ERR_WORKER_CRASHED', async () => {
    const hog = () => {
      const keep: number[][] = [];
      for (;;) keep.push(new Array(1e6).fill(1));
    };
    await assert.rejects(
      Parallel({ nJobs: 2, resourceLimits: { maxOldGenerationSizeMb: 32 } })([delayed(hog)()]),
      hasCode('ERR_WORKER_CRASHED', 0),
    );
  });

  it('settles the tasks behind a crash instead of losing them', async () => {
    const exitIf = (i: number) => (i === 2 ? process.exit(1) : i);
    const results = await Parallel({ nJobs: 2, batchSize: 5, errors: 'settle' })(range(10).map((i) => delayed(exitIf)(i)));
    assert.equal(results.length, 10);
    for (const [i, result] of results.entries()) {
      if (i === 2) assert.ok(result.status === 'rejected' && isJoblibError(result.reason, 'ERR_WORKER_CRASHED'));
      else assert.deepEqual(result, { status: 'fulfilled', value: i });
    }
  });

  it('rejects at once with the reason of an already aborted signal, running nothing', async () => {
    let ran = false;
    const reason = new Error('cancelled before start');
    const signal = AbortSignal.abort(reason);
    const mark = () => {
      ran = true;
    };
    await assert.rejects(Parallel({ nJobs: 2, backend: 'async', signal })([delayed(mark)()]), (e) => e === reason);
    assert.equal(ran, false);
  });

  it('rejects with signal.reason on abort and stops busy workers', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('user abort')), 100);
    const started = Date.now();
    await assert.rejects(Parallel({ nJobs: 2, signal: controller.signal })(range(50).map(() => delayed(spin)(1000))), /user abort/);
    assert.ok(Date.now() - started < 900, `took ${Date.now() - started} ms`);
  });

  it('stops reading a generator input on abort', async () => {
    const controller = new AbortController();
    let produced = 0;
    function* endless() {
      for (;;) {
        produced++;
        yield delayed(spin)(5);
      }
    }
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(Parallel({ nJobs: 2, signal: controller.signal })(endless()), { name: 'AbortError' });
    const atAbort = produced;
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(produced, atAbort);
  });

  it('rejects with the error an input generator throws', async () => {
    function* broken() {
      yield delayed(spin)(1);
      throw new Error('input broke');
    }
    await assert.rejects(Parallel(2)(broken()), /input broke/);
  });

  it('rejects an input item that is not a task with ERR_INVALID_TASK and its index', async () => {
    await assert.rejects(Parallel(2)([delayed(spin)(1), 42] as never), (error: unknown) => {
      hasCode('ERR_INVALID_TASK', 1)(error);
      assert.match((error as Error).message, /Expected the input to hold tasks made by delayed\(fn\)\(\.\.\.args\), got `42` \(number\) at index 1/);
      return true;
    });
    await assert.rejects(Parallel(2)(42 as never), hasCode('ERR_INVALID_TASK'));
  });

  it('stops the call when the consumer of a generator leaves the loop early', async () => {
    let produced = 0;
    function* many() {
      for (let i = 0; i < 10_000; i++) {
        produced++;
        yield delayed(spin)(2);
      }
    }
    for await (const value of Parallel({ nJobs: 2, returnAs: 'generator' })(many())) {
      assert.equal(typeof value, 'number');
      break;
    }
    const atBreak = produced;
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(produced, atBreak);
    assert.ok(produced < 10_000);
  });

  it('throws the failure from a generator after the results before it', async () => {
    const seen: number[] = [];
    await assert.rejects(async () => {
      for await (const value of Parallel({ nJobs: 1, returnAs: 'generator' })(range(5).map((i) => delayed(failAt)(i, 3)))) seen.push(value);
    }, /task 3 failed/);
    assert.deepEqual(seen, [0, 1, 2]);
  });
});
