/**
 * `npm run bench`: the side-by-side comparison of bench/compare.ts (joblib-ts against the loop,
 * piscina, workerpool, threads.js, bare worker_threads and Python joblib when installed), whose last
 * section holds the Memory figures of bench/memory.ts next to Python joblib's; then what bounds W1,
 * W5 and W6 (bench/limits.ts) and the batchSize 'auto' section (bench/auto-batch.ts), from the same
 * runs. Writes bench/RESULTS.md and bench/speedup.svg, and prints the Markdown.
 *
 * Options (after `npm run bench --`):
 *   --quick            fewer tasks, 3 repetitions: under a minute or so, for development
 *   --reps=N           repetitions (default 5, quick 3)
 *   --only=W1,W6,...   only these workloads (ids of bench/workloads.ts: cold, W1...W6, sweep-10us,
 *                      sweep-1ms, sweep-10ms, perfect, cache)
 *   --systems=a,b      only these systems besides the loop (ids of bench/compare.ts: joblib-ts-auto,
 *                      joblib-ts-1, joblib-ts-shared, piscina, piscina-move, workerpool, threads,
 *                      worker-threads, joblib-py)
 *   --fresh            a new child process for every job instead of one per system and repetition
 *   --write            write the files even when --only or --systems leaves part of the run out
 *
 * Python joblib runs when `python3 -c 'import joblib'` works (or $BENCH_PYTHON, or Debian's
 * /usr/bin/python3 with python3-joblib: `apt-get install python3-joblib`); its cells say "skipped"
 * otherwise, or with BENCH_PYTHON=none.
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { autoBatchMarkdown } from './auto-batch.js';
import { runComparison, type SystemId } from './compare.js';
import { LIMITS_TITLE, limitsMarkdown, measureLimits } from './limits.js';
import { comparisonMarkdown, speedupSeries } from './report.js';
import { speedupSvg } from './svg.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const value = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const list = (name: string) => value(name)?.split(',').map((s) => s.trim()).filter(Boolean);

const quick = flag('quick');
const reps = value('reps');
const only = list('only');
const systems = list('systems') as SystemId[] | undefined;

const comparison = await runComparison({
  quick,
  fresh: flag('fresh'),
  ...(reps ? { reps: Number(reps) } : {}),
  ...(only ? { only } : {}),
  ...(systems ? { systems } : {}),
});

// The limits run after the whole comparison: a failure there must not lose it, and is reported in its place.
const limitsSection = await measureLimits(comparison).then(
  (limits) => (limits.length > 0 ? [limitsMarkdown(limits)] : []),
  (error: unknown) => {
    console.error(error);
    return [`${LIMITS_TITLE}\n\nNot measured: bench/limits.ts failed (${(error as Error)?.message ?? String(error)}).\n`];
  },
);
const markdown = [
  comparisonMarkdown(comparison),
  ...limitsSection,
  autoBatchMarkdown(comparison),
].join('\n');
const svg = speedupSvg(speedupSeries(comparison), {
  title: 'Speedup over a plain loop against task duration',
  subtitle: `${comparison.machine.cpus} CPUs, Node.js ${comparison.machine.node}, ${comparison.workers} workers; medians of ${comparison.reps} runs${comparison.quick ? ' (quick mode)' : ''}; see RESULTS.md`,
  limit: comparison.workers,
});

console.log('');
console.log(markdown);
if ((only || systems) && !flag('write')) {
  console.log('Part of the run only: nothing written (add --write to write bench/RESULTS.md and bench/speedup.svg).');
} else {
  const results = new URL('./RESULTS.md', import.meta.url);
  const chart = new URL('./speedup.svg', import.meta.url);
  await writeFile(results, markdown);
  await writeFile(chart, svg);
  console.log(`Written to ${fileURLToPath(results)} and ${fileURLToPath(chart)}`);
}
