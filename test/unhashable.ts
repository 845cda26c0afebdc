import assert from 'node:assert/strict';
import { isJoblibError, type UnhashableError } from '../dist/errors.js';

/** Runs `fn`, which must throw ERR_UNHASHABLE, and returns the error. */
export function unhashable(fn: () => unknown): UnhashableError {
  try {
    fn();
  } catch (error) {
    assert.ok(isJoblibError(error, 'ERR_UNHASHABLE'), `expected ERR_UNHASHABLE, got ${String(error)}`);
    return error as UnhashableError;
  }
  assert.fail('expected an UnhashableError, but hashing succeeded');
}
