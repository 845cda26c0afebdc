/**
 * The master side of threads.js, loaded when the first worker starts (importing it costs ~30 ms,
 * which then overlaps the worker's own start), and without the signal handlers it installs on
 * import: those answer Ctrl-C and SIGTERM by terminating workers and exiting with status 0, which
 * hides the interruption from the shell. Worker threads live inside this process, so the default
 * signal behaviour (exit with status 130 on Ctrl-C) already leaves no worker behind.
 */
type Threads = typeof import('threads');

let loading: Promise<Pick<Threads, 'spawn' | 'Transfer'>> | undefined;

/** threads.js's `spawn` and `Transfer`, loaded once. */
export function loadThreads(): Promise<Pick<Threads, 'spawn' | 'Transfer'>> {
  loading ??= import('threads').then(({ spawn, Transfer }) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      for (const listener of process.listeners(signal)) {
        if (String(listener).includes('terminateWorkersAndMaster')) process.off(signal, listener);
      }
    }
    return { spawn, Transfer };
  });
  return loading;
}
