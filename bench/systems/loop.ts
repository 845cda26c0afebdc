/** The sequential loop: every task called in turn in the child's main thread, the baseline of every ratio. */
import * as tasks from '../tasks.mjs';
import { serve } from './harness.js';

type AnyTask = (...args: unknown[]) => unknown;

await serve({
  open(task) {
    const fn = tasks[task] as AnyTask;
    return {
      run: async (argsList) => argsList.map((args) => fn(...args)),
      close: async () => undefined,
    };
  },
});
