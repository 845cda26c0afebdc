/**
 * Errors raised by joblib-ts itself. Each carries a stable string `code` (match on it rather than on
 * the message or on `instanceof`, which fails across two copies of the package), the index of the
 * task concerned where there is one, and the underlying `cause` where there is one.
 *
 * A task's own error is never wrapped in one of these: it reaches the caller as itself.
 */

/** The stable codes of joblib-ts errors. */
export type JoblibErrorCode =
  | 'ERR_INVALID_OPTION'
  | 'ERR_INVALID_TASK'
  | 'ERR_NOT_SHIPPABLE'
  | 'ERR_TASK_TIMEOUT'
  | 'ERR_WORKER_CRASHED'
  | 'ERR_CLOSED'
  | 'ERR_UNHASHABLE'
  | 'ERR_CACHE_UNWRITABLE'
  | 'ERR_NOT_IN_CACHE';

/** Options shared by the error constructors. */
export interface JoblibErrorOptions {
  /** The error that led to this one. */
  cause?: unknown;
  /** Position of the task concerned in the input, counting from 0. */
  taskIndex?: number;
}

/** Base class of every error joblib-ts raises on its own account. */
export class JoblibError extends Error {
  /** Stable identifier of the kind of failure. */
  readonly code: JoblibErrorCode;
  /** Position in the input of the task concerned, when one is. */
  // `declare`: no class field, so that the property exists only when there is an index.
  declare readonly taskIndex?: number;

  constructor(code: JoblibErrorCode, message: string, options: JoblibErrorOptions = {}) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined);
    this.code = code;
    if (options.taskIndex !== undefined) Object.defineProperty(this, 'taskIndex', { value: options.taskIndex, enumerable: true });
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/** An option passed to `Parallel(...)` has the wrong type or value (`ERR_INVALID_OPTION`). */
export class InvalidOptionError extends JoblibError {
  constructor(message: string, options?: JoblibErrorOptions) {
    super('ERR_INVALID_OPTION', message, options);
  }
}

/** An input item is not a task made by `delayed(fn)(...args)`, or `task()` was misused (`ERR_INVALID_TASK`). */
export class InvalidTaskError extends JoblibError {
  constructor(message: string, options?: JoblibErrorOptions) {
    super('ERR_INVALID_TASK', message, options);
  }
}

/** A function cannot be sent to a worker thread (`ERR_NOT_SHIPPABLE`). Nothing has run when it is raised. */
export class NotShippableError extends JoblibError {
  /** Identifiers the function reads that a worker could not provide. */
  readonly identifiers: readonly string[];

  constructor(message: string, identifiers: readonly string[] = [], options?: JoblibErrorOptions) {
    super('ERR_NOT_SHIPPABLE', message, options);
    this.identifiers = Object.freeze([...identifiers]);
  }
}

/** A task ran longer than the `timeout` option allows (`ERR_TASK_TIMEOUT`). */
export class TaskTimeoutError extends JoblibError {
  /** The limit that was exceeded, in milliseconds. */
  readonly timeoutMs: number;

  constructor(message: string, timeoutMs: number, options?: JoblibErrorOptions) {
    super('ERR_TASK_TIMEOUT', message, options);
    this.timeoutMs = timeoutMs;
  }
}

/** A worker thread died while running a task (`ERR_WORKER_CRASHED`); the worker has been replaced. */
export class WorkerCrashedError extends JoblibError {
  /** The worker's exit code, when it exited rather than failed to start. */
  declare readonly exitCode?: number;

  constructor(message: string, options: JoblibErrorOptions & { exitCode?: number } = {}) {
    super('ERR_WORKER_CRASHED', message, options);
    if (options.exitCode !== undefined) Object.defineProperty(this, 'exitCode', { value: options.exitCode, enumerable: true });
  }
}

/** The runner was closed with `close()` (or left its `await using` scope) (`ERR_CLOSED`). */
export class ClosedError extends JoblibError {
  constructor(message: string, options?: JoblibErrorOptions) {
    super('ERR_CLOSED', message, options);
  }
}

/** A value cannot be hashed into a cache key: a function, a symbol, a cycle... (`ERR_UNHASHABLE`). */
export class UnhashableError extends JoblibError {
  /** Where the value sits in the arguments, such as `args[1].model.fn`. */
  readonly path: string;

  constructor(message: string, path: string, options?: JoblibErrorOptions) {
    super('ERR_UNHASHABLE', message, options);
    this.path = path;
  }
}

/** The cache location cannot be created or written (`ERR_CACHE_UNWRITABLE`). */
export class CacheUnwritableError extends JoblibError {
  /** The path that could not be written. */
  readonly location: string;

  constructor(message: string, location: string, options?: JoblibErrorOptions) {
    super('ERR_CACHE_UNWRITABLE', message, options);
    this.location = location;
  }
}

/**
 * Whether `error` is a joblib-ts error, optionally of the given code. Works across copies of the
 * package, because it looks at the `code` and not at the class.
 */
export function isJoblibError(error: unknown, code?: JoblibErrorCode): error is JoblibError {
  if (typeof error !== 'object' || error === null) return false;
  const actual = (error as { code?: unknown }).code;
  return code === undefined ? JOBLIB_CODES.has(actual as JoblibErrorCode) : actual === code;
}

const JOBLIB_CODES: ReadonlySet<JoblibErrorCode> = new Set<JoblibErrorCode>([
  'ERR_INVALID_OPTION',
  'ERR_INVALID_TASK',
  'ERR_NOT_SHIPPABLE',
  'ERR_TASK_TIMEOUT',
  'ERR_WORKER_CRASHED',
  'ERR_CLOSED',
  'ERR_UNHASHABLE',
  'ERR_CACHE_UNWRITABLE',
  'ERR_NOT_IN_CACHE',
]);

/** Describes a received value for error messages: `` `0` (number) ``, `` `"x"` (string) ``. */
export function describeValue(value: unknown): string {
  if (value === null) return '`null`';
  if (value === undefined) return '`undefined`';
  if (typeof value === 'function') return `a function${value.name ? ` (${value.name})` : ''}`;
  if (typeof value === 'string') return `\`${JSON.stringify(value)}\` (string)`;
  if (typeof value === 'bigint') return `\`${value}n\` (bigint)`;
  if (typeof value === 'symbol') return `\`${String(value)}\` (symbol)`;
  if (typeof value === 'object') {
    if (Array.isArray(value)) return `an array of length ${value.length}`;
    const ctor = (value as { constructor?: { name?: string } }).constructor?.name;
    return ctor && ctor !== 'Object' ? `an instance of ${ctor}` : 'an object';
  }
  return `\`${String(value)}\` (${typeof value})`;
}
