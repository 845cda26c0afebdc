/**
 * The `'threads'` backend: batches run on worker threads leased from the shared pool, at most one
 * batch per worker at a time, so a free worker always takes the next batch (dynamic load balancing).
 */
import type { Task } from './delayed.js';
import { shipmentFor, type FnRef } from './fn-ref.js';
import { withTaskIndex, type Backend, type BatchEnd, type Outcome, type PendingTask, type RunControl } from './backend.js';
import { acquireWorker, releaseWorker, type PoolWorker, type WorkerConfig } from './pool.js';

export class ThreadsBackend implements Backend {
  private readonly refs = new Map<number, FnRef>();
  private readonly leased = new Set<PoolWorker>();
  private readonly free: PoolWorker[] = [];
  private interrupted = false;

  constructor(
    readonly slots: number,
    private readonly control: RunControl,
    private readonly config: WorkerConfig,
  ) {}

  prepare(task: Task): number {
    const { id, ref } = shipmentFor(task.fn);
    this.refs.set(id, ref);
    return id;
  }

  async runBatch(batch: readonly PendingTask[], report: (outcomes: Outcome[]) => void): Promise<BatchEnd> {
    let worker: PoolWorker | undefined = this.free.pop();
    if (!worker) {
      try {
        worker = await acquireWorker(this.config);
      } catch (error) {
        const first = batch[0] as PendingTask;
        report([{ index: first.index, ok: false, error: withTaskIndex(error, first.index) }]);
        return { durationMs: 0, ran: 1, unrun: batch.slice(1) };
      }
      this.leased.add(worker);
    }
    if (this.interrupted) {
      this.free.push(worker);
      return { durationMs: 0, ran: 0, unrun: batch };
    }
    const end = await worker.run(batch, this.refs, this.control, report);
    if (worker.isAlive) this.free.push(worker);
    else this.leased.delete(worker);
    return end;
  }

  interrupt(): void {
    this.interrupted = true;
    for (const worker of this.leased) if (worker.isBusy) worker.kill();
  }

  release(): void {
    for (const worker of this.leased) releaseWorker(worker);
    this.leased.clear();
    this.free.length = 0;
  }
}
