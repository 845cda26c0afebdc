/**
 * `joblib-ts/testing`: property tests that a parallel loop returns exactly what the plain loop
 * returns. This entry imports fast-check (an optional peer dependency); the main entry does not.
 *
 * @example
 * import fc from 'fast-check';
 * import { checkParallelEquivalence } from 'joblib-ts/testing';
 * import { simulate } from './tasks.js';
 *
 * await checkParallelEquivalence(simulate, fc.tuple(fc.integer(), fc.double({ noNaN: true })), { numRuns: 50 });
 *
 * @packageDocumentation
 */
export {
  checkParallelEquivalence,
  parallelEquivalenceProperty,
  ParallelEquivalenceError,
} from './property.js';
export type {
  CheckParallelEquivalenceOptions,
  ParallelEquivalenceOptions,
  EquivalenceCase,
  EquivalenceRun,
  GeneratedParallelOptions,
} from './property.js';
export { deepEqual } from './equality.js';
