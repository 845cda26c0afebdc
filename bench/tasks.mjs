/**
 * The task bodies of the comparison (bench/compare.ts), written once in plain JavaScript so that
 * every JavaScript system runs the same code: the loop and joblib-ts import them (joblib-ts ships
 * them to its workers as source: each reads only its parameters and globals), and the peers' worker
 * files (bench/systems/*-worker.mjs) import this module. bench/systems/python-joblib.py has the Python twins.
 *
 * Every body stays within exact arithmetic: int32 bit operations only in `spin` (an int32 overflow
 * makes V8 deoptimise some worker isolates for good), and sums of small integers below 2^53 elsewhere,
 * so that each system's results can be checked exactly against the loop's.
 */

/** Busy work: `iterations` rounds of xorshift32, in bit operations only (never leaves int32). */
export function spin(iterations, seed) {
  let x = seed | 0 || 1;
  for (let k = 0; k < iterations; k++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
  }
  return x;
}

/** The sum of a Float64Array (W5). */
export function arraySum(values) {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum;
}

/**
 * Reads slice `index` of `count` equal slices of `values`, `passes` times (W6): the sum over the
 * passes p = 1..passes of p times each element.
 */
export function sliceSum(values, index, count, passes) {
  const size = Math.floor(values.length / count);
  const start = index * size;
  const end = index === count - 1 ? values.length : start + size;
  let total = 0;
  for (let p = 1; p <= passes; p++) {
    let sum = 0;
    for (let i = start; i < end; i++) sum += values[i] * p;
    total += sum;
  }
  return total;
}

/** Whether n equals the sum of its proper divisors (as in examples/perfect-numbers.ts). */
export function isPerfect(n) {
  let sum = 0;
  for (let d = 1; d < n; d++) {
    if (n % d === 0) sum += d;
  }
  return sum === n;
}

/** A trivial task: the cold-start measurement. */
export function noop(value) {
  return value;
}
