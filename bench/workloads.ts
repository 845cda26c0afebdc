/**
 * The workloads of the comparison, each defined once: what its tasks are (a function of
 * bench/tasks.mjs and the argument list of every task), how many, and what they cost. Every system
 * builds the same arguments from the same spec, so the loop's checksum checks everyone's results.
 * A spec is plain JSON: the runner sends it to each system's child process, the Python one included
 * (bench/systems/python-joblib.py builds its own inputs from it, with task costs calibrated in Python).
 */
import { performance } from 'node:perf_hooks';
import * as tasks from './tasks.mjs';

/** A function of bench/tasks.mjs. */
export type TaskName = 'spin' | 'arraySum' | 'sliceSum' | 'isPerfect' | 'noop';

/** How the cost of task i varies, in units of `unitUs`. */
export type CostShape =
  /** every task 1 unit */
  | 'constant'
  /** 1 to 100 units over 20 tasks, again and again */
  | 'sawtooth'
  /** 1 to 100 units over the whole list, heaviest last */
  | 'rising';

export interface WorkloadSpec {
  /** Short name: W1, W4b, sweep-10us, cold... */
  readonly id: string;
  /** What it is, for the tables. */
  readonly title: string;
  /**
   * - `spin`: busy loops of a calibrated cost;
   * - `arrays`: each task gets its own Float64Array of `arrayBytes` and returns its sum;
   * - `shared`: every task gets the same Float64Array of `arrayBytes` and reads its own slice;
   * - `perfect`: isPerfect(n) for n below `tasks + 1` (uneven: cost grows with n);
   * - `cold`: start the workers and run 2 trivial tasks, then a second call;
   * - `memory`: the cache and hash figures (joblib-ts and Python joblib only).
   */
  readonly kind: 'spin' | 'arrays' | 'shared' | 'perfect' | 'cold' | 'memory';
  readonly tasks: number;
  /** `spin`: µs of one cost unit; `shared`: µs one task should take. */
  readonly unitUs?: number;
  readonly shape?: CostShape;
  readonly arrayBytes?: number;
  /** Constant-cost workloads: the task duration this one stands for in bench/speedup.svg. */
  readonly sweepUs?: number;
  /** Speedup joblib-ts 'auto' should reach (the targets). */
  readonly target?: number;
  /** Only in the sweep (not a row of the main table). */
  readonly sweepOnly?: boolean;
  /** Tasks of the warm-up run (set by workloadSpecs: see warmTasks). */
  readonly warmTasks?: number;
}

/** The JavaScript task costs measured by the runner and sent to every JavaScript child. */
export interface Calibration {
  /** Rounds of `spin` per µs. */
  readonly spinRoundsPerUs: number;
  /** ns that `sliceSum` spends on one element in one pass. */
  readonly sliceNsPerElement: number;
}

const MIB = 1024 * 1024;

/**
 * The workloads of a full or quick run, in the order each repetition runs them: cold start first,
 * then W6, whose peak memory is measured (in quick mode, in the process that ran the cold start).
 */
export function workloadSpecs(quick: boolean): WorkloadSpec[] {
  const q = <T>(full: T, short: T): T => (quick ? short : full);
  const w1 = q(100_000, 5_000);
  const w2 = q(10_000, 500);
  const w3 = q(1_000, 20);
  const unit = q(50, 4);
  const w5 = q(200, 30);
  const w6Bytes = q(100, 8) * MIB;
  // A task of W6 lasts long enough (~10 ms, ~1 s in all) that copying the array once per call, as
  // the target allows, can still leave 1.8x: a 100 MiB copy takes some 50 ms.
  const w6Ms = q(10, 0.5);
  const below = q(30_000, 10_000);
  const sweep10 = q(20_000, 1_000);
  const sweep1ms = 500;
  const sweep10ms = q(60, 6);
  const specs: WorkloadSpec[] = [
    { id: 'cold', kind: 'cold', tasks: 2, title: 'cold start: start 2 workers and run 2 trivial tasks' },
    {
      id: 'W6',
      kind: 'shared',
      tasks: 100,
      arrayBytes: w6Bytes,
      unitUs: w6Ms * 1000,
      target: 1.8,
      title: `one ${w6Bytes / MIB} MiB Float64Array passed to each of 100 tasks, each reading a slice (~${w6Ms} ms)`,
    },
    { id: 'W1', kind: 'spin', tasks: w1, unitUs: 1, shape: 'constant', sweepUs: 1, target: 1.5, title: `${count(w1)} tasks of ~1 µs` },
    { id: 'W2', kind: 'spin', tasks: w2, unitUs: 100, shape: 'constant', sweepUs: 100, target: 1.85, title: `${count(w2)} tasks of ~100 µs` },
    { id: 'W3', kind: 'spin', tasks: w3, unitUs: 5000, shape: 'constant', sweepUs: 5000, target: 1.92, title: `${count(w3)} tasks of ~5 ms` },
    {
      id: 'W4',
      kind: 'spin',
      tasks: 200,
      unitUs: unit,
      shape: 'sawtooth',
      target: 1.9,
      title: `200 tasks, cost 1-100 units repeating every 20 tasks (a unit ~${unit} µs)`,
    },
    {
      id: 'W4b',
      kind: 'spin',
      tasks: 200,
      unitUs: unit,
      shape: 'rising',
      target: 1.85,
      title: `200 tasks, cost rising 1-100 units, heaviest last (a unit ~${unit} µs)`,
    },
    {
      id: 'W5',
      kind: 'arrays',
      tasks: w5,
      arrayBytes: MIB,
      target: 1.2,
      title: `${w5} tasks, each given its own 1 MiB Float64Array, returning its sum`,
    },
    { id: 'sweep-10us', kind: 'spin', tasks: sweep10, unitUs: 10, shape: 'constant', sweepUs: 10, sweepOnly: true, title: `${count(sweep10)} tasks of ~10 µs` },
    // Quick mode leaves out the 1 ms point (W3's 5 ms stands near it) to stay under a minute.
    ...(quick
      ? []
      : [{ id: 'sweep-1ms', kind: 'spin', tasks: sweep1ms, unitUs: 1000, shape: 'constant', sweepUs: 1000, sweepOnly: true, title: `${count(sweep1ms)} tasks of ~1 ms` } as const]),
    { id: 'sweep-10ms', kind: 'spin', tasks: sweep10ms, unitUs: 10_000, shape: 'constant', sweepUs: 10_000, sweepOnly: true, title: `${count(sweep10ms)} tasks of ~10 ms` },
    { id: 'perfect', kind: 'perfect', tasks: below - 1, title: `perfect numbers below ${count(below)}` },
    { id: 'cache', kind: 'memory', tasks: 0, title: 'cache and hash figures' },
  ];
  return specs.map((spec) => ({ ...spec, warmTasks: warmTasks(spec) }));
}

/**
 * The warm-up's size: a twentieth of the tasks, at most 2,000 and about 50 ms of work, at least 8
 * (enough to start the workers and let the JIT compile the task everywhere). `shared` warms up on
 * 10 tasks over a small array.
 */
function warmTasks(spec: WorkloadSpec): number {
  if (spec.kind === 'shared') return 10;
  let n = Math.min(2_000, Math.ceil(spec.tasks / 20));
  if (spec.kind === 'spin') {
    const shape = spec.shape ?? 'constant';
    const meanUnits = shape === 'constant' ? 1 : 50.5;
    n = Math.min(n, Math.ceil(50_000 / ((spec.unitUs ?? 1) * meanUnits)));
  }
  return Math.min(spec.tasks, Math.max(8, n));
}

/** The task function of a workload. */
export function taskOf(spec: WorkloadSpec): TaskName {
  switch (spec.kind) {
    case 'spin':
      return 'spin';
    case 'arrays':
      return 'arraySum';
    case 'shared':
      return 'sliceSum';
    case 'perfect':
      return 'isPerfect';
    case 'cold':
    case 'memory':
      return 'noop';
  }
}

/** The cost of task `index` of `tasks`, in units. */
function costUnits(shape: CostShape, index: number, tasks: number): number {
  switch (shape) {
    case 'constant':
      return 1;
    case 'sawtooth':
      return 1 + Math.round((99 * (index % 20)) / 19);
    case 'rising':
      return 1 + Math.round((99 * index) / Math.max(1, tasks - 1));
  }
}

/**
 * The argument lists of a workload's tasks. `warm` gives the warm-up's (see warmTasks), with their own inputs (a system that moves buffers detaches the warm-up's, not the
 * timed run's), and a small array for `shared`.
 */
export function buildArgs(spec: WorkloadSpec, calibration: Calibration, warm: boolean): unknown[][] {
  const n = warm ? (spec.warmTasks ?? warmTasks(spec)) : spec.tasks;
  switch (spec.kind) {
    case 'spin': {
      const unitRounds = (spec.unitUs ?? 1) * calibration.spinRoundsPerUs;
      const shape = spec.shape ?? 'constant';
      return Array.from({ length: n }, (_, i) => [Math.max(1, Math.round(costUnits(shape, i, spec.tasks) * unitRounds)), i + 1]);
    }
    case 'arrays': {
      const length = (spec.arrayBytes ?? MIB) / 8;
      return Array.from({ length: n }, (_, i) => [filledArray(length, i)]);
    }
    case 'shared': {
      const count = warm ? 10 : spec.tasks;
      const values = filledArray((warm ? MIB : (spec.arrayBytes ?? MIB)) / 8, 0);
      const passes = warm ? 1 : slicePasses(spec, calibration);
      return Array.from({ length: count }, (_, i) => [values, i, count, passes]);
    }
    case 'perfect':
      return Array.from({ length: n }, (_, i) => [i + 1]);
    case 'cold':
    case 'memory':
      return Array.from({ length: 2 }, (_, i) => [i + 1]);
  }
}

/** Passes over its slice that make a `shared` task last about `unitUs`. */
function slicePasses(spec: WorkloadSpec, calibration: Calibration): number {
  const sliceLength = (spec.arrayBytes ?? MIB) / 8 / spec.tasks;
  return Math.max(1, Math.round(((spec.unitUs ?? 1000) * 1000) / (sliceLength * calibration.sliceNsPerElement)));
}

/** A Float64Array whose element j is `(j + offset) & 1023`: small integers, so that sums are exact. */
export function filledArray(length: number, offset: number): Float64Array {
  const values = new Float64Array(length);
  for (let j = 0; j < length; j++) values[j] = (j + offset) & 1023;
  return values;
}

/**
 * A checksum of results in order: the sum of each result times (its index mod 7) + 1. Exact for
 * the results of these workloads (int32s, booleans, sums of small integers); NaN if any result is
 * not a number or a boolean. Equal checksums mean equal sums, and a reordering would show.
 */
export function checksum(results: readonly unknown[]): number {
  let sum = 0;
  for (let i = 0; i < results.length; i++) {
    const value = results[i];
    if (typeof value !== 'number' && typeof value !== 'boolean') return Number.NaN;
    sum += Number(value) * ((i % 7) + 1);
  }
  return sum;
}

/** Measures the JavaScript task costs (fastest of several timed runs after a warm-up). */
export function calibrate(): Calibration {
  const rounds = 2_000_000;
  for (let i = 0; i < 20; i++) tasks.spin(100_000, i + 1);
  let best = Infinity;
  for (let i = 0; i < 7; i++) {
    const started = performance.now();
    tasks.spin(rounds, i + 1);
    best = Math.min(best, performance.now() - started);
  }
  const spinRoundsPerUs = rounds / (best * 1000);

  const values = filledArray(MIB / 8, 0);
  for (let i = 0; i < 5; i++) tasks.sliceSum(values, 0, 1, 2);
  let bestSlice = Infinity;
  for (let i = 0; i < 7; i++) {
    const started = performance.now();
    tasks.sliceSum(values, 0, 1, 8);
    bestSlice = Math.min(bestSlice, performance.now() - started);
  }
  const sliceNsPerElement = (bestSlice * 1e6) / (8 * values.length);
  return { spinRoundsPerUs, sliceNsPerElement };
}

function count(n: number): string {
  return n.toLocaleString('en');
}
