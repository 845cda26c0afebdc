/**
 * Worker side of fn-ref.ts: turns a {@link FnRef} back into a callable, once per worker.
 */
import { workerData } from 'node:worker_threads';
import { NotShippableError } from './errors.js';
import type { FnRef } from './fn-ref.js';
import { MODULE_REF, type PoolWorkerData, type ShippedFn } from './protocol.js';

type Callable = (...args: unknown[]) => unknown;

const loaded = new Map<number, Callable | Promise<Callable>>();

/** Starts loading functions the worker has not seen; their errors surface when a task uses them. */
export function prepareFunctions(shipped: readonly ShippedFn[]): void {
  for (const { id, ref } of shipped) {
    if (loaded.has(id)) continue;
    const pending = loadFunction(ref);
    pending.then(
      (fn) => loaded.set(id, fn),
      () => undefined, // the rejection is reported to each task that uses the function
    );
    loaded.set(id, pending);
  }
}

/** The function with this id, or a promise of it while it is still being imported. */
export function functionById(id: number): Callable | Promise<Callable> {
  const fn = loaded.get(id);
  if (!fn) throw new Error(`Internal error: function ${id} was never shipped to this worker`);
  return fn;
}

/** esbuild's helper (tsx inserts calls to it) that keeps the name of a nested function. */
function __name<T>(target: T, value: string): T {
  return Object.defineProperty(target, 'name', { value, configurable: true });
}

async function loadFunction(ref: FnRef): Promise<Callable> {
  if (ref.kind === 'source') return compileSource(ref.expression, ref.isMethod);
  return importTask(ref.url, ref.name);
}

function compileSource(expression: string, isMethod: boolean): Callable {
  // Module code is strict, and so are the functions it defines: compile them the same way.
  const value = new Function('__name', `"use strict";\nreturn ${expression};`)(__name) as unknown;
  if (!isMethod) return value as Callable;
  const holder = value as Record<PropertyKey, unknown>;
  const key = Reflect.ownKeys(holder)[0];
  return holder[key as PropertyKey] as Callable;
}

async function importTask(url: string, name: string): Promise<Callable> {
  if (/\.[cm]?tsx?$/i.test(new URL(url).pathname)) await registerTypeScriptLoader();
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(url)) as Record<string, unknown>;
  } catch (error) {
    throw new NotShippableError(
      `A worker could not import the module of task ${name} (${url}): ${(error as Error)?.message ?? error}` +
        (/\.[cm]?tsx?$/i.test(url) ? '. TypeScript task modules need the program to run under tsx.' : ''),
      [],
      { cause: error },
    );
  }
  const candidates = [namespace[name], ...Object.values(namespace)];
  for (const candidate of candidates) {
    if (typeof candidate !== 'function') continue;
    const recorded = (candidate as unknown as Record<symbol, { name?: string } | undefined>)[MODULE_REF];
    if (recorded?.name === name) return candidate as Callable;
  }
  throw new NotShippableError(
    `Module ${url} exports no function named ${name} declared with task(): export the value that task() returns.`,
  );
}

let typeScriptLoader: Promise<void> | undefined;

/**
 * Node 20 does not pass module hooks on to worker threads, so when the program runs under tsx the
 * worker registers tsx's hooks itself, from the same tsx the program was started with, and only when
 * a TypeScript module is imported: plain workers start without tsx, several times faster.
 */
function registerTypeScriptLoader(): Promise<void> {
  typeScriptLoader ??= (async () => {
    const api = (workerData as PoolWorkerData | undefined)?.typeScriptLoader;
    if (!api) return;
    const { register } = (await import(api)) as { register: () => unknown };
    register();
  })();
  return typeScriptLoader;
}
