/**
 * The child-process side of the comparison, shared by the JavaScript adapters. A child serves the
 * jobs the runner (bench/compare.ts) writes on its stdin, one JSON line each, and answers each on
 * stdout with a line `@@result {...}`; it prints `@@ready` once its system's library is imported.
 *
 * A job runs one workload on a fresh pool of the adapter's system: open the pool, run the warm-up
 * (a twentieth of the tasks or less, with their own inputs), then time the run of the workload's tasks,
 * from building the system's task list to the last result (building the inputs is not timed), and
 * close the pool. The checksum of the results goes back with the time, for the runner to compare
 * with the loop's, and so does the peak memory of the timed run (the whole process: worker threads
 * included), measured from the resident size just before the inputs were built.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { buildArgs, checksum, taskOf, type Calibration, type TaskName, type WorkloadSpec } from '../workloads.js';

/** One job, as the runner sends it. */
export interface Job {
  readonly workload: WorkloadSpec;
  readonly calibration: Calibration;
  /** Number of workers of the pool. */
  readonly workers: number;
  /** Which form of the system: `'auto'`, `'1'` or `'shared'` for joblib-ts, `'copy'` or `'move'` for piscina. */
  readonly variant?: string;
  readonly quick: boolean;
}

/** What a child answers. Times in ms, memory in MiB. */
export interface JobResult {
  readonly ok: boolean;
  /** Why the job failed (`ok` false). */
  readonly error?: string;
  /** Wall time of the timed run; for `cold`, of the first call (opening the pool included). */
  readonly ms?: number;
  /** Number of results and their checksum (see workloads.ts). */
  readonly results?: number;
  readonly check?: number;
  /** Python: its own sequential loop's time, in the same process, and whether the results matched it. */
  readonly loopMs?: number;
  readonly matchesLoop?: boolean;
  /** Resident size before the inputs were built, and the peak above it during the timed run. */
  readonly rssBeforeMiB?: number;
  readonly peakAboveMiB?: number;
  /** `arrays`: how many of the caller's arrays were detached (moved) after the run. */
  readonly detached?: number;
  /** `cold`: the second call's time, and the threads started by the first and the second call. */
  readonly secondMs?: number;
  readonly threadsFirstCall?: number;
  readonly threadsSecondCall?: number;
  /** Figures the system reports on its timed run (joblib-ts 'auto': maxBatch, finalBatch). */
  readonly stats?: Readonly<Record<string, number>>;
  /** `memory`: the system's cache and hash figures. */
  readonly memory?: unknown;
}

/** A pool of the system, for one function. */
export interface Session {
  /** Runs the session's task function on every argument list; the results in input order. */
  run(argsList: readonly (readonly unknown[])[]): Promise<readonly unknown[]>;
  /**
   * The argument lists as this variant's caller holds them before the call (not timed, as making
   * them is not): joblib-ts's `shared` variant keeps its arrays in shared memory.
   */
  prepare?(argsList: unknown[][]): unknown[][];
  close(): Promise<void>;
  /** Figures on the last run (read after the timed run). */
  stats?(): Record<string, number>;
}

/** What a system's adapter file provides. */
export interface Adapter {
  /** Starts a pool of `job.workers` workers for `task` (the loop starts nothing). */
  open(task: TaskName, job: Job): Session | Promise<Session>;
  /** The cache and hash figures, for systems that have a cache. */
  memory?(quick: boolean): Promise<unknown>;
}

/** Serves jobs until stdin ends. */
export async function serve(adapter: Adapter): Promise<void> {
  process.stdout.write('@@ready\n');
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    let result: JobResult;
    try {
      result = await runJob(adapter, JSON.parse(line) as Job);
    } catch (error) {
      result = { ok: false, error: (error as Error)?.stack ?? String(error) };
    }
    process.stdout.write(`@@result ${JSON.stringify(result)}\n`);
  }
}

async function runJob(adapter: Adapter, job: Job): Promise<JobResult> {
  const spec = job.workload;
  if (spec.kind === 'memory') {
    if (!adapter.memory) throw new Error('This system has no cache');
    return { ok: true, memory: await adapter.memory(job.quick) };
  }
  if (spec.kind === 'cold') return coldStart(adapter, job);

  const task = taskOf(spec);
  const session = await adapter.open(task, job);
  try {
    const prepare = (argsList: unknown[][]) => session.prepare?.(argsList) ?? argsList;
    let warmArgs: unknown[][] | undefined = prepare(buildArgs(spec, job.calibration, true));
    const warm = await session.run(warmArgs);
    if (warm.length !== warmArgs.length) throw new Error(`The warm-up gave ${warm.length} results for ${warmArgs.length} tasks`);
    warmArgs = undefined;
    await settleMemory();
    const rssBefore = residentMiB();
    resetPeak();
    const args = prepare(buildArgs(spec, job.calibration, false));
    const started = performance.now();
    const results = await session.run(args);
    const ms = performance.now() - started;
    const peak = peakMiB();
    const detached = spec.kind === 'arrays' ? args.filter(([values]) => (values as Float64Array).buffer.byteLength === 0).length : undefined;
    return {
      ok: true,
      ms,
      results: results.length,
      check: checksum(results),
      rssBeforeMiB: rssBefore,
      peakAboveMiB: peak - rssBefore,
      ...(detached === undefined ? {} : { detached }),
      ...(session.stats ? { stats: session.stats() } : {}),
    };
  } finally {
    await session.close();
  }
}

/** Opens the pool and runs 2 trivial tasks (timed together), then a second call on the same pool. */
async function coldStart(adapter: Adapter, job: Job): Promise<JobResult> {
  const threadsBefore = threadCount();
  const started = performance.now();
  const session = await adapter.open('noop', job);
  const first = await session.run([[1], [2]]);
  const firstMs = performance.now() - started;
  const threadsAfterFirst = threadCount();
  const secondStarted = performance.now();
  const second = await session.run([[3], [4]]);
  const secondMs = performance.now() - secondStarted;
  const threadsAfterSecond = threadCount();
  await session.close();
  const results = [...first, ...second];
  return {
    ok: true,
    ms: firstMs,
    secondMs,
    results: results.length,
    check: checksum(results),
    ...(threadsBefore === undefined || threadsAfterFirst === undefined || threadsAfterSecond === undefined
      ? {}
      : { threadsFirstCall: threadsAfterFirst - threadsBefore, threadsSecondCall: threadsAfterSecond - threadsAfterFirst }),
  };
}

let collect: (() => void) | undefined;

/**
 * Collects garbage and gives the allocator time to return it. The children do not run with
 * --expose-gc: a V8 flag in execArgv changes how some systems start their workers (joblib-ts then
 * starts them with the program's flags, tsx included). The flag is set here, at run time instead.
 */
async function settleMemory(): Promise<void> {
  if (!collect) {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as () => void;
  }
  collect();
  await sleep(30);
  collect();
}

function procStatus(field: string): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Resident set size now, in MiB. */
function residentMiB(): number {
  return (procStatus('VmRSS') ?? process.memoryUsage().rss / 1024) / 1024;
}

let peakWasReset = false;

/** Starts the peak (VmHWM) afresh from the present resident size, where Linux allows it. */
function resetPeak(): void {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    peakWasReset = true;
  } catch {
    peakWasReset = false;
  }
}

/** Peak resident size since resetPeak(), in MiB (since the process started, where it could not be reset). */
function peakMiB(): number {
  const hwm = peakWasReset ? procStatus('VmHWM') : undefined;
  return (hwm ?? process.resourceUsage().maxRSS) / 1024;
}

/** Number of threads of this process (Linux), or undefined. */
function threadCount(): number | undefined {
  return procStatus('Threads');
}
