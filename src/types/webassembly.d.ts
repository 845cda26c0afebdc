// The part of the WebAssembly JavaScript API that hash-digest.ts uses. Node has it as a global, but
// its declarations live in TypeScript's DOM and web worker libraries, which this Node-only package
// does not load.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports: object);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
  }
}
