import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sqlite3 from 'sqlite3';
import { isJoblibError } from '../dist/errors.js';
import { decodeValue, encodeValue, type CacheStore, type NewEntry, type StoreWarning } from '../dist/store.js';
import { openSqliteStore } from '../dist/sqlite-store.js';

/** Builds a store for a location; each contract test gets a fresh temp location. */
type MakeStore = (options: { location: string; onWarning: (w: StoreWarning) => void }) => Promise<CacheStore>;

const tempDirs: string[] = [];
after(async () => {
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'joblib-store-'));
  tempDirs.push(dir);
  return dir;
}

const entry = (key: string, value: unknown, createdAt = 1_000): NewEntry => ({
  key,
  value,
  meta: { fn: 'fit@abc', args: `(${key})`, createdAt, durationMs: 12.5 },
});

/** Values that JSON would corrupt, each with a name for the failure message. */
const tricky: Record<string, unknown> = {
  undefinedValue: undefined,
  nullValue: null,
  nan: NaN,
  negativeZero: -0,
  infinity: -Infinity,
  bigint: 2n ** 100n,
  map: new Map<unknown, unknown>([[1, 'one'], [{ k: 1 }, [2n]]]),
  set: new Set([1, 'a', NaN]),
  date: new Date(1_700_000_000_000),
  regexp: /a+b/giu,
  float64: new Float64Array([1.5, NaN, -0, Infinity]),
  uint8: new Uint8Array([0, 255, 7]),
  bigInt64: new BigInt64Array([-(2n ** 63n), 5n]),
  buffer: Buffer.from('héllo'),
  // eslint-disable-next-line no-sparse-arrays
  sparse: [1, , 3, , , 'x'],
  nested: { a: [{ b: new Map([['c', new Set([new Date(0)])]]) }], u: undefined, s: 'ü\u{1F600}' },
};

/** The contract of {@link CacheStore}, written once, run against each implementation. */
export function storeContract(name: string, makeStore: MakeStore): void {
  describe(`CacheStore contract: ${name}`, () => {
    async function fresh(location?: string) {
      const warnings: StoreWarning[] = [];
      const dir = location ?? join(await tempDir(), 'cache');
      const store = await makeStore({ location: dir, onWarning: (w) => warnings.push(w) });
      return { store, warnings, dir };
    }

    it('round-trips tricky values exactly, and tells undefined as a value from a miss', async () => {
      const { store, dir } = await fresh();
      const keys = Object.keys(tricky);
      await store.setMany(keys.map((k) => entry(k, tricky[k])));
      const check = (got: Awaited<ReturnType<CacheStore['getMany']>>) => {
        keys.forEach((k, i) => {
          assert.ok(got[i] !== undefined, `${k} missing`);
          assert.deepStrictEqual(got[i]?.value, tricky[k], k);
        });
      };
      check(await store.getMany(keys)); // from the LRU
      const [hit, miss] = await store.getMany(['undefinedValue', 'absent']);
      assert.ok(hit && 'value' in hit && hit.value === undefined);
      assert.equal(miss, undefined);
      await store.close();
      const reopened = (await fresh(dir)).store;
      check(await reopened.getMany(keys)); // from SQLite
      await reopened.close();
    });

    it('returns fresh objects: mutating a result does not change the cache', async () => {
      const { store } = await fresh();
      await store.setMany([entry('k', { list: [1], bytes: new Uint8Array([1, 2]) })]);
      for (let round = 0; round < 2; round++) {
        const [got] = await store.getMany(['k', 'k']);
        const value = got?.value as { list: number[]; bytes: Uint8Array };
        assert.deepStrictEqual(value, { list: [1], bytes: new Uint8Array([1, 2]) });
        value.list.push(2);
        value.bytes[0] = 99;
      }
      await store.close();
    });

    it('records metadata: size, createdAt, lastUsedAt = createdAt, durationMs; args cut to 200 chars', async () => {
      const { store } = await fresh();
      const long = { ...entry('long', 1), meta: { ...entry('long', 1).meta, args: 'x'.repeat(500) } };
      await store.setMany([entry('a', 'abc', 5_000), long]);
      const [a] = await store.getMany(['a']);
      assert.deepStrictEqual(a?.meta, { fn: 'fit@abc', args: '(a)', size: encodeValue('abc').length, createdAt: 5_000, lastUsedAt: 5_000, durationMs: 12.5 });
      const listed = await store.list();
      assert.deepStrictEqual(listed.map((e) => e.key).sort(), ['a', 'long']);
      assert.ok((listed.find((e) => e.key === 'long')?.args.length ?? 0) <= 200);
      await store.close();
    });

    it('skips an unserializable value with a warning and stores the rest of the batch', async () => {
      const { store, warnings } = await fresh();
      await store.setMany([entry('a', 1), entry('fn', { f: () => 1 }), entry('sym', Symbol('s')), entry('c', 3)]);
      assert.deepStrictEqual((await store.getMany(['a', 'fn', 'sym', 'c'])).map((e) => e?.value), [1, undefined, undefined, 3]);
      assert.deepStrictEqual(warnings.map((w) => [w.code, w.key]), [['UNSERIALIZABLE_VALUE', 'fn'], ['UNSERIALIZABLE_VALUE', 'sym']]);
      assert.equal(await store.has('fn'), false);
      await store.close();
    });

    it('lets the last entry of a key win within one batch, and overwrites across batches', async () => {
      const { store } = await fresh();
      await store.setMany([entry('k', 1), entry('k', 2)]);
      assert.equal((await store.getMany(['k']))[0]?.value, 2);
      await store.setMany([entry('k', 'three', 9)]);
      const [k] = await store.getMany(['k']);
      assert.equal(k?.value, 'three');
      assert.equal(k?.meta.createdAt, 9);
      assert.equal((await store.list()).length, 1);
      await store.close();
    });

    it('deleteMany counts what it deleted; clear empties the location; has and list follow', async () => {
      const { store } = await fresh();
      await store.setMany(['a', 'b', 'c', 'd'].map((k) => entry(k, k)));
      assert.equal(await store.has('a'), true);
      assert.equal(await store.deleteMany(['a', 'b', 'zz', 'a']), 2);
      assert.equal(await store.has('a'), false);
      assert.deepStrictEqual((await store.getMany(['a', 'c'])).map((e) => e?.value), [undefined, 'c']);
      assert.deepStrictEqual((await store.list()).map((e) => e.key).sort(), ['c', 'd']);
      await store.clear();
      assert.deepStrictEqual(await store.list(), []);
      assert.deepStrictEqual(await store.getMany(['c', 'd']), [undefined, undefined]);
      await store.setMany([entry('e', 5)]); // usable after clear
      assert.equal((await store.getMany(['e']))[0]?.value, 5);
      await store.close();
    });

    it('touch moves lastUsedAt forward only, is visible at once, and persists after flush', async () => {
      const { store, dir } = await fresh();
      await store.setMany([entry('a', 1, 1_000), entry('b', 2, 1_000)]);
      store.touch(['a'], 5_000);
      store.touch(['a'], 3_000); // older: ignored
      store.touch(['zz'], 5_000); // unknown key: harmless
      assert.equal((await store.getMany(['a']))[0]?.meta.lastUsedAt, 5_000);
      assert.equal((await store.list()).find((e) => e.key === 'a')?.lastUsedAt, 5_000);
      await store.flush();
      await store.close();
      const reopened = (await fresh(dir)).store;
      const listed = await reopened.list();
      assert.equal(listed.find((e) => e.key === 'a')?.lastUsedAt, 5_000);
      assert.equal(listed.find((e) => e.key === 'b')?.lastUsedAt, 1_000);
      await reopened.close();
    });

    it('writes touches by itself within about a second', async () => {
      const { store, dir } = await fresh();
      await store.setMany([entry('a', 1, 1_000)]);
      store.touch(['a'], 7_000);
      await new Promise((r) => setTimeout(r, 1_500));
      const other = (await fresh(dir)).store; // another connection sees it
      assert.equal((await other.list())[0]?.lastUsedAt, 7_000);
      await Promise.all([other.close(), store.close()]);
    });

    it('close() writes pending touches; calls after close reject with ERR_CLOSED; close twice is fine', async () => {
      const { store, dir } = await fresh();
      await store.setMany([entry('a', 1, 1_000)]);
      store.touch(['a'], 8_000);
      await store.close();
      await store.close();
      await assert.rejects(store.getMany(['a']), (e) => isJoblibError(e, 'ERR_CLOSED'));
      await assert.rejects(store.setMany([entry('b', 1)]), (e) => isJoblibError(e, 'ERR_CLOSED'));
      const reopened = (await fresh(dir)).store;
      assert.equal((await reopened.list())[0]?.lastUsedAt, 8_000);
      await reopened.close();
    });

    it('serves many concurrent calls of one process without mixing their transactions', async () => {
      const { store } = await fresh();
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < 60; i++) {
        calls.push(store.setMany([entry(`k${i}`, i), entry(`k${i}b`, [i])]));
        calls.push(store.getMany([`k${i - 1}`, `k${i}`]));
        if (i % 10 === 9) calls.push(store.deleteMany([`k${i - 5}b`]), store.list(), store.has(`k${i}`));
        store.touch([`k${i}`]);
      }
      await Promise.all(calls);
      const got = await store.getMany(Array.from({ length: 60 }, (_, i) => `k${i}`));
      assert.deepStrictEqual(got.map((e) => e?.value), Array.from({ length: 60 }, (_, i) => i));
      await store.close();
    });

    it('does not create anything before the first write; reads of a new location miss', async () => {
      const dir = join(await tempDir(), 'not', 'yet');
      const { store } = await fresh(dir);
      assert.deepStrictEqual(await store.getMany(['a']), [undefined]);
      assert.equal(await store.has('a'), false);
      assert.deepStrictEqual(await store.list(), []);
      assert.equal(await store.deleteMany(['a']), 0);
      await store.clear();
      await store.flush();
      assert.equal(existsSync(dir), false);
      await store.setMany([entry('a', 1)]);
      assert.equal(existsSync(dir), true);
      await store.close();
    });
  });
}

storeContract('SqliteStore', (options) => openSqliteStore(options));

/** Runs one SQL statement on the store's database through a separate connection; returns its rows. */
async function sql(dir: string, statement: string, ...params: unknown[]): Promise<Record<string, unknown>[]> {
  const db = new sqlite3.Database(join(dir, 'cache.sqlite'));
  const rows = await new Promise<Record<string, unknown>[]>((resolve, reject) =>
    db.all(statement, ...params, (e: Error | null, r: Record<string, unknown>[]) => (e ? reject(e) : resolve(r))));
  await new Promise<void>((resolve) => db.close(() => resolve()));
  return rows;
}

describe('SqliteStore specifics', () => {
  async function open(dir?: string, extra: { lruBytes?: number } = {}) {
    const warnings: StoreWarning[] = [];
    const location = dir ?? join(await tempDir(), 'cache');
    const store = await openSqliteStore({ location, onWarning: (w) => warnings.push(w), ...extra });
    return { store, warnings, location };
  }
  const big = (seed: number) => new Float64Array(150_000).map((_, i) => i * seed); // 1.2 MB encoded

  it('stores values of 1 MiB or more in values/<sha1>.bin and reads them back', async () => {
    const { store, location } = await open();
    await store.setMany([entry('big', big(1)), entry('small', 'x')]);
    const files = await readdir(join(location, 'values'));
    assert.equal(files.length, 1);
    assert.match(files[0] as string, /^[0-9a-f]{40}\.bin$/);
    await store.close();
    const { store: again } = await open(location);
    const [got, small] = await again.getMany(['big', 'small']);
    assert.deepStrictEqual(got?.value, big(1));
    assert.ok((got?.meta.size ?? 0) >= 1024 * 1024);
    assert.equal(small?.value, 'x');
    // Overwriting with a small value removes the file; deleting a large one too.
    await again.setMany([entry('big', 'now small'), entry('big2', big(2))]);
    assert.equal((await readdir(join(location, 'values'))).length, 1);
    assert.equal(await again.deleteMany(['big2']), 1);
    assert.deepStrictEqual(await readdir(join(location, 'values')), []);
    await again.close();
  });

  for (const damage of ['truncated', 'altered', 'missing'] as const) {
    it(`a ${damage} value file is a warning and a miss, and the entry is gone`, async () => {
      const { store, location } = await open();
      await store.setMany([entry('big', big(3)), entry('other', 1)]);
      const [file] = await readdir(join(location, 'values'));
      const path = join(location, 'values', file as string);
      if (damage === 'truncated') await truncate(path, 1000);
      if (damage === 'altered') {
        const bytes = await readFile(path);
        const at = bytes.length - 3;
        bytes[at] = (bytes[at] ?? 0) ^ 0xff;
        await writeFile(path, bytes);
      }
      if (damage === 'missing') await unlink(path);
      const warnings: StoreWarning[] = [];
      await store.close();
      const again = await openSqliteStore({ location, onWarning: (w) => warnings.push(w) });
      assert.deepStrictEqual(await again.getMany(['big']), [undefined]);
      assert.deepStrictEqual(warnings.map((w) => [w.code, w.key]), [[damage === 'missing' ? 'MISSING_VALUE_FILE' : 'CORRUPT_ENTRY', 'big']]);
      assert.equal(await again.has('big'), false);
      assert.deepStrictEqual((await again.list()).map((e) => e.key), ['other']);
      assert.equal(existsSync(path), false);
      assert.deepStrictEqual(await again.getMany(['big']), [undefined]); // no second warning
      assert.equal(warnings.length, 1);
      await again.close();
    });
  }

  it('stores its own encoding in the keyv table (not JSON), and the metadata next to it', async () => {
    const { store, location } = await open();
    await store.setMany([entry('a', new Map([[1, 2n]])), entry('big', big(5))]);
    await store.close();
    const rows = await sql(location, 'SELECT k.key, k.value, m.size, m.fn FROM keyv k JOIN joblib_meta m ON m.key = k.key ORDER BY k.key');
    assert.deepStrictEqual(rows.map((r) => r['key']), ['a', 'big']);
    const [a, large] = rows;
    assert.equal(Buffer.from(String(a?.['value']).replace(/^jl1:i:/, ''), 'base64').length, a?.['size']);
    assert.match(String(large?.['value']), /^jl1:f:\d+:[0-9a-f]{40}$/);
    assert.equal(a?.['fn'], 'fit@abc');
  });

  it('a corrupt value row is a CORRUPT_ENTRY warning and a miss, and the entry is gone', async () => {
    const { store, location } = await open();
    await store.setMany([entry('a', { x: 1 }), entry('b', 2)]);
    await store.close();
    await sql(location, "UPDATE keyv SET value = 'jl1:i:AAAAAAAA' WHERE key = 'a'");
    const { store: again, warnings } = await open(location);
    assert.deepStrictEqual((await again.getMany(['a', 'b'])).map((e) => e?.value), [undefined, 2]);
    assert.deepStrictEqual(warnings.map((w) => [w.code, w.key]), [['CORRUPT_ENTRY', 'a']]);
    assert.deepStrictEqual((await again.list()).map((e) => e.key), ['b']);
    await again.close();
  });

  it('setMany is all or nothing when the database refuses one entry', async () => {
    const { store, location } = await open(undefined, { lruBytes: 0 });
    await store.setMany([entry('before', 0)]);
    await sql(location, "CREATE TRIGGER refuse BEFORE INSERT ON joblib_meta WHEN NEW.key = 'boom' BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
    await assert.rejects(store.setMany([entry('a', 1), entry('big', big(4)), entry('boom', 2), entry('before', 'changed')]), /injected failure/);
    assert.deepStrictEqual((await store.getMany(['a', 'big', 'boom', 'before'])).map((e) => e?.value), [undefined, undefined, undefined, 0]);
    assert.deepStrictEqual((await store.list()).map((e) => e.key), ['before']);
    await store.setMany([entry('a', 1)]); // the connection is usable afterwards
    assert.equal((await store.getMany(['a']))[0]?.value, 1);
    await store.close();
  });

  it('an unwritable location rejects the first write with CacheUnwritableError naming it', async () => {
    const file = join(await tempDir(), 'a-file');
    await writeFile(file, 'not a folder');
    for (const location of [join(file, 'cache'), file]) {
      const { store } = await open(location);
      assert.deepStrictEqual(await store.getMany(['a']), [undefined]); // reads simply miss
      await assert.rejects(store.setMany([entry('a', 1)]), (error: unknown) => {
        assert.ok(isJoblibError(error, 'ERR_CACHE_UNWRITABLE'), String(error));
        assert.equal((error as { location?: string }).location, location);
        assert.ok((error as Error).message.includes(location));
        return true;
      });
      await assert.rejects(store.setMany([entry('a', 1)]), (e) => isJoblibError(e, 'ERR_CACHE_UNWRITABLE')); // again
      await store.close();
    }
  });

  it('keeps a database that is not SQLite from crashing: reads miss with a warning, writes reject', async () => {
    const location = join(await tempDir(), 'cache');
    const { store: first } = await open(location);
    await first.setMany([entry('a', 1)]);
    await first.close();
    await writeFile(join(location, 'cache.sqlite'), 'garbage'.repeat(1000));
    const { store, warnings } = await open(location);
    assert.deepStrictEqual(await store.getMany(['a']), [undefined]);
    assert.deepStrictEqual(warnings.map((w) => w.code), ['STORE_ERROR']);
    await assert.rejects(store.setMany([entry('a', 1)]), (e) => isJoblibError(e, 'ERR_CACHE_UNWRITABLE'));
    await store.close();
  });

  it('decodeValue refuses garbled, truncated and foreign bytes', () => {
    const bytes = encodeValue({ a: [1, 2, 3] });
    assert.throws(() => decodeValue(bytes.subarray(0, bytes.length - 1)), /truncated/);
    assert.throws(() => decodeValue(Buffer.from('{"a":1}')), /bad header/);
    const future = Buffer.from(bytes);
    future[4] = 99;
    assert.throws(() => decodeValue(future), /format 99/);
    assert.throws(() => encodeValue(() => 1), { name: 'UnserializableValueError' });
  });
});

describe('two processes sharing one location', () => {
  for (const mode of ['write-through', 'deferred'] as const) it(`write (${mode}) and read hundreds of entries at the same time without a failure`, async () => {
    const location = join(await tempDir(), 'shared');
    const fixture = fileURLToPath(new URL('./fixtures/store-worker.mjs', import.meta.url));
    const perProcess = 300;
    const startAt = String(Date.now() + 700); // both start writing at once, whatever their start-up time
    const run = (id: string) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, [fixture, location, id, String(perProcess), startAt, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d));
        child.stderr.on('data', (d: Buffer) => (err += d));
        child.on('close', (code) => resolve({ code, out, err }));
      });
    const results = await Promise.all([run('p1'), run('p2')]);
    const spans: [number, number][] = [];
    for (const { code, out, err } of results) {
      assert.equal(code, 0, `worker failed: ${err}`);
      const report = JSON.parse(out.trim().split('\n').pop() as string) as { failures: string[]; warnings: string[]; wrote: number; startedAt: number; endedAt: number };
      assert.deepStrictEqual(report.failures, []);
      assert.deepStrictEqual(report.warnings, []);
      assert.equal(report.wrote, perProcess);
      spans.push([report.startedAt, report.endedAt]);
    }
    const [[start1, end1], [start2, end2]] = spans as [[number, number], [number, number]];
    assert.ok(start1 < end2 && start2 < end1, `the two processes did not overlap: ${JSON.stringify(spans)}`);
    const store = await openSqliteStore({ location, lruBytes: 0, onWarning: (w) => assert.fail(w.message) });
    const keys = ['p1', 'p2'].flatMap((id) => Array.from({ length: perProcess }, (_, i) => `${id}:${i}`));
    const got = await store.getMany([...keys, 'shared:0', 'shared:9']);
    keys.forEach((key, i) => assert.deepStrictEqual(got[i]?.value, { key, n: Number(key.split(':')[1]), tags: new Set([key]) }, key));
    assert.ok(got.at(-1) !== undefined && got.at(-2) !== undefined);
    const bigs = await store.getMany(['big:p1', 'big:p2', 'big:shared']);
    assert.deepStrictEqual(bigs.map((e) => (e?.value as Float64Array | undefined)?.[0]), [1, 1, 2]);
    assert.equal((await store.list()).length, keys.length + 10 + 3);
    await store.close();
  });
});
