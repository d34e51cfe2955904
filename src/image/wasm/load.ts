// Turns an imported .wasm asset into a compiled module, whichever form the
// import produced (embedded bytes in the bundle, a path under `bun file.ts`).

import { Buffer } from 'node:buffer';
import { readFileBytes } from '../../runtime/runtime.ts';

/** Compiles an imported .wasm asset; accepts embedded bytes or a file path. */
export async function compileWasmAsset(asset: Uint8Array | string): Promise<WebAssembly.Module> {
  const bytes = typeof asset === 'string' ? await readFileBytes(asset) : asset;
  return WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
}

/**
 * Grows `memory` to at least `bytes`; false when the runtime has no memory
 * to give (the caller then does the work another way). True when it was
 * big enough already; views of the old buffer are stale after a grow.
 */
export function growMemory(memory: WebAssembly.Memory, bytes: number): boolean {
  const have = memory.buffer.byteLength;
  if (bytes <= have) return true;
  try {
    memory.grow(Math.ceil((bytes - have) / 65536));
    return true;
  } catch {
    return false;
  }
}

/** `n` rounded up to a multiple of 16: where the modules' vector loops want their regions to start. */
export const align16 = (n: number): number => (n + 15) & ~15;

/**
 * The exports of a module given as base64 (a generated NAME-wasm.ts),
 * compiled and instantiated synchronously on the first call and kept; null
 * where the runtime cannot (no WebAssembly, or no SIMD): the caller then
 * does the work in JS.
 */
export function lazyInstance<T>(base64: string): () => T | null {
  let exports: T | null | undefined;
  return () => {
    if (exports !== undefined) return exports;
    try {
      exports = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(base64, 'base64')), {}).exports as unknown as T;
    } catch {
      exports = null;
    }
    return exports;
  };
}
