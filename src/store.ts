/**
 * The contract between `Memory` and the place where cached results live, and the encoding of a
 * stored value. Nothing here does I/O: `sqlite-store.ts` is the default implementation, and a test
 * suite (`test/store.test.ts`) is written against this contract so that another store can be checked
 * the same way.
 */
import { deserialize, serialize } from 'node:v8';

/** What is recorded about one stored result, next to its value. */
export interface EntryMeta {
  /** Identity of the function that computed the value, e.g. `"fit@3f2a…"` or a task module + name. */
  readonly fn: string;
  /** Short human summary of the arguments (at most {@link MAX_ARGS_SUMMARY} characters). */
  readonly args: string;
  /** Bytes of the encoded value (see {@link encodeValue}). */
  readonly size: number;
  /** When the value was stored, in ms since the epoch. */
  readonly createdAt: number;
  /** When the value was last stored or used ({@link CacheStore.touch}), in ms since the epoch. */
  readonly lastUsedAt: number;
  /** How long the computation took, in ms. */
  readonly durationMs: number;
}

/** A value read back from a store, with its metadata. */
export interface StoredEntry {
  /** The value as it was stored; `undefined` is a real value here (a miss is no entry at all). */
  readonly value: unknown;
  /** Its metadata. */
  readonly meta: EntryMeta;
}

/** A value to store. The store computes `size` and sets `lastUsedAt` to `createdAt`. */
export interface NewEntry {
  /** The cache key. */
  readonly key: string;
  /** The value: anything {@link encodeValue} accepts. */
  readonly value: unknown;
  /** Its metadata, less what the store works out itself. */
  readonly meta: Omit<EntryMeta, 'size' | 'lastUsedAt'>;
}

/** Options of {@link CacheStore.setMany}. */
export interface SetOptions {
  /** Resolve once the entries are visible to this process, and write them soon after. @default false */
  readonly defer?: boolean;
}

/** A key's metadata, as {@link CacheStore.list} reports it. */
export type ListedEntry = EntryMeta & { readonly key: string };

/**
 * Where cached results live. Every method may be called concurrently with the others, from this
 * process and from other processes sharing the same location.
 */
export interface CacheStore {
  /**
   * The entries of `keys`, in the same order. A miss, a corrupt value or a missing value file is
   * `undefined`; the latter two also raise a warning (`CORRUPT_ENTRY`, `MISSING_VALUE_FILE`) and the
   * broken entry is deleted. Reading does not record use: call {@link CacheStore.touch} for that.
   */
  getMany(keys: readonly string[]): Promise<(StoredEntry | undefined)[]>;
  /**
   * The entry of `key` if this process holds it in memory (recently stored or read), without I/O
   * and synchronously; `undefined` when a {@link CacheStore.getMany} would have to look further.
   * Like getMany, it returns a value of its own to each call, and does not record use.
   */
  peek(key: string): StoredEntry | undefined;
  /** Whether `key` has an entry (its value is not read, so a broken value file still counts). */
  has(key: string): Promise<boolean>;
  /**
   * Stores `entries` in ONE transaction: after a failure none of them is written. An entry whose
   * value cannot be encoded is skipped with an `UNSERIALIZABLE_VALUE` warning and the others are
   * stored. When two entries have the same key, the last one wins. Values are encoded before this
   * returns, so changing them afterwards does not change what is stored.
   *
   * With `defer`, it resolves as soon as the entries are visible to this process's reads; they are
   * written soon after, together with the other deferred writes of that moment, in one transaction
   * (write-behind). {@link CacheStore.flush} and {@link CacheStore.close} write them at once, and
   * so does the end of the process when it exits by running out of work. A deferred write that fails
   * is dropped with a `STORE_ERROR` warning: the results are computed again when next needed.
   * @returns the bytes of the values stored (so that callers can keep a running total)
   * @throws CacheUnwritableError when the location cannot be created or written (with `defer`: when
   *   it cannot be created or opened for writing)
   */
  setMany(entries: readonly NewEntry[], options?: SetOptions): Promise<number>;
  /** Deletes the entries of `keys`; resolves to the number of entries that existed. */
  deleteMany(keys: readonly string[]): Promise<number>;
  /** Deletes every entry in this location. */
  clear(): Promise<void>;
  /** The metadata of every entry; values are not loaded. */
  list(): Promise<ListedEntry[]>;
  /**
   * Records that `keys` were used at `at` (default: now). Written lazily: batched, flushed within
   * about a second, and by {@link CacheStore.flush} and {@link CacheStore.close}.
   */
  touch(keys: readonly string[], at?: number): void;
  /** Writes the deferred writes and the pending {@link CacheStore.touch} records. */
  flush(): Promise<void>;
  /** Flushes, then releases the store; later calls reject. Calling it twice is harmless. */
  close(): Promise<void>;
}

/** Something went wrong that the store handled on its own (the call itself did not fail). */
export interface StoreWarning {
  /**
   * - `CORRUPT_ENTRY`: a stored value could not be decoded or failed its checksum (entry deleted).
   * - `MISSING_VALUE_FILE`: the file of a large value is gone (entry deleted).
   * - `UNSERIALIZABLE_VALUE`: `setMany` skipped a value that cannot be encoded.
   * - `STORE_ERROR`: a background operation (a deferred write, flushing touches, opening for a read) failed.
   */
  readonly code: 'CORRUPT_ENTRY' | 'MISSING_VALUE_FILE' | 'UNSERIALIZABLE_VALUE' | 'STORE_ERROR';
  /** The key concerned, when there is one. */
  readonly key?: string;
  /** What happened, for a human. */
  readonly message: string;
  /** The underlying error, when there is one. */
  readonly cause?: unknown;
}

/** Longest `args` summary a store keeps; longer ones are cut (the summary is for humans only). */
export const MAX_ARGS_SUMMARY = 200;

/** An entry ready to be written: its value encoded, its metadata complete. */
export interface EncodedEntry {
  readonly key: string;
  readonly bytes: Buffer;
  readonly meta: EntryMeta;
  /** What reads can use instead of decoding `bytes` (see {@link decodedCopy}). */
  readonly decoded: Decoded | null;
}

/**
 * A decoded value kept next to its bytes: reads share it (`copy: false`, a primitive) or copy it
 * with {@link copyPlain} (a plain tree), which is several times cheaper than decoding the bytes.
 */
export interface Decoded {
  readonly value: unknown;
  readonly copy: boolean;
}

/** Encodings from this size on are decoded on each read: a decoded copy would double their memory. */
const MAX_DECODED_BYTES = 1024 * 1024;

/**
 * What reads of `value` (whose encoding has `size` bytes) can reuse, or `null` when they must
 * decode. A plain tree is copied here, so that the owner of `value` may go on changing it.
 */
export function decodedCopy(value: unknown, size: number): Decoded | null {
  if (isPrimitive(value)) return { value, copy: false };
  return size < MAX_DECODED_BYTES && isPlainTree(value) ? { value: copyPlain(value), copy: true } : null;
}

/**
 * The first step of every store's `setMany`, so that all stores agree on it: encodes each value,
 * completes its metadata (`size`, `lastUsedAt` = `createdAt`, `args` cut to
 * {@link MAX_ARGS_SUMMARY}), keeps only the last entry of a key, and skips a value that cannot be
 * encoded with an `UNSERIALIZABLE_VALUE` warning (even when an earlier entry of its key could be).
 */
export function encodeEntries(entries: readonly NewEntry[], warn: (warning: StoreWarning) => void): EncodedEntry[] {
  const byKey = new Map<string, EncodedEntry>();
  for (const { key, value, meta } of entries) {
    byKey.delete(key); // a later entry replaces an earlier one, even if it is then skipped
    let bytes: Buffer;
    try {
      bytes = encodeValue(value);
    } catch (error) {
      const message = `result of ${meta.fn} for cache entry ${key} not stored: ${error instanceof Error ? error.message : String(error)}`;
      warn({ code: 'UNSERIALIZABLE_VALUE', key, message, cause: error });
      continue;
    }
    const { fn, createdAt, durationMs } = meta;
    const args = meta.args.length > MAX_ARGS_SUMMARY ? `${meta.args.slice(0, MAX_ARGS_SUMMARY - 1)}…` : meta.args;
    const decoded = decodedCopy(value, bytes.length);
    byKey.set(key, { key, bytes, decoded, meta: { fn, args, size: bytes.length, createdAt, lastUsedAt: createdAt, durationMs } });
  }
  return [...byKey.values()];
}

/** Whether `value` is a primitive, which nobody can change and which decodes to itself. */
const isPrimitive = (value: unknown): boolean => value === null || (typeof value !== 'object' && typeof value !== 'function');

/**
 * Whether {@link copyPlain} copies `value` exactly: a tree (no object reached twice, so no cycle and
 * no shared part) of primitives, plain objects, dense arrays without other properties, typed arrays
 * (not DataView), Dates, Maps and Sets. That is most results, and copying them this way is several
 * times cheaper than decoding their bytes again; anything else is decoded each time.
 */
function isPlainTree(value: unknown): boolean {
  try {
    return plainTree(value, new Set());
  } catch {
    return false; // nested too deep for the stack: decoding handles it
  }
}

function plainTree(value: unknown, seen: Set<object>): boolean {
  if (isPrimitive(value)) return true;
  const object = value as object;
  if (seen.has(object)) return false;
  seen.add(object);
  const proto = Object.getPrototypeOf(object) as object | null;
  if (proto === Object.prototype) {
    // An own "__proto__" (which decoding can produce) would set the prototype of a copy made by assignment.
    return !Object.hasOwn(object, '__proto__') && Object.values(object).every((v) => plainTree(v, seen));
  }
  if (Array.isArray(object)) {
    return proto === Array.prototype && Object.keys(object).length === object.length && object.every((v) => plainTree(v, seen));
  }
  if (ArrayBuffer.isView(object)) return TYPED_ARRAY_PROTOTYPES.has(proto);
  if (object instanceof Date) return proto === Date.prototype;
  if (object instanceof Map) return proto === Map.prototype && [...object].every(([k, v]) => plainTree(k, seen) && plainTree(v, seen));
  if (object instanceof Set) return proto === Set.prototype && [...object].every((v) => plainTree(v, seen));
  return false;
}

/** Prototypes of the typed arrays that decoding restores as such (not DataView, nor subclasses). */
const TYPED_ARRAY_PROTOTYPES = new Set<object | null>([Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array,
  Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array, Buffer].map((c) => c.prototype));

/**
 * A copy of a typed array or Buffer. Small ones take their memory from Node's Buffer pool, as
 * decoding does (allocating an ArrayBuffer of its own costs more than copying 100 bytes).
 */
function copyView(view: ArrayBufferView): ArrayBufferView {
  const bytes = Buffer.allocUnsafe(view.byteLength); // the pool hands out 8-byte-aligned slices
  bytes.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
  if (Buffer.isBuffer(view)) return bytes;
  const TypedArray = (Object.getPrototypeOf(view) as { constructor: new (b: ArrayBufferLike, o: number, n: number) => ArrayBufferView }).constructor;
  return new TypedArray(bytes.buffer, bytes.byteOffset, (view as Uint8Array).length);
}

/** A deep copy of a value for which {@link isPlainTree} holds. */
export function copyPlain<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((v) => copyPlain(v)) as T;
  if (ArrayBuffer.isView(value)) return copyView(value) as T;
  if (value instanceof Date) return new Date(value.getTime()) as T;
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [copyPlain(k), copyPlain(v)])) as T;
  if (value instanceof Set) return new Set([...value].map(copyPlain)) as T;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) out[key] = copyPlain((value as Record<string, unknown>)[key]);
  return out as T;
}

/*
 * Envelope of an encoded value:
 *   bytes 0-3   magic "JLTS" (so that foreign or garbled bytes are refused, not misread)
 *   byte  4     format version (so that a later layout can still read, or clearly refuse, this one)
 *   bytes 5-10  payload length, unsigned little-endian (so that truncation is detected)
 *   bytes 11-   payload: node:v8 `serialize` (the structured-clone format)
 * v8's format is used, not JSON, because it keeps what JSON loses: undefined, NaN, -0, BigInt, Map,
 * Set, Date, RegExp, typed arrays and Buffers, sparse arrays, shared and cyclic references. Newer
 * Node versions read what older ones wrote.
 */
const MAGIC = Buffer.from('JLTS', 'latin1');
/** Version of the envelope written by {@link encodeValue}. */
export const VALUE_FORMAT_VERSION = 1;
const HEADER_BYTES = 11;
const LENGTH_BYTES = 6;

/** A value cannot be encoded: it holds a function, a symbol, a WeakMap, a class with native state... */
export class UnserializableValueError extends Error {
  override get name(): string {
    return 'UnserializableValueError';
  }
}

/** Stored bytes are not a value this version can decode (garbled, truncated, or from a newer format). */
export class CorruptValueError extends Error {
  override get name(): string {
    return 'CorruptValueError';
  }
}

/**
 * Encodes `value` into the bytes that a store keeps. Plain objects, arrays, Map, Set, Date, RegExp,
 * BigInt, typed arrays, Buffer, Error and cycles round-trip exactly ({@link decodeValue}); class
 * instances come back as plain objects (their prototype is not kept), as with `structuredClone`.
 * @throws UnserializableValueError for a function, symbol or other value v8 cannot clone
 */
export function encodeValue(value: unknown): Buffer {
  let payload: Buffer;
  try {
    payload = serialize(value);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new UnserializableValueError(`the value cannot be encoded (${detail})`, { cause: error });
  }
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  MAGIC.copy(out, 0);
  out.writeUInt8(VALUE_FORMAT_VERSION, 4);
  out.writeUIntLE(payload.length, 5, LENGTH_BYTES);
  payload.copy(out, HEADER_BYTES);
  return out;
}

/** Options of {@link decodeValue}. */
export interface DecodeOptions {
  /**
   * The caller hands `buf` over and will not use it again, so it need not be copied. By default the
   * payload is copied first, because node:v8 returns typed arrays and Buffers as views over the
   * input: without the copy, a caller mutating a decoded typed array would change the cached bytes.
   * @default false
   */
  readonly consume?: boolean;
}

/**
 * Decodes bytes made by {@link encodeValue}. Each call returns a fresh value that shares no memory
 * with `buf` (unless `consume`): callers never share mutable objects through a cache.
 * @throws CorruptValueError when `buf` is not a complete envelope of a known version
 */
export function decodeValue(buf: Uint8Array, options: DecodeOptions = {}): unknown {
  const bytes = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (bytes.length < HEADER_BYTES || !bytes.subarray(0, 4).equals(MAGIC)) {
    throw new CorruptValueError('not an encoded cache value (bad header)');
  }
  const version = bytes.readUInt8(4);
  if (version !== VALUE_FORMAT_VERSION) {
    throw new CorruptValueError(`cache value format ${version} is not supported (this version reads ${VALUE_FORMAT_VERSION})`);
  }
  const length = bytes.readUIntLE(5, LENGTH_BYTES);
  if (bytes.length !== HEADER_BYTES + length) {
    throw new CorruptValueError(`cache value is ${bytes.length - HEADER_BYTES} bytes long instead of ${length} (truncated?)`);
  }
  try {
    const payload = bytes.subarray(HEADER_BYTES);
    return deserialize(options.consume === true ? payload : Buffer.from(payload));
  } catch (error) {
    throw new CorruptValueError('cache value cannot be decoded', { cause: error });
  }
}
