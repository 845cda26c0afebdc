// joblib-ts/testing: property tests that Parallel returns what the plain loop returns.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { Memory, isJoblibError } from 'joblib-ts';
import {
  ParallelEquivalenceError,
  checkParallelEquivalence,
  deepEqual,
  parallelEquivalenceProperty,
  type EquivalenceCase,
  type GeneratedParallelOptions,
} from 'joblib-ts/testing';

const root = fileURLToPath(new URL('..', import.meta.url));
const location = mkdtempSync(join(tmpdir(), 'joblib-ts-testing-'));
after(() => rmSync(location, { recursive: true, force: true }));

/** A random walk of `steps` steps driven by a seeded generator (mulberry32): the same seed, the same walk. */
function simulate(seed: number, steps: number): number {
  let state = seed >>> 0;
  let position = 0;
  for (let i = 0; i < steps; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    position += ((t ^ (t >>> 14)) >>> 0) / 4294967296 < 0.5 ? -1 : 1;
  }
  return position;
}
const simulateArgs = fc.tuple(fc.integer(), fc.nat(2000));

/** The broken variant: the walk reads Math.random(), so no two runs agree. */
function simulateUnseeded(seed: number, steps: number): number {
  let position = seed % 7;
  for (let i = 0; i < steps; i++) position += Math.random() < 0.5 ? -1 : 1;
  return position + Math.random();
}

/** Mutates the array it shares with the other tasks: a running count in the loop, not in workers. */
function tally(seen: number[], x: number): number {
  seen.push(x);
  return seen.length;
}

/** Throws for negative numbers, the same way wherever it runs. */
function checkedSqrt(x: number): number {
  if (x < 0) throw new RangeError(`negative: ${x}`);
  return Math.sqrt(x);
}

/** Throws an error whose message differs at each call. */
function failsWithNonce(x: number): number {
  if (x >= 0) throw new TypeError(`request ${Math.random()} failed`);
  return x;
}

/** Returns values that the default equality compares with care: NaN, -0, typed arrays, Maps, Sets. */
function awkward(x: number): unknown {
  return {
    nan: Number.NaN,
    negativeZero: -0,
    floats: new Float64Array([x, -0, Number.NaN]),
    map: new Map<unknown, unknown>([['x', x], [x, new Set([x, 'x'])]]),
    invalid: new Date(Number.NaN),
    sparse: [, x], // eslint-disable-line no-sparse-arrays
  };
}

/** A result with a part that differs at every call, beside the part that matters. */
function labelled(x: number): { value: number; stats: number[] } {
  return { value: x * 2, stats: [x, Math.random()] };
}

class Point {
  constructor(readonly x: number) {}
}
/** Returns a class instance, which comes back from the cache as a plain object. */
const makePoint = (x: number): Point => new Point(x);

/** Runs `check` and returns what it threw, a ParallelEquivalenceError. */
async function failure(check: Promise<unknown>): Promise<ParallelEquivalenceError> {
  const error = await check.then(
    () => assert.fail('expected the check to fail'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ParallelEquivalenceError, String(error));
  return error;
}

/** One given case, run alone and without shrinking, so that the report is about exactly that case. */
function only<A extends unknown[]>(tasks: A[], options: GeneratedParallelOptions): { examples: [EquivalenceCase<A>][]; numRuns: number; endOnFailure: boolean } {
  return { examples: [[{ tasks, options }]], numRuns: 1, endOnFailure: true };
}

describe('checkParallelEquivalence', () => {
  it('passes for a deterministic function, on worker threads and in the calling thread', async () => {
    const run = await checkParallelEquivalence(simulate, simulateArgs, { numRuns: 40, seed: 7 });
    assert.deepEqual(run, { runs: 40, seed: 7 }, 'what ran, as fast-check reports it');
    await checkParallelEquivalence(simulate, simulateArgs, { numRuns: 15, backend: 'async' });
    await checkParallelEquivalence(simulate, simulateArgs, { numRuns: 15, backend: 'sequential' });
  });

  it('compares NaN, -0, typed arrays, Maps, Sets, invalid Dates and holes as equal when they are', async () => {
    await checkParallelEquivalence(awkward, fc.tuple(fc.double()), { numRuns: 30 });
    assert.equal(deepEqual([NaN, new Date(NaN), new Set([1, 2])], [NaN, new Date(NaN), new Set([2, 1])]), true);
    assert.equal(deepEqual(0, -0), false);
    assert.equal(deepEqual(new Float64Array([0]), new Float64Array([-0])), false);
    assert.equal(deepEqual(new Uint8Array([1]), new Int8Array([1])), false);
    assert.equal(deepEqual([, 1], [undefined, 1]), false); // eslint-disable-line no-sparse-arrays
    assert.equal(deepEqual({ when: new Date(NaN) }, { when: new Date(0) }), false);
  });

  it('catches a task that reads Math.random(), and its seed and path replay the failure', async () => {
    const error = await failure(checkParallelEquivalence(simulateUnseeded, simulateArgs, { numRuns: 30 }));
    assert.match(error.message, /^Property failed after \d+ tests\n\{ seed: -?\d+, path: "[\d:]+", endOnFailure: true \}\nCounterexample: /);
    assert.match(error.message, /differs from the plain for loop\.\n {2}task 0 of 1, arguments \[ -?\d+, \d+ \]:\n {4}loop: {5}returned [\d.e+-]+\n {4}Parallel: returned [\d.e+-]+\n/);
    assert.match(error.message, /a second run of the plain loop differs from the first/);
    assert.equal(typeof error.seed, 'number');
    assert.equal(typeof error.path, 'string');
    assert.equal(error.counterexample?.tasks.length, 1, 'shrunk to one task');
    assert.match(error.message, new RegExp(`seed: ${error.seed}, path: "${error.path}"`));

    const replayed = await failure(
      checkParallelEquivalence(simulateUnseeded, simulateArgs, { seed: error.seed, path: error.path ?? '', numRuns: 30 }),
    );
    assert.deepEqual(replayed.counterexample, error.counterexample);
    assert.equal(replayed.seed, error.seed);
  });

  it("hands the result to the caller's reporter, which decides what a failure does, as fc.assert does", async () => {
    for (const [fn, failed] of [[simulate, false], [simulateUnseeded, true]] as const) {
      const seen: boolean[] = [];
      const run = await checkParallelEquivalence(fn, simulateArgs, { numRuns: 20, seed: 3, reporter: (details) => void seen.push(details.failed) });
      assert.deepEqual(seen, [failed], 'called once, with the result');
      assert.equal(run.seed, 3);
      const awaited: boolean[] = [];
      await checkParallelEquivalence(fn, simulateArgs, {
        numRuns: 20,
        seed: 3,
        asyncReporter: async (details) => void awaited.push(details.failed),
      });
      assert.deepEqual(awaited, [failed]);
    }
    const thrown = new Error('reported');
    await assert.rejects(
      checkParallelEquivalence(simulateUnseeded, simulateArgs, { numRuns: 20, reporter: () => { throw thrown; } }),
      (error) => error === thrown,
    );
  });

  it('catches a task that mutates an input shared by the tasks', async () => {
    const error = await failure(checkParallelEquivalence(tally, fc.tuple(fc.constant<number[]>([]), fc.integer()), { numRuns: 100 }));
    const counterexample = error.counterexample as EquivalenceCase<[number[], number]>;
    assert.equal(counterexample.tasks.length, 2, error.message);
    assert.notEqual(counterexample.options.nJobs, 1, error.message);
    assert.match(error.message, /loop: {5}returned 2\n {4}Parallel: returned 1\n/);
    assert.match(error.message, /the calls of the loop change their arguments/);
    assert.doesNotMatch(error.message, /second run of the plain loop differs/);
  });

  it('handles tasks that throw: the same name and message in the same place pass', async () => {
    await checkParallelEquivalence(checkedSqrt, fc.tuple(fc.integer({ min: -3, max: 50 })), { numRuns: 60 });
    await checkParallelEquivalence(checkedSqrt, fc.tuple(fc.integer({ min: -3, max: 50 })), { numRuns: 15, backend: 'async' });
  });

  it('catches a task that throws another message, with errors raise and settle', async () => {
    const raise = await failure(checkParallelEquivalence(failsWithNonce, fc.tuple(fc.integer()), { numRuns: 30 }));
    assert.match(raise.message, /loop: {5}threw TypeError: request [\d.e-]+ failed\n {4}Parallel: threw TypeError: request [\d.e-]+ failed/);

    const options = { nJobs: 2, batchSize: 1, returnAs: 'array', errors: 'settle' } as const;
    const settle = await failure(checkParallelEquivalence(failsWithNonce, fc.tuple(fc.integer()), only([[-1], [4], [-2]], options)));
    assert.match(settle.message, /task 1 of 3, arguments \[ 4 \]:\n {4}loop: {5}threw TypeError: request .* failed\n {4}Parallel: threw TypeError/);
  });

  it('catches a task that fails only when calls overlap (a closure on the async backend)', async () => {
    let inFlight = 0;
    const fetchQuota = async (id: number): Promise<number> => {
      inFlight++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      const overlapping = inFlight > 1;
      inFlight--;
      if (overlapping) throw new Error('rate limited');
      return id;
    };
    const error = await failure(checkParallelEquivalence(fetchQuota, fc.tuple(fc.nat()), { backend: 'async', maxTasks: 8, numRuns: 30 }));
    assert.match(error.message, /rate limited/);
    assert.notEqual(error.counterexample?.options.nJobs, 1);

    // Under errors: 'settle' the failure is reported in its place.
    const options = { nJobs: 2, batchSize: 'auto', returnAs: 'array', errors: 'settle' } as const;
    const settled = await failure(checkParallelEquivalence(fetchQuota, fc.tuple(fc.nat()), { backend: 'async', ...only([[7], [8]], options) }));
    assert.match(settled.message, /task 0 of 2, arguments \[ 7 \]:\n {4}loop: {5}returned 7\n {4}Parallel: threw Error: rate limited/);
  });

  it('reports where nested results first differ, and a custom compare decides what is equal', async () => {
    const options = { nJobs: 2, batchSize: 1, returnAs: 'generator', errors: 'raise' } as const;
    const error = await failure(checkParallelEquivalence(labelled, fc.tuple(fc.integer()), only([[3]], options)));
    assert.match(error.message, /first difference at \.stats\[1\]: [\d.e-]+ in the loop, [\d.e-]+ from Parallel/);

    const compare = (expected: { value: number }, actual: { value: number }) => expected.value === actual.value;
    await checkParallelEquivalence(labelled, fc.tuple(fc.integer()), { compare, numRuns: 40 });
    const unequal = await failure(
      checkParallelEquivalence(simulate, simulateArgs, { compare: () => false, ...only([[1, 2]], { ...options, returnAs: 'generator_unordered' }) }),
    );
    assert.match(unequal.message, /not the same multiset as the loop's \(1 tasks, 1 results\)/);
    assert.doesNotMatch(unequal.message, /first difference/);
  });

  it('generates at most maxTasks tasks per case', async () => {
    let calls = 0;
    const perCase: number[] = [];
    const identity = (x: number) => {
      calls++;
      return x;
    };
    const property = parallelEquivalenceProperty(identity, fc.tuple(fc.integer()), { backend: 'sequential', maxTasks: 3 })
      .beforeEach(async (previous) => {
        await previous();
        calls = 0;
      })
      .afterEach(async (previous) => {
        await previous();
        perCase.push(calls / 2); // the loop and Parallel each call it once per task
      });
    await fc.assert(property, { numRuns: 100 });
    assert.equal(perCase.length, 100);
    assert.equal(Math.max(...perCase), 3);
    assert.equal(Math.min(...perCase), 0);
  });

  it('with memory, checks a cached version on a cold and a warm cache', async () => {
    await using memory = new Memory({ location });
    await checkParallelEquivalence(simulate, simulateArgs, { memory, numRuns: 20 });
    // Each case clears the cache first, and the last case may have no task: count over all cases.
    let mostStored = 0;
    const property = parallelEquivalenceProperty(simulate, simulateArgs, { memory }).afterEach(async (previous) => {
      await previous();
      mostStored = Math.max(mostStored, (await memory.entries()).length);
    });
    await fc.assert(property, { numRuns: 20 });
    assert.ok(mostStored > 0, 'the cached version stored results');

    // A class instance survives the in-thread loop, not the cache.
    await checkParallelEquivalence(makePoint, fc.tuple(fc.integer()), { backend: 'sequential', numRuns: 20 });
    const error = await failure(checkParallelEquivalence(makePoint, fc.tuple(fc.integer()), { backend: 'sequential', memory, numRuns: 20 }));
    assert.match(error.message, /over memory\.cache\(fn\), on a warm cache, differs from the plain for loop/);
    assert.match(error.message, /loop: {5}returned Point \{ x: -?\d+ \}\n {4}Parallel: returned \{ x: -?\d+ \}\n {4}the prototypes differ: Point in the loop, Object from Parallel/);
  });

  it('refuses invalid options with ERR_INVALID_OPTION', async () => {
    for (const options of [{ maxTasks: 0 }, { maxTasks: 1.5 }, { backend: 'processes' }, { compare: 'deep' }, { memory: {} }]) {
      await assert.rejects(checkParallelEquivalence(simulate, simulateArgs, options as never), (e: unknown) => isJoblibError(e, 'ERR_INVALID_OPTION'));
    }
  });
});

describe('deepEqual', () => {
  // Beside an invalid Date, every other part is still compared as isDeepStrictEqual compares it.
  const invalid = () => new Date(Number.NaN);
  const bytes = (...values: number[]) => new Uint8Array(values).buffer;
  const shared = (value: number) => {
    const buffer = new SharedArrayBuffer(1);
    new Uint8Array(buffer)[0] = value;
    return buffer;
  };

  it('tells apart Errors with different messages or names beside an invalid Date', () => {
    assert.equal(deepEqual([invalid(), new Error('a')], [invalid(), new Error('b')]), false);
    assert.equal(deepEqual({ when: invalid(), error: new TypeError('a') }, { when: invalid(), error: new RangeError('a') }), false);
  });

  it('tells apart ArrayBuffers and SharedArrayBuffers with different bytes beside an invalid Date', () => {
    assert.equal(deepEqual([invalid(), bytes(1, 2)], [invalid(), bytes(1, 3)]), false);
    assert.equal(deepEqual([invalid(), bytes(1)], [invalid(), bytes(1, 0)]), false);
    assert.equal(deepEqual(new Map<string, unknown>([['when', invalid()], ['raw', shared(1)]]), new Map<string, unknown>([['when', invalid()], ['raw', shared(2)]])), false);
  });

  it('tells apart boxed numbers, bigints and strings with different values beside an invalid Date', () => {
    assert.equal(deepEqual([invalid(), new Number(1)], [invalid(), new Number(2)]), false);
    assert.equal(deepEqual([invalid(), Object(1n)], [invalid(), Object(2n)]), false);
    assert.equal(deepEqual(new Set([invalid(), new String('a')]), new Set([invalid(), new String('b')])), false);
  });

  it('tells apart prototypes and own properties of the containers around an invalid Date', () => {
    class Stamp extends Date {}
    class Registry extends Map<string, unknown> {}
    assert.equal(deepEqual(new Stamp(Number.NaN), invalid()), false);
    assert.equal(deepEqual(new Registry([['when', invalid()]]), new Map([['when', invalid()]])), false);
    assert.equal(deepEqual(Object.assign([invalid()], { unit: 's' }), Object.assign([invalid()], { unit: 'ms' })), false);
    assert.equal(deepEqual(Object.assign(new Set([invalid()]), { unit: 's' }), new Set([invalid()])), false);
    // An invalid Date on each side, so that the two sides are rebuilt, and a Date-like object without a time.
    assert.equal(deepEqual([invalid(), invalid()], [Object.create(Date.prototype), invalid()]), false);
  });

  it('compares equal values beside invalid Dates as equal, shared references and cycles included', () => {
    class Reading {
      constructor(readonly at: Date, readonly raw: ArrayBuffer) {}
    }
    const sample = () => {
      const when = invalid();
      const value: Record<string, unknown> = {
        when,
        again: when,
        error: new Error('a'),
        raw: bytes(1, 2),
        shared: shared(1),
        boxed: [new Number(1), Object(1n), new String('a'), new Boolean(true)],
        url: new URL('https://example.org/a'),
        reading: new Reading(invalid(), bytes(3)),
        tagged: new Map([[invalid(), new Set([invalid()])]]),
      };
      value.self = value;
      return value;
    };
    assert.equal(deepEqual(sample(), sample()), true);
    assert.equal(deepEqual(invalid(), invalid()), true);
    const other = sample();
    other.url = new URL('https://example.org/b');
    assert.equal(deepEqual(sample(), other), false);
  });
});

describe('parallelEquivalenceProperty', () => {
  it('is an fc.asyncProperty for fc.assert: holds for a deterministic function, fails for a broken one', async () => {
    await fc.assert(parallelEquivalenceProperty(simulate, simulateArgs, { maxTasks: 20 }), { numRuns: 30 });
    await assert.rejects(
      fc.assert(parallelEquivalenceProperty(simulateUnseeded, simulateArgs), { numRuns: 30, includeErrorInReport: true }),
      /Counterexample: \[\{"tasks":\[\[-?\d+,\d+\]\],"options":\{"nJobs":1,.*differs from the plain for loop/s,
    );
  });
});

describe('the joblib-ts/testing entry', () => {
  it('resolves by package name to the built module and its types', () => {
    const resolved = fileURLToPath(import.meta.resolve('joblib-ts/testing'));
    assert.equal(resolved, join(root, 'dist', 'testing', 'index.js'));
    assert.ok(existsSync(join(dirname(resolved), 'index.d.ts')));
  });

  it('is the only entry that imports fast-check: dist/index.js and the files it imports do not', async () => {
    // Statically: no import of fast-check in the import graph of dist/index.js, dynamic imports included.
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      // Without comments: the JSDoc examples show imports that are not made.
      const source = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
      for (const [, specifier] of source.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g)) {
        assert.ok(!/^fast-check(\/|$)/.test(specifier as string), `${file} imports ${specifier}`);
        if ((specifier as string).startsWith('.')) visit(resolve(dirname(file), specifier as string));
      }
    };
    visit(join(root, 'dist', 'index.js'));
    assert.ok(seen.size > 10, `followed ${seen.size} files`);
    assert.ok(![...seen].some((file) => file.includes(`${join('dist', 'testing')}`)));

    // At run time: a resolve hook that refuses fast-check lets the main entry load, not the testing one.
    const hooks = `export async function resolve(specifier, context, next) {
      if (/^fast-check(\\/|$)/.test(specifier)) throw new Error('fast-check was imported by ' + context.parentURL);
      return next(specifier, context);
    }`;
    const register = `import { register } from 'node:module'; register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hooks)}));`;
    const load = (entry: string) =>
      new Promise<{ code: number; output: string }>((done) => {
        execFile(
          process.execPath,
          ['--import', `data:text/javascript,${encodeURIComponent(register)}`, '--input-type=module', '-e', `const m = await import('${entry}'); console.log(Object.keys(m).length);`],
          { cwd: root, timeout: 30_000 },
          (error, stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, output: stdout + stderr }),
        );
      });
    const [main, testing] = await Promise.all([load('joblib-ts'), load('joblib-ts/testing')]);
    assert.equal(main.code, 0, main.output);
    assert.notEqual(testing.code, 0, testing.output);
    assert.match(testing.output, /fast-check was imported by .*dist\/testing\//);
  });
});
