// A bare worker thread: each message is a list of tasks of one function of bench/tasks.mjs; the reply, their results.
import { parentPort } from 'node:worker_threads';
import * as tasks from '../tasks.mjs';

parentPort.on('message', ({ task, argsList }) => {
  const fn = tasks[task];
  parentPort.postMessage(argsList.map((args) => fn(...args)));
});
