/**
 * Canonical structural hash of JavaScript values: the cache keys of `Memory` (joblib.hash's role).
 *
 * A value is walked once and written as a tagged binary encoding straight into a digest. It is not
 * JSON: every kind of value has its own tag, so `1`, `'1'`, `1n` and `true` differ; numbers go in by
 * their IEEE-754 bits; strings, keys and byte runs carry a length prefix, so that concatenations
 * cannot collide (`['ab', 'c']` vs `['a', 'bc']`). Unordered collections are put in a canonical
 * order: object keys are sorted by code unit, and Map and Set entries are hashed one by one and
 * their digests sorted, so insertion order never reaches the key.
 *
 * Digest: 128 bits, two XXH64 digests of the encoding with different seeds (see `hash-digest.ts` for
 * the choice and its measurements). The walk feeds the digest through a scratch buffer, so that a
 * small value reaches it in one `update` call.
 */
import { types } from 'node:util';
import { ContainerStack } from './container-stack.js';
import { sortKeys, unbox } from './hash-canonical.js';
import { UnhashableError, describeValue } from './errors.js';
import { newDigest } from './hash-digest.js';

/**
 * Version of the encoding. Bump it whenever the bytes written for any value change: it is mixed
 * into every digest, so stored cache keys from an older encoding stop matching instead of aliasing.
 */
export const HASH_FORMAT_VERSION = 2;

/** Scratch buffer size: small scalar encodings accumulate here and reach the digest in few `update` calls. */
const SCRATCH_SIZE = 64 * 1024;
/** Byte runs up to this size are copied into the scratch buffer; larger ones go to the digest as they are. */
const COPY_LIMIT = 1024;

// One-byte type tags. Never renumber them without bumping HASH_FORMAT_VERSION.
const UNDEFINED = 0, NULL = 1, FALSE = 2, TRUE = 3, NUMBER = 4, STRING = 5, BIGINT = 6, HOLE = 7;
const ARRAY = 8, OBJECT = 9, INSTANCE = 10, MAP = 11, SET = 12, DATE = 13, REGEXP = 14, ERROR = 15;
const TYPED_ARRAY = 16, BUFFER = 17, DATA_VIEW = 18, ARRAY_BUFFER = 19, SHARED_ARRAY_BUFFER = 20, BOXED = 21, URL_ = 22;
/** Domains: what was hashed, so that hash(args) and hashArguments(args) differ. */
const DOMAIN_VALUE = 0x56, DOMAIN_ARGS = 0x41; // 'V', 'A'
/** Length marker for a string that is not well-formed UTF-16 (lone surrogates), which UTF-8 cannot carry. */
const UTF16_MARKER = 0xffffffff;

/** %TypedArray%.prototype[@@toStringTag]: the element type of a typed array from its internal slot. */
const typedArrayName = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype) as object,
  Symbol.toStringTag,
)!.get as (this: ArrayBufferView) => string | undefined;
/** String.prototype.isWellFormed (Node 20; absent from the ES2023 lib typings). */
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** One step of the path to a value, rendered only when an error needs it. */
type Segment = number | string | { readonly in: 'key' | 'value' | 'element'; readonly key: unknown; readonly index: number };

/** The encoder kept between calls; taken while in use, so a re-entrant call (from a getter) gets its own. */
let spareEncoder: Encoder | undefined;

/** Walks one value into a digest. */
class Encoder {
  private pos = 0;
  private readonly buf = Buffer.allocUnsafeSlow(SCRATCH_SIZE);
  private readonly view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  private readonly path: Segment[] = [];
  /** Containers being walked (met again there: a cycle, not a shared value). */
  private readonly ancestors = new ContainerStack();
  private root = '';
  /** The encoder's own digest: a re-entrant hash gets a new encoder, and so a digest of its own. */
  private readonly digest = newDigest();

  /** Gets ready to walk a new value ({@link release} cleared what the last walk left). */
  start(root: string): void {
    this.root = root;
    this.digest.reset();
    this.pos = 0;
  }

  /** Lets go of the walked value's containers and path. */
  forget(): void {
    if (this.path.length > 0) this.path.length = 0; // a walk a throw cut short (an emptied array would let go of its storage)
    this.ancestors.clear();
  }

  /** The digest, as 32 hex characters. */
  finish(): string {
    this.flush();
    return this.digest.hex();
  }

  private flush(): void {
    if (this.pos > 0) this.digest.update(this.buf.subarray(0, this.pos));
    this.pos = 0;
  }
  private ensure(n: number): void { if (this.pos + n > SCRATCH_SIZE) this.flush(); }
  byte(b: number): void {
    if (this.pos >= SCRATCH_SIZE) this.flush();
    this.buf[this.pos++] = b;
  }
  private u32(n: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, n, true);
    this.pos += 4;
  }
  private f64(n: number): void {
    this.ensure(8);
    if (n !== n) { // every NaN is the same NaN: write one canonical bit pattern
      this.view.setUint32(this.pos, 0, true);
      this.view.setUint32(this.pos + 4, 0x7ff80000, true);
    } else this.view.setFloat64(this.pos, n, true);
    this.pos += 8;
  }
  /** Raw bytes, length-prefixed. */
  private bytes(u8: Uint8Array): void {
    this.f64(u8.byteLength);
    this.raw(u8);
  }
  /** Large runs go to the digest as they are, without a copy; small ones join the scratch buffer. */
  private raw(u8: Uint8Array): void {
    if (u8.byteLength <= COPY_LIMIT) {
      this.ensure(u8.byteLength);
      this.buf.set(u8, this.pos);
      this.pos += u8.byteLength;
    } else {
      this.flush();
      this.digest.update(u8);
    }
  }
  /** A string as its UTF-8 byte length and bytes (no tag: object keys use this too). */
  private str(s: string): void {
    const n = s.length;
    if (n * 3 + 4 > SCRATCH_SIZE) {
      if (!isWellFormed(s)) return this.utf16(s);
      const utf8 = Buffer.from(s, 'utf8');
      this.u32(utf8.length);
      this.flush();
      return void this.digest.update(utf8);
    }
    this.ensure(n * 3 + 4);
    const start = this.pos + 4;
    let i = 0;
    // ASCII fast path: most keys and short strings never reach the native UTF-8 encoder.
    while (i < n && i < 64) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      this.buf[start + i++] = c;
    }
    if (i < n) {
      if (!isWellFormed(s)) return this.utf16(s);
      i = this.buf.write(s, start, 'utf8');
    }
    this.view.setUint32(this.pos, i, true);
    this.pos = start + i;
  }
  /** Lone surrogates would all become U+FFFD in UTF-8 and collide, so such strings go in as UTF-16. */
  private utf16(s: string): void {
    this.u32(UTF16_MARKER);
    this.bytes(Buffer.from(s, 'utf16le'));
  }

  /** Any value, dispatched on its type. */
  value(v: unknown): void {
    switch (typeof v) {
      case 'number': this.byte(NUMBER); return this.f64(v);
      case 'string': this.byte(STRING); return this.str(v);
      case 'boolean': return this.byte(v ? TRUE : FALSE);
      case 'undefined': return this.byte(UNDEFINED);
      case 'bigint':
        this.byte(BIGINT);
        this.byte(v < 0n ? 1 : 0);
        return this.str((v < 0n ? -v : v).toString(16));
      case 'object':
        if (v === null) return this.byte(NULL);
        return this.object(v);
      case 'function':
        throw this.refuse(`${describeValue(v)} has no stable value to key a cache on`);
      default:
        throw this.refuse(`a symbol (${String(v)}) has no identity outside this process`);
    }
  }

  private object(v: object): void {
    if (ArrayBuffer.isView(v)) return this.arrayBufferView(v);
    if (Array.isArray(v)) return this.array(v, v.length);
    const proto = Object.getPrototypeOf(v) as object | null;
    if (proto === Object.prototype || proto === null) {
      this.enter(v);
      this.byte(OBJECT);
      this.props(v);
      return this.leave();
    }
    if (types.isDate(v)) { this.byte(DATE); return this.f64(Date.prototype.getTime.call(v)); }
    if (types.isRegExp(v)) { this.byte(REGEXP); this.str(v.source); return this.str(v.flags); }
    if (types.isMap(v)) return this.unordered(v, MAP);
    if (types.isSet(v)) return this.unordered(v, SET);
    if (types.isArrayBuffer(v)) { this.byte(ARRAY_BUFFER); return this.bytes(new Uint8Array(v)); }
    if (types.isSharedArrayBuffer(v)) { this.byte(SHARED_ARRAY_BUFFER); return this.bytes(new Uint8Array(v)); }
    // URL keeps its state in private fields, which the own-property rule below would not see.
    if (v instanceof URL) { this.byte(URL_); return this.str(v.href); }
    if (types.isBoxedPrimitive(v)) { this.byte(BOXED); return this.value(unbox(v)); }
    if (types.isPromise(v)) throw this.refuse('a Promise has no value yet: await it before calling');
    if (types.isWeakMap(v) || types.isWeakSet(v) || v instanceof WeakRef) {
      throw this.refuse(`${describeValue(v)} cannot be enumerated`);
    }
    if (types.isNativeError(v) || v instanceof Error) {
      const error = v as Error;
      this.enter(v);
      // The stack is left out: it names files and lines, not the value.
      this.byte(ERROR);
      this.str(String(error.name));
      this.str(String(error.message));
      const hasCause = Object.hasOwn(error, 'cause');
      this.byte(hasCause ? 1 : 0);
      if (hasCause) this.at('cause', error.cause);
      this.props(v);
      return this.leave();
    }
    const ctor = (proto as { constructor?: unknown }).constructor;
    this.enter(v);
    this.byte(INSTANCE);
    this.str(typeof ctor === 'function' ? ctor.name : '');
    this.props(v);
    this.leave();
  }

  /** Typed arrays by element type, length and bytes; only the bytes a view covers. */
  private arrayBufferView(v: ArrayBufferView): void {
    const u8 = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    if (types.isDataView(v)) { this.byte(DATA_VIEW); return this.bytes(u8); }
    if (Buffer.isBuffer(v)) { this.byte(BUFFER); return this.bytes(u8); }
    this.byte(TYPED_ARRAY);
    this.str(typedArrayName.call(v) ?? '');
    this.bytes(u8);
  }

  /** Elements in order; a hole is not `undefined`. `length` lets hashArguments drop trailing `undefined`. */
  array(a: readonly unknown[], length: number): void {
    this.enter(a);
    this.byte(ARRAY);
    this.u32(length);
    const depth = this.path.push(0) - 1;
    for (let i = 0; i < length; i++) {
      const x = a[i];
      if (x === undefined && !(i in a)) { this.byte(HOLE); continue; }
      this.path[depth] = i;
      this.value(x);
    }
    this.path.pop();
    this.leave();
  }

  /** Own enumerable string-keyed properties, sorted by code unit so that key order does not count. */
  private props(o: object): void {
    const keys = Object.keys(o);
    if (keys.length > 1) sortKeys(keys);
    this.u32(keys.length);
    for (const key of keys) {
      this.str(key);
      this.at(key, (o as Record<string, unknown>)[key]);
    }
    for (const sym of Object.getOwnPropertySymbols(o)) {
      // Ignoring it would let two different values share a key; refusing says so.
      if (Object.prototype.propertyIsEnumerable.call(o, sym)) {
        throw this.refuse(`it has a property keyed by a symbol (${String(sym)}), which has no identity outside this process`);
      }
    }
  }

  /** Map and Set: each entry hashed on its own, then the digests sorted, so insertion order does not count. */
  private unordered(c: Map<unknown, unknown> | Set<unknown>, tag: number): void {
    this.enter(c);
    const digests: Uint8Array[] = [];
    let index = 0;
    this.flush(); // the scratch buffer is shared: empty it before and after each entry's digest
    // Each entry is digested by the same digest object, its state set aside meanwhile.
    const outer = this.digest.save();
    for (const [key, val] of c.entries()) {
      this.digest.reset();
      if (tag === SET) this.at({ in: 'element', key, index }, key);
      else {
        this.at({ in: 'key', key, index }, key);
        this.at({ in: 'value', key, index }, val);
      }
      this.flush();
      digests.push(this.digest.bytes());
      index++;
    }
    this.digest.load(outer); // after a throw the digest is reset before its next use, so no finally is needed
    digests.sort(Buffer.compare);
    this.byte(tag);
    this.u32(digests.length);
    for (const d of digests) this.raw(d);
    this.leave();
  }

  /** Marks a container as being walked, refusing it if it is its own ancestor (a cycle; a shared value is fine). */
  private enter(v: object): void {
    const seenAt = this.ancestors.enter(v);
    if (seenAt >= 0) {
      const again = renderPath(this.root, this.path.slice(0, seenAt));
      throw this.refuse(`a cycle (this is ${again} again, inside itself)`);
    }
  }
  private leave(): void { this.ancestors.leave(); }

  private at(segment: Segment, v: unknown): void {
    this.path.push(segment);
    this.value(v);
    this.path.pop();
  }

  private refuse(reason: string): UnhashableError {
    const where = renderPath(this.root, this.path);
    const advice = 'Leave this parameter out of the cache key (ignore it) or pass plain data instead.';
    return new UnhashableError(`Cannot hash ${where}: ${reason}. ${advice}`, where);
  }
}

/** `args[1].model.fn`, `value.m.get("k")`, `value.s.values()[2]`. */
function renderPath(root: string, path: readonly Segment[]): string {
  let out = root;
  for (const s of path) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (typeof s === 'string') out += IDENTIFIER.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`;
    else if (s.in === 'key') out += `.keys()[${s.index}]`;
    else if (s.in === 'value' && typeof s.key === 'string') out += `.get(${JSON.stringify(s.key)})`;
    else if (s.in === 'value' && (typeof s.key === 'number' || s.key == null)) out += `.get(${String(s.key)})`;
    else out += `.values()[${s.index}]`;
  }
  return out;
}

/** Takes the shared encoder (or a new one if a getter re-entered), started on its digest. */
function startEncoder(root: string, domain: number): Encoder {
  const e = spareEncoder ?? new Encoder();
  spareEncoder = undefined;
  e.start(root);
  e.byte(HASH_FORMAT_VERSION);
  e.byte(domain);
  return e;
}

/** Gives the encoder and its digest back, holding nothing of the value (a walk a throw cut short leaves it mid-way). */
function release(e: Encoder): void {
  e.forget();
  spareEncoder = e;
}

/**
 * Canonical structural hash of a value: 128 bits as 32 lowercase hex characters, equal for values
 * of equal structure in any process. Object keys, Map entries and Set elements are unordered;
 * arrays are ordered, with holes distinct from `undefined`; numbers count by their bits (`0` and
 * `-0` differ, every `NaN` is equal); typed arrays count by element type and bytes. Class instances
 * count by constructor name and own enumerable properties (not private fields), errors by name,
 * message, cause and own properties (not the stack), arrays by their elements only.
 *
 * @throws {UnhashableError} (`ERR_UNHASHABLE`) for a function, a symbol, a WeakMap, WeakSet,
 *   WeakRef or Promise, or a cycle, anywhere inside; its `path` says where (`value.model.fn`).
 */
export function hash(value: unknown): string {
  const e = startEncoder('value', DOMAIN_VALUE);
  try {
    e.value(value);
    return e.finish();
  } finally {
    release(e);
  }
}

/**
 * Hash of a call's argument list, the cache key of a memoized call. Trailing `undefined`
 * arguments hash like omitted ones, so `f(1)` and `f(1, undefined)` share a key. Hashes
 * differently from `hash(args)`.
 *
 * @throws {UnhashableError} (`ERR_UNHASHABLE`) as {@link hash} does, with paths such as `args[1].model.fn`.
 */
export function hashArguments(args: readonly unknown[]): string {
  let length = args.length;
  while (length > 0 && args[length - 1] === undefined) length--;
  const e = startEncoder('args', DOMAIN_ARGS);
  try {
    e.array(args, length);
    return e.finish();
  } finally {
    release(e);
  }
}
