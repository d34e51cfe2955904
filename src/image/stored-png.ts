// A raster as an uncompressed PNG: scanlines with filter type 0 in stored
// deflate blocks. It is how pixels reach Bun.Image's encoders: for a
// 1024x768 JPEG, Bun.Image spent ~8 ms more reading our BMP than reading
// this PNG (same JPEG bytes), and the PNG takes ~1-2 ms to build with the
// packing and adler-32 in WebAssembly (unfilter.wat), against ~0.6 ms for
// the BMP.

import { Buffer } from 'node:buffer';
import { crc32 } from 'node:zlib';
import { PNG_SIGNATURE, writeChunkType } from './png-chunk.ts';
import type { Raster } from './raster.ts';
import { packScanlines } from './wasm/unfilter.ts';

/** The most a stored deflate block holds. */
const MAX_STORED = 65535;
/** Signature, IHDR chunk, IDAT's length and type: where the zlib stream starts. */
const ZLIB_AT = 8 + 25 + 8;

/**
 * The raster as an 8-bit PNG without compression: RGB with `alpha` false
 * (alpha dropped, as PIL's convert('RGB') does), else RGBA. Undefined where
 * WebAssembly is not there, or a scanline does not fit one stored block
 * (wider than 21,844 RGB or 16,383 RGBA pixels): the caller goes another way.
 */
export function storedPng(r: Raster, alpha: boolean): Uint8Array | undefined {
  const { width, height } = r;
  const line = width * (alpha ? 4 : 3) + 1;
  if (width < 1 || height < 1 || line > MAX_STORED) return undefined;
  // whole scanlines a block, so each strip's rows go out in a few copies
  const perBlock = Math.floor(MAX_STORED / line);
  const blocks = Math.ceil(height / perBlock);
  const zlen = 2 + blocks * 5 + line * height + 4;
  // every byte is written below: no zeroing of megabytes
  const buf = Buffer.allocUnsafeSlow(ZLIB_AT + zlen + 4 + 12);
  const out = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
  const v = new DataView(out.buffer);
  out.set(PNG_SIGNATURE);
  v.setUint32(8, 13);
  writeChunkType(out, 12, 'IHDR');
  v.setUint32(16, width);
  v.setUint32(20, height);
  out[24] = 8; // bit depth
  out[25] = alpha ? 6 : 2; // RGBA or RGB
  out[26] = out[27] = out[28] = 0; // compression, filter and interlace
  v.setUint32(29, crc32(out.subarray(12, 29)) >>> 0);
  v.setUint32(33, zlen);
  writeChunkType(out, 37, 'IDAT');
  out[ZLIB_AT] = 0x78; // deflate, 32 KB window
  out[ZLIB_AT + 1] = 0x01; // no preset dictionary, check bits
  const adler = packScanlines(r.data, width, height, !alpha, (lines, first, count) => {
    for (let y = first; y < first + count; ) {
      const b = Math.floor(y / perBlock);
      const blockEnd = Math.min(height, (b + 1) * perBlock);
      const at = ZLIB_AT + 2 + (b + 1) * 5 + y * line;
      if (y === b * perBlock) {
        const len = (blockEnd - y) * line;
        out[at - 5] = b === blocks - 1 ? 1 : 0; // BFINAL, BTYPE 00
        out[at - 4] = len & 0xff;
        out[at - 3] = len >>> 8;
        out[at - 2] = ~len & 0xff;
        out[at - 1] = (~len >>> 8) & 0xff;
      }
      const end = Math.min(blockEnd, first + count);
      out.set(lines.subarray((y - first) * line, (end - first) * line), at);
      y = end;
    }
  });
  if (adler === undefined) return undefined;
  const idatEnd = ZLIB_AT + zlen;
  v.setUint32(idatEnd - 4, adler);
  v.setUint32(idatEnd, crc32(out.subarray(37, idatEnd)) >>> 0);
  // IEND: length 0, its type, and the CRC of the type
  v.setUint32(idatEnd + 4, 0);
  writeChunkType(out, idatEnd + 8, 'IEND');
  v.setUint32(idatEnd + 12, 0xae426082);
  return out;
}
