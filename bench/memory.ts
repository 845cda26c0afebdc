/**
 * What Memory costs, through its public API, in one process (medians):
 * - a hit served from the in-memory LRU (hashing the arguments included);
 * - a hit served from SQLite by a freshly opened Memory (cold LRU, connection opened by a warm-up read);
 * - what SQLite itself takes to read one entry there: the store's own reading connection and prepared
 *   statement (src/sqlite-connection.ts), one key at a time, with and without a pause between reads;
 * - the time a miss adds to the computation itself (lookup, encoding, one synced write);
 * - hashing a 64 MiB Float64Array, next to raw node:crypto over the same bytes;
 * - rerunning a finished 10,000-task Parallel sweep of a cached function.
 *
 * `npm run bench` runs it in a child process of the comparison (bench/systems/joblib-ts.ts) and
 * writes its figures in the cache section of bench/RESULTS.md, next to Python joblib's. Run directly
 * (after `npm run build`): `node --import tsx bench/memory.ts [--quick]` prints them alone.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Memory, Parallel, delayed } from '../dist/index.js';
import { Reader } from '../dist/sqlite-connection.js';
import { hashThroughput } from './hash-throughput.js';
import { median } from './stats.js';

export interface MemoryBenchResult {
  readonly lruHitUs: number;
  /** The first pass of LRU hits, right after the misses (the warm-up of {@link lruHitUs}). */
  readonly lruFirstPassUs: number;
  readonly sqliteHitUs: number;
  /** The store's statement alone, reading one entry: right after the previous read, and after a busy pause of `pauseUs`. */
  readonly sqliteReadUs: { readonly backToBack: number; readonly afterPause: number; readonly pauseUs: number };
  readonly missOverheadUs: number;
  readonly hashMibPerSec: number;
  readonly cryptoMibPerSec: Record<string, number>;
  readonly sweepTasks: number;
  readonly sweepFirstMs: number;
  readonly sweepRerunMs: number;
}

/** What a memoized model evaluation typically returns. */
function evaluate(params: { alpha: number; depth: number }): { score: number; weights: Float64Array } {
  return { score: params.alpha * params.depth, weights: new Float64Array(16).fill(params.alpha) };
}

/** A cheap task for the sweep: the rerun measures lookups, not computation. */
function cube(x: number): number {
  return x * x * x;
}

export async function memoryBench(options: { quick?: boolean; sweepTasks?: number } = {}): Promise<MemoryBenchResult> {
  const location = await mkdtemp(join(tmpdir(), 'joblib-memory-bench-'));
  const samples = options.quick ? 500 : 2_000;
  try {
    const params = (i: number) => ({ alpha: i / 1000, depth: i % 7 });
    // Misses: each call a new key; the bare call's time is subtracted.
    const memory = new Memory({ location });
    const cached = memory.cache(evaluate);
    const missUs: number[] = [];
    for (let i = 0; i < samples; i++) {
      const p = params(i);
      const t0 = performance.now();
      evaluate(p);
      const t1 = performance.now();
      await cached(p);
      const t2 = performance.now();
      missUs.push((t2 - t1 - (t1 - t0)) * 1000);
    }
    // Hits, each call timed on its own: the arguments of keys `from` to `samples - 1`.
    const timeHits = async (call: typeof cached, from: number): Promise<number[]> => {
      const us: number[] = [];
      for (let i = from; i < samples; i++) {
        const p = params(i);
        const t0 = performance.now();
        await call(p);
        us.push((performance.now() - t0) * 1000);
      }
      return us;
    };
    // LRU hits: the same keys again, in this Memory, twice: a warm-up pass, then the measured one.
    const lruFirstPassUs = await timeHits(cached, 0);
    const lruUs = await timeHits(cached, 0);
    await memory.close();
    // SQLite hits: a new Memory (new connection, empty LRU), each key read once.
    const fresh = new Memory({ location });
    const freshCached = fresh.cache(evaluate);
    await freshCached(params(0));
    const sqliteUs = await timeHits(freshCached, 1);
    const sqliteReadUs = await timeSqliteReads(location);
    // The sweep: computed once, then rerun.
    const sweepTasks = options.sweepTasks ?? 10_000;
    const cachedCube = fresh.cache(cube);
    const tasks = () => Array.from({ length: sweepTasks }, (_, i) => delayed(cachedCube)(i));
    let t0 = performance.now();
    await Parallel(2)(tasks());
    const sweepFirstMs = performance.now() - t0;
    t0 = performance.now();
    await Parallel(2)(tasks());
    const sweepRerunMs = performance.now() - t0;
    await fresh.close();
    const hashing = hashThroughput();
    return {
      lruHitUs: median(lruUs),
      lruFirstPassUs: median(lruFirstPassUs),
      sqliteHitUs: median(sqliteUs),
      sqliteReadUs,
      missOverheadUs: median(missUs),
      hashMibPerSec: hashing.mibPerSec,
      cryptoMibPerSec: hashing.cryptoMibPerSec,
      sweepTasks,
      sweepFirstMs,
      sweepRerunMs,
    };
  } finally {
    await rm(location, { recursive: true, force: true });
  }
}

/**
 * Between two hits, the caller's code and the library's run for some microseconds: long enough for
 * the thread that runs SQLite's statements (node-sqlite3 runs them on libuv's thread pool) to go to
 * sleep, and waking it costs time. A busy pause of this length stands in for that code.
 */
const PAUSE_BETWEEN_READS_US = 20;

/**
 * Reads every entry of the cache at `location` once through the store's own reading connection and
 * prepared statement (the query a hit runs), timing each read: back to back, then each after
 * {@link PAUSE_BETWEEN_READS_US}. Medians in µs.
 */
async function timeSqliteReads(location: string): Promise<MemoryBenchResult['sqliteReadUs']> {
  const reader = await Reader.open(join(location, 'cache.sqlite'), 1000);
  try {
    const keys = (await reader.all('SELECT key FROM keyv')).map((row) => String(row['key']));
    const timeReads = async (pauseUs: number): Promise<number> => {
      const us: number[] = [];
      for (const key of keys) {
        const pauseEnd = performance.now() + pauseUs / 1000;
        while (performance.now() < pauseEnd); // busy, as the code between two hits is
        const t0 = performance.now();
        const rows = await reader.entries([key]);
        us.push((performance.now() - t0) * 1000);
        if (rows.length !== 1) throw new Error(`expected 1 row for a stored key, got ${rows.length}`);
      }
      return median(us);
    };
    await timeReads(0); // warm-up: the statement prepared, the pages in the page cache
    const backToBack = await timeReads(0);
    return { backToBack, afterPause: await timeReads(PAUSE_BETWEEN_READS_US), pauseUs: PAUSE_BETWEEN_READS_US };
  } finally {
    await reader.close();
  }
}

/** The result as Markdown, for a run of this file alone. */
function memoryMarkdown(r: MemoryBenchResult): string {
  const crypto = Object.entries(r.cryptoMibPerSec).map(([name, v]) => `${name} ${Math.round(v)} MiB/s`).join(', ');
  return [
    '# Memory benchmark',
    '',
    'Printed by `node --import tsx bench/memory.ts`: medians, one process, through the public API.',
    '',
    '| Measure | Value |',
    '|---|--:|',
    `| Hit served from the in-memory LRU (hashing included), warm | ${r.lruHitUs.toFixed(1)} µs |`,
    `| The same, first pass over the keys (the warm-up, right after the misses) | ${r.lruFirstPassUs.toFixed(1)} µs |`,
    `| Hit served from SQLite by a freshly opened Memory | ${r.sqliteHitUs.toFixed(1)} µs |`,
    `| Of which SQLite's own read, the store's statement alone: after a ${r.sqliteReadUs.pauseUs} µs pause / back to back | ${r.sqliteReadUs.afterPause.toFixed(1)} / ${r.sqliteReadUs.backToBack.toFixed(1)} µs |`,
    `| Overhead a miss adds to the computation | ${r.missOverheadUs.toFixed(1)} µs |`,
    `| hash() of a 64 MiB Float64Array | ${Math.round(r.hashMibPerSec)} MiB/s (raw node:crypto: ${crypto}) |`,
    `| Parallel(2) over ${r.sweepTasks.toLocaleString('en')} cached tasks, first run | ${r.sweepFirstMs.toFixed(0)} ms |`,
    `| The same call again, every task from the cache | ${r.sweepRerunMs.toFixed(0)} ms |`,
    '',
  ].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(memoryMarkdown(await memoryBench({ quick: process.argv.includes('--quick') })));
}
