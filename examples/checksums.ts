/**
 * Key stretching (SHA-256 applied thousands of times) for a list of passwords. The task function
 * uses an import (node:crypto), so it is declared with task() in examples/tasks.ts and the workers
 * import that module.
 *
 * Run: npx tsx examples/checksums.ts
 */
import { Parallel, delayed } from 'joblib-ts';
import { stretch } from './tasks.js';
import { assertSameResults, formatMs, formatRow, formatSpeedup, isMain, timed, type Summary } from './timing.js';

export interface ChecksumsOptions {
  /** Number of passwords. @default 400 */
  readonly count?: number;
  /** SHA-256 rounds per password. @default 2000 */
  readonly rounds?: number;
  /** @default 2 */
  readonly nJobs?: number;
  /** Where the report goes. @default console.log */
  readonly log?: (line: string) => void;
}

export interface ChecksumsSummary extends Summary {
  /** Wall time of a second, identical Parallel call, which reuses the workers of the first. */
  readonly warmParallelMs: number;
}

export async function main(options: ChecksumsOptions = {}): Promise<ChecksumsSummary> {
  const { count = 400, rounds = 2000, nJobs = 2, log = console.log } = options;
  const passwords = Array.from({ length: count }, (_, i) => `password-${i}`);
  log(`${count} passwords, each hashed with SHA-256 ${rounds} times over`);

  const sequential = await timed(() => {
    const digests: string[] = [];
    for (const password of passwords) digests.push(stretch(password, rounds));
    return digests;
  });
  const run = Parallel(nJobs);
  const parallel = await timed(() => run(passwords.map((password) => delayed(stretch)(password, rounds))));
  const again = await timed(() => run(passwords.map((password) => delayed(stretch)(password, rounds))));
  const equal =
    assertSameResults(sequential.value, parallel.value, 'digests') &&
    assertSameResults(sequential.value, again.value, 'digests (second call)');
  const speedup = sequential.ms / parallel.ms;

  log(formatRow('for loop', formatMs(sequential.ms)));
  log(formatRow(`Parallel(${nJobs}), first call`, formatMs(parallel.ms), `(speedup ${formatSpeedup(speedup)}; workers start and import tasks.ts)`));
  log(formatRow(`Parallel(${nJobs}), second call`, formatMs(again.ms), `(speedup ${formatSpeedup(sequential.ms / again.ms)}; the workers are reused)`));
  log(`  All ${count} digests equal those of the loop.`);
  return { equal, sequentialMs: sequential.ms, parallelMs: parallel.ms, speedup, warmParallelMs: again.ms };
}

if (isMain(import.meta.url)) await main();
