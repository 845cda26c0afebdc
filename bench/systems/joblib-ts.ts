/**
 * joblib-ts: `Parallel({ nJobs, batchSize })(argsList.map((args) => delayed(fn)(...args)))`, the
 * function travelling to the workers as source. Variant `'auto'` (the default batching, whose batch
 * sizes onProgress reports) or `'1'` (batchSize 1). Plain Float64Arrays are passed as they are
 * (W5: the caller keeps them); W6 passes the same array to every task. Variant `'shared'` ('auto'
 * batching, W5 only) keeps the caller's arrays on SharedArrayBuffers, made before the timed call.
 * Also runs bench/memory.ts.
 */
import { Parallel, delayed } from 'joblib-ts';
import { memoryBench } from '../memory.js';
import * as tasks from '../tasks.mjs';
import { serve } from './harness.js';

type AnyTask = (...args: unknown[]) => unknown;

await serve({
  open(task, job) {
    const fn = tasks[task] as AnyTask;
    const auto = job.variant !== '1';
    const shared = job.variant === 'shared';
    let maxBatch = 0;
    let finalBatch = 0;
    const parallel = Parallel({
      nJobs: job.workers,
      batchSize: auto ? 'auto' : 1,
      ...(auto
        ? {
            onProgress: (event: { batchSize: number }) => {
              maxBatch = Math.max(maxBatch, event.batchSize);
              finalBatch = event.batchSize;
            },
          }
        : {}),
    });
    return {
      run: (argsList) => {
        maxBatch = 0;
        finalBatch = 0;
        return parallel(argsList.map((args) => delayed(fn)(...args)));
      },
      ...(shared ? { prepare: (argsList: unknown[][]) => argsList.map((args) => args.map(inSharedMemory)) } : {}),
      close: () => parallel.close(),
      stats: (): Record<string, number> => (auto ? { maxBatch, finalBatch } : {}),
    };
  },
  memory: (quick) => memoryBench({ quick, sweepTasks: quick ? 2_000 : 10_000 }),
});

/** A Float64Array's copy on a SharedArrayBuffer (anything else as it is). */
function inSharedMemory(value: unknown): unknown {
  if (!(value instanceof Float64Array) || value.buffer instanceof SharedArrayBuffer) return value;
  const copy = new Float64Array(new SharedArrayBuffer(value.byteLength));
  copy.set(value);
  return copy;
}
