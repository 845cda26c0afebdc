import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { main as factorials } from '../examples/factorials.js';
import { main as perfectNumbers, isPerfect } from '../examples/perfect-numbers.js';
import { main as squares } from '../examples/squares.js';
import { main as sleepIo } from '../examples/sleep-io.js';
import { main as checksums } from '../examples/checksums.js';
import { main as sweep } from '../examples/hyperparameter-sweep.js';
import type { Summary } from '../examples/timing.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Collects what an example prints. */
function recorder(): { log: (line: string) => void; lines: string[] } {
  const lines: string[] = [];
  return { log: (line) => lines.push(line), lines };
}

function assertTimings(summary: Summary): void {
  assert.equal(summary.equal, true);
  for (const key of ['sequentialMs', 'parallelMs', 'speedup'] as const) {
    assert.ok(Number.isFinite(summary[key]) && summary[key] > 0, `${key} is ${summary[key]}`);
  }
  assert.ok(Math.abs(summary.speedup - summary.sequentialMs / summary.parallelMs) < 1e-9);
}

describe('examples', () => {
  it('factorials: BigInt results of Parallel equal those of the loop', async () => {
    const { log, lines } = recorder();
    const summary = await factorials({ upTo: 150, log });
    assertTimings(summary);
    assert.ok(summary.warmParallelMs > 0);
    assert.match(lines.join('\n'), /All 150 results equal/);
  });

  it('perfect numbers: finds 6, 28 and 496 below 3000, with batchSize auto growing past 1', async () => {
    const { log, lines } = recorder();
    const summary = await perfectNumbers({ below: 3000, log });
    assertTimings(summary);
    assert.deepEqual(summary.perfect, [6, 28, 496]);
    assert.ok(summary.maxBatchSize > 1, `batch size stayed at ${summary.maxBatchSize}`);
    assert.ok(summary.lastBatchSize >= 1 && summary.lastBatchSize <= summary.maxBatchSize);
    assert.match(lines.join('\n'), /Perfect numbers found: 6, 28, 496\n/);
  });

  it('perfect numbers: the check itself', () => {
    assert.deepEqual(
      Array.from({ length: 10_000 }, (_, i) => i).filter((n) => n > 0 && isPerfect(n)),
      [6, 28, 496, 8128],
    );
  });

  it('squares: tiny tasks give equal results with batchSize auto and 1', async () => {
    const { log } = recorder();
    const summary = await squares({ n: 10, many: 2000, log });
    assertTimings(summary);
    assert.equal(summary.many.count, 2000);
    assert.ok(summary.many.maxBatchSize > 1);
    for (const key of ['sequentialMs', 'autoMs', 'oneByOneMs'] as const) assert.ok(summary.many[key] > 0);
  });

  it('sleep-io: the async backend overlaps waits', async () => {
    const { log } = recorder();
    const summary = await sleepIo({ count: 16, latencyMs: 10, nJobs: 8, log });
    assertTimings(summary);
    // 16 waits of 10 ms one after the other, against two rounds of 8 overlapping waits.
    assert.ok(summary.parallelMs < summary.sequentialMs, `${summary.parallelMs} ms vs ${summary.sequentialMs} ms`);
  });

  it('checksums: a task() function from examples/tasks.ts runs in the workers', async () => {
    const { log } = recorder();
    const summary = await checksums({ count: 20, rounds: 50, log });
    assertTimings(summary);
  });

  it('hyperparameter sweep: the second run answers every grid point from the cache with the same table', async () => {
    const location = mkdtempSync(join(tmpdir(), 'joblib-ts-sweep-'));
    try {
      const options = { location, samples: 300, alphas: [0.1, 10], degrees: [1, 3], nJobs: 2, log: recorder().log };
      const first = await sweep(options);
      assert.equal(first.hits, 0);
      assert.equal(first.misses, 4);
      const { log, lines } = recorder();
      const second = await sweep({ ...options, log });
      assert.equal(second.hits, 4);
      assert.equal(second.misses, 0);
      assert.deepEqual(second.table, first.table);
      assert.deepEqual(second.best, first.best);
      assert.ok(second.savedMs > 0);
      assert.match(lines.join('\n'), /4 from the cache, 0 computed/);
    } finally {
      rmSync(location, { recursive: true, force: true });
    }
  });

  it('property test: the seeded estimate passes, the broken variants are caught, and the seed replays the failure', async () => {
    const { main } = await import('../examples/property-test.js');
    const { log, lines } = recorder();
    const summary = await main({ numRuns: 20, maxTasks: 10, log });
    assert.equal(summary.passedRuns, 20);
    assert.equal(typeof summary.unseeded.seed, 'number');
    assert.match(summary.unseeded.path, /^\d+(:\d+)*$/);
    assert.equal(summary.unseeded.counterexample.tasks.length, 1);
    assert.equal(summary.replayed, true);
    assert.ok(summary.shared.counterexample.tasks.length >= 2);
    const output = lines.join('\n');
    assert.match(output, /1\. estimatePi\(seed, samples\), seeded: passed 20 cases/);
    assert.match(output, new RegExp(`\\{ seed: ${summary.unseeded.seed}, path: "${summary.unseeded.path}", endOnFailure: true \\}`));
    assert.match(output, /Counterexample: \[\{"tasks":\[\[-?\d+,\d+\]\],"options":\{"nJobs":1,/);
    assert.match(output, /fails again, on the same counterexample/);
    assert.match(output, /the calls of the loop change their arguments/);
  });
});
