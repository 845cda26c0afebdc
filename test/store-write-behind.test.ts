import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sqlite3 from 'sqlite3';
import { isJoblibError } from '../dist/errors.js';
import type { CacheStore, NewEntry, StoreWarning } from '../dist/store.js';
import { openSqliteStore } from '../dist/sqlite-store.js';

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});
async function open(location?: string): Promise<{ store: CacheStore; warnings: StoreWarning[]; location: string }> {
  const warnings: StoreWarning[] = [];
  if (location === undefined) {
    const dir = await mkdtemp(join(tmpdir(), 'joblib-write-behind-'));
    dirs.push(dir);
    location = join(dir, 'cache');
  }
  const store = await openSqliteStore({ location, onWarning: (w) => warnings.push(w) });
  return { store, warnings, location };
}
const entry = (key: string, value: unknown, createdAt = 1_000): NewEntry => ({ key, value, meta: { fn: 'fit@abc', args: key, createdAt, durationMs: 1 } });
const defer = { defer: true } as const;

/** Asks `read` again until it gives something other than `undefined` (or gives up after 5 s). */
async function eventually<T>(read: () => Promise<T | undefined>): Promise<T | undefined> {
  for (const deadline = Date.now() + 5_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 10))) {
    const got = await read();
    if (got !== undefined) return got;
  }
  return undefined;
}

describe('SqliteStore deferred writes', () => {
  it('are visible to this process at once, and written by flush()', async () => {
    const { store, location } = await open();
    await store.setMany([entry('a', { n: 1 }), entry('b', 'two')], defer);
    assert.deepStrictEqual((await store.getMany(['a', 'b'])).map((e) => e?.value), [{ n: 1 }, 'two']);
    assert.deepStrictEqual(store.peek('a')?.value, { n: 1 });
    assert.equal(await store.has('b'), true);
    assert.deepStrictEqual((await store.list()).map((e) => e.key), ['a', 'b']);
    await store.flush();
    const { store: other } = await open(location); // another connection: only what was committed
    assert.deepStrictEqual((await other.getMany(['a', 'b'])).map((e) => e?.value), [{ n: 1 }, 'two']);
    await Promise.all([store.close(), other.close()]);
  });

  it('never undo a write through, a delete or a clear committed while their batch waited', async () => {
    const big = () => new Float64Array(200_000).fill(1); // 1.6 MB: its file is written before the lock
    for (const [newer, expected] of [
      [(store: CacheStore) => store.setMany([entry('k', 'newer')]), 'newer'],
      [(store: CacheStore) => store.deleteMany(['k']), undefined],
      [(store: CacheStore) => store.clear(), undefined],
    ] as const) {
      const { store, location } = await open();
      await store.setMany([entry('k', big())], defer);
      await new Promise((resolve) => setImmediate(resolve)); // the write-behind has started
      await newer(store);
      assert.deepStrictEqual((await store.getMany(['k']))[0]?.value, expected, String(newer));
      await store.flush();
      assert.deepStrictEqual((await store.getMany(['k']))[0]?.value, expected, String(newer));
      await store.close();
      const { store: reopened } = await open(location);
      assert.deepStrictEqual((await reopened.getMany(['k']))[0]?.value, expected, String(newer));
      await reopened.close();
    }
  });

  it('made while a delete or a clear runs are kept: they are newer than it', async () => {
    for (const remove of [(store: CacheStore) => store.deleteMany(['k']), (store: CacheStore) => store.clear()]) {
      const { store, location, warnings } = await open();
      await store.setMany([entry('k', 'old')]);
      const removing = remove(store);
      await store.setMany([entry('k', 'new')], defer); // after the deletion began, before it commits
      await removing;
      assert.equal((await store.getMany(['k']))[0]?.value, 'new', String(remove));
      await store.close();
      const { store: reopened } = await open(location);
      assert.equal((await reopened.getMany(['k']))[0]?.value, 'new', String(remove));
      await reopened.close();
      assert.deepStrictEqual(warnings, []);
    }
  });

  it('are written by themselves soon after', async () => {
    const { store, location } = await open();
    await store.setMany([entry('soon', 42)], defer);
    const { store: other } = await open(location);
    assert.equal(await eventually(async () => (await other.getMany(['soon']))[0]?.value), 42);
    await Promise.all([store.close(), other.close()]);
  });

  it('keep the value as it was when setMany was called', async () => {
    const { store } = await open();
    const value = { list: [1], bytes: new Uint8Array([1, 2]) };
    await store.setMany([entry('k', value)], defer);
    value.list.push(2);
    value.bytes[0] = 9;
    assert.deepStrictEqual(store.peek('k')?.value, { list: [1], bytes: new Uint8Array([1, 2]) });
    await store.flush();
    assert.deepStrictEqual((await store.getMany(['k']))[0]?.value, { list: [1], bytes: new Uint8Array([1, 2]) });
    await store.close();
  });

  it('let the latest write of a key win, deferred or not', async () => {
    const { store, location } = await open();
    await store.setMany([entry('k', 1)], defer);
    await store.setMany([entry('k', 2)], defer);
    assert.equal(store.peek('k')?.value, 2);
    await store.setMany([entry('k', 3)]);
    await store.setMany([entry('j', 1)], defer);
    await store.setMany([entry('j', 2)]);
    await store.flush();
    await store.close();
    const { store: reopened } = await open(location);
    assert.deepStrictEqual((await reopened.getMany(['k', 'j'])).map((e) => e?.value), [3, 2]);
    await reopened.close();
  });

  it('are dropped by deleteMany, which counts them, and by clear', async () => {
    const { store, location } = await open();
    await store.setMany([entry('stored', 1)]);
    await store.setMany([entry('stored', 2), entry('queued', 3)], defer);
    assert.equal(await store.deleteMany(['stored', 'queued', 'absent']), 2);
    assert.deepStrictEqual(await store.getMany(['stored', 'queued']), [undefined, undefined]);
    await store.setMany([entry('again', 4)], defer);
    await store.clear();
    assert.equal(store.peek('again'), undefined);
    await store.close();
    const { store: reopened } = await open(location);
    assert.deepStrictEqual(await reopened.list(), []);
    await reopened.close();
  });

  it('that the database refuses are dropped with a STORE_ERROR warning', async () => {
    const { store, warnings, location } = await open();
    await store.setMany([entry('before', 0)]);
    const db = new sqlite3.Database(join(location, 'cache.sqlite'));
    await new Promise<void>((resolve, reject) =>
      db.run("CREATE TRIGGER refuse BEFORE INSERT ON joblib_meta WHEN NEW.key = 'boom' BEGIN SELECT RAISE(ABORT, 'injected failure'); END", (e) => (e ? reject(e) : resolve())));
    await new Promise<void>((resolve) => db.close(() => resolve()));
    await store.setMany([entry('a', 1), entry('boom', 2)], defer);
    await store.flush();
    assert.deepStrictEqual(warnings.map((w) => w.code), ['STORE_ERROR']);
    assert.match(warnings[0]?.message ?? '', /injected failure/);
    assert.deepStrictEqual((await store.getMany(['a', 'boom', 'before'])).map((e) => e?.value), [undefined, undefined, 0]);
    await store.close();
  });

  it('reject at once when the location cannot be written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'joblib-write-behind-'));
    dirs.push(dir);
    const file = join(dir, 'a-file');
    await writeFile(file, 'not a folder');
    const { store } = await open(join(file, 'cache'));
    await assert.rejects(store.setMany([entry('a', 1)], defer), (e) => isJoblibError(e, 'ERR_CACHE_UNWRITABLE'));
    await store.close();
  });

  it('are written when the process ends without closing the store, and so are touches', async () => {
    const { location } = await open();
    const fixture = fileURLToPath(new URL('./fixtures/store-exits.mjs', import.meta.url));
    const run = promisify(execFile);
    const writes = await run(process.execPath, [fixture, location, 'writes', '50']);
    assert.equal(writes.stderr, '');
    const touch = await run(process.execPath, [fixture, location, 'touch', 'k7', '9000']);
    assert.equal(touch.stderr, '');
    const { store } = await open(location);
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
    assert.deepStrictEqual((await store.getMany(keys)).map((e) => e?.value), keys.map((_, i) => ({ i })));
    assert.equal(((await store.getMany(['big']))[0]?.value as Float64Array | undefined)?.length, 200_000);
    assert.equal((await store.list()).find((e) => e.key === 'k7')?.lastUsedAt, 9_000);
    await store.close();
  });
});

describe('SqliteStore peek', () => {
  it('answers from memory only, with a value of its own each time', async () => {
    const { store, location } = await open();
    await store.setMany([entry('tree', { list: [1], when: new Date(5), m: new Map([[1, new Set([2])]]), bytes: Buffer.from('ab') })]);
    for (let round = 0; round < 2; round++) {
      const value = store.peek('tree')?.value as { list: number[]; bytes: Buffer; m: Map<number, Set<number>> };
      assert.deepStrictEqual(value, { list: [1], when: new Date(5), m: new Map([[1, new Set([2])]]), bytes: Buffer.from('ab') });
      value.list.push(2);
      value.bytes[0] = 0;
      value.m.get(1)?.add(3);
    }
    await store.close();
    const { store: reopened } = await open(location);
    assert.equal(reopened.peek('tree'), undefined, 'not read yet in this process');
    await reopened.getMany(['tree']);
    assert.deepStrictEqual((reopened.peek('tree')?.value as { list: number[] }).list, [1]);
    await reopened.close();
  });

  it('keeps shared parts shared and a cycle a cycle, as decoding does', async () => {
    const { store } = await open();
    const part = { x: 1 };
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    await store.setMany([entry('dag', { a: part, b: part }), entry('cycle', cyclic)]);
    for (let round = 0; round < 2; round++) {
      const dag = store.peek('dag')?.value as { a: object; b: object };
      assert.equal(dag.a, dag.b);
      const cycle = store.peek('cycle')?.value as { self: unknown };
      assert.equal(cycle.self, cycle);
    }
    await store.close();
  });
});
