/**
 * The side-by-side comparison: every workload of bench/workloads.ts on every system of
 * bench/systems/, each system in its own child process.
 *
 * A repetition runs each workload on each system in turn, in an order rotated from one repetition
 * to the next, so that the loop and the systems compared with it run seconds apart; the speedup of
 * a system is the loop's time divided by the system's time of the same repetition (Python joblib:
 * its own Python loop, timed in its process just before). By default each system keeps one child
 * process per repetition, which serves the repetition's workloads one after the other, each on a
 * fresh pool after a warm-up: cold start first, then W6, whose peak memory is reported, in a process
 * of its own but in quick mode (`fresh: true` starts a process for every job).
 * The memory figures (cache and hash) run once, after the repetitions, in fresh processes.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { cpuTimes, stolenShare } from './host.js';
import { formatMs } from '../examples/timing.js';
import { spread, type Spread } from './stats.js';
import type { Job, JobResult } from './systems/harness.js';
import { Child, findPython, startAll, type PythonStatus } from './children.js';
import { calibrate, checksum, workloadSpecs, type Calibration, type WorkloadSpec } from './workloads.js';

export type SystemId =
  | 'loop'
  | 'joblib-ts-auto'
  | 'joblib-ts-1'
  | 'piscina'
  | 'piscina-move'
  | 'joblib-ts-shared'
  | 'workerpool'
  | 'threads'
  | 'worker-threads'
  | 'joblib-py';

export interface SystemDef {
  readonly id: SystemId;
  /** Column heading. */
  readonly label: string;
  /** Line colour in bench/speedup.svg. */
  readonly color: string;
  readonly runtime: 'node' | 'python';
  /** Adapter file in bench/systems/. */
  readonly file: string;
  readonly variant?: string;
  /** A variant shown in the cells of the system it varies (W5), not in a column of its own: which, and what differs. */
  readonly variantOf?: { readonly system: SystemId; readonly what: string };
  /** Whether the system runs this workload. */
  runs(spec: WorkloadSpec): boolean;
}

const parallelKinds = new Set(['spin', 'arrays', 'shared', 'cold']);

function version(name: string): string {
  try {
    const url = new URL(`../node_modules/${name}/package.json`, import.meta.url);
    return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

/** Every system, in the order of the tables. */
export function systemDefs(pythonLabel = 'Python joblib'): SystemDef[] {
  return [
    { id: 'loop', label: 'loop', color: '#000000', runtime: 'node', file: 'loop.ts', runs: (s) => s.kind !== 'cold' && s.kind !== 'memory' },
    {
      id: 'joblib-ts-auto',
      label: "joblib-ts 'auto'",
      color: '#d62728',
      runtime: 'node',
      file: 'joblib-ts.ts',
      variant: 'auto',
      runs: () => true,
    },
    {
      id: 'joblib-ts-1',
      label: 'joblib-ts batchSize 1',
      color: '#f7a1a1',
      runtime: 'node',
      file: 'joblib-ts.ts',
      variant: '1',
      runs: (s) => parallelKinds.has(s.kind) && s.kind !== 'cold',
    },
    {
      id: 'joblib-ts-shared',
      label: "joblib-ts 'auto', arrays in shared memory",
      color: '#ff9896',
      runtime: 'node',
      file: 'joblib-ts.ts',
      variant: 'shared',
      variantOf: { system: 'joblib-ts-auto', what: 'arrays in shared memory' },
      runs: (s) => s.kind === 'arrays',
    },
    { id: 'piscina', label: `piscina ${version('piscina')}`, color: '#1f77b4', runtime: 'node', file: 'piscina.ts', variant: 'copy', runs: (s) => parallelKinds.has(s.kind) },
    {
      id: 'piscina-move',
      label: 'piscina, buffers moved',
      color: '#aec7e8',
      runtime: 'node',
      file: 'piscina.ts',
      variant: 'move',
      variantOf: { system: 'piscina', what: 'buffers moved' },
      runs: (s) => s.kind === 'arrays',
    },
    { id: 'workerpool', label: `workerpool ${version('workerpool')}`, color: '#2ca02c', runtime: 'node', file: 'workerpool.ts', runs: (s) => parallelKinds.has(s.kind) },
    {
      id: 'threads',
      label: `threads.js ${version('threads')} Pool, 100 per queue()`,
      color: '#9467bd',
      runtime: 'node',
      file: 'threads.ts',
      runs: (s) => parallelKinds.has(s.kind),
    },
    { id: 'joblib-py', label: pythonLabel, color: '#ff7f0e', runtime: 'python', file: 'python-joblib.py', runs: (s) => s.kind !== 'perfect' },
    {
      id: 'worker-threads',
      label: 'one message per worker',
      color: '#7f7f7f',
      runtime: 'node',
      file: 'worker-threads.ts',
      runs: (s) => parallelKinds.has(s.kind),
    },
  ];
}

export interface CompareOptions {
  readonly quick?: boolean;
  /** Repetitions (default 5, quick 3). */
  readonly reps?: number;
  /** Only these workload ids (default: all). */
  readonly only?: readonly string[];
  /** Only these systems (the loop always runs). */
  readonly systems?: readonly SystemId[];
  /** A new child process for every job. */
  readonly fresh?: boolean;
  /** Workers of every pool. @default 2 */
  readonly workers?: number;
  readonly log?: (line: string) => void;
}

export interface Measurement {
  readonly rep: number;
  readonly workload: string;
  readonly system: SystemId;
  readonly result: JobResult;
  /** The loop's time of the same repetition (Python: its own loop). */
  readonly loopMs?: number;
  /** Why the results are not the loop's, if they are not. */
  readonly wrong?: string;
}

export interface Comparison {
  readonly quick: boolean;
  readonly reps: number;
  readonly workers: number;
  readonly fresh: boolean;
  readonly specs: readonly WorkloadSpec[];
  readonly systems: readonly SystemDef[];
  readonly measurements: readonly Measurement[];
  readonly python: PythonStatus;
  readonly calibration: Calibration;
  readonly machine: { readonly cpus: number; readonly model: string; readonly platform: string; readonly node: string };
  readonly loadBefore: number;
  readonly loadAfter: number;
  /** Share of the CPUs' time the host took for other guests during the run (see host.ts), from 0 to 1. */
  readonly stolen: number | undefined;
  readonly durationMs: number;
}

/** Runs the comparison. */
export async function runComparison(options: CompareOptions = {}): Promise<Comparison> {
  const started = performance.now();
  const quick = options.quick ?? false;
  const reps = options.reps ?? (quick ? 3 : 5);
  const workers = options.workers ?? 2;
  const fresh = options.fresh ?? false;
  const log = options.log ?? console.log;
  const loadBefore = loadavg()[0] ?? 0;
  const cpuBefore = cpuTimes();

  const python = findPython();
  log(python.found ? `Python joblib ${python.joblib} (Python ${python.python}, ${python.command})` : `Python joblib: skipped (${python.reason})`);
  const systems = systemDefs(python.found ? `Python joblib ${python.joblib} (loky, auto)` : 'Python joblib').filter(
    (s) =>
      (s.id === 'loop' || !options.systems || options.systems.includes(s.id)) && (s.runtime !== 'python' || python.found),
  );
  const specs = workloadSpecs(quick).filter((s) => !options.only || options.only.includes(s.id));
  log('Calibrating the task bodies...');
  const calibration = calibrate();
  log(`  spin: ${calibration.spinRoundsPerUs.toFixed(0)} rounds per µs; sliceSum: ${calibration.sliceNsPerElement.toFixed(2)} ns per element`);

  const timeoutMs = quick ? 120_000 : 300_000;
  const measurements: Measurement[] = [];
  const jobOf = (spec: WorkloadSpec, system: SystemDef): Job => ({
    workload: spec,
    calibration,
    workers,
    quick,
    ...(system.variant ? { variant: system.variant } : {}),
  });

  for (let rep = 0; rep < reps; rep++) {
    // One process per system for the repetition, all started (and ready) before the first job:
    // starting them while a job runs would take CPU from it.
    const children = new Map<SystemId, Child>();
    const repSpecs = specs.filter((s) => s.kind !== 'memory');
    if (!fresh) {
      const needed = systems.filter((system) => repSpecs.some((spec) => !freshProcess(spec, quick) && system.runs(spec)));
      await startAll(needed, children, python);
    }
    try {
      for (const spec of repSpecs) {
        const order = rotate(systems.filter((s) => s.runs(spec)), rep);
        const cpuAtStart = cpuTimes();
        const own = fresh || freshProcess(spec, quick) ? new Map<SystemId, Child>() : children;
        if (own !== children) await startAll(order, own, python);
        const results = new Map<SystemId, JobResult>();
        try {
          for (const system of order) {
            let child = own.get(system.id);
            if (!child) {
              // Replaces a process that died during an earlier job.
              child = new Child(system, python);
              own.set(system.id, child);
            }
            results.set(system.id, await child.request(jobOf(spec, system), timeoutMs));
            if (own !== children || !child.alive) {
              own.delete(system.id);
              await child.close();
            }
          }
        } finally {
          if (own !== children) await Promise.all([...own.values()].map((child) => child.close()));
        }
        const added = judge(rep, spec, results);
        measurements.push(...added);
        const stolen = stolenShare(cpuAtStart, cpuTimes());
        const stolenNote = stolen === undefined ? '' : `, ${(100 * stolen).toFixed(0)}% stolen`;
        log(`${progressLine(rep, reps, spec, added, systems)} [${((performance.now() - started) / 1000).toFixed(0)} s${stolenNote}]`);
      }
    } finally {
      await Promise.all([...children.values()].map((child) => child.close()));
    }
  }

  // The cache and hash figures: once, in fresh processes.
  for (const spec of specs.filter((s) => s.kind === 'memory')) {
    for (const system of systems.filter((s) => s.runs(spec))) {
      log(`${spec.title}: ${system.label}...`);
      const child = new Child(system, python);
      const result = await child.request(jobOf(spec, system), timeoutMs);
      await child.close();
      if (!result.ok) log(`  failed: ${result.error}`);
      measurements.push({ rep: 0, workload: spec.id, system: system.id, result });
    }
  }

  return {
    quick,
    reps,
    workers,
    fresh,
    specs,
    systems,
    measurements,
    python,
    calibration,
    machine: {
      cpus: availableParallelism(),
      model: cpus()[0]?.model.trim() ?? 'unknown CPU',
      platform: `${process.platform}/${process.arch}`,
      node: process.version,
    },
    loadBefore,
    loadAfter: loadavg()[0] ?? 0,
    stolen: stolenShare(cpuBefore, cpuTimes()),
    durationMs: performance.now() - started,
  };
}

/**
 * Whether a workload runs in a process of its own for each system: the one whose peak memory is
 * reported (memory that earlier jobs freed would hide part of it), except in quick mode, where it
 * runs second in the repetition's process, after the cold start only (which saves a few seconds).
 */
function freshProcess(spec: WorkloadSpec, quick: boolean): boolean {
  return spec.kind === 'shared' && !quick;
}

function rotate<T>(items: readonly T[], by: number): T[] {
  if (items.length === 0) return [];
  const shift = by % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/** The measurements of one workload in one repetition, each checked against the loop's results. */
function judge(rep: number, spec: WorkloadSpec, results: ReadonlyMap<SystemId, JobResult>): Measurement[] {
  const loop = results.get('loop');
  const loopOk = loop?.ok === true && loop.ms !== undefined;
  // Cold start has no loop: its 4 trivial tasks return their argument.
  const expected = spec.kind === 'cold' ? checksum([1, 2, 3, 4]) : loopOk ? loop.check : undefined;
  const expectedCount = spec.kind === 'cold' ? 4 : spec.tasks;
  const out: Measurement[] = [];
  for (const [system, result] of results) {
    let wrong: string | undefined;
    if (result.ok) {
      if (result.results !== expectedCount) wrong = `${result.results} results for ${expectedCount} tasks`;
      else if (system === 'joblib-py') {
        if (result.matchesLoop !== true) wrong = 'results differ from its own loop';
      } else if (expected !== undefined && result.check !== expected) {
        wrong = `checksum ${result.check} where the loop gives ${expected}`;
      }
    }
    const loopMs = system === 'joblib-py' ? result.loopMs : loopOk ? loop.ms : undefined;
    out.push({ rep, workload: spec.id, system, result, ...(loopMs === undefined ? {} : { loopMs }), ...(wrong ? { wrong } : {}) });
  }
  return out;
}

function progressLine(rep: number, reps: number, spec: WorkloadSpec, measurements: readonly Measurement[], systems: readonly SystemDef[]): string {
  const parts = systems.flatMap((system) => {
    const m = measurements.find((x) => x.system === system.id);
    if (!m) return [];
    const name = system.id;
    if (!m.result.ok) return [`${name} FAILED`];
    if (m.wrong) return [`${name} WRONG (${m.wrong})`];
    const ms = m.result.ms ?? 0;
    if (spec.kind === 'cold') return [`${name} ${formatMs(ms)}`];
    if (system.id === 'loop') return [`loop ${formatMs(ms)}`];
    const ratio = m.loopMs !== undefined ? ` ${(m.loopMs / ms).toFixed(2)}x` : '';
    return [`${name} ${formatMs(ms)}${ratio}`];
  });
  return `[${rep + 1}/${reps}] ${spec.id}: ${parts.join(' | ')}`;
}

/** What the repetitions of one workload on one system gave. */
export interface CellStats {
  /** Wall times of the valid runs. */
  readonly time?: Spread;
  /** Loop time / system time, per repetition. */
  readonly ratio?: Spread;
  /** The valid runs' results. */
  readonly results: readonly JobResult[];
  /** Failed runs (errors) and runs whose results were wrong. */
  readonly problems: readonly string[];
}

export function cellStats(comparison: Comparison, workload: string, system: SystemId): CellStats {
  const runs = comparison.measurements.filter((m) => m.workload === workload && m.system === system);
  const valid = runs.filter((m) => m.result.ok && !m.wrong && m.result.ms !== undefined);
  const problems = runs.flatMap((m) =>
    !m.result.ok ? [`run ${m.rep + 1} failed: ${firstLine(m.result.error)}`] : m.wrong ? [`run ${m.rep + 1}: wrong results (${m.wrong})`] : [],
  );
  const time = spread(valid.map((m) => m.result.ms as number));
  const ratio = spread(valid.filter((m) => m.loopMs !== undefined).map((m) => (m.loopMs as number) / (m.result.ms as number)));
  return { ...(time ? { time } : {}), ...(ratio ? { ratio } : {}), results: valid.map((m) => m.result), problems };
}

function firstLine(text: string | undefined): string {
  return (text ?? 'unknown error').split('\n')[0] ?? '';
}
