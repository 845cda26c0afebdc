import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  SHARE_ALWAYS_BYTES,
  SHARE_REPEATED_BYTES,
  SharedCopies,
  argsCount,
  callWithArgs,
  encodeArgs,
  encodeValues,
  shareLargeArrays,
  decodeValues,
  fitCopiedBytes,
  MAX_COPIED_BYTES,
} from '../dist/batch-codec.js';
import { Parallel, delayed } from '../dist/index.js';
import { argumentFreed, watchArgument } from './fixtures/tasks.mjs';

describe('batch encoding', () => {
  it('packs each argument position into an Int32Array when it holds only 32-bit integers, else a Float64Array', () => {
    const lists = [[1, 2 ** 31 - 1, 0.5], [-(2 ** 31), 2 ** 31, 7]];
    const encoded = encodeArgs(lists);
    assert.ok(encoded.kind === 'numbers');
    assert.deepEqual(encoded.columns.map((c) => c.constructor.name), ['Int32Array', 'Float64Array', 'Float64Array']);
    const collect = (...args: unknown[]) => args;
    assert.deepStrictEqual([0, 1].map((i) => callWithArgs(collect, encoded, i)), lists);
    const zeros = encodeArgs([[0], [-0]]);
    assert.ok(zeros.kind === 'numbers');
    assert.equal(zeros.columns[0]?.constructor.name, 'Float64Array', '-0 is not an int32');
    assert.ok(Object.is((callWithArgs(collect, zeros, 1) as unknown[])[0], -0));
  });

  it('packs numeric arguments of one arity into a Float64Array, keeping -0 and NaN', () => {
    const encoded = encodeArgs([[1, -0], [NaN, 2.5], [3, 4]]);
    assert.equal(encoded.kind, 'numbers');
    assert.equal(argsCount(encoded), 3);
    const collect = (...args: unknown[]) => args;
    assert.deepStrictEqual(callWithArgs(collect, encoded, 0), [1, -0]);
    assert.deepStrictEqual(callWithArgs(collect, encoded, 1), [NaN, 2.5]);
  });

  it('keeps argument lists as they are when they mix types or arities', () => {
    assert.equal(encodeArgs([[1], ['2']]).kind, 'lists');
    assert.equal(encodeArgs([[1], [2, 3]]).kind, 'lists');
    assert.equal(encodeArgs([[1n], [2n]]).kind, 'lists');
  });

  it('packs results that are all numbers or all booleans, and nothing else', () => {
    const numbers = encodeValues([1.5, -0, NaN]);
    assert.equal(numbers.kind, 'numbers');
    assert.deepStrictEqual(Array.from(decodeValues(numbers)), [1.5, -0, NaN]);
    const booleans = encodeValues([true, false]);
    assert.equal(booleans.kind, 'booleans');
    assert.deepStrictEqual(Array.from(decodeValues(booleans)), [true, false]);
    const mixed = encodeValues([1, undefined]);
    assert.equal(mixed.kind, 'list');
    assert.equal(decodeValues(mixed).length, 2);
  });

  it('cuts a batch where the typed arrays its message would copy pass MAX_COPIED_BYTES, never below one task', () => {
    const copies = new SharedCopies();
    const mib = () => new Float64Array((1 << 20) / 8);
    const ownArrays = Array.from({ length: 10 }, () => [mib()]);
    assert.equal(fitCopiedBytes(10, (i) => ownArrays[i] as unknown[], copies), MAX_COPIED_BYTES / (1 << 20));
    const huge = [[new Float64Array((MAX_COPIED_BYTES * 2) / 8)]];
    assert.equal(fitCopiedBytes(1, () => huge[0] as unknown[], copies), 1);
    assert.equal(fitCopiedBytes(1000, (i) => [i, i + 0.5], copies), 1000, 'numbers copy nothing worth cutting for');
    const shared = new Float64Array(new SharedArrayBuffer(1 << 20));
    assert.equal(fitCopiedBytes(10, () => [shared], copies), 10, 'shared memory is not copied');
    const table = mib();
    assert.equal(fitCopiedBytes(10, () => [table], copies), 10, 'one buffer held by every task is copied once');
    const whole = new Float64Array((MAX_COPIED_BYTES * 2) / 8);
    const slices = Array.from({ length: 4 }, (_, i) => [whole.subarray(i, i + 1)]);
    assert.equal(fitCopiedBytes(4, (i) => slices[i] as unknown[], new SharedCopies()), 1, 'a view copies its whole buffer');
  });

  it('shares a large buffer that tasks get small views of, as it would be copied whole', () => {
    const copies = new SharedCopies();
    const whole = new Float64Array(SHARE_ALWAYS_BYTES / 8);
    whole[5] = 7;
    const tasks = Array.from({ length: 10 }, (_, i) => [whole.subarray(i, i + 1)]);
    assert.equal(fitCopiedBytes(tasks.length, (i) => tasks[i] as unknown[], copies), tasks.length, 'nothing here is copied');
    const sent = shareLargeArrays(tasks, copies).map((args) => args[0] as Float64Array);
    assert.ok(sent.every((view) => view.buffer instanceof SharedArrayBuffer && view.buffer === sent[0]?.buffer), 'one shared copy');
    assert.deepEqual(sent.map((view) => [view.length, view.byteOffset]), tasks.map(([view]) => [(view as Float64Array).length, (view as Float64Array).byteOffset]));
    assert.equal(sent[5]?.[0], 7);
  });

  it('shares a large array from its second use in a call, and a very large one at once', () => {
    const copies = new SharedCopies();
    const medium = new Float64Array(SHARE_REPEATED_BYTES / 8);
    const [first] = shareLargeArrays([[medium]], copies);
    assert.equal(first?.[0], medium, 'first use: cloned as usual');
    const [second] = shareLargeArrays([[medium]], copies);
    assert.ok((second?.[0] as Float64Array).buffer instanceof SharedArrayBuffer);
    const huge = new Uint8Array(SHARE_ALWAYS_BYTES);
    const [once] = shareLargeArrays([[huge, 1]], copies);
    const view = once?.[0] as Uint8Array;
    assert.ok(view.buffer instanceof SharedArrayBuffer && view.length === huge.length && once?.[1] === 1);
    const [again] = shareLargeArrays([[huge]], copies);
    assert.equal((again?.[0] as Uint8Array).buffer, view.buffer, 'one copy per call');
  });

  it('keeps the offset and length of a view when it shares its buffer', () => {
    const buffer = new ArrayBuffer(SHARE_ALWAYS_BYTES + 64);
    const view = new Float32Array(buffer, 16, 4);
    new Float32Array(buffer)[4] = 7;
    const copies = new SharedCopies();
    const [viaShare] = shareLargeArrays([[new Uint8Array(buffer)]], copies); // the whole buffer makes it worth sharing
    assert.ok(viaShare);
    const [shared] = shareLargeArrays([[view]], copies);
    const sharedView = shared?.[0] as Float32Array;
    assert.ok(sharedView.buffer instanceof SharedArrayBuffer, 'a small view of a buffer shared in this call uses the shared copy');
    assert.ok(sharedView instanceof Float32Array);
    assert.equal(sharedView.length, 4);
    assert.equal(sharedView.byteOffset, 16);
    assert.equal(sharedView[0], 7);
  });
});

describe('what a message copies and what it shares', () => {
  it('follows one rule: an array counted as shared by fitCopiedBytes is shared by shareLargeArrays, and the reverse', () => {
    const copies = new SharedCopies();
    const bigView = new DataView(new ArrayBuffer(SHARE_ALWAYS_BYTES));
    const bigBuffer = Buffer.alloc(SHARE_ALWAYS_BYTES);
    const tasks: unknown[][] = [[bigView], [bigBuffer], [bigView], [bigBuffer]];
    assert.equal(fitCopiedBytes(tasks.length, (i) => tasks[i] as unknown[], copies), tasks.length, 'nothing here is copied');
    const sent = shareLargeArrays(tasks, copies);
    const view = sent[0]?.[0] as DataView;
    assert.ok(view instanceof DataView && view.buffer instanceof SharedArrayBuffer && view.byteLength === SHARE_ALWAYS_BYTES);
    const buffer = sent[1]?.[0] as Buffer;
    assert.ok(Buffer.isBuffer(buffer) && buffer.buffer instanceof SharedArrayBuffer && buffer.length === SHARE_ALWAYS_BYTES);
    assert.equal((sent[2]?.[0] as DataView).buffer, view.buffer, 'one copy per buffer');
    // A small view of a buffer shared in this call is not counted either, and travels shared.
    const small = [[new Uint8Array(bigView.buffer, 8, 8)]];
    assert.equal(fitCopiedBytes(1, () => small[0] as unknown[], copies), 1);
    assert.ok((shareLargeArrays(small, copies)[0]?.[0] as Uint8Array).buffer instanceof SharedArrayBuffer);
  });
});

describe('large arrays through Parallel', () => {
  it('gives every task the same large array without detaching or changing the caller\'s', async () => {
    const data = new Float64Array((SHARE_REPEATED_BYTES / 8) * 2).map((_, i) => i % 10);
    const sliceSum = (a: Float64Array, part: number, parts: number) => {
      const n = a.length / parts;
      let s = 0;
      for (let i = part * n; i < (part + 1) * n; i++) s += a[i] as number;
      return s;
    };
    const expected = [0, 1, 2, 3].map((part) => sliceSum(data, part, 4));
    assert.deepEqual(await Parallel({ nJobs: 2, batchSize: 1 })([0, 1, 2, 3].map((part) => delayed(sliceSum)(data, part, 4))), expected);
    assert.equal(data.length, (SHARE_REPEATED_BYTES / 8) * 2);
    assert.equal(data.buffer instanceof SharedArrayBuffer, false);
  });

  it('lets go of a task\'s arguments in the worker once it ran, before the rest of its batch', async () => {
    // Both tasks in one batch, so on one worker (nJobs 1 would run them in this thread): the second
    // task collects garbage there until the first one's array is freed.
    const run = Parallel({ nJobs: 2, batchSize: 2 });
    try {
      assert.deepEqual(await run([delayed(watchArgument)(new Float64Array(1024)), delayed(argumentFreed)()]), [1024, true]);
    } finally {
      await run.close();
    }
  });
});
