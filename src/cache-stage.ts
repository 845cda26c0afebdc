/**
 * Cached tasks inside a Parallel call. Tasks whose function comes from `memory.cache` are looked up
 * before anything is dispatched: hits are answered from the cache without touching the pool; misses
 * run the underlying function like any task, and the calling thread stores their results, one
 * transaction per reported chunk. A key that appears several times in one call is computed once.
 */
import { delayed, type Task } from './delayed.js';
import { cachedCallOf, type CachedCall, type ComputedResult } from './cached-function.js';
import type { Outcome } from './batch.js';

/** What the stage needs from the execution it serves. */
export interface CacheHost {
  /** An outcome produced without running the task (a hit, or a duplicate of another task). */
  deliver(outcome: Outcome): void;
  /** A miss: run this task (the underlying function) at this index. */
  enqueue(index: number, task: Task): void;
  fail(index: number, error: unknown): void;
  /** Something changed: lookups or writes ended. */
  wake(): void;
}

interface Admitted {
  readonly index: number;
  readonly call: CachedCall;
  readonly key: string;
  readonly args: readonly unknown[];
}

/** Lookups are sent to the store in groups of at most this many keys. */
const LOOKUP_GROUP = 512;

export class CacheStage {
  private waiting: Admitted[] = [];
  /** Leader index of each key seen in this call, and the later tasks with the same key. */
  private readonly byKey = new Map<string, { leader: number; followers: number[]; outcome?: Outcome }>();
  /** Misses now running, by index. */
  private readonly running = new Map<number, Admitted>();
  private readonly toStore = new Map<CachedCall, { indices: number[]; results: ComputedResult[] }>();
  private pending = 0;
  private readonly writes = new Set<Promise<void>>();

  constructor(private readonly host: CacheHost) {}

  /** Misses of cached functions are running: their outcomes must go through {@link observe}. */
  get observing(): boolean {
    return this.running.size > 0;
  }

  /** Lookups or writes are under way. */
  get busy(): boolean {
    return this.pending > 0 || this.waiting.length > 0;
  }

  /** Takes the task over when its function is a cached one (returns true); otherwise leaves it to the caller. */
  admit(index: number, task: Task): boolean {
    const call = cachedCallOf(task.fn);
    if (!call) return false;
    if (!call.enabled) {
      this.host.enqueue(index, delayed(call.inner)(...task.args));
      return true;
    }
    const key = call.keyFor(task.args); // may throw ERR_UNHASHABLE: the caller fails the task
    const seen = this.byKey.get(key);
    if (seen) {
      if (seen.outcome) this.host.deliver(withIndex(seen.outcome, index));
      else seen.followers.push(index);
      return true;
    }
    this.byKey.set(key, { leader: index, followers: [] });
    this.waiting.push({ index, call, key, args: task.args });
    if (this.waiting.length >= LOOKUP_GROUP) this.lookUp();
    return true;
  }

  /** Sends the admitted tasks' keys to the store. */
  lookUp(): void {
    if (this.waiting.length === 0) return;
    const groups = new Map<CachedCall, Admitted[]>();
    for (const admitted of this.waiting) {
      const group = groups.get(admitted.call);
      if (group) group.push(admitted);
      else groups.set(admitted.call, [admitted]);
    }
    this.waiting = [];
    for (const [call, group] of groups) {
      this.pending++;
      call.lookup(group.map((a) => a.key)).then(
        (hits) => {
          group.forEach((admitted, i) => {
            const hit = hits[i];
            if (hit) this.settle(admitted.key, { index: admitted.index, ok: true, value: hit.value }, true);
            else {
              this.running.set(admitted.index, admitted);
              this.host.enqueue(admitted.index, delayed(call.inner)(...admitted.args));
            }
          });
        },
        (error: unknown) => this.host.fail((group[0] as Admitted).index, error),
      ).finally(() => {
        this.pending--;
        this.host.wake();
      });
    }
  }

  /**
   * Sees every outcome of the call: a cached miss that ran is recorded for storing and answers its
   * duplicates. Returns normally; the caller handles the outcome itself as well.
   */
  observe(outcome: Outcome): void {
    const admitted = this.running.get(outcome.index);
    if (!admitted) return;
    this.running.delete(outcome.index);
    if (outcome.ok) {
      const pending = this.toStore.get(admitted.call) ?? { indices: [], results: [] };
      pending.indices.push(outcome.index);
      pending.results.push({ key: admitted.key, args: admitted.args, value: outcome.value, durationMs: outcome.durationMs ?? 0 });
      this.toStore.set(admitted.call, pending);
    }
    this.settle(admitted.key, outcome, false);
  }

  /** Stores what was computed since the last call, one transaction per cached function. */
  storeComputed(): void {
    for (const [call, { indices, results }] of this.toStore) {
      this.pending++;
      const write = call
        .store(results)
        .catch((error: unknown) => this.host.fail(indices[0] as number, error))
        .finally(() => {
          this.pending--;
          this.writes.delete(write);
          this.host.wake();
        });
      this.writes.add(write);
    }
    this.toStore.clear();
  }

  /** Resolves when every write started so far has ended. */
  async flushed(): Promise<void> {
    this.storeComputed();
    while (this.writes.size > 0) await Promise.all([...this.writes]);
  }

  /** Answers the duplicates of a key; the leader too when its outcome did not come from running it. */
  private settle(key: string, outcome: Outcome, deliverLeader: boolean): void {
    const entry = this.byKey.get(key);
    if (!entry) return;
    entry.outcome = outcome;
    if (deliverLeader) this.host.deliver(outcome);
    for (const follower of entry.followers) this.host.deliver(withIndex(outcome, follower));
    entry.followers = [];
  }
}

function withIndex(outcome: Outcome, index: number): Outcome {
  return outcome.ok ? { index, ok: true, value: outcome.value } : { index, ok: false, error: outcome.error };
}
