/**
 * Latency of the SQLite cache store (src/sqlite-store.ts), in microseconds, each the median of many
 * samples in one process:
 * - `lruHitUs`: `getMany([key])` answered by the in-memory LRU (includes decoding the value);
 * - `sqliteHitUs`: the same in a freshly opened store, whose LRU is cold, so SQLite answers (the
 *   connection is opened by a warm-up read first, and each key is read once);
 * - `setManyPerEntryUs`: one `setMany` of 100 small values (one transaction), divided by 100.
 *
 * Run directly (after `npm run build`): `node --import tsx bench/store-latency.ts`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { openSqliteStore } from '../dist/sqlite-store.js';
import type { NewEntry } from '../dist/store.js';
import { median } from './stats.js';

/** Store latencies, in microseconds (medians). */
export interface StoreLatency {
  /** A hit served from the LRU. */
  readonly lruHitUs: number;
  /** A hit served from SQLite by a freshly opened store. */
  readonly sqliteHitUs: number;
  /** Cost per entry of a `setMany` of 100 small values. */
  readonly setManyPerEntryUs: number;
}

const round = (us: number): number => Math.round(us * 10) / 10;

/** A small value of the kind a memoized function returns: a few numbers and a typed array. */
const smallValue = (i: number) => ({ score: i / 7, params: { alpha: 0.1, depth: i % 9 }, weights: new Float64Array(16).fill(i) });
const entry = (key: string, i: number): NewEntry => ({
  key,
  value: smallValue(i),
  meta: { fn: 'bench@1', args: `(${i})`, createdAt: Date.now(), durationMs: 1 },
});

/** Measures the three latencies in a temp folder, removed afterwards. */
export async function storeLatency(): Promise<StoreLatency> {
  const location = await mkdtemp(join(tmpdir(), 'joblib-store-bench-'));
  try {
    const store = await openSqliteStore({ location });
    // setMany: 30 batches of 100 new keys (after 3 warm-up batches).
    const perEntry: number[] = [];
    for (let batch = 0; batch < 33; batch++) {
      const entries = Array.from({ length: 100 }, (_, j) => entry(`k${batch * 100 + j}`, batch * 100 + j));
      const t0 = performance.now();
      await store.setMany(entries);
      if (batch >= 3) perEntry.push(((performance.now() - t0) * 1000) / entries.length);
    }
    // LRU hits: 2 000 single-key reads of recently written keys.
    const lru: number[] = [];
    for (let i = 0; i < 2_000; i++) {
      const key = `k${3_200 + (i % 100)}`;
      const t0 = performance.now();
      await store.getMany([key]);
      lru.push((performance.now() - t0) * 1000);
    }
    await store.close();
    // SQLite hits: a fresh store, its connection opened by one read, then each key read once.
    const fresh = await openSqliteStore({ location });
    await fresh.getMany(['k0']);
    const sqlite: number[] = [];
    for (let i = 1; i < 2_000; i++) {
      const t0 = performance.now();
      const [hit] = await fresh.getMany([`k${i}`]);
      sqlite.push((performance.now() - t0) * 1000);
      if (hit === undefined) throw new Error(`k${i} missing`);
    }
    await fresh.close();
    return { lruHitUs: round(median(lru)), sqliteHitUs: round(median(sqlite)), setManyPerEntryUs: round(median(perEntry)) };
  } finally {
    await rm(location, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await storeLatency();
  console.log(`store latency (medians): LRU hit ${r.lruHitUs} µs, SQLite hit ${r.sqliteHitUs} µs, setMany ${r.setManyPerEntryUs} µs per entry (100 per call)`);
}
