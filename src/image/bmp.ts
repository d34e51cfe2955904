// Raster -> uncompressed 32-bit BMP, the way raw pixels get into a codec
// that only accepts encoded images (Bun.Image). BITMAPV4 with BI_BITFIELDS
// lets the masks name the bytes in R,G,B,A memory order, so the pixel data
// is one straight copy of the raster, and a negative height makes the rows
// top-down like ours: no swizzling, no row flipping.

import type { Raster } from './raster.ts';

const FILE_HEADER = 14;
const V4_HEADER = 108;
const BI_BITFIELDS = 3;
const LCS_SRGB = 0x73524742; // 'sRGB'

/** Encodes a raster as a top-down 32-bit BMP; withAlpha=false marks alpha unused so readers treat it as opaque. */
export function rasterToBmp(r: Raster, withAlpha = true): Uint8Array {
  const pixelBytes = r.width * r.height * 4;
  const offset = FILE_HEADER + V4_HEADER;
  const out = new Uint8Array(offset + pixelBytes);
  const v = new DataView(out.buffer);
  out[0] = 0x42; // 'B'
  out[1] = 0x4d; // 'M'
  v.setUint32(2, out.length, true);
  v.setUint32(10, offset, true);
  v.setUint32(14, V4_HEADER, true);
  v.setInt32(18, r.width, true);
  v.setInt32(22, -r.height, true);
  v.setUint16(26, 1, true); // planes
  v.setUint16(28, 32, true); // bits per pixel
  v.setUint32(30, BI_BITFIELDS, true);
  v.setUint32(34, pixelBytes, true);
  v.setUint32(38, 2835, true); // 72 dpi, informational only
  v.setUint32(42, 2835, true);
  // Masks as little-endian uint32 over the bytes R,G,B,A.
  v.setUint32(54, 0x000000ff, true);
  v.setUint32(58, 0x0000ff00, true);
  v.setUint32(62, 0x00ff0000, true);
  v.setUint32(66, withAlpha ? 0xff000000 : 0, true);
  v.setUint32(70, LCS_SRGB, true);
  out.set(r.data, offset);
  return out;
}
