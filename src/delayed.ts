/**
 * The task DSL: `delayed(fn)(...args)` captures a call as frozen plain data and runs nothing;
 * `task(import.meta.url, fn)` marks a function that workers import from its module instead of
 * receiving its source.
 */
import { isMainThread } from 'node:worker_threads';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { realpathSync } from 'node:fs';
import { InvalidTaskError, describeValue } from './errors.js';
import { MODULE_REF } from './protocol.js';

/** Any function that can be a task. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyFunction = (...args: any[]) => unknown;

/**
 * One call to run later: the function and its arguments, frozen. `R` is what the call resolves to.
 *
 * @example
 * const t = delayed(Math.hypot)(3, 4); // Task<number, [number, number]>; nothing has run
 */
export interface Task<R = unknown, A extends readonly unknown[] = readonly unknown[]> {
  /** The function to call. */
  readonly fn: (...args: A) => R | PromiseLike<R>;
  /** The arguments to call it with. */
  readonly args: Readonly<A>;
}

/** The result type of a task, or the union of result types for a union of tasks. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TaskResult<T> = T extends Task<infer R, any> ? R : never;

/** Registered symbol so that tasks made by another copy of the package are recognised too. */
const TASK_BRAND: unique symbol = Symbol.for('joblib-ts.task') as never;

/** How a worker finds a function declared with `task()`. */
export interface ModuleRef {
  /** `file:` URL of the module that exports the function. */
  readonly url: string;
  /** The function's name, used to find it among the module's exports. */
  readonly name: string;
}

/**
 * Wraps `fn` so that calling the result records a {@link Task} instead of running `fn`.
 *
 * @example
 * const tasks = [1, 2, 3].map((x) => delayed(square)(x));
 * const squares = await Parallel(2)(tasks); // number[]
 */
export function delayed<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => Task<Awaited<R>, A> {
  if (typeof fn !== 'function') {
    throw new InvalidTaskError(`Expected delayed() to receive a function, got ${describeValue(fn)}`);
  }
  return (...args: A) => new TaskDescriptor(fn, Object.freeze(args)) as unknown as Task<Awaited<R>, A>;
}

/**
 * The frozen record `delayed` returns. A class rather than an object literal because building
 * 100,000 of them is part of every call's cost: instances of one class share one shape, and
 * freezing them stays on V8's fast path (about 5x faster than a literal branded per instance).
 */
class TaskDescriptor {
  constructor(
    readonly fn: AnyFunction,
    readonly args: readonly unknown[],
  ) {
    Object.freeze(this);
  }
}
// The brand lives on the prototype, under a registered symbol: tasks made by another copy of the
// package are recognised too.
Object.defineProperty(TaskDescriptor.prototype, TASK_BRAND, { value: true });

/** Whether `value` is a task made by {@link delayed}. */
export function isTask(value: unknown): value is Task {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[TASK_BRAND] === true &&
    typeof (value as Task).fn === 'function' &&
    Array.isArray((value as Task).args)
  );
}

/**
 * Declares a function that worker threads import from its module, for functions that need imports or
 * module state. The module must have no side effects at import time (each worker imports it once),
 * so it cannot be the program's entry script.
 *
 * @param moduleUrl the module's `import.meta.url`
 * @param fn a named function that the module exports (the export may have another name)
 * @returns `fn` itself, marked; it can be called directly as before
 *
 * @example
 * // tasks.ts
 * import { fit as fitModel } from './model.js';
 * export const fit = task(import.meta.url, function fit(p: Params) { return fitModel(p); });
 */
export function task<F extends AnyFunction>(moduleUrl: string | URL, fn: F): F {
  const url = toModuleUrl(moduleUrl);
  if (typeof fn !== 'function') {
    throw new InvalidTaskError(`Expected task() to receive a function as its second argument, got ${describeValue(fn)}`);
  }
  if (!fn.name || fn.name.startsWith('bound ')) {
    throw new InvalidTaskError(
      `Expected task() to receive a named function (workers find it by its name), got ${
        fn.name ? `a bound function (${fn.name})` : 'an anonymous function'
      }: write task(import.meta.url, function myTask(...) { ... })`,
    );
  }
  if (isEntryScript(url)) {
    throw new InvalidTaskError(
      `task() was given the URL of the program's entry script (${url}): every worker imports that module, ` +
        'so it would run the whole program again. Move the function into a module without side effects and import it.',
    );
  }
  const ref: ModuleRef = Object.freeze({ url, name: fn.name });
  Object.defineProperty(fn, MODULE_REF, { value: ref });
  return fn;
}

/** The module reference recorded by {@link task}, if any. */
export function moduleRefOf(fn: AnyFunction): ModuleRef | undefined {
  return (fn as unknown as Record<symbol, ModuleRef | undefined>)[MODULE_REF];
}

function toModuleUrl(moduleUrl: string | URL): string {
  const text = moduleUrl instanceof URL ? moduleUrl.href : moduleUrl;
  if (typeof text !== 'string' || !text.startsWith('file:')) {
    throw new InvalidTaskError(
      `Expected task() to receive import.meta.url (a file: URL) as its first argument, got ${describeValue(moduleUrl)}`,
    );
  }
  return text;
}

function isEntryScript(url: string): boolean {
  const entry = process.argv[1];
  if (!isMainThread || !entry) return false;
  try {
    return realpathSync(fileURLToPath(url)) === realpathSync(entry) || pathToFileURL(entry).href === url;
  } catch {
    return false;
  }
}
