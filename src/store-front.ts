/**
 * What a store process keeps in memory in front of its database: recently used values (a
 * byte-bounded LRU), values stored but not yet committed (the write-behind queue), and times of last
 * use not yet recorded. Reads are answered from here first, so that a process always sees its own
 * writes, committed or not. Nothing here does I/O: `write-behind.ts` commits the queue and the times.
 */
import { LRUCache } from 'lru-cache';
import { copyPlain, decodeValue, decodedCopy } from './store.js';
import type { Decoded, EncodedEntry, EntryMeta, StoredEntry } from './store.js';

/** A value held in memory: its encoding, and what reads can use instead of decoding it. */
export interface FrontItem {
  readonly bytes: Buffer;
  readonly meta: EntryMeta;
  /** See {@link EncodedEntry.decoded}. */
  readonly decoded: Decoded | null;
}

export class StoreFront<Pending extends EncodedEntry> {
  private readonly lru: LRUCache<string, FrontItem> | undefined;
  /** Entries stored by this process and not committed yet, by key (the latest write of each key). */
  readonly pending = new Map<string, Pending>();
  /**
   * Times of last use not written yet, by key. Emptied, never replaced: V8 treats a field that is
   * never assigned again as a constant in optimized code, and replacing this map each time the
   * times were written threw away the optimized code of the cache hit (peek, touch).
   */
  readonly touches = new Map<string, number>();
  /**
   * Counts the starts and ends of writes and deletions. A database read during which one of them
   * began or ended may have read what it replaced, so its rows are returned but not remembered (see
   * {@link StoreFront.remember}).
   */
  private generation = 0;

  /** @param lruBytes bytes of values the LRU holds; 0 turns it off */
  constructor(lruBytes: number) {
    // Size: the bytes (twice with a decoded copy, which takes about as much) plus a rough allowance
    // for the key, the metadata and the LRU's bookkeeping.
    const sizeCalculation = (item: FrontItem, key: string): number =>
      item.bytes.length * (item.decoded?.copy === true ? 2 : 1) + key.length * 2 + 256;
    this.lru = lruBytes === 0 ? undefined : new LRUCache({ maxSize: lruBytes, sizeCalculation });
  }

  /** The entry of `key` held here, with a value of its own (a shared primitive, or freshly decoded). */
  peek(key: string): StoredEntry | undefined {
    const item = this.pending.get(key) ?? this.lru?.get(key);
    if (!item) return undefined;
    // Only bytes that were just encoded or that decoded once are held, so decoding cannot fail here.
    const { decoded } = item;
    const value = decoded === null ? decodeValue(item.bytes) : decoded.copy ? copyPlain(decoded.value) : decoded.value;
    return { value, meta: this.withTouch(key, item.meta) };
  }

  has(key: string): boolean {
    return this.pending.has(key) || (this.lru?.has(key) ?? false);
  }

  /** A mark to give {@link StoreFront.remember} for what a read that begins now returns. */
  mark(): number {
    return this.generation;
  }

  /**
   * Keeps a value read from the database (`value` decoded from `bytes`), unless something was
   * written or deleted since `mark`. Its decoded copy is made only then.
   */
  remember(key: string, bytes: Buffer, meta: EntryMeta, value: unknown, mark: number): void {
    if (this.lru && mark === this.generation) this.lru.set(key, { bytes, meta, decoded: decodedCopy(value, bytes.length) });
  }

  /** Queues entries for the write-behind; each replaces a queued entry of its key. */
  enqueue(entries: readonly Pending[]): void {
    this.generation++;
    for (const entry of entries) this.pending.set(entry.key, entry);
  }

  /**
   * Entries were committed: each leaves the queue and enters the LRU (a large value, which has its
   * own file, does not), unless a later write of its key is queued, which keeps the key.
   */
  committed(entries: readonly Pending[], inLru: (entry: Pending) => boolean): void {
    this.generation++;
    for (const entry of entries) {
      const queued = this.pending.get(entry.key);
      if (queued !== undefined && queued !== entry) continue;
      this.pending.delete(entry.key);
      if (inLru(entry)) this.lru?.set(entry.key, { bytes: entry.bytes, meta: entry.meta, decoded: entry.decoded });
      else this.lru?.delete(entry.key);
    }
  }

  /** Queued entries failed to be written: they leave the queue (a later write of a key stays). */
  dropped(entries: readonly Pending[]): void {
    for (const entry of entries) if (this.pending.get(entry.key) === entry) this.pending.delete(entry.key);
  }

  /** Keys are about to be written through: their queued (older) writes go. */
  forgetQueued(keys: Iterable<string>): void {
    this.generation++;
    for (const key of keys) this.pending.delete(key);
  }

  /** Keys' stored entries were deleted (a deletion committed, or broken entries): the LRU lets them go; a queued write stays. */
  forgetStored(keys: Iterable<string>): void {
    this.generation++;
    for (const key of keys) this.lru?.delete(key);
  }

  /** Everything held from the database goes (a clear committed); queued writes stay. */
  forgetAllStored(): void {
    this.generation++;
    this.lru?.clear();
  }

  /** Keys are about to be deleted: their queued writes, times of use and memory go. */
  forget(keys: Iterable<string>): void {
    this.generation++;
    for (const key of keys) {
      this.pending.delete(key);
      this.touches.delete(key);
      this.lru?.delete(key);
    }
  }

  /** Everything is about to be deleted. */
  clear(): void {
    this.generation++;
    this.pending.clear();
    this.touches.clear();
    this.lru?.clear();
  }

  touch(key: string, at: number): void {
    const known = this.touches.get(key);
    if (known === undefined || at > known) this.touches.set(key, at);
  }

  /** `meta` with the last use recorded here, if later. */
  withTouch(key: string, meta: EntryMeta): EntryMeta {
    const at = this.touches.get(key);
    return at !== undefined && at > meta.lastUsedAt ? { ...meta, lastUsedAt: at } : meta;
  }
}
