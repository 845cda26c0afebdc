// Running tasks in parallel
export { Parallel } from './parallel.js';
export type { ParallelRunner, ParallelOutput, ParallelItem, TaskInput, AnyTask } from './parallel.js';
export { cpuCount } from './options.js';
export type { ParallelOptions, BackendName, ReturnAs, ErrorMode, ProgressEvent } from './options.js';

// Describing tasks
export { delayed, task, isTask } from './delayed.js';
export type { Task, TaskResult, AnyFunction, ModuleRef } from './delayed.js';

// Errors
export {
  JoblibError,
  InvalidOptionError,
  InvalidTaskError,
  NotShippableError,
  TaskTimeoutError,
  WorkerCrashedError,
  ClosedError,
  UnhashableError,
  CacheUnwritableError,
  isJoblibError,
} from './errors.js';
export type { JoblibErrorCode, JoblibErrorOptions } from './errors.js';

// Caching results
export { Memory } from './memory.js';
export type { MemoryOptions, ReduceSizeLimits, CacheEntryInfo } from './memory.js';
export type { CacheOptions, CachedFunction, EntryMetadata, ShelvedResult } from './cached-function.js';
export { hash, hashArguments } from './hash.js';
export type { CacheStore, StoreWarning } from './store.js';
