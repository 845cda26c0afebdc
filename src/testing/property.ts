/**
 * The property behind `joblib-ts/testing`: for generated lists of argument tuples and generated
 * Parallel options, Parallel gives what the plain loop gives (and so does a cached version, cold and
 * warm); and the one-line check that runs it and throws fast-check's report.
 */
import * as fc from 'fast-check';
import {
  InvalidOptionError,
  type AnyFunction,
  type BackendName,
  type ErrorMode,
  type Memory,
  type ParallelOptions,
  type ReturnAs,
} from '../index.js';
import { deepEqual } from './equality.js';
import { findDifference, sameOutcomes, type ComparisonContext } from './compare.js';
import { argumentCopier, runLoop, runParallel } from './run.js';

/** The Parallel options of one generated case (the `backend` is the one of the check). */
export interface GeneratedParallelOptions {
  /** From 1 to 4, or -1 (every CPU). */
  readonly nJobs: number;
  /** `'auto'`, or from 1 to `maxTasks`. */
  readonly batchSize: 'auto' | number;
  /** From 1 to `maxTasks`, or `'all'`; absent for the default (two batches per worker). */
  readonly preDispatch?: number | 'all';
  /** Any of `'array'`, `'generator'` and `'generator_unordered'` (compared as a multiset). */
  readonly returnAs: ReturnAs;
  /** `'raise'` or `'settle'` (each failure compared in its place). */
  readonly errors: ErrorMode;
}

/** One generated case: what fast-check shows as the counterexample when a check fails. */
export interface EquivalenceCase<A extends readonly unknown[] = unknown[]> {
  /** The argument tuple of each task, in input order (from 0 to `maxTasks` tasks). */
  readonly tasks: A[];
  /** The options Parallel runs them with. */
  readonly options: GeneratedParallelOptions;
}

/**
 * Options of {@link parallelEquivalenceProperty}, and of {@link checkParallelEquivalence} besides
 * fast-check's own parameters.
 *
 * @typeParam R - what the function returns, once awaited
 */
export interface ParallelEquivalenceOptions<R = unknown> {
  /**
   * The backend Parallel runs the tasks on. With `'threads'` the function must be able to reach the
   * workers: a self-contained function, or one declared with `task(import.meta.url, fn)`.
   *
   * @default 'threads'
   * @example
   * await checkParallelEquivalence(fetchRecord, fc.tuple(fc.nat()), { backend: 'async' });
   */
  readonly backend?: BackendName;
  /**
   * Equality of a value returned by the loop (`expected`) and one delivered by Parallel (`actual`).
   * It must be an equivalence (reflexive, symmetric, transitive): unordered results are matched as
   * multisets with it. Failures are compared apart from it, by `name` and `message`.
   *
   * @default deepEqual: `util.isDeepStrictEqual` (NaN equals NaN, 0 and -0 differ, typed arrays,
   * Maps and Sets by content, prototypes compared), with invalid Dates equal
   * @example
   * // Results that carry the time they took: compare the rest.
   * await checkParallelEquivalence(fit, fc.tuple(fc.double({ min: 0, max: 1 })), {
   *   compare: (expected, actual) => deepEqual(expected.weights, actual.weights),
   * });
   */
  readonly compare?: (expected: R, actual: R) => boolean;
  /**
   * The largest number of tasks in one generated case; fast-check shrinks a failing case toward
   * fewer tasks.
   *
   * @default 50
   * @example
   * await checkParallelEquivalence(simulate, fc.tuple(fc.nat(), fc.nat(1000)), { maxTasks: 200 });
   */
  readonly maxTasks?: number;
  /**
   * Also checks `memory.cache(fn)` through Parallel with the same options: each case clears the
   * function's cached results, then runs once on the cold cache and once on the warm one, and both
   * must give what the loop gives. Use a location of its own (a temporary folder).
   *
   * @default none: only `fn` itself is checked
   * @example
   * const memory = new Memory({ location: mkdtempSync(join(tmpdir(), 'check-')) });
   * await checkParallelEquivalence(simulate, fc.tuple(fc.nat(), fc.nat(1000)), { memory });
   * await memory.close();
   */
  readonly memory?: Memory;
}

/**
 * Options of {@link checkParallelEquivalence}: {@link ParallelEquivalenceOptions} plus any of
 * fast-check's parameters (`numRuns`, `seed`, `path`, `verbose`, `timeout`, `endOnFailure`, ...),
 * which are passed to it unchanged. `includeErrorInReport` defaults to `true` here, so that the
 * report shows the difference found.
 *
 * @example
 * await checkParallelEquivalence(simulate, argsArbitrary, { numRuns: 50, maxTasks: 20 });
 * await checkParallelEquivalence(simulate, argsArbitrary, { seed: 1729, path: '0:3:1' }); // replay a failure
 */
export interface CheckParallelEquivalenceOptions<A extends readonly unknown[] = unknown[], R = unknown>
  extends ParallelEquivalenceOptions<R>,
    fc.Parameters<[EquivalenceCase<A>]> {}

/** The default number of tasks a case may have at most. */
const DEFAULT_MAX_TASKS = 50;
const BACKENDS: readonly BackendName[] = ['threads', 'async', 'sequential'];

/**
 * The fast-check property that {@link checkParallelEquivalence} checks, for use with `fc.assert`
 * (or a test runner's property support) when you want a property rather than an assertion.
 *
 * For each generated case (a list of argument tuples from `argsArbitrary` and Parallel options), it
 * runs a plain `for` loop that awaits `fn(...args)` for each tuple, then `Parallel(options)` over
 * `delayed(fn)(...args)`, and fails when they differ: a value not equal under `compare` at the same
 * position (the same multiset in completion order), a call that throws in one and not in the other,
 * or another error `name` or `message`. Each run receives its own structured clone of the argument
 * list, so a task that mutates its arguments does not change the next run's.
 *
 * @param fn the function a loop calls: a self-contained function or a `task()` for the `'threads'` backend
 * @param argsArbitrary generates the argument tuple of one task, such as `fc.tuple(fc.nat(), fc.double())`
 * @throws InvalidOptionError (`ERR_INVALID_OPTION`) for an invalid option, at once
 *
 * @example
 * import fc from 'fast-check';
 * import { parallelEquivalenceProperty } from 'joblib-ts/testing';
 *
 * test('simulate runs the same in parallel', async () => {
 *   await fc.assert(parallelEquivalenceProperty(simulate, fc.tuple(fc.nat(), fc.nat(1000))), { numRuns: 50 });
 * });
 */
export function parallelEquivalenceProperty<A extends unknown[], R>(
  fn: (...args: A) => R,
  argsArbitrary: fc.Arbitrary<A>,
  options: ParallelEquivalenceOptions<Awaited<R>> = {},
): fc.IAsyncPropertyWithHooks<[EquivalenceCase<A>]> {
  const { backend = 'threads', compare, maxTasks = DEFAULT_MAX_TASKS, memory } = options;
  if (typeof fn !== 'function') throw new InvalidOptionError(`Expected a function to check, got ${typeof fn}`);
  if (!BACKENDS.includes(backend)) {
    throw new InvalidOptionError(`Expected \`backend\` to be one of ${BACKENDS.map((b) => `'${b}'`).join(', ')}, got ${String(backend)}`);
  }
  if (compare !== undefined && typeof compare !== 'function') throw new InvalidOptionError('Expected `compare` to be a function');
  if (!Number.isSafeInteger(maxTasks) || maxTasks < 1) {
    throw new InvalidOptionError(`Expected \`maxTasks\` to be an integer from 1 up, got ${String(maxTasks)}`);
  }
  if (memory !== undefined && typeof (memory as Partial<Memory> | null)?.cache !== 'function') {
    throw new InvalidOptionError('Expected `memory` to be a Memory (new Memory({ location }))');
  }
  const cached = memory?.cache(fn as AnyFunction);
  const equal = (compare as ((expected: unknown, actual: unknown) => boolean) | undefined) ?? deepEqual;

  const caseArbitrary: fc.Arbitrary<EquivalenceCase<A>> = fc.record({
    // size 'max': lengths over the whole range up to maxTasks, not only the first ten or so.
    tasks: fc.array(argsArbitrary, { maxLength: maxTasks, size: 'max' }),
    options: optionsArbitrary(maxTasks),
  });

  return fc.asyncProperty(caseArbitrary, async ({ tasks, options: generated }) => {
    const { copy, isolated } = argumentCopier<readonly (readonly unknown[])[]>(tasks);
    const expected = await runLoop(fn as AnyFunction, copy());
    const parallelOptions: ParallelOptions = { ...generated, backend };
    const context: ComparisonContext = {
      tasks,
      returnAs: generated.returnAs,
      settle: generated.errors === 'settle',
      compare: equal,
      defaultCompare: compare === undefined,
    };
    const check = async (target: AnyFunction, what: string) => {
      const lines = findDifference(expected, await runParallel(target, copy(), parallelOptions), context);
      if (!lines) return;
      const notes = await diagnose();
      throw mismatch([`${describeCall(parallelOptions)}${what} differs from the plain for loop.`, ...lines.map((l) => `  ${l}`), ...notes]);
    };
    /** Runs the loop again: is `fn` deterministic, and does it leave its arguments as it found them? */
    const diagnose = async (): Promise<string[]> => {
      const probe = copy();
      const again = await runLoop(fn as AnyFunction, probe);
      const notes: string[] = [];
      if (!sameOutcomes(expected, again, equal)) {
        notes.push(
          'Note: a second run of the plain loop differs from the first: the function does not always give the same result for the',
          '  same arguments (does it read Math.random(), the clock, or state that its calls change?).',
        );
      }
      if (isolated && !deepEqual(probe, tasks)) {
        notes.push(
          'Note: the calls of the loop change their arguments. Worker threads receive copies of the arguments (one per batch),',
          '  so a change made by one task is not seen by the others as it is in the loop: copy an input before changing it.',
        );
      }
      return notes;
    };

    await check(fn as AnyFunction, '');
    if (cached) {
      await cached.clear();
      await check(cached, ' over memory.cache(fn), on a cold cache,');
      await check(cached, ' over memory.cache(fn), on a warm cache,');
    }
  });
}

/**
 * Checks with fast-check that `Parallel` gives exactly what a plain loop gives for `fn`: see
 * {@link parallelEquivalenceProperty} for what is generated and compared.
 *
 * @param fn the function a loop calls: a self-contained function or a `task()` for the `'threads'` backend
 * @param argsArbitrary generates the argument tuple of one task
 * @param options {@link ParallelEquivalenceOptions} and fast-check's parameters
 * @returns once every case passed (or, with a `reporter` or `asyncReporter`, once it returned:
 * the reporter then decides what a failure does, as under `fc.assert`): how many cases ran, and
 * the seed of the run
 * @throws ParallelEquivalenceError with fast-check's report: the shrunk counterexample (argument
 * tuples and Parallel options), the `seed` and `path` that replay it, and the difference found
 * @throws InvalidOptionError (`ERR_INVALID_OPTION`) for an invalid option
 *
 * @example
 * import fc from 'fast-check';
 * import { checkParallelEquivalence } from 'joblib-ts/testing';
 * import { simulate } from './tasks.js';
 *
 * await checkParallelEquivalence(simulate, fc.tuple(fc.integer(), fc.double({ noNaN: true })), { numRuns: 50 });
 */
export async function checkParallelEquivalence<A extends unknown[], R>(
  fn: (...args: A) => R,
  argsArbitrary: fc.Arbitrary<A>,
  options: CheckParallelEquivalenceOptions<A, Awaited<R>> = {},
): Promise<EquivalenceRun> {
  const { backend, compare, maxTasks, memory, ...fastCheckParameters } = options;
  const property = parallelEquivalenceProperty(fn, argsArbitrary, {
    ...(backend !== undefined ? { backend } : {}),
    ...(compare !== undefined ? { compare } : {}),
    ...(maxTasks !== undefined ? { maxTasks } : {}),
    ...(memory !== undefined ? { memory } : {}),
  });
  const parameters: fc.Parameters<[EquivalenceCase<A>]> = { includeErrorInReport: true, ...fastCheckParameters };
  const details = await fc.check(property, parameters);
  const run: EquivalenceRun = { runs: details.numRuns, seed: details.seed };
  // A reporter of the caller's decides what a failure does, as under fc.assert.
  const reporter = parameters.asyncReporter ?? parameters.reporter;
  if (reporter) {
    await reporter(details);
    return run;
  }
  if (!details.failed) return run;
  const report = (await fc.asyncDefaultReportMessage(details)) ?? `Property failed after ${details.numRuns} tests`;
  throw new ParallelEquivalenceError(report, details);
}

/** What a {@link checkParallelEquivalence} that returned ran. */
export interface EquivalenceRun {
  /** Cases generated and checked (fast-check's `numRuns` of the run). */
  readonly runs: number;
  /** The seed of the run (pass it as `seed` to run the same cases again). */
  readonly seed: number;
}

/**
 * Thrown by {@link checkParallelEquivalence} when Parallel and the loop differ. Its message is
 * fast-check's report; its properties give the same facts to a program.
 */
export class ParallelEquivalenceError<A extends readonly unknown[] = unknown[]> extends Error {
  /** The seed of the run: pass it back as `seed` (with `path`) to replay the failure. */
  readonly seed: number;
  /** Where the shrunk counterexample is among the generated cases: pass it back as `path`. */
  readonly path: string | undefined;
  /** The shrunk case: argument tuples and Parallel options (none when the run failed otherwise, by a timeout say). */
  readonly counterexample: EquivalenceCase<A> | undefined;

  constructor(message: string, details: fc.RunDetails<[EquivalenceCase<A>]>) {
    super(message, { cause: details.errorInstance });
    this.seed = details.seed;
    this.path = details.counterexamplePath ?? undefined;
    this.counterexample = details.counterexample?.[0];
  }
}
Object.defineProperty(ParallelEquivalenceError.prototype, 'name', { value: 'ParallelEquivalenceError', configurable: true, writable: true });

function optionsArbitrary(maxTasks: number): fc.Arbitrary<GeneratedParallelOptions> {
  return fc.record(
    {
      // 1 to 4 workers, or -1 (every CPU) in place of 5: a failing case shrinks toward fewer workers.
      nJobs: fc.integer({ min: 1, max: 5 }).map((n) => (n === 5 ? -1 : n)),
      batchSize: fc.oneof(fc.constant('auto' as const), fc.integer({ min: 1, max: maxTasks })),
      preDispatch: fc.oneof(fc.integer({ min: 1, max: maxTasks }), fc.constant('all' as const)),
      returnAs: fc.constantFrom<ReturnAs>('array', 'generator', 'generator_unordered'),
      errors: fc.constantFrom<ErrorMode>('raise', 'settle'),
    },
    { requiredKeys: ['nJobs', 'batchSize', 'returnAs', 'errors'] },
  );
}

/** `Parallel({ nJobs: 2, batchSize: 'auto', returnAs: 'array', errors: 'raise', backend: 'threads' })`. */
function describeCall(options: ParallelOptions): string {
  const fields = Object.entries(options).map(([key, value]) => `${key}: ${typeof value === 'string' ? `'${value}'` : String(value)}`);
  return `Parallel({ ${fields.join(', ')} })`;
}

/** The error a failing case throws: its message is the whole story, its stack would only add noise. */
function mismatch(lines: readonly string[]): Error {
  const error = new Error(lines.join('\n'));
  error.stack = `Error: ${error.message}`;
  return error;
}
