/**
 * The two sides of an equivalence check: the plain loop (the reference) and a Parallel call, each
 * giving one outcome per task; and the copies of the arguments that keep runs from seeing each
 * other's mutations.
 */
import { Parallel, delayed, type AnyFunction, type ParallelOptions } from '../index.js';

/** What one call gave: its value, or what it threw. */
export type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

/** What a Parallel call gave: the items it delivered (in delivery order), and its rejection if any. */
export interface ParallelRun {
  readonly items: readonly Outcome[];
  readonly rejection?: { readonly error: unknown };
}

/**
 * The reference: a plain `for` loop that calls `fn` on each argument tuple in turn and awaits it.
 */
export async function runLoop(fn: AnyFunction, tasks: readonly (readonly unknown[])[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const args of tasks) {
    try {
      outcomes.push({ ok: true, value: await fn(...args) });
    } catch (error) {
      outcomes.push({ ok: false, error });
    }
  }
  return outcomes;
}

/** Runs `delayed(fn)(...args)` for every tuple with `Parallel(options)`, consuming any `returnAs`. */
export async function runParallel(
  fn: AnyFunction,
  tasks: readonly (readonly unknown[])[],
  options: ParallelOptions,
): Promise<ParallelRun> {
  const settle = options.errors === 'settle';
  const items: Outcome[] = [];
  const take = (item: unknown) => {
    const settled = item as PromiseSettledResult<unknown> | undefined;
    if (settle && settled?.status === 'fulfilled') items.push({ ok: true, value: settled.value });
    else if (settle && settled?.status === 'rejected') items.push({ ok: false, error: settled.reason });
    else items.push({ ok: true, value: item });
  };
  try {
    const output = Parallel(options)(tasks.map((args) => delayed(fn)(...args)));
    if (Symbol.asyncIterator in output) {
      for await (const item of output) take(item);
    } else {
      for (const item of await output) take(item);
    }
    return { items };
  } catch (error) {
    return { items, rejection: { error } };
  }
}

const FAITHFULLY_CLONED = new Set<unknown>([
  Object.prototype,
  Array.prototype,
  Map.prototype,
  Set.prototype,
  Date.prototype,
  RegExp.prototype,
  ArrayBuffer.prototype,
  SharedArrayBuffer.prototype,
  DataView.prototype,
  Boolean.prototype,
  Number.prototype,
  String.prototype,
  ...[
    Int8Array,
    Uint8Array,
    Uint8ClampedArray,
    Int16Array,
    Uint16Array,
    Int32Array,
    Uint32Array,
    Float32Array,
    Float64Array,
    BigInt64Array,
    BigUint64Array,
  ].map((ctor) => ctor.prototype),
]);

/**
 * Whether `structuredClone(value)` gives back the same thing: only primitives, plain objects and
 * arrays of data properties, and built-ins that structured clone keeps (Map, Set, Date, RegExp,
 * buffers, typed arrays, boxed primitives). Functions, symbols, class instances, getters, symbol
 * keys and non-enumerable properties would be lost or changed.
 */
function clonesFaithfully(value: unknown, seen: Set<object>): boolean {
  if (typeof value === 'function' || typeof value === 'symbol') return false;
  if (typeof value !== 'object' || value === null || seen.has(value)) return true;
  seen.add(value);
  if (!FAITHFULLY_CLONED.has(Object.getPrototypeOf(value))) return false;
  if (value instanceof Map) {
    for (const [k, v] of value) if (!clonesFaithfully(k, seen) || !clonesFaithfully(v, seen)) return false;
    return true;
  }
  if (value instanceof Set) {
    for (const v of value) if (!clonesFaithfully(v, seen)) return false;
    return true;
  }
  if (!Array.isArray(value) && Object.getPrototypeOf(value) !== Object.prototype) return true;
  for (const key of Reflect.ownKeys(value)) {
    if (Array.isArray(value) && key === 'length') continue;
    const descriptor = Object.getOwnPropertyDescriptor(value, key);
    if (typeof key === 'symbol' || !descriptor || !descriptor.enumerable || !('value' in descriptor)) return false;
    if (!clonesFaithfully(descriptor.value, seen)) return false;
  }
  return true;
}

/**
 * Makes a fresh copy of the argument tuples for each run, so that a task that mutates its arguments
 * cannot change what the next run receives. One `structuredClone` of the whole list keeps the
 * sharing inside it: a value passed to several tasks stays one value, shared by those tasks, in each
 * copy. Arguments that structured clone would change (functions, class instances, ...) are not
 * copied: every run then receives the very same values.
 *
 * @returns a function giving a new copy at each call, and whether copies are made
 */
export function argumentCopier<T>(tasks: T): { readonly copy: () => T; readonly isolated: boolean } {
  if (clonesFaithfully(tasks, new Set())) {
    try {
      structuredClone(tasks);
      return { copy: () => structuredClone(tasks), isolated: true };
    } catch {
      // Not cloneable after all (a detached buffer, say): share the originals.
    }
  }
  return { copy: () => tasks, isolated: false };
}
