import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Memory, Parallel, delayed, isJoblibError } from '../dist/index.js';

let location: string;
beforeEach(() => {
  location = mkdtempSync(join(tmpdir(), 'joblib-ts-memory-'));
});
afterEach(() => {
  rmSync(location, { recursive: true, force: true });
});

/** Collects the process warnings emitted while `work` runs. */
async function warningsDuring(work: () => Promise<unknown>): Promise<Error[]> {
  const warnings: Error[] = [];
  const listener = (warning: Error) => warnings.push(warning);
  process.on('warning', listener);
  try {
    await work();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', listener);
  }
  return warnings;
}

describe('Memory', () => {
  it('computes a call once and answers repeated calls from the cache, also in a new Memory', async () => {
    let calls = 0;
    const square = (x: number) => {
      calls++;
      return x * x;
    };
    {
      await using memory = new Memory({ location });
      const cached = memory.cache(square);
      assert.equal(await cached(3), 9);
      assert.equal(await cached(3), 9);
      assert.equal(await cached(4), 16);
      assert.equal(calls, 2);
    }
    await using reopened = new Memory(location);
    assert.equal(await reopened.cache(square)(3), 9);
    assert.equal(calls, 2);
  });

  it('round-trips values exactly, undefined included', async () => {
    await using memory = new Memory({ location });
    const values = [undefined, null, NaN, -0, 10n ** 30n, new Map([[1, new Set(['a'])]]), new Date(5), new Float32Array([1.5]), [1, , 3], { nested: { deep: [1] } }];
    let calls = 0;
    const identity = memory.cache((i: number) => {
      calls++;
      return values[i];
    });
    for (let i = 0; i < values.length; i++) await identity(i);
    for (let i = 0; i < values.length; i++) assert.deepStrictEqual(await identity(i), values[i]);
    assert.equal(calls, values.length);
  });

  it('leaves ignored parameters out of the key, and refuses a name that is not a parameter', async () => {
    await using memory = new Memory({ location });
    let calls = 0;
    const fit = memory.cache((x: number, verbose: boolean) => {
      calls++;
      return verbose ? x : x;
    }, { ignore: ['verbose'] });
    await fit(1, true);
    await fit(1, false);
    assert.equal(calls, 1);
    assert.throws(() => memory.cache((x: number) => x, { ignore: ['y'] }), (error: unknown) => {
      assert.ok(isJoblibError(error, 'ERR_INVALID_OPTION'));
      assert.match((error as Error).message, /Expected `ignore` to name parameters of .* \(x\), got `y`/);
      return true;
    });
  });

  it('computes exactly once more after clear()', async () => {
    await using memory = new Memory({ location });
    let calls = 0;
    const cached = memory.cache((x: number) => ++calls + x * 0);
    await cached(1);
    await cached.clear();
    await cached(1);
    await cached(1);
    assert.equal(calls, 2);
  });

  it('gives each call a value of its own: changing one changes nothing for later calls', async () => {
    await using memory = new Memory({ location });
    const make = () => ({ list: [1], weights: new Float64Array([0.5]), shared: undefined as unknown });
    const fit = memory.cache((x: number) => {
      const value = make();
      if (x === 1) value.shared = [value.list, value.list]; // not a tree: decoded, and kept shared
      return value;
    });
    for (const x of [0, 1]) {
      for (let round = 0; round < 3; round++) {
        const value = await fit(x); // the miss, then hits from the queued write and from the LRU
        assert.deepStrictEqual(value.list, [1]);
        assert.equal(value.weights[0], 0.5);
        if (x === 1) assert.equal((value.shared as unknown[])[0], (value.shared as unknown[])[1]);
        value.list.push(2);
        value.weights[0] = 9;
        if (round === 1) await memory.entries(); // writes what is queued
      }
    }
  });

  it('keeps the results a program was given when it ends without close()', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/memory-exits.mjs', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [fixture, location]);
    assert.equal(stdout.trim(), 'done');
    await using memory = new Memory({ location });
    assert.equal((await memory.entries()).length, 20);
  });

  it('never caches an exception', async () => {
    await using memory = new Memory({ location });
    let calls = 0;
    const flaky = memory.cache((x: number) => {
      calls++;
      if (calls === 1) throw new Error('first call fails');
      return x;
    });
    await assert.rejects(flaky(1), /first call fails/);
    assert.equal(await flaky(1), 1);
    assert.equal(calls, 2);
  });

  it('computes a call once when concurrent callers ask for it', async () => {
    await using memory = new Memory({ location });
    let calls = 0;
    const slow = memory.cache(async (x: number) => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return x;
    });
    assert.deepEqual(await Promise.all([slow(1), slow(1), slow(1)]), [1, 1, 1]);
    assert.equal(calls, 1);
  });

  it('returns a result that cannot be stored, uncached, with a warning', async () => {
    await using memory = new Memory({ location });
    let calls = 0;
    const makeFunction = memory.cache(() => {
      calls++;
      return () => 1;
    });
    const warnings = await warningsDuring(async () => {
      assert.equal(typeof (await makeFunction()), 'function');
      await makeFunction();
    });
    assert.equal(calls, 2);
    assert.ok(warnings.some((w) => (w as Error & { code?: string }).code === 'UNSERIALIZABLE_VALUE'), String(warnings));
  });

  it('recomputes a corrupted large entry with one warning', async () => {
    await using memory = new Memory({ location });
    let calls = 0;
    const big = memory.cache((n: number) => {
      calls++;
      return new Float64Array(n).fill(1);
    });
    await big(300_000); // 2.4 MB: stored as a file
    await memory.close(); // writes it
    const folder = join(location, 'values');
    for (const file of readdirSync(folder)) writeFileSync(join(folder, file), 'garbage');
    await using reopened = new Memory({ location });
    const again = reopened.cache((n: number) => {
      calls++;
      return new Float64Array(n).fill(1);
    });
    const warnings = await warningsDuring(async () => assert.equal((await again(300_000)).length, 300_000));
    assert.equal(warnings.length, 1, String(warnings));
    assert.equal(calls, 2);
  });

  it('recomputes entries that validate rejects or that expired', async () => {
    await using memory = new Memory({ location });
    let calls = 0;
    const count = () => ++calls;
    let accept = true;
    const seen: string[] = [];
    const validated = memory.cache(count, {
      validate: (meta) => {
        seen.push(meta.functionName);
        return accept && meta.durationMs >= 0;
      },
    });
    await validated();
    await validated();
    accept = false;
    await validated();
    assert.equal(calls, 2);
    assert.deepEqual([...new Set(seen)], ['count'], 'validate sees the metadata of the cached function');
    const expiring = memory.cache((x: number) => ++calls + x * 0, { expiresAfter: 30 });
    await expiring(1);
    await expiring(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expiring(1);
    assert.equal(calls, 4);
  });

  it('rejects, never throws, when validate throws, on a hit held in memory as on one read from disk', async () => {
    await using memory = new Memory({ location });
    let throwing = false;
    const checked = memory.cache((x: number) => x * 3, {
      validate: () => {
        if (throwing) throw new RangeError('validate boom');
        return true;
      },
    });
    assert.equal(await checked(7), 21);
    throwing = true;
    let returned: Promise<number> | undefined;
    assert.doesNotThrow(() => {
      returned = checked(7); // the hit is held in memory
    });
    await assert.rejects(returned as Promise<number>, /validate boom/);
  });

  it('drops the entries of a function whose source changed, and keeps them with a fixed version', async () => {
    await using memory = new Memory({ location });
    const v1 = function fit(x: number) {
      return x + 1;
    };
    const v2 = function fit(x: number) {
      return x + 2;
    };
    await memory.cache(v1)(1);
    await memory.cache(v1)(2);
    assert.equal((await memory.entries()).length, 2);
    assert.equal(await memory.cache(v2)(1), 3);
    assert.equal((await memory.entries()).length, 1);
    await memory.cache(v1, { version: 'stable' })(5);
    assert.equal(await memory.cache(v2, { version: 'stable' })(5), 6, 'same version: the stored result is kept');
  });

  it('drops other versions again after close(), when the same cached function is used anew', async () => {
    await using memory = new Memory({ location });
    const fit2 = memory.cache(function fitAgain(x: number) {
      return x + 2;
    });
    await fit2(1);
    await memory.close();
    // Another version, written meanwhile (by another program, say), while this one is closed.
    {
      await using other = new Memory({ location });
      await other.cache(function fitAgain(x: number) {
        return x + 1;
      })(7);
    }
    assert.equal(await fit2(1), 3);
    assert.deepEqual((await memory.entries()).filter((e) => e.functionName === 'fitAgain').map((e) => e.args), ['1']);
  });

  it('evicts least recently used entries first with reduceSize by items, bytes and age', async () => {
    await using memory = new Memory({ location });
    const cached = memory.cache((x: number) => new Float64Array(100).fill(x));
    for (const x of [1, 2, 3, 4]) {
      await cached(x);
      await new Promise((resolve) => setTimeout(resolve, 5)); // distinct times of last use
    }
    await cached(1); // now the most recently used
    assert.equal(await memory.reduceSize({ itemsLimit: 3 }), 1);
    const keptAfterItems = (await memory.entries()).map((e) => e.args).sort();
    assert.deepEqual(keptAfterItems, ['1', '3', '4']);
    const size = (await memory.entries())[0]?.size ?? 0;
    assert.equal(await memory.reduceSize({ bytesLimit: size }), 2);
    assert.deepEqual((await memory.entries()).map((e) => e.args), ['1']);
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(await memory.reduceSize({ ageLimit: 10 }), 1);
    assert.equal((await memory.entries()).length, 0);
  });

  it('evicts by itself after writes with bytesLimit', async () => {
    await using memory = new Memory({ location, bytesLimit: 5_000 });
    const cached = memory.cache((x: number) => new Float64Array(500).fill(x)); // ~4 KB each
    await cached(1);
    await cached(2);
    const entries = await memory.entries();
    assert.equal(entries.length, 1);
    assert.equal(entries[0]?.args, '2');
  });

  it('describes entries: function, arguments, size, times and compute duration', async () => {
    await using memory = new Memory({ location });
    const before = Date.now();
    await memory.cache(function train(p: { lr: number }) {
      return p.lr;
    })({ lr: 0.1 });
    const [entry] = await memory.entries();
    assert.equal(entry?.functionName, 'train');
    assert.equal(entry?.args, '{lr}');
    assert.ok((entry?.size ?? 0) > 0);
    assert.ok((entry?.createdAt ?? 0) >= before && (entry?.lastUsedAt ?? 0) >= (entry?.createdAt ?? 0));
    assert.ok((entry?.durationMs ?? -1) >= 0);
  });

  it('recomputes on demand, and shelves a result that loads only when asked', async () => {
    await using memory = new Memory({ location });
    let calls = 0;
    const cached = memory.cache((x: number) => x * 10 + ++calls * 0);
    const { value, metadata } = await cached.recompute(2);
    assert.equal(value, 20);
    assert.equal(metadata.functionName, 'anonymous');
    await cached.recompute(2);
    assert.equal(calls, 2);
    const shelved = await cached.callAndShelve(3);
    assert.equal(await shelved.get(), 30);
    await shelved.clear();
    await assert.rejects(shelved.get(), (error) => isJoblibError(error, 'ERR_NOT_IN_CACHE'));
  });

  it('caches nothing with location null', async () => {
    await using memory = new Memory({ location: null });
    let calls = 0;
    const cached = memory.cache((x: number) => x + ++calls * 0);
    await cached(1);
    await cached(1);
    assert.equal(calls, 2);
    assert.equal(await cached.checkCallInCache(1), false);
  });

  it('fails the first write to an unwritable location with an error naming it', async () => {
    const file = join(location, 'a-file');
    writeFileSync(file, 'not a folder');
    await using memory = new Memory({ location: join(file, 'cache') });
    await assert.rejects(memory.cache((x: number) => x)(1), (error: unknown) => {
      assert.ok(isJoblibError(error, 'ERR_CACHE_UNWRITABLE'));
      assert.match((error as Error).message, /a-file/);
      return true;
    });
  });

  it('refuses arguments that cannot be hashed, naming where they are', async () => {
    await using memory = new Memory({ location });
    const cached = memory.cache((model: { fn: unknown }) => typeof model.fn);
    await assert.rejects(cached({ fn: () => 1 }), (error: unknown) => {
      assert.ok(isJoblibError(error, 'ERR_UNHASHABLE'));
      assert.equal((error as unknown as { path: string }).path, 'args[0].fn');
      return true;
    });
  });
});

describe('Memory with Parallel', () => {
  function countedSquare(x: number, calls: Int32Array): number {
    Atomics.add(calls, 0, 1);
    return x * x;
  }

  it('answers cached tasks without dispatching them and computes duplicate keys once', async () => {
    await using memory = new Memory({ location });
    const calls = new Int32Array(new SharedArrayBuffer(4));
    const cached = memory.cache(countedSquare, { ignore: ['calls'] });
    const inputs = Array.from({ length: 300 }, (_, i) => i % 100);
    const first = await Parallel(2)(inputs.map((x) => delayed(cached)(x, calls)));
    assert.deepEqual(first, inputs.map((x) => x * x));
    assert.equal(Atomics.load(calls, 0), 100, 'each distinct key computed once');
    const again = await Parallel(2)(inputs.map((x) => delayed(cached)(x, calls)));
    assert.deepEqual(again, first);
    assert.equal(Atomics.load(calls, 0), 100, 'the rerun computed nothing');
    assert.equal(await cached(7, calls), 49);
  });

  it('gives the same results cached or not, in every backend and mode', async () => {
    await using memory = new Memory({ location });
    const calls = new Int32Array(new SharedArrayBuffer(4));
    const cached = memory.cache(countedSquare, { ignore: ['calls'] });
    await cached(3, calls);
    for (const backend of ['threads', 'async', 'sequential'] as const) {
      const out: number[] = [];
      for await (const v of Parallel({ nJobs: 2, backend, returnAs: 'generator' })([1, 2, 3, 2].map((x) => delayed(cached)(x, calls)))) out.push(v);
      assert.deepEqual(out, [1, 4, 9, 4], backend);
    }
  });

  it('settles a failing cached task without storing it', async () => {
    await using memory = new Memory({ location });
    const failOdd = memory.cache((x: number) => {
      if (x % 2) throw new RangeError(`odd ${x}`);
      return x;
    });
    const results = await Parallel({ nJobs: 2, errors: 'settle' })([1, 2, 3].map((x) => delayed(failOdd)(x)));
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'fulfilled', 'rejected']);
    assert.equal((await memory.entries()).length, 1);
  });
});
