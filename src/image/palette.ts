// Colour reduction of RGBA rasters to an indexed image (palette + one index
// per pixel), for the paletted PNGs MapProxy stores by default and for GIF.
//
// Three ways, tried in this order by quantize():
//  - exact: when the image has no more distinct colours than allowed (fills,
//    single-colour tiles, most unsmoothed map tiles) they are kept as they
//    are, so the paletted tile is lossless. PIL's octree does not do this: it
//    averages neighbouring colours even when there are only a handful;
//  - fastoctree: the algorithm of PIL's FASTOCTREE (Image.quantize method 2),
//    which MapProxy uses by default: a fine colour cube (4096 buckets, 8192
//    with alpha) whose most used buckets become palette entries, plus a
//    coarse cube (64 / 256 buckets) that guarantees every region of colour
//    space still has an entry. Each pixel maps to its bucket's entry, no
//    nearest-colour search, which is why it is fast;
//  - mediancut: MapProxy's `quantizer: mediancut`, PIL's ADAPTIVE palette:
//    boxes of colours split at the median; with alpha it is binary (alpha
//    <= 128 becomes one fully transparent entry), as MapProxy does it.
// Pixels with alpha 0 all become one entry (0,0,0,0): their colour is
// invisible, and keeping it would only spend palette entries.

import { isOpaque, type Raster } from './raster.ts';
import { BUCKETS, opaqueSums, type OpaqueSums } from './wasm/quantize.ts';

/** An indexed image: palette entries as RGBA (4 bytes each), one palette index per pixel. */
export interface IndexedImage {
  readonly width: number;
  readonly height: number;
  /** Palette index per pixel, row-major. */
  readonly indices: Uint8Array;
  /** RGBA entries, entries with alpha < 255 first (so a PNG tRNS chunk can stop early). */
  readonly palette: Uint8Array;
  /** True when every pixel kept its colour (exact path). */
  readonly exact: boolean;
}

/** MapProxy's encoding_options.quantizer values. */
export type Quantizer = 'fastoctree' | 'mediancut';

export interface QuantizeOptions {
  /** Maximum palette size, 2..256 (default 256). */
  colors?: number;
  /** Keep alpha (default true); false treats every pixel as opaque, like PIL's convert('RGB'). */
  alpha?: boolean;
  /** Used when the image has more colours than allowed (default fastoctree). */
  quantizer?: Quantizer;
  /** Try the lossless path first (default true); false always quantizes (tests, comparisons with PIL). */
  exact?: boolean;
}

const LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** The alpha byte as a mask on this platform's Int32Array view of RGBA bytes. */
const ALPHA_MASK = LE ? 0xff000000 | 0 : 0x000000ff;

/** Number of palette entries of an indexed image. */
export function paletteSize(img: IndexedImage): number {
  return img.palette.length >> 2;
}

/**
 * Where quantizing writes its palette indices: pixel (x, y) at
 * out[offset + y * rowStride + x]. The PNG encoder passes its scanline buffer
 * (rowStride width + 1, offset 1, the filter byte before each row), so the
 * indices need no copy and no buffer of their own.
 */
export interface IndexLayout {
  readonly out: Uint8Array;
  readonly rowStride: number;
  readonly offset: number;
}

/** The palette an image was reduced to; its indices went to an IndexLayout. */
export interface Palette {
  /** RGBA entries, entries with alpha < 255 first. */
  readonly palette: Uint8Array;
  /** True when every pixel kept its colour (exact path). */
  readonly exact: boolean;
}

/** Reduces a raster to at most `colors` colours: exactly when it has that few, else with the chosen quantizer. */
export function quantize(r: Raster, opts: QuantizeOptions = {}): IndexedImage {
  const indices = new Uint8Array(r.width * r.height);
  const { palette, exact } = quantizeInto(r, { out: indices, rowStride: r.width, offset: 0 }, opts);
  return { width: r.width, height: r.height, indices, palette, exact };
}

/** quantize() with the indices written into `layout`; only the pixels' bytes are written. */
export function quantizeInto(r: Raster, layout: IndexLayout, opts: QuantizeOptions = {}): Palette {
  checkLayout(r, layout);
  const colors = clampColors(opts.colors ?? 256);
  // An opaque image quantized "with alpha" (a transparent cache whose tile is
  // fully covered) would only lose RGB precision to the alpha cube.
  const alpha = (opts.alpha ?? true) && !isOpaque(r);
  const tryExact = opts.exact !== false;
  if (opts.quantizer !== 'mediancut' && opaqueSumsApply(r, alpha)) {
    // One pass looks for an exact palette and sums the octree's buckets.
    return octreeInto(r, colors, alpha, layout, tryExact);
  }
  if (tryExact) {
    const exact = exactInto(r, colors, alpha, layout);
    if (exact) return exact;
  }
  if (opts.quantizer === 'mediancut') {
    const img = medianCutQuantize(r, colors, alpha);
    copyRows(img.indices, img.width, img.height, layout);
    return img;
  }
  return octreeInto(r, colors, alpha, layout, false);
}

function checkLayout(r: Raster, { out, rowStride, offset }: IndexLayout): void {
  if (r.height === 0 || r.width === 0) return;
  if (rowStride < r.width || offset < 0 || offset + (r.height - 1) * rowStride + r.width > out.length) {
    throw new RangeError(`index layout (stride ${rowStride}, offset ${offset}, ${out.length} bytes) too small for ${r.width}x${r.height}`);
  }
}

/** Indices of a w x h image in a buffer of their own, row after row. */
function ownLayout(w: number, h: number): IndexLayout {
  return { out: new Uint8Array(w * h), rowStride: w, offset: 0 };
}

function clampColors(n: number): number {
  if (!Number.isFinite(n)) return 256;
  return Math.min(256, Math.max(2, Math.round(n)));
}

/**
 * Views the raster as one int32 per pixel (signed, so opaque pixels stay
 * small integers for the JIT instead of becoming doubles); copies only when
 * the data is not 4-byte aligned.
 */
function pixels32(r: Raster): Int32Array {
  const d = r.data;
  if (d.byteOffset % 4 === 0) return new Int32Array(d.buffer, d.byteOffset, r.width * r.height);
  return new Int32Array(new Uint8Array(d).buffer);
}

/** Normalises a pixel to its palette key: alpha forced opaque, or all fully transparent pixels made equal. */
function keyOf(p: number, alpha: boolean): number {
  if (!alpha) return p | ALPHA_MASK;
  return (p & ALPHA_MASK) === 0 ? 0 : p;
}

/** The image with its own colours when it has at most maxColors of them; undefined when it has more. */
export function exactPalette(r: Raster, maxColors = 256, alpha = true): IndexedImage | undefined {
  const layout = ownLayout(r.width, r.height);
  const p = exactInto(r, clampColors(maxColors), alpha, layout);
  return p && { width: r.width, height: r.height, indices: layout.out, palette: p.palette, exact: true };
}

// Open addressing over int32 keys: faster than a Map for one lookup per colour run.
const EXACT_BITS = 10; // 1024 slots, at most 25% full for 256 colours
const exactSlotKey = new Int32Array(1 << EXACT_BITS);
const exactSlotIdx = new Int16Array(1 << EXACT_BITS);
const exactKeys = new Int32Array(256);

/** The slot of key k in the exact palette's hash: where it is, or the empty slot where it goes. */
function exactSlot(k: number): number {
  let s = Math.imul(k, 0x9e3779b1) >>> (32 - EXACT_BITS);
  while (exactSlotIdx[s] >= 0 && exactSlotKey[s] !== k) s = (s + 1) & ((1 << EXACT_BITS) - 1);
  return s;
}

/** exactPalette's work into a layout; `max` already clamped. Leaves the layout's bytes undefined when it returns undefined. */
function exactInto(r: Raster, max: number, alpha: boolean, layout: IndexLayout): Palette | undefined {
  const px = pixels32(r);
  const w = r.width, h = r.height;
  const { out, rowStride, offset } = layout;
  const slotKey = exactSlotKey;
  const slotIdx = exactSlotIdx.fill(-1);
  const keys = exactKeys;
  let count = 0;
  let lastPixel = px.length > 0 ? ~px[0] : 0; // differs from the first pixel
  let lastIndex = 0;
  for (let y = 0, i = 0; y < h; y++) {
    const d = offset + y * rowStride;
    for (let x = 0; x < w; x++, i++) {
      const p = px[i];
      // Map tiles are mostly runs of one colour: skip the hash for those.
      if (p === lastPixel) {
        out[d + x] = lastIndex;
        continue;
      }
      const k = keyOf(p, alpha);
      const s = exactSlot(k);
      let idx = slotIdx[s];
      if (idx < 0) {
        if (count === max) return undefined;
        idx = count++;
        slotIdx[s] = idx;
        slotKey[s] = k;
        keys[idx] = k;
      }
      out[d + x] = idx;
      lastPixel = p;
      lastIndex = idx;
    }
  }
  const palette = new Uint8Array(count * 4);
  new Int32Array(palette.buffer).set(keys.subarray(0, count));
  return orderTranslucentFirst(palette, true, w, h, layout);
}

/** Moves palette entries with alpha < 255 to the front, so tRNS only needs to list those; remaps the w x h indices in `layout`. */
function orderTranslucentFirst(palette: Uint8Array, exact: boolean, w: number, h: number, layout: IndexLayout): Palette {
  const n = palette.length >> 2;
  let firstOpaque = -1;
  let needed = false;
  for (let i = 0; i < n; i++) {
    const opaque = palette[i * 4 + 3] === 255;
    if (opaque && firstOpaque < 0) firstOpaque = i;
    else if (!opaque && firstOpaque >= 0) {
      needed = true;
      break;
    }
  }
  if (!needed) return { palette, exact };
  const remap = new Uint8Array(n);
  const out = new Uint8Array(palette.length);
  let o = 0;
  for (const wantOpaque of [false, true]) {
    for (let i = 0; i < n; i++) {
      if ((palette[i * 4 + 3] === 255) !== wantOpaque) continue;
      out.set(palette.subarray(i * 4, i * 4 + 4), o * 4);
      remap[i] = o++;
    }
  }
  const { out: idx, rowStride, offset } = layout;
  for (let y = 0; y < h; y++) {
    const d = offset + y * rowStride;
    for (let x = d; x < d + w; x++) idx[x] = remap[idx[x]];
  }
  return { palette: out, exact };
}

// Bits per channel (r, g, b, a) of the fine and the coarse cube, as PIL has them.
const FINE_RGB = [4, 4, 4, 0];
const COARSE_RGB = [2, 2, 2, 0];
const FINE_RGBA = [3, 4, 3, 3];
const COARSE_RGBA = [2, 2, 2, 2];

/** Bucket sums of one colour cube. */
interface Cube {
  count: Float64Array;
  r: Float64Array;
  g: Float64Array;
  b: Float64Array;
  a: Float64Array;
}

function newCube(size: number): Cube {
  return {
    count: new Float64Array(size),
    r: new Float64Array(size),
    g: new Float64Array(size),
    b: new Float64Array(size),
    a: new Float64Array(size),
  };
}

/** Adds `run` pixels of one colour to a bucket. */
function addRun(c: Cube, bucket: number, run: number, r: number, g: number, b: number, a: number): void {
  c.count[bucket] += run;
  c.r[bucket] += r * run;
  c.g[bucket] += g * run;
  c.b[bucket] += b * run;
  c.a[bucket] += a * run;
}

/** Writes a bucket's average colour (PIL truncates the average) into out at entry o. */
function averageInto(c: Cube, i: number, out: Uint8Array, o: number): void {
  const n = c.count[i];
  if (n <= 0) return;
  out[o * 4] = c.r[i] / n;
  out[o * 4 + 1] = c.g[i] / n;
  out[o * 4 + 2] = c.b[i] / n;
  out[o * 4 + 3] = c.a[i] / n;
}

/**
 * The fixed part of one cube configuration, built once: each fine bucket's
 * coarse parent, and fine-cube sums that every call leaves zeroed again, so a
 * 256x256 image does not pay for zeroing 8192 buckets.
 */
interface CubeSetup {
  fb: readonly number[];
  parent: Uint16Array;
  fine: Cube;
  coarseSize: number;
}
const cubeSetups = new Map<boolean, CubeSetup>();

function cubeSetup(alpha: boolean): CubeSetup {
  let s = cubeSetups.get(alpha);
  if (s) return s;
  const fb = alpha ? FINE_RGBA : FINE_RGB;
  const cb = alpha ? COARSE_RGBA : COARSE_RGB;
  const fineSize = 1 << (fb[0] + fb[1] + fb[2] + fb[3]);
  const [ro, go, bo] = [fb[1] + fb[2] + fb[3], fb[2] + fb[3], fb[3]];
  const [cro, cgo, cbo] = [cb[1] + cb[2] + cb[3], cb[2] + cb[3], cb[3]];
  // Coarse cube: each fine bucket's parent, by dropping low bits per channel.
  const parent = new Uint16Array(fineSize);
  for (let f = 0; f < fineSize; f++) {
    const fr = f >> ro, fg = (f >> go) & ((1 << fb[1]) - 1), fbl = (f >> bo) & ((1 << fb[2]) - 1), fa = f & ((1 << fb[3]) - 1);
    parent[f] = ((fr >> (fb[0] - cb[0])) << cro) | ((fg >> (fb[1] - cb[1])) << cgo) | ((fbl >> (fb[2] - cb[2])) << cbo)
      | (cb[3] ? fa >> (fb[3] - cb[3]) : 0);
  }
  s = { fb, parent, fine: newCube(fineSize), coarseSize: 1 << (cb[0] + cb[1] + cb[2] + cb[3]) };
  cubeSetups.set(alpha, s);
  return s;
}

// Where each channel sits in a pixel read as one int32 (platform byte order).
const SHIFT_R = LE ? 0 : 24;
const SHIFT_G = LE ? 8 : 16;
const SHIFT_B = LE ? 16 : 8;
const SHIFT_A = LE ? 24 : 0;

/** PIL's FASTOCTREE: the most used fine buckets plus the coarse remainder, each pixel mapped to its bucket's entry. */
export function octreeQuantize(r: Raster, colors = 256, alpha = true): IndexedImage {
  const layout = ownLayout(r.width, r.height);
  const { palette } = octreeInto(r, clampColors(colors), alpha, layout, false);
  return { width: r.width, height: r.height, indices: layout.out, palette, exact: false };
}

/**
 * octreeQuantize's work into a layout; `max` already clamped. With
 * `tryExact`, the image's own colours when there are few enough of them
 * (only where the opaque passes apply, which find both in one pass).
 */
function octreeInto(r: Raster, max: number, alpha: boolean, layout: IndexLayout, tryExact: boolean): Palette {
  const setup = cubeSetup(alpha);
  const fine = setup.fine;
  // Fine buckets in use, in order of first use; the sums of exactly these are zeroed again at the end.
  const used: number[] = [];
  try {
    return octreeWith(r, max, alpha, setup, used, layout, tryExact);
  } finally {
    for (const f of used) fine.count[f] = fine.r[f] = fine.g[f] = fine.b[f] = fine.a[f] = 0;
  }
}

/**
 * Each pixel's fine bucket, reused between calls up to this many pixels (a
 * 512x512 image, 512 KB): allocating and zeroing it per tile cost more than
 * filling it.
 */
const MAX_SCRATCH_PIXELS = 512 * 512;
let bucketScratch = new Uint16Array(0);

function bucketBuffer(n: number): Uint16Array {
  if (n > MAX_SCRATCH_PIXELS) return new Uint16Array(n);
  if (bucketScratch.length < n) bucketScratch = new Uint16Array(Math.max(n, 256 * 256));
  return bucketScratch;
}

/** Palette entry per fine bucket, shared by all calls (at most 8192 buckets, with alpha). */
let lookupScratch = new Int16Array(0);

function lookupTable(size: number): Int16Array {
  if (lookupScratch.length < size) lookupScratch = new Int16Array(size);
  return lookupScratch;
}

/** octreeQuantize's work, recording in `used` each fine bucket it fills. */
function octreeWith(
  r: Raster, max: number, alpha: boolean, s: CubeSetup, used: number[], layout: IndexLayout, tryExact: boolean,
): Palette {
  const { fb, parent, fine, coarseSize } = s;
  const w = r.width, h = r.height;
  const n = w * h;
  const useAlpha = alpha && fb[3] > 0;
  // The opaque passes in WebAssembly where it is there (wasm/quantize.ts:
  // about a third of the time the JS ones take on map tiles), with
  // `bucketOf` unused; JS otherwise.
  const opaque = opaqueSumsApply(r, alpha);
  const maxExact = tryExact ? max : 0;
  const wasm = opaque ? opaqueSums(r.data, w, h, maxExact) : undefined;
  const bucketOf = wasm ? undefined : bucketBuffer(n);
  if (wasm) {
    // the sums first: the module's must be zero again whatever follows
    takeOpaqueSums(wasm, fine, used);
    if (wasm.colors >= 0) {
      copyRows(wasm.indices, w, h, layout);
      exactKeys.set(wasm.keys.subarray(0, wasm.colors));
      return exactResult(wasm.colors);
    }
  } else if (opaque) {
    const colors = fineSumsOpaque(pixels32(r), w, h, bucketOf!, fine, used, maxExact, layout);
    if (colors >= 0) return exactResult(colors);
  } else fineSums(pixels32(r), bucketOf!, alpha, useAlpha, fb, fine, used);

  const coarse = newCube(coarseSize);
  for (const f of used) {
    const c = parent[f];
    coarse.count[c] += fine.count[f];
    coarse.r[c] += fine.r[f];
    coarse.g[c] += fine.g[f];
    coarse.b[c] += fine.b[f];
    coarse.a[c] += fine.a[f];
  }
  const usedCoarse = () => {
    let k = 0;
    for (let c = 0; c < coarseSize; c++) if (coarse.count[c] > 0) k++;
    return k;
  };
  // Most used fine buckets first; ties by bucket number so the result is deterministic.
  const ranked = [...used].sort((a, b) => fine.count[b] - fine.count[a] || a - b);
  const subtract = (from: number, to: number) => {
    for (let k = from; k < Math.min(to, ranked.length); k++) {
      const f = ranked[k];
      const c = parent[f];
      coarse.count[c] -= fine.count[f];
      coarse.r[c] -= fine.r[f];
      coarse.g[c] -= fine.g[f];
      coarse.b[c] -= fine.b[f];
      coarse.a[c] -= fine.a[f];
    }
  };
  let nCoarse = Math.min(usedCoarse(), max);
  let nFine = max - nCoarse;
  subtract(0, nFine);
  // Coarse buckets emptied by the fine entries free palette room for more fine entries.
  for (let left = usedCoarse(); nCoarse > left; left = usedCoarse()) {
    const done = nFine;
    nCoarse = left;
    nFine = max - nCoarse;
    subtract(done, nFine);
  }
  nFine = Math.min(nFine, ranked.length);

  const coarseOrder: number[] = [];
  for (let c = 0; c < coarseSize; c++) if (coarse.count[c] > 0) coarseOrder.push(c);
  coarseOrder.sort((a, b) => coarse.count[b] - coarse.count[a] || a - b);
  nCoarse = Math.min(nCoarse, coarseOrder.length);

  const total = nCoarse + nFine;
  const palette = new Uint8Array(total * 4);
  const coarseLookup = new Int16Array(coarseSize).fill(-1);
  for (let k = 0; k < nCoarse; k++) {
    averageInto(coarse, coarseOrder[k], palette, k);
    coarseLookup[coarseOrder[k]] = k;
  }
  // Only the buckets in use need an entry: every pixel's bucket is one of
  // them, so entries an earlier image left in the shared table are never read.
  const lookup = lookupTable(parent.length);
  for (const f of used) lookup[f] = coarseLookup[parent[f]];
  for (let k = 0; k < nFine; k++) {
    averageInto(fine, ranked[k], palette, nCoarse + k);
    lookup[ranked[k]] = nCoarse + k;
  }
  // Only when fewer colours than coarse buckets are allowed: PIL leaves such
  // pixels at index 0, the nearest entry is what one would want.
  for (const f of used) {
    if (lookup[f] < 0) lookup[f] = nearestEntry(palette, total, fine, f);
  }

  if (wasm) {
    for (const f of used) wasm.lookup[f] = lookup[f];
    wasm.map();
    copyRows(wasm.indices, w, h, layout);
  } else {
    const { out, rowStride, offset } = layout;
    for (let y = 0, i = 0; y < h; y++) {
      const d = offset + y * rowStride - i;
      for (const end = i + w; i < end; i++) out[d + i] = lookup[bucketOf![i]];
    }
  }
  return orderTranslucentFirst(palette, false, w, h, layout);
}

/** Largest image whose channel sums fit an int32 (255 a pixel). */
const MAX_INT_SUM_PIXELS = Math.floor(0x7fffffff / 255);

// Scratch sums of fineSumsOpaque, one per fine RGB bucket, all zero between calls.
const opaqueCount = new Int32Array(1 << 12);
const opaqueR = new Int32Array(1 << 12);
const opaqueG = new Int32Array(1 << 12);
const opaqueB = new Int32Array(1 << 12);

/** A little-endian pixel's FINE_RGB bucket: 4 bits of red, green, blue. */
function opaqueBucket(p: number): number {
  return ((p << 4) & 0xf00) | ((p >>> 8) & 0xf0) | ((p >>> 20) & 0xf);
}

/** Adds `run` pixels of colour p (little-endian) to the opaque scratch sums of its bucket. */
function addOpaqueRun(bucket: number, p: number, run: number): void {
  opaqueCount[bucket] += run;
  opaqueR[bucket] += (p & 255) * run;
  opaqueG[bucket] += ((p >>> 8) & 255) * run;
  opaqueB[bucket] += ((p >>> 16) & 255) * run;
}

/** Whether fineSumsOpaque does an image's sums: alpha ignored, little-endian host, sums within int32. */
function opaqueSumsApply(r: Raster, alpha: boolean): boolean {
  return !alpha && LE && r.width * r.height <= MAX_INT_SUM_PIXELS;
}

/**
 * The fine-cube sums and each pixel's bucket, alpha ignored (FINE_RGB, 4
 * bits a channel), on a little-endian host: int32 sums in flat arrays, then
 * copied to the cube once per bucket: ~30% less time than fineSums on map tiles.
 *
 * With `maxExact` > 0 the same pass collects the image's own colours
 * (exactPalette's hash, keys with alpha forced opaque) and writes their
 * indices into `layout`, until a colour beyond maxExact turns up. Returns
 * the number of colours when they all fit (the layout then holds the exact
 * indices, exactKeys the colours), else -1. Seeded map tiles mostly have
 * more colours than fit; a pass of its own to find that out cost them ~15%
 * of the quantizing.
 */
function fineSumsOpaque(
  px: Int32Array, w: number, h: number, bucketOf: Uint16Array, fine: Cube, used: number[], maxExact: number, layout: IndexLayout,
): number {
  const n = px.length;
  const cnt = opaqueCount, sr = opaqueR, sg = opaqueG, sb = opaqueB;
  // A run of one colour at a time, found by an inner loop and added to its
  // bucket once: ~25% less time than testing every pixel for a new run in one loop.
  let i = 0;
  let colors = maxExact > 0 ? 0 : -1;
  if (maxExact > 0) {
    const { out, rowStride, offset } = layout;
    const slotKey = exactSlotKey;
    const slotIdx = exactSlotIdx.fill(-1);
    const keys = exactKeys;
    rows: for (let y = 0; y < h; y++) {
      const d = offset + y * rowStride;
      const end = i + w;
      const rowStart = i;
      while (i < end) {
        const p = px[i];
        const k = p | ALPHA_MASK;
        const slot = exactSlot(k);
        let index = slotIdx[slot];
        if (index < 0) {
          if (colors === maxExact) {
            // One colour too many: the loop below goes on from pixel i.
            colors = -1;
            break rows;
          }
          index = colors++;
          slotIdx[slot] = index;
          slotKey[slot] = k;
          keys[index] = k;
        }
        const bucket = opaqueBucket(p);
        let j = i;
        do {
          bucketOf[j] = bucket;
          out[d + j - rowStart] = index;
          j++;
        } while (j < end && px[j] === p);
        addOpaqueRun(bucket, p, j - i);
        i = j;
      }
    }
  }
  while (i < n) {
    const p = px[i];
    const bucket = opaqueBucket(p);
    let j = i;
    do bucketOf[j++] = bucket;
    while (j < n && px[j] === p);
    addOpaqueRun(bucket, p, j - i);
    i = j;
  }
  // `used` in bucket order rather than first use: nothing downstream depends on its order.
  for (let f = 0; f < cnt.length; f++) {
    const c = cnt[f];
    if (c === 0) continue;
    used.push(f);
    fine.count[f] = c;
    fine.r[f] = sr[f];
    fine.g[f] = sg[f];
    fine.b[f] = sb[f];
    fine.a[f] = 255 * c;
    cnt[f] = sr[f] = sg[f] = sb[f] = 0;
  }
  return colors;
}

/** Moves the wasm pass's bucket sums into the fine cube (as fineSumsOpaque leaves them), zeroing them there. */
function takeOpaqueSums({ sums }: OpaqueSums, fine: Cube, used: number[]): void {
  for (let f = 0, o = 0; f < BUCKETS; f++, o += 4) {
    const c = sums[o + 3];
    if (c === 0) continue;
    used.push(f);
    fine.count[f] = c;
    fine.r[f] = sums[o];
    fine.g[f] = sums[o + 1];
    fine.b[f] = sums[o + 2];
    fine.a[f] = 255 * c;
    sums[o] = sums[o + 1] = sums[o + 2] = sums[o + 3] = 0;
  }
}

/** Copies w x h indices, row after row in `src`, into a layout. */
function copyRows(src: Uint8Array, w: number, h: number, { out, rowStride, offset }: IndexLayout): void {
  if (rowStride === w) {
    out.set(src.subarray(0, w * h), offset);
    return;
  }
  for (let y = 0; y < h; y++) out.set(src.subarray(y * w, (y + 1) * w), offset + y * rowStride);
}

/** The palette of the first `colors` entries of exactKeys (all opaque: nothing to reorder). */
function exactResult(colors: number): Palette {
  const palette = new Uint8Array(colors * 4);
  new Int32Array(palette.buffer).set(exactKeys.subarray(0, colors));
  return { palette, exact: true };
}

/** The fine-cube sums and each pixel's bucket, any cube and alpha handling. */
function fineSums(
  px: Int32Array, bucketOf: Uint16Array, alpha: boolean, useAlpha: boolean, fb: readonly number[], fine: Cube, used: number[],
): void {
  const n = px.length;
  const rs = 8 - fb[0], gs = 8 - fb[1], bs = 8 - fb[2], as = 8 - fb[3];
  const ro = fb[1] + fb[2] + fb[3], go = fb[2] + fb[3], bo = fb[3];
  // Map tiles are long runs of one colour: a run is added to its bucket once
  // (integer sums, so count * value is exactly the repeated addition).
  let last = n > 0 ? ~px[0] : 0;
  let bucket = 0;
  let run = 0;
  let red = 0, green = 0, blue = 0, al = 0;
  for (let i = 0; i < n; i++) {
    const p = px[i];
    if (p !== last) {
      if (run > 0) {
        if (fine.count[bucket] === 0) used.push(bucket);
        addRun(fine, bucket, run, red, green, blue, al);
      }
      run = 0;
      red = (p >>> SHIFT_R) & 255;
      green = (p >>> SHIFT_G) & 255;
      blue = (p >>> SHIFT_B) & 255;
      al = alpha ? (p >>> SHIFT_A) & 255 : 255;
      if (alpha && al === 0) red = green = blue = 0;
      bucket = ((red >> rs) << ro) | ((green >> gs) << go) | ((blue >> bs) << bo) | (useAlpha ? al >> as : 0);
      last = p;
    }
    run++;
    bucketOf[i] = bucket;
  }
  if (run > 0) {
    if (fine.count[bucket] === 0) used.push(bucket);
    addRun(fine, bucket, run, red, green, blue, al);
  }
}

function nearestEntry(palette: Uint8Array, n: number, c: Cube, i: number): number {
  const cnt = c.count[i];
  const r = c.r[i] / cnt, g = c.g[i] / cnt, b = c.b[i] / cnt, a = c.a[i] / cnt;
  let best = 0;
  let bestD = Infinity;
  for (let k = 0; k < n; k++) {
    const dr = palette[k * 4] - r, dg = palette[k * 4 + 1] - g, db = palette[k * 4 + 2] - b, da = palette[k * 4 + 3] - a;
    const dist = dr * dr + dg * dg + db * db + da * da;
    if (dist < bestD) {
      bestD = dist;
      best = k;
    }
  }
  return best;
}

/** MapProxy's `quantizer: mediancut`: PIL's ADAPTIVE palette; with alpha, alpha <= 128 becomes one transparent entry. */
export function medianCutQuantize(r: Raster, colors = 256, alpha = true): IndexedImage {
  const max = clampColors(colors);
  const d = r.data;
  const n = r.width * r.height;
  // A 5-bit-per-channel histogram keeps the box splitting cheap on any image size.
  const HIST = 1 << 15;
  const cnt = new Float64Array(HIST);
  const sr = new Float64Array(HIST), sg = new Float64Array(HIST), sb = new Float64Array(HIST);
  const binOf = new Int32Array(n);
  let hasTransparent = false;
  for (let i = 0, o = 0; i < n; i++, o += 4) {
    if (alpha && d[o + 3] <= 128) {
      binOf[i] = -1;
      hasTransparent = true;
      continue;
    }
    const bin = ((d[o] >> 3) << 10) | ((d[o + 1] >> 3) << 5) | (d[o + 2] >> 3);
    binOf[i] = bin;
    cnt[bin]++;
    sr[bin] += d[o];
    sg[bin] += d[o + 1];
    sb[bin] += d[o + 2];
  }
  // MapProxy reserves one entry for transparency only when quantizing with alpha.
  const opaqueColors = alpha ? max - 1 : max;
  const bins: number[] = [];
  for (let b = 0; b < HIST; b++) if (cnt[b] > 0) bins.push(b);

  interface Box { bins: number[]; pixels: number; }
  const chan = (b: number, c: number) => (b >> (10 - 5 * c)) & 31;
  const boxes: Box[] = bins.length ? [{ bins, pixels: bins.reduce((s, b) => s + cnt[b], 0) }] : [];
  const extent = (box: Box): [number, number] => {
    let bestC = 0, bestR = -1;
    for (let c = 0; c < 3; c++) {
      let lo = 31, hi = 0;
      for (const b of box.bins) {
        const v = chan(b, c);
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      if (hi - lo > bestR) {
        bestR = hi - lo;
        bestC = c;
      }
    }
    return [bestC, bestR];
  };
  while (boxes.length < opaqueColors) {
    // Split the box holding the most pixels among those that can still split.
    let pick = -1;
    for (let i = 0; i < boxes.length; i++) {
      if (boxes[i].bins.length > 1 && (pick < 0 || boxes[i].pixels > boxes[pick].pixels)) pick = i;
    }
    if (pick < 0) break;
    const box = boxes[pick];
    const [c] = extent(box);
    box.bins.sort((a, b) => chan(a, c) - chan(b, c));
    let acc = 0;
    let cut = 1;
    for (; cut < box.bins.length; cut++) {
      acc += cnt[box.bins[cut - 1]];
      if (acc >= box.pixels / 2) break;
    }
    cut = Math.min(cut, box.bins.length - 1);
    const left = box.bins.slice(0, cut);
    const right = box.bins.slice(cut);
    const sum = (bs: number[]) => bs.reduce((s, b) => s + cnt[b], 0);
    boxes.splice(pick, 1, { bins: left, pixels: sum(left) }, { bins: right, pixels: sum(right) });
  }

  const total = boxes.length + (hasTransparent ? 1 : 0);
  const palette = new Uint8Array(total * 4);
  const binIndex = new Uint8Array(HIST);
  const first = hasTransparent ? 1 : 0; // transparent entry at 0: tRNS then has one byte
  boxes.forEach((box, k) => {
    let c = 0, r2 = 0, g2 = 0, b2 = 0;
    for (const b of box.bins) {
      c += cnt[b];
      r2 += sr[b];
      g2 += sg[b];
      b2 += sb[b];
    }
    const e = first + k;
    palette[e * 4] = Math.round(r2 / c);
    palette[e * 4 + 1] = Math.round(g2 / c);
    palette[e * 4 + 2] = Math.round(b2 / c);
    palette[e * 4 + 3] = 255;
    for (const b of box.bins) binIndex[b] = e;
  });
  const indices = new Uint8Array(n);
  for (let i = 0; i < n; i++) indices[i] = binOf[i] < 0 ? 0 : binIndex[binOf[i]];
  return { width: r.width, height: r.height, indices, palette, exact: false };
}

/** Expands an indexed image back to an RGBA raster (tests, GIF round trips, debugging). */
export function indexedToRaster(img: IndexedImage): Raster {
  const data = new Uint8ClampedArray(img.width * img.height * 4);
  const out = new Uint32Array(data.buffer);
  const p = img.palette.byteOffset % 4 === 0 ? img.palette : img.palette.slice();
  const pal = new Uint32Array(p.buffer, p.byteOffset, p.length >> 2);
  for (let i = 0; i < img.indices.length; i++) out[i] = pal[img.indices[i]];
  return { width: img.width, height: img.height, data };
}
