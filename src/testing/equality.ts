/**
 * The comparisons behind `joblib-ts/testing`: deep equality of results, the multiset comparison of
 * unordered results, equality of failures (same `name` and `message`), and short readable texts of
 * values and of where two values first differ.
 */
import { inspect, isDeepStrictEqual, types } from 'node:util';

/**
 * Deep equality of two results: `node:util`'s `isDeepStrictEqual` (same prototypes, `NaN` equals
 * `NaN`, `0` and `-0` differ, typed arrays by type and content, Maps and Sets whatever their order,
 * holes in arrays differ from `undefined`), except that two invalid Dates are equal, as `NaN` is:
 * compared directly, or held in arrays, Maps, Sets and objects compared by their properties (one
 * held by an Error or a boxed value, say, still differs from another).
 *
 * @example
 * deepEqual([NaN, new Map([[1, 'a']])], [NaN, new Map([[1, 'a']])]); // true
 * deepEqual(0, -0); // false
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (isDeepStrictEqual(a, b)) return true;
  // isDeepStrictEqual compares Dates by getTime() with ===, so an invalid Date differs from itself.
  // The scan, which copies nothing, keeps unequal values without invalid Dates as cheap to reject.
  if (!containsInvalidDate(a, new Set()) || !containsInvalidDate(b, new Set())) return false;
  return isDeepStrictEqual(withInvalidDatesMarked(a, new Map()), withInvalidDatesMarked(b, new Map()));
}

/**
 * The own property that marks the stand-in for an invalid Date in {@link withInvalidDatesMarked}:
 * module-private, so that no other object compares equal to a stand-in.
 */
const invalidDateMark = Symbol('invalid Date');

function isInvalidDate(value: object): boolean {
  // The intrinsic getTime, as isDeepStrictEqual reads it: a subclass may override getTime, and an
  // object that merely inherits from Date.prototype has no time to read.
  return types.isDate(value) && Number.isNaN(Date.prototype.getTime.call(value));
}

/**
 * How {@link withInvalidDatesMarked} copies `value`, or `undefined` when it passes `value` through
 * unchanged. A copy can only hold what is reachable as properties and entries, so only objects that
 * isDeepStrictEqual compares by those alone are copied: an Error, a boxed primitive, an ArrayBuffer
 * or a URL keeps what it is compared by in internal slots or private fields that a copy would lack.
 */
function containerKind(value: object): 'array' | 'map' | 'set' | 'object' | undefined {
  if (Array.isArray(value)) return 'array';
  if (types.isMap(value)) return 'map';
  if (types.isSet(value)) return 'set';
  // Without a Symbol.toStringTag, the tag Object excludes Errors, boxed primitives, Dates and RegExps,
  // and isDeepStrictEqual compares any object with that tag by its prototype and own properties only.
  if (!(Symbol.toStringTag in value) && Object.prototype.toString.call(value) === '[object Object]') return 'object';
  return undefined;
}

/** Whether an invalid Date is reachable through the objects {@link withInvalidDatesMarked} copies. */
function containsInvalidDate(value: unknown, seen: Set<object>): boolean {
  if (typeof value !== 'object' || value === null || seen.has(value)) return false;
  if (isInvalidDate(value)) return true;
  seen.add(value);
  const kind = containerKind(value);
  if (kind === undefined) return false;
  if (kind === 'map') {
    for (const [k, v] of Map.prototype.entries.call(value as Map<unknown, unknown>)) {
      if (containsInvalidDate(k, seen) || containsInvalidDate(v, seen)) return true;
    }
  } else if (kind === 'set') {
    for (const v of Set.prototype.values.call(value as Set<unknown>)) if (containsInvalidDate(v, seen)) return true;
  }
  for (const key of Reflect.ownKeys(value)) {
    if (containsInvalidDate(Object.getOwnPropertyDescriptor(value, key)?.value, seen)) return true;
  }
  return false;
}

/**
 * A copy of `value` in which every invalid Date is a stand-in that isDeepStrictEqual finds equal to
 * every other stand-in with the same prototype and own properties, and unequal to anything else.
 * Arrays, Maps, Sets and objects compared by their properties are copied with their prototypes and
 * own properties; every other object is passed through unchanged. Sharing and cycles are kept.
 */
function withInvalidDatesMarked(value: unknown, copies: Map<object, object>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const known = copies.get(value);
  if (known !== undefined) return known;
  const kind = isInvalidDate(value) ? 'invalid Date' : containerKind(value);
  if (kind === undefined) return value;
  const prototype = Object.getPrototypeOf(value) as object | null;
  const copy: object =
    kind === 'array'
      ? new Array<unknown>((value as unknown[]).length)
      : kind === 'map'
        ? new Map()
        : kind === 'set'
          ? new Set()
          : (Object.create(prototype) as object);
  if (Object.getPrototypeOf(copy) !== prototype) Object.setPrototypeOf(copy, prototype);
  // The stand-in is an ordinary object, not a Date: isDeepStrictEqual compares it by prototype and
  // own properties, the mark included.
  if (kind === 'invalid Date') Object.defineProperty(copy, invalidDateMark, { value: true, enumerable: true });
  copies.set(value, copy);
  // The intrinsic methods, so that a subclass overriding set, add or the iterators changes nothing.
  if (kind === 'map') {
    for (const [k, v] of Map.prototype.entries.call(value as Map<unknown, unknown>)) {
      Map.prototype.set.call(copy as Map<unknown, unknown>, withInvalidDatesMarked(k, copies), withInvalidDatesMarked(v, copies));
    }
  } else if (kind === 'set') {
    for (const v of Set.prototype.values.call(value as Set<unknown>)) {
      Set.prototype.add.call(copy as Set<unknown>, withInvalidDatesMarked(v, copies));
    }
  }
  for (const key of Reflect.ownKeys(value)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, key);
    if (!descriptor || (kind === 'array' && key === 'length')) continue;
    if ('value' in descriptor) descriptor.value = withInvalidDatesMarked(descriptor.value, copies);
    Object.defineProperty(copy, key, descriptor);
  }
  return copy;
}

/**
 * Matches `actual` against `expected` as multisets under `equal` (an equivalence): every element of
 * one is paired with a distinct equal element of the other.
 *
 * @returns the positions left without a partner on each side (both empty when the multisets are equal)
 */
export function multisetDifference<T>(
  expected: readonly T[],
  actual: readonly T[],
  equal: (expected: T, actual: T) => boolean,
): { readonly missing: number[]; readonly extra: number[] } {
  const unmatched = new Set(expected.keys());
  const extra: number[] = [];
  actual.forEach((item, j) => {
    for (const i of unmatched) {
      if (equal(expected[i] as T, item)) {
        unmatched.delete(i);
        return;
      }
    }
    extra.push(j);
  });
  return { missing: [...unmatched], extra };
}

/** A short one-line text of a value: `util.inspect` with a limited depth and length. */
export function formatValue(value: unknown): string {
  return inspect(value, {
    depth: 3,
    breakLength: Infinity,
    maxArrayLength: 12,
    maxStringLength: 120,
    compact: true,
    sorted: false,
  });
}

/** Whether `value` looks like an error: an object with a string `name` and `message`. */
export function isErrorLike(value: unknown): value is { readonly name: string; readonly message: string } {
  if (typeof value !== 'object' || value === null) return false;
  try {
    const { name, message } = value as { name?: unknown; message?: unknown };
    return typeof name === 'string' && typeof message === 'string';
  } catch {
    return false;
  }
}

/**
 * Whether two thrown values are the same failure: errors with the same `name` and `message` (their
 * stacks, classes and other properties may differ, as they do once an error crosses threads), or
 * deep-equal values for anything else that was thrown.
 */
export function sameFailure(expected: unknown, actual: unknown): boolean {
  const errors = [isErrorLike(expected), isErrorLike(actual)];
  if (errors[0] && errors[1]) {
    const e = expected as { name: string; message: string };
    const a = actual as { name: string; message: string };
    return e.name === a.name && e.message === a.message;
  }
  return !errors[0] && !errors[1] && deepEqual(expected, actual);
}

/** `TypeError: message` for an error, `throw <value>` for anything else thrown. */
export function formatFailure(thrown: unknown): string {
  if (isErrorLike(thrown)) return `${thrown.name}: ${thrown.message}`;
  return `(a non-Error value) ${formatValue(thrown)}`;
}

/** Where two values first differ, as a path into them, with the values found there. */
export interface Difference {
  /** `[2].weights[5]`, `.get('a')`, `.size`; empty when the values differ as a whole. */
  readonly path: string;
  readonly expected: unknown;
  readonly actual: unknown;
}

/**
 * Walks two values that are not {@link deepEqual} down arrays, typed arrays, plain objects and Maps
 * with primitive keys, to the first place where they differ.
 *
 * @example
 * firstDifference({ a: [1, 2] }, { a: [1, 3] }); // { path: '.a[1]', expected: 2, actual: 3 }
 */
export function firstDifference(expected: unknown, actual: unknown, path = '', depth = 0): Difference {
  const here: Difference = { path, expected, actual };
  if (depth > 20 || typeof expected !== 'object' || typeof actual !== 'object' || expected === null || actual === null) {
    return here;
  }
  if (Object.getPrototypeOf(expected) !== Object.getPrototypeOf(actual)) return here;
  if (Array.isArray(expected) && Array.isArray(actual)) {
    const length = Math.min(expected.length, actual.length);
    for (let i = 0; i < length; i++) {
      if (i in expected !== i in actual) return { path: `${path}[${i}]`, expected: hole(expected, i), actual: hole(actual, i) };
      if (!deepEqual(expected[i], actual[i])) return firstDifference(expected[i], actual[i], `${path}[${i}]`, depth + 1);
    }
    if (expected.length !== actual.length) return { path: `${path}.length`, expected: expected.length, actual: actual.length };
    return here;
  }
  if (ArrayBuffer.isView(expected) && ArrayBuffer.isView(actual) && !(expected instanceof DataView)) {
    const e = expected as unknown as ArrayLike<unknown>;
    const a = actual as unknown as ArrayLike<unknown>;
    if (e.length !== a.length) return { path: `${path}.length`, expected: e.length, actual: a.length };
    for (let i = 0; i < e.length; i++) {
      if (!Object.is(e[i], a[i])) return { path: `${path}[${i}]`, expected: e[i], actual: a[i] };
    }
    return here;
  }
  if (expected instanceof Map && actual instanceof Map) {
    for (const [key, value] of expected) {
      if (typeof key === 'object' && key !== null) return here;
      const at = `${path}.get(${formatValue(key)})`;
      if (!actual.has(key)) return { path: at, expected: value, actual: undefined };
      if (!deepEqual(value, actual.get(key))) return firstDifference(value, actual.get(key), at, depth + 1);
    }
    return expected.size !== actual.size ? { path: `${path}.size`, expected: expected.size, actual: actual.size } : here;
  }
  const proto: unknown = Object.getPrototypeOf(expected);
  if (proto !== Object.prototype && proto !== null) return here;
  const e = expected as Record<string, unknown>;
  const a = actual as Record<string, unknown>;
  for (const key of new Set([...Object.keys(e), ...Object.keys(a)])) {
    const at = `${path}${/^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`}`;
    if (!Object.hasOwn(e, key) || !Object.hasOwn(a, key)) return { path: at, expected: e[key], actual: a[key] };
    if (!deepEqual(e[key], a[key])) return firstDifference(e[key], a[key], at, depth + 1);
  }
  return here;
}

/** An array element, or something that prints as `<empty item>` for a hole. */
function hole(array: readonly unknown[], i: number): unknown {
  return i in array ? array[i] : { [inspect.custom]: () => '<empty item>' };
}
