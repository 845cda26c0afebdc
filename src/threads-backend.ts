/**
 * The `'threads'` backend: batches run on worker threads leased from the shared pool. Each worker
 * has one batch running and, without a timeout, one more waiting in its message queue, so that it
 * never idles while the calling thread handles the batch that just ended; a worker with nothing to do
 * always gets the next batch first (dynamic load balancing).
 */
import type { Task } from './delayed.js';
import { shipmentFor, type FnRef } from './fn-ref.js';
import { withTaskIndex, type Backend, type BatchEnd, type RunControl } from './backend.js';
import { Outcomes, type Batch } from './batch.js';
import { acquireWorker, releaseWorker, settleSpawn, type PoolWorker, type Spawn, type WorkerConfig } from './pool.js';
import type { RunContext } from './batch-run.js';
import { SharedCopies, fitCopiedBytes } from './batch-codec.js';

/**
 * Batches a worker holds at once. Two: on 100,000 tasks of 1 µs (bench W1), a worker holding one batch
 * waited for the calling thread after every batch, and the call ran at 0.8x the loop instead of
 * above 1x. With a timeout, one: a task's timer starts when its batch is sent.
 */
const BATCHES_PER_WORKER = 2;

/**
 * Shared copies of this many bytes or more in a call make its workers collect their garbage as the
 * call ends (about 5 ms of a worker's time), so that the copies are freed. Smaller ones wait for the
 * workers' own collections.
 */
const COLLECT_AFTER_SHARED_BYTES = 16 << 20;

export class ThreadsBackend implements Backend {
  readonly slots: number;
  private readonly depth: number;
  private readonly refs = new Map<number, FnRef>();
  private readonly context: RunContext;
  private readonly workers = new Set<PoolWorker>();
  private readonly starting = new Set<Promise<unknown>>();
  /** Batches waiting for one of `starting` (each counts on one of them). */
  private waitingForStart = 0;
  private interrupted = false;
  private released = false;
  /** Workers this call is starting (see Spawn in pool.ts). */
  private readonly spawns = new Set<Spawn>();
  private lastFn: unknown;
  private lastId = 0;

  constructor(
    private readonly nJobs: number,
    private readonly control: RunControl,
    private readonly config: WorkerConfig,
  ) {
    // A large array's shared copy is made as the first batch that needs it is sent: the call's idle
    // workers, that one included, help with it (see shared-copy.ts).
    const helpers = (buffer: SharedArrayBuffer, states: Int32Array) => {
      for (const worker of this.workers) if (worker.isAlive && worker.load === 0) worker.control({ joblibTsControl: 'touch-shared', buffer, states });
    };
    this.context = { refs: this.refs, control, sharedCopies: new SharedCopies(helpers) };
    this.depth = control.timeoutMs === undefined ? BATCHES_PER_WORKER : 1;
    this.slots = nJobs * this.depth;
  }

  prepare(task: Task): number {
    // Most calls use one function for every task: skip the lookup when it repeats.
    if (task.fn === this.lastFn) return this.lastId;
    const { id, ref } = shipmentFor(task.fn);
    this.refs.set(id, ref);
    this.lastFn = task.fn;
    this.lastId = id;
    return id;
  }

  /**
   * Starts the workers the call will need before its tasks are checked and shipped (which loads a
   * parser on the first call): the workers boot meanwhile, on the other CPUs. (bench cold start.)
   */
  prestart(expectedBatches: number): void {
    const wanted = Math.min(this.nJobs, expectedBatches);
    while (this.liveWorkers() + this.starting.size < wanted) {
      // A worker that fails to start fails the first batch that asks for it again (withWorker).
      this.startWorker().catch(() => undefined);
    }
  }

  /** Cuts batches whose typed arrays would make one message copy too much (see MAX_COPIED_BYTES). */
  fit(count: number, taskAt: (i: number) => Task): number {
    return fitCopiedBytes(count, (i) => taskAt(i).args, this.context.sharedCopies);
  }

  async runBatch(batch: Batch, report: (outcomes: Outcomes) => void): Promise<BatchEnd> {
    let chosen: { worker: PoolWorker; end: Promise<BatchEnd> } | undefined;
    try {
      chosen = await this.withWorker((worker) =>
        this.interrupted ? undefined : { worker, end: worker.run(batch, this.context, report) },
      );
    } catch (error) {
      const first = batch.indices[0] as number;
      report(Outcomes.of({ index: first, ok: false, error: withTaskIndex(error, first) }));
      return { durationMs: 0, ran: 1, unrun: batch.slice(1) };
    }
    if (!chosen) return { durationMs: 0, ran: 0, unrun: batch };
    const end = await chosen.end;
    if (!chosen.worker.isAlive) this.workers.delete(chosen.worker);
    return end;
  }

  /**
   * Calls `use` with an idle worker; else with a new one while fewer than nJobs, unless a worker is
   * already starting that no batch waits for (prestarted ones: a call of one batch starts one);
   * else with the least loaded one with room; else when a start ends. `use` runs in the same
   * synchronous step as the choice, so that two batches waiting for workers never both count on the
   * same free place.
   */
  private async withWorker<T>(use: (worker: PoolWorker) => T): Promise<T> {
    for (;;) {
      let best: PoolWorker | undefined;
      for (const worker of this.workers) {
        if (!worker.isAlive || worker.load >= this.depth) continue;
        if (!best || worker.load < best.load) best = worker;
      }
      if (best?.load === 0) return use(best);
      const startsNobodyWaitsFor = this.starting.size - this.waitingForStart;
      if (startsNobodyWaitsFor <= 0 && this.liveWorkers() + this.starting.size < this.nJobs) {
        await this.waitForStart(this.startWorker()); // joins this.workers: the next turn of the loop chooses again
        continue;
      }
      if (best) return use(best);
      if (this.starting.size === 0) throw new Error('Internal error: no worker has room for a batch');
      await this.waitForStart(Promise.race(this.starting));
    }
  }

  /** Counts the batch as waiting for a worker to start until `start` settles. */
  private async waitForStart(start: Promise<unknown>): Promise<void> {
    this.waitingForStart++;
    try {
      await start;
    } finally {
      this.waitingForStart--;
    }
  }

  private async startWorker(): Promise<void> {
    let spawn: Spawn | undefined;
    const started = acquireWorker(this.config, (s) => {
      spawn = s;
      this.spawns.add(s);
    });
    const settled = started.then(
      () => undefined,
      () => undefined,
    );
    this.starting.add(settled);
    let worker: PoolWorker | undefined;
    try {
      worker = await started;
    } finally {
      this.starting.delete(settled);
      if (spawn) this.spawns.delete(spawn);
      // The call may have ended while the worker started (see prestart): the pool takes it.
      const taken = spawn !== undefined && settleSpawn(spawn, worker);
      if (!taken && worker) {
        if (this.released) releaseWorker(worker);
        else this.workers.add(worker);
      }
    }
  }

  private liveWorkers(): number {
    let count = 0;
    for (const worker of this.workers) if (worker.isAlive) count++;
    return count;
  }

  interrupt(): void {
    this.interrupted = true;
    for (const worker of this.workers) if (worker.isBusy) worker.kill();
  }

  release(): void {
    this.released = true;
    for (const spawn of this.spawns) spawn.orphaned = true;
    // The workers that saw this call's shared copies hold them as garbage, which an idle worker may
    // not collect for a long time: each call with a new 100 MiB array kept 100 MiB more alive.
    const collect = this.context.sharedCopies.bytesCopied >= COLLECT_AFTER_SHARED_BYTES;
    for (const worker of this.workers) {
      if (collect && worker.isAlive) worker.control({ joblibTsControl: 'collect-garbage' });
      releaseWorker(worker);
    }
    this.workers.clear();
  }
}
