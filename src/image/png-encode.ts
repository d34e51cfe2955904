// A PNG writer in plain TypeScript over node:zlib (present in Bun, Deno and
// Node). Used where Bun.Image is absent: the WASM PNG encoder compresses
// poorly (about 5x larger map tiles), and zlib plus per-row adaptive
// filtering matches libpng/Pillow sizes while honouring the compression level.

import { deflateSync } from 'node:zlib';
import { PNG_SIGNATURE, writeChunkType } from './png-chunk.ts';
import type { Raster } from './raster.ts';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(b: Uint8Array, start: number, end: number): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Encodes a raster as 8-bit PNG (RGBA, or RGB when fully opaque) at zlib level 0..9. */
export function encodePng(r: Raster, level = 6): Uint8Array<ArrayBuffer> {
  const { width, height, data } = r;
  let opaque = true;
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 255) { opaque = false; break; }
  const bpp = opaque ? 3 : 4;
  const stride = width * bpp;
  // Scanlines without filtering first, so filters can read the previous row.
  const lines = new Uint8Array(stride * height);
  if (opaque) {
    for (let s = 0, d = 0; s < data.length; s += 4, d += 3) {
      lines[d] = data[s]; lines[d + 1] = data[s + 1]; lines[d + 2] = data[s + 2];
    }
  } else {
    lines.set(data);
  }
  const filtered = level === 0 ? noFilter(lines, height, stride) : adaptiveFilter(lines, height, stride, bpp);
  const idat = deflateSync(filtered, { level });
  const out = new Uint8Array(8 + 25 + 12 + idat.length + 12);
  const v = new DataView(out.buffer);
  out.set(PNG_SIGNATURE);
  let p = 8;
  const chunk = (type: string, len: number, write: (at: number) => void) => {
    v.setUint32(p, len);
    writeChunkType(out, p + 4, type);
    write(p + 8);
    v.setUint32(p + 8 + len, crc32(out, p + 4, p + 8 + len));
    p += 12 + len;
  };
  chunk('IHDR', 13, (at) => {
    v.setUint32(at, width);
    v.setUint32(at + 4, height);
    out[at + 8] = 8;
    out[at + 9] = opaque ? 2 : 6;
  });
  chunk('IDAT', idat.length, (at) => out.set(idat, at));
  chunk('IEND', 0, () => {});
  return out;
}

function noFilter(lines: Uint8Array, height: number, stride: number): Uint8Array {
  const out = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) out.set(lines.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  return out;
}

/** libpng's heuristic: per row, the filter whose output has the smallest sum of |signed bytes|. */
function adaptiveFilter(lines: Uint8Array, height: number, stride: number, bpp: number): Uint8Array {
  const out = new Uint8Array((stride + 1) * height);
  const cand = [0, 1, 2, 3, 4].map(() => new Uint8Array(stride));
  const zero = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const cur = lines.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? lines.subarray((y - 1) * stride, y * stride) : zero;
    let best = 0;
    let bestSum = Infinity;
    for (let f = 0; f < 5; f++) {
      const o = cand[f];
      let sum = 0;
      for (let i = 0; i < stride; i++) {
        const a = i >= bpp ? cur[i - bpp] : 0;
        const b = up[i];
        let pred = 0;
        if (f === 1) pred = a;
        else if (f === 2) pred = b;
        else if (f === 3) pred = (a + b) >> 1;
        else if (f === 4) {
          const c = i >= bpp ? up[i - bpp] : 0;
          const pa = Math.abs(b - c);
          const pb = Math.abs(a - c);
          const pc = Math.abs(a + b - 2 * c);
          pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
        }
        const v = (cur[i] - pred) & 0xff;
        o[i] = v;
        sum += v < 128 ? v : 256 - v;
      }
      if (sum < bestSum) {
        bestSum = sum;
        best = f;
      }
    }
    const at = y * (stride + 1);
    out[at] = best;
    out.set(cand[best], at + 1);
  }
  return out;
}
