// Encoding a raster the way MapProxy's img_to_buf does for given image
// options: paletted PNG (its default for PNG caches), full-colour PNG, JPEG,
// GIF, TIFF/GeoTIFF (tiff-encode.ts), and the `mixed` format (PNG where there
// is transparency, else JPEG), which also serves WMS `image/vnd.jpeg-png`.
//
// Paletted PNGs are written here, over node:zlib, instead of Bun.Image's
// `png({ palette: true })`: that one took 9-24 ms per 256x256 tile here
// (BMP in, quantize and encode on a worker) against 0.5-3 ms for this path,
// its files were larger (map tile 6454 vs 3747 bytes), and its quantizer is
// not PIL's, so tiles would differ from MapProxy's in colour.
// Full-colour opaque PNGs go through png-encode.ts because Bun.Image always
// writes RGBA, which is ~15% larger than the RGB PNG MapProxy stores.

import { constants as zlibConstants, crc32 } from 'node:zlib';
import { encodeImage } from './codec.ts';
import type { ImageOptions } from './image-options.ts';
import { paletteSize, quantize, quantizeInto, type IndexedImage, type QuantizeOptions } from './palette.ts';
import { PNG_SIGNATURE, writeChunkType } from './png-chunk.ts';
import { encodePng } from './png-encode.ts';
import { isOpaque, type Raster } from './raster.ts';
import { encodeTiff, type GeoReference, type TiffCompression } from './tiff-encode.ts';
import { deflateZlib } from './zlib-handle.ts';

export interface EncodeContext {
  /**
   * globals.image.paletted (default true). MapProxy quantizes PNGs whose
   * options leave `colors` unset to 255 colours when it is on (img_to_buf),
   * e.g. WMS responses in a format no cache or source defines.
   */
  paletted?: boolean;
  /** zlib level for PNG, 0..9 (default 6, as PIL). */
  pngCompression?: number;
  /** Where the image lies; TIFF output then carries GeoTIFF tags (MapProxy's GeoReference of WMS GetMap). */
  georef?: GeoReference;
}

/** Encodes a raster as MapProxy would store or serve it with these image options. */
export async function encodeWithOptions(r: Raster, opts: ImageOptions, ctx: EncodeContext = {}): Promise<Uint8Array<ArrayBuffer>> {
  let colors = opts.colors;
  let transparent = opts.transparent;
  const level = ctx.pngCompression ?? 6;
  if (colors === undefined && (ctx.paletted ?? true) && opts.format.endsWith('png')) colors = 255;
  let kind = encoderFor(opts.format);
  if (kind === 'mixed') {
    // img_has_transparency: any alpha but 255.
    if (!isOpaque(r)) kind = 'png';
    else {
      kind = 'jpeg';
      colors = undefined;
      transparent = false;
    }
  }
  switch (kind) {
    case 'png':
      if (colors) {
        return encodeQuantizedPng(r, { colors, alpha: transparent === true, quantizer: opts.encoding.quantizer }, level);
      }
      if (opts.mode === 'RGB' || isOpaque(r)) return encodePng(opaqueCopy(r), level);
      return encodeImage(r, { format: 'png', pngCompression: level });
    case 'jpeg':
      return encodeImage(r, { format: 'jpeg', jpegQuality: opts.encoding.jpegQuality });
    case 'gif':
      return encodeGif(r, { colors: colors || 256, quantizer: opts.encoding.quantizer });
    case 'tiff':
      // Full colour whatever `colors` says; alpha only where the answer is
      // transparent. JPEG strips take the resolved jpeg_quality (MapProxy
      // passes only encoding_options.jpeg_quality, else libtiff's 75).
      return encodeTiff(r, {
        compression: (opts.encoding.tiffCompression ?? 'raw') as TiffCompression,
        alpha: opts.mode !== 'RGB' && (transparent === true || !isOpaque(r)),
        jpegQuality: opts.encoding.jpegQuality,
        georef: ctx.georef,
      });
    default:
      throw new Error(`cannot encode images as ${opts.format}`);
  }
}

/** The encoder for a format, as MapProxy's filter_format picks it ('png8', 'image/png; mode=8bit' -> png). */
function encoderFor(format: string): string {
  let ext = format.includes('/') ? format.slice(format.indexOf('/') + 1) : format;
  if (ext.includes(';')) ext = ext.slice(0, ext.indexOf(';'));
  ext = ext.trim().toLowerCase();
  if (ext.startsWith('png')) return 'png';
  if (ext === 'jpeg' || ext === 'jpg') return 'jpeg';
  if (ext === 'geotiff' || ext === 'tif') return 'tiff';
  // The vendor format of GeoServer and MapServer: JPEG when opaque, PNG otherwise.
  if (ext === 'vnd.jpeg-png') return 'mixed';
  return ext;
}

const ENCODERS: ReadonlySet<string> = new Set(['png', 'jpeg', 'gif', 'tiff', 'mixed']);

/** Whether encodeWithOptions can write a format ('image/GeoTIFF', 'image/png; mode=8bit', 'png8' ...). */
export function canEncode(format: string): boolean {
  return ENCODERS.has(encoderFor(format));
}

/** Whether a format picks PNG or JPEG per image (mixed, image/vnd.jpeg-png): its answers are labelled by their bytes. */
export function isMixedFormat(format: string): boolean {
  return encoderFor(format) === 'mixed';
}

/** The raster with alpha forced to 255 (PIL's convert('RGB'): colours kept, never blended); the same raster when already opaque. */
function opaqueCopy(r: Raster): Raster {
  if (isOpaque(r)) return r;
  const data = new Uint8ClampedArray(r.data);
  for (let i = 3; i < data.length; i += 4) data[i] = 255;
  return { width: r.width, height: r.height, data };
}

/** Fades a raster in place by MapProxy's layer opacity (alpha * int(255 * opacity) / 255) and returns it. */
export function applyOpacity(r: Raster, opacity: number | undefined): Raster {
  // MapProxy only fades for opacity < 1.0; None and >= 1 leave the image alone.
  if (opacity === undefined || !(opacity < 1)) return r;
  const factor = Math.max(0, Math.trunc(255 * opacity));
  const d = r.data;
  for (let i = 3; i < d.length; i += 4) d[i] = Math.trunc((d[i] * factor) / 255);
  return r;
}

/** Makes pixels within `tolerance` of `color` on every RGB channel transparent, in place (MapProxy's transparent_color); returns the raster. */
export function makeColorTransparent(r: Raster, color: readonly number[], tolerance = 5): Raster {
  // Other pixels keep their alpha: MapProxy multiplies the colour mask with
  // the existing alpha. 5 is its default transparent_color_tolerance.
  const [cr, cg, cb] = color;
  const t = tolerance;
  const d = r.data;
  for (let i = 0; i < d.length; i += 4) {
    if (Math.abs(d[i] - cr) <= t && Math.abs(d[i + 1] - cg) <= t && Math.abs(d[i + 2] - cb) <= t) d[i + 3] = 0;
  }
  return r;
}

/** Writes an indexed image as a paletted PNG (colour type 3, PLTE, tRNS when any entry has alpha < 255). */
export function encodeIndexedPng(img: IndexedImage, level = 6): Uint8Array<ArrayBuffer> {
  const { width, height, indices } = img;
  const scan = new Uint8Array((width + 1) * height);
  for (let y = 0; y < height; y++) scan.set(indices.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  return writeIndexedPng(width, height, scan, img.palette, level);
}

/**
 * Scanlines of paletted PNGs, reused between tiles up to this size (a
 * 512x512 image): a fresh zeroed buffer per 256x256 tile cost about as much
 * as the deflate of a simple tile.
 */
const MAX_SCAN_SCRATCH = 513 * 512;
let scanScratch = new Uint8Array(0);

/** Quantizes a raster straight into PNG scanlines (no index buffer, no copy) and writes the paletted PNG. */
export function encodeQuantizedPng(r: Raster, opts: QuantizeOptions, level = 6): Uint8Array<ArrayBuffer> {
  const { width, height } = r;
  const size = (width + 1) * height;
  let scan: Uint8Array;
  if (size > MAX_SCAN_SCRATCH) scan = new Uint8Array(size);
  else {
    if (scanScratch.length < size) scanScratch = new Uint8Array(Math.max(size, 257 * 256));
    scan = scanScratch;
  }
  const { palette } = quantizeInto(r, { out: scan, rowStride: width + 1, offset: 1 }, opts);
  return writeIndexedPng(width, height, scan, palette, level);
}

/**
 * The paletted PNG of 8-bit indices in `scan`: row y's filter byte at
 * y * (width + 1), its indices after it. Filter bytes are set here; for
 * small palettes the rows are packed in place, so `scan` is left changed.
 */
function writeIndexedPng(width: number, height: number, scan: Uint8Array, palette: Uint8Array, level: number): Uint8Array<ArrayBuffer> {
  const n = palette.length >> 2;
  // Fewer bits per pixel for small palettes: a 4-colour tile packs 4 pixels a byte.
  const depth = n <= 2 ? 1 : n <= 4 ? 2 : n <= 16 ? 4 : 8;
  const stride = Math.ceil((width * depth) / 8);
  const line = width + 1;
  if (depth === 8) {
    for (let y = 0; y < height; y++) scan[y * line] = 0;
  } else {
    // In place, front to back: row y's packed bytes start at y * (stride + 1),
    // never after its indices (y * line + 1), and a byte is written only
    // once every index it holds has been read.
    const perByte = 8 / depth;
    for (let y = 0; y < height; y++) {
      const src = y * line + 1;
      const row = y * (stride + 1);
      scan[row] = 0;
      for (let b = 0, x = 0; b < stride; b++) {
        let v = 0;
        for (let k = 0; k < perByte; k++, x++) v = (v << depth) | (x < width ? scan[src + x] : 0);
        scan[row + 1 + b] = v;
      }
    }
  }
  // No row filters, as libpng and PIL do for palettes: indices are not
  // magnitudes, so differences between neighbours compress worse. Z_RLE, as
  // PIL deflates them for MapProxy: on seeded map tiles 0.17 ms a tile
  // against 0.64 ms with the default strategy, whose files are ~28% smaller
  // (ours stay ~0.8x of MapProxy's, bench/png-size.ts).
  const idat = deflateZlib(scan.subarray(0, (stride + 1) * height), level, zlibConstants.Z_RLE);
  let trns = 0;
  for (let i = 0; i < n; i++) if (palette[i * 4 + 3] !== 255) trns = i + 1;
  const plte = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    plte[i * 3] = palette[i * 4];
    plte[i * 3 + 1] = palette[i * 4 + 1];
    plte[i * 3 + 2] = palette[i * 4 + 2];
  }
  const ihdr = new Uint8Array(13);
  const hv = new DataView(ihdr.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  ihdr[8] = depth;
  ihdr[9] = 3;
  const chunks: [string, Uint8Array][] = [['IHDR', ihdr], ['PLTE', plte]];
  if (trns) {
    const t = new Uint8Array(trns);
    for (let i = 0; i < trns; i++) t[i] = palette[i * 4 + 3];
    chunks.push(['tRNS', t]);
  }
  chunks.push(['IDAT', idat], ['IEND', new Uint8Array(0)]);
  return writePng(chunks);
}

function writePng(chunks: [string, Uint8Array][]): Uint8Array<ArrayBuffer> {
  let size = 8;
  for (const [, data] of chunks) size += 12 + data.length;
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  out.set(PNG_SIGNATURE);
  let p = 8;
  for (const [type, data] of chunks) {
    v.setUint32(p, data.length);
    writeChunkType(out, p + 4, type);
    out.set(data, p + 8);
    v.setUint32(p + 8 + data.length, crc32(out.subarray(p + 4, p + 8 + data.length)) >>> 0);
    p += 12 + data.length;
  }
  return out;
}

export interface GifOptions {
  /** Palette size, 2..256 (default 256). */
  colors?: number;
  quantizer?: 'fastoctree' | 'mediancut';
}

/** Encodes a raster as a single-frame GIF89a; alpha < 128 becomes the one transparent index, the rest opaque. */
export function encodeGif(r: Raster, opts: GifOptions = {}): Uint8Array<ArrayBuffer> {
  // GIF has no partial alpha; PIL's GIF writer makes RGBA binary the same way.
  const colors = opts.colors ?? 256;
  const opaque = isOpaque(r);
  let src = r;
  if (!opaque) {
    // Binarise alpha first, so the quantizer spends no entries on partial alpha.
    const data = new Uint8ClampedArray(r.data);
    for (let i = 3; i < data.length; i += 4) {
      if (data[i] < 128) data[i] = data[i - 1] = data[i - 2] = data[i - 3] = 0;
      else data[i] = 255;
    }
    src = { width: r.width, height: r.height, data };
  }
  const img = quantize(src, { colors, alpha: !opaque, quantizer: opts.quantizer });
  const n = paletteSize(img);
  let transparentIndex = -1;
  for (let i = 0; i < n; i++) if (img.palette[i * 4 + 3] === 0) transparentIndex = i;
  let bits = 1;
  while (1 << bits < n) bits++;
  const table = new Uint8Array(3 << bits);
  for (let i = 0; i < n; i++) {
    table[i * 3] = img.palette[i * 4];
    table[i * 3 + 1] = img.palette[i * 4 + 1];
    table[i * 3 + 2] = img.palette[i * 4 + 2];
  }
  const minCodeSize = Math.max(2, bits);
  const lzw = lzwEncode(img.indices, minCodeSize);
  const parts: number[] = [];
  const u16 = (v: number) => parts.push(v & 0xff, v >> 8);
  parts.push(...[0x47, 0x49, 0x46, 0x38, 0x39, 0x61]); // GIF89a
  u16(r.width);
  u16(r.height);
  parts.push(0x80 | ((bits - 1) << 4) | (bits - 1), 0, 0); // global table, colour resolution, size
  const head = new Uint8Array(parts);
  const tail: number[] = [];
  if (transparentIndex >= 0) tail.push(0x21, 0xf9, 4, 0x01, 0, 0, transparentIndex, 0);
  tail.push(0x2c, 0, 0, 0, 0, r.width & 0xff, r.width >> 8, r.height & 0xff, r.height >> 8, 0, minCodeSize);
  const desc = new Uint8Array(tail);
  // Image data in sub-blocks of at most 255 bytes, then the terminator and trailer.
  const blocks = Math.ceil(lzw.length / 255);
  const out = new Uint8Array(head.length + table.length + desc.length + lzw.length + blocks + 2);
  let p = 0;
  out.set(head, p); p += head.length;
  out.set(table, p); p += table.length;
  out.set(desc, p); p += desc.length;
  for (let i = 0; i < lzw.length; i += 255) {
    const len = Math.min(255, lzw.length - i);
    out[p++] = len;
    out.set(lzw.subarray(i, i + len), p);
    p += len;
  }
  out[p++] = 0;
  out[p++] = 0x3b;
  return out;
}

/** GIF's variable-width LZW (LSB-first codes, clear code when the 4096-entry table is full). */
function lzwEncode(indices: Uint8Array, minCodeSize: number): Uint8Array {
  const clear = 1 << minCodeSize;
  const eoi = clear + 1;
  // Dictionary as a hash from (prefix code << 8 | byte) to code.
  const dict = new Map<number, number>();
  let next = eoi + 1;
  let width = minCodeSize + 1;
  const out: number[] = [];
  let acc = 0;
  let accBits = 0;
  const emit = (code: number) => {
    acc |= code << accBits;
    accBits += width;
    while (accBits >= 8) {
      out.push(acc & 0xff);
      acc >>>= 8;
      accBits -= 8;
    }
  };
  emit(clear);
  if (indices.length === 0) {
    emit(eoi);
    if (accBits > 0) out.push(acc & 0xff);
    return new Uint8Array(out);
  }
  let prefix = indices[0];
  for (let i = 1; i < indices.length; i++) {
    const c = indices[i];
    const key = (prefix << 8) | c;
    const hit = dict.get(key);
    if (hit !== undefined) {
      prefix = hit;
      continue;
    }
    emit(prefix);
    if (next < 4096) {
      dict.set(key, next++);
      // The decoder widens codes one step later than the encoder adds them.
      if (next > 1 << width && width < 12) width++;
    } else {
      emit(clear);
      dict.clear();
      next = eoi + 1;
      width = minCodeSize + 1;
    }
    prefix = c;
  }
  emit(prefix);
  emit(eoi);
  if (accBits > 0) out.push(acc & 0xff);
  return new Uint8Array(out);
}
