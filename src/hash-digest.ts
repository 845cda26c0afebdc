/**
 * The digest behind `hash()`: 128 bits, made of two XXH64 digests of the same bytes with two
 * different seeds, high halves first.
 *
 * Why XXH64: it is a non-cryptographic hash built for speed, several times faster than SHA-1 with
 * SHA-NI, the fastest digest node:crypto offers. A memo cache of one's own computations needs no
 * defence against inputs crafted to collide, only that accidental collisions be out of reach, which
 * 128 bits of two independently seeded digests give.
 *
 * It runs as a small WebAssembly module of our own (`xxh64-pair.wat`, assembled into
 * `xxh64-pair.wasm` by the build), compiled synchronously on first use: it computes both digests in
 * one pass, and each update or digest is one call, which matters for cache keys of a few dozen bytes
 * (a 40-byte key: about 0.2 µs, against 0.8 µs through a general-purpose hasher's wrapper). Where
 * WebAssembly is switched off (`node --jitless`), the plain TypeScript version (`xxhash64.ts`) gives
 * the same digests, about twenty times slower.
 */
import { readFileSync } from 'node:fs';
import { Xxh64, type Xxh64State } from './xxhash64.js';

// The two seeds, as [high, low] 32-bit halves. Changing them changes every digest.
const SEED_A = [0, 0] as const;
const SEED_B = [0x9e3779b9, 0x7f4a7c15] as const;

/**
 * A running 128-bit digest. After {@link Digest128.hex} or {@link Digest128.bytes}, call reset()
 * before reuse.
 */
export interface Digest128 {
  reset(): void;
  update(data: Uint8Array): void;
  /** The digest as 32 lowercase hex characters. */
  hex(): string;
  /** The digest as 16 bytes: each half big-endian, high half first. */
  bytes(): Uint8Array;
  /** A copy of the state, so that a nested digest can use this object and then give it back. */
  save(): unknown;
  load(state: unknown): void;
}

/** The plain TypeScript build: two seeded XXH64 digests fed the same bytes. */
class TypeScriptDigest implements Digest128 {
  private readonly a = new Xxh64(SEED_A[0], SEED_A[1]);
  private readonly b = new Xxh64(SEED_B[0], SEED_B[1]);
  private readonly out = Buffer.alloc(16);

  reset(): void {
    this.a.reset();
    this.b.reset();
  }
  update(data: Uint8Array): void {
    this.a.update(data);
    this.b.update(data);
  }
  hex(): string {
    return this.digest().toString('hex');
  }
  bytes(): Uint8Array {
    return Buffer.from(this.digest());
  }
  save(): unknown {
    return [this.a.save(), this.b.save()];
  }
  load(state: unknown): void {
    const [a, b] = state as [Xxh64State, Xxh64State];
    this.a.load(a);
    this.b.load(b);
  }
  private digest(): Buffer {
    const [aHigh, aLow] = this.a.digest();
    const [bHigh, bLow] = this.b.digest();
    this.out.writeUInt32BE(aHigh, 0);
    this.out.writeUInt32BE(aLow, 4);
    this.out.writeUInt32BE(bHigh, 8);
    this.out.writeUInt32BE(bLow, 12);
    return this.out;
  }
}

/** Where `xxh64-pair.wat` keeps things in its memory (the module's header comment has the layout). */
const INPUT_BYTES = 65_536;
const STATE_AT = 65_536, STATE_BYTES = 112, DIGEST_AT = 65_664;

interface PairExports {
  readonly memory: WebAssembly.Memory;
  seed(aHigh: number, aLow: number, bHigh: number, bLow: number): void;
  reset(): void;
  update(n: number): void;
  digest(): void;
}

/** The WebAssembly build: one instance of `xxh64-pair.wasm` and views of its memory. */
class WasmDigest implements Digest128 {
  private readonly x: PairExports;
  private readonly input: Uint8Array;
  private readonly state: Uint8Array;
  private readonly out: Buffer;

  constructor(module: WebAssembly.Module) {
    this.x = new WebAssembly.Instance(module, {}).exports as unknown as PairExports;
    const memory = this.x.memory.buffer; // never grown: the views stay valid
    this.input = new Uint8Array(memory, 0, INPUT_BYTES);
    this.state = new Uint8Array(memory, STATE_AT, STATE_BYTES);
    this.out = Buffer.from(memory, DIGEST_AT, 16);
    this.x.seed(SEED_A[0], SEED_A[1], SEED_B[0], SEED_B[1]);
    this.x.reset();
  }

  reset(): void {
    this.x.reset();
  }
  update(data: Uint8Array): void {
    const n = data.length;
    // A cache key is one short update: no subarray to allocate.
    if (n <= INPUT_BYTES) {
      this.input.set(data);
      this.x.update(n);
      return;
    }
    for (let at = 0; at < n; at += INPUT_BYTES) {
      const piece = data.subarray(at, at + INPUT_BYTES);
      this.input.set(piece);
      this.x.update(piece.length);
    }
  }
  hex(): string {
    this.x.digest();
    return this.out.toString('hex');
  }
  bytes(): Uint8Array {
    this.x.digest();
    return Buffer.from(this.out);
  }
  save(): unknown {
    return this.state.slice();
  }
  load(state: unknown): void {
    this.state.set(state as Uint8Array);
  }
}

/** A digest on the TypeScript version alone (also for tests that compare both versions). */
export function typescriptDigest(): Digest128 {
  return new TypeScriptDigest();
}

/** The compiled module; `null` where WebAssembly is switched off. */
let wasmModule: WebAssembly.Module | null | undefined;

function compiledModule(): WebAssembly.Module | null {
  if (wasmModule === undefined) {
    // A missing or unreadable module file is a broken install: that throws, rather than going
    // twenty times slower unnoticed.
    wasmModule = typeof WebAssembly === 'object' ? new WebAssembly.Module(readFileSync(new URL('./xxh64-pair.wasm', import.meta.url))) : null;
  }
  return wasmModule;
}

/** A new digest, on the WebAssembly build where there is one (each owns an instance of the module). */
export function newDigest(): Digest128 {
  const module = compiledModule();
  return module === null ? new TypeScriptDigest() : new WasmDigest(module);
}

/** Which build computes the digests in this process. */
export function digestBuild(): 'webassembly' | 'typescript' {
  return compiledModule() === null ? 'typescript' : 'webassembly';
}

