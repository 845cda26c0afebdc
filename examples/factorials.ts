/**
 * Factorials of 1 to 2000 as BigInt, each computed from scratch: a plain loop, then Parallel on
 * worker threads. BigInts cross between threads by structured clone like any primitive.
 *
 * Run: npx tsx examples/factorials.ts
 */
import { Parallel, delayed } from 'joblib-ts';
import { assertSameResults, formatCount, formatMs, formatRow, formatSpeedup, isMain, timed, type Summary } from './timing.js';

/** n!, self-contained (it reads only its parameter and the global BigInt), so it travels to workers as source. */
export function factorial(n: number): bigint {
  let product = 1n;
  for (let k = 2n; k <= BigInt(n); k++) product *= k;
  return product;
}

export interface FactorialsOptions {
  /** Factorials of 1 to `upTo`. @default 2000 */
  readonly upTo?: number;
  /** @default 2 */
  readonly nJobs?: number;
  /** Where the report goes. @default console.log */
  readonly log?: (line: string) => void;
}

export interface FactorialsSummary extends Summary {
  /** Wall time of a second, identical Parallel call, which reuses the workers of the first. */
  readonly warmParallelMs: number;
}

export async function main(options: FactorialsOptions = {}): Promise<FactorialsSummary> {
  const { upTo = 2000, nJobs = 2, log = console.log } = options;
  const numbers = Array.from({ length: upTo }, (_, i) => i + 1);
  log(`Factorials of 1 to ${formatCount(upTo)} as BigInt (${upTo}! has ${String(factorial(upTo)).length} digits)`);

  const sequential = await timed(() => {
    const results: bigint[] = [];
    for (const n of numbers) results.push(factorial(n));
    return results;
  });

  const run = Parallel(nJobs);
  const parallel = await timed(() => run(numbers.map((n) => delayed(factorial)(n))));
  const again = await timed(() => run(numbers.map((n) => delayed(factorial)(n))));
  const equal =
    assertSameResults(sequential.value, parallel.value, 'factorials') &&
    assertSameResults(sequential.value, again.value, 'factorials (second call)');
  const speedup = sequential.ms / parallel.ms;

  log(formatRow('for loop', formatMs(sequential.ms)));
  log(formatRow(`Parallel(${nJobs}), first call`, formatMs(parallel.ms), `(speedup ${formatSpeedup(speedup)}; includes starting the workers)`));
  log(formatRow(`Parallel(${nJobs}), second call`, formatMs(again.ms), `(speedup ${formatSpeedup(sequential.ms / again.ms)}; the workers are reused)`));
  log(`  All ${formatCount(upTo)} results equal those of the loop.`);
  return { equal, sequentialMs: sequential.ms, parallelMs: parallel.ms, speedup, warmParallelMs: again.ms };
}

if (isMain(import.meta.url)) await main();
