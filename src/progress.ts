/**
 * Progress: one stream of updates from the call, three consumers of it: the `onProgress` callback,
 * joblib-style `verbose` lines, and a progress bar. Printing stays out of the scheduling code.
 */
import { performance } from 'node:perf_hooks';
import type { ProgressEvent } from './options.js';

/** Where progress text goes (stderr by default). */
export interface ProgressOutput {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface ProgressSettings {
  readonly nJobs: number;
  readonly verbose: number;
  readonly progress: boolean;
  readonly onProgress: ((event: ProgressEvent) => void) | undefined;
  readonly output?: ProgressOutput;
}

/** Minimum time between two redraws of the bar, in ms. */
const BAR_REDRAW_MS = 100;
const BAR_WIDTH = 30;

export class ProgressReporter {
  private readonly started = performance.now();
  private readonly output: ProgressOutput;
  private readonly drawBar: boolean;
  private lastBarDraw = -Infinity;
  private lastVerboseBucket = 0;
  private finished = false;

  constructor(private readonly settings: ProgressSettings) {
    this.output = settings.output ?? process.stderr;
    this.drawBar = settings.progress && this.output.isTTY === true;
  }

  /** Whether updates are wanted at all (lets the caller skip the bookkeeping). */
  get active(): boolean {
    return this.settings.verbose > 0 || this.drawBar || this.settings.onProgress !== undefined;
  }

  update(completed: number, total: number | undefined, batchSize: number): void {
    if (!this.active) return;
    const elapsedMs = performance.now() - this.started;
    this.settings.onProgress?.(
      total === undefined ? { completed, elapsedMs, batchSize } : { completed, total, elapsedMs, batchSize },
    );
    const done = total !== undefined && completed >= total;
    if (this.settings.verbose > 0 && !done && this.verboseDue(completed, total)) {
      this.output.write(`${this.prefix()}Done ${pad(completed)}${total === undefined ? ' tasks' : ` out of ${pad(total)}`} | elapsed: ${seconds(elapsedMs)}\n`);
    }
    if (this.drawBar && (done || elapsedMs - this.lastBarDraw >= BAR_REDRAW_MS)) {
      this.lastBarDraw = elapsedMs;
      this.output.write(`\r${bar(completed, total, elapsedMs)}`);
    }
  }

  /** The call ended (successfully or not) after `completed` tasks. */
  finish(completed: number, total: number | undefined, failed: boolean): void {
    if (this.finished) return;
    this.finished = true;
    const elapsedMs = performance.now() - this.started;
    if (this.drawBar) this.output.write(`\r${bar(completed, total, elapsedMs)}\n`);
    if (this.settings.verbose > 0) {
      const count = total === undefined ? `${pad(completed)} tasks` : `${pad(completed)} out of ${pad(total)}`;
      this.output.write(`${this.prefix()}Done ${count} | elapsed: ${seconds(elapsedMs)} ${failed ? 'failed' : 'finished'}\n`);
    }
  }

  private prefix(): string {
    return `[Parallel(nJobs=${this.settings.nJobs})]: `;
  }

  /**
   * joblib's pacing: above 10, every update; with a known total, about `verbose` lines spread over
   * the run; otherwise at completed counts that grow quadratically, sooner for larger `verbose`.
   */
  private verboseDue(completed: number, total: number | undefined): boolean {
    const { verbose } = this.settings;
    if (verbose > 10) return true;
    const bucket =
      total !== undefined
        ? Math.floor(completed / (Math.floor(total / verbose) + 1))
        : Math.floor(Math.sqrt(completed / (0.5 * (11 - verbose) ** 2)));
    if (bucket <= this.lastVerboseBucket) return false;
    this.lastVerboseBucket = bucket;
    return true;
  }
}

function bar(completed: number, total: number | undefined, elapsedMs: number): string {
  if (total === undefined || total === 0) return `${completed} done | ${seconds(elapsedMs)}`;
  const filled = Math.round((completed / total) * BAR_WIDTH);
  const percent = Math.floor((completed / total) * 100);
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${completed}/${total} ${String(percent).padStart(3)}% | ${seconds(elapsedMs)}`;
}

function pad(n: number): string {
  return String(n).padStart(3);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
