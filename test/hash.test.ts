import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { HASH_FORMAT_VERSION, hash, hashArguments } from '../dist/hash.js';
import { digestBuild, newDigest, typescriptDigest } from '../dist/hash-digest.js';
import { Xxh64 } from '../dist/xxhash64.js';
import { collectGarbage } from '../dist/worker-gc.js';
import { unhashable } from './unhashable.js';

const fixture = fileURLToPath(new URL('./fixtures/hash-digests.mjs', import.meta.url));


class Point {
  constructor(public x: number, public y: number) {}
}
class Pair {
  constructor(public x: number, public y: number) {}
}

/** A NaN whose bits are not the canonical ones, as a typed array can hold. */
const payloadNaN = new Float64Array(new BigUint64Array([0x7ff8_0000_dead_beefn]).buffer)[0]!;

describe('hash: distinctions', () => {
  const pairs: [string, unknown, unknown][] = [
    ['0 from -0', 0, -0],
    ['the number 1 from the string "1"', 1, '1'],
    ['the number 1 from the bigint 1n', 1, 1n],
    ['the number 1 from true', 1, true],
    ['the string "1" from the bigint 1n', '1', 1n],
    ['0 from false', 0, false],
    ['null from undefined', null, undefined],
    ['the empty string from undefined', '', undefined],
    ['["ab", "c"] from ["a", "bc"]', ['ab', 'c'], ['a', 'bc']],
    ['{ a: "bc" } from { ab: "c" }', { a: 'bc' }, { ab: 'c' }],
    ['a hole from undefined in an array', [, 1], [undefined, 1]],
    ['[1, 2] from [2, 1]', [1, 2], [2, 1]],
    ['an empty array from an empty object', [], {}],
    ['5n from -5n', 5n, -5n],
    ['2n ** 64n from 2n ** 64n + 1n', 2n ** 64n, 2n ** 64n + 1n],
    ['a lone surrogate from the replacement character', '\uD800', '\uFFFD'],
    ['a lone high surrogate from a lone low surrogate', '\uD800', '\uDC00'],
    ['new Date(0) from new Date(1)', new Date(0), new Date(1)],
    ['an invalid Date from new Date(0)', new Date(NaN), new Date(0)],
    ['new Date(0) from the number 0', new Date(0), 0],
    ['/a/g from /a/i', /a/g, /a/i],
    ['/a/ from the string "a"', /a/, 'a'],
    ['Float32Array from Float64Array of the same numbers', new Float32Array([1, 2]), new Float64Array([1, 2])],
    ['Float64Array from a plain array of the same numbers', new Float64Array([1, 2]), [1, 2]],
    ['Uint8Array from Int8Array of the same bytes', new Uint8Array([1, 2]), new Int8Array([1, 2])],
    ['Uint8Array from Buffer of the same bytes', new Uint8Array([1, 2]), Buffer.from([1, 2])],
    ['ArrayBuffer from SharedArrayBuffer of the same bytes', new ArrayBuffer(4), new SharedArrayBuffer(4)],
    ['ArrayBuffer from DataView of the same bytes', new ArrayBuffer(4), new DataView(new ArrayBuffer(4))],
    ['ArrayBuffer from Uint8Array of the same bytes', new ArrayBuffer(4), new Uint8Array(4)],
    ['a class instance from a plain object with the same properties', new Point(1, 2), { x: 1, y: 2 }],
    ['instances of two classes with the same properties', new Point(1, 2), new Pair(1, 2)],
    ['instances of one class with different properties', new Point(1, 2), new Point(1, 3)],
    ['errors with different messages', new Error('a'), new Error('b')],
    ['a TypeError from an Error with the same message', new TypeError('a'), new Error('a')],
    ['errors with different causes', new Error('a', { cause: 1 }), new Error('a', { cause: 2 })],
    ['Map([[1, 2]]) from Map([[2, 1]])', new Map([[1, 2]]), new Map([[2, 1]])],
    ['Map([["1", 2]]) from { "1": 2 }', new Map([['1', 2]]), { 1: 2 }],
    ['Set([1]) from [1]', new Set([1]), [1]],
    ['Set([1, 2]) from Set([1, 2, 3])', new Set([1, 2]), new Set([1, 2, 3])],
    ['a boxed number from the number', new Number(1), 1],
    ['new URL("https://a.example/") from new URL("https://b.example/")', new URL('https://a.example/'), new URL('https://b.example/')],
  ];
  for (const [name, a, b] of pairs) {
    it(`distinguishes ${name}`, () => {
      assert.notEqual(hash(a), hash(b));
    });
  }
});

describe('hash: equalities', () => {
  it('returns 32 lowercase hex characters', () => {
    assert.match(hash({ any: ['thing'] }), /^[0-9a-f]{32}$/);
  });

  it('treats every NaN as the same value, whatever its bits', () => {
    assert.equal(hash(NaN), hash(payloadNaN));
  });

  it('ignores the key order of plain objects at every depth', () => {
    assert.equal(hash({ a: 1, b: { c: 2, d: [3, { e: 4, f: 5 }] } }), hash({ b: { d: [3, { f: 5, e: 4 }], c: 2 }, a: 1 }));
  });

  it('ignores the insertion order of Map entries', () => {
    assert.equal(hash(new Map<unknown, unknown>([['a', 1], [{ k: 1 }, [2]]])), hash(new Map<unknown, unknown>([[{ k: 1 }, [2]], ['a', 1]])));
  });

  it('ignores the insertion order of Set elements', () => {
    assert.equal(hash(new Set([1, 'x', { y: 2 }])), hash(new Set([{ y: 2 }, 'x', 1])));
  });

  it('ignores the key order of class instances', () => {
    const flipped = Object.assign(Object.create(Point.prototype) as Point, { y: 2, x: 1 });
    assert.equal(hash(new Point(1, 2)), hash(flipped));
  });

  it('hashes a value shared twice (without a cycle) like two equal copies', () => {
    const shared = { leaf: [1, 2] };
    assert.equal(hash([shared, shared]), hash([{ leaf: [1, 2] }, { leaf: [1, 2] }]));
  });

  it('ignores the stack of errors', () => {
    const make = () => new RangeError('out');
    const first = make();
    const second = new RangeError('out');
    assert.notEqual(first.stack, second.stack);
    assert.equal(hash(first), hash(second));
  });

  it('hashes two invalid Dates alike', () => {
    assert.equal(hash(new Date('not a date')), hash(new Date(NaN)));
  });
});

describe('hash: typed arrays and views', () => {
  it('hashes a view on part of a buffer like a standalone copy of the bytes it covers', () => {
    const whole = new Float64Array([9, 1, 2, 9]);
    assert.equal(hash(new Float64Array(whole.buffer, 8, 2)), hash(new Float64Array([1, 2])));
  });

  it('ignores changes to the bytes outside a view', () => {
    const whole = new Uint8Array([7, 1, 2, 7]);
    const before = hash(new Uint8Array(whole.buffer, 1, 2));
    whole[0] = 0;
    whole[3] = 0;
    assert.equal(hash(new Uint8Array(whole.buffer, 1, 2)), before);
  });

  it('hashes a DataView on part of a buffer like one over a copy of those bytes', () => {
    const bytes = new Uint8Array([5, 6, 7, 8]);
    assert.equal(hash(new DataView(bytes.buffer, 1, 2)), hash(new DataView(new Uint8Array([6, 7]).buffer)));
  });

  it('hashes a pooled Buffer (non-zero offset) like a copy of its bytes', () => {
    const pooled = Buffer.from('pooled bytes');
    assert.ok(pooled.byteOffset > 0 || pooled.buffer.byteLength > pooled.byteLength);
    assert.equal(hash(pooled), hash(Buffer.from(new Uint8Array(pooled))));
  });

  it('notices a change to one byte of a large typed array', () => {
    const big = new Float64Array(1 << 17).fill(1.5);
    const before = hash(big);
    big[big.length - 1] = 2.5;
    assert.notEqual(hash(big), before);
  });
});

describe('hash: long inputs cross the scratch buffer boundary intact', () => {
  it('notices a change to any one element of a long array of numbers', () => {
    const values = Array.from({ length: 20_000 }, (_, i) => i);
    const before = hash(values);
    for (let i = 0; i < values.length; i += 101) {
      values[i] = -1;
      assert.notEqual(hash(values), before, `element ${i}`);
      values[i] = i;
    }
  });

  it('notices a change to the last character of a string longer than the scratch buffer', () => {
    const long = 'é'.repeat(100_000);
    assert.notEqual(hash(long), hash(`${long.slice(0, -1)}e`));
  });
});

describe('hash: refusals name the path', () => {
  it('refuses a function, naming its path in the arguments', () => {
    const error = unhashable(() => hashArguments([{ a: [0, 1, { b: function helper() {} }] }]));
    assert.equal(error.path, 'args[0].a[2].b');
    assert.match(error.message, /^Cannot hash args\[0\]\.a\[2\]\.b: a function \(helper\)/);
  });

  it('refuses a symbol, naming its path in the arguments', () => {
    const error = unhashable(() => hashArguments([{ a: [0, 1, { b: Symbol('tag') }] }]));
    assert.equal(error.path, 'args[0].a[2].b');
    assert.match(error.message, /Symbol\(tag\)/);
  });

  it('refuses a cycle, naming the path where the value reappears', () => {
    const root: { a: unknown[] } = { a: [0, 1, {}] };
    (root.a[2] as { b?: unknown }).b = root;
    const error = unhashable(() => hashArguments([root]));
    assert.equal(error.path, 'args[0].a[2].b');
    assert.match(error.message, /cycle.*args\[0\]/);
  });

  it('suggests ignoring the parameter or passing plain data', () => {
    const error = unhashable(() => hashArguments([1, { model: { fn: () => 0 } }]));
    assert.equal(error.path, 'args[1].model.fn');
    assert.match(error.message, /ignore it\) or pass plain data/);
  });

  it('names the root of a hash() call "value"', () => {
    assert.equal(unhashable(() => hash({ f: Math.max })).path, 'value.f');
  });

  it('names a Map entry by its key', () => {
    assert.equal(unhashable(() => hash({ m: new Map([['k', { x: Symbol('q') }]]) })).path, 'value.m.get("k").x');
  });

  it('refuses a property keyed by a symbol', () => {
    assert.equal(unhashable(() => hash({ o: { [Symbol('s')]: 1 } })).path, 'value.o');
  });

  it('refuses a WeakMap', () => {
    assert.equal(unhashable(() => hash([new WeakMap()])).path, 'value[0]');
  });

  it('refuses a Promise', () => {
    assert.equal(unhashable(() => hash({ p: Promise.resolve(1) })).path, 'value.p');
  });
});

describe('hashArguments', () => {
  it('hashes f(1) like f(1, undefined)', () => {
    assert.equal(hashArguments([1]), hashArguments([1, undefined]));
  });

  it('hashes f() like f(undefined, undefined)', () => {
    assert.equal(hashArguments([]), hashArguments([undefined, undefined]));
  });

  it('keeps a leading undefined: f(undefined, 1) differs from f(1)', () => {
    assert.notEqual(hashArguments([undefined, 1]), hashArguments([1]));
  });

  it('keeps a trailing null: f(1, null) differs from f(1)', () => {
    assert.notEqual(hashArguments([1, null]), hashArguments([1]));
  });

  it('differs from hash() of the same array', () => {
    assert.notEqual(hashArguments([1, 2]), hash([1, 2]));
  });
});

describe('hash: format', () => {
  it('has a positive integer HASH_FORMAT_VERSION', () => {
    assert.ok(Number.isInteger(HASH_FORMAT_VERSION) && HASH_FORMAT_VERSION > 0);
  });

  // Golden digests, computed once with HASH_FORMAT_VERSION 2: they pin the encoding, so that a change
  // to it is noticed. Changing any of them requires bumping HASH_FORMAT_VERSION in src/hash.ts,
  // because stored cache keys depend on the encoding. (hash(undefined) is XXH64 with seed 0, then
  // with seed 0x9e3779b97f4a7c15, over the bytes 02 56 00: version 2, domain 'V', tag UNDEFINED.)
  const golden: [string, () => string, string][] = [
    ['undefined', () => hash(undefined), '14219b830ab0e01230fba37fc53152c5'],
    ['-0', () => hash(-0), 'baa6a1062f3b21f2ebd2c8b26719f670'],
    ['a non-ASCII string', () => hash('héllo wörld'), '7c103f4ac9503bbcfa77cf6f52675f69'],
    ['a negative bigint', () => hash(-123456789012345678901234567890n), '4f89ffe77f53a66a0080f6794ae415d8'],
    ['a sparse mixed array', () => hash([1, , 'a', null, true, NaN]), '1590568d6112f1b542ae6597813747c9'],
    ['a nested object', () => hash({ b: [1.5, { c: 'x' }], a: new Date(0), r: /x+/g }), 'd383cb28a5d1f55cf1f42c6804f63962'],
    ['a Map holding a Set', () => hash(new Map<unknown, unknown>([['k', new Set([1, 2])], [3, 'v']])), '3662f6d479177839af5d84c70b29f159'],
    ['typed arrays and a class instance', () => hash([new Float32Array([1, 2, 3]), Buffer.from('hi'), new Point(1, 2)]), '1ffd14ca36673b163579515eacf35dac'],
    ['an argument list', () => hashArguments([1, 'two', { three: 3 }, undefined]), 'fc9c2abfe65949190d0131787e951176'],
  ];
  for (const [name, compute, expected] of golden) {
    it(`keeps the pinned digest of ${name}`, () => {
      assert.equal(compute(), expected);
    });
  }

  for (const [build, flags] of [['webassembly', []], ['typescript', ['--jitless']]] as const) {
    it(`hashes equal structures alike in another process, whose digest runs on its ${build} build`, async () => {
      assert.equal(digestBuild(), 'webassembly');
      const { stdout } = await promisify(execFile)(process.execPath, [...flags, fixture]);
      const shared = { leaf: 'shared' };
      const expected = {
        nested: hash({ alpha: undefined, zed: { a: -0, b: 2n }, list: [1, 'two', null, [true, false]] }),
        map: hash(new Map<string, unknown>([['a', new Set(['x', 'y'])], ['b', [2]]])),
        typed: hash({ f64: new Float64Array([Math.PI, NaN]), bytes: new Uint8Array([1, 2, 3]), f32: new Float32Array([0.5, -1]) }),
        misc: hash([/re+/gi, new Date(86_400_000), new Point(1, 2), 'ünïcødé ✓', , 'end']),
        dag: hash({ first: shared, second: { leaf: 'shared' } }),
        args: hashArguments([{ j: 1, k: 2 }, 'x']),
        // Byte runs the digest takes without the scratch buffer, and over one 64 KiB piece.
        large: hash({ text: 'é'.repeat(40_000), values: new Float64Array(20_000).map((_, i) => i / 7) }),
      };
      assert.deepEqual(JSON.parse(stdout), { build, digests: expected });
    });
  }
});

describe('hash: memory', () => {
  it('holds nothing of a value whose hashing threw', async () => {
    const ref = ((): WeakRef<object> => {
      const value = { data: new Float64Array(1_000), f: () => 0 };
      assert.throws(() => hash(value), { code: 'ERR_UNHASHABLE' });
      return new WeakRef(value);
    })();
    await new Promise((resolve) => setImmediate(resolve)); // a WeakRef holds its target until the job ends
    collectGarbage();
    assert.equal(ref.deref(), undefined, 'the value is still reachable from the encoder kept for the next hash');
  });
});

describe('hash: the digest', () => {
  const hex = ([high, low]: [number, number]) => high.toString(16).padStart(8, '0') + low.toString(16).padStart(8, '0');

  it('computes XXH64 as published (known answers)', () => {
    assert.equal(hex(new Xxh64(0, 0).digest()), 'ef46db3751d8e999');
    assert.equal(hex(new Xxh64(0, 0).update(Buffer.from('abc')).digest()), '44bc2cf5ad770999');
  });

  it('gives the same digests in TypeScript as the WebAssembly build, for every length and way of feeding the bytes', () => {
    assert.equal(digestBuild(), 'webassembly');
    const bytes = Uint8Array.from({ length: 5000 }, (_, i) => (i * 2654435761) >>> 24);
    const wasm = newDigest();
    for (let length = 0; length <= 5000; length += length < 300 ? 1 : 97) {
      const data = bytes.subarray(0, length);
      const ts = typescriptDigest();
      ts.reset();
      // Uneven pieces, so that every position within a 32-byte stripe starts a piece somewhere.
      for (let at = 0, step = 1; at < length; at += step, step = (step * 7) % 45 + 1) ts.update(data.subarray(at, at + step));
      wasm.reset();
      wasm.update(data);
      assert.equal(ts.hex(), wasm.hex(), `length ${length}`);
    }
  });

  it('restores a saved state in both implementations', () => {
    assert.equal(digestBuild(), 'webassembly');
    for (const digest of [typescriptDigest(), newDigest()]) {
      digest.reset();
      digest.update(Buffer.from('a prefix longer than one stripe of 32 bytes'));
      const saved = digest.save();
      digest.reset();
      digest.update(Buffer.from('something else'));
      digest.bytes();
      digest.load(saved);
      digest.update(Buffer.from(' and a tail'));
      const resumed = digest.hex();
      digest.reset();
      digest.update(Buffer.from('a prefix longer than one stripe of 32 bytes and a tail'));
      assert.equal(resumed, digest.hex());
    }
  });

  it('hashes a value whose getter hashes another value', () => {
    const inner = { n: 1 };
    const outer = {
      get nested() {
        return hash(inner);
      },
    };
    assert.equal(hash(outer), hash({ nested: hash(inner) }));
  });
});
