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
 * In front sits what this process holds in memory (`store-front.ts`): a byte-bounded LRU of small
 * values, so hot hits skip SQLite, and the deferred writes not yet committed. It is per process: an
 * entry deleted by another process may still be served from it until evicted.
 *
 * Deferred writes (`setMany(entries, { defer: true })`) and touches are committed shortly after, in
 * batches, and before the process exits (`write-behind.ts`). Entries that a read finds broken are
 * deleted (`broken-entries.ts`).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ClosedError, InvalidOptionError, describeValue } from './errors.js';
import { decodeValue, encodeEntries } from './store.js';
import type { CacheStore, EncodedEntry, EntryMeta, ListedEntry, NewEntry, SetOptions, StoreWarning, StoredEntry } from './store.js';
import { BrokenEntries } from './broken-entries.js';
import type { RepairParts } from './broken-entries.js';
import { IN_KEYS, META_COLUMNS, SqliteConnection, chunks, codeOf, deserializeRef, inTransaction, messageOf, toMeta,
  writeError } from './sqlite-connection.js';
import type { Db, Ref } from './sqlite-connection.js';
import { StoreFront } from './store-front.js';
import { ValueFiles, sha1 } from './value-files.js';
import { WriteBehind } from './write-behind.js';

/** Options of {@link openSqliteStore}. */
export interface SqliteStoreOptions {
  /** Folder of the cache; created on the first write. */
  readonly location: string;
  /**
   * Bytes of values kept in memory in front of SQLite (encoded, and counted twice when a decoded copy
   * is kept too); 0 turns the LRU off. @default 64 MiB
   */
  readonly lruBytes?: number;
  /** Receives what the store handled on its own. @default process.emitWarning */
  readonly onWarning?: (warning: StoreWarning) => void;
  /** How long to wait for another process's write transaction, in ms. @default 10 000 */
  readonly busyTimeoutMs?: number;
  /** Encoded values of at least this many bytes go to their own file. @default 1 MiB */
  readonly largeValueBytes?: number;
}

interface Prepared extends EncodedEntry { readonly ref: Ref }

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
  private readonly front: StoreFront<Prepared>;
  private readonly writeBehind: WriteBehind<Prepared>;
  private readonly repairParts: RepairParts;
  private closing: Promise<void> | undefined;
  /** Reads under way on the reading connection, which close() lets end. */
  private readonly reads = new Set<Promise<unknown>>();

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
    this.front = new StoreFront(lruBytes);
    const warn = (warning: StoreWarning): void => this.warn(warning);
    this.writeBehind = new WriteBehind({ location: this.location, database: this.database, front: this.front,
      commit: (db, entries, current) => this.write(db, entries, current), warn });
    this.repairParts = { database: this.database, files: this.files, front: this.front, warn };
  }

  peek(key: string): StoredEntry | undefined {
    this.assertOpen();
    return this.front.peek(key);
  }

  async getMany(keys: readonly string[]): Promise<(StoredEntry | undefined)[]> {
    this.assertOpen();
    const results: (StoredEntry | undefined)[] = keys.map(() => undefined);
    const wanted = new Map<string, number[]>();
    keys.forEach((key, i) => {
      const held = this.front.peek(key);
      const indices = held ? undefined : wanted.get(key);
      if (held) results[i] = held;
      else if (indices) indices.push(i);
      else wanted.set(key, [i]);
    });
    const db = wanted.size > 0 ? (this.database.ready ?? (await this.database.connection(false))) : undefined;
    if (!db) return results;
    const broken = new BrokenEntries();
    const files: { key: string; ref: Ref & { kind: 'file' }; meta: EntryMeta }[] = [];
    // A key asked for twice gets its own copy each time: callers must never share objects.
    const fill = (key: string, meta: EntryMeta, first: unknown, bytes: Buffer): void =>
      (wanted.get(key) ?? []).forEach((i, n) => (results[i] = { value: n === 0 ? first : decodeValue(bytes), meta }));
    const mark = this.front.mark();
    const rows = await this.reading(async () => {
      const all = [];
      for (const chunk of chunks([...wanted.keys()])) all.push(...(await db.reader.entries(chunk)));
      return all;
    });
    for (const row of rows) {
      const key = String(row['key']);
      const stored = toMeta(row);
      const meta = this.front.withTouch(key, stored);
      const ref = deserializeRef<Ref>(String(row['value'])).value as Ref;
      if (ref.kind === 'file') files.push({ key, ref, meta });
      else if (ref.kind === 'corrupt') broken.add(key, ref, 'unknown row format');
      else {
        try {
          const value = decodeValue(ref.bytes);
          this.front.remember(key, ref.bytes, stored, value, mark);
          fill(key, meta, value, ref.bytes);
        } catch (error) {
          broken.add(key, ref, `value cannot be decoded (${messageOf(error)})`, error);
        }
      }
    }
    // Large values are read after the rows, as they take a while; a concurrent deletion is told apart
    // from damage when the entry is deleted (BrokenEntries.delete checks that the row is unchanged).
    if (files.length > 0) await Promise.all(files.map(async ({ key, ref, meta }) => {
      const bytes = await this.files.read(key).catch((error: unknown) => {
        if (codeOf(error) === 'ENOENT') broken.add(key, ref, 'its value file is missing', error, 'MISSING_VALUE_FILE');
        else broken.add(key, ref, `its value file cannot be read (${messageOf(error)})`, error);
      });
      if (!bytes) return;
      if (bytes.length !== ref.size) return broken.add(key, ref, `its value file is ${bytes.length} bytes instead of ${ref.size}`);
      if (sha1(bytes) !== ref.sha1) return broken.add(key, ref, 'its value file does not match its checksum');
      try {
        fill(key, meta, decodeValue(bytes, { consume: (wanted.get(key)?.length ?? 0) <= 1 }), bytes);
      } catch (error) {
        broken.add(key, ref, 'its value file cannot be decoded', error);
      }
    }));
    if (broken.size > 0) await broken.delete(db, this.repairParts);
    return results;
  }

  async has(key: string): Promise<boolean> {
    this.assertOpen();
    if (this.front.has(key)) return true;
    const db = await this.database.connection(false);
    return db ? this.reading(() => db.reader.has(key)) : false;
  }

  async setMany(entries: readonly NewEntry[], options: SetOptions = {}): Promise<number> {
    this.assertOpen();
    // Encoded now, before any await: what the caller does with the values afterwards cannot reach the cache.
    const prepared = encodeEntries(entries, (warning) => this.warn(warning)).map((entry): Prepared => {
      const { bytes } = entry;
      const large = bytes.length >= this.largeValueBytes;
      return { ...entry, ref: large ? { kind: 'file', size: bytes.length, sha1: sha1(bytes), raw: '' } : { kind: 'inline', bytes, raw: '' } };
    });
    if (prepared.length === 0) return 0;
    const written = prepared.reduce((sum, p) => sum + p.bytes.length, 0);
    if (options.defer === true) {
      // The first write opens the database: a location that cannot be written fails this call.
      if (!this.database.ready) await this.database.connection(true);
      this.assertOpen(); // close() may have flushed meanwhile: these would not be written
      this.writeBehind.enqueue(prepared);
      return written;
    }
    this.front.forgetQueued(prepared.map((p) => p.key)); // this write replaces a deferred one of the same key
    const db = (await this.database.connection(true)) as Db; // a write gets a connection or throws
    await this.write(db, prepared);
    return written;
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    this.assertOpen();
    const unique = [...new Set(keys)];
    const queued = unique.filter((key) => this.front.pending.has(key)); // they exist, though not written yet
    this.front.forget(unique);
    const db = unique.length > 0 ? await this.database.connection(false) : undefined;
    if (!db) return queued.length;
    return this.database.exclusive(() => inTransaction(db, async () => {
      const deleted = new Set(queued);
      for (const chunk of chunks(unique)) {
        await this.files.removeFilesOf(db, chunk);
        for (const row of await db.query(`DELETE FROM keyv WHERE ${IN_KEYS} RETURNING key`, JSON.stringify(chunk))) deleted.add(String(row['key']));
        await db.query(`DELETE FROM joblib_meta WHERE ${IN_KEYS}`, JSON.stringify(chunk));
      }
      return deleted.size;
      // After COMMIT only what reads may have remembered meanwhile goes: a deferred write of one of
      // these keys queued while the transaction ran is newer than the deletion, and stays.
    }, () => this.front.forgetStored(unique))).catch((error: unknown) => {
      throw writeError(error, 'delete entries from', this.location);
    });
  }

  async clear(): Promise<void> {
    this.assertOpen();
    this.front.clear();
    const db = await this.database.connection(false);
    if (!db) return;
    await this.database.exclusive(() => inTransaction(db, async () => {
      // Plain DELETEs rather than keyv's clear(), whose LIKE on the namespace is case-insensitive.
      await db.query('DELETE FROM keyv');
      await db.query('DELETE FROM joblib_meta');
      await this.files.clear();
    }, () => this.front.forgetAllStored())).catch((error: unknown) => {
      throw writeError(error, 'clear', this.location);
    });
  }

  async list(): Promise<ListedEntry[]> {
    this.assertOpen();
    // Taken before the read: an entry committed while the read runs may be missing from the read's
    // snapshot, and would be gone from the queue by the time the read returns.
    const queued = [...this.front.pending.values()];
    const db = await this.database.connection(false);
    const rows = db ? await this.reading(() => db.reader.all(`SELECT ${META_COLUMNS} FROM joblib_meta`)) : [];
    const byKey = new Map<string, ListedEntry>();
    for (const row of rows) byKey.set(String(row['key']), { key: String(row['key']), ...toMeta(row) });
    for (const { key, meta } of queued) byKey.set(key, { key, ...meta }); // written soon, or just now
    const listed = [...byKey.values()].map((e) => ({ ...e, ...this.front.withTouch(e.key, e) }));
    return listed.sort((a, b) => a.createdAt - b.createdAt || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  touch(keys: readonly string[], at: number = Date.now()): void {
    if (this.closing) return; // close() has taken the last batch
    this.writeBehind.touch(keys, at);
  }

  flush(): Promise<void> {
    return this.writeBehind.flush();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.writeBehind.close();
      await Promise.allSettled([...this.reads]);
      await this.database.exclusive(async () => {
        this.front.clear();
        await this.database.close();
      });
    })();
    return this.closing;
  }

  /**
   * Writes entries in one transaction; they enter the LRU once committed. `current`, when given, is
   * asked under the write lock which entries are still to be written.
   */
  private async write(db: Db, entries: readonly Prepared[], current?: (entry: Prepared) => boolean): Promise<void> {
    let prepared = entries;
    const large = prepared.filter((p) => p.ref.kind === 'file');
    const temps = new Map<string, string>();
    try {
      if (large.length > 0) {
        // Files are written before the transaction, so that the write lock (which every process
        // shares) is held only for the renames, which put complete files in place atomically.
        await this.files.writeTemps(large, temps);
      }
      await this.database.exclusive(() => inTransaction(db, async () => {
        if (current) prepared = prepared.filter(current);
        // Old files of keys whose value is now small go under the lock, not after it: a concurrent
        // writer's new file for the same key cannot be removed by mistake.
        const small = prepared.filter((p) => p.ref.kind === 'inline').map((p) => p.key);
        if (small.length > 0 && existsSync(this.files.dir)) await this.files.removeFilesOf(db, small);
        // Temp files of entries no longer current stay in `temps`, which `finally` removes.
        const wanted = new Set(prepared.map((p) => p.key));
        const moving = new Map([...temps].filter(([key]) => wanted.has(key)));
        await this.files.moveIntoPlace(moving); // takes each file it renamed out of `moving`
        for (const key of wanted) if (!moving.has(key)) temps.delete(key); // renamed: no temp file left
        // The statements go out together (one connection, inside our transaction), and every one
        // is awaited before COMMIT or ROLLBACK, so none can land outside the transaction.
        const settled = await Promise.allSettled(prepared.map((p) => db.keyv.set(p.key, p.ref)));
        const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
        if (failed) throw failed.reason;
        for (const part of chunks(prepared)) {
          await db.query(`INSERT OR REPLACE INTO joblib_meta (${META_COLUMNS}) VALUES ${part.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
            ...part.flatMap(({ key, meta: m }) => [key, m.fn, m.args, m.size, m.createdAt, m.lastUsedAt, m.durationMs]));
        }
      }, () => this.front.committed(prepared, (p) => p.ref.kind === 'inline')));
    } catch (error) {
      throw writeError(error, 'store results in', this.location);
    } finally {
      await this.files.removeTemps(temps);
    }
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

  /** Runs a read on the reading connection, which close() waits for. */
  private reading<T>(read: () => Promise<T>): Promise<T> {
    if (this.database.closed) return Promise.reject(new ClosedError(`the cache store of ${this.location} is closed`));
    const run = read();
    this.reads.add(run);
    const done = (): void => void this.reads.delete(run);
    run.then(done, done);
    return run;
  }
}
