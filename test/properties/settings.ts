import fc from 'fast-check';

/**
 * fast-check settings shared by the property tests. A failure's report carries the seed and path
 * that replay it: run again with FC_SEED=<seed> (and FC_PATH=<path>) to reproduce.
 */
export function propertySettings(numRuns: number): fc.Parameters<unknown> {
  const seed = process.env['FC_SEED'];
  const path = process.env['FC_PATH'];
  return {
    numRuns,
    ...(seed !== undefined ? { seed: Number(seed) } : {}),
    ...(path !== undefined ? { path } : {}),
  };
}
