/**
 * The default {@link CacheStore}: one SQLite file per cache location, shared safely by every process
 * that uses the location.
 *
 * Layout of `<location>` (created on the first write):
 * - `cache.sqlite` (WAL mode): table `keyv(key, value)` holds the values, written by keyv 5 over
 *   @keyv/sqlite 4 through the serializer of `sqlite-connection.ts`; table `joblib_meta(key, fn,
 *   args, size, created_at, last_used_at, duration_ms)` the metadata. Both change together, in one
 *   `BEGIN IMMEDIATE` transaction, so they always agree.
 * - `values/<sha1 of key>.bin`: values whose encoding is 1 MiB or more, which would bloat the
 *   database; their row holds their size and SHA-1, so that a missing, truncated or altered file is
 *   detected (a warning and a miss, and the entry is deleted).
 *
 * A byte-bounded LRU of encoded small values sits in front, so hot hits skip SQLite. It is per
 * process: an entry deleted by another process may still be served from it until evicted.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LRUCache } from 'lru-cache';
import { ClosedError, InvalidOptionError, describeValue } from './errors.js';
import { decodeValue, encodeEntries } from './store.js';
import type { CacheStore, EncodedEntry, EntryMeta, ListedEntry, NewEntry, StoreWarning, StoredEntry } from './store.js';
import { FILE_TAG, IN_KEYS, META_COLUMNS, SELECT_ENTRIES, SqliteConnection, UPDATE_LAST_USED, chunks, codeOf, deserializeRef,
  messageOf, toMeta, writeError } from './sqlite-connection.js';
import type { Db, Ref } from './sqlite-connection.js';
import { ValueFiles, sha1 } from './value-files.js';

/** Options of {@link openSqliteStore}. */
export interface SqliteStoreOptions {
  /** Folder of the cache; created on the first write. */
  readonly location: string;
  /** Bytes of encoded values kept in memory in front of SQLite; 0 turns the LRU off. @default 64 MiB */
  readonly lruBytes?: number;
  /** Receives what the store handled on its own. @default process.emitWarning */
  readonly onWarning?: (warning: StoreWarning) => void;
  /** How long to wait for another process's write transaction, in ms. @default 10 000 */
  readonly busyTimeoutMs?: number;
  /** Encoded values of at least this many bytes go to their own file. @default 1 MiB */
  readonly largeValueBytes?: number;
}

interface LruItem { readonly bytes: Buffer; readonly meta: EntryMeta }
interface Prepared extends EncodedEntry { readonly ref: Ref }
interface Broken { readonly key: string; readonly ref: Ref; readonly warning: StoreWarning }

/**
 * Opens the SQLite store of `options.location`. Nothing is created until the first write: opening a
 * location that does not exist yet succeeds, and reads miss.
 * @throws InvalidOptionError for a bad option
 */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<CacheStore> {
  return new SqliteStore(options);
}

class SqliteStore implements CacheStore {
  private readonly location: string;
  private readonly database: SqliteConnection;
  private readonly files: ValueFiles;
  private readonly largeValueBytes: number;
  private readonly onWarning: (warning: StoreWarning) => void;
  private readonly lru: LRUCache<string, LruItem> | undefined;
  /** Tail of the queue that runs this process's database work one piece at a time. */
  private tail: Promise<unknown> = Promise.resolve();
  private pendingTouches = new Map<string, number>();
  private touchTimer: NodeJS.Timeout | undefined;
  private flushed: Promise<void> = Promise.resolve();
  private closing: Promise<void> | undefined;

  constructor(options: SqliteStoreOptions) {
    if (typeof options?.location !== 'string' || options.location === '') {
      throw new InvalidOptionError(`location must be a non-empty string, received ${describeValue(options?.location)}`);
    }
    const integer = (name: 'lruBytes' | 'busyTimeoutMs' | 'largeValueBytes', fallback: number, min: number): number => {
      const value = options[name] ?? fallback;
      if (Number.isSafeInteger(value) && value >= min) return value;
      throw new InvalidOptionError(`${name} must be an integer >= ${min}, received ${describeValue(value)}`);
    };
    this.location = resolve(options.location);
    this.files = new ValueFiles(join(this.location, 'values'));
    const busyTimeoutMs = integer('busyTimeoutMs', 10_000, 0);
    this.largeValueBytes = integer('largeValueBytes', 1024 * 1024, 1);
    const lruBytes = integer('lruBytes', 64 * 1024 * 1024, 0);
    this.onWarning = options.onWarning ?? ((w) => process.emitWarning(w.message, { type: 'JoblibCacheWarning', code: w.code }));
    this.database = new SqliteConnection(this.location, busyTimeoutMs, (warning) => this.warn(warning));
    // Size: the bytes plus a rough allowance for the key, the metadata and the LRU's bookkeeping.
    const sizeCalculation = (item: LruItem, key: string): number => item.bytes.length + key.length * 2 + 256;
    this.lru = lruBytes === 0 ? undefined : new LRUCache({ maxSize: lruBytes, sizeCalculation });
  }

  async getMany(keys: readonly string[]): Promise<(StoredEntry | undefined)[]> {
    this.assertOpen();
    const results: (StoredEntry | undefined)[] = keys.map(() => undefined);
    const wanted = new Map<string, number[]>();
    keys.forEach((key, i) => {
      const item = this.lru?.get(key); // only bytes that decoded once enter the LRU
      if (item) results[i] = { value: decodeValue(item.bytes), meta: item.meta };
      else wanted.set(key, [...(wanted.get(key) ?? []), i]);
    });
    const db = wanted.size > 0 ? await this.database.connection(false) : undefined;
    if (!db) return results;
    const broken: Broken[] = [];
    const files: { key: string; ref: Ref & { kind: 'file' }; meta: EntryMeta }[] = [];
    const fail = (key: string, ref: Ref, message: string, cause?: unknown, code: StoreWarning['code'] = 'CORRUPT_ENTRY'): void => {
      const warning = { code, key, message: `cache entry ${key}: ${message}; the entry was deleted` };
      broken.push({ key, ref, warning: cause === undefined ? warning : { ...warning, cause } });
    };
    // A key asked for twice gets its own copy each time: callers must never share objects.
    const fill = (key: string, meta: EntryMeta, first: unknown, bytes: Buffer): void =>
      (wanted.get(key) ?? []).forEach((i, n) => (results[i] = { value: n === 0 ? first : decodeValue(bytes), meta }));
    await this.exclusive(async () => {
      for (const chunk of chunks([...wanted.keys()])) {
        for (const row of await db.query(SELECT_ENTRIES, JSON.stringify(chunk))) {
          const key = String(row['key']);
          const meta = this.withTouch(key, toMeta(row));
          const ref = deserializeRef<Ref>(String(row['value'])).value as Ref;
          if (ref.kind === 'file') files.push({ key, ref, meta });
          else if (ref.kind === 'corrupt') fail(key, ref, 'unknown row format');
          else {
            try {
              fill(key, meta, decodeValue(ref.bytes), ref.bytes);
              this.lru?.set(key, { bytes: ref.bytes, meta });
            } catch (error) {
              fail(key, ref, `value cannot be decoded (${messageOf(error)})`, error);
            }
          }
        }
      }
    });
    // Large values are read outside the queue, as they take a while; a concurrent deletion is told
    // apart from damage when the entry is deleted (deleteBroken checks that the row is unchanged).
    await Promise.all(files.map(async ({ key, ref, meta }) => {
      const bytes = await this.files.read(key).catch((error: unknown) => {
        if (codeOf(error) === 'ENOENT') fail(key, ref, 'its value file is missing', error, 'MISSING_VALUE_FILE');
        else fail(key, ref, `its value file cannot be read (${messageOf(error)})`, error);
      });
      if (!bytes) return;
      if (bytes.length !== ref.size) return fail(key, ref, `its value file is ${bytes.length} bytes instead of ${ref.size}`);
      if (sha1(bytes) !== ref.sha1) return fail(key, ref, 'its value file does not match its checksum');
      try {
        fill(key, meta, decodeValue(bytes, { consume: (wanted.get(key)?.length ?? 0) <= 1 }), bytes);
      } catch (error) {
        fail(key, ref, 'its value file cannot be decoded', error);
      }
    }));
    if (broken.length > 0) await this.deleteBroken(db, broken);
    return results;
  }

  async has(key: string): Promise<boolean> {
    this.assertOpen();
    if (this.lru?.has(key)) return true;
    const db = await this.database.connection(false);
    return db ? this.exclusive(() => db.keyv.has(key)) : false;
  }

  async setMany(entries: readonly NewEntry[]): Promise<number> {
    this.assertOpen();
    const prepared = encodeEntries(entries, (warning) => this.warn(warning)).map((entry): Prepared => {
      const { bytes } = entry;
      const large = bytes.length >= this.largeValueBytes;
      return { ...entry, ref: large ? { kind: 'file', size: bytes.length, sha1: sha1(bytes), raw: '' } : { kind: 'inline', bytes, raw: '' } };
    });
    if (prepared.length === 0) return 0;
    const large = prepared.filter((p) => p.ref.kind === 'file');
    const db = (await this.database.connection(true)) as Db; // a write gets a connection or throws
    const temps = new Map<string, string>();
    try {
      if (large.length > 0) {
        // Files are written before the transaction, so that the write lock (which every process
        // shares) is held only for the renames, which put complete files in place atomically.
        await this.files.writeTemps(large, temps);
      }
      await this.exclusive(() => this.transaction(db, async () => {
        // Old files of keys whose value is now small go under the lock, not after it: a concurrent
        // writer's new file for the same key cannot be removed by mistake.
        const small = prepared.filter((p) => p.ref.kind === 'inline').map((p) => p.key);
        if (small.length > 0 && existsSync(this.files.dir)) await this.unlinkFilesOf(db, small);
        await this.files.moveIntoPlace(temps);
        // The statements go out together (one connection, inside our transaction), and every one
        // is awaited before COMMIT or ROLLBACK, so none can land outside the transaction.
        const settled = await Promise.allSettled(prepared.map((p) => db.keyv.set(p.key, p.ref)));
        const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
        if (failed) throw failed.reason;
        for (const part of chunks(prepared)) {
          await db.query(`INSERT OR REPLACE INTO joblib_meta (${META_COLUMNS}) VALUES ${part.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
            ...part.flatMap(({ key, meta: m }) => [key, m.fn, m.args, m.size, m.createdAt, m.lastUsedAt, m.durationMs]));
        }
      }, () => {
        for (const { key, bytes, meta, ref } of prepared) {
          if (ref.kind === 'inline') this.lru?.set(key, { bytes, meta });
          else this.lru?.delete(key); // large values stay out of the LRU
        }
      }));
    } catch (error) {
      throw writeError(error, 'store results in', this.location);
    } finally {
      await this.files.removeTemps(temps);
    }
    return prepared.reduce((sum, p) => sum + p.bytes.length, 0);
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    this.assertOpen();
    const unique = [...new Set(keys)];
    unique.forEach((key) => this.pendingTouches.delete(key));
    const db = unique.length > 0 ? await this.database.connection(false) : undefined;
    if (!db) {
      unique.forEach((key) => this.lru?.delete(key));
      return 0;
    }
    return this.exclusive(() => this.transaction(db, async () => {
      let deleted = 0;
      for (const chunk of chunks(unique)) {
        await this.unlinkFilesOf(db, chunk);
        deleted += (await db.query(`DELETE FROM keyv WHERE ${IN_KEYS} RETURNING key`, JSON.stringify(chunk))).length;
        await db.query(`DELETE FROM joblib_meta WHERE ${IN_KEYS}`, JSON.stringify(chunk));
      }
      return deleted;
    }, () => unique.forEach((key) => this.lru?.delete(key)))).catch((error: unknown) => {
      throw writeError(error, 'delete entries from', this.location);
    });
  }

  async clear(): Promise<void> {
    this.assertOpen();
    this.pendingTouches.clear();
    const db = await this.database.connection(false);
    if (!db) return void this.lru?.clear();
    await this.exclusive(() => this.transaction(db, async () => {
      // Plain DELETEs rather than keyv's clear(), whose LIKE on the namespace is case-insensitive.
      await db.query('DELETE FROM keyv');
      await db.query('DELETE FROM joblib_meta');
      await this.files.clear();
    }, () => this.lru?.clear())).catch((error: unknown) => {
      throw writeError(error, 'clear', this.location);
    });
  }

  async list(): Promise<ListedEntry[]> {
    this.assertOpen();
    const db = await this.database.connection(false);
    if (!db) return [];
    const rows = await this.exclusive(() => db.query(`SELECT ${META_COLUMNS} FROM joblib_meta ORDER BY created_at, key`));
    return rows.map((row) => ({ key: String(row['key']), ...this.withTouch(String(row['key']), toMeta(row)) }));
  }

  touch(keys: readonly string[], at: number = Date.now()): void {
    if (this.closing) return; // close() has taken the last batch
    for (const key of keys) {
      this.pendingTouches.set(key, Math.max(at, this.pendingTouches.get(key) ?? at));
      const item = this.lru?.get(key);
      if (item && item.meta.lastUsedAt < at) this.lru?.set(key, { bytes: item.bytes, meta: { ...item.meta, lastUsedAt: at } });
    }
    if (this.touchTimer === undefined && this.pendingTouches.size > 0) {
      this.touchTimer = setTimeout(() => {
        this.touchTimer = undefined;
        this.flush().catch((error: unknown) => this.warnTouchesLost(error));
      }, 1_000);
      this.touchTimer.unref(); // pending touches alone must not keep the process alive
    }
  }

  flush(): Promise<void> {
    clearTimeout(this.touchTimer);
    this.touchTimer = undefined;
    // Chained, so that flush() also waits for a batch an earlier call took but has not written yet.
    const run = this.flushed.then(() => this.writeTouches());
    this.flushed = run.catch(() => undefined);
    return run;
  }

  private async writeTouches(): Promise<void> {
    if (this.pendingTouches.size === 0 || this.database.closed) return;
    const batch = [...this.pendingTouches];
    this.pendingTouches = new Map();
    const db = await this.database.connection(false);
    if (!db) return; // no database: nothing stored to touch
    // Each statement is atomic on its own. A failed batch is dropped: these times only guide eviction.
    await this.exclusive(async () => {
      for (const part of chunks(batch)) await db.query(UPDATE_LAST_USED, JSON.stringify(part));
    }).catch((error: unknown) => {
      throw writeError(error, 'record use in', this.location);
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.flush().catch((error: unknown) => this.warnTouchesLost(error));
      await this.exclusive(async () => {
        this.lru?.clear();
        await this.database.close();
      });
    })();
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closing) throw new ClosedError(`the cache store of ${this.location} is closed`);
  }

  private warn(warning: StoreWarning): void {
    try {
      this.onWarning(warning);
    } catch {
      // A throwing handler must not turn a problem the store handled into a failed call.
    }
  }

  private warnTouchesLost(error: unknown): void {
    this.warn({ code: 'STORE_ERROR', message: `could not record cache use: ${messageOf(error)}`, cause: error });
  }

  private withTouch(key: string, meta: EntryMeta): EntryMeta {
    const at = this.pendingTouches.get(key);
    return at !== undefined && at > meta.lastUsedAt ? { ...meta, lastUsedAt: at } : meta;
  }

  /** Runs `fn` once everything queued before it is done: transactions of one process never interleave. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(async () => {
      if (this.database.closed) throw new ClosedError(`the cache store of ${this.location} is closed`);
      return await this.database.using(fn);
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** `fn` in a write transaction (call within {@link exclusive}); `committed` runs after COMMIT. */
  private async transaction<T>(db: Db, fn: () => Promise<T>, committed: () => void): Promise<T> {
    // IMMEDIATE takes the write lock up front, waiting up to busy_timeout for it; upgrading a read
    // transaction instead fails at once with SQLITE_BUSY in WAL mode when another process wrote.
    await db.query('BEGIN IMMEDIATE');
    try {
      const result = await fn();
      await db.query('COMMIT');
      committed();
      return result;
    } catch (error) {
      await db.query('ROLLBACK').catch(() => undefined); // SQLite may have rolled back already
      throw error;
    }
  }

  /** Removes the value files of those `keys` whose row points to one (within a transaction). */
  private async unlinkFilesOf(db: Db, keys: readonly string[]): Promise<void> {
    const rows = await db.query(`SELECT key FROM keyv WHERE value LIKE '${FILE_TAG}%' AND ${IN_KEYS}`, JSON.stringify(keys));
    await Promise.all(rows.map((row) => this.files.remove(String(row['key']))));
  }

  /**
   * Deletes broken entries whose row is still the one that was read, and warns about those: if
   * another process rewrote or deleted an entry meanwhile, its failure was a race, not damage.
   */
  private async deleteBroken(db: Db, broken: readonly Broken[]): Promise<void> {
    let confirmed = broken;
    try {
      confirmed = await this.exclusive(() => this.transaction(db, async () => {
        const still: Broken[] = [];
        for (const b of broken) {
          if ((await db.query('DELETE FROM keyv WHERE key = ? AND value = ? RETURNING key', b.key, b.ref.raw)).length === 0) continue;
          still.push(b);
          await db.query('DELETE FROM joblib_meta WHERE key = ?', b.key);
          if (b.ref.kind === 'file') await this.files.remove(b.key).catch(() => undefined);
        }
        return still;
      }, () => broken.forEach((b) => this.lru?.delete(b.key))));
    } catch (error) {
      this.warn({ code: 'STORE_ERROR', message: `could not delete ${broken.length} broken cache entries: ${messageOf(error)}`, cause: error });
    }
    for (const { warning } of confirmed) this.warn(warning);
  }
}
