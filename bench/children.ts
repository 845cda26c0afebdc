/**
 * The child processes of the comparison: one per system (and repetition), started with its adapter
 * of bench/systems/, serving the jobs the runner writes on its stdin, one JSON line each (see
 * bench/systems/harness.ts), and the Python that runs Python joblib's adapter.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { SystemDef, SystemId } from './compare.js';
import type { Job, JobResult } from './systems/harness.js';

export type PythonStatus =
  | { readonly found: true; readonly command: string; readonly python: string; readonly joblib: string; readonly numpy: string | null }
  | { readonly found: false; readonly reason: string };

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * Finds a Python with joblib: $BENCH_PYTHON, then `python3`, then Debian's /usr/bin/python3
 * (`apt-get install python3-joblib`). BENCH_PYTHON=none skips Python joblib.
 */
export function findPython(): PythonStatus {
  if (process.env.BENCH_PYTHON === 'none') return { found: false, reason: 'BENCH_PYTHON=none' };
  const candidates = [...new Set([process.env.BENCH_PYTHON, 'python3', '/usr/bin/python3'].filter((c): c is string => !!c))];
  for (const command of candidates) {
    const probe = spawnSync(
      command,
      ['-c', "import json, sys, joblib\ntry:\n import numpy; n = numpy.__version__\nexcept ImportError:\n n = None\nprint(json.dumps([sys.version.split()[0], joblib.__version__, n]))"],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (probe.status === 0) {
      const [python, joblib, numpy] = JSON.parse(probe.stdout.trim()) as [string, string, string | null];
      return { found: true, command, python, joblib, numpy };
    }
  }
  return { found: false, reason: `no Python with joblib (tried ${candidates.join(', ')}; \`python3 -c 'import joblib'\` fails)` };
}

/** A child process serving jobs of one system. */
export class Child {
  private readonly process: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterator<string>;
  private stderr = '';
  readonly ready: Promise<void>;

  constructor(system: SystemDef, python: PythonStatus) {
    const script = `${HERE}systems/${system.file}`;
    this.process =
      system.runtime === 'python'
        ? spawn(python.found ? python.command : 'python3', ['-u', script], { cwd: ROOT })
        : spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT });
    this.process.stderr.setEncoding('utf8');
    this.process.stderr.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-4000);
    });
    this.process.stdin.on('error', () => undefined);
    this.lines = createInterface({ input: this.process.stdout, crlfDelay: Infinity })[Symbol.asyncIterator]();
    this.ready = this.next('@@ready').then(() => undefined);
    this.ready.catch(() => undefined); // a process that dies before it is ready fails its first job instead
  }

  private async next(prefix: string): Promise<string> {
    for (;;) {
      const line = await this.lines.next();
      if (line.done) throw new Error(`the child process ended${this.stderr ? `: ${this.stderr.trim().split('\n').slice(-6).join('\n')}` : ''}`);
      if (line.value.startsWith(prefix)) return line.value.slice(prefix.length).trim();
    }
  }

  async request(job: Job, timeoutMs: number): Promise<JobResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.process.kill('SIGKILL');
        reject(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s: killed`));
      }, timeoutMs);
    });
    try {
      await Promise.race([this.ready, timeout]);
      this.process.stdin.write(`${JSON.stringify(job)}\n`);
      return JSON.parse(await Promise.race([this.next('@@result '), timeout])) as JobResult;
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether the process still runs (a crashed or killed one is replaced for the next job). */
  get alive(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null && !this.process.killed;
  }

  /** Ends stdin and waits for the process to exit (killing it after 10 s). */
  async close(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
    this.process.stdin.end();
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Starts a process for each system and waits until all are ready. */
export async function startAll(systems: readonly SystemDef[], into: Map<SystemId, Child>, python: PythonStatus): Promise<void> {
  for (const system of systems) if (!into.has(system.id)) into.set(system.id, new Child(system, python));
  await Promise.all([...into.values()].map((child) => child.ready.catch(() => undefined)));
}
