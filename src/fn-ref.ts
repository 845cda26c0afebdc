/**
 * How a function reaches a worker thread. JavaScript cannot serialise a closure, so there are two
 * honest ways: a self-contained function travels as its source text and is compiled once per
 * worker; a function declared with `task(import.meta.url, fn)` travels as a module URL and a name,
 * and the worker imports it. Anything else is refused here, before any task runs.
 */
import { NotShippableError } from './errors.js';
import { moduleRefOf, type AnyFunction } from './delayed.js';
import { analyzeFunctionSource, UnsupportedSourceError } from './free-identifiers.js';

/** What crosses the thread boundary to identify a function. */
export type FnRef =
  | { readonly kind: 'source'; readonly name: string; readonly expression: string; readonly isMethod: boolean }
  | { readonly kind: 'module'; readonly name: string; readonly url: string };

/** A function ready to ship: a process-wide id (workers cache compiled functions by it) and its reference. */
export interface Shipment {
  readonly id: number;
  readonly ref: FnRef;
}

/**
 * Helpers that bundlers insert into function bodies and that the worker defines when compiling:
 * esbuild (and so tsx) wraps nested functions in `__name(fn, "name")` to keep their names.
 */
export const COMPILE_HELPERS = ['__name'] as const;

/**
 * Globals a worker has. Taken when this module loads, before the program's own code runs (ES module
 * imports are evaluated first), so names a program adds to `globalThis` later are not counted: a
 * worker would not have them.
 */
const WORKER_GLOBALS: ReadonlySet<string> = new Set([
  ...Object.getOwnPropertyNames(globalThis),
  ...COMPILE_HELPERS,
  'undefined',
  'NaN',
  'Infinity',
]);

const shipments = new WeakMap<AnyFunction, Shipment | NotShippableError>();
/** Closures made in a loop are distinct functions with one source: parse that source once. */
const shipmentsBySource = new Map<string, Shipment | NotShippableError>();
let nextShipmentId = 1;

/**
 * The shipment for `fn`, computed once per function.
 * @throws NotShippableError (code `ERR_NOT_SHIPPABLE`) when a worker could not rebuild `fn`
 */
export function shipmentFor(fn: AnyFunction): Shipment {
  let shipment = shipments.get(fn);
  if (!shipment) {
    shipment = newShipment(fn);
    shipments.set(fn, shipment);
  }
  if (shipment instanceof NotShippableError) throw shipment;
  return shipment;
}

function newShipment(fn: AnyFunction): Shipment | NotShippableError {
  const moduleRef = moduleRefOf(fn);
  if (moduleRef) return { id: nextShipmentId++, ref: { kind: 'module', name: moduleRef.name, url: moduleRef.url } };
  const source = Function.prototype.toString.call(fn);
  const known = shipmentsBySource.get(source);
  if (known) return known;
  try {
    const shipment: Shipment = { id: nextShipmentId++, ref: sourceRef(fn, source) };
    shipmentsBySource.set(source, shipment);
    return shipment;
  } catch (error) {
    // A refusal is not shared by source: its message names the function it was raised for.
    if (error instanceof NotShippableError) return error;
    throw error;
  }
}

function sourceRef(fn: AnyFunction, source: string): FnRef {
  const label = fn.name ? `function ${fn.name}` : 'an anonymous function';
  let analysis;
  try {
    analysis = analyzeFunctionSource(source);
  } catch (error) {
    if (!(error instanceof UnsupportedSourceError)) throw error;
    throw new NotShippableError(
      `Cannot send ${label} to a worker thread: ${error.message}. ` +
        `Wrap it in a function of your own, declared with task(import.meta.url, function name(...) { ... }) ` +
        `in a module without side effects, or use backend 'async' or 'sequential', where every function works.`,
      [],
      { cause: error },
    );
  }
  const outside = analysis.free.filter((name) => !WORKER_GLOBALS.has(name));
  const problems = [...analysis.contextual, ...outside];
  if (problems.length > 0) {
    const list = problems.map((name) => `\`${name}\``).join(', ');
    throw new NotShippableError(
      `Cannot send ${label} to a worker thread: it reads ${list}, which ${
        problems.length === 1 ? 'is' : 'are'
      } neither its own parameters or variables nor JavaScript/Node globals, and a worker has no copy of them. ` +
        `Either pass ${problems.length === 1 ? 'it as an argument' : 'them as arguments'} (delayed(fn)(x, ${outside[0] ?? 'value'})), ` +
        `or declare the function with task(import.meta.url, function ${fn.name || 'name'}(...) { ... }) in a module ` +
        `without side effects so that workers import it. With backend 'async' or 'sequential' every function works.`,
      problems,
    );
  }
  return { kind: 'source', name: fn.name, expression: analysis.expression, isMethod: analysis.isMethod };
}
