// Bicubic resampling of opaque images in WebAssembly (resample.wat), the
// part of a reprojected or rescaled GetMap that is slow in JS: a pixel's 16
// taps are one vector operation per source row instead of 12 scalar
// multiply-adds. resample.ts falls back to its JS loops, which compute the
// same integers, where this module is absent, the image is too big for it,
// or a tapped pixel is not opaque.
//
// The module's memory holds the weight tables, one source image padded by
// PAD pixels on every side, and a few rows of output. It keeps the largest
// size it grew to; above KEEP_BYTES the instance is dropped before the next
// use, so a worker holds at most that much after one huge request.
import { Buffer } from 'node:buffer';
import type { Raster } from '../raster.ts';
import { align16, growMemory } from './load.ts';
import { RESAMPLE_WASM_BASE64 } from './resample-wasm.ts';

interface Exports {
  memory: WebAssembly.Memory;
  opaque(ptr: number, count: number): number;
  span(src: number, stride: number, maxX: number, maxY: number, out: number, n: number, fx: number, fy: number, fdx: number, fdy: number, fb: number): void;
  hrow(row: number, x0: number, x1: number, offs: number, wts: number, out: number): number;
  vrow(r0: number, r1: number, r2: number, r3: number, w0: number, w1: number, w2: number, w3: number, x0: number, x1: number, out: number): void;
}

/** Fraction bits of the span sampler's cubic weights (see CUBIC_INT). */
export const CUBIC_BITS = 11;

/**
 * Catmull-Rom (a = -0.5) weights for 256 sub-pixel positions as integers with
 * CUBIC_BITS fraction bits, 4 per position, each set summing to exactly
 * 2^CUBIC_BITS (the largest weight takes the rounding), so flat areas stay
 * flat. Small enough that the 16-tap sum of 8-bit values is exact in int32.
 */
export const CUBIC_INT: Int32Array = (() => {
  const one = 1 << CUBIC_BITS;
  const w = new Int32Array(256 * 4);
  for (let k = 0; k < 256; k++) {
    const t = k / 256;
    const f = [((-0.5 * t + 1) * t - 0.5) * t, (1.5 * t - 2.5) * t * t + 1, ((-1.5 * t + 2) * t + 0.5) * t, (0.5 * t - 0.5) * t * t];
    let sum = 0;
    let big = 0;
    for (let m = 0; m < 4; m++) {
      w[k * 4 + m] = Math.round(f[m] * one);
      sum += w[k * 4 + m];
      if (f[m] > f[big]) big = m;
    }
    w[k * 4 + big] += one - sum;
  }
  return w;
})();

/** Pixels of edge copies around the source in the module's memory. */
export const PAD = 3;
/** Largest memory a resampling may use; bigger images are resampled in JS. */
export const MAX_BYTES = 96 << 20;
/** Memory above this is given back (the instance dropped) before the next use. */
const KEEP_BYTES = 16 << 20;
const WX = 0;
const WY = 8192;
const DATA = 12288;

let compiled: WebAssembly.Module | null | undefined;
let ex: Exports | undefined;
let mem8 = new Uint8Array(0);
let mem32 = new Uint32Array(0);
/** Bumped whenever a new source is copied in: a span sampler whose source was overwritten copies it again. */
let generation = 0;

function module(): WebAssembly.Module | null {
  if (compiled !== undefined) return compiled;
  try {
    compiled = new WebAssembly.Module(Buffer.from(RESAMPLE_WASM_BASE64, 'base64'));
    // instantiate once here, so a runtime without SIMD is found out now
    new WebAssembly.Instance(compiled, {});
  } catch {
    compiled = null; // no WebAssembly or no SIMD: resample.ts stays in JS
  }
  return compiled;
}

let enabled = true;

/** Turns the WebAssembly path off or on (tests compare it with the JS loops). */
export function setWasmResample(on: boolean): void {
  enabled = on;
}

/** The instance with at least `bytes` of memory and the weight tables in place, or undefined. */
function ready(bytes: number): Exports | undefined {
  if (!enabled || bytes > MAX_BYTES) return undefined;
  const m = module();
  if (!m) return undefined;
  if (ex && ex.memory.buffer.byteLength > KEEP_BYTES && bytes <= KEEP_BYTES) ex = undefined;
  if (!ex) {
    try {
      ex = new WebAssembly.Instance(m, {}).exports as unknown as Exports;
    } catch {
      return undefined; // no memory for a new instance: the caller stays in JS
    }
    refreshViews();
    writeTables();
  }
  if (bytes > ex.memory.buffer.byteLength) {
    // no memory to grow into: the caller stays in JS
    if (!growMemory(ex.memory, bytes)) return undefined;
    refreshViews();
  }
  generation++;
  return ex;
}

function refreshViews(): void {
  mem8 = new Uint8Array(ex!.memory.buffer);
  mem32 = new Uint32Array(ex!.memory.buffer);
}

function writeTables(): void {
  const i16 = new Int16Array(ex!.memory.buffer, WX, 256 * 16);
  const i32 = new Int32Array(ex!.memory.buffer, WY, 256 * 4);
  for (let k = 0; k < 256; k++) {
    const w = CUBIC_INT.subarray(k * 4, k * 4 + 4);
    for (let j = 0; j < 4; j++) {
      i16[k * 16 + j * 2] = w[0];
      i16[k * 16 + j * 2 + 1] = w[1];
      i16[k * 16 + 8 + j * 2] = w[2];
      i16[k * 16 + 8 + j * 2 + 1] = w[3];
    }
    i32.set(w, k * 4);
  }
}

/** Bytes of the padded copy of a w x h source, plus 16 of opaque slack for `opaque`'s vector reads. */
function paddedBytes(w: number, h: number): number {
  return align16((w + 2 * PAD) * (h + 2 * PAD) * 4 + 16);
}

/** Copies `src` to DATA with PAD edge copies on every side. */
function copyPadded(src: Raster): void {
  const sw = src.width;
  const sh = src.height;
  const pw = sw + 2 * PAD;
  const base = DATA / 4;
  const bytes = src.data;
  for (let y = 0; y < sh; y++) {
    const row = base + (y + PAD) * pw;
    mem8.set(bytes.subarray(y * sw * 4, (y + 1) * sw * 4), (row + PAD) * 4);
    mem32.fill(mem32[row + PAD], row, row + PAD);
    mem32.fill(mem32[row + PAD + sw - 1], row + PAD + sw, row + pw);
  }
  for (let k = 0; k < PAD; k++) {
    mem32.copyWithin(base + k * pw, base + PAD * pw, base + (PAD + 1) * pw);
    mem32.copyWithin(base + (PAD + sh + k) * pw, base + (PAD + sh - 1) * pw, base + (PAD + sh) * pw);
  }
  const end = base + pw * (sh + 2 * PAD);
  mem32.fill(0xffffffff, end, end + 4);
}

/**
 * A bicubic span sampler over an opaque source in WebAssembly, for
 * resample.ts's spanSampler: `span(di, n, fx, fy, fdx, fdy)` writes n pixels
 * from fixed-point position (fx, fy) (fb fraction bits, on the tap grid) to
 * d[di ..] (a raster dw pixels wide; pixels past its end are dropped) and
 * returns true, or false when it could not get the module's memory back
 * after another resampling used it (the caller samples that span in JS).
 * Undefined when the module is absent, the source too big, or not every
 * source pixel opaque.
 */
export function wasmBicubicSampler(
  src: Raster, d: Uint32Array, dw: number, fb: number,
): ((di: number, n: number, fx: number, fy: number, fdx: number, fdy: number) => boolean) | undefined {
  const sw = src.width;
  const sh = src.height;
  const srcBytes = paddedBytes(sw, sh);
  const out = DATA + srcBytes;
  // output room for one destination row; longer spans go in parts
  const maxN = Math.max(1, dw);
  const bytes = out + align16(maxN * 4);
  if (sw < 1 || sh < 1 || bytes > MAX_BYTES) return undefined;
  const load = (): Exports | undefined => {
    const e = ready(bytes);
    if (!e) return undefined;
    copyPadded(src);
    return e;
  };
  const first = load();
  if (!first || !first.opaque(DATA, (sw + 2 * PAD) * (sh + 2 * PAD))) return undefined;
  let e: Exports = first;
  let mine = generation;
  const stride = (sw + 2 * PAD) * 4;
  const origin = DATA + PAD * stride + PAD * 4;
  return (di, n, fx, fy, fdx, fdy) => {
    // Another resampling used the memory meanwhile (a new generation), or
    // dropped the instance and then failed to grow the new one (ex changed
    // without a generation of ours): copy the source in again.
    if (mine !== generation || e !== ex) {
      const again = load();
      if (!again) return false;
      e = again;
      mine = generation;
    }
    if (di < 0) return false;
    for (let done = 0; done < n; done += maxN) {
      // as a typed array write past the end would, pixels beyond d are dropped
      const k = Math.min(maxN, n - done, d.length - di - done);
      if (k <= 0) break;
      e.span(origin, stride, sw - 1, sh - 1, out, k, fx + done * fdx, fy + done * fdy, fdx, fdy, fb);
      d.set(mem32.subarray(out / 4, out / 4 + k), di + done);
    }
    uses++;
    return true;
  };
}

/**
 * The opaque separable bicubic pass of transformExtent in WebAssembly, the
 * same integers as resample.ts's hRowOpaque4/vRowOpaque4. xFirst[x] is the
 * first of column x's 4 taps (unclamped, from -2), xw its 4 weights with 14
 * fraction bits; yi/yw the same for rows (yi clamped, as transformExtent's
 * ring uses them). Writes rows [y0, y1), columns [x0, x1) of d (dw wide).
 * Returns undefined when the module is absent or the source too big, false
 * (with d partly written) as soon as a tapped pixel is not opaque.
 */
export function wasmExtentBicubic(
  src: Raster, d: Uint32Array, dw: number,
  xFirst: Int32Array, xw: Int32Array, x0: number, x1: number,
  yi: Int32Array, yw: Int32Array, y0: number, y1: number,
): boolean | undefined {
  const sw = src.width;
  const sh = src.height;
  const offs = DATA + paddedBytes(sw, sh);
  const wts = offs + align16(dw * 4);
  const ring = wts + dw * 32;
  const rowOut = ring + 4 * dw * 16;
  const bytes = rowOut + align16(dw * 4);
  if (sw < 1 || sh < 1) return undefined;
  const e = ready(bytes);
  if (!e) return undefined;
  copyPadded(src);
  const stride = (sw + 2 * PAD) * 4;
  const offs32 = offs / 4;
  const w16 = new Int16Array(e.memory.buffer, wts, dw * 16);
  for (let x = x0; x < x1; x++) {
    mem32[offs32 + x] = (xFirst[x] + PAD) * 4;
    const j = x * 4;
    for (let k = 0; k < 4; k++) {
      w16[x * 16 + k * 2] = xw[j];
      w16[x * 16 + k * 2 + 1] = xw[j + 1];
      w16[x * 16 + 8 + k * 2] = xw[j + 2];
      w16[x * 16 + 8 + k * 2 + 1] = xw[j + 3];
    }
  }
  const slotRow = new Int32Array(4).fill(-1);
  const ringRow = dw * 16;
  for (let y = y0; y < y1; y++) {
    const j = y * 4;
    for (let m = 0; m < 4; m++) {
      const row = yi[j + m];
      const slot = row % 4;
      if (slotRow[slot] === row) continue;
      slotRow[slot] = row;
      if (!e.hrow(DATA + (row + PAD) * stride, x0, x1, offs, wts, ring + slot * ringRow)) return false;
    }
    e.vrow(ring + (yi[j] % 4) * ringRow, ring + (yi[j + 1] % 4) * ringRow, ring + (yi[j + 2] % 4) * ringRow, ring + (yi[j + 3] % 4) * ringRow,
      yw[j], yw[j + 1], yw[j + 2], yw[j + 3], x0, x1, rowOut);
    d.set(mem32.subarray(rowOut / 4 + x0, rowOut / 4 + x1), y * dw + x0);
  }
  uses++;
  return true;
}

let uses = 0;

/** What the module did so far, for tests: resamplings done in it, and the memory it holds now (0 without an instance). */
export function wasmResampleStats(): { uses: number; memoryBytes: number } {
  return { uses, memoryBytes: ex ? ex.memory.buffer.byteLength : 0 };
}
