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
import { CUBIC_BITS, CUBIC_INT, wasmBicubicSampler, wasmExtentBicubic } from './wasm/resample.ts';

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

  if (!(Number.isFinite(scaleX) && Number.isFinite(scaleY) && Number.isFinite(offX) && Number.isFinite(offY) && scaleX > 0 && scaleY > 0)) {
    tapCount(method);
    return createRaster(dw, dh, fill);
  }
  return transformAxes(src, linearPositions(dw, offX, scaleX), linearPositions(dh, offY, scaleY), method, fill);
}

/** Source positions of n samples whose centres are `scale` apart, the first edge at `off`. */
function linearPositions(n: number, off: number, scale: number): Float64Array {
  const pos = new Float64Array(n);
  for (let i = 0; i < n; i++) pos[i] = off + (i + 0.5) * scale;
  return pos;
}

function tapCount(method: ResamplingMethod): number {
  const k = method === 'nearest' ? 1 : method === 'bilinear' ? 2 : method === 'bicubic' ? 4 : 0;
  if (k === 0) throw new RangeError(`unknown resampling method '${method as string}'`);
  return k;
}

/**
 * Samples `src` at separate positions per axis: destination column x at
 * source x cols[x], row y at source y rows[y] (pixel edge coordinates, the
 * sample's centre; NaN for none), into a cols.length x rows.length raster,
 * with the filter of transformExtent (PIL's EXTENT: 4 bicubic taps, no
 * widening). That is transformExtent for any mapping in which x depends on
 * x alone and y on y alone (EPSG:4326 <-> web mercator). Samples outside
 * the source keep `fill`; the ones inside must be one run along each axis
 * (monotonic positions give that).
 */
export function transformAxes(
  src: Raster, cols: Float64Array, rows: Float64Array, method: ResamplingMethod, fill: Rgba = TRANSPARENT,
): Raster {
  const dw = cols.length;
  const out = createRaster(dw, rows.length, fill);
  const k = tapCount(method);
  const xt = axisTaps(cols, src.width, k);
  const yt = axisTaps(rows, src.height, k);
  if (xt.first >= xt.end || yt.first >= yt.end) return out;
  const d = pixels32(out);
  if (k === 1) {
    const s = pixels32(src);
    const xi = xt.idx;
    for (let y = yt.first; y < yt.end; y++) nearestRow(s, d, yt.idx[y] * src.width, y * dw, xi, xt.first, xt.end);
    return out;
  }
  // Separable: a horizontal pass per needed source row into a ring of k rows,
  // then a vertical pass per destination row. Opaque sources run in integer
  // fixed point; the first tapped pixel that is not opaque switches to the
  // premultiplied float path, which redoes the whole image.
  if (!separableOpaque(src, d, dw, xt, yt, k)) separablePremultiplied(src, d, dw, xt, yt, k);
  return out;
}

/**
 * The source pixels transformExtent reads for this request, as x0, y0, x1, y1
 * (end exclusive) of a srcW x srcH source: the sample centres' span plus the
 * bicubic reach and `margin` pixels, clamped to the source. Handing
 * transformExtent only that window (with its bbox) gives the same pixels;
 * callers that assemble the source from tiles skip the rest. The whole
 * source when the request does not map into it.
 */
export function extentSourceWindow(
  srcW: number, srcH: number, srcBbox: Bbox, dstBbox: Bbox, dstSize: readonly [number, number], margin = 2,
): [number, number, number, number] {
  // the source positions of the first and the last sample centre along an axis
  const span = (n: number, off: number, scale: number, size: number) => sourceSpan(off + 0.5 * scale, off + (n - 0.5) * scale, size, margin);
  const resX = (srcBbox[2] - srcBbox[0]) / srcW;
  const resY = (srcBbox[3] - srcBbox[1]) / srcH;
  const [x0, x1] = span(dstSize[0], (dstBbox[0] - srcBbox[0]) / resX, (dstBbox[2] - dstBbox[0]) / dstSize[0] / resX, srcW);
  const [y0, y1] = span(dstSize[1], (srcBbox[3] - dstBbox[3]) / resY, (dstBbox[3] - dstBbox[1]) / dstSize[1] / resY, srcH);
  return [x0, y0, x1, y1];
}

/**
 * The source pixels, start and end (exclusive) along one axis of `size`,
 * that samples between source positions lo and hi read: their span plus the
 * bicubic reach and `margin`, clamped to the source; the whole axis when the
 * span misses it (or is not a number).
 */
export function sourceSpan(lo: number, hi: number, size: number, margin: number): [number, number] {
  const first = Math.floor(lo - 0.5) - 1 - margin;
  const last = Math.floor(hi - 0.5) + 3 + margin;
  if (!(first < size && last > 0 && first < last)) return [0, size];
  return [Math.max(0, first), Math.min(size, last)];
}

/**
 * Per-axis sampling table of an extent transform: for destination index i in
 * [first, end) (from the first to the last sample whose centre lies inside
 * the source; transformAxes' callers see that those in between do) the k clamped
 * source indices idx[i*k..] and their weights, as doubles (wf) and as
 * WEIGHT_BITS fixed point summing exactly to 1 (wi).
 */
interface AxisTaps { first: number; end: number; idx: Int32Array; wf: Float64Array; wi: Int32Array; lo: Int32Array }

const WEIGHT_BITS = 14;
const WEIGHT_ONE = 1 << WEIGHT_BITS;
// Horizontal sums are kept with 7 fraction bits: 255 * 1.25 * 2^7 times a
// 2^14 vertical weight sum of at most 1.25 stays inside int32.
const MID_SHIFT = WEIGHT_BITS - 7;
const OUT_SHIFT = WEIGHT_BITS + 7;

function axisTaps(pos: Float64Array, size: number, k: number): AxisTaps {
  const n = pos.length;
  const idx = new Int32Array(n * k);
  const wf = new Float64Array(n * k);
  const wi = new Int32Array(n * k);
  // bicubic: the first tap unclamped (from -2), for the WebAssembly pass's padded source
  const lo = new Int32Array(k === 4 ? n : 0);
  const max = size - 1;
  let first = n;
  let end = 0;
  for (let i = 0; i < n; i++) {
    const c = pos[i];
    if (!(c >= 0 && c < size)) continue;
    if (i < first) first = i;
    end = i + 1;
    const j = i * k;
    if (k === 1) {
      const f = Math.floor(c);
      idx[j] = f > max ? max : f;
      wf[j] = 1;
      wi[j] = WEIGHT_ONE;
      continue;
    }
    // Taps sit at pixel centres, hence the half pixel; beyond the edge they repeat the edge pixel.
    const p = c - 0.5;
    const f = Math.floor(p);
    const t = p - f;
    if (k === 2) {
      idx[j] = clampIndex(f, max);
      idx[j + 1] = clampIndex(f + 1, max);
      wf[j] = 1 - t;
      wf[j + 1] = t;
    } else {
      for (let m = 0; m < 4; m++) idx[j + m] = clampIndex(f - 1 + m, max);
      lo[i] = f - 1;
      wf[j] = ((-0.5 * t + 1) * t - 0.5) * t;
      wf[j + 1] = (1.5 * t - 2.5) * t * t + 1;
      wf[j + 2] = ((-1.5 * t + 2) * t + 0.5) * t;
      wf[j + 3] = (0.5 * t - 0.5) * t * t;
    }
    // Fixed-point weights that sum to exactly one, so flat areas stay flat.
    let sum = 0;
    let big = j;
    for (let m = j; m < j + k; m++) {
      wi[m] = Math.round(wf[m] * WEIGHT_ONE);
      sum += wi[m];
      if (wf[m] > wf[big]) big = m;
    }
    wi[big] += WEIGHT_ONE - sum;
  }
  return { first, end: first < end ? end : first, idx, wf, wi, lo };
}

/** A plain Uint8Array view of the pixel bytes (JSC reads those faster than clamped arrays). */
function bytes(r: Raster): Uint8Array {
  return new Uint8Array(r.data.buffer, r.data.byteOffset, r.width * r.height * 4);
}

function nearestRow(s: Uint32Array, d: Uint32Array, row: number, di: number, xi: Int32Array, x0: number, x1: number): void {
  for (let x = x0; x < x1; x++) d[di + x] = s[row + xi[x]];
}

/** Integer separable pass assuming opaque taps; false (and a partly written `d`) as soon as a tapped pixel is not. */
function separableOpaque(src: Raster, d: Uint32Array, dw: number, xt: AxisTaps, yt: AxisTaps, k: number): boolean {
  if (k === 4) {
    // the same integers in WebAssembly, 4 channels a vector, where it is there and the image fits
    const done = wasmExtentBicubic(src, d, dw, xt.lo, xt.wi, xt.first, xt.end, yt.idx, yt.wi, yt.first, yt.end);
    if (done !== undefined) return done;
  }
  const s32 = pixels32(src);
  // Bilinear: 7-bit weight of the second tap per column.
  const xh = new Int32Array(k === 2 ? dw : 0);
  for (let i = 0; i < xh.length; i++) xh[i] = Math.round(xt.wf[i * 2 + 1] * 128);
  const ring = new Int32Array(k * dw * 4);
  const slotRow = new Int32Array(k).fill(-1);
  const x0 = xt.first;
  const x1 = xt.end;
  const yi = yt.idx;
  const yw = yt.wi;
  for (let y = yt.first; y < yt.end; y++) {
    const j = y * k;
    for (let m = 0; m < k; m++) {
      const row = yi[j + m];
      const slot = row % k;
      if (slotRow[slot] === row) continue;
      slotRow[slot] = row;
      const ok = k === 4
        ? hRowOpaque4(s32, row * src.width, xt.idx, xt.wi, x0, x1, ring, slot * dw * 4)
        : hRowOpaque2(s32, row * src.width, xt.idx, xh, x0, x1, ring, slot * dw * 2);
      if (!ok) return false;
    }
    if (k === 4) {
      vRowOpaque4(d, y * dw, ring, (yi[j] % 4) * dw * 4, (yi[j + 1] % 4) * dw * 4, (yi[j + 2] % 4) * dw * 4,
        (yi[j + 3] % 4) * dw * 4, yw[j], yw[j + 1], yw[j + 2], yw[j + 3], x0, x1);
    } else {
      vRowOpaque2(d, y * dw, ring, (yi[j] % 2) * dw * 2, (yi[j + 1] % 2) * dw * 2, Math.round(yt.wf[j + 1] * 128), x0, x1);
    }
  }
  return true;
}

function hRowOpaque4(
  s: Uint32Array, rb: number, xb: Int32Array, xw: Int32Array, x0: number, x1: number, t: Int32Array, tb: number,
): boolean {
  const half = 1 << (MID_SHIFT - 1);
  let opaque = -1;
  for (let x = x0; x < x1; x++) {
    const j = x * 4;
    const p0 = s[rb + xb[j]];
    const p1 = s[rb + xb[j + 1]];
    const p2 = s[rb + xb[j + 2]];
    const p3 = s[rb + xb[j + 3]];
    const w0 = xw[j];
    const w1 = xw[j + 1];
    const w2 = xw[j + 2];
    const w3 = xw[j + 3];
    opaque &= p0 & p1 & p2 & p3;
    t[tb + j] = (Math.imul(w0, ((p0 >>> SR) & 255)) + Math.imul(w1, ((p1 >>> SR) & 255)) + Math.imul(w2, ((p2 >>> SR) & 255)) + Math.imul(w3, ((p3 >>> SR) & 255)) + half) >> MID_SHIFT;
    t[tb + j + 1] = (Math.imul(w0, ((p0 >>> SG) & 255)) + Math.imul(w1, ((p1 >>> SG) & 255)) + Math.imul(w2, ((p2 >>> SG) & 255)) + Math.imul(w3, ((p3 >>> SG) & 255)) + half) >> MID_SHIFT;
    t[tb + j + 2] = (Math.imul(w0, ((p0 >>> SB) & 255)) + Math.imul(w1, ((p1 >>> SB) & 255)) + Math.imul(w2, ((p2 >>> SB) & 255)) + Math.imul(w3, ((p3 >>> SB) & 255)) + half) >> MID_SHIFT;
  }
  return ((opaque >>> SA) & 255) === 255;
}

/**
 * Bilinear horizontal pass on opaque pixels: two channels per int32 multiply
 * with 7-bit weights (as the span sampler's opaque path), stored packed.
 */
function hRowOpaque2(
  s: Uint32Array, rb: number, xi: Int32Array, xh: Int32Array, x0: number, x1: number, t: Int32Array, tb: number,
): boolean {
  let opaque = -1;
  for (let x = x0; x < x1; x++) {
    const j = x * 2;
    const p0 = s[rb + xi[j]];
    const p1 = s[rb + xi[j + 1]];
    const h = xh[x];
    const g = 128 - h;
    opaque &= p0 & p1;
    t[tb + j] = (((p0 & 0xff00ff) * g + (p1 & 0xff00ff) * h + 0x400040) >>> 7) & 0xff00ff;
    t[tb + j + 1] = ((((p0 >>> 8) & 0xff00ff) * g + ((p1 >>> 8) & 0xff00ff) * h + 0x400040) >>> 7) & 0xff00ff;
  }
  return ((opaque >>> SA) & 255) === 255;
}

function vRowOpaque4(
  d: Uint32Array, di: number, t: Int32Array, o0: number, o1: number, o2: number, o3: number,
  w0: number, w1: number, w2: number, w3: number, x0: number, x1: number,
): void {
  const half = 1 << (OUT_SHIFT - 1);
  for (let x = x0; x < x1; x++) {
    const j = x * 4;
    let r = (Math.imul(w0, t[o0 + j]) + Math.imul(w1, t[o1 + j]) + Math.imul(w2, t[o2 + j]) + Math.imul(w3, t[o3 + j]) + half) >> OUT_SHIFT;
    let g = (Math.imul(w0, t[o0 + j + 1]) + Math.imul(w1, t[o1 + j + 1]) + Math.imul(w2, t[o2 + j + 1]) + Math.imul(w3, t[o3 + j + 1]) + half) >> OUT_SHIFT;
    let b = (Math.imul(w0, t[o0 + j + 2]) + Math.imul(w1, t[o1 + j + 2]) + Math.imul(w2, t[o2 + j + 2]) + Math.imul(w3, t[o3 + j + 2]) + half) >> OUT_SHIFT;
    // The negative lobes overshoot; clamp each channel.
    r = r < 0 ? 0 : r > 255 ? 255 : r;
    g = g < 0 ? 0 : g > 255 ? 255 : g;
    b = b < 0 ? 0 : b > 255 ? 255 : b;
    d[di + x] = ((r << SR) | (g << SG) | (b << SB) | (255 << SA)) >>> 0;
  }
}

function vRowOpaque2(
  d: Uint32Array, di: number, t: Int32Array, o0: number, o1: number, h: number, x0: number, x1: number,
): void {
  const g = 128 - h;
  for (let x = x0; x < x1; x++) {
    const j = x * 2;
    const rb = ((t[o0 + j] * g + t[o1 + j] * h + 0x400040) >>> 7) & 0xff00ff;
    const ga = ((t[o0 + j + 1] * g + t[o1 + j + 1] * h + 0x400040) >>> 7) & 0xff00ff;
    d[di + x] = (rb | (ga << 8)) >>> 0;
  }
}

/**
 * Float separable pass on alpha-weighted (premultiplied) values, so transparent
 * (often black) pixels do not bleed into the colour of their neighbours.
 */
function separablePremultiplied(src: Raster, d: Uint32Array, dw: number, xt: AxisTaps, yt: AxisTaps, k: number): void {
  const s = bytes(src);
  const rowBytes = src.width * 4;
  const xb = xt.idx;
  const xw = xt.wf;
  const ring = new Float32Array(k * dw * 4);
  const slotRow = new Int32Array(k).fill(-1);
  const x0 = xt.first;
  const x1 = xt.end;
  const yi = yt.idx;
  const yw = yt.wf;
  for (let y = yt.first; y < yt.end; y++) {
    const j = y * k;
    for (let m = 0; m < k; m++) {
      const row = yi[j + m];
      const slot = row % k;
      if (slotRow[slot] === row) continue;
      slotRow[slot] = row;
      hRowPremultiplied(s, row * rowBytes, xb, xw, k, x0, x1, ring, slot * dw * 4);
    }
    const di = y * dw;
    for (let x = x0; x < x1; x++) {
      let a = 0;
      let r = 0;
      let g = 0;
      let b = 0;
      for (let m = 0; m < k; m++) {
        const w = yw[j + m];
        const o = ((yi[j + m] % k) * dw + x) * 4;
        r += w * ring[o];
        g += w * ring[o + 1];
        b += w * ring[o + 2];
        a += w * ring[o + 3];
      }
      if (a < 0.5) {
        d[di + x] = 0;
        continue;
      }
      const inv = 1 / a;
      d[di + x] = ((toByte(r * inv) << SR) | (toByte(g * inv) << SG) | (toByte(b * inv) << SB) | (toByte(a) << SA)) >>> 0;
    }
  }
}

function hRowPremultiplied(
  s: Uint8Array, rb: number, xi: Int32Array, xw: Float64Array, k: number, x0: number, x1: number,
  t: Float32Array, tb: number,
): void {
  for (let x = x0; x < x1; x++) {
    let a = 0;
    let r = 0;
    let g = 0;
    let b = 0;
    const j = x * k;
    for (let m = 0; m < k; m++) {
      const p = rb + xi[j + m] * 4;
      const v = xw[j + m] * s[p + 3];
      a += v;
      r += v * s[p];
      g += v * s[p + 1];
      b += v * s[p + 2];
    }
    const o = tb + x * 4;
    t[o] = r;
    t[o + 1] = g;
    t[o + 2] = b;
    t[o + 3] = a;
  }
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
  if (span === bicubicSpan) {
    // per-column scratch of the row pass (rows of a span that keeps its source row)
    const cols = new Float64Array((sw + 4) * 3);
    const colOpaque = new Int32Array(sw + 4);
    const js: SpanSampler = (di, n, sx, sy, dx, dy) => bicubicSpan(s, d, sw, sh, fb, range, di, n, sx, sy, dx, dy, cols, colOpaque);
    const wasm = wasmBicubicSampler(src, d, dst.width, fb);
    if (!wasm) return js;
    // An opaque source: the same integers as bicubicSpan's opaque path, in
    // WebAssembly; a span it cannot do (its memory went meanwhile) goes to JS.
    const one = 2 ** fb;
    return (di, n, sx, sy, dx, dy) => {
      clipSpan(n, sx, sy, dx, dy, sw, sh, range);
      const i0 = range[0];
      if (i0 >= range[1]) return;
      const fx = Math.round((sx + i0 * dx - 0.5) * one);
      const fy = Math.round((sy + i0 * dy - 0.5) * one);
      if (!wasm(di + i0, range[1] - i0, fx, fy, Math.round(dx * one), Math.round(dy * one))) js(di, n, sx, sy, dx, dy);
    };
  }
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
  cols?: Float64Array, colOpaque?: Int32Array,
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
  if (fdy === 0 && cols && colOpaque && i1 - i0 >= 8) {
    // The span keeps its source row (a mesh between SRS whose y depends on
    // latitude only, e.g. EPSG:4326 from EPSG:3857 where the columns wrap
    // around the antimeridian): weigh the 4 rows once per source column,
    // then 4 taps per pixel instead of 16.
    const xa = fx >> fb;
    const xb = (fx + (i1 - 1 - i0) * fdx) >> fb;
    const lo = clampIndex(Math.min(xa, xb) - 1, maxX);
    const hi = clampIndex(Math.max(xa, xb) + 2, maxX);
    if (hi - lo + 1 <= 3 * (i1 - i0)) {
      bicubicRowSpan(s, d, sw, maxY, fb, fs, di, i0, i1, fx, fy, fdx, cols, colOpaque, lo, hi);
      return;
    }
  }
  const WI = CUBIC_INT;
  for (let i = i0; i < i1; i++, fx += fdx, fy += fdy) {
    const xf = fx >> fb;
    const yf = fy >> fb;
    const wx = ((fx >> fs) & 255) * 4;
    const wy = ((fy >> fs) & 255) * 4;
    const ix0 = WI[wx];
    const ix1 = WI[wx + 1];
    const ix2 = WI[wx + 2];
    const ix3 = WI[wx + 3];
    const c0 = clampIndex(xf - 1, maxX);
    const c1 = clampIndex(xf, maxX);
    const c2 = clampIndex(xf + 1, maxX);
    const c3 = clampIndex(xf + 2, maxX);
    // Straight colour in exact integers (the sums stay below 2^31): the answer
    // whenever all 16 taps are opaque, as most maps are, and the same integers
    // as the WebAssembly sampler and the row pass, whatever the order.
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
      const wyk = WI[wy + k];
      r += wyk * (ix0 * ((p0 >>> SR) & 255) + ix1 * ((p1 >>> SR) & 255) + ix2 * ((p2 >>> SR) & 255) + ix3 * ((p3 >>> SR) & 255));
      g += wyk * (ix0 * ((p0 >>> SG) & 255) + ix1 * ((p1 >>> SG) & 255) + ix2 * ((p2 >>> SG) & 255) + ix3 * ((p3 >>> SG) & 255));
      b += wyk * (ix0 * ((p0 >>> SB) & 255) + ix1 * ((p1 >>> SB) & 255) + ix2 * ((p2 >>> SB) & 255) + ix3 * ((p3 >>> SB) & 255));
    }
    if (((opaque >>> SA) & 255) === 255) {
      d[di + i] = ((cubicByte(r) << SR) | (cubicByte(g) << SG) | (cubicByte(b) << SB) | (255 << SA)) >>> 0;
      continue;
    }
    d[di + i] = bicubicPremultiplied(s, sw, maxY, yf, W[wx], W[wx + 1], W[wx + 2], W[wx + 3], W, wy, c0, c1, c2, c3);
  }
}

const CUBIC_SHIFT = 2 * CUBIC_BITS;
const CUBIC_HALF = 2 ** (CUBIC_SHIFT - 1);

/** A 16-tap integer sum (CUBIC_INT weights on both axes) as a channel value: rounded, and clamped, since the negative lobes overshoot. */
function cubicByte(v: number): number {
  const c = (v + CUBIC_HALF) >> CUBIC_SHIFT;
  return c < 0 ? 0 : c > 255 ? 255 : c;
}

/**
 * bicubicSpan for a span on one source row (fy constant): the vertical taps
 * of source columns lo..hi go into `cols` (r, g, b per column, straight
 * colour, integer sums) and `colOpaque` (the 4 pixels' AND), then every pixel combines 4
 * columns. Pixels with a transparent tap take the premultiplied 16-tap path.
 */
function bicubicRowSpan(
  s: Uint32Array, d: Uint32Array, sw: number, maxY: number, fb: number, fs: number,
  di: number, i0: number, i1: number, fx: number, fy: number, fdx: number,
  cols: Float64Array, colOpaque: Int32Array, lo: number, hi: number,
): void {
  const W = CUBIC;
  const WI = CUBIC_INT;
  const maxX = sw - 1;
  const yf = fy >> fb;
  const wy = ((fy >> fs) & 255) * 4;
  const wy0 = WI[wy];
  const wy1 = WI[wy + 1];
  const wy2 = WI[wy + 2];
  const wy3 = WI[wy + 3];
  const r0 = clampIndex(yf - 1, maxY) * sw;
  const r1 = clampIndex(yf, maxY) * sw;
  const r2 = clampIndex(yf + 1, maxY) * sw;
  const r3 = clampIndex(yf + 2, maxY) * sw;
  for (let c = lo; c <= hi; c++) {
    const p0 = s[r0 + c];
    const p1 = s[r1 + c];
    const p2 = s[r2 + c];
    const p3 = s[r3 + c];
    colOpaque[c] = p0 & p1 & p2 & p3;
    const k = c * 3;
    cols[k] = wy0 * ((p0 >>> SR) & 255) + wy1 * ((p1 >>> SR) & 255) + wy2 * ((p2 >>> SR) & 255) + wy3 * ((p3 >>> SR) & 255);
    cols[k + 1] = wy0 * ((p0 >>> SG) & 255) + wy1 * ((p1 >>> SG) & 255) + wy2 * ((p2 >>> SG) & 255) + wy3 * ((p3 >>> SG) & 255);
    cols[k + 2] = wy0 * ((p0 >>> SB) & 255) + wy1 * ((p1 >>> SB) & 255) + wy2 * ((p2 >>> SB) & 255) + wy3 * ((p3 >>> SB) & 255);
  }
  for (let i = i0; i < i1; i++, fx += fdx) {
    const xf = fx >> fb;
    const wx = ((fx >> fs) & 255) * 4;
    const c0 = clampIndex(xf - 1, maxX);
    const c1 = clampIndex(xf, maxX);
    const c2 = clampIndex(xf + 1, maxX);
    const c3 = clampIndex(xf + 2, maxX);
    if ((((colOpaque[c0] & colOpaque[c1] & colOpaque[c2] & colOpaque[c3]) >>> SA) & 255) !== 255) {
      d[di + i] = bicubicPremultiplied(s, sw, maxY, yf, W[wx], W[wx + 1], W[wx + 2], W[wx + 3], W, wy, c0, c1, c2, c3);
      continue;
    }
    const wx0 = WI[wx];
    const wx1 = WI[wx + 1];
    const wx2 = WI[wx + 2];
    const wx3 = WI[wx + 3];
    const k0 = c0 * 3;
    const k1 = c1 * 3;
    const k2 = c2 * 3;
    const k3 = c3 * 3;
    const r = wx0 * cols[k0] + wx1 * cols[k1] + wx2 * cols[k2] + wx3 * cols[k3];
    const g = wx0 * cols[k0 + 1] + wx1 * cols[k1 + 1] + wx2 * cols[k2 + 1] + wx3 * cols[k3 + 1];
    const b = wx0 * cols[k0 + 2] + wx1 * cols[k1 + 2] + wx2 * cols[k2 + 2] + wx3 * cols[k3 + 2];
    d[di + i] = ((cubicByte(r) << SR) | (cubicByte(g) << SG) | (cubicByte(b) << SB) | (255 << SA)) >>> 0;
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
