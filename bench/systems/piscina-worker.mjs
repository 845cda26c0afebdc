// piscina's worker: calls the task function the pool was made for (workerData.task) with the task's arguments.
import { workerData } from 'piscina';
import * as tasks from '../tasks.mjs';

const fn = tasks[workerData.task];

export default function run(args) {
  return fn(...args);
}
