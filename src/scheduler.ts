/**
 * Batching policy: how many tasks travel to a worker in one message. Pure functions of
 * measurements (no timers, no workers), so they are tested on their own.
 */

/** Decides the size of the next batch from the durations of the batches before it. */
export interface BatchSizer {
  /** Size to give the next batch when there is plenty of input left. */
  current(): number;
  /** Feeds back a finished batch: how many tasks ran and how long they took in the worker. */
  record(tasks: number, durationMs: number): void;
  /** Whether the last batches may be cut smaller so that workers finish together. */
  readonly adaptive: boolean;
  /** Estimated cost of one task in ms, measured by this call or recalled from an earlier one (adaptive sizers only). */
  readonly taskCostMs: number | undefined;
  /** Whether {@link taskCostMs} rests on a batch of this call, not only on {@link startFrom}. */
  readonly costMeasured: boolean;
  /** Starts from a cost measured before, by an earlier call of the same function. */
  startFrom(perTaskMs: number): void;
}

/** Every batch has the same size, as the user asked. */
export class FixedBatchSizer implements BatchSizer {
  readonly adaptive = false;
  readonly taskCostMs = undefined;
  readonly costMeasured = false;
  constructor(private readonly size: number) {}
  current(): number {
    return this.size;
  }
  record(): void {}
  startFrom(): void {}
}

/**
 * Longest batch 'auto' lets pass, in ms: one that ran longer makes the next batches shrink at once,
 * since a long batch near the end can leave the other workers idle. The end of the input is cut
 * finer anyway (nextBatchSize), so this bounds the middle of a call.
 */
export const MAX_BATCH_MS = 60;
/**
 * What 'auto' steers a batch's duration to, and where a call starts from a cost measured before.
 * Every batch costs the calling thread about 100 µs of CPU and its worker about 70 µs (messages,
 * wake-ups), which the tasks' CPUs pay for; with 5 ms tasks, batches of 1 lose about 4% of two
 * CPUs to that (bench W3: 1,000 tasks of 5 ms, 1.83-1.87x; 100 ms batches 1.94-1.96x). Batches of
 * 15 ms gave W3 1.88-1.91x; of 40 ms 1.93-1.98x, with W4 1.88 -> 1.90x and W4b 1.86 -> 1.87x
 * (A/B runs of 3, one host), the ramps of W4b being what a longer target puts at risk.
 */
export const TARGET_BATCH_MS = 40;
/**
 * Most tasks 'auto' puts in one batch, whatever their measured cost: a batch of tasks that took no
 * measurable time would otherwise double without end (with an input of unknown length, the size
 * also sets how far ahead it is read).
 */
export const MAX_AUTO_BATCH = 1 << 20;
/** A duration or cost the sizer can use: finite and not negative. */
const isCost = (ms: number): boolean => Number.isFinite(ms) && ms >= 0;
/** Weight of the newest measurement in the moving average of the cost of one task (joblib uses 0.2 too). */
const SMOOTHING = 0.2;

/**
 * joblib's auto-batching, for threads: start at 1; keep a moving average of the cost of one task;
 * grow toward the size that fits the target, at most doubling per step; when a batch runs longer
 * than {@link MAX_BATCH_MS}, shrink straight to that size.
 */
export class AutoBatchSizer implements BatchSizer {
  readonly adaptive = true;
  private size = 1;
  private perTaskMs: number | undefined;
  private measured = false;

  current(): number {
    return this.size;
  }

  get costMeasured(): boolean {
    return this.measured;
  }

  /** Estimated cost of one task in ms, once a batch has been measured or a cost recalled (see {@link costMeasured}). */
  get taskCostMs(): number | undefined {
    return this.perTaskMs;
  }

  /**
   * Starts from a cost measured before (an earlier call of the same function) instead of from 1:
   * the ramp from 1 costs one round trip per doubling, a dozen for tiny tasks.
   */
  startFrom(perTaskMs: number): void {
    if (this.perTaskMs !== undefined || !isCost(perTaskMs)) return;
    this.perTaskMs = perTaskMs;
    this.size = perTaskMs > 0 ? Math.max(1, Math.min(MAX_AUTO_BATCH, Math.floor(TARGET_BATCH_MS / perTaskMs))) : 1;
  }

  record(tasks: number, durationMs: number): void {
    if (!(tasks > 0) || !isCost(durationMs)) return;
    const sample = durationMs / tasks;
    this.measured = true;
    this.perTaskMs = this.perTaskMs === undefined ? sample : (1 - SMOOTHING) * this.perTaskMs + SMOOTHING * sample;
    // Quick to shrink, slow to grow: a batch that ran long is evidence enough (it keeps the other
    // workers waiting at the end); growth follows the average, at most x2 per step. Between the
    // target and the longest batch nothing moves, so that noise in the timings does not.
    const pessimisticMs = Math.max(this.perTaskMs, sample);
    if (pessimisticMs * this.size > MAX_BATCH_MS) {
      this.size = Math.max(1, Math.floor(TARGET_BATCH_MS / pessimisticMs));
    } else {
      const ideal = this.perTaskMs > 0 ? Math.floor(TARGET_BATCH_MS / this.perTaskMs) : MAX_AUTO_BATCH;
      if (this.size < ideal) this.size = Math.min(2 * this.size, ideal, MAX_AUTO_BATCH);
    }
  }
}

/**
 * Shortest batch the end of the input is cut into, in ms of work: below it, the round trip of the
 * batch costs more than the balance it buys. (bench W1: cutting 5,000 tasks of 1 µs down to batches
 * of 1 made the tail take longer than the rest of the call.)
 */
const SHORTEST_TAIL_BATCH_MS = 0.5;

/**
 * Size of the next batch once the number of tasks left is known (`remaining`): near the end of the
 * input, batches shrink so that every worker gets a share of the last tasks and they finish together,
 * but not below {@link SHORTEST_TAIL_BATCH_MS} of work.
 */
export function nextBatchSize(sizer: BatchSizer, remaining: number | undefined, workers: number): number {
  const size = sizer.current();
  if (!sizer.adaptive || remaining === undefined) return size;
  const cost = sizer.taskCostMs;
  // Only a cost this call has measured sets the floor. One recalled from an earlier call can be far
  // off (a warm-up on a small array, then 10 ms tasks): 12 µs recalled would set a floor of 42, and
  // with 100 tasks left, the batches 42, 42 and 16, one worker running 58 tasks and the other 42.
  const floor = sizer.costMeasured && cost !== undefined && cost > 0 ? Math.ceil(SHORTEST_TAIL_BATCH_MS / cost) : 1;
  return Math.max(1, Math.min(size, remaining, Math.max(floor, Math.ceil(remaining / (2 * workers)))));
}

/**
 * Cost of one task of each function, as last measured, kept by one runner: its next call's sizing
 * starts from it. Per runner rather than per process, so that how a call is batched never depends
 * on unrelated calls made elsewhere in the program.
 */
export type TaskCosts = WeakMap<object, number>;

/** Seeds `sizer` with what earlier calls measured for `fn`. */
export function recallTaskCost(sizer: BatchSizer, fn: object, costs: TaskCosts): void {
  const cost = costs.get(fn);
  if (cost !== undefined) sizer.startFrom(cost);
}

/** Remembers what this call measured for `fn`. */
export function rememberTaskCost(sizer: BatchSizer, fn: object, costs: TaskCosts): void {
  const cost = sizer.taskCostMs;
  if (cost !== undefined) costs.set(fn, cost);
}
