import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { reviveError, serializeError } from '../dist/protocol.js';

const roundTrip = (thrown: unknown) => reviveError(structuredClone(serializeError(thrown)));

describe('error protocol', () => {
  it('keeps built-in error classes across the boundary', () => {
    for (const Ctor of [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError]) {
      const revived = roundTrip(new Ctor('boom')) as Error;
      assert.ok(revived instanceof Ctor, Ctor.name);
      assert.equal(revived.name, Ctor.name);
      assert.equal(revived.message, 'boom');
    }
  });

  it('keeps name, message, stack, cloneable own properties and a nested cause; drops functions', () => {
    class HttpError extends TypeError {
      status = 503;
      retry = () => true;
      constructor() {
        super('unavailable', { cause: new RangeError('inner') });
        this.name = 'HttpError';
      }
    }
    const original = new HttpError();
    const revived = roundTrip(original) as TypeError & { status: number; retry?: unknown };
    assert.ok(revived instanceof TypeError);
    assert.equal(revived.name, 'HttpError');
    assert.equal(revived.status, 503);
    assert.equal(revived.retry, undefined);
    assert.equal(revived.stack, original.stack);
    assert.ok(revived.cause instanceof RangeError);
    assert.equal((revived.cause as Error).message, 'inner');
  });

  it('keeps the errors of an AggregateError', () => {
    const revived = roundTrip(new AggregateError([new TypeError('a'), 'b'], 'both')) as AggregateError;
    assert.ok(revived instanceof AggregateError);
    assert.equal((revived.errors[0] as Error).message, 'a');
    assert.equal(revived.errors[1], 'b');
  });

  it('passes thrown non-errors through, and describes ones that cannot be cloned', () => {
    assert.deepEqual(roundTrip({ code: 42 }), { code: 42 });
    assert.equal(roundTrip('plain string'), 'plain string');
    const revived = roundTrip(Symbol('odd')) as Error;
    assert.ok(revived instanceof Error);
    assert.match(revived.message, /Symbol\(odd\)/);
  });
});
