import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { analyzeFunctionSource, UnsupportedSourceError } from '../dist/free-identifiers.js';
import { shipmentFor } from '../dist/fn-ref.js';
import { functionById, prepareFunctions } from '../dist/worker-functions.js';
import { Parallel, delayed, task, NotShippableError, type AnyFunction } from '../dist/index.js';
import { addOffset } from './fixtures/tasks.mjs';

// Names that exist in no scope of this module: TypeScript accepts references to them, tsx emits
// them as they are, and the analysis must treat them as free identifiers.
declare let undeclaredSink: number;
declare const someUndeclared: unknown;
declare const lateGlobal: number;

/** Free identifiers of a source text. */
const freeIn = (source: string) => analyzeFunctionSource(source).free;
/** `this`, `super`, `import.meta` found at the function's own level. */
const contextualIn = (source: string) => analyzeFunctionSource(source).contextual;

let nextCompiledId = 1_000_000; // far above the ids shipmentFor hands out in this process

/** Compiles `source` with the worker's own code (in this thread) and returns the function it yields. */
async function compileLikeAWorker(source: string): Promise<(...args: unknown[]) => unknown> {
  const { expression, isMethod } = analyzeFunctionSource(source);
  const id = nextCompiledId++;
  prepareFunctions([{ id, ref: { kind: 'source', name: 'compiled', expression, isMethod } }]);
  return await functionById(id);
}

/** The NotShippableError that `shipmentFor(fn)` throws. */
function refusalOf(fn: AnyFunction): NotShippableError {
  try {
    shipmentFor(fn);
  } catch (error) {
    assert.ok(error instanceof NotShippableError, `expected a NotShippableError, got ${String(error)}`);
    return error;
  }
  return assert.fail('expected shipmentFor to refuse the function');
}

describe('analyzeFunctionSource: forms of functions', () => {
  it('accepts an arrow function that uses only its parameters', () => {
    const analysis = analyzeFunctionSource('(a, b) => a + b');
    assert.deepEqual(analysis, { expression: '((a, b) => a + b)', isMethod: false, free: [], contextual: [] });
  });

  it('accepts a function declaration, whose name is visible inside it', () => {
    assert.deepEqual(freeIn('function fact(n) { return n <= 1 ? 1 : n * fact(n - 1) }'), []);
  });

  it('reports the name a recursive arrow function reads from its enclosing scope', () => {
    assert.deepEqual(freeIn('(n) => n <= 1 ? 1 : n * fact(n - 1)'), ['fact']);
  });

  it('accepts async functions and async arrows', () => {
    assert.deepEqual(freeIn('async function load(x) { await null; return x }'), []);
    assert.deepEqual(freeIn('async (x) => { const y = await x; return y }'), []);
  });

  it('accepts a generator function', () => {
    assert.deepEqual(freeIn('function* count(n) { for (let i = 0; i < n; i++) yield i }'), []);
  });

  it('wraps method shorthand in an object literal that evaluates to the method', async () => {
    const analysis = analyzeFunctionSource('twice(x) { return 2 * x }');
    assert.equal(analysis.isMethod, true);
    assert.deepEqual(analysis.free, []);
    assert.equal((await compileLikeAWorker('twice(x) { return 2 * x }'))(21), 42);
  });

  it('accepts the minified method source that tsx produces', async () => {
    assert.equal((await compileLikeAWorker('twice(x){return 2*x}'))(4), 8);
  });

  it('accepts an async method', async () => {
    const analysis = analyzeFunctionSource('async load(x) { return await x }');
    assert.equal(analysis.isMethod, true);
    assert.equal(await (await compileLikeAWorker('async load(x) { return await x }'))(Promise.resolve(7)), 7);
  });

  it('accepts generator and async generator methods', async () => {
    assert.equal(analyzeFunctionSource('*count(n) { yield n }').isMethod, true);
    assert.equal(analyzeFunctionSource('async *count(n) { yield n }').isMethod, true);
    const count = await compileLikeAWorker('*count(n) { for (let i = 0; i < n; i++) yield i }');
    const generator = count(3) as Iterable<number>;
    assert.deepEqual([...generator], [0, 1, 2]);
  });

  it('accepts methods named get, set, async and static as ordinary methods', async () => {
    for (const name of ['get', 'set', 'async', 'static']) {
      assert.equal((await compileLikeAWorker(`${name}(x) { return x + 1 }`))(1), 2, name);
    }
  });

  it('accepts a computed-key method whose key is an outer variable, since the key is not needed to call it', async () => {
    assert.deepEqual(freeIn('[methodKey](x) { return x * 3 }'), []);
    assert.equal((await compileLikeAWorker('[methodKey](x) { return x * 3 }'))(2), 6);
  });

  it('accepts an async generator method with a computed key and comments around it', async () => {
    const source = 'async */* star */[ keys.first /* ] */ ](x) { yield x }';
    assert.deepEqual(freeIn(source), []);
    const generator = (await compileLikeAWorker(source))(5) as AsyncIterable<number>;
    const seen: number[] = [];
    for await (const value of generator) seen.push(value);
    assert.deepEqual(seen, [5]);
  });

  it('refuses native code', () => {
    assert.throws(() => analyzeFunctionSource(String(Math.max)), UnsupportedSourceError);
    assert.throws(() => analyzeFunctionSource('function () { [native code] }'), /native or bound/);
  });

  it('refuses a class', () => {
    assert.throws(() => analyzeFunctionSource('class Point { constructor(x) { this.x = x } }'), /it is a class/);
  });

  it('refuses getters and setters', () => {
    assert.throws(() => analyzeFunctionSource('get size() { return 1 }'), /getter or setter/);
    assert.throws(() => analyzeFunctionSource('set size(v) { }'), /getter or setter/);
  });

  it('refuses text that is not a function', () => {
    assert.throws(() => analyzeFunctionSource('1 + 2'), /could not be parsed as a function/);
    assert.throws(() => analyzeFunctionSource('a(x) {}, b(y) {}'), /could not be parsed as a function/);
    assert.throws(() => analyzeFunctionSource('(x) => {'), UnsupportedSourceError);
  });
});

describe('analyzeFunctionSource: scopes', () => {
  it('lists free identifiers once each, in order of first appearance', () => {
    assert.deepEqual(freeIn('() => beta + alpha * beta'), ['beta', 'alpha']);
  });

  it('does not report names declared by nested functions and their closures over the outer locals', () => {
    const source = `(n) => {
      const step = 2;
      function scale(x) { return x * step }
      const add = (a) => (b) => a + b + n;
      const inc = function named(k) { return k <= 0 ? 0 : named(k - 1) + 1 };
      return add(scale(n))(inc(3));
    }`;
    assert.deepEqual(freeIn(source), []);
  });

  it('reports a name that a nested function reads from outside the analysed one', () => {
    assert.deepEqual(freeIn('(n) => { const f = () => n + offset; return f() }'), ['offset']);
  });

  it('accepts destructured parameters whose defaults refer to earlier parameters', async () => {
    const source = '({ a, b = a * 2 }, [c = b, ...rest] = [], { d: { e } = { e: c } } = {}) => a + b + c + e + rest.length';
    assert.deepEqual(freeIn(source), []);
    assert.equal((await compileLikeAWorker(source))({ a: 1 }), 1 + 2 + 2 + 2);
  });

  it('reports an outer variable read by a parameter default', () => {
    assert.deepEqual(freeIn('(x, y = base) => x + y'), ['base']);
    assert.deepEqual(freeIn('({ x = base }) => x'), ['base']);
  });

  it('reports an outer variable read by a parameter default even when the body declares the same name', () => {
    // Defaults are evaluated before the body's declarations exist: `b` here is the outer one.
    assert.deepEqual(freeIn('function (a = b) { var b = 2; return a }'), ['b']);
    assert.deepEqual(freeIn('(a = limit) => { const limit = 0; return a + limit }'), ['limit']);
  });

  it('reports a computed key in a destructuring parameter', () => {
    assert.deepEqual(freeIn('({ [field]: value }) => value'), ['field']);
  });

  it('keeps let and const inside their block', () => {
    assert.deepEqual(freeIn('() => { { let inner = 1; } return inner }'), ['inner']);
    assert.deepEqual(freeIn('() => { if (true) { const inner = 1; } return inner }'), ['inner']);
  });

  it('lets a block-scoped declaration shadow an outer name inside its block only', () => {
    assert.deepEqual(freeIn('() => { { const limit = 3; use(limit) } return limit }'), ['use', 'limit']);
    assert.deepEqual(freeIn('(x) => { let y = x; { const y = 2; x += y } return y }'), []);
  });

  it('hoists var declarations from nested blocks to the whole function', () => {
    assert.deepEqual(freeIn('() => { if (true) { var found = 1 } return found }'), []);
  });

  it('sees function declarations of a block throughout that block', () => {
    assert.deepEqual(freeIn('() => { { const r = later(); function later() { return 1 } return r } }'), []);
  });

  it('accepts for-of, for-in and for loop variables inside their loop', () => {
    assert.deepEqual(freeIn('(xs) => { let s = 0; for (const x of xs) s += x; return s }'), []);
    assert.deepEqual(freeIn('(o) => { const ks = []; for (const k in o) ks.push(k); return ks }'), []);
    assert.deepEqual(freeIn('(n) => { let s = 0; for (let i = 0, j = n; i < j; i++) s += i; return s }'), []);
    assert.deepEqual(freeIn('(pairs) => { for (const [k, { v = k }] of pairs) k + v }'), []);
  });

  it('reports a loop variable used after its loop', () => {
    assert.deepEqual(freeIn('(xs) => { for (const x of xs) {} return x }'), ['x']);
  });

  it('reports a for-of target that is not declared', () => {
    assert.deepEqual(freeIn('(xs) => { for (item of xs) {} }'), ['item']);
  });

  it('accepts catch parameters, destructured or not, inside their catch block', () => {
    assert.deepEqual(freeIn('() => { try { return 1 } catch (err) { return err } }'), []);
    assert.deepEqual(freeIn('() => { try { return 1 } catch ({ message, cause = message }) { return cause } }'), []);
    assert.deepEqual(freeIn('() => { try { return 1 } catch { return 2 } finally { } }'), []);
  });

  it('reports a catch parameter used after its catch block', () => {
    assert.deepEqual(freeIn('() => { try {} catch (err) {} return err }'), ['err']);
  });

  it('does not report labels', () => {
    const source = '(n) => { scan: for (let i = 0; i < n; i++) { inner: for (;;) { if (i) continue scan; break inner } } }';
    assert.deepEqual(freeIn(source), []);
  });

  it('accepts lexical declarations in switch cases', () => {
    assert.deepEqual(freeIn('(k) => { switch (k) { case 1: const v = 2; return v; default: return v } }'), []);
  });

  it('accepts a class declared inside the function, its fields, methods and static members', async () => {
    const source = `(n) => {
      class Counter { count = 0; static made = 0; static { Counter.made++ } inc() { this.count++; return this } }
      const Named = class Inner { self() { return Inner } };
      let c = new Counter();
      for (let i = 0; i < n; i++) c = c.inc();
      return [c.count, new Named().self() === Named];
    }`;
    assert.deepEqual(freeIn(source), []);
    assert.deepEqual(contextualIn(source), []);
    assert.deepEqual((await compileLikeAWorker(source))(3), [3, true]);
  });

  it('reports the superclass of a nested class when it comes from outside', () => {
    assert.deepEqual(freeIn('() => { class Mine extends Base { m() { return super.m() } } return new Mine() }'), ['Base']);
  });

  it('keeps var declarations of a class static block inside that block', () => {
    assert.deepEqual(freeIn('() => { class K { static { var v = 1; K.v = v } } return K }'), []);
  });

  it('allows typeof guards on undeclared names', () => {
    assert.deepEqual(freeIn("() => typeof window === 'undefined' ? 'node' : 'browser'"), []);
    assert.deepEqual(freeIn("() => typeof (window) === 'undefined'"), []);
  });

  it('reports a name read through typeof of a member expression', () => {
    assert.deepEqual(freeIn('() => typeof settings.mode'), ['settings']);
  });

  it('treats arguments as declared in a function and in arrows nested in it', () => {
    assert.deepEqual(freeIn('function () { return arguments.length }'), []);
    assert.deepEqual(freeIn('function () { return (() => arguments[0])() }'), []);
    assert.deepEqual(freeIn('sum() { return [...arguments].length }'), []);
  });

  it('reports arguments read by a top-level arrow function', () => {
    assert.deepEqual(freeIn('() => arguments.length'), ['arguments']);
  });

  it('reports assignments to undeclared variables', () => {
    assert.deepEqual(freeIn('(x) => { total = x }'), ['total']);
    assert.deepEqual(freeIn('(x) => { total += x }'), ['total']);
    assert.deepEqual(freeIn('() => { hits++ }'), ['hits']);
    assert.deepEqual(freeIn('(o) => { ({ a: first, ...others } = o); [second = 1] = [] }'), ['first', 'others', 'second']);
  });

  it('does not report assignments to declared variables', () => {
    assert.deepEqual(freeIn('(x) => { let total = 0; total += x; ({ total } = { total }); return total }'), []);
  });

  it('does not report property keys or non-computed member names', () => {
    assert.deepEqual(freeIn('(o) => o.foo + o?.bar + ({ foo: 1, baz() {}, get qux() { return 2 } }).foo'), []);
  });

  it('reports names inside computed member access and computed keys', () => {
    assert.deepEqual(freeIn('(o) => o[key] + ({ [other]: 1 })'), ['key', 'other']);
  });

  it('reports shorthand properties, which read a variable', () => {
    assert.deepEqual(freeIn('() => ({ foo })'), ['foo']);
  });

  it('does not report shorthand properties of a declared variable or a destructured parameter', () => {
    assert.deepEqual(freeIn('({ foo }) => ({ foo })'), []);
  });

  it('reports names in template literals, spread elements and tagged templates', () => {
    assert.deepEqual(freeIn('() => tag`${a} ${[...list]}`'), ['tag', 'a', 'list']);
  });

  it('lists globals among the free identifiers, for the caller to filter', () => {
    assert.deepEqual(freeIn('(x) => Math.max(x, JSON.parse("1"))'), ['Math', 'JSON']);
  });

  it('reports the __name helper that tsx inserts as a free identifier', () => {
    assert.deepEqual(freeIn('function outer(x){const inner=__name(y=>y+1,"inner");return inner(x)}'), ['__name']);
  });
});

describe('analyzeFunctionSource: this, super and import.meta', () => {
  it('reports this in a top-level function or method', () => {
    assert.deepEqual(contextualIn('function () { return this.x }'), ['this']);
    assert.deepEqual(contextualIn('get2() { return this.x }'), ['this']);
  });

  it('reports this in a top-level arrow function', () => {
    assert.deepEqual(contextualIn('() => this'), ['this']);
  });

  it('reports this in an arrow nested in the top-level function', () => {
    assert.deepEqual(contextualIn('function () { return () => this }'), ['this']);
  });

  it('accepts this inside a nested non-arrow function', () => {
    assert.deepEqual(contextualIn('() => { function f() { return this } return f.call(1) }'), []);
    assert.deepEqual(contextualIn('() => ({ v: 1, m() { return this.v } }).m()'), []);
  });

  it('accepts this and super inside the methods of a nested class', () => {
    assert.deepEqual(contextualIn('() => { class A extends Object { f = () => this; m() { return super.toString.call(this) } } }'), []);
  });

  it('reports this in a computed key of a nested class, which is evaluated outside the class', () => {
    assert.deepEqual(contextualIn('() => { class A { [this.key]() { return 1 } } return A }'), ['this']);
  });

  it('reports super in a top-level method', () => {
    assert.deepEqual(contextualIn('m() { return super.m() }'), ['super']);
  });

  it('reports import.meta', () => {
    assert.deepEqual(contextualIn('() => import.meta.url'), ['import.meta']);
  });

  it('does not report new.target', () => {
    assert.deepEqual(contextualIn('function () { return new.target }'), []);
  });
});

describe('shipmentFor', () => {
  it('ships a self-contained function as its source', () => {
    const add = (a: number, b: number) => a + b;
    const { ref } = shipmentFor(add);
    assert.deepEqual(ref, { kind: 'source', name: 'add', expression: `(${String(add)})`, isMethod: false });
  });

  it('accepts reads of JavaScript and Node globals', () => {
    const usesGlobals = (x: number) =>
      [Math.max(x, 0), JSON.stringify({ x }), Buffer.from('a').length, typeof process.pid, structuredClone([x]), NaN, undefined];
    assert.equal(shipmentFor(usesGlobals).ref.kind, 'source');
  });

  it('returns the same shipment every time for one function', () => {
    const f = (x: number) => x;
    assert.equal(shipmentFor(f), shipmentFor(f));
  });

  it('gives two closures with identical source one shipment id', () => {
    const make = () => (x: number) => x * 2;
    const first = make();
    const second = make();
    assert.notEqual(first, second);
    assert.equal(shipmentFor(first).id, shipmentFor(second).id);
  });

  it('gives functions with different sources different ids', () => {
    assert.notEqual(shipmentFor((x: number) => x + 1).id, shipmentFor((x: number) => x + 2).id);
  });

  it('marks a method as such', () => {
    const holder = { triple(x: number) { return 3 * x } };
    const { ref } = shipmentFor(holder.triple);
    assert.equal(ref.kind, 'source');
    assert.equal(ref.kind === 'source' && ref.isMethod, true);
  });

  it('ships a function declared with task() as its module and name, whatever it reads', () => {
    const url = new URL('./fixtures/tasks.mjs', import.meta.url).href;
    assert.deepEqual(shipmentFor(addOffset).ref, { kind: 'module', name: 'addOffset', url });
    const outer = 5;
    const marked = task(url, function readsOuter(x: number) { return x + outer });
    assert.deepEqual(shipmentFor(marked).ref, { kind: 'module', name: 'readsOuter', url });
  });

  it('refuses a closure over an outer variable and names it', () => {
    const limit = 10;
    const error = refusalOf(function capped(x: number) { return Math.min(x, limit) });
    assert.equal(error.code, 'ERR_NOT_SHIPPABLE');
    assert.deepEqual(error.identifiers, ['limit']);
    assert.match(error.message, /^Cannot send function capped to a worker thread: it reads `limit`, which is /);
  });

  it('names every outer identifier, without the globals', () => {
    const a = 1;
    const b = 2;
    const error = refusalOf((x: number) => Math.abs(x) + a + b);
    assert.deepEqual(error.identifiers, ['a', 'b']);
    assert.match(error.message, /it reads `a`, `b`, which are neither/);
  });

  it('refuses a parameter default that reads an outer variable', () => {
    const base = 10;
    const error = refusalOf((x: number, y = base) => x + y);
    assert.deepEqual(error.identifiers, ['base']);
  });

  it('refuses a method that uses this', () => {
    const counter = { base: 1, plus(x: number) { return this.base + x } };
    const error = refusalOf(counter.plus);
    assert.deepEqual(error.identifiers, ['this']);
    assert.match(error.message, /function plus .*`this`/);
  });

  it('refuses a top-level arrow that reads the arguments of the function it was made in', () => {
    const arrow = new Function('return () => arguments.length')() as AnyFunction;
    assert.deepEqual(refusalOf(arrow).identifiers, ['arguments']);
  });

  it('refuses an assignment to an undeclared variable', () => {
    const error = refusalOf((x: number) => {
      undeclaredSink = x;
    });
    assert.deepEqual(error.identifiers, ['undeclaredSink']);
  });

  it('refuses a global added after the library was loaded, which workers would not have', () => {
    (globalThis as Record<string, unknown>)['lateGlobal'] = 1;
    try {
      assert.deepEqual(refusalOf((x: number) => x + lateGlobal).identifiers, ['lateGlobal']);
    } finally {
      delete (globalThis as Record<string, unknown>)['lateGlobal'];
    }
  });

  it('names each refused function in its own message even when they share their source', () => {
    const shared = 3;
    const first = (x: number) => x + shared;
    const second = (x: number) => x + shared;
    assert.equal(String(first), String(second));
    assert.match(refusalOf(first).message, /function first/);
    assert.match(refusalOf(second).message, /function second/);
  });

  it('refuses the same function again on a second call', () => {
    const outside = 1;
    const f = () => outside;
    refusalOf(f);
    assert.deepEqual(refusalOf(f).identifiers, ['outside']);
  });

  it('accepts the __name calls that tsx inserts', () => {
    function outer(x: number) {
      const inner = (y: number) => y + 1;
      return inner(x);
    }
    assert.match(String(outer), /__name\(/);
    assert.equal(shipmentFor(outer).ref.kind, 'source');
  });

  it('refuses a native function with a clear message', () => {
    const error = refusalOf(Math.max);
    assert.deepEqual(error.identifiers, []);
    assert.match(error.message, /^Cannot send function max to a worker thread: it is a native or bound function/);
  });

  it('refuses a bound function with a clear message', () => {
    const error = refusalOf(((x: number) => x).bind(null));
    assert.match(error.message, /function bound .*native or bound function/);
  });

  it('refuses a class with a clear message', () => {
    class Point {
      constructor(readonly x: number) {}
    }
    const error = refusalOf(Point as unknown as AnyFunction);
    assert.match(error.message, /^Cannot send function Point to a worker thread: it is a class, which cannot be called/);
  });

  it('refuses a getter with a clear message', () => {
    const getter = Object.getOwnPropertyDescriptor({ get size() { return 1 } }, 'size')?.get;
    assert.ok(getter);
    assert.match(refusalOf(getter).message, /function get size .*getter or setter/);
  });

  it('suggests task() and the in-thread backends in its messages', () => {
    const outside = 1;
    const { message } = refusalOf(() => outside);
    assert.match(message, /task\(import\.meta\.url, function/);
    assert.match(message, /'async' or 'sequential'/);
  });
});

describe('functions in worker threads', () => {
  const run = Parallel(2);
  after(() => run.close());

  const marker = 'joblibTsFnRefTestMarker';
  (globalThis as Record<string, unknown>)[marker] = true;

  it('runs an accepted arrow function in a worker thread, not in the calling thread', async () => {
    const probe = (x: number) => [x * 2, (globalThis as Record<string, unknown>)['joblibTsFnRefTestMarker'] === true];
    assert.deepEqual(probe(1), [2, true]);
    assert.deepEqual(await run([delayed(probe)(21)]), [[42, false]]);
  });

  it('runs a method, an async method and a computed-key method', async () => {
    const key = 'computed';
    const holder = {
      twice(x: number) { return 2 * x },
      async later(x: number) { await null; return x + 1 },
      [key](x: number) { return x - 1 },
    };
    assert.deepEqual(await run([delayed(holder.twice)(4), delayed(holder.later)(4), delayed(holder[key])(4)]), [8, 5, 3]);
  });

  it('runs a function carrying the __name calls of tsx', async () => {
    function withHelpers(x: number) {
      const inner = (y: number) => y * 10;
      function other(z: number) { return z + 1 }
      return other(inner(x));
    }
    assert.match(String(withHelpers), /__name\(/);
    assert.deepEqual(await run([delayed(withHelpers)(2)]), [21]);
  });

  it('runs a function with destructured parameters and defaults that refer to other parameters', async () => {
    const f = ({ a, b = a * 2 }: { a: number; b?: number }, [c = b]: number[] = []) => a + b + c;
    assert.deepEqual(await run([delayed(f)({ a: 1 }), delayed(f)({ a: 1, b: 5 }, [7])]), [5, 13]);
  });

  it('runs a function declaring a class, loops, catch clauses and typeof guards', async () => {
    function busy(n: number) {
      class Acc {
        total = 0;
        add(v: number) { this.total += v; return this }
      }
      const acc = new Acc();
      outer: for (const i of Array.from({ length: n }, (_, k) => k)) {
        if (i > 100) break outer;
        acc.add(i);
      }
      let caught = '';
      try {
        JSON.parse('{');
      } catch (err) {
        caught = (err as Error).name;
      }
      return [acc.total, caught, typeof someUndeclared === 'undefined'];
    }
    assert.deepEqual(await run([delayed(busy)(4)]), [[6, 'SyntaxError', true]]);
  });

  it('rejects a closure with ERR_NOT_SHIPPABLE naming what it reads', async () => {
    const scale = 3;
    const scaled = (x: number) => x * scale;
    await assert.rejects(run([delayed(scaled)(1)]), (error: unknown) => {
      assert.ok(error instanceof NotShippableError);
      assert.equal(error.code, 'ERR_NOT_SHIPPABLE');
      assert.deepEqual(error.identifiers, ['scale']);
      assert.match(error.message, /function scaled .*`scale`/);
      return true;
    });
  });

  it('rejects a method using this with ERR_NOT_SHIPPABLE', async () => {
    const counter = { step: 2, next(x: number) { return x + this.step } };
    await assert.rejects(run([delayed(counter.next)(1)]), { code: 'ERR_NOT_SHIPPABLE', identifiers: ['this'] });
  });

  const bump = (counter: Int32Array) => Atomics.add(counter, 0, 1) + 1;

  it('lets tasks count their runs in a SharedArrayBuffer the caller sees', async () => {
    const counter = new Int32Array(new SharedArrayBuffer(4));
    await run([delayed(bump)(counter), delayed(bump)(counter)]);
    assert.equal(Atomics.load(counter, 0), 2);
  });

  it('refuses an unshippable task before any task of the call runs', async () => {
    const counter = new Int32Array(new SharedArrayBuffer(4));
    const outside = 1;
    const third = (x: number) => x + outside;
    await assert.rejects(run([delayed(bump)(counter), delayed(bump)(counter), delayed(third)(0)]), {
      code: 'ERR_NOT_SHIPPABLE',
    });
    await sleep(200); // time for any task that was sent after all to run
    assert.equal(Atomics.load(counter, 0), 0);
  });
});
