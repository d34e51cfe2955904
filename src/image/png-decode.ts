// A small PNG reader in plain TypeScript over node:zlib (present in Bun, Deno
// and Node). Two jobs:
//  - decodePngDirect: the fast path for cached tiles on Bun. Native inflate
//    plus unfilter and palette/grey lookup in JS (RGB(A) rows unfiltered in
//    WebAssembly, wasm/unfilter.ts), written straight into the RGBA output;
//    it covers the non-interlaced 8-bit-or-less PNGs that tile caches hold,
//    and says "not mine" (undefined) for anything else so the caller can
//    take the Bun.Image route;
//  - decodePng: the second half of the Bun.Image bridge. Bun.Image can only
//    hand pixels back as an encoded image, so we ask it for a
//    compression-level-0 PNG, whose zlib stream is made of "stored" deflate
//    blocks; their payload is copied once, straight into the output raster.
//    Compressed streams and 16-bit samples work too, so this is also a
//    complete non-interlaced PNG decoder.

import { Buffer } from 'node:buffer';
import { constants as zlibConstants, createInflate, deflateSync, inflateSync } from 'node:zlib';
import { createRaster, releaseBuffer, TRANSPARENT, uninitializedRaster, type Raster, type Rgba } from './raster.ts';
import { wasmUnfilter, wasmUnfilterFits, type ScanlineSource } from './wasm/unfilter.ts';
import { openHandle } from './zlib-handle.ts';
import { PNG_SIGNATURE } from './png-chunk.ts';

interface Header {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  interlace: number;
}

interface Chunks {
  header: Header;
  /** IDAT payloads, in order, as views into the input. */
  idat: Uint8Array[];
  palette?: Uint8Array;
  trns?: Uint8Array;
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

let useWasm = true;

/** Turns WebAssembly unfiltering of RGB(A) rows on or off (tests, benchmarks): off, they are unfiltered in JS. */
export function setWasmUnfilter(on: boolean): void {
  useWasm = on;
}

/** Decodes a non-interlaced PNG of any colour type and bit depth into an RGBA raster. */
export async function decodePng(bytes: Uint8Array): Promise<Raster> {
  const c = readChunks(bytes);
  const h = c.header;
  if (h.interlace !== 0) throw new Error('interlaced PNG is not supported by the built-in PNG reader');
  const channels = CHANNELS[h.colorType];
  if (channels === undefined) throw new Error(`PNG colour type ${h.colorType} is invalid`);
  const bpp = Math.max(1, (channels * h.bitDepth) >> 3);
  const stride = (h.width * channels * h.bitDepth + 7) >> 3;
  // What Bun.Image hands back: 8-bit RGBA in stored blocks. One copy, no inflate buffer.
  if (h.colorType === 6 && h.bitDepth === 8) {
    const out = new Uint8ClampedArray(h.width * h.height * 4);
    if (copyStoredRows(c.idat, new Uint8Array(out.buffer), stride, h.height, bpp)) {
      return { width: h.width, height: h.height, data: out };
    }
  }
  if (h.colorType === 3 && !c.palette) throw new Error('paletted PNG has no PLTE');
  const raw = inflate(c.idat, (stride + 1) * h.height);
  if (raw.length < (stride + 1) * h.height) throw new Error('PNG image data is truncated');
  if (h.bitDepth <= 8) {
    const r = createRaster(h.width, h.height);
    if (expandInto(raw, h, stride, bpp, c.palette, c.trns, r, 0, 0, FULL)) return r;
    throw new Error('PNG palette index out of range');
  }
  unfilterInPlace(raw, h.height, stride, bpp);
  return toRgba16(raw, h, stride, c.trns);
}

/**
 * Decodes the PNGs that tile caches hold (non-interlaced; 1/2/4/8-bit
 * palette or grey, 8-bit RGB, RGBA and grey+alpha) the way the Bun.Image
 * route does, pixel for pixel. Undefined for anything else (interlaced,
 * 16-bit, out-of-range palette indices): decode those natively. Like
 * Bun.Image, it ignores gAMA, cHRM, sBIT and ICC profiles (tested).
 */
export function decodePngDirect(bytes: Uint8Array): Raster | undefined {
  const c = directChunks(bytes);
  if (!c) return undefined;
  const out = createRaster(c.header.width, c.header.height);
  return decodeChunksInto(c, out, 0, 0, FULL) ? out : undefined;
}

/**
 * An 8-bit RGB or RGBA PNG of `size` decoded straight into tileW x tileH rasters, one
 * per crop (the tile's top-left pixel in the image; parts of a crop outside
 * the image are `fill`): a meta tile split without the image-sized raster in
 * between, each strip of unfiltered rows copied into the tiles it touches.
 * Undefined for PNGs it does not take (another size or colour type, RGB
 * with a transparent colour, more than MAX_DIRECT_RGB_PIXELS, rows too wide
 * for the WebAssembly unfilter): decode and split those.
 * Throws on corrupt data (zlib's error, its checksum, an invalid filter
 * type) and on fewer scanlines than the header promises; or, where the
 * image is inflated in one go, gives undefined for those.
 */
export function decodePngTiles(
  bytes: Uint8Array, size: readonly [number, number], tileW: number, tileH: number, crops: readonly (readonly [number, number])[], fill: Rgba = TRANSPARENT,
): Raster[] | undefined {
  if (!useWasm) return undefined;
  const c = directChunks(bytes);
  if (!c) return undefined;
  const { width, height, bitDepth, colorType } = c.header;
  if (width !== size[0] || height !== size[1] || width * height > MAX_DIRECT_RGB_PIXELS) return undefined;
  if (bitDepth !== 8 || !(colorType === 6 || (colorType === 2 && !c.trns))) return undefined;
  const bpp = colorType === 6 ? 4 : 3;
  const stride = width * bpp;
  if (!wasmUnfilterFits(stride, colorType === 2)) return undefined;
  // Rows below every crop (a meta tile's bottom buffer) are not even inflated.
  let rows = 0;
  for (const [, cy] of crops) rows = Math.max(rows, Math.min(height, cy + tileH));
  const z = concat(c.idat);
  const inflater = inflaterInto(z);
  const raw = inflater?.fill ?? inflateStored(z) ?? inflate([z], (stride + 1) * height);
  try {
    if (typeof raw !== 'function' && raw.length < (stride + 1) * height) return undefined;
    // every pixel of a tile inside the image is written below: no need to zero those
    const tiles = crops.map(([cx, cy]) => cx >= 0 && cy >= 0 && cx + tileW <= width && cy + tileH <= height
      ? uninitializedRaster(tileW, tileH)
      : createRaster(tileW, tileH, fill));
    const rowBytes = width * 4;
    if (rows <= 0) {
      // nothing of the image is needed, but it still has to be sound
      inflater?.finish((stride + 1) * height);
      return tiles;
    }
    const done = wasmUnfilter(raw, rows, stride, bpp, colorType === 2, (px, first, count) => {
      for (let i = 0; i < crops.length; i++) {
        const [cx, cy] = crops[i];
        const v0 = Math.max(first, cy, 0);
        const v1 = Math.min(first + count, cy + tileH, height);
        const u0 = Math.max(0, cx);
        const u1 = Math.min(width, cx + tileW);
        if (v0 < v1 && u0 < u1) copyStripRows(px, first, rowBytes, tiles[i].data, tileW, -cx, -cy, u0, u1, v0, v1);
      }
    });
    if (!done) return undefined;
    // the rows below the crops and zlib's checksum: corrupt data is an error, not tiles
    inflater?.finish((stride + 1) * height);
    return tiles;
  } finally {
    if (typeof raw !== 'function') releaseBuffer(raw);
    inflater?.close();
  }
}

/**
 * Inflates a zlib stream into buffers the caller hands over, one after
 * another (wasmUnfilter's strips of WebAssembly memory), through the handle
 * under node:zlib's Inflate, as its own sync path does: a meta tile's
 * scanlines (4-6 MB) then never exist as one buffer. Undefined where the
 * runtime's node:zlib has no such handle: the caller inflates in one go.
 * `fill` throws on corrupt or short data; `close` frees zlib's state.
 */
function inflaterInto(z: Uint8Array): Inflater | undefined {
  intoWorks ??= inflaterWorks();
  return intoWorks ? openInflater(z) : undefined;
}

/** A zlib stream inflated into buffers handed over one after another. */
interface Inflater {
  /** Fills `into` with the stream's next bytes; throws on corrupt data or when the stream ends first. */
  fill: ScanlineSource;
  /**
   * Inflates the rest (into scratch memory) through zlib's checksum; throws
   * on corrupt or truncated data and when the stream held fewer than
   * `expected` bytes in all. Bytes after the end of the stream are ignored,
   * as inflateSync does.
   */
  finish(expected: number): void;
  /** Frees zlib's state. */
  close(): void;
}

let intoWorks: boolean | undefined;

/** Whether decodePngTiles inflates straight into the unfilter's memory here (tests). */
export function inflatesIntoStrips(): boolean {
  intoWorks ??= inflaterWorks();
  return intoWorks;
}

/** Tests: false makes decodePngTiles inflate in one go, as where the runtime has no such zlib handle; undefined checks again. */
export function setInflateIntoStrips(on: false | undefined): void {
  intoWorks = on;
}

/** Where finish() inflates the rest of a stream. */
const FINISH_SCRATCH = 32 << 10;
let finishScratch: Uint8Array | undefined;

/**
 * Once: whether openInflater gives back what went in, over several output
 * buffers, and reports a wrong checksum (else inflaterInto is never used).
 */
function inflaterWorks(): boolean {
  const data = new Uint8Array(3000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 5)) & 255;
  const z = deflateSync(data);
  const inf = openInflater(z);
  if (!inf) return false;
  try {
    const out = new Uint8Array(data.length + 8).fill(0xa5);
    inf.fill(out.subarray(0, 1000));
    inf.fill(out.subarray(1000, 1001));
    inf.fill(out.subarray(1001, 2000));
    inf.finish(data.length);
    if (!out.subarray(0, 2000).every((v, i) => v === data[i]) || !out.subarray(2000).every((v) => v === 0xa5)) return false;
  } catch {
    return false;
  } finally {
    inf.close();
  }
  // the same stream with its adler-32 wrong: the error has to come through
  const bad = z.slice();
  bad[bad.length - 1] ^= 1;
  const check = openInflater(bad);
  if (!check) return false;
  try {
    check.fill(new Uint8Array(1000));
    check.finish(data.length);
    return false;
  } catch {
    return true;
  } finally {
    check.close();
  }
}

function openInflater(z: Uint8Array): Inflater | undefined {
  const o = openHandle(() => createInflate());
  if (!o) return undefined;
  const { h, state } = o;
  const check = (): void => {
    const failed = o.takeError();
    if (failed !== undefined) throw new Error(`PNG image data: ${failed}`);
  };
  let inOff = 0;
  let total = 0;
  let closed = false;
  return {
    fill(into) {
      for (let outOff = 0; outOff < into.length;) {
        const inLen = z.length - inOff;
        const outLen = into.length - outOff;
        h.writeSync(zlibConstants.Z_NO_FLUSH, z, inOff, inLen, into, outOff, outLen);
        check();
        const wrote = outLen - state[0];
        const read = inLen - state[1];
        if (wrote === 0 && read === 0) throw new Error('PNG image data ends early');
        outOff += wrote;
        inOff += read;
        total += wrote;
      }
    },
    finish(expected) {
      const scratch = (finishScratch ??= new Uint8Array(FINISH_SCRATCH));
      // Z_FINISH: a stream cut short is zlib's error too. Bounded: a stream
      // more than a scratch longer than promised is refused.
      for (;;) {
        // far more than promised: malformed, and its checksum may be out of reach
        if (total > expected + scratch.length) throw new Error('PNG image data is longer than its header says');
        const inLen = z.length - inOff;
        h.writeSync(zlibConstants.Z_FINISH, z, inOff, inLen, scratch, 0, scratch.length);
        check();
        const wrote = scratch.length - state[0];
        inOff += inLen - state[1];
        total += wrote;
        // room left over: zlib stopped at the end of the stream (the checksum read and checked)
        if (wrote < scratch.length) break;
      }
      if (total < expected) throw new Error('PNG image data ends early');
    },
    close() {
      if (closed) return;
      closed = true;
      h.close();
    },
  };
}

/**
 * decodePngDirect writing into `dst` instead, with the image's top-left at
 * (x, y): only pixels inside both `dst` and `clip` (x0, y0, x1, y1 in dst
 * coordinates, end exclusive) are written, and rows below the clip are not
 * even unfiltered. Stitching cached tiles this way skips a tile-sized
 * allocation and copy per tile, and the parts of tiles a request never
 * reads. False, with `dst` perhaps partly written, for the PNGs
 * decodePngDirect declines.
 */
export function decodePngInto(bytes: Uint8Array, dst: Raster, x: number, y: number, clip: ClipRect = FULL): boolean {
  const c = directChunks(bytes);
  return c !== undefined && decodeChunksInto(c, dst, x, y, clip);
}

/** A rectangle x0, y0, x1, y1 (end exclusive). */
export type ClipRect = readonly [number, number, number, number];

const FULL: ClipRect = [-Infinity, -Infinity, Infinity, Infinity];

/** The chunks of a PNG the direct reader handles, else undefined. */
function directChunks(bytes: Uint8Array): Chunks | undefined {
  const c = readChunks(bytes);
  const h = c.header;
  if (h.interlace !== 0 || h.bitDepth > 8 || h.width === 0 || h.height === 0) return undefined;
  if (CHANNELS[h.colorType] === undefined) return undefined;
  if (h.colorType !== 0 && h.colorType !== 3 && h.bitDepth !== 8) return undefined;
  if (h.colorType === 3 && !c.palette) return undefined;
  return c;
}

function decodeChunksInto(c: Chunks, dst: Raster, x: number, y: number, clip: ClipRect): boolean {
  if (dst.data.byteOffset % 4 !== 0) return false;
  const h = c.header;
  const channels = CHANNELS[h.colorType];
  const bpp = Math.max(1, (channels * h.bitDepth) >> 3);
  const stride = (h.width * channels * h.bitDepth + 7) >> 3;
  const raw = inflate(c.idat, (stride + 1) * h.height);
  try {
    if (raw.length < (stride + 1) * h.height) return false;
    return expandInto(raw, h, stride, bpp, c.palette, c.trns, dst, x, y, clip);
  } finally {
    // the inflated scanlines are ours alone (a meta tile's are 4 MB): freed now rather than at the next collection
    releaseBuffer(raw);
  }
}

/**
 * Whether decodePngDirect is the fast way to decode these bytes on the
 * native backend: grey and paletted PNGs always; 8-bit RGB and RGBA up to
 * MAX_DIRECT_RGB_PIXELS when their rows can be unfiltered in WebAssembly
 * (wasmUnfilterFits), as JS unfiltering is slower than Bun.Image.
 */
export function directDecodes(b: Uint8Array): boolean {
  const type = pngColorType(b);
  if (type === 0 || type === 3) return true;
  // 8-bit (IHDR byte 24), not interlaced (byte 28)
  if ((type !== 2 && type !== 6) || b[24] !== 8 || b[28] !== 0 || !useWasm) return false;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const width = v.getUint32(16);
  return width * v.getUint32(20) <= MAX_DIRECT_RGB_PIXELS && wasmUnfilterFits(width * (type === 2 ? 3 : 4), type === 2);
}

/**
 * Largest RGB(A) image decoded on the calling thread (an 8x8 meta tile of
 * 256x256 tiles with a buffer of 80 fits; ~30 ms): larger ones go to
 * Bun.Image, which works off the event loop, rather than hold up a server's
 * other requests for 100 ms and more.
 */
export const MAX_DIRECT_RGB_PIXELS = 2304 * 2304;

/** The colour type in the IHDR (always the first chunk), or undefined when it is not there. */
export function pngColorType(b: Uint8Array): number | undefined {
  return b.length > 25 && b[12] === 0x49 && b[13] === 0x48 && b[14] === 0x44 && b[15] === 0x52 ? b[25] : undefined;
}

function readChunks(b: Uint8Array): Chunks {
  for (let i = 0; i < 8; i++) if (b[i] !== PNG_SIGNATURE[i]) throw new Error('not a PNG');
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let header: Header | undefined;
  const idat: Uint8Array[] = [];
  let palette: Uint8Array | undefined;
  let trns: Uint8Array | undefined;
  let p = 8;
  while (p + 8 <= b.length) {
    const len = v.getUint32(p);
    const t0 = b[p + 4], t1 = b[p + 5], t2 = b[p + 6], t3 = b[p + 7];
    const data = b.subarray(p + 8, p + 8 + len);
    // Compare type bytes rather than building a string per chunk (a tile has dozens of IDATs).
    if (t0 === 0x49 && t1 === 0x44 && t2 === 0x41 && t3 === 0x54) idat.push(data); // IDAT
    else if (t0 === 0x49 && t1 === 0x48 && t2 === 0x44 && t3 === 0x52) { // IHDR
      header = {
        width: v.getUint32(p + 8),
        height: v.getUint32(p + 12),
        bitDepth: b[p + 16],
        colorType: b[p + 17],
        interlace: b[p + 20],
      };
    } else if (t0 === 0x50 && t1 === 0x4c && t2 === 0x54 && t3 === 0x45) palette = data; // PLTE
    else if (t0 === 0x74 && t1 === 0x52 && t2 === 0x4e && t3 === 0x53) trns = data; // tRNS
    else if (t0 === 0x49 && t1 === 0x45 && t2 === 0x4e && t3 === 0x44) break; // IEND
    p += 12 + len;
  }
  if (!header) throw new Error('PNG has no IHDR');
  return { header, idat, palette, trns };
}

/**
 * Image rows a..b-1, columns u0..u1-1, from a strip of RGBA rows (`px`, image
 * row `first` at its start, rowBytes each) into `out`, a raster dw pixels
 * wide with the image's top-left at (x, y).
 */
function copyStripRows(
  px: Uint8Array, first: number, rowBytes: number, out: Uint8Array | Uint8ClampedArray, dw: number, x: number, y: number,
  u0: number, u1: number, a: number, b: number,
): void {
  if (u0 === 0 && u1 * 4 === rowBytes && dw * 4 === rowBytes) {
    // whole rows into a raster as wide as the image: one copy
    out.set(px.subarray((a - first) * rowBytes, (b - first) * rowBytes), ((y + a) * dw + x) * 4);
    return;
  }
  // Buffer#copy takes offsets: no subarray a row, half the time of set() for 1 KB rows.
  const src = Buffer.from(px.buffer, px.byteOffset, px.byteLength);
  const dst = out instanceof Uint8Array ? out : new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  for (let v = a; v < b; v++) {
    const r = (v - first) * rowBytes;
    src.copy(dst, ((y + v) * dw + x + u0) * 4, r + u0 * 4, r + u1 * 4);
  }
}

/** Largest output buffer inflate allocates up front; bigger images grow it as zlib's sync API does. */
const MAX_INFLATE_CHUNK = 8 << 20;

/**
 * The whole zlib stream inflated (stored-only streams are copied without
 * zlib). `expected` is the size the header promises: zlib then writes into
 * one buffer of that size instead of 16 KB chunks joined at the end.
 */
function inflate(parts: Uint8Array[], expected: number): Uint8Array {
  const z = concat(parts);
  const stored = inflateStored(z);
  if (stored) return stored;
  const buf = inflateSync(z, { chunkSize: Math.min(MAX_INFLATE_CHUNK, Math.max(64, expected)) });
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
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

/**
 * Copies out a zlib stream made only of stored blocks; undefined when it
 * holds compressed blocks, a block's NLEN is not LEN's complement or the
 * stream is cut short (zlib then says what is wrong).
 */
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
    // NLEN, the one's complement of LEN: a corrupt block header goes to zlib, which says so
    if ((z[p + 3] | (z[p + 4] << 8)) !== (~len & 0xffff)) return undefined;
    total += len;
    p += 5 + len;
    if (head & 1) break;
  }
  // the last block and the adler-32 after it all there (the checksum itself is
  // not computed: stored data is copied as chunk CRCs are not checked either)
  if (p + 4 > z.length) return undefined;
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

/**
 * Reads a zlib stream of stored blocks spread over IDAT chunks and writes
 * the scanlines, minus their filter bytes, to `dst` (height rows of `stride`
 * bytes), then unfilters them there. False, with `dst` partly written, when
 * the stream holds compressed blocks or ends early.
 */
function copyStoredRows(parts: Uint8Array[], dst: Uint8Array, stride: number, height: number, bpp: number): boolean {
  let part = 0;
  let pos = 0;
  const byte = (): number => {
    while (part < parts.length && pos >= parts[part].length) { part++; pos = 0; }
    return part < parts.length ? parts[part][pos++] : -1;
  };
  const cmf = byte();
  byte(); // FLG
  if (cmf < 0 || (cmf & 0x0f) !== 8) return false;
  const filters = new Uint8Array(height);
  const line = stride + 1;
  const total = line * height;
  let q = 0; // position in the scanline stream, filter bytes included
  let last = false;
  while (!last && q < total) {
    const head = byte();
    if (head < 0 || (head & 0x06) !== 0) return false;
    last = (head & 1) === 1;
    const lo = byte();
    const hi = byte();
    byte();
    if (byte() < 0) return false;
    let len = lo | (hi << 8);
    while (len > 0 && q < total) {
      while (part < parts.length && pos >= parts[part].length) { part++; pos = 0; }
      if (part >= parts.length) return false;
      const src = parts[part];
      const col = q % line;
      if (col === 0) {
        filters[(q / line) | 0] = src[pos++];
        q++;
        len--;
        continue;
      }
      // Up to the end of this row, this block and this chunk, whichever comes first.
      const n = Math.min(line - col, len, src.length - pos);
      const at = ((q / line) | 0) * stride + col - 1;
      dst.set(src.subarray(pos, pos + n), at);
      pos += n;
      q += n;
      len -= n;
    }
  }
  if (q < total) return false;
  for (let y = 0; y < height; y++) {
    const f = filters[y];
    if (f !== 0) unfilterRow(dst, dst, y * stride, y * stride, y > 0 ? (y - 1) * stride : -1, stride, bpp, f);
  }
  return true;
}

function unfilterInPlace(raw: Uint8Array, height: number, stride: number, bpp: number): void {
  const line = stride + 1;
  for (let y = 0; y < height; y++) {
    const f = raw[y * line];
    if (f !== 0) unfilterRow(raw, raw, y * line + 1, y * line + 1, y > 0 ? (y - 1) * line + 1 : -1, stride, bpp, f);
  }
}

/**
 * Undoes one row's filter: dst[d + i] = src[s + i] + predictor, the
 * predictor reading the row's own output to the left and the unfiltered row
 * above at dst[prev + i] (prev < 0 on the first row). src and dst may be one
 * buffer with s === d.
 */
function unfilterRow(src: Uint8Array, dst: Uint8Array, s: number, d: number, prev: number, stride: number, bpp: number, f: number): void {
  switch (f) {
    case 0:
      if (src !== dst || s !== d) dst.set(src.subarray(s, s + stride), d);
      return;
    case 1:
      for (let i = 0; i < bpp; i++) dst[d + i] = src[s + i];
      for (let i = bpp; i < stride; i++) dst[d + i] = src[s + i] + dst[d + i - bpp];
      return;
    case 2:
      if (prev < 0) {
        if (src !== dst || s !== d) dst.set(src.subarray(s, s + stride), d);
      } else {
        for (let i = 0; i < stride; i++) dst[d + i] = src[s + i] + dst[prev + i];
      }
      return;
    case 3:
      if (prev < 0) {
        for (let i = 0; i < bpp; i++) dst[d + i] = src[s + i];
        for (let i = bpp; i < stride; i++) dst[d + i] = src[s + i] + (dst[d + i - bpp] >> 1);
      } else {
        for (let i = 0; i < bpp; i++) dst[d + i] = src[s + i] + (dst[prev + i] >> 1);
        for (let i = bpp; i < stride; i++) dst[d + i] = src[s + i] + ((dst[d + i - bpp] + dst[prev + i]) >> 1);
      }
      return;
    case 4:
      if (prev < 0) {
        // Above is zero: Paeth picks the left neighbour, as Sub does.
        for (let i = 0; i < bpp; i++) dst[d + i] = src[s + i];
        for (let i = bpp; i < stride; i++) dst[d + i] = src[s + i] + dst[d + i - bpp];
      } else {
        // Left is zero at the row start: Paeth picks the byte above, as Up does.
        for (let i = 0; i < bpp; i++) dst[d + i] = src[s + i] + dst[prev + i];
        for (let i = bpp; i < stride; i++) {
          const a = dst[d + i - bpp];
          const b = dst[prev + i];
          const c = dst[prev + i - bpp];
          let pa = b - c;
          let pb = a - c;
          let pc = pa + pb;
          pa = pa < 0 ? -pa : pa;
          pb = pb < 0 ? -pb : pb;
          pc = pc < 0 ? -pc : pc;
          dst[d + i] = src[s + i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
        }
      }
      return;
    default:
      throw new Error(`PNG filter type ${f} is invalid`);
  }
}

/** Little-endian hosts see RGBA bytes as 0xAABBGGRR through an Int32Array. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function pack(r: number, g: number, b: number, a: number): number {
  // Signed: JSC stores int32 into an Int32Array without a double conversion (~20% faster than Uint32).
  return LITTLE_ENDIAN ? (a << 24) | (b << 16) | (g << 8) | r : (r << 24) | (g << 16) | (b << 8) | a;
}

/**
 * Unfilters and converts 8-bit-or-less samples to RGBA, writing each output
 * pixel once, straight into `dst` at (x, y) within `clip`. False when a
 * palette index is out of range.
 */
function expandInto(
  raw: Uint8Array, h: Header, stride: number, bpp: number, palette: Uint8Array | undefined, trns: Uint8Array | undefined,
  dst: Raster, x: number, y: number, clip: ClipRect,
): boolean {
  const { width, height, bitDepth, colorType } = h;
  const dw = dst.width;
  // The part of the image that lands inside dst and the clip, in image coordinates.
  const u0 = Math.max(0, Math.max(0, clip[0]) - x);
  const v0 = Math.max(0, Math.max(0, clip[1]) - y);
  const u1 = Math.min(width, Math.min(dw, clip[2]) - x);
  const v1 = Math.min(height, Math.min(dst.height, clip[3]) - y);
  if (u0 >= u1 || v0 >= v1) return true;
  const o8 = new Uint8Array(dst.data.buffer, dst.data.byteOffset, dst.data.byteLength);
  const line = stride + 1;
  const key = colorType === 2 && trns !== undefined && trns.length >= 6 ? trns : undefined;
  if (bitDepth === 8 && (colorType === 6 || colorType === 2) && useWasm) {
    // RGB(A) rows are mostly Paeth-filtered: unfilter (and widen RGB) in WebAssembly.
    // A strip of rows at a time (wasm/unfilter.ts), each copied out at once.
    const rowBytes = width * 4;
    const done = wasmUnfilter(raw, v1, stride, bpp, colorType === 2 && !key, (px, first, count) => {
      const a = Math.max(v0, first);
      const b = Math.min(v1, first + count);
      if (key) {
        // strip row v - first at (v - first) * stride
        rgbKeyInto(px, stride, -first * stride, key, o8, dw, x, y, u0, a, u1, b);
        return;
      }
      copyStripRows(px, first, rowBytes, o8, dw, x, y, u0, u1, a, b);
    });
    if (done) return true;
  }
  if (colorType === 6) {
    if (u0 === 0 && v0 === 0 && u1 === width) {
      // Whole rows from the top: unfiltering writes the output directly.
      for (let v = 0; v < v1; v++) {
        const d = ((y + v) * dw + x) * 4;
        unfilterRow(raw, o8, v * line + 1, d, v > 0 ? d - dw * 4 : -1, stride, bpp, raw[v * line]);
      }
      return true;
    }
    unfilterInPlace(raw, v1, stride, bpp);
    for (let v = v0; v < v1; v++) {
      const s = v * line + 1;
      o8.set(raw.subarray(s + u0 * 4, s + u1 * 4), ((y + v) * dw + x + u0) * 4);
    }
    return true;
  }
  unfilterInPlace(raw, v1, stride, bpp);
  if (colorType === 3 || colorType === 0) {
    // Palette and grey both map a sample (0..2^depth-1) to a colour: one table lookup a pixel.
    const lut = new Int32Array(256);
    let n: number;
    if (colorType === 3) {
      n = Math.min(palette!.length / 3 | 0, 1 << bitDepth);
      for (let i = 0; i < n; i++) {
        lut[i] = pack(palette![i * 3], palette![i * 3 + 1], palette![i * 3 + 2], trns && i < trns.length ? trns[i] : 255);
      }
    } else {
      n = 1 << bitDepth;
      const scale = 255 / (n - 1);
      const key = trns && trns.length >= 2 ? (trns[0] << 8) | trns[1] : -1;
      for (let i = 0; i < n; i++) {
        const g = Math.round(i * scale);
        lut[i] = pack(g, g, g, i === key ? 0 : 255);
      }
    }
    const o32 = new Int32Array(dst.data.buffer, dst.data.byteOffset, dst.width * dst.height);
    if (bitDepth === 8) {
      for (let v = v0; v < v1; v++) {
        const s = v * line + 1;
        const d = (y + v) * dw + x;
        for (let u = u0; u < u1; u++) {
          const idx = raw[s + u];
          if (idx >= n) return false;
          o32[d + u] = lut[idx];
        }
      }
    } else {
      const mask = (1 << bitDepth) - 1;
      for (let v = v0; v < v1; v++) {
        const s = v * line + 1;
        const d = (y + v) * dw + x;
        for (let u = u0; u < u1; u++) {
          const bit = u * bitDepth;
          const idx = (raw[s + (bit >> 3)] >> (8 - bitDepth - (bit & 7))) & mask;
          if (idx >= n) return false;
          o32[d + u] = lut[idx];
        }
      }
    }
    return true;
  }
  if (colorType === 2) {
    rgbKeyInto(raw, line, 1, key, o8, dw, x, y, u0, v0, u1, v1);
    return true;
  }
  // colorType 4: grey + alpha
  for (let v = v0; v < v1; v++) {
    let s = v * line + 1 + u0 * 2;
    let d = ((y + v) * dw + x + u0) * 4;
    for (let u = u0; u < u1; u++, s += 2, d += 4) {
      const g = raw[s];
      o8[d] = o8[d + 1] = o8[d + 2] = g;
      o8[d + 3] = raw[s + 1];
    }
  }
  return true;
}

/**
 * Widens unfiltered 8-bit RGB rows (`line` bytes apart, samples from
 * `first` on) to RGBA in dst, pixels equal to the tRNS key (16-bit values,
 * as PNG stores them) transparent.
 */
function rgbKeyInto(
  src: Uint8Array, line: number, first: number, key: Uint8Array | undefined,
  o8: Uint8Array, dw: number, x: number, y: number, u0: number, v0: number, u1: number, v1: number,
): void {
  const kr = key ? (key[0] << 8) | key[1] : -1;
  const kg = key ? (key[2] << 8) | key[3] : -1;
  const kb = key ? (key[4] << 8) | key[5] : -1;
  for (let v = v0; v < v1; v++) {
    let s = v * line + first + u0 * 3;
    let d = ((y + v) * dw + x + u0) * 4;
    for (let u = u0; u < u1; u++, s += 3, d += 4) {
      const r = src[s], g = src[s + 1], b = src[s + 2];
      o8[d] = r;
      o8[d + 1] = g;
      o8[d + 2] = b;
      o8[d + 3] = r === kr && g === kg && b === kb ? 0 : 255;
    }
  }
}

function toRgba16(raw: Uint8Array, h: Header, stride: number, trns?: Uint8Array): Raster {
  const { width, height, colorType } = h;
  const out = new Uint8ClampedArray(width * height * 4);
  const trnsValue = (i: number): number => (trns ? (trns[i * 2] << 8) | trns[i * 2 + 1] : -1);
  const s16 = (at: number): number => (raw[at] << 8) | raw[at + 1];
  for (let y = 0; y < height; y++) {
    const row = y * (stride + 1) + 1;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      switch (colorType) {
        case 0: {
          const at = row + x * 2;
          out[o] = out[o + 1] = out[o + 2] = raw[at];
          out[o + 3] = trns && s16(at) === trnsValue(0) ? 0 : 255;
          break;
        }
        case 2: {
          const at = row + x * 6;
          out[o] = raw[at];
          out[o + 1] = raw[at + 2];
          out[o + 2] = raw[at + 4];
          const transparent = trns
            && s16(at) === trnsValue(0)
            && s16(at + 2) === trnsValue(1)
            && s16(at + 4) === trnsValue(2);
          out[o + 3] = transparent ? 0 : 255;
          break;
        }
        case 4: {
          const at = row + x * 4;
          out[o] = out[o + 1] = out[o + 2] = raw[at];
          out[o + 3] = raw[at + 2];
          break;
        }
        case 6: {
          const at = row + x * 8;
          out[o] = raw[at];
          out[o + 1] = raw[at + 2];
          out[o + 2] = raw[at + 4];
          out[o + 3] = raw[at + 6];
          break;
        }
        default:
          throw new Error(`PNG colour type ${colorType} cannot have 16-bit samples`);
      }
    }
  }
  return { width, height, data: out };
}
