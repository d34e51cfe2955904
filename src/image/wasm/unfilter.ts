// PNG unfiltering in WebAssembly (unfilter.wat): the part of decoding an
// RGB(A) PNG that is slow in JS. A 256x256 RGBA tile decodes in ~0.4 ms
// this way against ~0.7 ms through Bun.Image (decode, then the level-0 PNG
// it has to hand back) and ~1.2 ms with a JS unfilter. The module is 1 KB,
// compiled synchronously on first use. Its memory holds one image's
// scanlines and pixels and keeps the largest size it grew to, so it takes
// images up to MAX_BYTES (4 MB) only: for large ones (upstream WMS images, meta
// tiles) Bun.Image is within ~5% on CPU, works off the event loop and gives
// its memory back.
import { Buffer } from 'node:buffer';
import { growMemory } from './load.ts';
import { UNFILTER_WASM_BASE64 } from './unfilter-wasm.ts';

interface Exports {
  memory: WebAssembly.Memory;
  unfilter(src: number, dst: number, height: number, stride: number, bpp: number): number;
  rgb_to_rgba(src: number, dst: number, count: number): void;
}

/** Largest WebAssembly memory a decode may use: RGBA up to ~720x720 and RGB up to ~640x640 fit; bigger images are decoded another way. */
export const MAX_BYTES = 4 << 20;
/** Bytes the vector loops may touch past the end of a region. */
const SLACK = 16;

let exports: Exports | null | undefined;

function instance(): Exports | null {
  if (exports !== undefined) return exports;
  try {
    const mod = new WebAssembly.Module(Buffer.from(UNFILTER_WASM_BASE64, 'base64'));
    exports = new WebAssembly.Instance(mod, {}).exports as unknown as Exports;
  } catch {
    // no WebAssembly (or no SIMD): callers unfilter in JS
    exports = null;
  }
  return exports;
}

const align = (n: number): number => (n + 15) & ~15;

/** Where the unfiltered rows and the RGBA pixels go, and the bytes the whole layout takes. */
function layout(height: number, stride: number, rgbToRgba: boolean): { dst: number; rgba: number; end: number } {
  // scanlines at 0, then a row of zeros right above the unfiltered rows at dst
  const dst = align((stride + 1) * height + SLACK) + align(stride);
  const rgba = align(dst + stride * height + SLACK);
  const end = rgbToRgba ? rgba + (stride / 3) * height * 4 + SLACK : rgba;
  return { dst, rgba, end };
}

/** Whether wasmUnfilter takes an image of these dimensions (WebAssembly is there and it fits MAX_BYTES). */
export function wasmUnfilterFits(height: number, stride: number, rgbToRgba = false): boolean {
  return layout(height, stride, rgbToRgba).end <= MAX_BYTES && instance() !== null;
}

/**
 * Unfilters `height` scanlines of `raw` (each a filter byte plus `stride`
 * bytes, as inflated from IDAT) with `bpp` bytes a pixel. With `rgbToRgba`
 * (8-bit RGB, bpp 3) the rows come back as RGBA with alpha 255, else as
 * unfiltered samples, `stride` bytes a row. The result is a view into the
 * module's memory, valid until the next call: copy it out at once.
 * Undefined when WebAssembly is not there or the image is too big for it;
 * throws on a filter type that is not 0..4.
 */
export function wasmUnfilter(raw: Uint8Array, height: number, stride: number, bpp: number, rgbToRgba = false): Uint8Array | undefined {
  const line = stride + 1;
  const srcLen = line * height;
  if (raw.length < srcLen) return undefined;
  const { dst, rgba, end } = layout(height, stride, rgbToRgba);
  if (end > MAX_BYTES) return undefined;
  const width = stride / 3;
  const ex = instance();
  if (!ex) return undefined;
  // no memory to grow into: the caller unfilters another way
  if (!growMemory(ex.memory, end)) return undefined;
  const mem = new Uint8Array(ex.memory.buffer);
  mem.set(raw.subarray(0, srcLen), 0);
  mem.fill(0, dst - stride, dst);
  const bad = ex.unfilter(0, dst, height, stride, bpp);
  if (bad) throw new Error(`PNG filter type ${raw[(bad - 1) * line]} is invalid`);
  if (!rgbToRgba) return mem.subarray(dst, dst + stride * height);
  ex.rgb_to_rgba(dst, rgba, width * height);
  return mem.subarray(rgba, rgba + width * height * 4);
}
