/**
 * Worker threads and the process-wide pool of idle ones. A call leases workers, runs batches on
 * them, and gives them back; the next call with the same settings starts none. A worker keeps the
 * process alive only while it runs a batch, so a script that calls Parallel and returns exits.
 */
import { Worker, type ResourceLimits, type WorkerOptions } from 'node:worker_threads';
import { loadThreads } from './threads-master.js';
import { transferables } from './batch-codec.js';
import { BatchRun, type RunContext } from './batch-run.js';
import { WorkerCrashedError } from './errors.js';
import { typeScriptLoaderUrl, workerExecArgv } from './tsx-loader.js';
import {
  ENDED_COUNTERS,
  cellIndex,
  newSharedCells,
  type BatchRequest,
  type ChunkReplies,
  type PoolWorkerData,
  type WorkerControl,
} from './protocol.js';
import type { BatchEnd } from './backend.js';
import type { Batch, Outcomes } from './batch.js';

/** Settings that make workers interchangeable: workers are pooled per configuration. */
export interface WorkerConfig {
  /** V8 heap limits of each worker (`worker_threads` `resourceLimits`). */
  readonly resourceLimits?: ResourceLimits;
}

/** What the worker entry exposes (src/worker.ts). */
interface WorkerApi {
  runBatch(request: BatchRequest): ChunkReplies;
}

/**
 * The worker entry, src/worker.ts bundled by `npm run build` with threads.js's worker side into one
 * CommonJS file: a worker booted from it in ~31 ms, against ~38 ms from the ES modules tsc emits,
 * which load the ESM loader and one module after the other (bench cold start); bundling threads.js
 * too took the first call from about 60 to about 52 ms.
 */
const WORKER_URL = new URL('./worker.cjs', import.meta.url);
/** Without tsx's flags when there were any; undefined inherits the program's execArgv. */
let workerExecArgvOverride: string[] | undefined = ((filtered) =>
  filtered.length === process.execArgv.length ? undefined : filtered)(workerExecArgv());

/**
 * Starts a worker. Flags given explicitly are checked, and some that apply to the whole process
 * (V8 heap sizes, --expose-gc) are refused for a thread although inherited ones are not: those are
 * dropped, which changes nothing, since the process already runs with them.
 */
function newWorker(options: WorkerOptions): Worker {
  for (;;) {
    try {
      return new Worker(WORKER_URL, workerExecArgvOverride ? { ...options, execArgv: workerExecArgvOverride } : options);
    } catch (error) {
      const refused = refusedFlags(error);
      const kept = workerExecArgvOverride?.filter((flag) => !refused.includes(flag));
      if (!kept || refused.length === 0 || kept.length === workerExecArgvOverride?.length) throw error;
      workerExecArgvOverride = kept;
    }
  }
}

/** The flags an `ERR_WORKER_INVALID_EXEC_ARGV` error names ("...invalid execArgv flags: --a, --b"). */
function refusedFlags(error: unknown): string[] {
  if ((error as { code?: string })?.code !== 'ERR_WORKER_INVALID_EXEC_ARGV') return [];
  const list = /flags: (.*)$/.exec((error as Error).message)?.[1] ?? '';
  return list.split(/,\s*/).filter(Boolean);
}
const TYPESCRIPT_LOADER = typeScriptLoaderUrl();
/** How long a new worker may take to load before it counts as failed to start (ms); cold starts take ~30 ms. */
const START_TIMEOUT_MS = 60_000;

/** One worker thread, the batches sent to it (run one after the other, in order) and what it knows. */
export class PoolWorker {
  /** Function ids this worker has compiled or imported. */
  readonly knownFns = new Set<number>();
  /** Batches sent and not yet ended, in the order the worker runs them. */
  private readonly runs: BatchRun[] = [];
  private alive = true;
  private killedOnPurpose = false;
  /** Ends when it next becomes idle instead of joining the idle pool (see `Spawn`). */
  endWhenIdle = false;
  private lastError: unknown;

  constructor(
    private readonly native: Worker,
    private readonly api: WorkerApi,
    readonly configKey: string,
    /** threads.js's `Transfer`, loaded with the worker. */
    private readonly transfer: <T>(payload: T, buffers: readonly ArrayBuffer[]) => T,
    /** Shared with the worker: the counters of ended tasks of the batches it holds. */
    readonly endedCounters: Int32Array,
  ) {
    native.on('error', (error) => {
      this.lastError = error;
    });
    native.on('exit', (code) => {
      this.alive = false;
      let crashReported = false;
      for (const run of [...this.runs]) {
        if (run.workerDied(code, this.lastError, this.killedOnPurpose, crashReported)) crashReported = true;
      }
    });
  }

  /** Sends the worker a message it takes outside any batch. */
  control(message: WorkerControl): void {
    this.native.postMessage(message);
  }

  get isAlive(): boolean {
    return this.alive;
  }

  /** Batches sent to this worker and not yet ended. */
  get load(): number {
    return this.runs.length;
  }

  get isBusy(): boolean {
    return this.runs.length > 0;
  }

  /** Ends the worker now; its batches resolve with their unfinished tasks, reporting no failure. */
  kill(): void {
    this.killedOnPurpose = true;
    this.alive = false; // going away: it takes no more batches
    void this.native.terminate();
  }

  /** A counter of ended tasks that no batch this worker holds uses. */
  private freeCounter(): number {
    for (let slot = 0; slot < ENDED_COUNTERS; slot++) if (!this.runs.some((run) => run.endedSlot === slot)) return slot;
    throw new Error(`Internal error: a worker holds ${this.runs.length} batches, more than ${ENDED_COUNTERS}`);
  }

  /** Sends one batch; it runs after those already sent. Resolves when it ends, whatever the way. */
  run(batch: Batch, context: RunContext, report: (outcomes: Outcomes) => void): Promise<BatchEnd> {
    if (this.runs.length === 0) this.native.ref(); // a worker with work keeps the process alive; an idle one never does
    const slot = this.freeCounter();
    // The slot may hold the count of the batch that used it last: a crash before the worker starts
    // this batch must not read it as this batch's.
    Atomics.store(this.endedCounters, cellIndex(slot), 0);
    const run = new BatchRun(batch, context, report, this, slot, (ended) => {
      this.runs.splice(this.runs.indexOf(ended), 1);
      if (this.runs.length === 0) this.native.unref();
    });
    this.runs.push(run);
    const moved = transferables(run.request.args);
    run.listen(this.api.runBatch(moved.length > 0 ? this.transfer(run.request, moved) : run.request));
    return run.finished;
  }
}

/**
 * Adapts a `worker_threads` Worker to the interface threads.js expects, without its path rewriting.
 * It listens from the moment the worker exists and holds messages until threads.js listens: the
 * worker may say it is ready before threads.js has finished loading.
 */
class ThreadsWorkerAdapter {
  private readonly listeners = new Set<(event: { data: unknown }) => void>();
  private held: unknown[] = [];

  constructor(private readonly native: Worker) {
    native.on('message', (data: unknown) => {
      if (this.listeners.size === 0) this.held.push(data);
      for (const listener of [...this.listeners]) listener({ data });
    });
  }

  postMessage(message: unknown, transfer?: readonly ArrayBuffer[]): void {
    this.native.postMessage(message, transfer as never);
  }

  addEventListener(type: string, listener: (event: { data: unknown }) => void): void {
    if (type !== 'message') return; // errors and exits are watched by PoolWorker itself
    this.listeners.add(listener);
    if (this.held.length === 0) return;
    const held = this.held;
    this.held = [];
    queueMicrotask(() => {
      for (const data of held) for (const each of [...this.listeners]) each({ data });
    });
  }

  removeEventListener(type: string, listener: (event: { data: unknown }) => void): void {
    if (type === 'message') this.listeners.delete(listener);
  }

  terminate(): Promise<number> {
    return this.native.terminate();
  }
}

const idleWorkers = new Map<string, PoolWorker[]>();
let startedCount = 0;

/** Number of worker threads started by this process so far, and how many are idle in the pool. */
export function poolStats(): { started: number; idle: number } {
  let idle = 0;
  for (const list of idleWorkers.values()) idle += list.filter((w) => w.isAlive).length;
  return { started: startedCount, idle };
}

/**
 * A worker being started. The call that asked for it may end first (it starts its workers before
 * it reads its tasks, and may finish on the first one ready): the worker is then `orphaned`, and a
 * call that needs a worker waits for it (`claim`) rather than start one more, so that a call made
 * right after another starts no thread.
 */
export interface Spawn {
  readonly key: string;
  orphaned: boolean;
  /** terminateIdleWorkers ran while it started: it ends once idle. */
  endWhenIdle: boolean;
  claim: ((worker: PoolWorker | undefined) => void) | undefined;
}

const spawns = new Set<Spawn>();

/**
 * An idle worker of this configuration, or one an ended call gave up, or a new one, announced to
 * `onSpawn`: the caller then settles that spawn with {@link settleSpawn} once it ends.
 */
export async function acquireWorker(config: WorkerConfig, onSpawn: (spawn: Spawn) => void): Promise<PoolWorker> {
  const key = configKey(config);
  for (;;) {
    const idle = idleWorkers.get(key);
    while (idle && idle.length > 0) {
      const worker = idle.pop() as PoolWorker;
      if (worker.isAlive) return worker;
    }
    let orphan: Spawn | undefined;
    for (const spawn of spawns) if (spawn.key === key && spawn.orphaned && !spawn.claim) orphan = spawn;
    if (!orphan) return startWorker(config, key, onSpawn);
    const claimed = orphan;
    const worker = await new Promise<PoolWorker | undefined>((resolve) => {
      claimed.claim = resolve;
    });
    if (worker) return worker; // else it failed to start: look again
  }
}

/**
 * A spawn announced by {@link acquireWorker} ended, with its worker or without (it failed). Returns
 * whether the pool took the worker: it does when the spawn was orphaned, and hands it to the call
 * that claimed it, else to the idle pool.
 */
export function settleSpawn(spawn: Spawn, worker: PoolWorker | undefined): boolean {
  spawns.delete(spawn);
  if (worker && spawn.endWhenIdle) worker.endWhenIdle = true; // as late as possible: terminateIdleWorkers may run until now
  if (!spawn.orphaned) return false;
  let handed = worker;
  if (handed && spawn.endWhenIdle) {
    handed.kill();
    handed = undefined;
  }
  if (spawn.claim) spawn.claim(handed);
  else if (handed) releaseWorker(handed);
  return true;
}

/** Puts a worker back in the pool, unreferenced. */
export function releaseWorker(worker: PoolWorker): void {
  if (!worker.isAlive || worker.isBusy) return;
  if (worker.endWhenIdle) {
    worker.kill();
    return;
  }
  const list = idleWorkers.get(worker.configKey) ?? [];
  list.push(worker);
  idleWorkers.set(worker.configKey, list);
}

/** Terminates every idle worker of the pool. */
export async function terminateIdleWorkers(): Promise<void> {
  const workers = [...idleWorkers.values()].flat();
  idleWorkers.clear();
  for (const spawn of spawns) spawn.endWhenIdle = true;
  for (const worker of workers) worker.kill();
}

async function startWorker(config: WorkerConfig, key: string, onSpawn: (spawn: Spawn) => void): Promise<PoolWorker> {
  const endedCounters = newSharedCells(ENDED_COUNTERS);
  const workerData: PoolWorkerData = {
    joblibTsWorker: true,
    endedCounters,
    ...(TYPESCRIPT_LOADER ? { typeScriptLoader: TYPESCRIPT_LOADER } : {}),
  };
  const options = { workerData, ...(config.resourceLimits ? { resourceLimits: config.resourceLimits } : {}) };
  const threads = loadThreads(); // loads while the worker starts
  const native = newWorker(options);
  startedCount++;
  const spawn: Spawn = { key, orphaned: false, endWhenIdle: false, claim: undefined };
  spawns.add(spawn);
  onSpawn(spawn);
  const adapter = new ThreadsWorkerAdapter(native);
  let onError: ((error: Error) => void) | undefined;
  let onExit: ((code: number) => void) | undefined;
  const failed = new Promise<never>((_, reject) => {
    onError = (error) => reject(error);
    onExit = (code) => reject(new Error(`it exited with code ${code} before it was ready`));
    native.once('error', onError);
    native.once('exit', onExit);
  });
  try {
    const api = (await Promise.race([
      threads.then(({ spawn }) => spawn(adapter as never, { timeout: START_TIMEOUT_MS })),
      failed,
    ])) as unknown as WorkerApi;
    native.unref();
    return new PoolWorker(native, api, key, (await threads).Transfer, endedCounters);
  } catch (error) {
    void native.terminate();
    throw new WorkerCrashedError(`A worker thread failed to start: ${(error as Error)?.message ?? String(error)}`, {
      cause: error,
    });
  } finally {
    native.off('error', onError as never);
    native.off('exit', onExit as never);
    failed.catch(() => undefined);
  }
}

function configKey(config: WorkerConfig): string {
  return JSON.stringify(config.resourceLimits ?? {});
}
