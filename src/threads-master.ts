/**
 * The master side of threads.js, without the signal handlers it installs on import: those answer
 * Ctrl-C and SIGTERM by terminating workers and exiting with status 0, which hides the interruption
 * from the shell. Worker threads live inside this process, so the default signal behaviour (exit
 * with status 130 on Ctrl-C) already leaves no worker behind.
 */
import { spawn, Thread, Transfer } from 'threads';

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  for (const listener of process.listeners(signal)) {
    if (String(listener).includes('terminateWorkersAndMaster')) process.off(signal, listener);
  }
}

export { spawn, Thread, Transfer };
