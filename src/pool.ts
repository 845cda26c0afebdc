/**
 * Worker threads and the process-wide pool of idle ones. A call leases workers, runs batches on
 * them, and gives them back; the next call with the same settings starts none. A worker keeps the
 * process alive only while it runs a batch, so a script that calls Parallel and returns exits.
 */
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { spawn } from './threads-master.js';
import { WorkerCrashedError } from './errors.js';
import { typeScriptLoaderUrl, workerExecArgv } from './tsx-loader.js';
import { reviveError, type BatchChunk, type BatchRequest, type PoolWorkerData, type ShippedFn } from './protocol.js';
import { timeoutError, withTaskIndex, type BatchEnd, type Outcome, type PendingTask, type RunControl } from './backend.js';
import type { FnRef } from './fn-ref.js';

/** Settings that make workers interchangeable: workers are pooled per configuration. */
export interface WorkerConfig {
  /** V8 heap limits of each worker (`worker_threads` `resourceLimits`). */
  readonly resourceLimits?: ResourceLimits;
}

interface WorkerApi {
  runBatch(request: BatchRequest): { subscribe(observer: ChunkObserver): { unsubscribe(): void } };
}

interface ChunkObserver {
  next(chunk: BatchChunk): void;
  error(error: unknown): void;
  complete(): void;
}

const WORKER_URL = new URL('./worker.js', import.meta.url);
/** Without tsx's flags when there were any; undefined inherits the program's execArgv. */
let workerExecArgvOverride: string[] | undefined =
  workerExecArgv().length === process.execArgv.length ? undefined : workerExecArgv();
const TYPESCRIPT_LOADER = typeScriptLoaderUrl();
/** How long a new worker may take to load before it counts as failed to start (ms); cold starts take ~30 ms. */
const START_TIMEOUT_MS = 60_000;

/** One worker thread and what it has been sent. */
export class PoolWorker {
  /** Function ids this worker has compiled or imported. */
  readonly knownFns = new Set<number>();
  /** Tasks of the running batch that have ended, written by the worker (see BatchRequest.ended). */
  private readonly ended = new Int32Array(new SharedArrayBuffer(4));
  private alive = true;
  private busy = false;
  private killedOnPurpose = false;
  private lastError: unknown;
  private onExitWhileBusy: ((code: number) => void) | undefined;

  constructor(
    private readonly native: Worker,
    private readonly api: WorkerApi,
    readonly configKey: string,
  ) {
    native.on('error', (error) => {
      this.lastError = error;
    });
    native.on('exit', (code) => {
      this.alive = false;
      this.onExitWhileBusy?.(code);
    });
  }

  get isAlive(): boolean {
    return this.alive;
  }

  get isBusy(): boolean {
    return this.busy;
  }

  /** Ends the worker now; a batch it is running resolves with its unfinished tasks, reporting no failure. */
  kill(): void {
    this.killedOnPurpose = true;
    void this.native.terminate();
  }

  /** Runs one batch; resolves when it ends, whatever the way. */
  run(
    batch: readonly PendingTask[],
    refs: ReadonlyMap<number, FnRef>,
    control: RunControl,
    report: (outcomes: Outcome[]) => void,
  ): Promise<BatchEnd> {
    this.busy = true;
    this.native.ref(); // a running batch keeps the process alive; an idle worker never does
    return new Promise<BatchEnd>((resolve) => {
      let next = 0; // offset in `batch` of the first task without an outcome
      let timer: NodeJS.Timeout | undefined;
      let subscription: { unsubscribe(): void } | undefined;
      let ended = false;
      const end = (durationMs: number, ran: number, unrun: readonly PendingTask[] = batch.slice(ran)) => {
        if (ended) return;
        ended = true;
        clearTimeout(timer);
        this.busy = false;
        this.native.unref();
        this.onExitWhileBusy = undefined;
        subscription?.unsubscribe();
        resolve({ durationMs, ran, unrun });
      };
      /** Fails the task at `offset`; the tasks after it never ran, and those before it whose results were lost run again. */
      const failTask = (offset: number, error: unknown) => {
        const failed = batch[offset];
        if (failed) report([{ index: failed.index, ok: false, error }]);
        end(0, offset + 1, [...batch.slice(next, offset), ...batch.slice(offset + 1)]);
      };
      const armTimer = () => {
        const { timeoutMs } = control;
        if (timeoutMs === undefined) return;
        clearTimeout(timer);
        timer = setTimeout(() => {
          const current = batch[next];
          if (!current) return;
          this.kill();
          failTask(next, timeoutError(current.index, timeoutMs));
        }, timeoutMs);
      };
      this.onExitWhileBusy = (code) => {
        if (this.killedOnPurpose) return end(0, next);
        const running = Math.max(next, Atomics.load(this.ended, 0));
        const current = batch[running];
        failTask(
          running,
          new WorkerCrashedError(
            `The worker thread running task ${current?.index ?? '?'} died (exit code ${code}` +
              `${this.lastError ? `: ${String((this.lastError as Error)?.message ?? this.lastError)}` : ''}); ` +
              'it has been replaced.',
            { taskIndex: current?.index, exitCode: code, cause: this.lastError },
          ),
        );
      };
      Atomics.store(this.ended, 0, 0);
      armTimer();
      const request = this.request(batch, refs, control);
      subscription = this.api.runBatch(request).subscribe({
        next: (chunk) => {
          const outcomes = chunk.values.map((value, offset): Outcome => {
            const index = (batch[next + offset] as PendingTask).index;
            return { index, ok: true, value, durationMs: chunk.durations[offset] ?? 0 };
          });
          for (const [offset, error] of chunk.errors ?? []) {
            const index = (batch[next + offset] as PendingTask).index;
            outcomes[offset] = { index, ok: false, error: withTaskIndex(reviveError(error), index) };
          }
          next += outcomes.length;
          if (outcomes.length > 0) report(outcomes);
          if (chunk.done) end(chunk.done.durationMs, chunk.done.ran);
          else armTimer();
        },
        error: (error) => {
          if (!this.alive) return; // the exit handler reports it
          if (next === 0 && (error as Error)?.name === 'DataCloneError') {
            // The batch could not be sent: some task's arguments cannot be cloned. Those tasks fail
            // with the DataCloneError; the others never started and run again. The worker never
            // received the functions this request introduced.
            for (const { id } of request.newFns) this.knownFns.delete(id);
            const unclonable = batch.filter((p) => !canClone(p.task.args));
            report(unclonable.map((p) => ({ index: p.index, ok: false, error: withTaskIndex(argumentsError(p.index, error), p.index) })));
            return end(0, 0, batch.filter((p) => !unclonable.includes(p)));
          }
          failTask(next, new WorkerCrashedError(`A worker thread failed to run a batch: ${String(error)}`, { cause: error }));
        },
        complete: () => undefined,
      });
    });
  }

  private request(batch: readonly PendingTask[], refs: ReadonlyMap<number, FnRef>, control: RunControl): BatchRequest {
    const newFns: ShippedFn[] = [];
    const firstId = (batch[0] as PendingTask).fnId;
    let shared = true;
    for (const { fnId } of batch) {
      if (fnId !== firstId) shared = false;
      if (!this.knownFns.has(fnId)) {
        this.knownFns.add(fnId);
        newFns.push({ id: fnId, ref: refs.get(fnId) as FnRef });
      }
    }
    return {
      newFns,
      fnIds: shared ? firstId : batch.map((p) => p.fnId),
      args: batch.map((p) => p.task.args),
      settle: control.settle,
      stream: control.timeoutMs !== undefined,
      cancel: control.cancel,
      ended: this.ended,
    };
  }
}

function canClone(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

function argumentsError(index: number, cause: unknown): Error {
  const error = new DOMException(
    `The arguments of task ${index} cannot be sent to a worker thread (${(cause as Error)?.message ?? cause}). ` +
      'Arguments travel by structured clone: functions, symbols and promises do not survive; pass plain data, ' +
      "or use backend 'async' or 'sequential'.",
    'DataCloneError',
  );
  return Object.assign(error, { cause });
}

/** Adapts a `worker_threads` Worker to the interface threads.js expects, without its path rewriting. */
class ThreadsWorkerAdapter {
  private readonly wrapped = new Map<unknown, (data: unknown) => void>();
  constructor(private readonly native: Worker) {}
  postMessage(message: unknown, transfer?: readonly ArrayBuffer[]): void {
    this.native.postMessage(message, transfer as never);
  }
  addEventListener(type: string, listener: (event: { data: unknown }) => void): void {
    if (type !== 'message') return; // errors and exits are watched by PoolWorker itself
    const wrapper = (data: unknown) => listener({ data });
    this.wrapped.set(listener, wrapper);
    this.native.on('message', wrapper);
  }
  removeEventListener(type: string, listener: unknown): void {
    const wrapper = this.wrapped.get(listener);
    if (type !== 'message' || !wrapper) return;
    this.wrapped.delete(listener);
    this.native.off('message', wrapper);
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

/** An idle worker of this configuration, or a new one. */
export async function acquireWorker(config: WorkerConfig): Promise<PoolWorker> {
  const key = configKey(config);
  const idle = idleWorkers.get(key);
  while (idle && idle.length > 0) {
    const worker = idle.pop() as PoolWorker;
    if (worker.isAlive) return worker;
  }
  return startWorker(config, key);
}

/** Puts a worker back in the pool, unreferenced. */
export function releaseWorker(worker: PoolWorker): void {
  if (!worker.isAlive || worker.isBusy) return;
  const list = idleWorkers.get(worker.configKey) ?? [];
  list.push(worker);
  idleWorkers.set(worker.configKey, list);
}

/** Terminates every idle worker of the pool. */
export async function terminateIdleWorkers(): Promise<void> {
  const workers = [...idleWorkers.values()].flat();
  idleWorkers.clear();
  for (const worker of workers) worker.kill();
}

async function startWorker(config: WorkerConfig, key: string): Promise<PoolWorker> {
  const workerData: PoolWorkerData = { joblibTsWorker: true, ...(TYPESCRIPT_LOADER ? { typeScriptLoader: TYPESCRIPT_LOADER } : {}) };
  const options = { workerData, ...(config.resourceLimits ? { resourceLimits: config.resourceLimits } : {}) };
  let native: Worker;
  try {
    native = new Worker(WORKER_URL, workerExecArgvOverride ? { ...options, execArgv: workerExecArgvOverride } : options);
  } catch (error) {
    // Flags given explicitly are checked, and some (V8 heap sizes...) are refused for a thread,
    // while inherited ones are not: fall back to inheriting them, tsx included.
    if ((error as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV' || !workerExecArgvOverride) throw error;
    workerExecArgvOverride = undefined;
    native = new Worker(WORKER_URL, options);
  }
  startedCount++;
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
      spawn(new ThreadsWorkerAdapter(native) as never, { timeout: START_TIMEOUT_MS }),
      failed,
    ])) as unknown as WorkerApi;
    native.unref();
    return new PoolWorker(native, api, key);
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
