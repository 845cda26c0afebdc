/**
 * `Memory`: joblib.Memory for Node. `memory.cache(fn)` returns a function that computes each distinct
 * call once and then answers it from disk, across runs of the program.
 */
import { resolve } from 'node:path';
import type { AnyFunction } from './delayed.js';
import { InvalidOptionError, describeValue } from './errors.js';
import { callerFile, functionIdentity, slotOf, type FunctionIdentity } from './fn-identity.js';
import {
  makeCachedFunction,
  publicMetadata,
  summarizeArguments,
  type CacheBackend,
  type CacheOptions,
  type CachedFunction,
  type ComputedResult,
  type EntryMetadata,
} from './cached-function.js';
import type { CacheStore, StoreWarning } from './store.js';

/** Options of {@link Memory}. */
export interface MemoryOptions {
  /** Folder of the cache; `null` gives a Memory that caches nothing (joblib parity). */
  readonly location: string | null;
  /** 1: a line per computation and per dropped outdated version; 2: hits too. @default 0 */
  readonly verbose?: number;
  /** Evict least recently used entries after writes once the cache holds more bytes than this. */
  readonly bytesLimit?: number;
  /** Bytes of recently used values kept in memory in front of SQLite. @default 64 MiB */
  readonly lruBytes?: number;
}

/** Limits for {@link Memory.reduceSize}; entries are evicted least recently used first. */
export interface ReduceSizeLimits {
  /** Keep at most this many bytes. */
  readonly bytesLimit?: number;
  /** Keep at most this many entries. */
  readonly itemsLimit?: number;
  /** Remove entries not used for this many ms. */
  readonly ageLimit?: number;
}

/** One stored result, as {@link Memory.entries} lists it. */
export interface CacheEntryInfo extends EntryMetadata {
  /** The cache key. */
  readonly key: string;
  /** Module and name of the function, with its version. */
  readonly functionId: string;
}


/**
 * A disk-backed memo cache.
 *
 * @example
 * const memory = new Memory({ location: '.joblib-cache' });
 * const fit = memory.cache(fitModel, { ignore: ['verbose'] });
 * const score = await fit(params, false); // computed once, then read from disk
 */
export class Memory implements AsyncDisposable {
  /** Absolute path of the cache folder, or `null`. */
  readonly location: string | null;
  private readonly verbose: number;
  private readonly bytesLimit: number | undefined;
  private readonly lruBytes: number | undefined;
  private opened: Promise<CacheStore> | undefined;
  /** The store once open, for the hits answered synchronously from memory. */
  private current: CacheStore | undefined;
  /**
   * Per identity, since the store was opened: the dropping of its older versions under way, or
   * `true` once done. A failed drop is forgotten, so that the next call tries again.
   */
  private retired = new Map<string, Promise<void> | true>();
  /** Bytes stored, as far as this process knows (an upper bound), while `bytesLimit` is set. */
  private storedBytes: number | undefined;

  constructor(options: MemoryOptions | string | null) {
    const normalized: MemoryOptions = typeof options === 'string' || options === null ? { location: options } : options;
    if (typeof normalized !== 'object' || normalized === null) {
      throw new InvalidOptionError(`Expected Memory options or a location, got ${describeValue(options)}`);
    }
    const { location, verbose = 0, bytesLimit, lruBytes } = normalized;
    if (location !== null && (typeof location !== 'string' || location === '')) {
      throw new InvalidOptionError(`Expected \`location\` to be a folder path or null, got ${describeValue(location)}`);
    }
    for (const [name, value] of [['bytesLimit', bytesLimit], ['lruBytes', lruBytes]] as const) {
      if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) {
        throw new InvalidOptionError(`Expected \`${name}\` to be a number of bytes from 0 up, got ${describeValue(value)}`);
      }
    }
    if (!Number.isInteger(verbose) || verbose < 0) {
      throw new InvalidOptionError(`Expected \`verbose\` to be an integer from 0 up, got ${describeValue(verbose)}`);
    }
    this.location = location === null ? null : resolve(location);
    this.verbose = verbose;
    this.bytesLimit = bytesLimit;
    this.lruBytes = lruBytes;
  }

  /**
   * Wraps `fn` so that each distinct call is computed once and then read from the cache.
   * @throws InvalidOptionError for an `ignore` name that is not a parameter of `fn`, or a bad option
   */
  cache<F extends AnyFunction>(fn: F, options: CacheOptions = {}): CachedFunction<F> {
    if (typeof fn !== 'function') throw new InvalidOptionError(`Expected memory.cache() to receive a function, got ${describeValue(fn)}`);
    const { version, expiresAfter, validate } = options;
    if (version !== undefined && typeof version !== 'string') throw new InvalidOptionError(`Expected \`version\` to be a string, got ${describeValue(version)}`);
    if (expiresAfter !== undefined && !(typeof expiresAfter === 'number' && expiresAfter >= 0)) {
      throw new InvalidOptionError(`Expected \`expiresAfter\` to be a number of ms from 0 up, got ${describeValue(expiresAfter)}`);
    }
    if (validate !== undefined && typeof validate !== 'function') throw new InvalidOptionError(`Expected \`validate\` to be a function, got ${describeValue(validate)}`);
    const identity = functionIdentity(fn, version, callerFile(Memory.prototype.cache));
    return makeCachedFunction(fn, identity, options, this.backend());
  }

  /** Removes every stored result. */
  async clear(): Promise<void> {
    const store = await this.store();
    await store?.clear();
    this.storedBytes = undefined;
  }

  /**
   * Evicts entries, least recently used first, until the limits hold.
   * @returns the number of entries removed
   */
  async reduceSize(limits: ReduceSizeLimits = {}): Promise<number> {
    const store = await this.store();
    if (!store) return 0;
    // list() includes what is queued to be written, and deleteMany() drops it from the queue: no
    // flush is needed, and none is made (under bytesLimit this runs after writes, which stay batched).
    const entries = (await store.list()).sort((a, b) => a.lastUsedAt - b.lastUsedAt);
    const now = Date.now();
    let bytes = entries.reduce((sum, e) => sum + e.size, 0);
    let items = entries.length;
    const evicted: string[] = [];
    for (const entry of entries) {
      const tooOld = limits.ageLimit !== undefined && now - entry.lastUsedAt > limits.ageLimit;
      const tooMany = limits.itemsLimit !== undefined && items > limits.itemsLimit;
      const tooBig = limits.bytesLimit !== undefined && bytes > limits.bytesLimit;
      if (!tooOld && !tooMany && !tooBig) continue;
      evicted.push(entry.key);
      bytes -= entry.size;
      items--;
    }
    if (evicted.length > 0) await store.deleteMany(evicted);
    return evicted.length;
  }

  /** What is stored: one record per result, without loading the values. */
  async entries(): Promise<CacheEntryInfo[]> {
    const store = await this.store();
    if (!store) return [];
    await store.flush();
    return (await store.list()).map((meta) => ({
      key: meta.key,
      functionId: meta.fn,
      ...publicMetadata({ name: nameOf(meta.fn), slot: slotOf(meta.fn), id: meta.fn }, meta, []),
    }));
  }

  /** Writes what is pending and closes the store. */
  async close(): Promise<void> {
    const opened = this.opened;
    this.opened = undefined;
    this.current = undefined;
    this.retired = new Map();
    if (opened) await (await opened.catch(() => undefined))?.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private store(): Promise<CacheStore | undefined> {
    if (this.location === null) return Promise.resolve(undefined);
    const location = this.location;
    // The store (keyv, SQLite) is loaded on first use: importing joblib-ts stays cheap for programs
    // that only run loops.
    if (this.opened) return this.opened;
    const opening = import('./sqlite-store.js').then(({ openSqliteStore }) =>
      openSqliteStore({
        location,
        ...(this.lruBytes !== undefined ? { lruBytes: this.lruBytes } : {}),
        onWarning: (warning) => this.warn(warning),
      }),
    );
    this.opened = opening;
    opening.then((store) => {
      if (this.opened === opening) this.current = store; // not if close() came first
    }, () => undefined);
    return opening;
  }

  private warn(warning: StoreWarning): void {
    process.emitWarning(warning.message, { type: 'JoblibCacheWarning', code: warning.code });
  }

  private log(level: number, message: () => string): void {
    if (this.verbose >= level) process.stderr.write(`${message()}\n`);
  }

  /**
   * Keeps the cache under `bytesLimit` after a write of `written` bytes. A running total (an upper
   * bound: a rewritten key counts twice) avoids listing the whole cache after every write; only when
   * it passes the limit are the real sizes read and the least recently used entries evicted.
   */
  private async autoEvict(store: CacheStore, written: number): Promise<void> {
    if (this.bytesLimit === undefined) return;
    this.storedBytes ??= (await store.list()).reduce((sum, e) => sum + e.size, 0) - written;
    this.storedBytes += written;
    if (this.storedBytes <= this.bytesLimit) return;
    const removed = await this.reduceSize({ bytesLimit: this.bytesLimit });
    this.storedBytes = (await store.list()).reduce((sum, e) => sum + e.size, 0);
    if (removed > 0) this.log(1, () => `[Memory] evicted ${removed} entries to stay under ${this.bytesLimit} bytes`);
  }

  private backend(): CacheBackend {
    const memory = this;
    return {
      enabled: this.location !== null,
      async lookup(_identity, keys, validate) {
        const store = memory.current ?? ((await memory.store()) as CacheStore);
        const entries = await store.getMany(keys);
        const stale: string[] = [];
        const used: string[] = [];
        const hits = entries.map((entry, i) => {
          if (!entry) return undefined;
          if (!validate(entry.meta)) {
            stale.push(keys[i] as string);
            return undefined;
          }
          used.push(keys[i] as string);
          return entry;
        });
        if (used.length > 0) store.touch(used);
        if (stale.length > 0) await store.deleteMany(stale);
        return hits;
      },
      peek(key, validate) {
        const store = memory.current;
        const entry = store?.peek(key);
        if (!entry || !validate(entry.meta)) return undefined; // a stale entry is left to lookup(), which deletes it
        store?.touch([key]);
        return entry;
      },
      async store(identity, results) {
        const store = (await memory.store()) as CacheStore;
        const createdAt = Date.now();
        const entries = results.map((r: ComputedResult) => ({
          key: r.key,
          value: r.value,
          meta: { fn: identity.id, args: summarizeArguments(r.args), createdAt, durationMs: r.durationMs },
        }));
        const written = await store.setMany(entries, { defer: true });
        await memory.autoEvict(store, written);
      },
      retire(identity) {
        const state = memory.retired.get(identity.id);
        if (state === true) return Promise.resolve();
        if (state) return state;
        const retired = memory.retired; // close() starts a new map: a drop it outlived marks nothing
        // While the drop runs, `retire` returns it: the entry is still `done` when it ends.
        const done: Promise<void> = memory.dropOtherVersions(identity).then(
          () => void retired.set(identity.id, true),
          (error: unknown) => {
            retired.delete(identity.id);
            throw error;
          },
        );
        retired.set(identity.id, done);
        return done;
      },
      isRetired: (identity) => memory.retired.get(identity.id) === true,
      async clearFunction(identity) {
        const store = await memory.store();
        if (!store) return;
        const keys = (await store.list()).filter((e) => slotOf(e.fn) === identity.slot).map((e) => e.key);
        if (keys.length > 0) await store.deleteMany(keys);
      },
      async deleteKeys(keys) {
        await (await memory.store())?.deleteMany(keys);
      },
      log: (level, message) => this.log(level, message),
    };
  }

  /** Drops the entries of other versions of a function: its code (or `version`) changed. */
  private async dropOtherVersions(identity: FunctionIdentity): Promise<void> {
    const store = await this.store();
    if (!store) return;
    const outdated = (await store.list()).filter((e) => e.fn !== identity.id && slotOf(e.fn) === identity.slot);
    if (outdated.length === 0) return;
    await store.deleteMany(outdated.map((e) => e.key));
    this.log(1, () => `[Memory] ${identity.name} changed since its results were stored: dropped ${outdated.length} entries`);
  }
}

function nameOf(functionId: string): string {
  const slot = slotOf(functionId);
  return slot.slice(slot.lastIndexOf('#') + 1) || 'anonymous';
}
