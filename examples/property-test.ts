/**
 * Property-testing a parallel loop against the plain loop with joblib-ts/testing. A Monte Carlo
 * estimate of π, seeded per task, gives the same numbers in parallel as in the loop: the check
 * passes. Two broken variants are caught, with fast-check's shrunk counterexample and the seed that
 * replays it: one reads Math.random(), the other sums into a scratch object that all its tasks share.
 *
 * Run: npx tsx examples/property-test.ts (after npm run build)
 */
import fc from 'fast-check';
import { ParallelEquivalenceError, checkParallelEquivalence, deepEqual, type EquivalenceCase } from 'joblib-ts/testing';
import { formatMs, isMain, timed } from './timing.js';

/**
 * Estimates π as the mean of 4·√(1 − u²) over `samples` points u of [0, 1), drawn by a generator
 * seeded with `seed` (mulberry32): the same call gives the same estimate, in any thread.
 * Self-contained, so it travels to the worker threads as source.
 */
export function estimatePi(seed: number, samples: number): number {
  let state = seed >>> 0;
  let sum = 0;
  for (let i = 0; i < samples; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    sum += 4 * Math.sqrt(1 - u * u);
  }
  return sum / samples;
}

/** Broken: draws its points with Math.random(), so that no two calls agree (`seed` is ignored). */
export function estimatePiUnseeded(seed: number, samples: number): number {
  let sum = 0;
  for (let i = 0; i < samples; i++) {
    const u = Math.random();
    sum += 4 * Math.sqrt(1 - u * u);
  }
  return sum / samples;
}

/**
 * Broken too: sums into `scratch`, an object that every task receives (to save an allocation), and
 * never resets it. In the loop each task starts from the sum that the tasks before it left; a worker
 * thread receives a copy of `scratch` with each batch, so the results depend on the batching.
 */
export function estimatePiScratch(scratch: { sum: number }, seed: number, samples: number): number {
  let state = seed >>> 0;
  for (let i = 0; i < samples; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    scratch.sum += 4 * Math.sqrt(1 - u * u);
  }
  return scratch.sum / samples;
}

export interface PropertyTestOptions {
  /** Cases fast-check generates per check. @default 50 */
  readonly numRuns?: number;
  /** Most tasks in one case. @default 30 */
  readonly maxTasks?: number;
  /** Where the report goes. @default console.log */
  readonly log?: (line: string) => void;
}

/** A failure that the check caught. */
export interface CaughtFailure {
  /** Seed and path that replay it: pass them back as `seed` and `path`. */
  readonly seed: number;
  readonly path: string;
  /** The shrunk case: argument tuples and Parallel options. */
  readonly counterexample: EquivalenceCase;
  /** fast-check's report, as thrown. */
  readonly report: string;
}

export interface PropertyTestSummary {
  /** Cases the seeded estimate passed, as checkParallelEquivalence reports them. */
  readonly passedRuns: number;
  /** The Math.random() variant, caught. */
  readonly unseeded: CaughtFailure;
  /** Replaying the seed and path of `unseeded` failed again, with the same counterexample. */
  readonly replayed: boolean;
  /** The shared-scratch variant, caught. */
  readonly shared: CaughtFailure;
}

const seedArb = fc.integer();
const samplesArb = fc.integer({ min: 1, max: 20_000 });

/** Runs a check that must fail, and returns what it caught. */
async function caught(check: Promise<unknown>): Promise<CaughtFailure> {
  try {
    await check;
  } catch (error) {
    if (!(error instanceof ParallelEquivalenceError) || error.counterexample === undefined || error.path === undefined) throw error;
    return { seed: error.seed, path: error.path, counterexample: error.counterexample, report: error.message };
  }
  throw new Error('The check passed, but this variant is broken: it should have failed');
}

/** The report's lines, indented, without fast-check's closing hint. */
function indented(report: string): string[] {
  return report
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('Hint: '))
    .map((line) => `    ${line}`);
}

export async function main(options: PropertyTestOptions = {}): Promise<PropertyTestSummary> {
  const { numRuns = 50, maxTasks = 30, log = console.log } = options;
  const args = fc.tuple(seedArb, samplesArb);

  log(`Each check generates ${numRuns} lists of up to ${maxTasks} argument tuples, with Parallel options (nJobs, batchSize,`);
  log("preDispatch, returnAs, errors), and compares Parallel's results with those of a plain for loop.");
  log('');
  const pass = await timed(() => checkParallelEquivalence(estimatePi, args, { numRuns, maxTasks }));
  log(`1. estimatePi(seed, samples), seeded: passed ${pass.value.runs} cases in ${formatMs(pass.ms)}.`);
  log('');

  const unseeded = await caught(checkParallelEquivalence(estimatePiUnseeded, args, { numRuns, maxTasks }));
  log('2. estimatePiUnseeded(seed, samples) reads Math.random(): caught.');
  for (const line of indented(unseeded.report)) log(line);
  log('');

  const replay = await caught(
    checkParallelEquivalence(estimatePiUnseeded, args, { numRuns, maxTasks, seed: unseeded.seed, path: unseeded.path }),
  );
  const replayed = deepEqual(replay.counterexample, unseeded.counterexample);
  log(`3. Replaying it with { seed: ${unseeded.seed}, path: '${unseeded.path}' }: ${replayed ? 'fails again, on the same counterexample.' : 'fails on another counterexample!'}`);
  log('');

  const scratch = { sum: 0 }; // fc.constant: one object that every task of a case receives
  const shared = await caught(
    checkParallelEquivalence(estimatePiScratch, fc.tuple(fc.constant(scratch), seedArb, samplesArb), { numRuns, maxTasks }),
  );
  log('4. estimatePiScratch(scratch, seed, samples) sums into an object shared by all its tasks, never reset: caught.');
  for (const line of indented(shared.report)) log(line);
  return { passedRuns: pass.value.runs, unseeded, replayed, shared };
}

if (isMain(import.meta.url)) await main();
