/**
 * The floor of messaging costs, on bare node:worker_threads: the tasks split into `workers`
 * contiguous parts, one message per worker (worker-threads-worker.mjs), one reply each.
 */
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { serve } from './harness.js';

const WORKER = new URL('./worker-threads-worker.mjs', import.meta.url);

await serve({
  async open(task, job) {
    const workers = Array.from({ length: job.workers }, () => new Worker(WORKER, { execArgv: [] }));
    await Promise.all(workers.map((worker) => once(worker, 'online')));
    return {
      run: async (argsList) => {
        const size = Math.ceil(argsList.length / workers.length);
        const parts = await Promise.all(
          workers.map(async (worker, w) => {
            const reply = once(worker, 'message');
            worker.postMessage({ task, argsList: argsList.slice(w * size, (w + 1) * size) });
            const [results] = (await reply) as [unknown[]];
            return results;
          }),
        );
        return parts.flat();
      },
      close: async () => {
        await Promise.all(workers.map((worker) => worker.terminate()));
      },
    };
  },
});
