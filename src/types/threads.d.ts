// threads.js ships type declarations only for CommonJS resolution; these declare the part of its
// ES module entries that joblib-ts uses.
declare module 'threads' {
  interface SpawnOptions {
    timeout?: number;
  }
  export function spawn<T = unknown>(worker: unknown, options?: SpawnOptions): Promise<T>;
  export function Transfer<T>(payload: T, transferables: readonly ArrayBuffer[]): T;
  /** threads.js's own pool (used by the benchmark as a peer, not by joblib-ts). */
  export interface PoolInstance<T> {
    queue<R>(task: (thread: T) => Promise<R>): Promise<R>;
    completed(allowResolvingImmediately?: boolean): Promise<unknown>;
    terminate(force?: boolean): Promise<void>;
  }
  export function Pool<T>(spawnWorker: () => Promise<T>, options?: number | { size?: number; concurrency?: number }): PoolInstance<T>;
  export class Worker {
    constructor(path: string, options?: Record<string, unknown>);
  }
}

declare module 'threads/worker' {
  export function expose(api: Record<string, (...args: never[]) => unknown> | ((...args: never[]) => unknown)): void;
  export function Transfer<T>(payload: T, transferables: readonly ArrayBuffer[]): T;
}
