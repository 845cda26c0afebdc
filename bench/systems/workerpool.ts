/** workerpool: one `pool.exec(task, args)` per task on a pool of `workers` worker threads running workerpool-worker.mjs. */
import workerpool from 'workerpool';
import { fileURLToPath } from 'node:url';
import { serve } from './harness.js';

const WORKER = fileURLToPath(new URL('./workerpool-worker.mjs', import.meta.url));

await serve({
  open(task, job) {
    const pool = workerpool.pool(WORKER, {
      minWorkers: job.workers,
      maxWorkers: job.workers,
      workerType: 'thread',
      workerThreadOpts: { execArgv: [] }, // the workers run plain JavaScript: no tsx
    });
    return {
      run: (argsList) => Promise.all(argsList.map((args) => pool.exec(task, [...args]))),
      close: async () => {
        await pool.terminate();
      },
    };
  },
});
