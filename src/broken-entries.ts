/**
 * Repair of the SQLite store's broken entries: a read that meets an entry it cannot use (a row in an
 * unknown format, a value that does not decode, a value file missing, truncated or altered) records it
 * here and answers a miss; once the read is done, the entries are deleted, with a warning for each.
 */
import type { EncodedEntry, StoreWarning } from './store.js';
import { inTransaction, messageOf } from './sqlite-connection.js';
import type { Db, Ref, SqliteConnection } from './sqlite-connection.js';
import type { StoreFront } from './store-front.js';
import type { ValueFiles } from './value-files.js';

interface Broken { readonly key: string; readonly ref: Ref; readonly warning: StoreWarning }

/** What deleting broken entries needs of the store. */
export interface RepairParts {
  readonly database: SqliteConnection;
  readonly files: ValueFiles;
  /** Lets the deleted entries go from memory. */
  readonly front: Pick<StoreFront<EncodedEntry>, 'forgetStored'>;
  readonly warn: (warning: StoreWarning) => void;
}

/** The broken entries one read met. */
export class BrokenEntries {
  private readonly found: Broken[] = [];

  get size(): number {
    return this.found.length;
  }

  /** The entry of `key`, read as `ref`, is broken; `message` says how. */
  add(key: string, ref: Ref, message: string, cause?: unknown, code: StoreWarning['code'] = 'CORRUPT_ENTRY'): void {
    const warning = { code, key, message: `cache entry ${key}: ${message}` };
    this.found.push({ key, ref, warning: cause === undefined ? warning : { ...warning, cause } });
  }

  /**
   * Deletes the entries whose row is still the one that was read, and warns about those: if
   * another process rewrote or deleted an entry meanwhile, its failure was a race, not damage.
   */
  async delete(db: Db, { database, files, front, warn }: RepairParts): Promise<void> {
    const broken = this.found;
    let confirmed: readonly Broken[] = broken;
    let outcome = 'the entry was deleted';
    const keys = broken.map((b) => b.key);
    try {
      confirmed = await database.exclusive(() => inTransaction(db, async () => {
        const still: Broken[] = [];
        for (const b of broken) {
          if ((await db.query('DELETE FROM keyv WHERE key = ? AND value = ? RETURNING key', b.key, b.ref.raw)).length === 0) continue;
          still.push(b);
          await db.query('DELETE FROM joblib_meta WHERE key = ?', b.key);
          if (b.ref.kind === 'file') await files.remove(b.key).catch(() => undefined);
        }
        return still;
      }, () => front.forgetStored(keys)));
    } catch (error) {
      outcome = 'it could not be deleted';
      warn({ code: 'STORE_ERROR', message: `could not delete ${broken.length} broken cache entries: ${messageOf(error)}`, cause: error });
    }
    for (const { warning } of confirmed) warn({ ...warning, message: `${warning.message}; ${outcome}` });
  }
}
