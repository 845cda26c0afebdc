/**
 * The database of a SQLite cache store (see `sqlite-store.ts` for the layout of a location): opening
 * `cache.sqlite` through keyv 5 over @keyv/sqlite 4, its tables and statements, how keyv's rows hold
 * references to values, and which failures mean that the location cannot be written.
 *
 * Writes go through keyv's connection. Reads go through a second connection of our own, which keeps
 * its statements prepared: @keyv/sqlite prepares, runs and finalizes every statement anew, three
 * trips to the thread pool where a prepared statement takes one (about 90 µs against 25 µs for one
 * row, measured with node-sqlite3 5.1.7 on the development machine). In WAL mode the reader sees
 * every committed write and never waits for a writer, so lookups are not held up by a transaction
 * of this process or another.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Keyv, type DeserializedData } from 'keyv';
import KeyvSqlite from '@keyv/sqlite';
import sqlite3 from 'sqlite3';
import { CacheUnwritableError, ClosedError } from './errors.js';
import type { EntryMeta, StoreWarning } from './store.js';
import { turnWhileWaiting } from './turn-while-waiting.js';

/** Keys per statement: bounds the size of the JSON key lists (and of the parameter lists). */
const CHUNK = 500;
/** Version of the tables' layout, kept in `PRAGMA user_version`. */
const SCHEMA_VERSION = 1;
/** Failures that mean the location cannot be written, from the file system or from SQLite. */
const UNWRITABLE_CODES = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EEXIST', 'ENOSPC', 'EDQUOT',
  'SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_PERM', 'SQLITE_FULL', 'SQLITE_AUTH', 'SQLITE_NOTADB']);
export const META_COLUMNS = 'key, fn, args, size, created_at, last_used_at, duration_ms';
const CREATE_META = `CREATE TABLE IF NOT EXISTS joblib_meta (key TEXT PRIMARY KEY, fn TEXT NOT NULL, args TEXT NOT NULL,
  size INTEGER NOT NULL, created_at INTEGER NOT NULL, last_used_at INTEGER NOT NULL, duration_ms REAL NOT NULL)`;
export const IN_KEYS = 'key IN (SELECT value FROM json_each(?))';
/** Values and metadata in one statement: one snapshot, and one round trip (keyv.getMany + a metadata
 * query would be two). Rows are decoded with the same serializer keyv writes them with. */
const SELECT_ENTRIES_WHERE = `SELECT ${META_COLUMNS}, value FROM joblib_meta JOIN keyv USING (key) WHERE`;
const SELECT_ENTRIES = `${SELECT_ENTRIES_WHERE} ${IN_KEYS}`;
/** The same for one key: the common case of a lookup, without the JSON list. */
const SELECT_ENTRY = `${SELECT_ENTRIES_WHERE} key = ?`;
const HAS_KEY = 'SELECT 1 AS found FROM keyv WHERE key = ?';
/** Last-used times only move forward. */
export const UPDATE_LAST_USED = `UPDATE joblib_meta SET last_used_at = max(last_used_at, json_extract(j.value, '$[1]'))
  FROM json_each(?) AS j WHERE joblib_meta.key = json_extract(j.value, '$[0]')`;

/** What a keyv row holds: the encoded value, or where its file is (`raw`: the row as stored). */
export type Ref =
  | { readonly kind: 'inline'; readonly bytes: Buffer; readonly raw: string }
  | { readonly kind: 'file'; readonly size: number; readonly sha1: string; readonly raw: string }
  | { readonly kind: 'corrupt'; readonly raw: string };

/* keyv's default JSON serializer would mangle Buffers (and most values), so rows are text we
 * control: a tag with a format version, then base64 of encodeValue's bytes, or size and SHA-1. */
const INLINE_TAG = 'jl1:i:';
export const FILE_TAG = 'jl1:f:';
function serializeRef<V>(data: DeserializedData<V>): string {
  const ref = data.value as unknown as Ref;
  if (ref.kind === 'inline') return INLINE_TAG + ref.bytes.toString('base64');
  return ref.kind === 'file' ? `${FILE_TAG}${ref.size}:${ref.sha1}` : ref.raw;
}
/** Never throws: a row it cannot read becomes a `corrupt` ref, reported for its key alone. */
export function deserializeRef<V>(raw: string): DeserializedData<V> {
  const file = raw.startsWith(FILE_TAG) ? /^(\d+):([0-9a-f]{40})$/.exec(raw.slice(FILE_TAG.length)) : null;
  const ref: Ref = raw.startsWith(INLINE_TAG) ? { kind: 'inline', bytes: Buffer.from(raw.slice(INLINE_TAG.length), 'base64'), raw }
    : file ? { kind: 'file', size: Number(file[1]), sha1: file[2] as string, raw } : { kind: 'corrupt', raw };
  return { value: ref as unknown as V };
}

export type Row = Record<string, unknown>;
export interface Db {
  readonly keyv: Keyv<Ref>;
  /** A statement on keyv's connection (the one that writes). */
  readonly query: (sql: string, ...params: unknown[]) => Promise<Row[]>;
  /** The reading connection. */
  readonly reader: Reader;
}

/** The connection that reads, with its statements prepared once. */
export class Reader {
  private readonly statements = new Map<string, Promise<sqlite3.Statement>>();
  /** The statements prepared so far: using them costs no await. */
  private readonly ready = new Map<string, sqlite3.Statement>();

  private constructor(private readonly db: sqlite3.Database) {}

  static open(path: string, busyTimeoutMs: number): Promise<Reader> {
    return new Promise((resolve, reject) => {
      // Not OPEN_CREATE: the writer made the file. FULLMUTEX, as node-sqlite3 uses by default: its
      // calls run on several threads of the pool.
      const db = new sqlite3.Database(path, sqlite3.OPEN_READWRITE | sqlite3.OPEN_FULLMUTEX, (error) => {
        if (error) return reject(error);
        db.configure('busyTimeout', busyTimeoutMs);
        resolve(new Reader(db));
      });
    });
  }

  /** Rows of `SELECT_ENTRIES` for these keys (at most {@link CHUNK}). */
  entries(keys: readonly string[]): Promise<Row[]> {
    return keys.length === 1 ? this.all(SELECT_ENTRY, keys[0]) : this.all(SELECT_ENTRIES, JSON.stringify(keys));
  }

  async has(key: string): Promise<boolean> {
    return (await this.all(HAS_KEY, key)).length > 0;
  }

  /** Runs `sql` (prepared on first use, then kept) to completion, which also ends its read transaction. */
  async all(sql: string, ...params: unknown[]): Promise<Row[]> {
    let prepared = this.statements.get(sql);
    if (!prepared) {
      prepared = new Promise<sqlite3.Statement>((resolve, reject) => {
        const statement = this.db.prepare(sql, (error: Error | null) => {
          if (error) return reject(error);
          this.ready.set(sql, statement);
          resolve(statement);
        });
      });
      this.statements.set(sql, prepared);
      prepared.catch(() => this.statements.delete(sql)); // the next call prepares it again
    }
    const statement = this.ready.get(sql) ?? (await prepared);
    return turnWhileWaiting(new Promise((resolve, reject) => {
      statement.all(params, (error: Error | null, rows: Row[]) => (error ? reject(error) : resolve(rows)));
    }));
  }

  async close(): Promise<void> {
    const statements = await Promise.all([...this.statements.values()].map((p) => p.catch(() => undefined)));
    await Promise.all(statements.map((s) => s && new Promise<void>((resolve) => s.finalize(() => resolve()))));
    this.statements.clear();
    this.ready.clear();
    await new Promise<void>((resolve, reject) => this.db.close((error) => (error ? reject(error) : resolve())));
  }
}

export const codeOf = (error: unknown): unknown => (error as { code?: unknown } | null)?.code;
export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));
export const chunks = <T>(items: readonly T[]): T[][] =>
  Array.from({ length: Math.ceil(items.length / CHUNK) }, (_, i) => items.slice(i * CHUNK, (i + 1) * CHUNK));
export const toMeta = (row: Row): EntryMeta => ({
  fn: String(row['fn']), args: String(row['args']), size: Number(row['size']),
  createdAt: Number(row['created_at']), lastUsedAt: Number(row['last_used_at']), durationMs: Number(row['duration_ms']),
});

/** An unwritable location becomes a CacheUnwritableError naming it; other failures pass as they are. */
export function writeError(error: unknown, action: string, location: string): unknown {
  if (error instanceof CacheUnwritableError || !UNWRITABLE_CODES.has(codeOf(error) as string)) return error;
  return new CacheUnwritableError(`cannot ${action} the cache at ${location}: ${messageOf(error)}`, location, { cause: error });
}

/**
 * `fn` in a write transaction on keyv's connection (call within `exclusive`); `committed` runs
 * after COMMIT.
 */
export async function inTransaction<T>(db: Db, fn: () => Promise<T>, committed: () => void): Promise<T> {
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

/** The database of one location, opened on first need and shared by every call of its store. */
export class SqliteConnection {
  private readonly dbPath: string;
  private db: Promise<Db> | undefined;
  private opened: Db | undefined;
  /** A read could not open the database: reads miss quietly until a write tries again. */
  private readOpenFailed = false;
  /** Calls using the database now: a keyv error while none runs becomes a warning. */
  private running = 0;
  private disconnected = false;
  /** Tail of the queue of {@link SqliteConnection.exclusive}. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly location: string,
    private readonly busyTimeoutMs: number,
    private readonly warn: (warning: StoreWarning) => void,
  ) {
    this.dbPath = join(location, 'cache.sqlite');
  }

  /** The connection if it is open: no await needed. */
  get ready(): Db | undefined {
    return this.disconnected ? undefined : this.opened;
  }

  /** Whether {@link close} was called: no connection can be opened or used any more. */
  get closed(): boolean {
    return this.disconnected;
  }

  /**
   * Runs `fn` once all the work queued before it by this process is done, so that its transactions
   * never interleave on keyv's connection; keyv errors meanwhile reach it through its rejection.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
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

  /** The connection, opened on first need; `undefined` for a read while there is no database. */
  async connection(forWrite: boolean): Promise<Db | undefined> {
    if (this.disconnected) throw new ClosedError(`the cache store of ${this.location} is closed`);
    if (!this.db) {
      if (!forWrite && (this.readOpenFailed || !existsSync(this.dbPath))) return undefined;
      const opening = this.open(forWrite);
      this.db = opening;
      opening.then((db) => {
        this.readOpenFailed = false;
        if (this.db === opening) this.opened = db;
      }, () => {
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

  /** Disconnects the database, if it was opened (call when no other call uses it). */
  async close(): Promise<void> {
    this.disconnected = true; // from here on no call can open or use a connection
    const db = await this.db?.catch(() => undefined);
    if (!db) return;
    await db.reader.close().catch(() => undefined); // the reader first: the last connection to close cleans up the WAL
    await db.keyv.disconnect();
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
      const reader = await Reader.open(this.dbPath, this.busyTimeoutMs);
      return { keyv, query, reader };
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
}
