// PNG unfiltering in WebAssembly (unfilter.wat): the part of decoding an
// RGB(A) PNG that is slow in JS. A 256x256 RGBA tile decodes in ~0.4 ms
// this way against ~0.7 ms through Bun.Image (decode, then the level-0 PNG
// it has to hand back) and ~1.2 ms with a JS unfilter; a 1024x1024 meta
// tile in ~8 ms against ~13. It also packs RGBA pixels into the scanlines
// of an uncompressed PNG, with their adler-32 (stored-png.ts). The module is
// 4 KB, compiled synchronously on first use. Its memory holds one strip of
// an image's scanlines and pixels (about 1-2 MB; MAX_BYTES at most for a
// decode) and keeps the largest size it grew to: large images go through it
// a strip at a time.
import { align16, growMemory, lazyInstance } from './load.ts';
import { UNFILTER_WASM_BASE64 } from './unfilter-wasm.ts';

interface Exports {
  memory: WebAssembly.Memory;
  unfilter(src: number, dst: number, height: number, stride: number, bpp: number): number;
  rgb_to_rgba(src: number, dst: number, count: number): void;
  pack_rows(src: number, dst: number, width: number, rows: number, rgb: number): void;
  adler32(ptr: number, len: number, adler: number): number;
}

/** Largest WebAssembly memory a decode may use. Larger images are unfiltered in strips of rows that fit it. */
export const MAX_BYTES = 4 << 20;
/** Bytes a strip aims at (scanlines in, rows out): small enough to stay in the CPU's cache between the copy in, the unfilter and the copy out. */
const STRIP_BYTES = 1 << 20;
/** Bytes the vector loops may touch past the end of a region. */
const SLACK = 16;

/** The module, or null without WebAssembly (or SIMD): callers unfilter in JS. */
const instance = lazyInstance<Exports>(UNFILTER_WASM_BASE64);


/** Where the unfiltered rows and the RGBA pixels of a strip of `rows` go, and the bytes the whole layout takes. */
function layout(rows: number, stride: number, rgbToRgba: boolean): { dst: number; rgba: number; end: number } {
  // scanlines at 0, then the row above (zeros, or the previous strip's last row) right before the unfiltered rows at dst
  const dst = align16((stride + 1) * rows + SLACK) + align16(stride);
  const rgba = align16(dst + stride * rows + SLACK);
  const end = rgbToRgba ? rgba + (stride / 3) * rows * 4 + SLACK : rgba;
  return { dst, rgba, end };
}

/** Rows a strip takes: about STRIP_BYTES' worth (an even number, so Paeth rows pair up), fewer when MAX_BYTES says so, 0 when not even one row fits. */
function stripRows(height: number, stride: number, rgbToRgba: boolean): number {
  const perRow = (stride + 1) + stride + (rgbToRgba ? (stride / 3) * 4 : 0);
  let rows = Math.min(height, Math.max(2, Math.floor(STRIP_BYTES / perRow) & ~1));
  // alignment and slack add at most a few hundred bytes: a step or two at most
  while (rows > 0 && layout(rows, stride, rgbToRgba).end > MAX_BYTES) rows--;
  return rows;
}

/** Fills `into` with the next scanlines (filter byte and row each), all of it, or throws. */
export type ScanlineSource = (into: Uint8Array) => void;

/** Whether wasmUnfilter takes an image this wide (WebAssembly is there and at least one row fits MAX_BYTES). */
export function wasmUnfilterFits(stride: number, rgbToRgba = false): boolean {
  return stripRows(1, stride, rgbToRgba) === 1 && instance() !== null;
}

/**
 * Unfilters `height` scanlines of `raw` (each a filter byte plus `stride`
 * bytes, as inflated from IDAT) with `bpp` bytes a pixel, a strip of rows
 * at a time. Each strip goes to `take(rows, first, count)`: rows `first` to
 * `first + count - 1`, as RGBA with alpha 255 with `rgbToRgba` (8-bit RGB,
 * bpp 3), else as unfiltered samples of `stride` bytes; a view into the
 * module's memory, valid only during the call. False when WebAssembly is
 * not there or a row does not fit (nothing was handed over then); throws on
 * a filter type that is not 0..4.
 *
 * `raw` may also be a ScanlineSource, which writes each strip's scanlines
 * straight into the module's memory (an inflater): no image-sized buffer of
 * scanlines, no copy.
 */
export function wasmUnfilter(
  raw: Uint8Array | ScanlineSource, height: number, stride: number, bpp: number, rgbToRgba: boolean,
  take: (rows: Uint8Array, first: number, count: number) => void,
): boolean {
  const line = stride + 1;
  if (typeof raw !== 'function' && raw.length < line * height) return false;
  const strip = stripRows(height, stride, rgbToRgba);
  if (strip === 0) return false;
  const ex = instance();
  if (!ex) return false;
  const { dst, rgba, end } = layout(strip, stride, rgbToRgba);
  // no memory to grow into: the caller unfilters another way
  if (!growMemory(ex.memory, end)) return false;
  const mem = new Uint8Array(ex.memory.buffer);
  const outBytes = rgbToRgba ? (stride / 3) * 4 : stride;
  const out = rgbToRgba ? rgba : dst;
  mem.fill(0, dst - stride, dst);
  for (let first = 0; first < height; first += strip) {
    const count = Math.min(strip, height - first);
    if (first > 0) mem.copyWithin(dst - stride, dst + (strip - 1) * stride, dst + strip * stride);
    if (typeof raw === 'function') raw(mem.subarray(0, count * line));
    else mem.set(raw.subarray(first * line, (first + count) * line), 0);
    const bad = ex.unfilter(0, dst, count, stride, bpp);
    if (bad) throw new Error(`PNG filter type ${mem[(bad - 1) * line]} is invalid`);
    if (rgbToRgba) ex.rgb_to_rgba(dst, rgba, (stride / 3) * count);
    take(mem.subarray(out, out + outBytes * count), first, count);
  }
  return true;
}

/** Bytes of RGBA pixels packScanlines takes in at a time (its scanlines out take up to a byte a row more). */
const PACK_STRIP_BYTES = 1 << 20;

/**
 * PNG scanlines with filter type 0 of an RGBA image (`data`, `width` pixels
 * a row), RGB with `rgb` (alpha dropped) else RGBA, a strip of rows at a
 * time: `take(lines, first, count)` gets rows first..first+count-1, each a 0
 * byte and the samples, in a view of the module's memory valid only during
 * the call. Returns zlib's adler-32 of all the scanlines, or undefined when
 * WebAssembly is not there or cannot have the memory (nothing was handed over).
 */
export function packScanlines(
  data: Uint8Array | Uint8ClampedArray, width: number, height: number, rgb: boolean,
  take: (lines: Uint8Array, first: number, count: number) => void,
): number | undefined {
  const ex = instance();
  if (!ex || width < 1) return undefined;
  const rowIn = width * 4;
  const line = width * (rgb ? 3 : 4) + 1;
  const strip = Math.max(1, Math.min(height, Math.floor(PACK_STRIP_BYTES / rowIn)));
  const dst = align16(rowIn * strip);
  if (!growMemory(ex.memory, dst + line * strip + SLACK)) return undefined;
  const mem = new Uint8Array(ex.memory.buffer);
  let adler = 1;
  for (let first = 0; first < height; first += strip) {
    const count = Math.min(strip, height - first);
    mem.set(data.subarray(first * rowIn, (first + count) * rowIn), 0);
    ex.pack_rows(0, dst, width, count, rgb ? 1 : 0);
    adler = ex.adler32(dst, line * count, adler) >>> 0;
    take(mem.subarray(dst, dst + line * count), first, count);
  }
  return adler;
}
