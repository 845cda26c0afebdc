/**
 * Large values of a SQLite cache store, kept out of the database: `<location>/values/<sha1 of
 * key>.bin`, each written to a temp file first and renamed into place, so that no reader ever sees a
 * partly written file. Their rows in the database hold their size and SHA-1.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FILE_TAG, IN_KEYS, codeOf, type Db } from './sqlite-connection.js';

/** Temp files older than this (1 h) are leftovers of a crashed writer; clear() removes them. */
const STALE_TEMP_MS = 3_600_000;

export const sha1 = (data: string | Buffer): string => createHash('sha1').update(data).digest('hex');
const ignoreMissing = (error: unknown): void => {
  if (codeOf(error) !== 'ENOENT') throw error;
};

/** The value files of one location; the folder is created on the first write. */
export class ValueFiles {
  constructor(readonly dir: string) {}

  /** Where the value of `key` is kept. */
  path(key: string): string {
    return join(this.dir, `${sha1(key)}.bin`);
  }

  read(key: string): Promise<Buffer> {
    return readFile(this.path(key));
  }

  /** Removes the value files of those `keys` whose row points to one (within a transaction). */
  async removeFilesOf(db: Db, keys: readonly string[]): Promise<void> {
    const rows = await db.query(`SELECT key FROM keyv WHERE value LIKE '${FILE_TAG}%' AND ${IN_KEYS}`, JSON.stringify(keys));
    await Promise.all(rows.map((row) => this.remove(String(row['key']))));
  }

  /** Removes the value file of `key`; one already gone is fine. */
  remove(key: string): Promise<void> {
    return unlink(this.path(key)).catch(ignoreMissing);
  }

  /**
   * Writes each value to a new temp file of its own. `temps` receives each file's path before the
   * file is written, so that the caller can remove every one ({@link removeTemps}), even after a
   * failure.
   */
  async writeTemps(entries: readonly { readonly key: string; readonly bytes: Buffer }[], temps: Map<string, string>): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await Promise.all(entries.map(async ({ key, bytes }) => {
      const temp = join(this.dir, `.${sha1(key)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
      temps.set(key, temp);
      await writeFile(temp, bytes, { flag: 'wx' });
    }));
  }

  /** Renames each temp file of `temps` to its key's path, which replaces a complete file atomically;
   * a renamed one leaves `temps`. */
  async moveIntoPlace(temps: Map<string, string>): Promise<void> {
    await Promise.all([...temps].map(async ([key, temp]) => {
      await rename(temp, this.path(key));
      temps.delete(key);
    }));
  }

  /** Removes the temp files left in `temps`; never throws. */
  async removeTemps(temps: ReadonlyMap<string, string>): Promise<void> {
    await Promise.all([...temps.values()].map((temp) => unlink(temp).catch(() => undefined)));
  }

  /** Removes every value file, and the temp files old enough to be leftovers of a crashed writer. */
  async clear(): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    await Promise.all(names.map(async (name) => {
      const path = join(this.dir, name);
      // A fresh temp file may be about to be renamed by another process: only old ones go.
      const age = name.endsWith('.tmp') ? Date.now() - ((await stat(path).catch(() => undefined))?.mtimeMs ?? Date.now()) : 0;
      if (name.endsWith('.bin') || age > STALE_TEMP_MS) await unlink(path).catch(ignoreMissing);
    }));
  }
}
