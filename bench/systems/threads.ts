/**
 * threads.js's own Pool, chunked: the tasks go 100 per `pool.queue()` to `workers` workers running
 * threads-worker.mjs, each chunk answered with its results.
 */
import { Pool, spawn, Worker } from 'threads';
import { serve } from './harness.js';

// Importing threads installs SIGINT/SIGTERM handlers that exit with status 0; keep the default ones.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  for (const listener of process.listeners(signal)) {
    if (String(listener).includes('terminateWorkersAndMaster')) process.off(signal, listener);
  }
}

/** threads.js resolves a worker's path against the calling file's folder, even an absolute one. */
const WORKER = './threads-worker.mjs';
/** Tasks per queue(). */
const CHUNK = 100;

interface ChunkRunner {
  runChunk(task: string, argsList: readonly (readonly unknown[])[]): Promise<unknown[]>;
}

await serve({
  open(task, job) {
    // execArgv: the workers run plain JavaScript, without tsx.
    const pool = Pool(() => spawn<ChunkRunner>(new Worker(WORKER, { execArgv: [] } as never)), job.workers);
    return {
      run: async (argsList) => {
        const chunks: PromiseLike<unknown[]>[] = [];
        for (let start = 0; start < argsList.length; start += CHUNK) {
          const chunk = argsList.slice(start, start + CHUNK);
          chunks.push(pool.queue((worker) => worker.runChunk(task, chunk)));
        }
        return (await Promise.all(chunks)).flat();
      },
      close: () => pool.terminate(),
    };
  },
});
