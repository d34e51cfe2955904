// Turns an imported .wasm asset into a compiled module, whichever form the
// import produced (embedded bytes in the bundle, a path under `bun file.ts`).

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
