/**
 * The write-behind of the SQLite store: it commits deferred writes (`setMany(entries, { defer: true })`)
 * and records of use (`touch()`) after the calls that made them have returned. What waits is held in
 * the store's {@link StoreFront}, where reads see it before it is committed.
 *
 * Deferred writes are committed by a flush that starts on the next turn of the event loop; writes
 * deferred while one runs go together in the next one (group commit), so a burst of results costs a
 * few transactions rather than one each. The pending flush keeps the process alive until it is done,
 * and stores with anything unwritten flush again when the process runs out of work ('beforeExit'): a
 * process that ends normally loses nothing. A crash, or `process.exit()` within that moment, loses the
 * results of the last moment, which are then computed again; each flush is one transaction, so the
 * database stays consistent. Touches wait up to a second, so that they are written in batches.
 */
import type { EncodedEntry, StoreWarning } from './store.js';
import { UPDATE_LAST_USED, chunks, messageOf, writeError } from './sqlite-connection.js';
import type { Db, SqliteConnection } from './sqlite-connection.js';
import type { StoreFront } from './store-front.js';

/**
 * Writes `entries` in one transaction; they enter the LRU once committed. `current`, when given, is
 * asked under the write lock which entries are still to be written.
 */
export type CommitEntries<Entry> = (db: Db, entries: readonly Entry[], current?: (entry: Entry) => boolean) => Promise<void>;

/** What a {@link WriteBehind} works with: the parts of its store. */
export interface WriteBehindParts<Entry extends EncodedEntry> {
  /** The cache folder, to name in errors. */
  readonly location: string;
  readonly database: SqliteConnection;
  /** Holds the queued entries and touches, which the write-behind takes from it. */
  readonly front: StoreFront<Entry>;
  /** How the store writes entries; the write-behind uses it for the queued ones. */
  readonly commit: CommitEntries<Entry>;
  readonly warn: (warning: StoreWarning) => void;
}

/** Commits the deferred writes and touches of one store, and schedules when. */
export class WriteBehind<Entry extends EncodedEntry> {
  private touchTimer: NodeJS.Timeout | undefined;
  private writeScheduled = false;
  private flushed: Promise<void> = Promise.resolve();

  constructor(private readonly parts: WriteBehindParts<Entry>) {}

  /** Queues entries, each replacing a queued entry of its key; they are committed on the next turn of the event loop. */
  enqueue(entries: readonly Entry[]): void {
    this.parts.front.enqueue(entries);
    this.scheduleWrite();
  }

  /** Records that `keys` were used at `at`; written within about a second. */
  touch(keys: readonly string[], at: number): void {
    const { front } = this.parts;
    for (const key of keys) front.touch(key, at);
    if (this.touchTimer === undefined && front.touches.size > 0) {
      flushBeforeExit(this);
      this.touchTimer = setTimeout(() => {
        this.touchTimer = undefined;
        this.flush().catch((error: unknown) => this.warnTouchesLost(error));
      }, 1_000);
      this.touchTimer.unref(); // pending touches alone must not keep the process alive ('beforeExit' writes them)
    }
  }

  /**
   * Writes the queued entries and touches now. A failed write of entries is a warning (they are
   * computed again when needed); failing to record touches rejects.
   */
  flush(): Promise<void> {
    clearTimeout(this.touchTimer);
    this.touchTimer = undefined;
    // Chained, so that flush() also waits for a batch an earlier call took but has not written yet.
    const run = this.flushed.then(async () => {
      await this.writeQueued();
      await this.writeTouches();
      const { front } = this.parts;
      if (front.pending.size === 0 && front.touches.size === 0) flushedBeforeExit(this);
    });
    this.flushed = run.catch(() => undefined);
    return run;
  }

  /**
   * Flushes for the store's close(), with a warning for a failure; the process no longer flushes
   * this store before it exits.
   */
  async close(): Promise<void> {
    await this.flush().catch((error: unknown) => this.warnTouchesLost(error));
    flushedBeforeExit(this);
  }

  /** Flushes, with a warning for a failure (for when the process runs out of work). */
  flushAtExit(): void {
    this.flush().catch((error: unknown) => this.warnTouchesLost(error));
  }

  /** Reports touches that could not be written (they only guide eviction, so nothing else is done). */
  private warnTouchesLost(error: unknown): void {
    this.parts.warn({ code: 'STORE_ERROR', message: `could not record cache use: ${messageOf(error)}`, cause: error });
  }

  /** A flush on the next turn of the event loop, unless one is already coming. */
  private scheduleWrite(): void {
    if (this.writeScheduled) return;
    this.writeScheduled = true;
    flushBeforeExit(this);
    setImmediate(() => {
      this.writeScheduled = false;
      this.flush().catch((error: unknown) => this.warnTouchesLost(error));
    });
  }

  /** Commits the deferred writes queued now, in one transaction. Never throws: a failure is a warning. */
  private async writeQueued(): Promise<void> {
    const { front, database } = this.parts;
    if (front.pending.size === 0 || database.closed) return;
    const batch = [...front.pending.values()];
    try {
      // Under the lock, only what is still queued: a write through, a delete or a clear of a key,
      // committed while this batch waited for the lock, is newer than the queued entry.
      await this.parts.commit((await database.connection(true)) as Db, batch, (p) => front.pending.get(p.key) === p);
    } catch (error) {
      front.dropped(batch);
      const message = `could not store ${batch.length} cached results, which will be computed again when needed: ${messageOf(error)}`;
      this.parts.warn({ code: 'STORE_ERROR', message, cause: error });
    }
  }

  private async writeTouches(): Promise<void> {
    const { front, database } = this.parts;
    if (front.touches.size === 0 || database.closed) return;
    const batch = [...front.touches];
    front.touches.clear();
    const db = await database.connection(false);
    if (!db) return; // no database: nothing stored to touch
    // Each statement is atomic on its own. A failed batch is dropped: these times only guide eviction.
    await database.exclusive(async () => {
      for (const part of chunks(batch)) await db.query(UPDATE_LAST_USED, JSON.stringify(part));
    }).catch((error: unknown) => {
      throw writeError(error, 'record use in', this.parts.location);
    });
  }
}

/** What {@link flushBeforeExit} needs of a write-behind. */
interface Flushable {
  flushAtExit(): void;
}

/** Write-behinds with deferred writes or touches not yet written. */
const unflushed = new Set<Flushable>();
let exitHooked = false;

/**
 * Has `flushable` flushed when the process runs out of work ('beforeExit'), unless it says before
 * then that it has nothing left ({@link flushedBeforeExit}).
 */
function flushBeforeExit(flushable: Flushable): void {
  unflushed.add(flushable);
  if (exitHooked) return;
  exitHooked = true;
  // The flushes keep the event loop busy, after which 'beforeExit' comes again, with nothing left.
  process.on('beforeExit', () => {
    for (const pending of unflushed) pending.flushAtExit();
    unflushed.clear();
  });
}

/** `flushable` has nothing left to write (or is closed). */
function flushedBeforeExit(flushable: Flushable): void {
  unflushed.delete(flushable);
}
