/**
 * The containers a depth-first walk is inside, innermost last, for finding cycles: a container met
 * again while it is still on the stack is inside itself; met again after it was left, it is only
 * shared. Entries and exits must nest (last entered, first left), and a walk adds one step to its
 * path per container it enters, so a container's place in the stack is its depth in the path.
 */
export class ContainerStack {
  /** The containers, outermost first. */
  private readonly containers: object[] = [];
  /**
   * The containers below the first {@link SCANNED}, with their depths, for deep values. The usual
   * value is a few levels deep, and scanning those few beats a Map, whose set, delete and clear on
   * every call cost more than the rest of hashing a small argument list.
   */
  private readonly deep = new Map<object, number>();

  /**
   * Enters `container` and returns -1; or, when it is still being walked (a cycle), returns the
   * depth it was entered at and enters nothing (so nothing is to be left).
   */
  enter(container: object): number {
    const { containers } = this;
    const scanned = Math.min(containers.length, SCANNED);
    for (let i = 0; i < scanned; i++) if (containers[i] === container) return i;
    if (this.deep.size > 0) {
      const seenAt = this.deep.get(container);
      if (seenAt !== undefined) return seenAt;
    }
    if (containers.length >= SCANNED) this.deep.set(container, containers.length);
    containers.push(container);
    return -1;
  }

  /** Leaves the innermost container. */
  leave(): void {
    const container = this.containers.pop();
    if (this.containers.length >= SCANNED && container !== undefined) this.deep.delete(container);
  }

  /** Forgets every container (after a walk, finished or cut short by a throw). */
  clear(): void {
    // Only after a walk a throw cut short: emptying an empty array would let go of its storage,
    // and the next walk would allocate it again.
    if (this.containers.length > 0) this.containers.length = 0;
    if (this.deep.size > 0) this.deep.clear();
  }
}

/** How many of the outermost containers are found by scanning; deeper ones by a Map. */
const SCANNED = 32;
