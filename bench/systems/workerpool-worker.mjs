// workerpool's worker: every task function of bench/tasks.mjs, by name.
import workerpool from 'workerpool';
import * as tasks from '../tasks.mjs';

workerpool.worker({ ...tasks });
