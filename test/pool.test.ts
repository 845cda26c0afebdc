import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Parallel, delayed, isJoblibError } from '../dist/index.js';
import { poolStats } from '../dist/pool.js';
import { nestedDefault, nestedExplicit } from './fixtures/nested.mjs';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const double = (x: number) => x * 2;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function runNode(script: string, onStdout?: (text: string, child: ReturnType<typeof spawn>) => void) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; ms: number }>((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout?.on('data', (data: Buffer) => {
      stdout += data;
      onStdout?.(stdout, child);
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, ms: Date.now() - started });
    });
  });
}

describe('worker pool', () => {
  it('reuses the workers of the previous call: a second call starts none', async () => {
    await Parallel(2)(range(4).map((x) => delayed(double)(x)));
    const before = poolStats().started;
    assert.deepEqual(await Parallel(2)(range(4).map((x) => delayed(double)(x))), [0, 2, 4, 6]);
    assert.equal(poolStats().started, before);
  });

  it('starts no thread for a call made while a worker of the first call is still starting', async () => {
    const { code, stdout } = await runNode(fixture('second-call.mjs'));
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(stdout), { results: [2, 3, 4, 5], startedByFirst: 2, startedBySecond: 0 });
  });

  it('starts no more workers than a call of fixed batches has batches', async () => {
    const { code, stdout } = await runNode(fixture('fixed-batches.mjs'));
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(stdout), { sum: 5050, started: 1 });
  });

  it('finishes every call when close() ends workers that ended calls were still starting', async () => {
    const { code, stdout } = await runNode(fixture('close-while-starting.mjs'));
    assert.equal(code, 0);
    assert.equal(stdout.trim(), '[1,4,9,16,25,36,49,64]');
  });

  it('lets a script that calls Parallel and returns exit by itself', async () => {
    const { code, stdout, ms } = await runNode(fixture('script-exits.mjs'));
    assert.equal(code, 0);
    assert.equal(stdout.trim(), '[10,20,30]');
    assert.ok(ms < 10_000, `took ${ms} ms`);
  });

  it('ends the program on Ctrl-C the way Node does (signal, status 130 in a shell)', async () => {
    let sent = false;
    const { code, signal, stdout } = await runNode(fixture('script-interrupted.mjs'), (text, child) => {
      if (!sent && text.includes('running')) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    assert.ok(sent, 'the script never reported running');
    assert.equal(signal, 'SIGINT');
    assert.equal(code, null);
    assert.ok(!stdout.includes('finished'));
  });

  it('closes with close(): running calls reject with ERR_CLOSED, later calls too, idle workers end', async () => {
    const run = Parallel(2);
    const spin = (ms: number) => {
      const end = Date.now() + ms;
      while (Date.now() < end);
      return ms;
    };
    const pending = run(range(20).map(() => delayed(spin)(100)));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await run.close();
    await assert.rejects(pending, (error) => isJoblibError(error, 'ERR_CLOSED'));
    await assert.rejects(run([delayed(double)(1)]), (error) => isJoblibError(error, 'ERR_CLOSED'));
    assert.equal(poolStats().idle, 0);
  });

  it('closes at the end of an await using scope', async () => {
    {
      await using run = Parallel(2);
      assert.deepEqual(await run([delayed(double)(2)]), [4]);
    }
    assert.equal(poolStats().idle, 0);
  });

  it('runs a nested Parallel with nJobs -1 sequentially inside a worker', async () => {
    const [result] = await Parallel(2)([delayed(nestedDefault)(5)]);
    assert.deepEqual(result, { inner: [1, 2, 3, 4, 5], startedInWorker: 0 });
  });

  it('honours an explicit nJobs in a nested Parallel', async () => {
    const [result] = await Parallel(2)([delayed(nestedExplicit)(4)]);
    assert.deepEqual(result, { inner: [0, 2, 4, 6], startedInWorker: 2 });
  });
});
