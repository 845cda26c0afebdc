/**
 * piscina: one `pool.run(args)` per task on a pool of `workers` threads running
 * piscina-worker.mjs. Variant `'copy'` (the default: arguments are cloned) or `'move'` (W5: each
 * task's buffer is moved to the worker, in the task's transferList, detaching it from the caller).
 */
import { Piscina } from 'piscina';
import { serve } from './harness.js';

const WORKER = new URL('./piscina-worker.mjs', import.meta.url).href;

await serve({
  open(task, job) {
    const pool = new Piscina({
      filename: WORKER,
      minThreads: job.workers,
      maxThreads: job.workers,
      workerData: { task },
      execArgv: [], // the workers run plain JavaScript: no tsx
    });
    const move = job.variant === 'move';
    return {
      run: (argsList) =>
        Promise.all(
          argsList.map((args) =>
            move
              ? pool.run(args, { transferList: args.flatMap((arg) => (ArrayBuffer.isView(arg) ? [arg.buffer as ArrayBuffer] : [])) })
              : pool.run(args),
          ),
        ),
      close: () => pool.destroy(),
    };
  },
});
