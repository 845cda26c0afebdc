import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const bundle = fileURLToPath(new URL('../dist/threads-master.cjs', import.meta.url));
const index = new URL('../dist/index.js', import.meta.url).href;

describe("the bundle of threads.js's master side", () => {
  it('loads without creating process.stderr (the first call pays for what it creates)', async () => {
    const script = `
      const original = Object.getOwnPropertyDescriptor(process, 'stderr');
      let read = false;
      Object.defineProperty(process, 'stderr', { configurable: true, get() { read = true; return original.get.call(process); } });
      require(${JSON.stringify(bundle)});
      console.log(JSON.stringify({ read }));`;
    const { stdout } = await run(process.execPath, ['-e', script], { env: { ...process.env, DEBUG: '' } });
    assert.deepEqual(JSON.parse(stdout), { read: false });
  });

  it("still prints threads.js's debug logs when DEBUG asks for them", async () => {
    const script = `
      const { Parallel, delayed } = await import(${JSON.stringify(index)});
      const results = await Parallel(2)([delayed((x) => x + 1)(1)]);
      console.log(JSON.stringify(results));`;
    const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, DEBUG: 'threads:*' } });
    assert.deepEqual(JSON.parse(stdout), [2]);
    assert.match(stderr, /threads:master:spawn/);
  });
});
