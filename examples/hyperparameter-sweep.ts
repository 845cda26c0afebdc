/**
 * A grid search that never computes the same thing twice: ridge regression scored by 5-fold
 * cross-validation over a grid of penalties and polynomial degrees, run with Parallel and cached with
 * Memory. The first run computes every point (with a progress bar on a terminal); run it again and
 * every point comes back from the cache, in a fraction of the time.
 *
 * Run: npm run demo (twice), or npx tsx examples/hyperparameter-sweep.ts [--fresh]
 */
import { Memory, Parallel, delayed } from 'joblib-ts';
import { crossValidate, type RidgeParams } from './ridge.js';
import { formatMs, isMain, timed } from './timing.js';

export interface SweepOptions {
  /** Cache folder. @default '.joblib-cache' */
  readonly location?: string;
  /** Clear the cache first. @default false */
  readonly fresh?: boolean;
  /** Samples in the generated dataset. @default 8000 */
  readonly samples?: number;
  readonly alphas?: readonly number[];
  readonly degrees?: readonly number[];
  /** @default -1 (all CPUs) */
  readonly nJobs?: number;
  readonly log?: (line: string) => void;
}

export interface SweepSummary {
  readonly best: RidgeParams & { readonly rmse: number };
  readonly hits: number;
  readonly misses: number;
  readonly elapsedMs: number;
  /** Compute time the hits did not have to spend (sum of their recorded durations). */
  readonly savedMs: number;
  readonly table: readonly (RidgeParams & { readonly rmse: number; readonly r2: number })[];
}

export async function main(options: SweepOptions = {}): Promise<SweepSummary> {
  const {
    location = '.joblib-cache',
    fresh = process.argv.includes('--fresh'),
    samples = 8000,
    alphas = [0.01, 0.1, 1, 10, 100, 1000],
    degrees = [1, 2, 3, 4],
    nJobs = -1,
    log = console.log,
  } = options;
  await using memory = new Memory({ location });
  if (fresh) await memory.clear();
  const cachedCrossValidate = memory.cache(crossValidate);

  const grid: RidgeParams[] = degrees.flatMap((degree) => alphas.map((alpha) => ({ alpha, degree, folds: 5, samples, seed: 42 })));
  // Which points are stored already, and what they cost to compute the first time.
  const cached = await Promise.all(grid.map((p) => cachedCrossValidate.checkCallInCache(p)));
  const hits = cached.filter(Boolean).length;
  // The compute time the hits spare: the recorded durations of this function's stored points.
  const stored = (await memory.entries()).filter((e) => e.functionName === crossValidate.name);
  const storedMs = stored.reduce((sum, e) => sum + e.durationMs, 0);
  const savedMs = stored.length === 0 ? 0 : (storedMs / stored.length) * hits;

  log(`Ridge regression, ${samples} samples, 5-fold cross-validation: ${grid.length} grid points (${alphas.length} penalties x ${degrees.length} degrees).`);
  log(`Cache: ${memory.location} — ${hits} of ${grid.length} points already stored.`);
  const run = Parallel({ nJobs, progress: true });
  const { value: scores, ms } = await timed(() => run(grid.map((p) => delayed(cachedCrossValidate)(p))));

  const table = grid.map((p, i) => ({ ...p, ...(scores[i] as { rmse: number; r2: number }) }));
  log('');
  log('  degree   alpha      RMSE      R²');
  for (const row of [...table].sort((a, b) => a.degree - b.degree || a.alpha - b.alpha)) {
    log(`  ${String(row.degree).padStart(6)}  ${String(row.alpha).padStart(6)}  ${row.rmse.toFixed(4).padStart(8)}  ${row.r2.toFixed(4).padStart(6)}`);
  }
  const best = table.reduce((a, b) => (b.rmse < a.rmse ? b : a));
  log('');
  log(`  Best: degree ${best.degree}, alpha ${best.alpha} (RMSE ${best.rmse.toFixed(4)})`);
  log(`  ${hits} from the cache, ${grid.length - hits} computed, in ${formatMs(ms)}` + (hits > 0 ? ` (about ${formatMs(savedMs)} of computation saved)` : ''));
  if (hits < grid.length) log('  Run it again: every point will come from the cache.');
  return { best, hits, misses: grid.length - hits, elapsedMs: ms, savedMs, table };
}

if (isMain(import.meta.url)) await main();
