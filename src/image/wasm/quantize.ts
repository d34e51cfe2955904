// The pixel passes of palette.ts's octree quantizer for opaque images, in
// WebAssembly (quantize.wat): the bucket sums (with the search for an exact
// palette in the same pass) and the mapping of each pixel to its palette
// entry. Both go a run of one colour at a time, the runs found 16 pixels a
// step and kept as a bit string; images of short runs (noise, imagery) go
// a pixel at a time once no exact palette is sought. On the seed bench's
// map tiles the two passes take about 0.09 ms a 256x256 tile against 0.29
// ms in JS; on noise about 0.28 ms. The module is about 1.2 KB, compiled
// synchronously on first use; its memory holds one image's pixels, run
// bits and indices (5.125 bytes a pixel) and keeps the largest size it grew to.
import { align16, growMemory, lazyInstance } from './load.ts';
import { QUANTIZE_WASM_BASE64 } from './quantize-wasm.ts';

interface Exports {
  memory: WebAssembly.Memory;
  sums(px: number, n: number, maxExact: number, out: number, mask: number): number;
  map(px: number, n: number, out: number, mask: number): void;
}

/** Buckets of the fine RGB cube (4 bits a channel). */
export const BUCKETS = 4096;
// The fixed part of the module's memory (see quantize.wat).
const SUMS = 0;
const KEYS = 73728;
const LOOKUP = 74752;
const PIXELS = 81920;
/** Bytes the vector loops may read past the pixels (64) and write past the indices (16). */
const PIXEL_SLACK = 64;
const INDEX_SLACK = 16;
/** Largest image (pixels) the module takes: about 5.5 MB of memory. Larger ones are quantized in JS. */
export const MAX_QUANTIZE_PIXELS = 1 << 20;


/** The module, or null without WebAssembly (or SIMD): the quantizer stays in JS. */
const instance = lazyInstance<Exports>(QUANTIZE_WASM_BASE64);

/** One image's pass through the module: its results, as views of the module's memory. */
export interface OpaqueSums {
  /** Colours of the exact palette (KEYS), or -1 when the image has more than were asked for. */
  readonly colors: number;
  /**
   * Per bucket b the sums of red, green and blue and the pixel count at
   * 4b .. 4b + 3; the caller sets back to 0 every entry it reads (the next
   * image needs them zero).
   */
  readonly sums: Int32Array;
  /** The exact palette's colours as int32 pixels (alpha 255), `colors` of them. */
  readonly keys: Int32Array;
  /** Palette entry per bucket, for `map`: only the entries of buckets in use are read. */
  readonly lookup: Uint8Array;
  /** Each pixel's palette index, row after row: exact ones after `sums` (when colors >= 0), LOOKUP's after `map`. */
  readonly indices: Uint8Array;
  /** Writes each pixel's `lookup` entry to `indices`. */
  map(): void;
}

/**
 * The bucket sums of an opaque image (RGBA bytes, alpha ignored), and with
 * `maxExact` > 0 (at most 256) its exact palette when it has at most that many colours.
 * Undefined when WebAssembly is not there, the image is larger than
 * MAX_QUANTIZE_PIXELS or the memory cannot grow: the caller does it in JS.
 * The views are valid until the next call.
 */
export function opaqueSums(data: Uint8Array | Uint8ClampedArray, width: number, height: number, maxExact: number): OpaqueSums | undefined {
  const n = width * height;
  // short data (a raster that is not what it says) is left to the JS passes
  if (n < 1 || n > MAX_QUANTIZE_PIXELS || data.length < 4 * n) return undefined;
  const ex = instance();
  if (!ex) return undefined;
  // pixels, run bits, then the indices last: nothing is written past their slack
  const mask = align16(PIXELS + 4 * n + PIXEL_SLACK);
  const out = align16(mask + 8 * Math.ceil(n / 64) + 8);
  if (!growMemory(ex.memory, out + n + INDEX_SLACK)) return undefined;
  const buf = ex.memory.buffer;
  new Uint8Array(buf, PIXELS, 4 * n).set(data.subarray(0, 4 * n));
  // KEYS holds 256 colours (and the hash's 1024 slots stay at most a quarter full)
  const colors = ex.sums(PIXELS, n, Math.min(maxExact, 256), out, mask);
  return {
    colors,
    sums: new Int32Array(buf, SUMS, 4 * BUCKETS),
    keys: new Int32Array(buf, KEYS, 256),
    lookup: new Uint8Array(buf, LOOKUP, BUCKETS),
    indices: new Uint8Array(buf, out, n),
    map: () => ex.map(PIXELS, n, out, mask),
  };
}
