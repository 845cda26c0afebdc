import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Parallel, cpuCount, isJoblibError } from '../dist/index.js';
import { resolveOptions } from '../dist/options.js';

function rejectsOption(options: unknown, message: RegExp) {
  assert.throws(
    () => Parallel(options as never),
    (error: unknown) => {
      assert.ok(isJoblibError(error, 'ERR_INVALID_OPTION'), String(error));
      assert.match((error as Error).message, message);
      return true;
    },
  );
}

describe('options', () => {
  it('throws ERR_INVALID_OPTION at Parallel() saying what was expected and what was received', () => {
    rejectsOption(0, /Expected `nJobs` to be a non-zero integer .*, got `0` \(number\)/);
    rejectsOption({ nJobs: 1.5 }, /got `1.5` \(number\)/);
    rejectsOption({ nJobs: '2' }, /got `"2"` \(string\)/);
    rejectsOption({ backend: 'processes' }, /Expected `backend` to be one of 'threads', 'async', 'sequential', got `"processes"`/);
    rejectsOption({ batchSize: 0 }, /Expected `batchSize` to be `'auto'` or an integer from 1 up, got `0`/);
    rejectsOption({ preDispatch: -1 }, /Expected `preDispatch`/);
    rejectsOption({ returnAs: 'list' }, /Expected `returnAs` to be one of 'array', 'generator', 'generator_unordered'/);
    rejectsOption({ timeout: 0 }, /Expected `timeout`/);
    rejectsOption({ signal: {} }, /Expected `signal` to be an AbortSignal, got an object/);
    rejectsOption({ errors: 'ignore' }, /Expected `errors`/);
    rejectsOption({ verbose: -1 }, /Expected `verbose`/);
    rejectsOption({ onProgress: 'yes' }, /Expected `onProgress` to be a function/);
    rejectsOption({ njobs: 2 }, /got `njobs`/);
  });

  it('defaults to one job, run sequentially in the calling thread, like joblib', () => {
    const resolved = resolveOptions(undefined);
    assert.equal(resolved.nJobs, 1);
    assert.equal(resolved.backend, 'sequential');
    assert.equal(resolved.batchSize, 'auto');
    assert.equal(resolved.returnAs, 'array');
    assert.equal(resolved.errors, 'raise');
  });

  it('counts negative nJobs from the CPU count, never below 1', () => {
    assert.equal(resolveOptions(-1).nJobs, cpuCount());
    assert.equal(resolveOptions(-2).nJobs, Math.max(1, cpuCount() - 1));
    assert.equal(resolveOptions(-1000).nJobs, 1);
  });

  it('uses worker threads when nJobs is above 1 and keeps an explicit in-thread backend', () => {
    assert.equal(resolveOptions(2).backend, 'threads');
    assert.equal(resolveOptions({ nJobs: 4, backend: 'async' }).backend, 'async');
    assert.equal(resolveOptions({ nJobs: 4, backend: 'sequential' }).backend, 'sequential');
  });
});
