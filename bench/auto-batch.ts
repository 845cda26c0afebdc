/**
 * What batchSize 'auto' settles on, and what it buys, on two workers: for every workload of the
 * comparison (bench/compare.ts) that joblib-ts runs, the batch sizes 'auto' reported through
 * onProgress, next to the loop and to batchSize 1; the perfect-numbers loop, whose tasks grow from
 * nanoseconds to a fraction of a millisecond, runs for this section only. Nothing is measured here:
 * the figures come from the comparison's runs, which hold the medians over its repetitions.
 */
import { formatCount, formatMs, formatSpeedup } from '../examples/timing.js';
import { cellStats, type Comparison } from './compare.js';
import { displayOrder } from './report.js';
import { medianOf } from './stats.js';

export function autoBatchMarkdown(c: Comparison): string {
  const lines = [
    "# batchSize 'auto' benchmark",
    '',
    `Written by \`npm run bench${c.quick ? ' -- --quick' : ''}\` (bench/auto-batch.ts) from the runs of the comparison above${c.quick ? ', quick mode: fewer tasks' : ''}.`,
    '',
    `- Parallel with nJobs ${c.workers}; every time is the median of ${c.reps} runs, each in a child process after a warm-up run`,
    '- Speedup: loop time / Parallel time of the same repetition (above 1, Parallel is faster); each Parallel time includes making the tasks, sending them and the results',
    "- 'auto' batch size: the largest batch size onProgress reported, and the one of the last event (medians over the runs)",
    '',
    "| Workload | Tasks | Cost of a task | 'auto' batch size (max / final) | Loop | Parallel, 'auto' | Speedup | Parallel, batchSize 1 | Speedup |",
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const spec of displayOrder(c.specs)) {
    if (spec.kind === 'cold' || spec.kind === 'memory') continue;
    const loop = cellStats(c, spec.id, 'loop');
    const auto = cellStats(c, spec.id, 'joblib-ts-auto');
    const one = cellStats(c, spec.id, 'joblib-ts-1');
    if (!loop.time || !auto.time) continue;
    const max = medianOf(auto.results.map((r) => r.stats?.maxBatch));
    const final = medianOf(auto.results.map((r) => r.stats?.finalBatch));
    const costUs = (loop.time.median * 1000) / spec.tasks;
    lines.push(
      `| ${[
        `${spec.id}: ${spec.title}`,
        formatCount(spec.tasks),
        costUs >= 1000 ? `${(costUs / 1000).toFixed(2)} ms` : `${costUs.toFixed(costUs < 10 ? 2 : 0)} µs`,
        max !== undefined && final !== undefined ? `${formatCount(Math.round(max))} / ${formatCount(Math.round(final))}` : '—',
        formatMs(loop.time.median),
        formatMs(auto.time.median),
        auto.ratio ? formatSpeedup(auto.ratio.median) : '—',
        one.time ? formatMs(one.time.median) : '—',
        one.ratio ? formatSpeedup(one.ratio.median) : '—',
      ].join(' | ')} |`,
    );
  }
  lines.push(
    '',
    'The cost of a task is the loop\'s time divided by the number of tasks: the average, where costs vary (W4, W4b, and the perfect numbers, whose cost grows with n: about n steps of trial division).',
    '',
  );
  return lines.join('\n');
}
