import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hash } from '../../dist/hash.js';
import { digestBuild, newDigest, typescriptDigest, type Digest128 } from '../../dist/hash-digest.js';
import { sortKeys } from '../../dist/hash-canonical.js';
import { propertySettings } from './settings.js';

/** Values of every kind hash() accepts and structuredClone keeps: no functions, symbols or class instances. */
const valueArb = fc.anything({
  maxDepth: 4,
  withBigInt: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withTypedArray: true,
  withSparseArray: true,
  withNullPrototype: true,
  withBoxedValues: true,
  stringUnit: 'binary', // includes lone surrogates, which UTF-8 alone cannot tell apart
});

/** A deterministic generator of numbers in [0, 1) from a seed, for shuffling. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

function shuffled<T>(items: T[], rand: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** A copy of `v` with the keys of every plain object (and the entries of every Map and Set) in another order. */
function reorder(v: unknown, rand: () => number): unknown {
  if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v)) return v;
  if (Array.isArray(v)) {
    const out: unknown[] = new Array(v.length); // keeps holes as holes
    for (const key of Object.keys(v)) out[Number(key)] = reorder(v[Number(key)], rand);
    return out;
  }
  if (v instanceof Map) return new Map(shuffled([...v], rand).map(([k, x]) => [reorder(k, rand), reorder(x, rand)]));
  if (v instanceof Set) return new Set(shuffled([...v], rand).map((x) => reorder(x, rand)));
  const proto = Object.getPrototypeOf(v) as object | null;
  if (proto !== Object.prototype && proto !== null) return v; // Date, boxed values
  const out = Object.create(proto) as Record<string, unknown>;
  for (const key of shuffled(Object.keys(v), rand)) {
    // defineProperty, not assignment: a key named "__proto__" must stay an own property.
    Object.defineProperty(out, key, { value: reorder((v as Record<string, unknown>)[key], rand), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Asserts that the values, distinct by construction, have distinct hashes. */
function assertDistinctHashes(values: unknown[]): void {
  assert.equal(new Set(values.map(hash)).size, values.length);
}

describe('hash properties', () => {
  it('is stable when the keys of objects, Maps and Sets are reordered at every depth', () => {
    fc.assert(
      fc.property(valueArb, fc.integer(), (value, seed) => {
        assert.equal(hash(reorder(value, random(seed))), hash(value));
      }),
      propertySettings(300),
    );
  });

  it("puts object keys in the order of the default sort, for few keys and for many", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ unit: 'binary', maxLength: 6 }), { maxLength: 40 }), (keys) => {
        const sorted = [...keys];
        sortKeys(sorted);
        assert.deepEqual(sorted, [...keys].sort());
      }),
      propertySettings(300),
    );
  });

  it('gives a structured clone the same hash as the original', () => {
    fc.assert(
      fc.property(valueArb, (value) => {
        assert.equal(hash(structuredClone(value)), hash(value));
      }),
      propertySettings(300),
    );
  });

  it('gives distinct integer arrays distinct hashes', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.array(fc.integer(), { maxLength: 8 }), { selector: (a) => a.join(','), minLength: 2, maxLength: 30 }), assertDistinctHashes),
      propertySettings(200),
    );
  });

  it('gives distinct string arrays distinct hashes, however the characters are split', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.array(fc.string({ unit: 'binary', maxLength: 4 }), { maxLength: 5 }), { selector: (a) => JSON.stringify(a), minLength: 2, maxLength: 30 }),
        assertDistinctHashes,
      ),
      propertySettings(200),
    );
  });

  it('gives distinct doubles distinct hashes (0 and -0 apart, NaN once)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.double(), { comparator: 'SameValue', minLength: 2, maxLength: 50 }), assertDistinctHashes),
      propertySettings(200),
    );
  });

  it('gives distinct flat records distinct hashes', () => {
    const canonical = (r: Record<string, number>) => JSON.stringify(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.dictionary(fc.string({ maxLength: 3 }), fc.integer({ min: -3, max: 3 }), { maxKeys: 4 }), { selector: canonical, minLength: 2, maxLength: 30 }),
        assertDistinctHashes,
      ),
      propertySettings(200),
    );
  });

  it('digests bytes alike in WebAssembly and in TypeScript, however they are split into updates', () => {
    assert.equal(digestBuild(), 'webassembly');
    /** Feeds `bytes` to `digest` in pieces ending at the given cut points. */
    const feed = (digest: Digest128, bytes: Uint8Array, cuts: readonly number[]): string => {
      digest.reset();
      let at = 0;
      for (const cut of [...cuts.filter((c) => c < bytes.length)].sort((x, y) => x - y).concat(bytes.length)) {
        digest.update(bytes.subarray(at, cut));
        at = cut;
      }
      return digest.hex();
    };
    // Up to twice the module's 64 KiB input area, so that updates larger than it are split too. The
    // large arrays come from a length and a seed, which shrink quickly (their bytes would not).
    const largeArb = fc.tuple(fc.integer({ min: 60_000, max: 140_000 }), fc.integer()).map(([length, seed]) => {
      const next = random(seed);
      return Uint8Array.from({ length }, () => Math.floor(next() * 256));
    });
    const bytesArb = fc.oneof(fc.uint8Array({ maxLength: 300 }), largeArb);
    const cutsArb = fc.array(fc.nat({ max: 140_000 }), { maxLength: 8 });
    const wasm = newDigest();
    fc.assert(
      fc.property(bytesArb, cutsArb, cutsArb, (bytes, wasmCuts, tsCuts) => {
        assert.equal(feed(wasm, bytes, wasmCuts), feed(typescriptDigest(), bytes, tsCuts));
      }),
      propertySettings(150),
    );
  });
});
