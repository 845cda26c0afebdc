// threads.js's worker: runs a chunk of tasks of one function of bench/tasks.mjs and returns their results.
import { expose } from 'threads/worker';
import * as tasks from '../tasks.mjs';

expose({
  runChunk(task, argsList) {
    const fn = tasks[task];
    return argsList.map((args) => fn(...args));
  },
});
