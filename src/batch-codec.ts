/**
 * Compact encoding of what a batch carries across the thread boundary. Structured clone costs about
 * a microsecond per small array in the calling thread, more than a tiny task itself: a batch of
 * 100,000 `[x]` argument lists would cost more to send than to run. When every task of a batch takes
 * the same number of numeric arguments, they travel packed in typed arrays, transferred, not
 * copied; results that are all numbers (or all booleans) come back the same way. Anything else
 * travels as plain arrays, by structured clone.
 */
import { copyIntoShared, copyStates } from './shared-copy.js';

/**
 * Numbers that are all 32-bit integers travel in an Int32Array, others in a Float64Array. The
 * difference matters to the task: V8 runs integer arithmetic on values read from an Int32Array
 * (small integers), but floating-point arithmetic on whole numbers read from a Float64Array, and a
 * loop of `n % d` ran 5x slower that way (bench: perfect numbers).
 */
type NumberArray = Int32Array | Float64Array;

/** The arguments of a batch. */
export type EncodedArgs =
  | { readonly kind: 'lists'; readonly lists: readonly (readonly unknown[])[] }
  /** One typed array per argument position, so each position gets the narrowest type. */
  | { readonly kind: 'numbers'; readonly count: number; readonly columns: readonly NumberArray[] };

/** The values of a chunk of outcomes. */
export type EncodedValues =
  | { readonly kind: 'list'; readonly list: readonly unknown[] }
  | { readonly kind: 'numbers'; readonly data: NumberArray }
  | { readonly kind: 'booleans'; readonly data: Uint8Array };

function isInt32(value: number): boolean {
  return (value | 0) === value && !Object.is(value, -0);
}

/**
 * Packs numbers in an Int32Array when they are all 32-bit integers, else in a Float64Array: the
 * numbers of `values`, or with `column`, the numbers at that position of each list. Plain loops,
 * not a callback per element: a new callback at each call made V8 recompile its callers.
 */
function packNumbers(values: readonly unknown[], column?: number): NumberArray {
  const count = values.length;
  let integers = true;
  for (let i = 0; i < count && integers; i++) integers = isInt32(numberAt(values, i, column));
  const data = integers ? new Int32Array(count) : new Float64Array(count);
  for (let i = 0; i < count; i++) data[i] = numberAt(values, i, column);
  return data;
}

function numberAt(values: readonly unknown[], i: number, column: number | undefined): number {
  return (column === undefined ? values[i] : (values[i] as readonly unknown[])[column]) as number;
}

/**
 * Large typed arrays travel in shared memory instead of by structured clone, which copies them for
 * every task (into the message, then out of it in the worker): a shared copy is made once per call
 * and every worker reads it in place, as joblib memory-maps large arrays. Shared memory is costly to
 * allocate and free (each is released only when every thread has let go of it), so an array is
 * shared when its buffer has {@link SHARE_ALWAYS_BYTES} or more, or {@link SHARE_REPEATED_BYTES} or
 * more once a second task of the call gets it; smaller or single-use ones are cloned. The buffer's
 * size counts, not the view's: structured clone copies a view's whole buffer. (bench W5: 200 tasks
 * each given its own 1 MiB array ran 5x slower with one shared copy per task than cloned.)
 */
export const SHARE_ALWAYS_BYTES = 16 << 20;
export const SHARE_REPEATED_BYTES = 1 << 20;

/**
 * Smallest copy worth asking idle workers to help with (see shared-copy.ts): a message and a wake-up
 * per worker against about 0.5 ms per MiB of new memory.
 */
export const HELPED_COPY_BYTES = 16 << 20;

/** Asks idle workers to touch the pages of `buffer` while the calling thread copies into it. */
export type CopyHelpers = (buffer: SharedArrayBuffer, states: Int32Array) => void;

/** The shared copies of one call, by the caller's buffer. */
export class SharedCopies {
  private readonly copies = new WeakMap<ArrayBufferLike, SharedArrayBuffer>();
  private readonly seen = new WeakSet<ArrayBufferLike>();
  /** Bytes of the shared copies made so far. */
  bytesCopied = 0;

  constructor(private readonly askHelpers?: CopyHelpers) {}

  /**
   * Whether `view` travels in shared memory rather than copied with its message: it already is in
   * shared memory, or its buffer is large enough (see above; a view of any size then uses the
   * shared copy). The one rule both the batch cutting ({@link fitCopiedBytes}) and the sending
   * ({@link shareLargeArrays}) follow.
   */
  wouldShare(view: ArrayBufferView): boolean {
    const { buffer } = view;
    if (buffer instanceof SharedArrayBuffer) return true;
    const size = buffer.byteLength;
    return size >= SHARE_ALWAYS_BYTES || (size >= SHARE_REPEATED_BYTES && (this.copies.has(buffer) || this.seen.has(buffer)));
  }

  /**
   * The shared copy to send instead of `view`'s buffer, made the first time it is needed; undefined
   * when the view travels as it is (already shared, or not worth sharing, which counts as a use).
   */
  sharedBufferFor(view: ArrayBufferView): SharedArrayBuffer | undefined {
    const { buffer } = view;
    if (buffer instanceof SharedArrayBuffer) return undefined;
    const size = buffer.byteLength;
    if (size < SHARE_REPEATED_BYTES) return undefined; // the common case, at every small array: never shared
    let shared = this.copies.get(buffer);
    if (shared) return shared;
    if (size < SHARE_ALWAYS_BYTES && !this.seen.has(buffer)) {
      this.seen.add(buffer);
      return undefined;
    }
    shared = new SharedArrayBuffer(size);
    if (this.askHelpers && size >= HELPED_COPY_BYTES) {
      const states = copyStates(size);
      this.askHelpers(shared, states);
      copyIntoShared(new Uint8Array(buffer), shared, states);
    } else {
      new Uint8Array(shared).set(new Uint8Array(buffer));
    }
    this.copies.set(buffer, shared);
    this.bytesCopied += size;
    return shared;
  }
}

/**
 * Replaces typed-array (and DataView) arguments that travel shared by views of the same type on a
 * shared copy of their buffer (see {@link SharedCopies}). The caller's arrays are neither detached
 * nor changed; tasks that get the same array in one call share one copy, so they should only read
 * it, and the caller should not change it while the call runs.
 */
export function shareLargeArrays(lists: readonly (readonly unknown[])[], copies: SharedCopies): readonly (readonly unknown[])[] {
  let out: (readonly unknown[])[] | undefined;
  for (let i = 0; i < lists.length; i++) {
    const list = lists[i] as readonly unknown[];
    for (let j = 0; j < list.length; j++) {
      const arg = list[j];
      if (!ArrayBuffer.isView(arg)) continue;
      const shared = copies.sharedBufferFor(arg);
      if (!shared) continue;
      out ??= lists.slice();
      const copy = (out[i] === list ? (out[i] = list.slice()) : out[i]) as unknown[];
      copy[j] = sameViewOn(arg, shared);
    }
  }
  return out ?? lists;
}

/** A view like `view` (type, offset, length) on `buffer`. */
function sameViewOn(view: ArrayBufferView, buffer: SharedArrayBuffer): ArrayBufferView {
  if (view instanceof DataView) return new DataView(buffer, view.byteOffset, view.byteLength);
  if (Buffer.isBuffer(view)) return Buffer.from(buffer, view.byteOffset, view.byteLength); // `new Buffer` is deprecated
  const typed = view as ArrayBufferView & { readonly length: number; readonly constructor: new (b: SharedArrayBuffer, offset: number, length: number) => ArrayBufferView };
  return new typed.constructor(buffer, view.byteOffset, typed.length);
}

/**
 * Most bytes of typed arrays one message copies: {@link fitCopiedBytes} cuts a batch there. Batches
 * of 'auto' are sized by time, and tasks given 1 MiB arrays each made 60 MiB messages, which the
 * calling thread copied into new memory at 3x the cost of 60 one-array messages (bench W5).
 */
export const MAX_COPIED_BYTES = 4 << 20;

/**
 * How many of the tasks `argsAt(0)`, `argsAt(1)`, ... (up to `count`) fit in one message: at least
 * one, then as long as the typed arrays the message would copy stay within {@link MAX_COPIED_BYTES}.
 */
export function fitCopiedBytes(count: number, argsAt: (i: number) => readonly unknown[], copies: SharedCopies): number {
  let bytes = 0;
  // A message copies a buffer once however many tasks hold it, and the whole of it (structured
  // clone keeps a view's offset in its buffer).
  let counted: Set<ArrayBufferLike> | undefined;
  for (let i = 0; i < count; i++) {
    const args = argsAt(i);
    for (let j = 0; j < args.length; j++) {
      const arg = args[j];
      if (typeof arg !== 'object' || arg === null || !ArrayBuffer.isView(arg)) continue;
      const { buffer } = arg;
      if ((counted ??= new Set()).has(buffer) || copies.wouldShare(arg)) continue;
      counted.add(buffer);
      bytes += buffer.byteLength;
    }
    if (bytes > MAX_COPIED_BYTES) return Math.max(1, i);
  }
  return count;
}

/** Packs argument lists into one typed array when they are all numbers of one arity. */
export function encodeArgs(lists: readonly (readonly unknown[])[]): EncodedArgs {
  const arity = lists[0]?.length ?? 0;
  if (lists.length < 2 || arity === 0) return { kind: 'lists', lists };
  for (const list of lists) {
    if (list.length !== arity) return { kind: 'lists', lists };
    for (let j = 0; j < arity; j++) if (typeof list[j] !== 'number') return { kind: 'lists', lists };
  }
  const columns: NumberArray[] = [];
  for (let j = 0; j < arity; j++) columns.push(packNumbers(lists, j));
  return { kind: 'numbers', count: lists.length, columns };
}

/** Number of tasks in a batch. */
export function argsCount(args: EncodedArgs): number {
  return args.kind === 'lists' ? args.lists.length : args.count;
}

/** Calls `fn` with the arguments of task `i`. */
export function callWithArgs(fn: (...args: unknown[]) => unknown, args: EncodedArgs, i: number): unknown {
  if (args.kind === 'lists') return fn(...(args.lists[i] as unknown[]));
  const { columns } = args;
  switch (columns.length) {
    case 1:
      return fn((columns[0] as NumberArray)[i]);
    case 2:
      return fn((columns[0] as NumberArray)[i], (columns[1] as NumberArray)[i]);
    case 3:
      return fn((columns[0] as NumberArray)[i], (columns[1] as NumberArray)[i], (columns[2] as NumberArray)[i]);
    default:
      return fn(...columns.map((column) => column[i]));
  }
}

/** Packs a chunk's values when they are all numbers or all booleans. */
export function encodeValues(values: unknown[]): EncodedValues {
  if (values.length < 2) return { kind: 'list', list: values };
  const first = typeof values[0];
  if (first !== 'number' && first !== 'boolean') return { kind: 'list', list: values };
  for (const value of values) if (typeof value !== first) return { kind: 'list', list: values };
  if (first === 'number') return { kind: 'numbers', data: packNumbers(values) };
  return { kind: 'booleans', data: Uint8Array.from(values as boolean[], (b) => (b ? 1 : 0)) };
}

/** A chunk's values, by position: the typed array itself when they are numbers. */
export function decodeValues(values: EncodedValues): ArrayLike<unknown> {
  switch (values.kind) {
    case 'list':
      return values.list;
    case 'numbers':
      return values.data;
    case 'booleans':
      return Array.from(values.data, (b) => b === 1);
  }
}

/**
 * Below this size a buffer is copied with its message rather than moved: moving one costs about a
 * microsecond more than copying a small one, and most chunks of outcomes are small.
 */
const MOVE_FROM_BYTES = 16 * 1024;

/** Buffers to move (transfer) with the message rather than copy: the large ones. */
export function transferables(encoded: EncodedArgs | EncodedValues, ...views: readonly ArrayBufferView[]): ArrayBuffer[] {
  const buffers: ArrayBufferLike[] =
    'columns' in encoded
      ? encoded.columns.map((column) => column.buffer)
      : encoded.kind === 'numbers' || encoded.kind === 'booleans'
        ? [encoded.data.buffer]
        : [];
  for (const view of views) buffers.push(view.buffer);
  return buffers.filter((buffer): buffer is ArrayBuffer => buffer instanceof ArrayBuffer && buffer.byteLength >= MOVE_FROM_BYTES);
}
