// A small PNG reader in plain TypeScript. Its main job is the second half of
// the Bun.Image bridge: Bun.Image can only hand pixels back as an encoded
// image, so we ask it for a compression-level-0 PNG, whose zlib stream is
// made of "stored" deflate blocks that are copied out without inflating.
// Compressed streams still work (through DecompressionStream, present in
// Bun, Deno and Node), so this is also a complete non-interlaced PNG decoder.

import type { Raster } from './raster.ts';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

interface Header {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  interlace: number;
}

/** Decodes a non-interlaced PNG of any colour type and bit depth into an RGBA raster. */
export async function decodePng(bytes: Uint8Array): Promise<Raster> {
  const { header, idat, palette, trns } = readChunks(bytes);
  if (header.interlace !== 0) throw new Error('interlaced PNG is not supported by the built-in PNG reader');
  const raw = inflateStored(idat) ?? (await inflateAny(idat));
  const channels = CHANNELS[header.colorType];
  if (channels === undefined) throw new Error(`PNG colour type ${header.colorType} is invalid`);
  const bpp = Math.max(1, (channels * header.bitDepth) >> 3);
  const stride = (header.width * channels * header.bitDepth + 7) >> 3;
  if (raw.length < (stride + 1) * header.height) throw new Error('PNG image data is truncated');
  unfilter(raw, header.height, stride, bpp);
  return toRgba(raw, header, stride, palette, trns);
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

function readChunks(b: Uint8Array) {
  for (let i = 0; i < 8; i++) if (b[i] !== SIGNATURE[i]) throw new Error('not a PNG');
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let header: Header | undefined;
  const parts: Uint8Array[] = [];
  let palette: Uint8Array | undefined;
  let trns: Uint8Array | undefined;
  let p = 8;
  while (p + 8 <= b.length) {
    const len = v.getUint32(p);
    const type = String.fromCharCode(b[p + 4], b[p + 5], b[p + 6], b[p + 7]);
    const data = b.subarray(p + 8, p + 8 + len);
    if (type === 'IHDR') {
      header = {
        width: v.getUint32(p + 8),
        height: v.getUint32(p + 12),
        bitDepth: b[p + 16],
        colorType: b[p + 17],
        interlace: b[p + 20],
      };
    } else if (type === 'IDAT') parts.push(data);
    else if (type === 'PLTE') palette = data;
    else if (type === 'tRNS') trns = data;
    else if (type === 'IEND') break;
    p += 12 + len;
  }
  if (!header) throw new Error('PNG has no IHDR');
  return { header, idat: concat(parts), palette, trns };
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  let n = 0;
  for (const x of parts) n += x.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const x of parts) {
    out.set(x, o);
    o += x.length;
  }
  return out;
}

/** Copies out a zlib stream made only of stored blocks; undefined when it holds compressed blocks. */
function inflateStored(z: Uint8Array): Uint8Array | undefined {
  if (z.length < 2 || (z[0] & 0x0f) !== 8) return undefined;
  // First pass sizes the output so the copy is one allocation.
  let p = 2;
  let total = 0;
  for (;;) {
    if (p + 5 > z.length) return undefined;
    const head = z[p];
    if ((head & 0x06) !== 0) return undefined; // BTYPE != 00
    const len = z[p + 1] | (z[p + 2] << 8);
    total += len;
    p += 5 + len;
    if (head & 1) break;
  }
  const out = new Uint8Array(total);
  p = 2;
  let o = 0;
  for (;;) {
    const head = z[p];
    const len = z[p + 1] | (z[p + 2] << 8);
    out.set(z.subarray(p + 5, p + 5 + len), o);
    o += len;
    p += 5 + len;
    if (head & 1) break;
  }
  return out;
}

async function inflateAny(z: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([z as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function unfilter(raw: Uint8Array, height: number, stride: number, bpp: number): void {
  // Rows are unfiltered in place; row y's data starts at y*(stride+1)+1.
  for (let y = 0; y < height; y++) {
    const row = y * (stride + 1);
    const ftype = raw[row];
    const cur = row + 1;
    const prev = cur - (stride + 1); // only read when y > 0
    switch (ftype) {
      case 0:
        break;
      case 1:
        for (let i = bpp; i < stride; i++) raw[cur + i] = (raw[cur + i] + raw[cur + i - bpp]) & 0xff;
        break;
      case 2:
        if (y > 0) for (let i = 0; i < stride; i++) raw[cur + i] = (raw[cur + i] + raw[prev + i]) & 0xff;
        break;
      case 3:
        for (let i = 0; i < stride; i++) {
          const left = i >= bpp ? raw[cur + i - bpp] : 0;
          const up = y > 0 ? raw[prev + i] : 0;
          raw[cur + i] = (raw[cur + i] + ((left + up) >> 1)) & 0xff;
        }
        break;
      case 4:
        for (let i = 0; i < stride; i++) {
          const a = i >= bpp ? raw[cur + i - bpp] : 0;
          const b = y > 0 ? raw[prev + i] : 0;
          const c = i >= bpp && y > 0 ? raw[prev + i - bpp] : 0;
          const pa = Math.abs(b - c);
          const pb = Math.abs(a - c);
          const pc = Math.abs(a + b - 2 * c);
          const pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          raw[cur + i] = (raw[cur + i] + pred) & 0xff;
        }
        break;
      default:
        throw new Error(`PNG filter type ${ftype} is invalid`);
    }
  }
}

function toRgba(raw: Uint8Array, h: Header, stride: number, palette?: Uint8Array, trns?: Uint8Array): Raster {
  const { width, height, bitDepth, colorType } = h;
  const out = new Uint8ClampedArray(width * height * 4);
  // The common case (what Bun.Image emits) is 8-bit RGBA: one copy per row.
  if (colorType === 6 && bitDepth === 8) {
    for (let y = 0; y < height; y++) {
      const s = y * (stride + 1) + 1;
      out.set(raw.subarray(s, s + stride), y * width * 4);
    }
    return { width, height, data: out };
  }
  const sample = (row: number, index: number): number => {
    // index counts samples within the row; returns the value scaled to 8 bits
    if (bitDepth === 8) return raw[row + index];
    if (bitDepth === 16) return raw[row + index * 2];
    const perByte = 8 / bitDepth;
    const byte = raw[row + Math.floor(index / perByte)];
    const shift = 8 - bitDepth * (1 + (index % perByte));
    return (byte >> shift) & ((1 << bitDepth) - 1);
  };
  const scale = bitDepth < 8 ? 255 / ((1 << bitDepth) - 1) : 1;
  // tRNS for grey/RGB holds 16-bit values compared against the unscaled samples.
  const trnsValue = (i: number): number => (trns ? (trns[i * 2] << 8) | trns[i * 2 + 1] : -1);
  const raw16 = (row: number, index: number): number =>
    bitDepth === 16 ? (raw[row + index * 2] << 8) | raw[row + index * 2 + 1] : sample(row, index);
  for (let y = 0; y < height; y++) {
    const row = y * (stride + 1) + 1;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      switch (colorType) {
        case 0: {
          const g = sample(row, x);
          const v = Math.round(g * scale);
          out[o] = out[o + 1] = out[o + 2] = v;
          out[o + 3] = trns && raw16(row, x) === trnsValue(0) ? 0 : 255;
          break;
        }
        case 2: {
          out[o] = sample(row, x * 3);
          out[o + 1] = sample(row, x * 3 + 1);
          out[o + 2] = sample(row, x * 3 + 2);
          const transparent = trns
            && raw16(row, x * 3) === trnsValue(0)
            && raw16(row, x * 3 + 1) === trnsValue(1)
            && raw16(row, x * 3 + 2) === trnsValue(2);
          out[o + 3] = transparent ? 0 : 255;
          break;
        }
        case 3: {
          const idx = sample(row, x);
          if (!palette || idx * 3 + 2 >= palette.length) throw new Error('PNG palette index out of range');
          out[o] = palette[idx * 3];
          out[o + 1] = palette[idx * 3 + 1];
          out[o + 2] = palette[idx * 3 + 2];
          out[o + 3] = trns && idx < trns.length ? trns[idx] : 255;
          break;
        }
        case 4: {
          const g = sample(row, x * 2);
          out[o] = out[o + 1] = out[o + 2] = g;
          out[o + 3] = sample(row, x * 2 + 1);
          break;
        }
        case 6:
          out[o] = sample(row, x * 4);
          out[o + 1] = sample(row, x * 4 + 1);
          out[o + 2] = sample(row, x * 4 + 2);
          out[o + 3] = sample(row, x * 4 + 3);
          break;
      }
    }
  }
  return { width, height, data: out };
}
