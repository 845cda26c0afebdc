/**
 * The master side of threads.js, loaded when the first worker starts, and without the signal
 * handlers its package entry installs: those answer Ctrl-C and SIGTERM by terminating workers and
 * exiting with status 0, which hides the interruption from the shell. Worker threads live inside
 * this process, so the default signal behaviour (exit with status 130 on Ctrl-C) already leaves no
 * worker behind.
 */
import { createRequire } from 'node:module';

type Threads = typeof import('threads');
type MasterApi = Pick<Threads, 'spawn' | 'Transfer'>;

let loading: Promise<MasterApi> | undefined;

/** threads.js's `spawn` and `Transfer`, loaded once. */
export function loadThreads(): Promise<MasterApi> {
  loading ??= Promise.resolve().then(() => loadModules() ?? loadPackageEntry());
  return loading;
}

/**
 * Only the two modules that define `spawn` and `Transfer`, bundled into one file by the build
 * (`src/threads-master-entry.cjs`): the package entry also loads the pool and the worker
 * implementations, twice the code, and the first call waits for it on a CPU the booting workers need
 * too (their 30 files load in about 14 ms, the bundle in 4-6 ms). Undefined when the bundle is
 * missing (a build that skipped it).
 */
function loadModules(): MasterApi | undefined {
  try {
    const require = createRequire(import.meta.url);
    const { spawn, Transfer } = require('./threads-master.cjs') as MasterApi;
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
