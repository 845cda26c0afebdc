/**
 * XXH64 (xxHash, 64-bit variant) in plain TypeScript, streaming. It gives the same digests as the
 * WebAssembly module that `hash-digest.ts` uses (`xxh64-pair.wat`), which is about twenty times
 * faster; this one answers where WebAssembly is switched off (`node --jitless`), and the tests check
 * each against the other.
 *
 * JavaScript has no 64-bit integers outside BigInt (which allocates on every operation), so every
 * 64-bit value is a pair of unsigned 32-bit halves, and the helpers below leave their result in the
 * registers `R[0]` (high half) and `R[1]` (low half) instead of allocating a pair.
 */

// The five primes of XXH64, as [high, low] 32-bit halves.
const P1H = 0x9e3779b1, P1L = 0x85ebca87;
const P2H = 0xc2b2ae3d, P2L = 0x27d4eb4f;
const P3H = 0x165667b1, P3L = 0x9e3779f9;
const P4H = 0x85ebca77, P4L = 0xc2b2ae63;
const P5H = 0x27d4eb2f, P5L = 0x165667c5;
const TWO32 = 4294967296;
const INV_TWO32 = 1 / TWO32; // exact: a power of two

/**
 * Result registers of the 64-bit helpers. A typed array rather than two variables: a value above
 * 2^31 stored in a variable that outlives the function is boxed on the heap, which made this code
 * several times slower.
 */
const R = new Uint32Array(2);

/** (ah:al) + (bh:bl) mod 2^64. */
function add(ah: number, al: number, bh: number, bl: number): void {
  const low = (al >>> 0) + (bl >>> 0);
  R[1] = low;
  R[0] = ah + bh + (low >= TWO32 ? 1 : 0);
}

/**
 * (ah:al) × (bh:bl) mod 2^64. The low half of al × bl is exact with Math.imul; its high half comes
 * from the product as a double, which is within 2^12 of the true one: removing the exact low half
 * leaves a value within 2^12 of a multiple of 2^32, so rounding finds that multiple exactly.
 */
function mul(ah: number, al: number, bh: number, bl: number): void {
  const low = Math.imul(al, bl);
  R[1] = low;
  R[0] = Math.round(((al >>> 0) * (bl >>> 0) - (low >>> 0)) * INV_TWO32) + Math.imul(ah, bl) + Math.imul(al, bh);
}

/** (h:l) rotated left by r, 0 < r < 32. */
function rotl(h: number, l: number, r: number): void {
  R[0] = (h << r) | (l >>> (32 - r));
  R[1] = (l << r) | (h >>> (32 - r));
}

/** One XXH64 round: rotl(acc + input × P2, 31) × P1. */
function round(ah: number, al: number, ih: number, il: number): void {
  mul(ih, il, P2H, P2L);
  add(ah, al, R[0]!, R[1]!);
  rotl(R[0]!, R[1]!, 31);
  mul(R[0]!, R[1]!, P1H, P1L);
}

const readU32 = (b: Uint8Array, p: number): number => (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;

/** A streaming XXH64 digest with a 64-bit seed. */
export class Xxh64 {
  /** The four accumulators, as high and low halves: v1h, v1l, v2h, ... v4l. */
  private readonly v = new Uint32Array(8);
  private total = 0;
  private readonly buf = new Uint8Array(32);
  private buffered = 0;

  constructor(private readonly seedHigh: number, private readonly seedLow: number) {
    this.reset();
  }

  /** Starts a new digest. */
  reset(): this {
    const { v, seedHigh: sh, seedLow: sl } = this;
    add(sh, sl, P1H, P1L);
    add(R[0]!, R[1]!, P2H, P2L);
    v[0] = R[0]!; v[1] = R[1]!;
    add(sh, sl, P2H, P2L);
    v[2] = R[0]!; v[3] = R[1]!;
    v[4] = sh; v[5] = sl;
    add(sh, sl, ~P1H, ~P1L); // seed - P1 = seed + ~P1 + 1
    add(R[0]!, R[1]!, 0, 1);
    v[6] = R[0]!; v[7] = R[1]!;
    this.total = 0;
    this.buffered = 0;
    return this;
  }

  update(data: Uint8Array): this {
    const n = data.length;
    let p = 0;
    this.total += n;
    if (this.buffered + n < 32) {
      this.buf.set(data, this.buffered);
      this.buffered += n;
      return this;
    }
    if (this.buffered > 0) {
      p = 32 - this.buffered;
      this.buf.set(data.subarray(0, p), this.buffered);
      stripes(this.v, this.buf, 0, 32);
      this.buffered = 0;
    }
    const end = p + ((n - p) & ~31);
    stripes(this.v, data, p, end);
    if (end < n) {
      this.buf.set(data.subarray(end), 0);
      this.buffered = n - end;
    }
    return this;
  }

  /** The digest as [high, low] 32-bit halves; the state is left as it was. */
  digest(): [number, number] {
    const { v } = this;
    let hh: number, hl: number;
    if (this.total >= 32) {
      rotl(v[0]!, v[1]!, 1); hh = R[0]!; hl = R[1]!;
      rotl(v[2]!, v[3]!, 7); add(hh, hl, R[0]!, R[1]!); hh = R[0]!; hl = R[1]!;
      rotl(v[4]!, v[5]!, 12); add(hh, hl, R[0]!, R[1]!); hh = R[0]!; hl = R[1]!;
      rotl(v[6]!, v[7]!, 18); add(hh, hl, R[0]!, R[1]!); hh = R[0]!; hl = R[1]!;
      for (let i = 0; i < 8; i += 2) {
        round(0, 0, v[i]!, v[i + 1]!);
        mul(hh ^ R[0]!, hl ^ R[1]!, P1H, P1L);
        add(R[0]!, R[1]!, P4H, P4L);
        hh = R[0]!; hl = R[1]!;
      }
    } else {
      add(this.seedHigh, this.seedLow, P5H, P5L);
      hh = R[0]!; hl = R[1]!;
    }
    add(hh, hl, Math.floor(this.total / TWO32), this.total);
    hh = R[0]!; hl = R[1]!;
    const b = this.buf, n = this.buffered;
    let p = 0;
    for (; p + 8 <= n; p += 8) {
      round(0, 0, readU32(b, p + 4), readU32(b, p));
      rotl(hh ^ R[0]!, hl ^ R[1]!, 27);
      mul(R[0]!, R[1]!, P1H, P1L);
      add(R[0]!, R[1]!, P4H, P4L);
      hh = R[0]!; hl = R[1]!;
    }
    if (p + 4 <= n) {
      mul(0, readU32(b, p), P1H, P1L);
      rotl(hh ^ R[0]!, hl ^ R[1]!, 23);
      mul(R[0]!, R[1]!, P2H, P2L);
      add(R[0]!, R[1]!, P3H, P3L);
      hh = R[0]!; hl = R[1]!;
      p += 4;
    }
    for (; p < n; p++) {
      mul(0, b[p]!, P5H, P5L);
      rotl(hh ^ R[0]!, hl ^ R[1]!, 11);
      mul(R[0]!, R[1]!, P1H, P1L);
      hh = R[0]!; hl = R[1]!;
    }
    // Avalanche: h ^= h >>> 33; h *= P2; h ^= h >>> 29; h *= P3; h ^= h >>> 32.
    mul(hh, hl ^ (hh >>> 1), P2H, P2L);
    hh = R[0]!; hl = R[1]!;
    mul(hh ^ (hh >>> 29), hl ^ ((hl >>> 29) | (hh << 3)), P3H, P3L);
    return [R[0]!, (R[1]! ^ R[0]!) >>> 0];
  }

  /** A copy of the state, for {@link Xxh64.load}. */
  save(): Xxh64State {
    return { v: this.v.slice(), total: this.total, buf: this.buf.slice(0, this.buffered) };
  }

  /** Goes back to a state from {@link Xxh64.save} of a digest with the same seed. */
  load(state: Xxh64State): this {
    this.v.set(state.v);
    this.total = state.total;
    this.buf.set(state.buf, 0);
    this.buffered = state.buf.length;
    return this;
  }
}

/** Runs the four lanes over the 32-byte stripes of d[p, end). */
function stripes(v: Uint32Array, d: Uint8Array, p: number, end: number): void {
  for (; p < end; p += 32) {
    for (let lane = 0; lane < 8; lane += 2) {
      const at = p + lane * 4;
      round(v[lane]!, v[lane + 1]!, readU32(d, at + 4), readU32(d, at));
      v[lane] = R[0]!;
      v[lane + 1] = R[1]!;
    }
  }
}

/** What {@link Xxh64.save} returns. */
export interface Xxh64State {
  readonly v: Uint32Array;
  readonly total: number;
  readonly buf: Uint8Array;
}
