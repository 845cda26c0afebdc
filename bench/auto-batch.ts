/**
 * What batchSize 'auto' settles on, and what it buys, for tasks of about 1 µs and about 5 ms on two
 * workers, against the plain loop and against batchSize 1; then the perfect-numbers loop, whose tasks
 * grow from nanoseconds to a fraction of a millisecond. Every time is the median of several runs
 * after a warm-up, all in one process.
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Parallel, delayed, type ProgressEvent, type TaskInput } from 'joblib-ts';
import { isPerfect } from '../examples/perfect-numbers.js';
import { assertSameResults, formatCount, formatMs, formatSpeedup } from '../examples/timing.js';

/**
 * Busy work of `iterations` steps (a linear congruential generator in 32-bit integer arithmetic: no
 * overflow into doubles, no allocation). Self-contained, so it travels to the workers as source.
 */
export function spin(iterations: number, seed: number): number {
  let x = seed | 0;
  for (let k = 0; k < iterations; k++) x = (Math.imul(x, 1664525) + k) | 0;
  return x;
}

export interface AutoBatchBenchOptions {
  /** Fewer tasks and 3 runs instead of 5: done in well under a minute. @default false */
  readonly quick?: boolean;
  /** Progress lines while the bench runs. @default console.log */
  readonly log?: (line: string) => void;
}

/** Measurements of one workload. */
export interface WorkloadResult {
  readonly name: string;
  readonly tasks: number;
  /** Cost of one task in the loop (loop time / tasks), in µs. */
  readonly taskCostUs: number;
  /** Median over the runs of the largest batch size onProgress reported with 'auto'. */
  readonly autoMaxBatchSize: number;
  /** Median over the runs of the batch size of the last progress event with 'auto'. */
  readonly autoFinalBatchSize: number;
  readonly sequentialMs: number;
  readonly autoMs: number;
  /** Undefined when batchSize 1 was not measured for this workload. */
  readonly oneMs: number | undefined;
}

export interface AutoBatchBenchResult {
  readonly quick: boolean;
  readonly runs: number;
  readonly nJobs: number;
  readonly workloads: readonly WorkloadResult[];
  /** The results as a Markdown document. */
  readonly markdown: string;
}

const N_JOBS = 2;

interface Workload {
  readonly name: string;
  /** Runs the loop and returns its results. */
  readonly loop: () => unknown[];
  /** Makes the tasks (a fresh list for each call). */
  readonly tasks: () => TaskInput;
  readonly withBatchSizeOne: boolean;
}

export async function runAutoBatchBench(options: AutoBatchBenchOptions = {}): Promise<AutoBatchBenchResult> {
  const { quick = false, log = console.log } = options;
  const runs = quick ? 3 : 5;
  const load = loadavg()[0] ?? 0;
  log(`Calibrating the busy loop...`);
  const itersPerMs = calibrate();
  const microIters = Math.max(1, Math.round(itersPerMs / 1000));
  const fiveMsIters = Math.round(itersPerMs * 5);
  log(`  ${formatCount(Math.round(itersPerMs))} iterations per ms: ${microIters} for ~1 µs, ${formatCount(fiveMsIters)} for ~5 ms`);

  const microCount = quick ? 50_000 : 200_000;
  const fiveMsCount = quick ? 40 : 200;
  const below = quick ? 30_000 : 100_000;
  const seeds = (count: number) => Array.from({ length: count }, (_, i) => i);
  const workloads: Workload[] = [
    {
      name: '~1 µs busy loop',
      loop: () => seeds(microCount).map((s) => spin(microIters, s)),
      tasks: () => seeds(microCount).map((s) => delayed(spin)(microIters, s)),
      withBatchSizeOne: true,
    },
    {
      name: '~5 ms busy loop',
      loop: () => seeds(fiveMsCount).map((s) => spin(fiveMsIters, s)),
      tasks: () => seeds(fiveMsCount).map((s) => delayed(spin)(fiveMsIters, s)),
      withBatchSizeOne: true,
    },
    {
      name: `perfect numbers below ${formatCount(below)}`,
      loop: () => seeds(below - 1).map((i) => isPerfect(i + 1)),
      tasks: () => seeds(below - 1).map((i) => delayed(isPerfect)(i + 1)),
      withBatchSizeOne: false,
    },
  ];

  const results: WorkloadResult[] = [];
  for (const workload of workloads) {
    log(`${workload.name}: a warm-up, then ${runs} runs...`);
    results.push(await measure(workload, runs));
    const r = results[results.length - 1] as WorkloadResult;
    log(
      `  loop ${formatMs(r.sequentialMs)}, 'auto' ${formatMs(r.autoMs)} (${formatSpeedup(r.sequentialMs / r.autoMs)})` +
        (r.oneMs === undefined ? '' : `, batchSize 1 ${formatMs(r.oneMs)} (${formatSpeedup(r.sequentialMs / r.oneMs)})`),
    );
  }
  return { quick, runs, nJobs: N_JOBS, workloads: results, markdown: toMarkdown(results, { quick, runs, load }) };
}

/** Loop iterations per ms, from the fastest of several timed runs after the JIT has warmed up. */
function calibrate(): number {
  const iterations = 2_000_000;
  for (let i = 0; i < 20; i++) spin(100_000, i);
  let best = Infinity;
  for (let i = 0; i < 7; i++) {
    const started = performance.now();
    spin(iterations, i);
    best = Math.min(best, performance.now() - started);
  }
  return iterations / best;
}

async function measure(workload: Workload, runs: number): Promise<WorkloadResult> {
  const sequential: number[] = [];
  const auto: number[] = [];
  const one: number[] = [];
  const maxBatch: number[] = [];
  const finalBatch: number[] = [];
  let tasks = 0;
  for (let run = 0; run <= runs; run++) {
    const warmUp = run === 0;
    const loopStarted = performance.now();
    const expected = workload.loop();
    const loopMs = performance.now() - loopStarted;
    tasks = expected.length;

    let max = 0;
    let final = 0;
    const onProgress = (event: ProgressEvent) => {
      max = Math.max(max, event.batchSize);
      final = event.batchSize;
    };
    const autoRun = await timeParallel({ nJobs: N_JOBS, batchSize: 'auto', onProgress }, workload.tasks());
    assertSameResults(expected, autoRun.results, `${workload.name}, batchSize 'auto'`);
    let oneMs: number | undefined;
    if (workload.withBatchSizeOne) {
      const oneRun = await timeParallel({ nJobs: N_JOBS, batchSize: 1 }, workload.tasks());
      assertSameResults(expected, oneRun.results, `${workload.name}, batchSize 1`);
      oneMs = oneRun.ms;
    }
    if (warmUp) continue;
    sequential.push(loopMs);
    auto.push(autoRun.ms);
    if (oneMs !== undefined) one.push(oneMs);
    maxBatch.push(max);
    finalBatch.push(final);
  }
  const sequentialMs = median(sequential);
  return {
    name: workload.name,
    tasks,
    taskCostUs: (sequentialMs * 1000) / tasks,
    autoMaxBatchSize: median(maxBatch),
    autoFinalBatchSize: median(finalBatch),
    sequentialMs,
    autoMs: median(auto),
    oneMs: one.length > 0 ? median(one) : undefined,
  };
}

async function timeParallel(
  options: { nJobs: number; batchSize: 'auto' | number; onProgress?: (event: ProgressEvent) => void },
  tasks: TaskInput,
): Promise<{ results: unknown[]; ms: number }> {
  const started = performance.now();
  const results = await Parallel(options)(tasks);
  return { results, ms: performance.now() - started };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

function toMarkdown(results: readonly WorkloadResult[], run: { quick: boolean; runs: number; load: number }): string {
  const cpuModel = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const lines = [
    '# batchSize \'auto\' benchmark',
    '',
    `Written by \`npm run bench${run.quick ? ' -- --quick' : ''}\` (bench/auto-batch.ts)${run.quick ? ', quick mode: fewer tasks' : ''}.`,
    '',
    `- Machine: ${availableParallelism()} CPUs (${cpuModel}), ${process.platform}/${process.arch}, load average ${run.load.toFixed(2)} at the start`,
    `- Node.js ${process.version}`,
    `- Parallel with nJobs ${N_JOBS}; every time is the median of ${run.runs} runs after a warm-up run, all in one process`,
    '- Speedup: loop time / Parallel time (above 1, Parallel is faster); each Parallel time includes sending the tasks and the results',
    "- 'auto' batch size: the largest batch size onProgress reported, and the one of the last event (medians over the runs)",
    '',
    "| Workload | Tasks | Cost of a task | 'auto' batch size (max / final) | Loop | Parallel, 'auto' | Speedup | Parallel, batchSize 1 | Speedup |",
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const r of results) {
    const one = r.oneMs === undefined ? ['—', '—'] : [formatMs(r.oneMs), formatSpeedup(r.sequentialMs / r.oneMs)];
    lines.push(
      `| ${[
        r.name,
        formatCount(r.tasks),
        formatCost(r.taskCostUs),
        `${formatCount(r.autoMaxBatchSize)} / ${formatCount(r.autoFinalBatchSize)}`,
        formatMs(r.sequentialMs),
        formatMs(r.autoMs),
        formatSpeedup(r.sequentialMs / r.autoMs),
        ...one,
      ].join(' | ')} |`,
    );
  }
  lines.push('', "The cost of a perfect-numbers task grows with n (about n steps of trial division): the column shows the average.", '');
  return lines.join('\n');
}

function formatCost(us: number): string {
  return us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(us < 10 ? 2 : 0)} µs`;
}
