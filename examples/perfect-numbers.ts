/**
 * Which numbers below 100 000 are perfect, that is equal to the sum of their proper divisors?
 * Each check tries every divisor below n, so the last checks cost 100 000 times more than the first:
 * work of uneven cost, which batchSize 'auto' and a pool where a free worker takes the next batch
 * are made for.
 *
 * Run: npm run demo (or npx tsx examples/perfect-numbers.ts)
 */
import { Parallel, cpuCount, delayed } from 'joblib-ts';
import { assertSameResults, formatCount, formatMs, formatRow, formatSpeedup, isMain, timed, type Summary } from './timing.js';

/** Self-contained (it reads only its parameter), so it travels to the worker threads as source. */
export function isPerfect(n: number): boolean {
  let sum = 0;
  for (let d = 1; d < n; d++) {
    if (n % d === 0) sum += d;
  }
  return sum === n;
}

export interface PerfectNumbersOptions {
  /** Numbers 1 to `below - 1` are checked. @default 100_000 */
  readonly below?: number;
  /** @default 2 */
  readonly nJobs?: number;
  /** Where the report goes. @default console.log */
  readonly log?: (line: string) => void;
}

export interface PerfectNumbersSummary extends Summary {
  /** The perfect numbers found. */
  readonly perfect: readonly number[];
  /** Largest batch size `'auto'` reached, as reported by onProgress. */
  readonly maxBatchSize: number;
  /** Batch size of the last progress event. */
  readonly lastBatchSize: number;
}

export async function main(options: PerfectNumbersOptions = {}): Promise<PerfectNumbersSummary> {
  const { below = 100_000, nJobs = 2, log = console.log } = options;
  const numbers = Array.from({ length: below - 1 }, (_, i) => i + 1);

  log(`Perfect numbers below ${formatCount(below)}: numbers equal to the sum of their proper divisors (6 = 1 + 2 + 3).`);
  log(`Checking n tries every divisor below n, so the ${formatCount(numbers.length)} checks get costlier as n grows.`);
  log('');

  const sequential = await timed(() => {
    const answers: boolean[] = [];
    for (const n of numbers) answers.push(isPerfect(n));
    return answers;
  });
  log(formatRow('for loop', formatMs(sequential.ms)));

  let maxBatchSize = 0;
  let lastBatchSize = 0;
  const run = Parallel({
    nJobs,
    batchSize: 'auto',
    onProgress: (event) => {
      maxBatchSize = Math.max(maxBatchSize, event.batchSize);
      lastBatchSize = event.batchSize;
    },
  });
  const parallel = await timed(() => run(numbers.map((n) => delayed(isPerfect)(n))));
  log(formatRow(`Parallel({ nJobs: ${nJobs}, batchSize: 'auto' })`, formatMs(parallel.ms), '(including starting the workers)'));

  const equal = assertSameResults(sequential.value, parallel.value, 'perfect numbers');
  const speedup = sequential.ms / parallel.ms;
  const perfect = numbers.filter((_, i) => parallel.value[i]);
  log(formatRow('speedup', formatSpeedup(speedup), `(${nJobs} workers, ${cpuCount()} CPUs available)`));
  log('');
  log(`  Perfect numbers found: ${perfect.join(', ')}`);
  log(`  Both runs agree on all ${formatCount(numbers.length)} answers.`);
  log(`  batchSize 'auto' grew from 1 to ${formatCount(maxBatchSize)} tasks per message while the checks were cheap,`);
  log(`  and was ${formatCount(lastBatchSize)} at the end, where one check costs the most.`);
  return { equal, sequentialMs: sequential.ms, parallelMs: parallel.ms, speedup, perfect, maxBatchSize, lastBatchSize };
}

if (isMain(import.meta.url)) await main();
