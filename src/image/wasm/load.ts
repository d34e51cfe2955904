// Turns an imported .wasm asset into a compiled module, whichever form the
// import produced (embedded bytes in the bundle, a path under `bun file.ts`).

import { readFileBytes } from '../../runtime/runtime.ts';

/** Compiles an imported .wasm asset; accepts embedded bytes or a file path. */
export async function compileWasmAsset(asset: Uint8Array | string): Promise<WebAssembly.Module> {
  const bytes = typeof asset === 'string' ? await readFileBytes(asset) : asset;
  return WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
}
