import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { decodeValue, encodeValue } from '../../dist/store.js';
import { openSqliteStore } from '../../dist/sqlite-store.js';
import { propertySettings } from './settings.js';

/*
 * Everything fc.anything can make with typed arrays, Maps, Sets, Dates, bigints and sparse arrays,
 * over its default leaves (which include -0, NaN, ±Infinity and undefined) plus lone surrogates in
 * strings. Dates are valid ones: assert.deepStrictEqual finds two invalid Dates unequal (NaN !==
 * NaN), so an invalid Date is checked on its own below. Objects keep Object.prototype: v8's format
 * does not record prototypes, so null-prototype objects and class instances come back as plain
 * objects (documented in encodeValue).
 */
const leaves = [
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string({ unit: 'binary' }),
  fc.constantFrom(null, undefined, NaN, 0, -0, Number.EPSILON, Number.MIN_VALUE, Number.MAX_VALUE, Infinity, -Infinity),
  fc.date({ noInvalidDate: true }),
];
const valueArb = fc.anything({
  values: leaves,
  withMap: true,
  withSet: true,
  withBigInt: true,
  withTypedArray: true,
  withSparseArray: true,
  withBoxedValues: false,
  maxDepth: 4,
});

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('value encoding properties', () => {
  it('decodeValue(encodeValue(v)) deep-equals v', () => {
    fc.assert(
      fc.property(valueArb, (value) => {
        assert.deepStrictEqual(decodeValue(encodeValue(value)), value);
      }),
      propertySettings(500),
    );
  });

  it('keeps an invalid Date invalid', () => {
    const back = decodeValue(encodeValue([new Date(NaN)])) as Date[];
    assert.ok(back[0] instanceof Date && Number.isNaN(back[0].getTime()));
  });

  it('a store round trip deep-equals v, through SQLite and through the LRU', async () => {
    const location = await mkdtemp(join(tmpdir(), 'joblib-store-prop-'));
    dirs.push(location);
    const warm = await openSqliteStore({ location, onWarning: (w) => assert.fail(w.message) });
    const cold = await openSqliteStore({ location, lruBytes: 0, onWarning: (w) => assert.fail(w.message) });
    let n = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(valueArb, { minLength: 1, maxLength: 5 }), async (values) => {
          const keys = values.map(() => `k${n++}`);
          await warm.setMany(values.map((value, i) => ({ key: keys[i] as string, value, meta: { fn: 'prop', args: '', createdAt: 0, durationMs: 0 } })));
          for (const store of [warm, cold]) {
            const got = await store.getMany(keys);
            got.forEach((entry, i) => {
              assert.ok(entry !== undefined, `${keys[i]} missing`);
              assert.deepStrictEqual(entry.value, values[i]);
            });
          }
        }),
        propertySettings(60),
      );
    } finally {
      await Promise.all([warm.close(), cold.close()]);
    }
  });
});
