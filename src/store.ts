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
  /** Whether `key` has an entry (its value is not read, so a broken value file still counts). */
  has(key: string): Promise<boolean>;
  /**
   * Stores `entries` in ONE transaction: after a failure none of them is written. An entry whose
   * value cannot be encoded is skipped with an `UNSERIALIZABLE_VALUE` warning and the others are
   * stored. When two entries have the same key, the last one wins.
   * @returns the bytes of the values stored (so that callers can keep a running total)
   * @throws CacheUnwritableError when the location cannot be created or written
   */
  setMany(entries: readonly NewEntry[]): Promise<number>;
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
  /** Writes the pending {@link CacheStore.touch} records. */
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
   * - `STORE_ERROR`: a background operation (flushing touches, opening for a read) failed.
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
    byKey.set(key, { key, bytes, meta: { fn, args, size: bytes.length, createdAt, lastUsedAt: createdAt, durationMs } });
  }
  return [...byKey.values()];
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
