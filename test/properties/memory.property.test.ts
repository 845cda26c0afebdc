import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Memory, Parallel, delayed } from '../../dist/index.js';
import { propertySettings } from './settings.js';

const location = mkdtempSync(join(tmpdir(), 'joblib-ts-memory-property-'));
after(() => rmSync(location, { recursive: true, force: true }));

/** Values a cached function may return: what structured serialization supports, holes and -0 included. */
const valueArb = fc.anything({
  withBigInt: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withTypedArray: true,
  withSparseArray: true,
  withNullPrototype: false,
  withBoxedValues: false,
});

describe('Memory properties', () => {
  it('a cache hit equals a fresh call, for arbitrary values', async () => {
    await using memory = new Memory({ location });
    const stored = new Map<number, unknown>();
    let next = 0;
    const produce = memory.cache((id: number) => stored.get(id));
    await fc.assert(
      fc.asyncProperty(valueArb.filter((v) => !(v instanceof Date && Number.isNaN(v.getTime()))), async (value) => {
        const id = next++;
        stored.set(id, value);
        const fresh = await produce(id);
        stored.delete(id); // a second computation would now give undefined: the hit must come from the cache
        const hit = await produce(id);
        assert.deepStrictEqual(fresh, value);
        assert.deepStrictEqual(hit, value);
      }),
      propertySettings(150),
    );
  });

  it('Parallel over a cached function equals the sequential map, cold and warm', async () => {
    await using memory = new Memory({ location });
    const cube = memory.cache((x: number) => x * x * x);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: -50, max: 50 }), { maxLength: 60 }), fc.constantFrom(1, 2), async (xs, nJobs) => {
        const expected = xs.map((x) => x * x * x);
        assert.deepEqual(await Parallel(nJobs)(xs.map((x) => delayed(cube)(x))), expected);
        assert.deepEqual(await Parallel(nJobs)(xs.map((x) => delayed(cube)(x))), expected);
      }),
      propertySettings(40),
    );
  });
});
