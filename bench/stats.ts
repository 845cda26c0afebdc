/**
 * The medians every figure of bench/ is given as, and the timing of a piece of work in one thread.
 */
import { performance } from 'node:perf_hooks';

/**
 * The median: the middle value, or for an even count the mean of the two middle values. NaN for an
 * empty list, which shows in the output rather than ending a long run.
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Median, smallest and largest of a list. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

export function spread(values: readonly number[]): Spread | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return { median: median(sorted), min: sorted[0] as number, max: sorted[sorted.length - 1] as number, n: sorted.length };
}

/** The median of the values that are there (a run may lack a figure), undefined when none is. */
export function medianOf(values: readonly (number | undefined)[]): number | undefined {
  return spread(values.filter((v): v is number => v !== undefined))?.median;
}

/**
 * The median wall time, in ms, of `runs` calls of the function that `prepare` returns. `prepare`
 * runs before each call, untimed: each call gets inputs of its own, so that none finds what the call
 * before it left in memory.
 */
export function timeMedian(runs: number, prepare: () => () => unknown): number {
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    const call = prepare();
    const started = performance.now();
    call();
    times.push(performance.now() - started);
  }
  return median(times);
}
