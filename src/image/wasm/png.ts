// @jsquash/png (Rust png crate compiled to WASM), the portable PNG decoder
// for Deno and Node (interlaced, 16-bit, palette: every PNG a server may
// send). Imported only through a dynamic import so that neither the module
// nor its embedded WASM is evaluated unless needed. Its encoder is not used:
// its output is ~5x larger than zlib's, see ../png-encode.ts.

// @ts-expect-error -- the package's .wasm.d.ts types the instance exports; the import yields bytes (esbuild) or a path (bun)
import pngWasm from '@jsquash/png/codec/pkg/squoosh_png_bg.wasm';
import decode, { init as initDecode } from '@jsquash/png/decode.js';
import { compileWasmAsset } from './load.ts';
import type { Raster } from '../raster.ts';

let ready: Promise<void> | undefined;

function init(): Promise<void> {
  ready ??= compileWasmAsset(pngWasm as Uint8Array | string).then(async (mod) => {
    await initDecode(mod);
  });
  return ready;
}

/** Decodes any PNG to an RGBA raster. */
export async function wasmDecodePng(bytes: Uint8Array): Promise<Raster> {
  await init();
  const img = await decode(bytes as unknown as ArrayBuffer); // both decoders copy from any byte view
  return { width: img.width, height: img.height, data: new Uint8ClampedArray(img.data) };
}
