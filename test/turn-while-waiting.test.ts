import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { MAX_TURNING_MS, turnWhileWaiting } from '../dist/turn-while-waiting.js';

/** Immediates queued right now: the turning loop is one while it runs. */
const immediates = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Immediate').length;

describe('turnWhileWaiting', () => {
  it('returns the job itself, settled as it settles', async () => {
    const job = Promise.resolve(42);
    assert.equal(turnWhileWaiting(job), job);
    assert.equal(await job, 42);
    const failing = Promise.reject(new Error('boom'));
    await assert.rejects(turnWhileWaiting(failing), /boom/);
  });

  it('keeps one turn queued while jobs are under way, however many, and none once they settle', async () => {
    const settlers: (() => void)[] = [];
    const jobs = [1, 2, 3].map(() => turnWhileWaiting(new Promise<void>((resolve) => settlers.push(resolve))));
    assert.equal(immediates(), 1);
    for (const settle of settlers) settle();
    await Promise.all(jobs);
    await new Promise((resolve) => setImmediate(resolve)); // the turn that sees nothing awaited
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(immediates(), 0);
  });

  it('stops turning once the job has run longer than MAX_TURNING_MS, so a slow job costs no CPU', async () => {
    let settle!: () => void;
    const slow = turnWhileWaiting(new Promise<void>((resolve) => (settle = resolve)));
    assert.ok(immediates() >= 1);
    await sleep(MAX_TURNING_MS + 20);
    assert.equal(immediates(), 0, 'still turning after the deadline');
    settle();
    await slow;
    // A new job turns again.
    const next = turnWhileWaiting(sleep(5));
    assert.equal(immediates(), 1);
    await next;
  });
});
