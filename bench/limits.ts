/**
 * What no dispatcher avoids on W1, W5 and W6, measured by `npm run bench` in its own process after
 * the comparison (the host may be faster or slower by then than during it):
 *
 * - W1: making the 100,000 task descriptors, which the comparison times as part of every call. The
 *   tasks cannot start before the list exists, so with 2 workers a call takes at least that time
 *   plus half the loop's.
 * - W5: a copy of each caller's array. The caller keeps its arrays (none is detached), and a worker
 *   can only read memory it was given, so the calling thread copies every array once at least:
 *   into new memory, as structured clone and a transfer of a copy do, or at best into memory used
 *   before. Copies and tasks can overlap, but they share the 2 CPUs: a call takes at least the
 *   copies alone, and half of copies plus tasks.
 * - W6: one copy of the 100 MiB array into new shared memory, before its tasks can read it; then
 *   the tasks themselves. The copy is timed twice: by the calling thread alone, and as joblib-ts
 *   makes it, with 2 idle threads touching the far end of the new buffer meanwhile
 *   (src/shared-copy.ts). The tasks do not run twice as fast on 2 CPUs, even with nothing to send
 *   (both read memory at once): 2 bare worker threads run them on an array shared in advance, each
 *   taking the next task index as it finishes one, against the loop over the same array, alternating;
 *   the bound divides the comparison's loop by that speedup instead of 2.
 *
 * The loop's times come from the comparison (the same run). Each figure is a median of 5.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { delayed } from 'joblib-ts';
import { HELPED_COPY_BYTES } from '../dist/batch-codec.js';
import { copyIntoShared, copyStates } from '../dist/shared-copy.js';
import { formatMs, formatSpeedup } from '../examples/timing.js';
import { cellStats, type Comparison } from './compare.js';
import { displayOrder } from './report.js';
import { median, timeMedian } from './stats.js';
import { buildArgs, filledArray, type WorkloadSpec } from './workloads.js';
import { sliceSum, spin } from './tasks.mjs';

const REPS = 5;

interface Limit {
  readonly spec: WorkloadSpec;
  readonly loopMs: number;
  /** What the calling thread must do and its time (none for the tasks' own limit), and the best call time it leaves. */
  readonly shares: readonly { readonly what: string; readonly ms: number | undefined; readonly bestMs: number }[];
  /** joblib-ts 'auto' in the comparison: its median time, and its median speedup (as the other tables give it). */
  readonly measuredMs: number | undefined;
  readonly measuredSpeedup: number | undefined;
}

/** W1: building the task list, on arguments just made, as the comparison's harness does. */
function buildTasksMs(spec: WorkloadSpec, c: Comparison): number {
  return timeMedian(REPS, () => {
    const args = buildArgs(spec, c.calibration, false) as [number, number][];
    return () => args.map(([rounds, seed]) => delayed(spin)(rounds, seed));
  });
}

/** W5: copying every array into new memory, and into a few buffers used over and over. */
function copyArraysMs(spec: WorkloadSpec, c: Comparison): { fresh: number; reused: number } {
  const arrays = () => buildArgs(spec, c.calibration, false).map(([values]) => values as Float64Array);
  const fresh = timeMedian(REPS, () => {
    const list = arrays();
    return () => list.map((values) => values.slice());
  });
  const reused = timeMedian(REPS, () => {
    const list = arrays();
    const ring = Array.from({ length: 4 }, () => new Float64Array((list[0] as Float64Array).length).fill(1));
    return () => list.forEach((values, i) => (ring[i % ring.length] as Float64Array).set(values));
  });
  return { fresh, reused };
}

/** W6: the array copied into new shared memory (made before the clock starts, as in the helped copy). */
function shareArrayMs(spec: WorkloadSpec): number {
  const values = new Uint8Array(filledArray((spec.arrayBytes as number) / 8, 0).buffer);
  return timeMedian(REPS, () => {
    const target = new Uint8Array(new SharedArrayBuffer(values.byteLength));
    return () => target.set(values);
  });
}

/** The next message of `thread`; rejects if it fails or exits first, so that a broken thread cannot hang the bench. */
async function nextMessage(thread: Worker): Promise<unknown> {
  const done = new AbortController(); // takes the listeners off once either happens
  const exited = once(thread, 'exit', { signal: done.signal }).then(([code]) => {
    throw new Error(`a bench thread exited (code ${String(code)}) before answering`);
  });
  exited.catch(() => undefined);
  try {
    const [message] = (await Promise.race([once(thread, 'message', { signal: done.signal }), exited])) as unknown[];
    return message;
  } finally {
    done.abort();
  }
}

/** Runs `use` with 2 threads that `start` makes, and ends them after. */
async function withTwoThreads<T>(start: () => Worker, use: (threads: readonly Worker[]) => Promise<T>): Promise<T> {
  const threads = [start(), start()];
  try {
    return await use(threads);
  } finally {
    await Promise.all(threads.map((thread) => thread.terminate()));
  }
}

/** W6: the same copy, with 2 threads touching the new buffer's pages from its far end meanwhile. */
function shareArrayHelpedMs(spec: WorkloadSpec): Promise<number> {
  const source = `
    const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(new URL('../dist/shared-copy.js', import.meta.url).href)}).then(({ touchShared }) => {
      parentPort.on('message', ({ buffer, states }) => { touchShared(buffer, states); parentPort.postMessage('done'); });
      parentPort.postMessage('ready');
    });`;
  return withTwoThreads(() => new Worker(source, { eval: true }), async (helpers) => {
    const answers = () => Promise.all(helpers.map(nextMessage));
    await answers(); // ready: idle when the copy starts, as joblib-ts's helpers are
    const values = new Uint8Array(filledArray((spec.arrayBytes as number) / 8, 0).buffer);
    const times: number[] = [];
    for (let run = 0; run < REPS; run++) {
      const buffer = new SharedArrayBuffer(values.byteLength);
      const states = copyStates(values.byteLength);
      const done = answers();
      const started = performance.now();
      for (const helper of helpers) helper.postMessage({ buffer, states });
      copyIntoShared(values, buffer, states);
      times.push(performance.now() - started);
      await done;
    }
    return median(times);
  });
}

/**
 * W6's tasks alone: the loop over them against 2 bare worker threads (the comparison's "one message
 * per worker" worker) running them on an array already in shared memory, each thread taking the
 * next task as it answers the last; alternating, the median of the speedups.
 */
function sharedTasksSpeedup(spec: WorkloadSpec, c: Comparison): Promise<number> {
  const [values, , count, passes] = buildArgs(spec, c.calibration, false)[0] as [Float64Array, number, number, number];
  const shared = new Float64Array(new SharedArrayBuffer(values.byteLength));
  shared.set(values);
  const indices = Array.from({ length: count }, (_, i) => i);
  const worker = new URL('./systems/worker-threads-worker.mjs', import.meta.url);
  return withTwoThreads(() => new Worker(worker), async (threads) => {
    /** The sum of the tasks' results; a view of shared memory travels without its array being copied. */
    const runTasks = async (list: readonly number[]): Promise<number> => {
      let next = 0;
      let total = 0;
      await Promise.all(
        threads.map(async (thread) => {
          while (next < list.length) {
            const answer = nextMessage(thread);
            thread.postMessage({ task: 'sliceSum', argsList: [[shared, list[next++], count, passes]] });
            const [result] = (await answer) as number[]; // awaited before `total` is read: the two threads' sums interleave
            total += result as number;
          }
        }),
      );
      return total;
    };
    await runTasks(indices.slice(0, 4)); // compiles sliceSum in both threads
    const speedups: number[] = [];
    for (let run = 0; run < REPS; run++) {
      let started = performance.now();
      const expected = indices.reduce((sum, i) => sum + sliceSum(shared, i, count, passes), 0);
      const loopMs = performance.now() - started;
      started = performance.now();
      const total = await runTasks(indices);
      const parallelMs = performance.now() - started;
      if (total !== expected) throw new Error(`W6 tasks on bare worker threads: sum ${total}, the loop's ${expected}`);
      speedups.push(loopMs / parallelMs);
    }
    return median(speedups);
  });
}

export async function measureLimits(c: Comparison): Promise<Limit[]> {
  const limits: Limit[] = [];
  for (const spec of displayOrder(c.specs)) {
    const loopMs = cellStats(c, spec.id, 'loop').time?.median;
    if (loopMs === undefined) continue;
    const auto = cellStats(c, spec.id, 'joblib-ts-auto');
    const measured = { measuredMs: auto.time?.median, measuredSpeedup: auto.ratio?.median };
    const half = loopMs / 2;
    if (spec.id === 'W1') {
      const ms = buildTasksMs(spec, c);
      limits.push({ spec, loopMs, ...measured, shares: [{ what: 'making the task descriptors', ms, bestMs: ms + half }] });
    } else if (spec.kind === 'arrays') {
      const { fresh, reused } = copyArraysMs(spec, c);
      const best = (copy: number) => Math.max(copy, (copy + loopMs) / 2);
      limits.push({
        spec,
        loopMs,
        ...measured,
        shares: [
          { what: 'copying each array into new memory', ms: fresh, bestMs: best(fresh) },
          { what: 'copying each array into memory used before', ms: reused, bestMs: best(reused) },
        ],
      });
    } else if (spec.kind === 'shared') {
      const ms = shareArrayMs(spec);
      // joblib-ts asks for help only with copies this large (quick mode's array is smaller).
      const helped = (spec.arrayBytes as number) >= HELPED_COPY_BYTES ? await shareArrayHelpedMs(spec) : undefined;
      const tasksSpeedup = await sharedTasksSpeedup(spec, c);
      const tasksMs = loopMs / tasksSpeedup;
      limits.push({
        spec,
        loopMs,
        ...measured,
        shares: [
          { what: 'copying the array into new shared memory', ms, bestMs: ms + tasksMs },
          ...(helped === undefined ? [] : [{ what: 'the same, 2 idle threads touching its pages from the far end', ms: helped, bestMs: helped + tasksMs }]),
          {
            what: 'none: the tasks alone, on 2 bare worker threads and the array shared in advance',
            ms: undefined,
            bestMs: tasksMs,
          },
        ],
      });
    }
  }
  return limits;
}

/** The heading of this section of bench/RESULTS.md. */
export const LIMITS_TITLE = '# What bounds W1, W5 and W6';

/** The section of bench/RESULTS.md. */
export function limitsMarkdown(limits: readonly Limit[]): string {
  const lines = [
    LIMITS_TITLE,
    '',
    `Written by \`npm run bench\` (bench/limits.ts): the work the calling thread cannot hand to a worker, timed after the comparison (medians of ${REPS}), and the best speedup it leaves with 2 workers on 2 CPUs. W1: the tasks wait for it, so a call takes at least this time plus half the loop. W6: the tasks wait for the copy, so a call takes at least the copy plus the tasks' time on 2 threads, measured on bare worker threads (last W6 row). W5: it overlaps the tasks, but shares the CPUs with them, so a call takes at least max(copies, (copies + loop) / 2). The loop and joblib-ts times are the comparison's medians, and the speedup in the last column is the median of the runs' speedups, as in the tables above.`,
    '',
    "| Workload | Loop | Calling thread's share | Its time | Best possible | Best speedup | Target | joblib-ts 'auto' |",
    '|---|--:|---|--:|--:|--:|--:|--:|',
  ];
  for (const { spec, loopMs, shares, measuredMs, measuredSpeedup } of limits) {
    for (const share of shares) {
      lines.push(
        `| ${spec.id} | ${formatMs(loopMs)} | ${share.what} | ${share.ms === undefined ? '—' : formatMs(share.ms)} | ${formatMs(share.bestMs)} | ${formatSpeedup(loopMs / share.bestMs)} | ${
          spec.target !== undefined ? `>= ${spec.target}x` : '—'
        } | ${measuredMs !== undefined ? `${formatMs(measuredMs)}${measuredSpeedup !== undefined ? ` (${formatSpeedup(measuredSpeedup)})` : ''}` : '—'} |`,
      );
    }
  }
  lines.push('');
  return lines.join('\n');
}
