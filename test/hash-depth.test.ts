import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hash, hashArguments } from '../dist/hash.js';
import { ContainerStack } from '../dist/container-stack.js';
import { unhashable } from './unhashable.js';


describe('cycles in deep values', () => {
  it('finds cycles and shared values at any depth, before and after a refusal', () => {
    // Nested 100 deep: the outer containers and the inner ones are found in different ways.
    const nest = (depth: number, leaf: unknown): { next: unknown } => {
      let value: { next: unknown } = { next: leaf };
      for (let i = 1; i < depth; i++) value = { next: value };
      return value;
    };
    const deepPath = (depth: number) => `args[0]${'.next'.repeat(depth)}`;
    for (const loopTo of [0, 50, 98]) {
      const root = nest(100, null);
      let node = root;
      for (let i = 0; i < 99; i++) node = node.next as { next: unknown };
      let target = root;
      for (let i = 0; i < loopTo; i++) target = target.next as { next: unknown };
      node.next = target;
      const error = unhashable(() => hashArguments([root]));
      assert.equal(error.path, deepPath(100));
      assert.match(error.message, new RegExp(`this is ${deepPath(loopTo).replace(/[.[\]]/g, '\\$&')} again`));
      // The refused walk stopped half-way: nothing of it may remain for the next one.
      node.next = null;
      assert.equal(hashArguments([root]), hashArguments([nest(100, null)]));
    }
    const shared = { leaf: 1 };
    const deepShared = nest(100, [shared, shared]);
    assert.equal(hashArguments([deepShared]), hashArguments([nest(100, [{ leaf: 1 }, { leaf: 1 }])]));
    // A value whose parts sit on both sides of the depth where the lookup changes, walked twice.
    const crossing = [nest(40, shared), nest(20, shared), shared];
    assert.equal(hash(crossing), hash(structuredClone(crossing)));
  });

});

describe('ContainerStack', () => {
  it('says at which depth a container still being walked was entered, and forgets those left', () => {
    const stack = new ContainerStack();
    const containers = Array.from({ length: 40 }, () => ({}));
    for (const container of containers) assert.equal(stack.enter(container), -1);
    assert.equal(stack.enter(containers[3] as object), 3, 'found by scanning');
    assert.equal(stack.enter(containers[35] as object), 35, 'found in the map of deep ones');
    for (let i = 0; i < 10; i++) stack.leave();
    assert.equal(stack.enter(containers[35] as object), -1, 'left: met again, it is only shared');
    assert.equal(stack.enter(containers[0] as object), 0, 'still being walked');
    stack.clear();
    assert.equal(stack.enter(containers[3] as object), -1, 'cleared');
  });
});
