/**
 * The master side of threads.js, loaded when the first worker starts, and without the signal
 * handlers its package entry installs: those answer Ctrl-C and SIGTERM by terminating workers and
 * exiting with status 0, which hides the interruption from the shell. Worker threads live inside
 * this process, so the default signal behaviour (exit with status 130 on Ctrl-C) already leaves no
 * worker behind.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

type Threads = typeof import('threads');
type MasterApi = Pick<Threads, 'spawn' | 'Transfer'>;

let loading: Promise<MasterApi> | undefined;

/** threads.js's `spawn` and `Transfer`, loaded once. */
export function loadThreads(): Promise<MasterApi> {
  loading ??= Promise.resolve().then(() => loadModules() ?? loadPackageEntry());
  return loading;
}

/**
 * Only the two modules that define `spawn` and `Transfer`: the package entry also loads the pool
 * and the worker implementations, twice the code, and the first call waits for it (bench cold start:
 * 14 ms against 20 ms, on a CPU the booting workers need too). Undefined when the files are not
 * where threads.js 1.x puts them.
 */
function loadModules(): MasterApi | undefined {
  try {
    const require = createRequire(import.meta.url);
    const dist = dirname(require.resolve('threads'));
    const { spawn } = require(join(dist, 'master', 'spawn.js')) as Pick<Threads, 'spawn'>;
    const { Transfer } = require(join(dist, 'transferable.js')) as Pick<Threads, 'Transfer'>;
    return typeof spawn === 'function' && typeof Transfer === 'function' ? { spawn, Transfer } : undefined;
  } catch {
    return undefined;
  }
}

async function loadPackageEntry(): Promise<MasterApi> {
  const { spawn, Transfer } = await import('threads');
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    for (const listener of process.listeners(signal)) {
      if (String(listener).includes('terminateWorkersAndMaster')) process.off(signal, listener);
    }
  }
  return { spawn, Transfer };
}
