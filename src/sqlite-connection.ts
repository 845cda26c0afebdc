/**
 * The database of a SQLite cache store (see `sqlite-store.ts` for the layout of a location): opening
 * `cache.sqlite` through keyv 5 over @keyv/sqlite 4, its tables and statements, how keyv's rows hold
 * references to values, and which failures mean that the location cannot be written.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Keyv, type DeserializedData } from 'keyv';
import KeyvSqlite from '@keyv/sqlite';
import { CacheUnwritableError, ClosedError } from './errors.js';
import type { EntryMeta, StoreWarning } from './store.js';

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
export const SELECT_ENTRIES = `SELECT m.key, fn, args, size, created_at, last_used_at, duration_ms, k.value
  FROM joblib_meta AS m JOIN keyv AS k ON k.key = m.key WHERE m.${IN_KEYS}`;
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
export interface Db { readonly keyv: Keyv<Ref>; readonly query: (sql: string, ...params: unknown[]) => Promise<Row[]> }

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

/** The database of one location, opened on first need and shared by every call of its store. */
export class SqliteConnection {
  private readonly dbPath: string;
  private db: Promise<Db> | undefined;
  /** A read could not open the database: reads miss quietly until a write tries again. */
  private readOpenFailed = false;
  /** Calls using the database now: a keyv error while none runs becomes a warning. */
  private running = 0;
  private disconnected = false;

  constructor(
    private readonly location: string,
    private readonly busyTimeoutMs: number,
    private readonly warn: (warning: StoreWarning) => void,
  ) {
    this.dbPath = join(location, 'cache.sqlite');
  }

  /** Whether {@link close} was called: no connection can be opened or used any more. */
  get closed(): boolean {
    return this.disconnected;
  }

  /** Runs `fn` as a call using the database: keyv errors meanwhile reach it through its rejection. */
  async using<T>(fn: () => Promise<T>): Promise<T> {
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
    }
  }

  /** The connection, opened on first need; `undefined` for a read while there is no database. */
  async connection(forWrite: boolean): Promise<Db | undefined> {
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

  /** Disconnects the database, if it was opened (call when no other call uses it). */
  async close(): Promise<void> {
    this.disconnected = true; // from here on no call can open or use a connection
    await (await this.db?.catch(() => undefined))?.keyv.disconnect();
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
}
