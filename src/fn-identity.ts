/**
 * Who a cached function is, for the cache: a slot (where it lives and its name, stable across edits)
 * and a version (a hash of its source, or the user's `version`). Entries of an older version of the
 * same slot are dropped the first time the new version is called.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { moduleRefOf, type AnyFunction } from './delayed.js';
import { HASH_FORMAT_VERSION } from './hash.js';

/** A cached function's identity. */
export interface FunctionIdentity {
  /** The function's name, for people (`anonymous` when it has none). */
  readonly name: string;
  /** Module and name: what stays the same when the function's code changes. */
  readonly slot: string;
  /** Slot and version: what changes with the code (or with the `version` option), or with the format of cache keys. */
  readonly id: string;
}

/**
 * @param definedIn the file that called `memory.cache(fn)`, standing in for the module of a function
 *   not declared with `task()`
 */
export function functionIdentity(fn: AnyFunction, version: string | undefined, definedIn: string): FunctionIdentity {
  const name = fn.name || 'anonymous';
  const moduleRef = moduleRefOf(fn);
  const slot = moduleRef ? `${moduleRef.url}#${moduleRef.name}` : `${definedIn}#${name}`;
  const revision = version !== undefined ? `v:${version}` : sourceDigest(Function.prototype.toString.call(fn));
  // The format of the keys is part of the version: entries keyed in an older format can never be
  // hit again, and as entries of another version they are dropped like those of an edited function.
  return { name, slot, id: `${slot}@k${HASH_FORMAT_VERSION}:${revision}` };
}

/** The slot part of an identity string. */
export function slotOf(id: string): string {
  const at = id.lastIndexOf('@');
  return at < 0 ? id : id.slice(0, at);
}

function sourceDigest(source: string): string {
  return createHash('sha1').update(source).digest('hex').slice(0, 16);
}

/**
 * The file of the code that called `caller`, from the stack. Used as the module of plain functions,
 * so that two functions named `fit` in two scripts do not share (and drop) each other's entries.
 */
export function callerFile(caller: AnyFunction): string {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, caller);
  const frame = holder.stack?.split('\n')[1] ?? '';
  const match = /\(?((?:file:\/\/)?\/[^():]+|[A-Za-z]:\\[^():]+)(?::\d+)*\)?\s*$/.exec(frame.trim());
  const location = match?.[1];
  if (!location) return 'unknown';
  return location.startsWith('file:') ? fileURLToPath(location) : location;
}
