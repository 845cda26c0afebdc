import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { CHUNK_BYTES, copyIntoShared, copyStates, touchPages, touchShared } from '../dist/shared-copy.js';
import { HELPED_COPY_BYTES } from '../dist/batch-codec.js';
import { Parallel, delayed } from '../dist/index.js';

/** Bytes that differ from chunk to chunk and page to page, none of them zero. */
function pattern(bytes: number): Uint8Array {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = 1 + ((i * 7 + (i >>> 12)) % 251);
  return data;
}

/**
 * Threads that import shared-copy.js and, for every message (a buffer and the copy's states), run
 * `body` (JavaScript with `buffer`, `states` and the module's exports in scope), then answer.
 */
async function helperThreads(count: number, body: string): Promise<Worker[]> {
  const source = `
    const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(new URL('../dist/shared-copy.js', import.meta.url).href)}).then(({ touchShared, touchPages }) => {
      parentPort.on('message', ({ buffer, states }) => { ${body}; parentPort.postMessage('done'); });
      parentPort.postMessage('ready');
    });`;
  const threads = Array.from({ length: count }, () => new Worker(source, { eval: true }));
  await Promise.all(threads.map((thread) => new Promise((resolve) => thread.once('message', resolve))));
  return threads;
}

describe('copying into new shared memory with helpers', () => {
  it('copies every byte whether helpers touch the buffer at the same time, late, or not at all', async () => {
    const threads = await helperThreads(2, 'touchShared(buffer, states)');
    try {
      for (const bytes of [CHUNK_BYTES * 9 + 4096 * 3 + 5, CHUNK_BYTES * 4, 1000]) {
        const source = pattern(bytes);
        for (let round = 0; round < 4; round++) {
          const target = new SharedArrayBuffer(bytes);
          const states = copyStates(bytes);
          const helped = threads.map((thread) => new Promise((resolve) => thread.once('message', resolve)));
          for (const thread of threads) thread.postMessage({ buffer: target, states });
          copyIntoShared(source, target, states);
          assert.deepEqual(new Uint8Array(target), source, `${bytes} bytes, round ${round}`);
          await Promise.all(helped);
          // A helper that comes once the copy is done finds every chunk taken and writes nothing.
          touchShared(target, states);
          assert.deepEqual(new Uint8Array(target), source, `${bytes} bytes, round ${round}, late helper`);
        }
        const alone = new SharedArrayBuffer(bytes);
        copyIntoShared(source, alone, copyStates(bytes));
        assert.deepEqual(new Uint8Array(alone), source, `${bytes} bytes, no helper`);
      }
    } finally {
      await Promise.all(threads.map((thread) => thread.terminate()));
    }
  });

  it('never undoes a copy when a helper touches the same pages at the same time', async () => {
    // Helpers touch only chunks ahead of the copy, but may still be on one when the copy reaches it.
    const bytes = CHUNK_BYTES * 8;
    const source = pattern(bytes);
    const [thread] = await helperThreads(1, 'for (let pass = 0; pass < 20; pass++) touchPages(new Uint8Array(buffer), 0, buffer.byteLength)');
    if (!thread) throw new Error('no helper thread');
    try {
      for (let round = 0; round < 5; round++) {
        const target = new SharedArrayBuffer(bytes);
        const done = new Promise((resolve) => thread.once('message', resolve));
        thread.postMessage({ buffer: target });
        for (let pass = 0; pass < 5; pass++) new Uint8Array(target).set(source);
        await done;
        assert.deepEqual(new Uint8Array(target), source, `round ${round}`);
      }
      const local = new Uint8Array(8192).fill(9);
      touchPages(local, 0, local.byteLength);
      assert.deepEqual(local, new Uint8Array(8192).fill(9));
    } finally {
      await thread.terminate();
    }
  });

  it('gives the tasks of a call an array large enough for the workers to help copy it, unchanged', async () => {
    // Not small integers: their bytes at page starts (the low bytes of doubles) would be zeros, which
    // a helper writing zeros would leave unharmed.
    const values = new Float64Array(HELPED_COPY_BYTES / 8 + 1000).map((_, i) => Math.sin(i));
    const sliceSum = (a: Float64Array, part: number, parts: number) => {
      const size = Math.ceil(a.length / parts);
      let sum = 0;
      for (let i = part * size; i < Math.min(a.length, (part + 1) * size); i++) sum += a[i] as number;
      return sum;
    };
    const parts = [0, 1, 2, 3, 4, 5, 6, 7];
    const run = Parallel({ nJobs: 2, batchSize: 1 });
    try {
      // The first call starts the workers; in the second, both are idle when the copy is made.
      for (let call = 0; call < 2; call++) {
        assert.deepEqual(await run(parts.map((part) => delayed(sliceSum)(values, part, 8))), parts.map((part) => sliceSum(values, part, 8)));
      }
    } finally {
      await run.close();
    }
    assert.equal(values[1], Math.sin(1));
    assert.equal(values.buffer instanceof SharedArrayBuffer, false);
  });

  it("frees a call's shared copy in the workers once the call ends, though their tasks allocate nothing", async () => {
    // Each worker keeps weak references to the shared copy it was given; the tasks of the next call
    // ask whether it still holds it. A worker collects garbage when it allocates, and these tasks
    // allocate next to nothing.
    const remember = (a: Float64Array) => {
      const holder = globalThis as { sharedCopyRefs?: WeakRef<object>[] };
      (holder.sharedCopyRefs ??= []).push(new WeakRef(a.buffer));
      return a.length;
    };
    const heldCopies = () => ((globalThis as { sharedCopyRefs?: WeakRef<object>[] }).sharedCopyRefs ?? []).filter((ref) => ref.deref() !== undefined).length;
    const values = new Float64Array(HELPED_COPY_BYTES / 8);
    const run = Parallel({ nJobs: 2, batchSize: 1 });
    try {
      const tasks = 6;
      assert.deepEqual(await run(Array.from({ length: tasks }, () => delayed(remember)(values))), Array(tasks).fill(values.length));
      assert.deepEqual(await run(Array.from({ length: 10 }, () => delayed(heldCopies)())), Array(10).fill(0));
    } finally {
      await run.close();
    }
  });
});
