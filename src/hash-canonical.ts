/**
 * Canonical forms in which `hash.ts` walks values: object keys in code-unit order, and the
 * primitive inside a boxed one.
 */
import { types } from 'node:util';

/**
 * Sorts keys by UTF-16 code units, as the default sort does. A few keys, the usual case, are sorted
 * by insertion: Array.prototype.sort allocated about 0.9 KB even for two keys, a quarter of what a
 * cache hit allocated, and the garbage collections that followed took a good part of its time.
 */
export function sortKeys(keys: string[]): void {
  if (keys.length > 16) {
    keys.sort();
    return;
  }
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i] as string;
    let j = i - 1;
    for (; j >= 0 && (keys[j] as string) > key; j--) keys[j + 1] = keys[j] as string;
    keys[j + 1] = key;
  }
}

/** The primitive inside a boxed primitive, read with the intrinsic method (an own `valueOf` could lie). */
export const unbox = (v: object): unknown =>
  types.isNumberObject(v) ? Number.prototype.valueOf.call(v)
  : types.isStringObject(v) ? String.prototype.valueOf.call(v)
  : types.isBooleanObject(v) ? Boolean.prototype.valueOf.call(v)
  : types.isBigIntObject(v) ? BigInt.prototype.valueOf.call(v)
  : Symbol.prototype.valueOf.call(v);
