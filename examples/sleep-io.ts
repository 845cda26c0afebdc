/**
 * Tasks that wait rather than compute (network calls, disk, timers): backend 'async' keeps up to
 * nJobs of them in flight in the calling thread, no worker threads involved, so any function works,
 * closures included.
 *
 * Run: npx tsx examples/sleep-io.ts
 */
import { Parallel, delayed } from 'joblib-ts';
import { assertSameResults, formatMs, formatRow, formatSpeedup, isMain, timed, type Summary } from './timing.js';

export interface SleepIoOptions {
  /** Number of tasks. @default 40 */
  readonly count?: number;
  /** How long each task waits, in ms. @default 50 */
  readonly latencyMs?: number;
  /** Tasks in flight at once. @default 8 */
  readonly nJobs?: number;
  /** Where the report goes. @default console.log */
  readonly log?: (line: string) => void;
}

export async function main(options: SleepIoOptions = {}): Promise<Summary> {
  const { count = 40, latencyMs = 50, nJobs = 8, log = console.log } = options;

  // A closure over `latencyMs`: fine on the 'async' backend, which runs it in this thread.
  const fetchRecord = async (id: number) => {
    await new Promise((resolve) => setTimeout(resolve, latencyMs));
    return `record ${id}`;
  };
  const ids = Array.from({ length: count }, (_, i) => i);
  log(`${count} tasks that each wait ${latencyMs} ms, like a request to a server`);

  const sequential = await timed(async () => {
    const records: string[] = [];
    for (const id of ids) records.push(await fetchRecord(id));
    return records;
  });
  const parallel = await timed(() => Parallel({ nJobs, backend: 'async' })(ids.map((id) => delayed(fetchRecord)(id))));
  const equal = assertSameResults(sequential.value, parallel.value, 'records');
  const speedup = sequential.ms / parallel.ms;

  log(formatRow('awaiting one after the other', formatMs(sequential.ms)));
  log(formatRow(`Parallel({ nJobs: ${nJobs}, backend: 'async' })`, formatMs(parallel.ms), `(${nJobs} in flight at once)`));
  log(formatRow('speedup', formatSpeedup(speedup), `(the ${count} results are equal and in input order)`));
  return { equal, sequentialMs: sequential.ms, parallelMs: parallel.ms, speedup };
}

if (isMain(import.meta.url)) await main();
