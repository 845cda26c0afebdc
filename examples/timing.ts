/**
 * What the examples share: timing a piece of work, comparing two lists of results, printing
 * durations, and knowing whether a file is the program being run (then it runs its full size).
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

/** What every example's `main()` returns. */
export interface Summary {
  /** The results of Parallel equal those of the plain loop (`main()` throws otherwise). */
  readonly equal: boolean;
  /** Wall time of the plain loop, in ms. */
  readonly sequentialMs: number;
  /** Wall time of the Parallel call, in ms. */
  readonly parallelMs: number;
  /** `sequentialMs / parallelMs`: above 1, Parallel was faster. */
  readonly speedup: number;
}

/** Whether the module with this `import.meta.url` is the script Node was asked to run. */
export function isMain(moduleUrl: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && moduleUrl === pathToFileURL(entry).href;
}

/** Runs `work` and measures its wall time. */
export async function timed<T>(work: () => T | Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

/** Throws unless both lists hold the same values (`===`, so BigInts compare by value), in the same order. */
export function assertSameResults<T>(expected: readonly T[], actual: readonly T[], what: string): true {
  if (expected.length !== actual.length) {
    throw new Error(`${what}: the loop gave ${expected.length} results, Parallel gave ${actual.length}`);
  }
  const index = expected.findIndex((value, i) => value !== actual[i]);
  if (index !== -1) {
    throw new Error(`${what}: results differ at index ${index}: ${String(expected[index])} vs ${String(actual[index])}`);
  }
  return true;
}

/** `0.012 ms`, `3.40 ms`, `412 ms`, `8.71 s`. */
export function formatMs(ms: number): string {
  if (ms < 1) return `${ms.toFixed(3)} ms`;
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(0)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** `1.93x`, `210x`, `0.004x`; a speedup below 1 means Parallel was slower than the loop. */
export function formatSpeedup(speedup: number): string {
  if (speedup >= 10) return `${formatCount(Math.round(speedup))}x`;
  if (speedup >= 0.01) return `${speedup.toFixed(2)}x`;
  return `${Number(speedup.toPrecision(1))}x`;
}

/** `99 999`: thousands separated by a space, as the examples print them. */
export function formatCount(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
}

/** One line of a report: `  label ........ value  note`, labels padded to one column. */
export function formatRow(label: string, value: string, note = ''): string {
  return `  ${label.padEnd(44)}${value.padStart(9)}${note ? `  ${note}` : ''}`;
}
