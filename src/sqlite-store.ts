/**
 * The default {@link CacheStore}: one SQLite file per cache location, shared safely by every process
 * that uses the location.
 *
 * Layout of `<location>` (created on the first write):
 * - `cache.sqlite` (WAL mode): table `keyv(key, value)` holds the values, written by keyv 5 over
 *   @keyv/sqlite 4 through this module's serializer; table `joblib_meta(key, fn, args, size,
 *   created_at, last_used_at, duration_ms)` the metadata. Both change together, in one
 *   `BEGIN IMMEDIATE` transaction, so they always agree.
 * - `values/<sha1 of key>.bin`: values whose encoding is 1 MiB or more, which would bloat the
 *   database; their row holds their size and SHA-1, so that a missing, truncated or altered file is
 *   detected (a warning and a miss, and the entry is deleted).
 *
 * A byte-bounded LRU of encoded small values sits in front, so hot hits skip SQLite. It is per
 * process: an entry deleted by another process may still be served from it until evicted.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Keyv, type DeserializedData } from 'keyv';
import KeyvSqlite from '@keyv/sqlite';
import { LRUCache } from 'lru-cache';
import { CacheUnwritableError, ClosedError, InvalidOptionError, describeValue } from './errors.js';
import { decodeValue, encodeEntries } from './store.js';
import type { CacheStore, EncodedEntry, EntryMeta, ListedEntry, NewEntry, StoreWarning, StoredEntry } from './store.js';

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

/** Keys per statement: bounds the size of the JSON key lists (and of the parameter lists). */
const CHUNK = 500;
/** Version of the tables' layout, kept in `PRAGMA user_version`. */
const SCHEMA_VERSION = 1;
/** Temp files older than this (1 h) are leftovers of a crashed writer; clear() removes them. */
const STALE_TEMP_MS = 3_600_000;
/** Failures that mean the location cannot be written, from the file system or from SQLite. */
const UNWRITABLE_CODES = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EEXIST', 'ENOSPC', 'EDQUOT',
  'SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_PERM', 'SQLITE_FULL', 'SQLITE_AUTH', 'SQLITE_NOTADB']);
const META_COLUMNS = 'key, fn, args, size, created_at, last_used_at, duration_ms';
const CREATE_META = `CREATE TABLE IF NOT EXISTS joblib_meta (key TEXT PRIMARY KEY, fn TEXT NOT NULL, args TEXT NOT NULL,
  size INTEGER NOT NULL, created_at INTEGER NOT NULL, last_used_at INTEGER NOT NULL, duration_ms REAL NOT NULL)`;
const IN_KEYS = 'key IN (SELECT value FROM json_each(?))';
/** Values and metadata in one statement: one snapshot, and one round trip (keyv.getMany + a metadata
 * query would be two). Rows are decoded with the same serializer keyv writes them with. */
const SELECT_ENTRIES = `SELECT m.key, fn, args, size, created_at, last_used_at, duration_ms, k.value
  FROM joblib_meta AS m JOIN keyv AS k ON k.key = m.key WHERE m.${IN_KEYS}`;
/** Last-used times only move forward. */
const UPDATE_LAST_USED = `UPDATE joblib_meta SET last_used_at = max(last_used_at, json_extract(j.value, '$[1]'))
  FROM json_each(?) AS j WHERE joblib_meta.key = json_extract(j.value, '$[0]')`;

/** What a keyv row holds: the encoded value, or where its file is (`raw`: the row as stored). */
type Ref =
  | { readonly kind: 'inline'; readonly bytes: Buffer; readonly raw: string }
  | { readonly kind: 'file'; readonly size: number; readonly sha1: string; readonly raw: string }
  | { readonly kind: 'corrupt'; readonly raw: string };

/* keyv's default JSON serializer would mangle Buffers (and most values), so rows are text we
 * control: a tag with a format version, then base64 of encodeValue's bytes, or size and SHA-1. */
const INLINE_TAG = 'jl1:i:';
const FILE_TAG = 'jl1:f:';
function serializeRef<V>(data: DeserializedData<V>): string {
  const ref = data.value as unknown as Ref;
  if (ref.kind === 'inline') return INLINE_TAG + ref.bytes.toString('base64');
  return ref.kind === 'file' ? `${FILE_TAG}${ref.size}:${ref.sha1}` : ref.raw;
}
/** Never throws: a row it cannot read becomes a `corrupt` ref, reported for its key alone. */
function deserializeRef<V>(raw: string): DeserializedData<V> {
  const file = raw.startsWith(FILE_TAG) ? /^(\d+):([0-9a-f]{40})$/.exec(raw.slice(FILE_TAG.length)) : null;
  const ref: Ref = raw.startsWith(INLINE_TAG) ? { kind: 'inline', bytes: Buffer.from(raw.slice(INLINE_TAG.length), 'base64'), raw }
    : file ? { kind: 'file', size: Number(file[1]), sha1: file[2] as string, raw } : { kind: 'corrupt', raw };
  return { value: ref as unknown as V };
}

type Row = Record<string, unknown>;
interface Db { readonly keyv: Keyv<Ref>; readonly query: (sql: string, ...params: unknown[]) => Promise<Row[]> }
interface LruItem { readonly bytes: Buffer; readonly meta: EntryMeta }
interface Prepared extends EncodedEntry { readonly ref: Ref }
interface Broken { readonly key: string; readonly ref: Ref; readonly warning: StoreWarning }

const sha1 = (data: string | Buffer): string => createHash('sha1').update(data).digest('hex');
const codeOf = (error: unknown): unknown => (error as { code?: unknown } | null)?.code;
const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));
const ignoreMissing = (error: unknown): void => {
  if (codeOf(error) !== 'ENOENT') throw error;
};
const chunks = <T>(items: readonly T[]): T[][] =>
  Array.from({ length: Math.ceil(items.length / CHUNK) }, (_, i) => items.slice(i * CHUNK, (i + 1) * CHUNK));
const toMeta = (row: Row): EntryMeta => ({
  fn: String(row['fn']), args: String(row['args']), size: Number(row['size']),
  createdAt: Number(row['created_at']), lastUsedAt: Number(row['last_used_at']), durationMs: Number(row['duration_ms']),
});

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
  private readonly dbPath: string;
  private readonly valuesDir: string;
  private readonly busyTimeoutMs: number;
  private readonly largeValueBytes: number;
  private readonly onWarning: (warning: StoreWarning) => void;
  private readonly lru: LRUCache<string, LruItem> | undefined;
  private db: Promise<Db> | undefined;
  /** A read could not open the database: reads miss quietly until a write tries again. */
  private readOpenFailed = false;
  /** Tail of the queue that runs this process's database work one piece at a time. */
  private tail: Promise<unknown> = Promise.resolve();
  private running = 0;
  private pendingTouches = new Map<string, number>();
  private touchTimer: NodeJS.Timeout | undefined;
  private flushed: Promise<void> = Promise.resolve();
  private closing: Promise<void> | undefined;
  private disconnected = false;

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
    this.dbPath = join(this.location, 'cache.sqlite');
    this.valuesDir = join(this.location, 'values');
    this.busyTimeoutMs = integer('busyTimeoutMs', 10_000, 0);
    this.largeValueBytes = integer('largeValueBytes', 1024 * 1024, 1);
    const lruBytes = integer('lruBytes', 64 * 1024 * 1024, 0);
    this.onWarning = options.onWarning ?? ((w) => process.emitWarning(w.message, { type: 'JoblibCacheWarning', code: w.code }));
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
    const db = wanted.size > 0 ? await this.connection(false) : undefined;
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
      const bytes = await readFile(this.valuePath(key)).catch((error: unknown) => {
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
    const db = await this.connection(false);
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
    const db = (await this.connection(true)) as Db; // a write gets a connection or throws
    const temps = new Map<string, string>();
    try {
      if (large.length > 0) {
        // Files are written before the transaction, so that the write lock (which every process
        // shares) is held only for the renames, which put complete files in place atomically.
        await mkdir(this.valuesDir, { recursive: true });
        await Promise.all(large.map(async ({ key, bytes }) => {
          const temp = join(this.valuesDir, `.${sha1(key)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
          temps.set(key, temp);
          await writeFile(temp, bytes, { flag: 'wx' });
        }));
      }
      await this.exclusive(() => this.transaction(db, async () => {
        // Old files of keys whose value is now small go under the lock, not after it: a concurrent
        // writer's new file for the same key cannot be removed by mistake.
        const small = prepared.filter((p) => p.ref.kind === 'inline').map((p) => p.key);
        if (small.length > 0 && existsSync(this.valuesDir)) await this.unlinkFilesOf(db, small);
        await Promise.all(large.map(async ({ key }) => {
          await rename(temps.get(key) as string, this.valuePath(key));
          temps.delete(key);
        }));
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
      throw this.writeError(error, 'store results in');
    } finally {
      await Promise.all([...temps.values()].map((temp) => unlink(temp).catch(() => undefined)));
    }
    return prepared.reduce((sum, p) => sum + p.bytes.length, 0);
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    this.assertOpen();
    const unique = [...new Set(keys)];
    unique.forEach((key) => this.pendingTouches.delete(key));
    const db = unique.length > 0 ? await this.connection(false) : undefined;
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
      throw this.writeError(error, 'delete entries from');
    });
  }

  async clear(): Promise<void> {
    this.assertOpen();
    this.pendingTouches.clear();
    const db = await this.connection(false);
    if (!db) return void this.lru?.clear();
    await this.exclusive(() => this.transaction(db, async () => {
      // Plain DELETEs rather than keyv's clear(), whose LIKE on the namespace is case-insensitive.
      await db.query('DELETE FROM keyv');
      await db.query('DELETE FROM joblib_meta');
      const names = await readdir(this.valuesDir).catch(() => [] as string[]);
      await Promise.all(names.map(async (name) => {
        const path = join(this.valuesDir, name);
        // A fresh temp file may be about to be renamed by another process: only old ones go.
        const age = name.endsWith('.tmp') ? Date.now() - ((await stat(path).catch(() => undefined))?.mtimeMs ?? Date.now()) : 0;
        if (name.endsWith('.bin') || age > STALE_TEMP_MS) await unlink(path).catch(ignoreMissing);
      }));
    }, () => this.lru?.clear())).catch((error: unknown) => {
      throw this.writeError(error, 'clear');
    });
  }

  async list(): Promise<ListedEntry[]> {
    this.assertOpen();
    const db = await this.connection(false);
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
    if (this.pendingTouches.size === 0 || this.disconnected) return;
    const batch = [...this.pendingTouches];
    this.pendingTouches = new Map();
    const db = await this.connection(false);
    if (!db) return; // no database: nothing stored to touch
    // Each statement is atomic on its own. A failed batch is dropped: these times only guide eviction.
    await this.exclusive(async () => {
      for (const part of chunks(batch)) await db.query(UPDATE_LAST_USED, JSON.stringify(part));
    }).catch((error: unknown) => {
      throw this.writeError(error, 'record use in');
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.flush().catch((error: unknown) => this.warnTouchesLost(error));
      await this.exclusive(async () => {
        this.disconnected = true; // from here on no call can open or use a connection
        this.lru?.clear();
        await (await this.db?.catch(() => undefined))?.keyv.disconnect();
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

  private valuePath(key: string): string {
    return join(this.valuesDir, `${sha1(key)}.bin`);
  }

  /** Runs `fn` once everything queued before it is done: transactions of one process never interleave. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(async () => {
      if (this.disconnected) throw new ClosedError(`the cache store of ${this.location} is closed`);
      this.running++;
      try {
        return await fn();
      } finally {
        this.running--;
      }
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
    await Promise.all(rows.map((row) => unlink(this.valuePath(String(row['key']))).catch(ignoreMissing)));
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
          if (b.ref.kind === 'file') await unlink(this.valuePath(b.key)).catch(() => undefined);
        }
        return still;
      }, () => broken.forEach((b) => this.lru?.delete(b.key))));
    } catch (error) {
      this.warn({ code: 'STORE_ERROR', message: `could not delete ${broken.length} broken cache entries: ${messageOf(error)}`, cause: error });
    }
    for (const { warning } of confirmed) this.warn(warning);
  }

  /** The connection, opened on first need; `undefined` for a read while there is no database. */
  private async connection(forWrite: boolean): Promise<Db | undefined> {
    if (this.disconnected) throw new ClosedError(`the cache store of ${this.location} is closed`);
    if (!this.db) {
      if (!forWrite && (this.readOpenFailed || !existsSync(this.dbPath))) return undefined;
      const opening = this.open(forWrite);
      this.db = opening;
      opening.then(() => (this.readOpenFailed = false), () => {
        if (this.db === opening) this.db = undefined; // the next write tries again
      });
    }
    try {
      return await this.db;
    } catch (error) {
      if (forWrite) throw error;
      this.readOpenFailed = true;
      this.warn({ code: 'STORE_ERROR', message: `cache database ${this.dbPath} cannot be opened; reads miss: ${messageOf(error)}`, cause: error });
      return undefined;
    }
  }

  /** Opens and prepares the database; any failure is a CacheUnwritableError naming the location. */
  private async open(forWrite: boolean): Promise<Db> {
    // The folder first: the adapter's constructor starts opening the file at once.
    if (forWrite) {
      await mkdir(this.location, { recursive: true }).catch((error: unknown) => {
        throw new CacheUnwritableError(`cannot create the cache folder ${this.location}: ${messageOf(error)}`, this.location, { cause: error });
      });
    }
    const adapter = new KeyvSqlite({ uri: `sqlite://${this.dbPath}`, busyTimeout: this.busyTimeoutMs });
    this.running++; // errors keyv emits meanwhile reach the caller through the rejection
    try {
      const keyv = new Keyv<Ref>(adapter, {
        namespace: undefined, // keys are stored as given, without a "keyv:" prefix
        useKeyPrefix: false,
        serialize: serializeRef,
        deserialize: deserializeRef,
        throwOnErrors: true, // otherwise keyv's get() swallows failures as misses
      });
      // Every keyv error also rejects the call that met it; one while no call runs becomes a warning.
      keyv.on('error', (error: unknown) => {
        if (this.running === 0) this.warn({ code: 'STORE_ERROR', message: `cache database error: ${messageOf(error)}`, cause: error });
      });
      const query = adapter.query as Db['query'];
      // The first query also handles @keyv/sqlite's connection promise, whose rejection would
      // otherwise be unhandled and end the process.
      await this.retryBusy(() => query('PRAGMA journal_mode = WAL'));
      await query(`PRAGMA busy_timeout = ${this.busyTimeoutMs}`);
      await query('PRAGMA synchronous = NORMAL'); // with WAL: a power cut may lose the last commits, never integrity
      const version = Number((await query('PRAGMA user_version'))[0]?.['user_version'] ?? 0);
      if (version > SCHEMA_VERSION) throw new Error(`it was written by a newer joblib-ts (layout ${version})`);
      await this.retryBusy(() => query(CREATE_META));
      if (version < SCHEMA_VERSION) await this.retryBusy(() => query(`PRAGMA user_version = ${SCHEMA_VERSION}`));
      return { keyv, query };
    } catch (error) {
      await adapter.close().catch(() => undefined);
      throw new CacheUnwritableError(`cannot open the cache database ${this.dbPath}: ${messageOf(error)}`, this.location, { cause: error });
    } finally {
      this.running--;
    }
  }

  /** Setup statements can meet SQLITE_BUSY while another process creates the same database. */
  private async retryBusy<T>(fn: () => Promise<T>): Promise<T> {
    for (const deadline = Date.now() + this.busyTimeoutMs; ;) {
      try {
        return await fn();
      } catch (error) {
        if (codeOf(error) !== 'SQLITE_BUSY' || Date.now() > deadline) throw error;
        await sleep(20 + Math.random() * 30);
      }
    }
  }

  /** An unwritable location becomes a CacheUnwritableError naming it; other failures pass as they are. */
  private writeError(error: unknown, action: string): unknown {
    if (error instanceof CacheUnwritableError || !UNWRITABLE_CODES.has(codeOf(error) as string)) return error;
    return new CacheUnwritableError(`cannot ${action} the cache at ${this.location}: ${messageOf(error)}`, this.location, { cause: error });
  }
}
