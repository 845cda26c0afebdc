/**
 * Compact encoding of what a batch carries across the thread boundary. Structured clone costs about
 * a microsecond per small array in the calling thread, more than a tiny task itself: a batch of
 * 100,000 `[x]` argument lists would cost more to send than to run. When every task of a batch takes
 * the same number of numeric arguments, they travel packed in one Float64Array, transferred, not
 * copied; results that are all numbers (or all booleans) come back the same way. Anything else
 * travels as plain arrays, by structured clone.
 */

/** The arguments of a batch. */
export type EncodedArgs =
  | { readonly kind: 'lists'; readonly lists: readonly (readonly unknown[])[] }
  | { readonly kind: 'numbers'; readonly arity: number; readonly count: number; readonly data: Float64Array };

/** The values of a chunk of outcomes. */
export type EncodedValues =
  | { readonly kind: 'list'; readonly list: readonly unknown[] }
  | { readonly kind: 'numbers'; readonly data: Float64Array }
  | { readonly kind: 'booleans'; readonly data: Uint8Array };

/**
 * Large typed arrays travel in shared memory instead of by structured clone, which copies them for
 * every task (into the message, then out of it in the worker): a shared copy is made once per call
 * and every worker reads it in place, as joblib memory-maps large arrays. Shared memory is costly to
 * allocate and free (each is released only when every thread has let go of it), so an array is
 * shared from {@link SHARE_ALWAYS_BYTES} up, or from {@link SHARE_REPEATED_BYTES} up once a second
 * task of the call gets the same one; smaller or single-use arrays are cloned. (bench W5: 200 tasks
 * each given its own 1 MiB array ran 5x slower with one shared copy per task than cloned.)
 */
export const SHARE_ALWAYS_BYTES = 16 << 20;
export const SHARE_REPEATED_BYTES = 1 << 20;

/** The shared copies of one call, by the caller's buffer. */
export class SharedCopies {
  private readonly copies = new WeakMap<ArrayBufferLike, SharedArrayBuffer>();
  private readonly seen = new WeakSet<ArrayBufferLike>();

  /** A shared copy of `buffer` if it is worth one, else undefined. */
  copyOf(buffer: ArrayBufferLike, viewBytes: number): SharedArrayBuffer | undefined {
    let shared = this.copies.get(buffer);
    if (shared) return shared;
    const repeated = this.seen.has(buffer);
    this.seen.add(buffer);
    if (viewBytes < SHARE_ALWAYS_BYTES && !(repeated && viewBytes >= SHARE_REPEATED_BYTES)) return undefined;
    shared = new SharedArrayBuffer(buffer.byteLength);
    new Uint8Array(shared).set(new Uint8Array(buffer));
    this.copies.set(buffer, shared);
    return shared;
  }
}

/**
 * Replaces large typed-array arguments by views of the same type on a shared copy of their buffer
 * (see {@link SharedCopies}). The caller's arrays are neither detached nor changed; tasks that get the
 * same array in one call share one copy, so they should only read it, and the caller should not
 * change it while the call runs.
 */
export function shareLargeArrays(lists: readonly (readonly unknown[])[], copies: SharedCopies): readonly (readonly unknown[])[] {
  let out: (readonly unknown[])[] | undefined;
  for (let i = 0; i < lists.length; i++) {
    const list = lists[i] as readonly unknown[];
    for (let j = 0; j < list.length; j++) {
      const arg = list[j];
      if (!isLargeUnsharedView(arg)) continue;
      const shared = copies.copyOf(arg.buffer, arg.byteLength);
      if (!shared) continue;
      out ??= lists.slice();
      const copy = (out[i] === list ? (out[i] = list.slice()) : out[i]) as unknown[];
      const length = arg.byteLength / ((arg as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1);
      copy[j] = new arg.constructor(shared, arg.byteOffset, length);
    }
  }
  return out ?? lists;
}

type View = ArrayBufferView & { readonly constructor: new (buffer: ArrayBufferLike, offset: number, length: number) => ArrayBufferView };

function isLargeUnsharedView(value: unknown): value is View {
  return (
    ArrayBuffer.isView(value) &&
    value.byteLength >= SHARE_REPEATED_BYTES &&
    !(value.buffer instanceof SharedArrayBuffer) &&
    !(value instanceof DataView)
  );
}

/** Packs argument lists into one Float64Array when they are all numbers of one arity. */
export function encodeArgs(lists: readonly (readonly unknown[])[]): EncodedArgs {
  const arity = lists[0]?.length ?? 0;
  if (lists.length < 2 || arity === 0) return { kind: 'lists', lists };
  const data = new Float64Array(lists.length * arity);
  for (let i = 0; i < lists.length; i++) {
    const list = lists[i] as readonly unknown[];
    if (list.length !== arity) return { kind: 'lists', lists };
    for (let j = 0; j < arity; j++) {
      const value = list[j];
      if (typeof value !== 'number') return { kind: 'lists', lists };
      data[i * arity + j] = value;
    }
  }
  return { kind: 'numbers', arity, count: lists.length, data };
}

/** Number of tasks in a batch. */
export function argsCount(args: EncodedArgs): number {
  return args.kind === 'lists' ? args.lists.length : args.count;
}

/** Calls `fn` with the arguments of task `i`. */
export function callWithArgs(fn: (...args: unknown[]) => unknown, args: EncodedArgs, i: number): unknown {
  if (args.kind === 'lists') return fn(...(args.lists[i] as unknown[]));
  const { data, arity } = args;
  const at = i * arity;
  switch (arity) {
    case 1:
      return fn(data[at]);
    case 2:
      return fn(data[at], data[at + 1]);
    case 3:
      return fn(data[at], data[at + 1], data[at + 2]);
    default:
      return fn(...data.subarray(at, at + arity));
  }
}

/** Packs a chunk's values when they are all numbers or all booleans. */
export function encodeValues(values: unknown[]): EncodedValues {
  if (values.length < 2) return { kind: 'list', list: values };
  const first = typeof values[0];
  if (first === 'number') {
    const data = new Float64Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (typeof value !== 'number') return { kind: 'list', list: values };
      data[i] = value;
    }
    return { kind: 'numbers', data };
  }
  if (first === 'boolean') {
    const data = new Uint8Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (typeof value !== 'boolean') return { kind: 'list', list: values };
      data[i] = value ? 1 : 0;
    }
    return { kind: 'booleans', data };
  }
  return { kind: 'list', list: values };
}

/** Number of values in a chunk. */
export function valuesCount(values: EncodedValues): number {
  return values.kind === 'list' ? values.list.length : values.data.length;
}

/** Value `i` of a chunk. */
export function valueAt(values: EncodedValues, i: number): unknown {
  switch (values.kind) {
    case 'list':
      return values.list[i];
    case 'numbers':
      return values.data[i];
    case 'booleans':
      return values.data[i] === 1;
  }
}

/** Buffers to transfer rather than copy. */
export function transferables(encoded: EncodedArgs | EncodedValues): ArrayBuffer[] {
  return encoded.kind === 'numbers' || encoded.kind === 'booleans' ? [encoded.data.buffer as ArrayBuffer] : [];
}
