// hash-wasm's per-algorithm bundles (a fraction of the size of its full entry, so quicker to load)
// ship no declarations; this declares the one that joblib-ts loads. It is CommonJS: its exports
// arrive as the default export.
declare module 'hash-wasm/dist/xxhash64.umd.min.js' {
  export interface Hasher {
    init(): Hasher;
    update(data: Uint8Array | string): Hasher;
    digest(outputType: 'hex'): string;
    digest(outputType: 'binary'): Uint8Array;
    save(): Uint8Array;
    load(state: Uint8Array): Hasher;
  }
  const hashWasm: {
    /** A seeded XXH64 hasher; the seed is given as its low then high 32 bits. */
    createXXHash64(seedLow?: number, seedHigh?: number): Promise<Hasher>;
  };
  export default hashWasm;
}
