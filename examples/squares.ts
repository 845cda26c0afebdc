/**
 * Squares of 0 to 9: work so small that nothing beats a plain loop. Parallel has to start workers
 * and send messages; what batchSize 'auto' does is keep that overhead from growing with the number
 * of tasks, as the second half shows with the same tiny task repeated 20 000 times.
 *
 * Run: npx tsx examples/squares.ts
 */
import { Parallel, delayed } from 'joblib-ts';
import { assertSameResults, formatCount, formatMs, formatRow, formatSpeedup, isMain, timed, type Summary } from './timing.js';

/** Self-contained, so it travels to the worker threads as source. */
export function square(x: number): number {
  return x * x;
}

export interface SquaresOptions {
  /** Squares of 0 to `n - 1`. @default 10 */
  readonly n?: number;
  /** How many squares the batching comparison computes. @default 20_000 */
  readonly many?: number;
  /** @default 2 */
  readonly nJobs?: number;
  /** Where the report goes. @default console.log */
  readonly log?: (line: string) => void;
}

export interface SquaresSummary extends Summary {
  /** Wall time of a second Parallel call on 0 to n - 1, which reuses the workers of the first. */
  readonly warmParallelMs: number;
  /** The same task `many` times: loop, Parallel with batchSize 'auto', Parallel with batchSize 1. */
  readonly many: {
    readonly count: number;
    readonly sequentialMs: number;
    readonly autoMs: number;
    readonly oneByOneMs: number;
    readonly maxBatchSize: number;
  };
}

function loop(count: number): number[] {
  const results: number[] = [];
  for (let x = 0; x < count; x++) results.push(square(x));
  return results;
}

function tasks(count: number) {
  return Array.from({ length: count }, (_, x) => delayed(square)(x));
}

export async function main(options: SquaresOptions = {}): Promise<SquaresSummary> {
  const { n = 10, many = 20_000, nJobs = 2, log = console.log } = options;
  const row = (label: string, ms: number, note?: string) => log(formatRow(label, formatMs(ms), note));

  log(`Squares of 0 to ${n - 1}`);
  const sequential = await timed(() => loop(n));
  const run = Parallel(nJobs);
  const parallel = await timed(() => run(tasks(n)));
  const again = await timed(() => run(tasks(n)));
  assertSameResults(sequential.value, parallel.value, 'squares');
  const equal = assertSameResults(sequential.value, again.value, 'squares (second call)');
  row('for loop', sequential.ms);
  row(`Parallel(${nJobs}), first call`, parallel.ms, '(includes starting the workers)');
  row(`Parallel(${nJobs}), second call`, again.ms, '(the workers are reused)');
  log(`  The loop is ${formatSpeedup(again.ms / sequential.ms)} as fast as even the warm Parallel call: a square costs`);
  log('  nanoseconds, a message to a worker and back costs tens of microseconds.');
  log('');

  log(`The same task ${formatCount(many)} times (squares of 0 to ${formatCount(many - 1)})`);
  const manySequential = await timed(() => loop(many));
  let maxBatchSize = 0;
  const auto = await timed(() =>
    Parallel({ nJobs, batchSize: 'auto', onProgress: (e) => (maxBatchSize = Math.max(maxBatchSize, e.batchSize)) })(tasks(many)),
  );
  const oneByOne = await timed(() => Parallel({ nJobs, batchSize: 1 })(tasks(many)));
  assertSameResults(manySequential.value, auto.value, "squares (batchSize 'auto')");
  assertSameResults(manySequential.value, oneByOne.value, 'squares (batchSize 1)');
  row('for loop', manySequential.ms);
  row(`Parallel({ nJobs: ${nJobs}, batchSize: 'auto' })`, auto.ms, `(batchSize 'auto' reached ${formatCount(maxBatchSize)})`);
  row(`Parallel({ nJobs: ${nJobs}, batchSize: 1 })`, oneByOne.ms, '(one message per task)');
  log(`  'auto' sends thousands of tasks per message and is ${formatSpeedup(oneByOne.ms / auto.ms)} as fast as one task per`);
  log('  message; the loop is still the fastest, because the work is too small to be worth sharing.');

  return {
    equal,
    sequentialMs: sequential.ms,
    parallelMs: parallel.ms,
    speedup: sequential.ms / parallel.ms,
    warmParallelMs: again.ms,
    many: { count: many, sequentialMs: manySequential.ms, autoMs: auto.ms, oneByOneMs: oneByOne.ms, maxBatchSize },
  };
}

if (isMain(import.meta.url)) await main();
