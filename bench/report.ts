/**
 * The comparison as Markdown (the first part of bench/RESULTS.md) and as the series of
 * bench/speedup.svg.
 */
import { formatMs, formatSpeedup } from '../examples/timing.js';
import { cellStats, systemDefs, type CellStats, type Comparison, type SystemDef, type SystemId } from './compare.js';
import type { MemoryBenchResult } from './memory.js';
import { medianOf, spread } from './stats.js';
import type { Series } from './svg.js';
import type { WorkloadSpec } from './workloads.js';

/** The Python adapter's cache and hash figures (bench/systems/python-joblib.py). */
interface PythonMemoryResult {
  readonly hitUs: number;
  readonly freshHitUs: number;
  readonly missOverheadUs: number;
  readonly sweepTasks: number;
  readonly sweepFirstMs: number;
  readonly sweepRerunMs: number;
  readonly hashMibPerSec?: number;
  readonly cryptoMibPerSec?: Record<string, number>;
}

const MIB = 1024 * 1024;

/** Columns of the speedup tables: every system but the loop (a column of times) and the variants shown in others' cells. */
function columns(c: Comparison): SystemDef[] {
  return c.systems.filter((s) => s.id !== 'loop' && !s.variantOf && s.runtime === 'node').concat(pythonColumn(c));
}

/** The Python column, present even when Python joblib was skipped (its cells then say so). */
function pythonColumn(c: Comparison): SystemDef[] {
  const isPython = (s: SystemDef) => s.id === 'joblib-py';
  const def = c.systems.find(isPython) ?? systemDefs().find(isPython);
  return def ? [def] : [];
}

function ordered(c: Comparison): SystemDef[] {
  // The bare worker_threads floor last.
  const cols = columns(c);
  return [...cols.filter((s) => s.id !== 'worker-threads'), ...cols.filter((s) => s.id === 'worker-threads')];
}

function ratioText(cell: CellStats): string {
  if (!cell.ratio) return cell.problems.length > 0 ? 'failed' : '—';
  const { median, min, max } = cell.ratio;
  return `${formatSpeedup(median)} (${formatSpeedup(min).replace(/x$/, '')}-${formatSpeedup(max)})`;
}

function timeText(cell: CellStats): string {
  if (!cell.time) return cell.problems.length > 0 ? 'failed' : '—';
  const { median, min, max } = cell.time;
  return `${formatMs(median)} (${formatMs(min)}-${formatMs(max)})`;
}

function skippedOr(c: Comparison, system: SystemDef, spec: WorkloadSpec, text: () => string): string {
  if (system.id === 'joblib-py' && !c.python.found) return 'skipped';
  const def = c.systems.find((s) => s.id === system.id);
  if (!def || !def.runs(spec)) return '—';
  return text();
}

/** Whether joblib-ts 'auto' met the workload's target, and the target as text. */
function target(c: Comparison, spec: WorkloadSpec): string {
  const auto = cellStats(c, spec.id, 'joblib-ts-auto');
  const verdict = (ok: boolean | undefined) => (ok === undefined ? 'not measured' : ok ? '**met**' : '**not met**');
  if (spec.kind === 'cold') {
    const noSpawn = auto.results.length > 0 ? auto.results.every((r) => r.threadsSecondCall === 0) : undefined;
    const fast = auto.time ? auto.time.median <= 50 : undefined;
    return `first call <= 50 ms, second starts no thread: ${verdict(fast === undefined ? undefined : fast && noSpawn === true)}`;
  }
  if (spec.target === undefined) return '';
  const ratio = auto.ratio?.median;
  let ok = ratio === undefined ? undefined : ratio >= spec.target;
  let text = `>= ${spec.target}x`;
  if (spec.kind === 'arrays') {
    text += ', no buffer detached, ahead of piscina moving them';
    const detached = auto.results.some((r) => (r.detached ?? 0) > 0);
    const moved = cellStats(c, spec.id, 'piscina-move').ratio?.median;
    if (ok !== undefined) ok = ok && !detached && (moved === undefined || (ratio as number) > moved);
  }
  if (spec.kind === 'shared') {
    text += ', peak memory < 2.5x the array';
    const peak = medianOf(auto.results.map((r) => r.peakAboveMiB));
    if (ok !== undefined && peak !== undefined) ok = ok && peak < (2.5 * (spec.arrayBytes ?? 0)) / MIB;
  }
  return `${text}: ${verdict(ok)}`;
}

const DISPLAY = ['W1', 'W2', 'W3', 'W4', 'W4b', 'W5', 'W6', 'cold'];

/** The workloads in the order of the tables: W1 to W6, cold start, then the others as run. */
export function displayOrder(specs: readonly WorkloadSpec[]): WorkloadSpec[] {
  const rank = (s: WorkloadSpec) => (DISPLAY.includes(s.id) ? DISPLAY.indexOf(s.id) : DISPLAY.length);
  return [...specs].sort((a, b) => rank(a) - rank(b));
}

export function comparisonMarkdown(c: Comparison): string {
  const cols = ordered(c);
  const specs = displayOrder(c.specs);
  const main = specs.filter((s) => s.kind !== 'memory' && s.kind !== 'perfect' && !s.sweepOnly);
  const python = c.python.found
    ? `Python ${c.python.python} with joblib ${c.python.joblib}${c.python.numpy ? ` and numpy ${c.python.numpy}` : ' (no numpy: W5 and W6 fail)'} (\`${c.python.command}\`)`
    : `Python joblib: skipped (${c.python.reason})`;
  const lines: string[] = [
    '# joblib-ts against its peers',
    '',
    `Written by \`npm run bench${c.quick ? ' -- --quick' : ''}\` (bench/run.ts, bench/compare.ts)${c.quick ? ': quick mode, fewer tasks' : ''}; the comparison took ${(c.durationMs / 60_000).toFixed(1)} min.`,
    '',
    `- Machine: ${c.machine.cpus} CPUs (${c.machine.model}), ${c.machine.platform}; load average ${c.loadBefore.toFixed(2)} before, ${c.loadAfter.toFixed(2)} after${c.stolen === undefined ? '' : `; ${(100 * c.stolen).toFixed(1)}% of the CPUs' time stolen by the host for other guests during the run`}. The host is shared and slows down in bursts: compare figures of one run only.`,
    `- Node.js ${c.machine.node}; ${python}.`,
    `- Every system runs ${c.workers} workers. ${c.reps} repetitions; in each, every system runs every workload in turn, in an order rotated from one repetition to the next, in a child process of its own (${
      c.fresh
        ? 'a new one for every workload'
        : `one per system and repetition, serving the workloads one after the other, cold start first; ${c.quick ? 'W6 second' : 'W6 in a new process'}`
    }), each workload on a fresh pool after a warm-up run of a twentieth of its tasks or less (about 50 ms of work).`,
    '- Speedup: the loop\'s time divided by the system\'s, both from the same repetition; the median over the repetitions, then the smallest and the largest. Python joblib is measured against its own Python loop, timed in its process just before; its task bodies are calibrated to the same durations.',
    '- Every run\'s results are checked against the loop\'s (a checksum of all results in order); Python joblib\'s against its own loop. A run with wrong results counts as failed.',
    `- Tasks (bench/tasks.mjs): \`spin\`, xorshift rounds (${c.calibration.spinRoundsPerUs.toFixed(0)} per µs here); \`arraySum\`; \`sliceSum\`, passes over a slice (${c.calibration.sliceNsPerElement.toFixed(2)} ns per element and pass).`,
    '',
    '## Speedup over the loop',
    '',
    `| Workload | Loop | ${cols.map((s) => s.label).join(' | ')} | Target for joblib-ts 'auto' |`,
    `|---|--:|${cols.map(() => '--:').join('|')}|---|`,
  ];
  for (const spec of main) {
    const loop = cellStats(c, spec.id, 'loop');
    const cells = cols.map((system) =>
      skippedOr(c, system, spec, () => {
        const cell = cellStats(c, spec.id, system.id);
        if (spec.kind === 'cold') return cell.time ? formatMs(cell.time.median) : cell.problems.length > 0 ? 'failed' : '—';
        return ratioText(cell) + variantFigures(c, spec, system.id);
      }),
    );
    const loopText = spec.kind === 'cold' ? '—' : loop.time ? formatMs(loop.time.median) : 'failed';
    lines.push(`| ${spec.id}: ${spec.title} | ${loopText} | ${cells.join(' | ')} | ${target(c, spec)} |`);
  }
  lines.push('', 'Cold start: the median time of the first call, from creating the pool to the 2 results.', '');
  lines.push(...problems(c));

  // Wall times.
  lines.push(
    '## Wall times',
    '',
    'Median (smallest-largest) over the repetitions.',
    '',
    `| Workload | Loop | ${cols.map((s) => s.label).join(' | ')} |`,
    `|---|--:|${cols.map(() => '--:').join('|')}|`,
  );
  for (const spec of specs.filter((s) => s.kind !== 'memory' && s.kind !== 'perfect')) {
    const loop = cellStats(c, spec.id, 'loop');
    const cells = cols.map((system) => skippedOr(c, system, spec, () => timeText(cellStats(c, spec.id, system.id))));
    lines.push(`| ${spec.id} | ${spec.kind === 'cold' ? '—' : timeText(loop)} | ${cells.join(' | ')} |`);
  }
  lines.push('', 'Python joblib\'s own loop, which its speedups divide:', '');
  const pyLoops = specs
    .filter((s) => s.kind !== 'memory' && s.kind !== 'cold' && s.kind !== 'perfect')
    .map((s) => {
      const runs = cellStats(c, s.id, 'joblib-py').results;
      const t = medianOf(runs.map((r) => r.loopMs));
      return `${s.id} ${t !== undefined ? formatMs(t) : '—'}`;
    });
  lines.push(c.python.found ? pyLoops.join(', ') + '.' : 'skipped.', '');

  lines.push(...w5Section(c), ...w6Section(c), ...coldSection(c), ...sweepSection(c), ...cacheSection(c));
  return lines.join('\n');
}

function problems(c: Comparison): string[] {
  const out: string[] = [];
  for (const spec of c.specs) {
    for (const system of c.systems) {
      const cell = cellStats(c, spec.id, system.id);
      for (const p of cell.problems) out.push(`- ${spec.id}, ${system.label}: ${p}`);
    }
  }
  return out.length > 0 ? ['Failed runs:', '', ...out, ''] : [];
}

/** The figures of `system`'s variants that ran `spec`, for its cell (see {@link SystemDef.variantOf}). */
function variantFigures(c: Comparison, spec: WorkloadSpec, system: SystemId): string {
  return c.systems
    .filter((s) => s.variantOf?.system === system && s.runs(spec))
    .map((s) => `; ${s.variantOf?.what}: ${ratioText(cellStats(c, spec.id, s.id))}`)
    .join('');
}

function w5Section(c: Comparison): string[] {
  const spec = c.specs.find((s) => s.kind === 'arrays');
  if (!spec) return [];
  const lines = [
    `## ${spec.id}: the caller's arrays`,
    '',
    `${spec.title}. How many of the caller's ${spec.tasks} arrays each system left detached (moved away), in its last valid run. "Arrays in shared memory": the caller made its arrays on SharedArrayBuffers (before the timed call, as every system's arrays are made), which joblib-ts hands to the workers without copying.`,
    '',
    '| System | Arrays detached | Speedup |',
    '|---|--:|--:|',
  ];
  for (const system of c.systems.filter((s) => s.runs(spec) && s.id !== 'loop' && s.runtime === 'node')) {
    const cell = cellStats(c, spec.id, system.id);
    const last = cell.results[cell.results.length - 1];
    lines.push(`| ${system.label} | ${last?.detached ?? '—'} | ${ratioText(cell)} |`);
  }
  lines.push('');
  return lines;
}

function w6Section(c: Comparison): string[] {
  const spec = c.specs.find((s) => s.kind === 'shared');
  if (!spec) return [];
  const arrayMiB = (spec.arrayBytes ?? 0) / MIB;
  const lines = [
    `## ${spec.id}: one large array shared by every task`,
    '',
    `${spec.title}. Peak memory: the peak resident size of the process during the timed run (worker threads included; for Python joblib, the sum over the process and its worker processes), above the resident size before the array was made; the array itself counts. Medians.`,
    '',
    '| System | Time | Speedup | Peak memory above the start | In arrays |',
    '|---|--:|--:|--:|--:|',
  ];
  for (const system of c.systems.filter((s) => s.runs(spec))) {
    const cell = cellStats(c, spec.id, system.id);
    const peak = medianOf(cell.results.map((r) => r.peakAboveMiB));
    lines.push(
      `| ${system.label} | ${timeText(cell)} | ${system.id === 'loop' ? '1x' : ratioText(cell)} | ${peak === undefined ? '—' : `${peak.toFixed(0)} MiB`} | ${peak === undefined ? '—' : `${(peak / arrayMiB).toFixed(2)}x`} |`,
    );
  }
  lines.push(
    '',
    c.python.found
      ? 'Python joblib memory-maps the array to its workers through a file in a temporary folder (/dev/shm when there is one): that copy is in no process\'s resident size, except for the pages the workers read.'
      : '',
    '',
  );
  return lines;
}

function coldSection(c: Comparison): string[] {
  const spec = c.specs.find((s) => s.kind === 'cold');
  if (!spec) return [];
  const lines = [
    '## Cold start',
    '',
    'First call: create the pool of 2 workers and run 2 trivial tasks, in a process where no pool ran yet (imports done). Second call: 2 more tasks on the same pool. Medians (smallest-largest); threads started, read from /proc/self/status (for Python joblib: child processes).',
    '',
    '| System | First call | Second call | Threads started by the first call / the second |',
    '|---|--:|--:|--:|',
  ];
  for (const system of c.systems.filter((s) => s.runs(spec))) {
    const cell = cellStats(c, spec.id, system.id);
    const second = spread(cell.results.map((r) => r.secondMs).filter((v): v is number => v !== undefined));
    const firstThreads = medianOf(cell.results.map((r) => r.threadsFirstCall));
    const secondThreads = cell.results.length > 0 ? Math.max(...cell.results.map((r) => r.threadsSecondCall ?? 0)) : undefined;
    lines.push(
      `| ${system.label} | ${timeText(cell)} | ${second ? `${formatMs(second.median)} (${formatMs(second.min)}-${formatMs(second.max)})` : '—'} | ${firstThreads ?? '—'} / ${secondThreads ?? '—'} |`,
    );
  }
  if (!c.python.found) lines.push(`| Python joblib | skipped | skipped | — |`);
  lines.push('');
  return lines;
}

/** The sweep's points: constant-cost workloads, by task duration. */
function sweepSpecs(c: Comparison): WorkloadSpec[] {
  return c.specs.filter((s) => s.sweepUs !== undefined).sort((a, b) => (a.sweepUs as number) - (b.sweepUs as number));
}

export function speedupSeries(c: Comparison): Series[] {
  const points = sweepSpecs(c);
  return ordered(c)
    .filter((s) => c.systems.some((d) => d.id === s.id))
    .map((system) => ({
      label: system.label,
      color: system.color,
      dashed: system.id === 'joblib-ts-1' || system.id === 'worker-threads',
      points: points.flatMap((spec) => {
        const ratio = cellStats(c, spec.id, system.id).ratio;
        return ratio ? [{ x: spec.sweepUs as number, y: ratio.median }] : [];
      }),
    }));
}

function sweepSection(c: Comparison): string[] {
  const points = sweepSpecs(c);
  if (points.length === 0) return [];
  const cols = ordered(c);
  const lines = [
    '## Speedup against task duration',
    '',
    '![Speedup over the loop against task duration, one line per system](speedup.svg)',
    '',
    `The points of [speedup.svg](speedup.svg): the constant-cost workloads above and ${points.filter((s) => s.sweepOnly).length} more durations. Medians over the repetitions. threads.js's Pool gets the tasks 100 per queue(): a workload of 100 tasks or fewer runs on one of its workers.`,
    '',
    `| Task duration | Workload | Loop | ${cols.map((s) => s.label).join(' | ')} |`,
    `|--:|---|--:|${cols.map(() => '--:').join('|')}|`,
  ];
  for (const spec of points) {
    const us = spec.sweepUs as number;
    const loop = cellStats(c, spec.id, 'loop');
    const cells = cols.map((system) => skippedOr(c, system, spec, () => ratioText(cellStats(c, spec.id, system.id))));
    lines.push(`| ${us >= 1000 ? `${us / 1000} ms` : `${us} µs`} | ${spec.id}: ${spec.title} | ${loop.time ? formatMs(loop.time.median) : '—'} | ${cells.join(' | ')} |`);
  }
  lines.push('');
  return lines;
}

/** The joblib-ts figures of bench/memory.ts, from the comparison's run of it. */
function joblibTsMemory(c: Comparison): MemoryBenchResult | undefined {
  const m = c.measurements.find((x) => x.workload === 'cache' && x.system === 'joblib-ts-auto' && x.result.ok);
  return m?.result.memory as MemoryBenchResult | undefined;
}

function cacheSection(c: Comparison): string[] {
  const spec = c.specs.find((s) => s.kind === 'memory');
  if (!spec) return [];
  const ts = joblibTsMemory(c);
  const pyMeasurement = c.measurements.find((x) => x.workload === spec.id && x.system === 'joblib-py');
  const py = pyMeasurement?.result.ok ? (pyMeasurement.result.memory as PythonMemoryResult) : undefined;
  const pyMissing = !c.python.found ? 'skipped' : pyMeasurement ? 'failed' : '—';
  const us = (v: number | undefined) => (v === undefined ? undefined : `${v.toFixed(1)} µs`);
  const rate = (v: number | undefined) => (v === undefined ? undefined : `${Math.round(v)} MiB/s`);
  const rates = (r: Record<string, number> | undefined) =>
    r === undefined ? undefined : Object.entries(r).map(([name, v]) => `${name} ${Math.round(v)}`).join(', ') + ' MiB/s';
  const row = (label: string, a: string | undefined, b: string | undefined) =>
    `| ${label} | ${a ?? (ts ? '—' : 'failed')} | ${b ?? (py ? '—' : pyMissing)} |`;
  const lines = [
    '## Cache and hash: joblib-ts and Python joblib',
    '',
    'The figures of bench/memory.ts for joblib-ts, and the same measures of joblib.Memory and joblib.hash (medians over the samples; the peers have no cache). joblib.Memory keeps no results in memory: every hit reads its file.',
    '',
    '| Measure | joblib-ts | Python joblib |',
    '|---|--:|--:|',
    row('Hit in the cache that stored it', ts && `${us(ts.lruHitUs)} (in-memory LRU, warm; first pass ${us(ts.lruFirstPassUs)})`, py && `${us(py.hitUs)} (from its file)`),
    row('Hit in a freshly opened cache', ts && `${us(ts.sqliteHitUs)} (SQLite)`, py && `${us(py.freshHitUs)} (from its file)`),
    row(
      "Of which SQLite's read alone (joblib-ts: the store's prepared statement on its reading connection, after a pause / back to back)",
      ts && `${us(ts.sqliteReadUs.afterPause)} after ${ts.sqliteReadUs.pauseUs} µs / ${us(ts.sqliteReadUs.backToBack)}`,
      '—',
    ),
    row('Time a miss adds to the computation', us(ts?.missOverheadUs), us(py?.missOverheadUs)),
    row('Hash of a 64 MiB Float64Array (numpy array)', rate(ts?.hashMibPerSec), rate(py?.hashMibPerSec)),
    row('Raw digests of the same bytes (node:crypto, hashlib)', rates(ts?.cryptoMibPerSec), rates(py?.cryptoMibPerSec)),
    row(
      `Parallel(2) over ${(ts?.sweepTasks ?? py?.sweepTasks ?? 10_000).toLocaleString('en')} cached tasks, first run`,
      ts && formatMs(ts.sweepFirstMs),
      py && formatMs(py.sweepFirstMs),
    ),
    row('The same call again, every task from the cache', ts && formatMs(ts.sweepRerunMs), py && formatMs(py.sweepRerunMs)),
    '',
  ];
  return lines;
}

