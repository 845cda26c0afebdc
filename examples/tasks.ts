/**
 * Task functions that need imports. A function that reads anything besides its parameters and the
 * globals cannot travel as source, so it is declared with task(import.meta.url, ...) here, in a module
 * without side effects: each worker thread imports this module once and finds the function by name.
 */
import { createHash } from 'node:crypto';
import { task } from 'joblib-ts';

/** Hashes `text` with SHA-256, `rounds` times over (each round hashes the previous hex digest). */
export const stretch = task(import.meta.url, function stretch(text: string, rounds: number): string {
  let digest = text;
  for (let i = 0; i < rounds; i++) digest = createHash('sha256').update(digest).digest('hex');
  return digest;
});
