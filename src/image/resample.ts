/**
 * Pixel geometry for GetMap: crop, paste, and the affine "extent" transform
 * MapProxy does with PIL's Image.transform(size, EXTENT, ...).
 *
 * Coordinates are continuous pixel-edge coordinates (0..width), and every
 * destination pixel is sampled at its centre, as Pillow >= 3.4 does. Samplers
 * are non-antialiasing like PIL's transform. Filtering happens on
 * premultiplied values so that transparent pixels (often stored as black) do
 * not darken the edges of opaque ones.
 */
import type { Bbox } from '../srs/types.ts';
import { createRaster, TRANSPARENT, type Raster, type Rgba } from './raster.ts';

/** The resampling methods MapProxy offers (image.resampling_method). */
export type ResamplingMethod = 'nearest' | 'bilinear' | 'bicubic';

/**
 * Writes `n` destination pixels, starting at pixel index `di`, sampled along the
 * source line (sx + i*dx, sy + i*dy). Samples outside the source leave the
 * destination pixel untouched, so callers pre-fill it with their fill colour.
 */
export type SpanSampler = (di: number, n: number, sx: number, sy: number, dx: number, dy: number) => void;

/** Copies the region (x, y, w, h) into a new raster; parts outside `r` become `fill` (transparent by default). */
export function cropRaster(r: Raster, x: number, y: number, w: number, h: number, fill: Rgba = TRANSPARENT): Raster {
  x = Math.round(x);
  y = Math.round(y);
  if (!(w > 0 && h > 0)) throw new RangeError(`invalid crop size ${w}x${h}`);
  if (x === 0 && w === r.width && y >= 0 && y + h <= r.height) {
    // Full-width bands (meta tile rows, identity transforms) are one contiguous block.
    return { width: w, height: h, data: r.data.slice(y * w * 4, (y + h) * w * 4) };
  }
  const out = createRaster(w, h, fill);
  copyRect(r, out, x, y, 0, 0, w, h);
  return out;
}

/** Replaces the pixels of `dst` under `src` placed at (x, y), without blending; parts outside `dst` are dropped. */
export function pasteRaster(dst: Raster, src: Raster, x: number, y: number): void {
  x = Math.round(x);
  y = Math.round(y);
  copyRect(src, dst, 0, 0, x, y, src.width, src.height);
}

/**
 * Copies a w x h block from (sx, sy) in `src` to (dx, dy) in `dst`, clipped to
 * both rasters. Row copies go through TypedArray.set, which is a memmove.
 */
export function copyRect(
  src: Raster, dst: Raster, sx: number, sy: number, dx: number, dy: number, w: number, h: number,
): void {
  // Clip against the source, moving the destination origin along.
  if (sx < 0) { dx -= sx; w += sx; sx = 0; }
  if (sy < 0) { dy -= sy; h += sy; sy = 0; }
  if (dx < 0) { sx -= dx; w += dx; dx = 0; }
  if (dy < 0) { sy -= dy; h += dy; dy = 0; }
  w = Math.min(w, src.width - sx, dst.width - dx);
  h = Math.min(h, src.height - sy, dst.height - dy);
  if (w <= 0 || h <= 0) return;
  const s = src.data;
  const d = dst.data;
  const rowBytes = w * 4;
  for (let row = 0; row < h; row++) {
    const si = ((sy + row) * src.width + sx) * 4;
    d.set(s.subarray(si, si + rowBytes), ((dy + row) * dst.width + dx) * 4);
  }
}

/**
 * Resamples `src` (covering srcBbox) into a new raster of dstSize covering dstBbox,
 * both in the same SRS, like PIL's EXTENT transform that MapProxy uses for
 * same-SRS requests. Where the resolutions match (within 0.1 px across the image)
 * the result is a crop at the rounded offset, as MapProxy does, so tiles stay sharp.
 */
export function transformExtent(
  src: Raster, srcBbox: Bbox, dstBbox: Bbox, dstSize: readonly [number, number],
  method: ResamplingMethod, fill: Rgba = TRANSPARENT,
): Raster {
  const [dw, dh] = dstSize;
  checkBbox(srcBbox);
  checkBbox(dstBbox);
  const srcResX = (srcBbox[2] - srcBbox[0]) / src.width;
  const srcResY = (srcBbox[3] - srcBbox[1]) / src.height;
  // Source pixels per destination pixel, and where the destination's top-left edge lies in the source.
  const scaleX = (dstBbox[2] - dstBbox[0]) / dw / srcResX;
  const scaleY = (dstBbox[3] - dstBbox[1]) / dh / srcResY;
  const offX = (dstBbox[0] - srcBbox[0]) / srcResX;
  const offY = (srcBbox[3] - dstBbox[3]) / srcResY;

  if (Math.abs(scaleX - 1) * dw < 0.1 && Math.abs(scaleY - 1) * dh < 0.1) {
    return cropRaster(src, Math.round(offX), Math.round(offY), dw, dh, fill);
  }

  const out = createRaster(dw, dh, fill);
  const sample = spanSampler(src, out, method);
  const sx0 = offX + 0.5 * scaleX;
  for (let y = 0; y < dh; y++) {
    sample(y * dw, dw, sx0, offY + (y + 0.5) * scaleY, scaleX, 0);
  }
  return out;
}

function checkBbox(b: Bbox): void {
  if (!(b[2] > b[0] && b[3] > b[1])) throw new RangeError(`invalid bbox ${b.join(',')}`);
}

/**
 * A sampler bound to one source/destination pair and method; `dst` must be
 * 4-byte aligned (createRaster's are).
 */
export function spanSampler(src: Raster, dst: Raster, method: ResamplingMethod): SpanSampler {
  if (dst.data.byteOffset % 4 !== 0) throw new RangeError('destination raster data must be 4-byte aligned');
  const span = method === 'nearest' ? nearestSpan
    : method === 'bilinear' ? bilinearSpan
    : method === 'bicubic' ? bicubicSpan
    : undefined;
  if (!span) throw new RangeError(`unknown resampling method '${method as string}'`);
  const s = pixels32(src);
  const d = pixels32(dst);
  const sw = src.width;
  const sh = src.height;
  const fb = fractionBits(src);
  const range = new Int32Array(2);
  return (di, n, sx, sy, dx, dy) => span(s, d, sw, sh, fb, range, di, n, sx, sy, dx, dy);
}

// Pixels are read and written as one uint32; where each channel sits in it
// depends on the platform's byte order.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const SR = LITTLE_ENDIAN ? 0 : 24;
const SG = LITTLE_ENDIAN ? 8 : 16;
const SB = LITTLE_ENDIAN ? 16 : 8;
const SA = LITTLE_ENDIAN ? 24 : 0;

/** A Uint32Array view of the pixels; unaligned data (a subarray of a decoder buffer) is copied first. */
function pixels32(r: Raster): Uint32Array {
  const d = r.data;
  if (d.byteOffset % 4 === 0) return new Uint32Array(d.buffer, d.byteOffset, r.width * r.height);
  return new Uint32Array(d.slice().buffer);
}

/**
 * Fraction bits of the fixed-point source coordinates: integer stepping is
 * about twice as fast as floor() on doubles, and 16 bits keep the drift over
 * a 4096 px span below 0.05 px. Huge sources trade fraction bits for range.
 */
function fractionBits(src: Raster): number {
  const maxDim = Math.max(src.width, src.height) + 2;
  const bits = Math.min(16, 30 - Math.ceil(Math.log2(maxDim)));
  if (bits < 8) throw new RangeError(`source raster ${src.width}x${src.height} is too large to resample`);
  return bits;
}

/**
 * Narrows the span to the samples inside [0, sw) x [0, sh), writing [first, end)
 * to `range`. Solved per axis, then nudged so float rounding agrees with a
 * per-pixel test; the inside part of a straight line is one interval.
 */
function clipSpan(
  n: number, sx: number, sy: number, dx: number, dy: number, sw: number, sh: number, range: Int32Array,
): void {
  range[0] = 0;
  range[1] = 0;
  if (!(Number.isFinite(sx) && Number.isFinite(sy) && Number.isFinite(dx) && Number.isFinite(dy))) return;
  let i0 = 0;
  let i1 = n;
  if (dx === 0) {
    if (!(sx >= 0 && sx < sw)) return;
  } else if (dx > 0) {
    i0 = Math.max(i0, Math.ceil(-sx / dx));
    i1 = Math.min(i1, Math.ceil((sw - sx) / dx));
  } else {
    i0 = Math.max(i0, Math.floor((sw - sx) / dx) + 1);
    i1 = Math.min(i1, Math.floor(-sx / dx) + 1);
  }
  if (dy === 0) {
    if (!(sy >= 0 && sy < sh)) return;
  } else if (dy > 0) {
    i0 = Math.max(i0, Math.ceil(-sy / dy));
    i1 = Math.min(i1, Math.ceil((sh - sy) / dy));
  } else {
    i0 = Math.max(i0, Math.floor((sh - sy) / dy) + 1);
    i1 = Math.min(i1, Math.floor(-sy / dy) + 1);
  }
  if (!(i0 < i1)) return;
  while (i0 < i1 && !inside(sx + i0 * dx, sy + i0 * dy, sw, sh)) i0++;
  while (i1 > i0 && !inside(sx + (i1 - 1) * dx, sy + (i1 - 1) * dy, sw, sh)) i1--;
  if (i0 === i1) return;
  while (i0 > 0 && inside(sx + (i0 - 1) * dx, sy + (i0 - 1) * dy, sw, sh)) i0--;
  while (i1 < n && inside(sx + i1 * dx, sy + i1 * dy, sw, sh)) i1++;
  range[0] = i0;
  range[1] = i1;
}

function inside(px: number, py: number, sw: number, sh: number): boolean {
  return px >= 0 && px < sw && py >= 0 && py < sh;
}

// The span loops are top-level functions taking everything as parameters:
// JSC runs them about twice as fast as loops reading closure variables.
function nearestSpan(
  s: Uint32Array, d: Uint32Array, sw: number, sh: number, fb: number, range: Int32Array,
  di: number, n: number, sx: number, sy: number, dx: number, dy: number,
): void {
  const maxX = sw - 1;
  const maxY = sh - 1;
  const one = 2 ** fb;
  clipSpan(n, sx, sy, dx, dy, sw, sh, range);
  const i0 = range[0];
  const i1 = range[1];
  let fx = Math.round((sx + i0 * dx) * one);
  let fy = Math.round((sy + i0 * dy) * one);
  const fdx = Math.round(dx * one);
  const fdy = Math.round(dy * one);
  for (let i = i0; i < i1; i++) {
    let x = fx >> fb;
    let y = fy >> fb;
    // Fixed-point drift may step a hair past the clipped edge.
    x = x < 0 ? 0 : x > maxX ? maxX : x;
    y = y < 0 ? 0 : y > maxY ? maxY : y;
    d[di + i] = s[y * sw + x];
    fx += fdx;
    fy += fdy;
  }
}

function bilinearSpan(
  s: Uint32Array, d: Uint32Array, sw: number, sh: number, fb: number, range: Int32Array,
  di: number, n: number, sx: number, sy: number, dx: number, dy: number,
): void {
  const maxX = sw - 1;
  const maxY = sh - 1;
  const fs = fb - 8;
  const one = 2 ** fb;
  clipSpan(n, sx, sy, dx, dy, sw, sh, range);
  const i0 = range[0];
  const i1 = range[1];
  // Taps sit at pixel centres, hence the half pixel.
  let fx = Math.round((sx + i0 * dx - 0.5) * one);
  let fy = Math.round((sy + i0 * dy - 0.5) * one);
  const fdx = Math.round(dx * one);
  const fdy = Math.round(dy * one);
  for (let i = i0; i < i1; i++, fx += fdx, fy += fdy) {
    const xf = fx >> fb;
    const yf = fy >> fb;
    // 8-bit sub-pixel position.
    const tx = (fx >> fs) & 255;
    const ty = (fy >> fs) & 255;
    // Taps beyond the edge repeat the edge pixel, as PIL does.
    const x0 = xf < 0 ? 0 : xf > maxX ? maxX : xf;
    const x1 = xf < maxX ? xf + 1 : maxX;
    const r0 = (yf < 0 ? 0 : yf > maxY ? maxY : yf) * sw;
    const r1 = (yf < maxY ? yf + 1 : maxY) * sw;
    const p00 = s[r0 + x0];
    const p01 = s[r0 + x1];
    const p10 = s[r1 + x0];
    const p11 = s[r1 + x1];
    if (((p00 & p01 & p10 & p11) >>> SA & 255) === 255) {
      // Opaque neighbourhood, the common case: straight and premultiplied agree,
      // and two channels at a time fit one int32 multiply with 7-bit weights.
      const hx = tx >> 1;
      const hy = ty >> 1;
      const gx = 128 - hx;
      const gy = 128 - hy;
      const topRB = (((p00 & 0xff00ff) * gx + (p01 & 0xff00ff) * hx + 0x400040) >>> 7) & 0xff00ff;
      const topGA = ((((p00 >>> 8) & 0xff00ff) * gx + ((p01 >>> 8) & 0xff00ff) * hx + 0x400040) >>> 7) & 0xff00ff;
      const botRB = (((p10 & 0xff00ff) * gx + (p11 & 0xff00ff) * hx + 0x400040) >>> 7) & 0xff00ff;
      const botGA = ((((p10 >>> 8) & 0xff00ff) * gx + ((p11 >>> 8) & 0xff00ff) * hx + 0x400040) >>> 7) & 0xff00ff;
      const rb = ((topRB * gy + botRB * hy + 0x400040) >>> 7) & 0xff00ff;
      const ga = ((topGA * gy + botGA * hy + 0x400040) >>> 7) & 0xff00ff;
      d[di + i] = (rb | (ga << 8)) >>> 0;
      continue;
    }
    const w00 = (256 - tx) * (256 - ty);
    const w01 = tx * (256 - ty);
    const w10 = (256 - tx) * ty;
    const w11 = tx * ty;
    // Weight by alpha (premultiply), so transparent black does not darken the edge.
    const v00 = w00 * ((p00 >>> SA) & 255);
    const v01 = w01 * ((p01 >>> SA) & 255);
    const v10 = w10 * ((p10 >>> SA) & 255);
    const v11 = w11 * ((p11 >>> SA) & 255);
    const alpha = (v00 + v01 + v10 + v11 + 32768) >>> 16;
    if (alpha === 0) {
      d[di + i] = 0;
      continue;
    }
    // Dropping 8 low bits keeps the colour sums inside int32.
    const u00 = v00 >>> 8;
    const u01 = v01 >>> 8;
    const u10 = v10 >>> 8;
    const u11 = v11 >>> 8;
    const u = u00 + u01 + u10 + u11;
    const half = u >>> 1;
    const r = ((((p00 >>> SR) & 255) * u00 + ((p01 >>> SR) & 255) * u01
      + ((p10 >>> SR) & 255) * u10 + ((p11 >>> SR) & 255) * u11 + half) / u) | 0;
    const g = ((((p00 >>> SG) & 255) * u00 + ((p01 >>> SG) & 255) * u01
      + ((p10 >>> SG) & 255) * u10 + ((p11 >>> SG) & 255) * u11 + half) / u) | 0;
    const b = ((((p00 >>> SB) & 255) * u00 + ((p01 >>> SB) & 255) * u01
      + ((p10 >>> SB) & 255) * u10 + ((p11 >>> SB) & 255) * u11 + half) / u) | 0;
    d[di + i] = ((r << SR) | (g << SG) | (b << SB) | (alpha << SA)) >>> 0;
  }
}

/** Catmull-Rom (a = -0.5) tap weights for 256 sub-pixel positions; each row of 4 sums to 1. */
const CUBIC = (() => {
  const w = new Float64Array(256 * 4);
  for (let k = 0; k < 256; k++) {
    const t = k / 256;
    w[k * 4] = ((-0.5 * t + 1) * t - 0.5) * t;
    w[k * 4 + 1] = (1.5 * t - 2.5) * t * t + 1;
    w[k * 4 + 2] = ((-1.5 * t + 2) * t + 0.5) * t;
    w[k * 4 + 3] = (0.5 * t - 0.5) * t * t;
  }
  return w;
})();

function bicubicSpan(
  s: Uint32Array, d: Uint32Array, sw: number, sh: number, fb: number, range: Int32Array,
  di: number, n: number, sx: number, sy: number, dx: number, dy: number,
): void {
  const maxX = sw - 1;
  const maxY = sh - 1;
  const fs = fb - 8;
  const one = 2 ** fb;
  const W = CUBIC;
  clipSpan(n, sx, sy, dx, dy, sw, sh, range);
  const i0 = range[0];
  const i1 = range[1];
  let fx = Math.round((sx + i0 * dx - 0.5) * one);
  let fy = Math.round((sy + i0 * dy - 0.5) * one);
  const fdx = Math.round(dx * one);
  const fdy = Math.round(dy * one);
  for (let i = i0; i < i1; i++, fx += fdx, fy += fdy) {
    const xf = fx >> fb;
    const yf = fy >> fb;
    const wx = ((fx >> fs) & 255) * 4;
    const wy = ((fy >> fs) & 255) * 4;
    const wx0 = W[wx];
    const wx1 = W[wx + 1];
    const wx2 = W[wx + 2];
    const wx3 = W[wx + 3];
    const c0 = clampIndex(xf - 1, maxX);
    const c1 = clampIndex(xf, maxX);
    const c2 = clampIndex(xf + 1, maxX);
    const c3 = clampIndex(xf + 2, maxX);
    // First pass in straight colour, separable (4 + 1 multiplies per channel and
    // row); it is the answer whenever all 16 taps are opaque, as most maps are.
    let r = 0;
    let g = 0;
    let b = 0;
    let opaque = -1;
    for (let k = 0; k < 4; k++) {
      const row = clampIndex(yf - 1 + k, maxY) * sw;
      const p0 = s[row + c0];
      const p1 = s[row + c1];
      const p2 = s[row + c2];
      const p3 = s[row + c3];
      opaque &= p0 & p1 & p2 & p3;
      const wyk = W[wy + k];
      r += wyk * (wx0 * ((p0 >>> SR) & 255) + wx1 * ((p1 >>> SR) & 255) + wx2 * ((p2 >>> SR) & 255) + wx3 * ((p3 >>> SR) & 255));
      g += wyk * (wx0 * ((p0 >>> SG) & 255) + wx1 * ((p1 >>> SG) & 255) + wx2 * ((p2 >>> SG) & 255) + wx3 * ((p3 >>> SG) & 255));
      b += wyk * (wx0 * ((p0 >>> SB) & 255) + wx1 * ((p1 >>> SB) & 255) + wx2 * ((p2 >>> SB) & 255) + wx3 * ((p3 >>> SB) & 255));
    }
    if (((opaque >>> SA) & 255) === 255) {
      // The negative lobes overshoot; clamp each channel.
      d[di + i] = ((toByte(r) << SR) | (toByte(g) << SG) | (toByte(b) << SB) | (255 << SA)) >>> 0;
      continue;
    }
    d[di + i] = bicubicPremultiplied(s, sw, maxY, yf, wx0, wx1, wx2, wx3, W, wy, c0, c1, c2, c3);
  }
}

/** The 4x4 taps weighted by alpha, so transparent (often black) pixels do not bleed into the colour. */
function bicubicPremultiplied(
  s: Uint32Array, sw: number, maxY: number, yf: number,
  wx0: number, wx1: number, wx2: number, wx3: number, W: Float64Array, wy: number,
  c0: number, c1: number, c2: number, c3: number,
): number {
  let a = 0;
  let r = 0;
  let g = 0;
  let b = 0;
  for (let k = 0; k < 4; k++) {
    const row = clampIndex(yf - 1 + k, maxY) * sw;
    const wyk = W[wy + k];
    const p0 = s[row + c0];
    const p1 = s[row + c1];
    const p2 = s[row + c2];
    const p3 = s[row + c3];
    const v0 = wx0 * wyk * ((p0 >>> SA) & 255);
    const v1 = wx1 * wyk * ((p1 >>> SA) & 255);
    const v2 = wx2 * wyk * ((p2 >>> SA) & 255);
    const v3 = wx3 * wyk * ((p3 >>> SA) & 255);
    a += v0 + v1 + v2 + v3;
    r += v0 * ((p0 >>> SR) & 255) + v1 * ((p1 >>> SR) & 255) + v2 * ((p2 >>> SR) & 255) + v3 * ((p3 >>> SR) & 255);
    g += v0 * ((p0 >>> SG) & 255) + v1 * ((p1 >>> SG) & 255) + v2 * ((p2 >>> SG) & 255) + v3 * ((p3 >>> SG) & 255);
    b += v0 * ((p0 >>> SB) & 255) + v1 * ((p1 >>> SB) & 255) + v2 * ((p2 >>> SB) & 255) + v3 * ((p3 >>> SB) & 255);
  }
  if (a < 0.5) return 0;
  const inv = 1 / a;
  return ((toByte(r * inv) << SR) | (toByte(g * inv) << SG) | (toByte(b * inv) << SB) | (toByte(a) << SA)) >>> 0;
}

function clampIndex(v: number, max: number): number {
  return v < 0 ? 0 : v > max ? max : v;
}

function toByte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0;
}
