/**
 * Compares a Parallel call with the plain loop, task by task, and describes the first difference in
 * a few readable lines (or returns `undefined` when the call gave what the loop gave).
 */
import type { ReturnAs } from '../index.js';
import {
  firstDifference,
  formatFailure,
  formatValue,
  multisetDifference,
  sameFailure,
} from './equality.js';
import type { Outcome, ParallelRun } from './run.js';

/** What the comparison needs to know besides the two runs. */
export interface ComparisonContext {
  /** The argument tuples, to show those of a differing task. */
  readonly tasks: readonly (readonly unknown[])[];
  readonly returnAs: ReturnAs;
  readonly settle: boolean;
  /** Equality of two values; the default one also gets a path to the first difference. */
  readonly compare: (expected: unknown, actual: unknown) => boolean;
  readonly defaultCompare: boolean;
}

/** Whether two outcomes agree: equal values, or the same failure. */
export function sameOutcome(expected: Outcome, actual: Outcome, compare: (e: unknown, a: unknown) => boolean): boolean {
  if (expected.ok && actual.ok) return compare(expected.value, actual.value);
  if (!expected.ok && !actual.ok) return sameFailure(expected.error, actual.error);
  return false;
}

/** `returned 3`, `threw RangeError: negative`. */
export function formatOutcome(outcome: Outcome): string {
  return outcome.ok ? `returned ${formatValue(outcome.value)}` : `threw ${formatFailure(outcome.error)}`;
}

function taskLabel(context: ComparisonContext, index: number): string {
  return `task ${index} of ${context.tasks.length}, arguments ${formatValue(context.tasks[index])}`;
}

/** The lines that show two differing outcomes of one task. */
function outcomeLines(context: ComparisonContext, index: number, expected: Outcome, actual: Outcome): string[] {
  const lines = [`${taskLabel(context, index)}:`, `  loop:     ${formatOutcome(expected)}`, `  Parallel: ${formatOutcome(actual)}`];
  if (expected.ok && actual.ok && context.defaultCompare) {
    const difference = firstDifference(expected.value, actual.value);
    const prototypes = prototypeNames(difference.expected, difference.actual);
    if (difference.path) {
      lines.push(`  first difference at ${difference.path}: ${formatValue(difference.expected)} in the loop, ${formatValue(difference.actual)} from Parallel`);
    }
    if (prototypes) {
      lines.push(
        `  ${difference.path ? 'there, ' : ''}the prototypes differ: ${prototypes[0]} in the loop, ${prototypes[1]} from Parallel` +
          ' (structured clone, between threads and in the cache, keeps no class)',
      );
    }
  }
  return lines;
}

/** The names of the prototypes of two objects, when they differ. */
function prototypeNames(expected: unknown, actual: unknown): [string, string] | undefined {
  if (typeof expected !== 'object' || typeof actual !== 'object' || expected === null || actual === null) return undefined;
  const e: unknown = Object.getPrototypeOf(expected);
  const a: unknown = Object.getPrototypeOf(actual);
  if (e === a) return undefined;
  const name = (proto: unknown) =>
    proto === null ? 'null' : String((proto as { constructor?: { name?: unknown } }).constructor?.name || 'an anonymous class');
  return [name(e), name(a)];
}

/** The position a rejection names (`taskIndex`, added by joblib-ts to a task's error), if any. */
function taskIndexOf(error: unknown, count: number): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const index = (error as { taskIndex?: unknown }).taskIndex;
  return typeof index === 'number' && Number.isInteger(index) && index >= 0 && index < count ? index : undefined;
}

/**
 * Compares the outcomes of a Parallel call with those of the loop.
 *
 * - `errors: 'settle'`: the call resolves, with one item per task whose value or failure (same `name`
 *   and `message`) is that of the loop at the same position; in completion order, the same multiset.
 * - `errors: 'raise'`, no call of the loop throws: the call resolves with the loop's values, in
 *   input order or as the same multiset.
 * - `errors: 'raise'`, some call of the loop throws: the call rejects with one of the loop's failures
 *   (the one at its `taskIndex` when it carries one), and whatever a generator delivered before is
 *   what the loop gave (a prefix in input order; a sub-multiset in completion order).
 *
 * @returns the lines describing the first difference, or `undefined` when there is none
 */
export function findDifference(expected: readonly Outcome[], run: ParallelRun, context: ComparisonContext): string[] | undefined {
  const unordered = context.returnAs === 'generator_unordered';
  const failures = expected.flatMap((outcome, i) => (outcome.ok ? [] : [i]));
  const equal = (e: Outcome, a: Outcome) => sameOutcome(e, a, context.compare);

  if (run.rejection) {
    const { error } = run.rejection;
    const index = taskIndexOf(error, expected.length);
    const where = index === undefined ? '' : ` (its taskIndex is ${index})`;
    if (context.settle || failures.length === 0) {
      const lines = [`Parallel rejected with ${formatFailure(error)}${where},`];
      lines.push(context.settle ? "although errors: 'settle' reports each failure in its place" : 'although no call of the loop threw');
      if (index !== undefined) lines.push(`${taskLabel(context, index)}: the loop's call ${formatOutcome(expected[index] as Outcome)}`);
      return lines;
    }
    const rejection: Outcome = { ok: false, error };
    const matches =
      index === undefined
        ? failures.some((i) => equal(expected[i] as Outcome, rejection))
        : equal(expected[index] as Outcome, rejection);
    if (!matches) {
      if (index !== undefined) return outcomeLines(context, index, expected[index] as Outcome, rejection);
      return [
        `Parallel rejected with ${formatFailure(error)}, which no call of the loop threw;`,
        `the loop's first failure: ${taskLabel(context, failures[0] as number)}: ${formatOutcome(expected[failures[0] as number] as Outcome)}`,
      ];
    }
    // What a generator delivered before the rejection must be what the loop gave.
    if (unordered) {
      const fulfilled = expected.filter((outcome) => outcome.ok);
      const { extra } = multisetDifference(fulfilled, run.items, equal);
      if (extra.length > 0) {
        return [
          `Before rejecting with ${formatFailure(error)}, Parallel delivered a result that no call of the loop returned:`,
          `  ${formatOutcome(run.items[extra[0] as number] as Outcome)}`,
        ];
      }
      return undefined;
    }
    return orderedDifference(expected, run.items, context, false);
  }

  if (!context.settle && failures.length > 0) {
    const first = failures[0] as number;
    return [
      `Parallel resolved, but a call of the loop threw (errors: 'raise' should reject):`,
      `${taskLabel(context, first)}: the loop's call ${formatOutcome(expected[first] as Outcome)}`,
    ];
  }
  if (unordered) {
    const { missing, extra } = multisetDifference(expected, run.items, equal);
    if (missing.length === 0 && extra.length === 0) return undefined;
    const lines = [`The results in completion order are not the same multiset as the loop's (${expected.length} tasks, ${run.items.length} results):`];
    if (missing.length > 0) {
      const i = missing[0] as number;
      lines.push(`  missing from Parallel: ${taskLabel(context, i)}, whose call ${formatOutcome(expected[i] as Outcome)}`);
    }
    if (extra.length > 0) lines.push(`  not from the loop:     ${formatOutcome(run.items[extra[0] as number] as Outcome)}`);
    return lines;
  }
  return orderedDifference(expected, run.items, context, true);
}

/** Compares in input order; `complete`: the call finished, so it must have delivered every result. */
function orderedDifference(expected: readonly Outcome[], items: readonly Outcome[], context: ComparisonContext, complete: boolean): string[] | undefined {
  const length = Math.min(expected.length, items.length);
  for (let i = 0; i < length; i++) {
    const e = expected[i] as Outcome;
    const a = items[i] as Outcome;
    if (!sameOutcome(e, a, context.compare)) return outcomeLines(context, i, e, a);
  }
  if (items.length > expected.length || (complete && items.length < expected.length)) {
    return [`Parallel gave ${items.length} results for ${expected.length} tasks (the first ${length} equal the loop's)`];
  }
  return undefined;
}

/** Whether two runs of the loop gave the same outcomes, position by position. */
export function sameOutcomes(a: readonly Outcome[], b: readonly Outcome[], compare: (e: unknown, a: unknown) => boolean): boolean {
  return a.length === b.length && a.every((outcome, i) => sameOutcome(outcome, b[i] as Outcome, compare));
}
