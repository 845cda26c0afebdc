/**
 * `memory.cache(fn)`: the cached function, its key (function identity + argument hash), and the hook
 * through which Parallel answers cached tasks without dispatching them.
 */
import { performance } from 'node:perf_hooks';
import type { AnyFunction } from './delayed.js';
import { InvalidOptionError, JoblibError, describeValue } from './errors.js';
import { parameterNames } from './free-identifiers.js';
import type { FunctionIdentity } from './fn-identity.js';
import { hash, hashArguments } from './hash.js';
import type { EntryMeta } from './store.js';

/** Options of `memory.cache(fn, options)`. */
export interface CacheOptions {
  /** Parameter names (from the function's signature) left out of the key, such as `verbose`. */
  readonly ignore?: readonly string[];
  /** Replaces the hash of the function's source: entries stay valid until you change it. */
  readonly version?: string;
  /** Decides whether a stored entry is still good (joblib's cache_validation_callback). */
  readonly validate?: (metadata: EntryMetadata) => boolean;
  /** Entries older than this many ms (since they were computed) are computed again. */
  readonly expiresAfter?: number;
}

/** What is known about a stored result. */
export interface EntryMetadata {
  /** Name of the cached function. */
  readonly functionName: string;
  /** Short summary of the arguments. */
  readonly args: string;
  /** Bytes the stored value takes. */
  readonly size: number;
  /** When it was computed (ms since epoch). */
  readonly createdAt: number;
  /** When it was last used (ms since epoch). */
  readonly lastUsedAt: number;
  /** How long the computation took (ms). */
  readonly durationMs: number;
}

/** A result stored by `callAndShelve`, loaded only when asked. */
export interface ShelvedResult<R> {
  /** The cache key of the result. */
  readonly key: string;
  /** Loads the value; rejects once the entry was cleared. */
  get(): Promise<R>;
  /** Removes the entry from the cache. */
  clear(): Promise<void>;
}

/** A function wrapped by `memory.cache`: same parameters, returns a promise of the result. */
export interface CachedFunction<F extends AnyFunction> {
  (...args: Parameters<F>): Promise<Awaited<ReturnType<F>>>;
  /** The function that is cached. */
  readonly func: F;
  /** Whether a valid result for these arguments is stored. */
  checkCallInCache(...args: Parameters<F>): Promise<boolean>;
  /** Removes every stored result of this function. */
  clear(): Promise<void>;
  /** Computes again whatever is stored, stores the result and returns it with its metadata. */
  recompute(...args: Parameters<F>): Promise<{ value: Awaited<ReturnType<F>>; metadata: EntryMetadata }>;
  /** Makes sure the result is stored, and returns a reference that loads it when asked. */
  callAndShelve(...args: Parameters<F>): Promise<ShelvedResult<Awaited<ReturnType<F>>>>;
}

/** A computed result to store. */
export interface ComputedResult {
  readonly key: string;
  readonly args: readonly unknown[];
  readonly value: unknown;
  readonly durationMs: number;
}

/** What Memory provides to a cached function (the store behind it, or nothing with `location: null`). */
export interface CacheBackend {
  readonly enabled: boolean;
  /** Valid stored values for these keys (`undefined` for a miss); hits are recorded as used. */
  lookup(identity: FunctionIdentity, keys: readonly string[], validate: (meta: EntryMeta) => boolean): Promise<({ value: unknown; meta: EntryMeta } | undefined)[]>;
  /**
   * The valid value of `key` if this process holds it in memory, found synchronously (a hit recorded
   * as used); `undefined` when {@link CacheBackend.lookup} must be asked.
   */
  peek(key: string, validate: (meta: EntryMeta) => boolean): { value: unknown } | undefined;
  /** Stores results (written behind: visible to this process at once, committed soon after). */
  store(identity: FunctionIdentity, results: readonly ComputedResult[]): Promise<void>;
  /** Drops entries of older versions of this function, once per identity and opening of the store. */
  retire(identity: FunctionIdentity): Promise<void>;
  /** Whether {@link retire} has ended for this identity since the store was (re)opened. */
  isRetired(identity: FunctionIdentity): boolean;
  /** Removes this function's entries (every version). */
  clearFunction(identity: FunctionIdentity): Promise<void>;
  deleteKeys(keys: readonly string[]): Promise<void>;
  /** Prints `message()` when the Memory's verbosity is `level` or more (built only then: hits are hot). */
  log(level: number, message: () => string): void;
}

/** The part of a cached function that Parallel uses: it looks tasks up before dispatching them. */
export interface CachedCall {
  readonly inner: AnyFunction;
  readonly enabled: boolean;
  keyFor(args: readonly unknown[]): string;
  lookup(keys: readonly string[]): Promise<({ value: unknown } | undefined)[]>;
  store(results: readonly ComputedResult[]): Promise<void>;
}

/** Where a cached function keeps its {@link CachedCall} (a registered symbol: works across copies). */
export const CACHED_CALL: unique symbol = Symbol.for('joblib-ts.cached-call') as never;

/** The Parallel hook of a cached function, if `fn` is one. */
export function cachedCallOf(fn: unknown): CachedCall | undefined {
  return typeof fn === 'function' ? (fn as unknown as Record<symbol, CachedCall | undefined>)[CACHED_CALL] : undefined;
}

/** Builds the cached version of `fn`. */
export function makeCachedFunction<F extends AnyFunction>(
  fn: F,
  identity: FunctionIdentity,
  options: CacheOptions,
  backend: CacheBackend,
): CachedFunction<F> {
  const ignored = ignoreRule(fn, options.ignore ?? []);
  const validate = validator(options, identity);
  const inFlight = new Map<string, Promise<unknown>>();

  const keyPrefix = `${hash(identity.id).slice(0, 16)}-`; // computed once: every key of this function starts with it
  const ignoresNothing = ignored.positions.size === 0 && ignored.restFrom === Infinity;
  const keyFor = (args: readonly unknown[]): string => {
    const kept = ignoresNothing ? args : args.map((arg, i) => (isIgnored(ignored, i) ? undefined : arg));
    return keyPrefix + hashArguments(kept);
  };
  const computeAndStore = async (key: string, args: readonly unknown[]) => {
    const started = performance.now();
    const value = await fn(...args);
    const durationMs = performance.now() - started;
    backend.log(1, () => `[Memory] ${identity.name} computed in ${(durationMs / 1000).toFixed(3)}s`);
    if (backend.enabled) await backend.store(identity, [{ key, args, value, durationMs }]);
    return value;
  };
  const lookupOne = async (key: string) => {
    // Until older versions are dropped, no hit may be served from memory.
    await backend.retire(identity);
    const [hit] = await backend.lookup(identity, [key], validate);
    return hit;
  };
  /** One computation per key at a time in this process: concurrent callers share it. */
  const singleFlight = <T>(key: string, work: () => Promise<T>): Promise<T> => {
    const pending = inFlight.get(key);
    if (pending) return pending as Promise<T>;
    const started = work().finally(() => inFlight.delete(key));
    inFlight.set(key, started);
    return started;
  };

  const loaded = () => `[Memory] ${identity.name}: loaded from cache`;
  // Not an async function: a hit held in memory is answered without a single await.
  const cached = ((...args: unknown[]): Promise<unknown> => {
    if (!backend.enabled) return callAsync(fn, args);
    let key: string;
    let held: { value: unknown } | undefined;
    try {
      key = keyFor(args);
      const pending = inFlight.get(key);
      if (pending) return pending;
      held = backend.isRetired(identity) ? backend.peek(key, validate) : undefined;
    } catch (error) {
      // ERR_UNHASHABLE, or a throwing `validate` on a hit held in memory: a rejection, as from an async function.
      return Promise.reject(error);
    }
    if (held) {
      backend.log(2, loaded);
      return Promise.resolve(held.value);
    }
    return singleFlight(key, async () => {
      const hit = await lookupOne(key);
      if (hit) {
        backend.log(2, loaded);
        return hit.value;
      }
      return computeAndStore(key, args);
    });
  }) as unknown as CachedFunction<F>;

  const call: CachedCall = {
    inner: fn,
    enabled: backend.enabled,
    keyFor,
    async lookup(keys) {
      await backend.retire(identity);
      return backend.lookup(identity, keys, validate);
    },
    async store(results) {
      await backend.store(identity, results);
    },
  };
  Object.defineProperties(cached, {
    [CACHED_CALL]: { value: call },
    func: { value: fn, enumerable: true },
    name: { value: fn.name, configurable: true },
  });
  Object.assign(cached, {
    async checkCallInCache(...args: unknown[]) {
      if (!backend.enabled) return false;
      return (await lookupOne(keyFor(args))) !== undefined;
    },
    async clear() {
      await backend.clearFunction(identity);
    },
    async recompute(...args: unknown[]) {
      const key = keyFor(args);
      const value = await singleFlight(key, () => computeAndStore(key, args));
      const [stored] = backend.enabled ? await backend.lookup(identity, [key], () => true) : [];
      return { value, metadata: publicMetadata(identity, stored?.meta, args) };
    },
    async callAndShelve(...args: unknown[]) {
      if (!backend.enabled) {
        throw new JoblibError('ERR_INVALID_OPTION', 'callAndShelve needs a Memory with a location; this one has `location: null`');
      }
      const key = keyFor(args);
      await cached(...(args as Parameters<F>));
      return {
        key,
        async get() {
          const [hit] = await backend.lookup(identity, [key], () => true);
          if (!hit) throw new JoblibError('ERR_NOT_IN_CACHE', `The shelved result of ${identity.name} (${key}) is no longer in the cache`);
          return hit.value;
        },
        async clear() {
          await backend.deleteKeys([key]);
        },
      };
    },
  });
  return cached;
}

/** Calls `fn` as an async function would: a synchronous throw becomes a rejection. */
async function callAsync(fn: AnyFunction, args: readonly unknown[]): Promise<unknown> {
  return fn(...args);
}

/** Metadata as users see it. */
export function publicMetadata(identity: FunctionIdentity, meta: EntryMeta | undefined, args: readonly unknown[]): EntryMetadata {
  const now = Date.now();
  return {
    functionName: identity.name,
    args: meta?.args ?? summarizeArguments(args),
    size: meta?.size ?? 0,
    createdAt: meta?.createdAt ?? now,
    lastUsedAt: meta?.lastUsedAt ?? now,
    durationMs: meta?.durationMs ?? 0,
  };
}

/** A short, readable summary of arguments for `entries()` and the CLI. */
export function summarizeArguments(args: readonly unknown[]): string {
  const text = args.map(summarizeValue).join(', ');
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

function summarizeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value !== 'object' || value === null) return String(value);
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as unknown as ArrayLike<unknown>).length ?? value.byteLength})`;
  if (Array.isArray(value)) return `Array(${value.length})`;
  if (value instanceof Map || value instanceof Set) return `${value.constructor.name}(${value.size})`;
  if (value instanceof Date) return value.toISOString();
  const keys = Object.keys(value);
  return `{${keys.slice(0, 4).join(', ')}${keys.length > 4 ? ', ...' : ''}}`;
}

function validator(options: CacheOptions, identity: FunctionIdentity): (meta: EntryMeta) => boolean {
  const { validate, expiresAfter } = options;
  return (meta) => {
    if (expiresAfter !== undefined && Date.now() - meta.createdAt > expiresAfter) return false;
    return validate ? validate(publicMetadata(identity, meta, [])) : true;
  };
}

/** Which argument positions `ignore` leaves out of the key. */
interface IgnoreRule {
  readonly positions: ReadonlySet<number>;
  /** Position from which every argument is ignored (an ignored rest parameter), or Infinity. */
  readonly restFrom: number;
}

function isIgnored(rule: IgnoreRule, position: number): boolean {
  return position >= rule.restFrom || rule.positions.has(position);
}

function ignoreRule(fn: AnyFunction, ignore: readonly string[]): IgnoreRule {
  if (!Array.isArray(ignore) || ignore.some((name) => typeof name !== 'string')) {
    throw new InvalidOptionError(`Expected \`ignore\` to be an array of parameter names, got ${describeValue(ignore)}`);
  }
  const positions = new Set<number>();
  let restFrom = Infinity;
  if (ignore.length === 0) return { positions, restFrom };
  let names: (string | undefined)[];
  try {
    names = parameterNames(Function.prototype.toString.call(fn));
  } catch (error) {
    throw new InvalidOptionError(`Cannot read the parameters of ${fn.name || 'this function'} to apply \`ignore\``, { cause: error });
  }
  for (const name of ignore) {
    const index = names.findIndex((n) => n === name || n === `...${name}`);
    if (index < 0) {
      const known = names.filter((n): n is string => n !== undefined).map((n) => n.replace(/^\.\.\./, ''));
      throw new InvalidOptionError(
        `Expected \`ignore\` to name parameters of ${fn.name || 'the function'} (${known.join(', ') || 'none'}), got \`${name}\``,
      );
    }
    if (names[index]?.startsWith('...')) restFrom = index;
    else positions.add(index);
  }
  return { positions, restFrom };
}
