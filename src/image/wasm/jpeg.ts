// @jsquash/jpeg (MozJPEG compiled to WASM), the portable JPEG codec for Deno
// and Node. Loaded lazily through a dynamic import, like ./png.ts.

import encWasm from '@jsquash/jpeg/codec/enc/mozjpeg_enc.wasm';
import decWasm from '@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm';
import encode, { init as initEncode } from '@jsquash/jpeg/encode.js';
import decode, { init as initDecode } from '@jsquash/jpeg/decode.js';
import { compileWasmAsset } from './load.ts';
import type { Raster } from '../raster.ts';

let encReady: Promise<void> | undefined;
let decReady: Promise<void> | undefined;

/** Encodes RGBA pixels as a baseline JPEG; alpha is dropped, as PIL's convert('RGB') does. */
export async function wasmEncodeJpeg(r: Raster, quality: number): Promise<Uint8Array<ArrayBuffer>> {
  encReady ??= compileWasmAsset(encWasm).then((m) => initEncode(m));
  await encReady;
  const out = await encode({ data: r.data, width: r.width, height: r.height, colorSpace: 'srgb' } as ImageData, {
    quality,
    // Standard (Annex K) tables, baseline, 4:2:0, no trellis: the quality scale
    // of libjpeg/Pillow and Bun.Image, and 4-5x faster than jsquash's defaults.
    // optimize_coding must stay on: this MozJPEG build writes corrupt
    // Huffman data for saturated colours with the standard tables.
    quant_table: 0,
    baseline: true,
    progressive: false,
    optimize_coding: true,
    trellis_multipass: false,
    trellis_opt_zero: false,
    trellis_opt_table: false,
    trellis_loops: 1,
    auto_subsample: false,
    chroma_subsample: 2,
  });
  return new Uint8Array(out);
}

/** Decodes a JPEG to an opaque RGBA raster. */
export async function wasmDecodeJpeg(bytes: Uint8Array): Promise<Raster> {
  decReady ??= compileWasmAsset(decWasm).then((m) => initDecode(m));
  await decReady;
  const img = await decode(bytes as unknown as ArrayBuffer); // both decoders copy from any byte view
  return { width: img.width, height: img.height, data: new Uint8ClampedArray(img.data) };
}
