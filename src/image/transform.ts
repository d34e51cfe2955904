/**
 * Reprojection of a raster between two SRS with a mesh warp, the approach of
 * MapProxy's ImageTransformer (mapproxy/image/transform.py): only the corners
 * of destination quads go through proj; inside a quad the source position is
 * the bilinear interpolation of its corners. Quads are subdivided until that
 * interpolation, mapped back into the destination, is within maxPxErr pixels.
 *
 * Unlike MapProxy, refinement is not capped at 50 px quads: a quad that still
 * fails at one pixel is a discontinuity (the antimeridian, a pole) or the rim
 * of the projection's valid area, and that pixel is transformed on its own.
 * That keeps a seam from smearing the whole world across one quad, at the cost
 * of one proj call per pixel along such a line only.
 *
 * Between EPSG:4326 and web mercator no mesh is needed: source x depends on
 * destination x alone and source y on destination y alone, so every column
 * and row is transformed exactly and sampled like a same-SRS scaling
 * (separableAxes, resample.ts's transformAxes).
 */
import { type Bbox, isSameSrs, isWebMercator, MERCATOR_MAX, type Srs } from '../srs/srs.ts';
import { createRaster, TRANSPARENT, type Raster, type Rgba } from './raster.ts';
import { type ResamplingMethod, sourceSpan, spanSampler, transformAxes, transformExtent } from './resample.ts';

/** Options of reprojectRaster. */
export interface ReprojectOptions {
  method: ResamplingMethod;
  /** Largest tolerated position error in destination pixels (MapProxy's max_px_err). */
  maxPxErr?: number;
  /** Colour of destination pixels that fall outside the source; transparent by default. */
  fill?: Rgba;
  /**
   * The mesh, when the caller has it: transformMesh's quads, their corners
   * moved into `src` (see meshSourceWindow).
   */
  mesh?: readonly MeshQuad[];
  /** Or the axes, when the caller has them: separableAxes' positions, moved into `src` (see axesSourceWindow). */
  axes?: AxisMap;
}

/**
 * Where each destination column and row samples the source, for SRS pairs
 * in which source x depends on destination x alone and source y on
 * destination y alone: source pixel positions (edge coordinates) of each
 * column's and each row's centre, NaN where the point does not transform.
 */
export interface AxisMap {
  readonly cols: Float64Array;
  readonly rows: Float64Array;
}

/**
 * One mesh cell: the destination pixel box [x0, x1) x [y0, y1) and the source
 * pixel positions (edge coordinates) of its north-west, north-east, south-west
 * and south-east corners.
 */
export interface MeshQuad {
  x0: number; y0: number; x1: number; y1: number;
  nwx: number; nwy: number; nex: number; ney: number;
  swx: number; swy: number; sex: number; sey: number;
}

/** Reprojects `src` (srcBbox in srcSrs) into a dstSize raster covering dstBbox in dstSrs. */
export function reprojectRaster(
  src: Raster, srcBbox: Bbox, srcSrs: Srs,
  dstBbox: Bbox, dstSize: readonly [number, number], dstSrs: Srs,
  opts: ReprojectOptions,
): Raster {
  const fill = opts.fill ?? TRANSPARENT;
  if (isSameSrs(srcSrs, dstSrs)) return transformExtent(src, srcBbox, dstBbox, dstSize, opts.method, fill);
  // Separable pairs (EPSG:4326 <-> web mercator) need no mesh: every column
  // and row is transformed exactly, and sampled like a same-SRS scaling.
  const axes = opts.axes ?? (opts.mesh ? undefined : separableAxes([src.width, src.height], srcBbox, srcSrs, dstSize, dstBbox, dstSrs));
  if (axes) return transformAxes(src, axes.cols, axes.rows, opts.method, fill);
  const mesh = opts.mesh ?? transformMesh([src.width, src.height], srcBbox, srcSrs, dstSize, dstBbox, dstSrs, opts.maxPxErr ?? 1);
  const [dw, dh] = dstSize;
  const out = createRaster(dw, dh, fill);
  const sample = spanSampler(src, out, opts.method);
  for (const q of mesh) {
    const w = q.x1 - q.x0;
    const h = q.y1 - q.y0;
    for (let y = q.y0; y < q.y1; y++) {
      // Row y crosses the quad at v; along the row the mapping is linear in u.
      const v = (y + 0.5 - q.y0) / h;
      const lx = q.nwx + (q.swx - q.nwx) * v;
      const ly = q.nwy + (q.swy - q.nwy) * v;
      const stepX = (q.nex + (q.sex - q.nex) * v - lx) / w;
      const stepY = (q.ney + (q.sey - q.ney) * v - ly) / w;
      sample(y * dw + q.x0, w, lx + 0.5 * stepX, ly + 0.5 * stepY, stepX, stepY);
    }
  }
  return out;
}

/**
 * The source pixels a reprojection along `mesh` reads, as x0, y0, x1, y1
 * (end exclusive) of a srcW x srcH source: the span of the quads' corners
 * (every sample lies between them) plus the bicubic reach and `margin`
 * pixels, clamped to the source. `quads` are the mesh's quads with their
 * corners moved into that window, for reprojectRaster's `mesh` option with
 * the window as its source; callers that assemble the source from tiles
 * decode only the window.
 */
export function meshSourceWindow(
  mesh: readonly MeshQuad[], srcW: number, srcH: number, margin = 2,
): { window: [number, number, number, number]; quads: MeshQuad[] } {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const q of mesh) {
    minX = Math.min(minX, q.nwx, q.nex, q.swx, q.sex);
    maxX = Math.max(maxX, q.nwx, q.nex, q.swx, q.sex);
    minY = Math.min(minY, q.nwy, q.ney, q.swy, q.sey);
    maxY = Math.max(maxY, q.nwy, q.ney, q.swy, q.sey);
  }
  const [x0, x1] = sourceSpan(minX, maxX, srcW, margin);
  const [y0, y1] = sourceSpan(minY, maxY, srcH, margin);
  const quads = x0 === 0 && y0 === 0 ? [...mesh] : mesh.map((q) => ({
    ...q,
    nwx: q.nwx - x0, nex: q.nex - x0, swx: q.swx - x0, sex: q.sex - x0,
    nwy: q.nwy - y0, ney: q.ney - y0, swy: q.swy - y0, sey: q.sey - y0,
  }));
  return { window: [x0, y0, x1, y1], quads };
}

/**
 * The axes of a reprojection between an SRS pair that maps each axis on its
 * own (EPSG:4326 and web mercator under any alias, either way), or
 * undefined for any other pair, where a column does not transform, or where
 * the positions inside the source do not form one increasing run along an
 * axis (a destination whose columns wrap around the antimeridian into the
 * source twice): reprojectRaster then uses the mesh. With the axes, each
 * sample lies where proj puts its centre, where the mesh's quads are within
 * maxPxErr of it.
 */
export function separableAxes(
  srcSize: readonly [number, number], srcBbox: Bbox, srcSrs: Srs,
  dstSize: readonly [number, number], dstBbox: Bbox, dstSrs: Srs,
): AxisMap | undefined {
  if (!(separable(srcSrs) && separable(dstSrs))) return undefined;
  checkSize(srcSize);
  checkSize(dstSize);
  checkBbox(srcBbox);
  checkBbox(dstBbox);
  const m = new MeshBuilder(srcSize, srcBbox, srcSrs, dstSize, dstBbox, dstSrs, 1);
  const [dw, dh] = dstSize;
  const cols = new Float64Array(dw);
  const rows = new Float64Array(dh);
  // Each axis along a line of the other that transforms: the middle row,
  // kept off the poles in a geographic destination (past them nothing
  // transforms, and a bbox may reach beyond), and the middle column (any
  // longitude or mercator x transforms).
  let rowForCols = dh / 2;
  if (dstSrs.isLatLong) {
    const res = (dstBbox[3] - dstBbox[1]) / dh;
    const lat = Math.min(80, Math.max(-80, (dstBbox[1] + dstBbox[3]) / 2));
    rowForCols = (dstBbox[3] - lat) / res;
  }
  for (let x = 0; x < dw; x++) cols[x] = m.sourcePixel(x + 0.5, rowForCols)[0];
  for (let y = 0; y < dh; y++) rows[y] = m.sourcePixel(dw / 2, y + 0.5)[1];
  // a column that does not transform would blank the image: the mesh does those
  if (cols.some(Number.isNaN)) return undefined;
  return increasingInside(cols, srcSize[0]) && increasingInside(rows, srcSize[1]) ? { cols, rows } : undefined;
}

/** SRS whose axes map on their own to and from each other: geographic WGS 84 and web mercator. */
function separable(srs: Srs): boolean {
  return srs.canonical === 'EPSG:4326' || isWebMercator(srs);
}

/** Whether the positions inside [0, size) come one after another (no gap, no NaN between) and increase. */
function increasingInside(pos: Float64Array, size: number): boolean {
  let first = -1;
  let last = -1;
  for (let i = 0; i < pos.length; i++) {
    const c = pos[i];
    if (!(c >= 0 && c < size)) continue;
    if (first < 0) first = i;
    else if (!(c > pos[last]) || last !== i - 1) return false;
    last = i;
  }
  return true;
}

/**
 * The source pixels a reprojection along `axes` reads (see meshSourceWindow),
 * and the axes moved into that window.
 */
export function axesSourceWindow(
  axes: AxisMap, srcW: number, srcH: number, margin = 2,
): { window: [number, number, number, number]; axes: AxisMap } {
  const range = (pos: Float64Array, size: number): [number, number] => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const c of pos) {
      if (!(c >= 0 && c < size)) continue;
      lo = Math.min(lo, c);
      hi = Math.max(hi, c);
    }
    return sourceSpan(lo, hi, size, margin);
  };
  const [x0, x1] = range(axes.cols, srcW);
  const [y0, y1] = range(axes.rows, srcH);
  const shift = (pos: Float64Array, by: number) => by === 0 ? pos : pos.map((c) => c - by);
  return { window: [x0, y0, x1, y1], axes: { cols: shift(axes.cols, x0), rows: shift(axes.rows, y0) } };
}

/**
 * The mesh for a reprojection, as MapProxy's transform_meshes: destination quads
 * with their corners in source pixels. Quads wholly outside the source or the
 * projections' valid area are left out, since they only hold the fill colour.
 */
export function transformMesh(
  srcSize: readonly [number, number], srcBbox: Bbox, srcSrs: Srs,
  dstSize: readonly [number, number], dstBbox: Bbox, dstSrs: Srs,
  maxPxErr = 1,
): MeshQuad[] {
  checkSize(srcSize);
  checkSize(dstSize);
  checkBbox(srcBbox);
  checkBbox(dstBbox);
  const builder = new MeshBuilder(srcSize, srcBbox, srcSrs, dstSize, dstBbox, dstSrs, maxPxErr);
  // Start from cells of at most 256 px so that one lucky test point cannot vouch for a whole large image.
  const [dw, dh] = dstSize;
  const nx = Math.ceil(dw / 256);
  const ny = Math.ceil(dh / 256);
  for (let j = 0; j < ny; j++) {
    const y0 = Math.round((j * dh) / ny);
    const y1 = Math.round(((j + 1) * dh) / ny);
    for (let i = 0; i < nx; i++) {
      builder.add(Math.round((i * dw) / nx), y0, Math.round(((i + 1) * dw) / nx), y1);
    }
  }
  return builder.quads;
}

function checkSize(s: readonly [number, number]): void {
  if (!(Number.isInteger(s[0]) && Number.isInteger(s[1]) && s[0] > 0 && s[1] > 0)) {
    throw new RangeError(`invalid image size ${s[0]}x${s[1]}`);
  }
}

function checkBbox(b: Bbox): void {
  if (!(b[2] > b[0] && b[3] > b[1])) throw new RangeError(`invalid bbox ${b.join(',')}`);
}

// Where in a quad the interpolation is checked (u, v): centre, edge midpoints, and
// the quarter points, because a mapping symmetric about the centre (mercator
// latitude over a whole-world quad) fits the corners and the midpoints exactly.
const TEST_U = [0.5, 0.5, 0.5, 0, 1, 0.25, 0.75, 0.25, 0.75];
const TEST_V = [0.5, 0, 1, 0.5, 0.5, 0.25, 0.25, 0.75, 0.75];
// What a failure at each test point says: top/bottom midpoints see bending
// along x, left/right midpoints along y, interior points either.
const BEND_X = 1;
const BEND_Y = 2;
const BEND_INSIDE = 4;
const TEST_BEND = [BEND_INSIDE, BEND_X, BEND_X, BEND_Y, BEND_Y, BEND_INSIDE, BEND_INSIDE, BEND_INSIDE, BEND_INSIDE];

/** Longitude period of an SRS whose x axis wraps, 0 for the others. */
function xPeriod(srs: Srs): number {
  if (srs.isLatLong) return 360;
  if (isWebMercator(srs)) return 2 * MERCATOR_MAX;
  return 0;
}

/**
 * Keeps latitudes a hair inside the poles, as MapProxy's align_bbox does, so
 * a request bbox reaching +-90 does not turn its whole border into failed points.
 */
function alignLat(y: number): number {
  if (Math.abs(y - 90) < 1e-6) return 90 - 1e-8;
  if (Math.abs(y + 90) < 1e-6) return -90 + 1e-8;
  return y;
}

class MeshBuilder {
  readonly quads: MeshQuad[] = [];
  private readonly cornerIndex = new Map<number, number>();
  private readonly cornerX: number[] = [];
  private readonly cornerY: number[] = [];
  private readonly srcW: number;
  private readonly srcH: number;
  private readonly srcResX: number;
  private readonly srcResY: number;
  private readonly dstResX: number;
  private readonly dstResY: number;
  private readonly srcPeriod: number;
  private readonly dstPeriod: number;
  private readonly srcLatLong: boolean;
  private readonly dstLatLong: boolean;
  private readonly stride: number;
  private readonly srcBbox: Bbox;
  private readonly srcSrs: Srs;
  private readonly dstBbox: Bbox;
  private readonly dstSrs: Srs;
  private readonly maxPxErr: number;
  // Scratch output of toSrcPx, to avoid a tuple per call.
  private px = 0;
  private py = 0;

  constructor(
    srcSize: readonly [number, number], srcBbox: Bbox, srcSrs: Srs,
    dstSize: readonly [number, number], dstBbox: Bbox, dstSrs: Srs,
    maxPxErr: number,
  ) {
    this.srcBbox = srcBbox;
    this.srcSrs = srcSrs;
    this.dstBbox = dstBbox;
    this.dstSrs = dstSrs;
    this.maxPxErr = maxPxErr;
    this.srcW = srcSize[0];
    this.srcH = srcSize[1];
    this.srcResX = (srcBbox[2] - srcBbox[0]) / srcSize[0];
    this.srcResY = (srcBbox[3] - srcBbox[1]) / srcSize[1];
    this.dstResX = (dstBbox[2] - dstBbox[0]) / dstSize[0];
    this.dstResY = (dstBbox[3] - dstBbox[1]) / dstSize[1];
    this.srcPeriod = xPeriod(srcSrs);
    this.dstPeriod = xPeriod(dstSrs);
    this.srcLatLong = srcSrs.isLatLong;
    this.dstLatLong = dstSrs.isLatLong;
    this.stride = dstSize[0] + 1;
  }

  /** Destination pixel (edge coordinates) to source pixel, into this.px/py; NaN where proj fails. */
  private toSrcPx(x: number, y: number): void {
    let wy = this.dstBbox[3] - y * this.dstResY;
    if (this.dstLatLong) wy = alignLat(wy);
    const p = this.dstSrs.transformPoint([this.dstBbox[0] + x * this.dstResX, wy], this.srcSrs);
    let sx = p[0];
    if (!Number.isFinite(sx) || !Number.isFinite(p[1])) {
      this.px = NaN;
      this.py = NaN;
      return;
    }
    const period = this.srcPeriod;
    const [minx, , maxx] = this.srcBbox;
    // proj answers longitudes in -180..180; a source that extends past the
    // antimeridian wants the same meridian one turn further.
    if (period > 0 && (sx < minx || sx > maxx)) {
      const k = sx < minx ? Math.ceil((minx - sx) / period) : -Math.ceil((sx - maxx) / period);
      const shifted = sx + k * period;
      if (shifted >= minx && shifted <= maxx) sx = shifted;
    }
    this.px = (sx - minx) / this.srcResX;
    this.py = (this.srcBbox[3] - p[1]) / this.srcResY;
  }

  /** Destination pixel (edge coordinates) to source pixel; NaN where proj fails. */
  sourcePixel(x: number, y: number): [number, number] {
    this.toSrcPx(x, y);
    return [this.px, this.py];
  }

  /** Index of a quad corner in the corner arrays; neighbouring quads share corners, so each is transformed once. */
  private corner(x: number, y: number): number {
    const key = y * this.stride + x;
    let i = this.cornerIndex.get(key);
    if (i === undefined) {
      this.toSrcPx(x, y);
      i = this.cornerX.length;
      this.cornerX.push(this.px);
      this.cornerY.push(this.py);
      this.cornerIndex.set(key, i);
    }
    return i;
  }

  add(x0: number, y0: number, x1: number, y1: number): void {
    const w = x1 - x0;
    const h = y1 - y0;
    if (w === 1 && h === 1) {
      // Nothing left to subdivide: transform this pixel's centre directly.
      this.toSrcPx(x0 + 0.5, y0 + 0.5);
      if (Number.isNaN(this.px) || this.sideMask(this.px, this.py) !== 0) return;
      const px = this.px;
      const py = this.py;
      this.quads.push({ x0, y0, x1, y1, nwx: px, nwy: py, nex: px, ney: py, swx: px, swy: py, sex: px, sey: py });
      return;
    }
    const cx = this.cornerX;
    const cy = this.cornerY;
    const nw = this.corner(x0, y0);
    const ne = this.corner(x1, y0);
    const sw = this.corner(x0, y1);
    const se = this.corner(x1, y1);
    const valid = (Number.isNaN(cx[nw]) ? 0 : 1) + (Number.isNaN(cx[ne]) ? 0 : 1)
      + (Number.isNaN(cx[sw]) ? 0 : 1) + (Number.isNaN(cx[se]) ? 0 : 1);
    const quad: MeshQuad = {
      x0, y0, x1, y1,
      nwx: cx[nw], nwy: cy[nw], nex: cx[ne], ney: cy[ne], swx: cx[sw], swy: cy[sw], sex: cx[se], sey: cy[se],
    };
    if (valid === 4) {
      if (this.outsideSource(quad)) return;
      const failed = this.inaccuracy(quad);
      if (failed === 0) {
        this.quads.push(quad);
        return;
      }
      // Cut across the direction that bends; a mapping that is linear in x
      // (mercator <-> lon/lat) then needs only thin full-width strips.
      this.split(x0, y0, x1, y1, (failed & BEND_X) !== 0, (failed & BEND_Y) !== 0);
      return;
    }
    if (this.partlyValidOutside(quad)) return;
    this.split(x0, y0, x1, y1, true, true);
  }

  /**
   * Subdivides in the wanted directions. Where the direction is open it cuts
   * like MapProxy's divide_quad: long thin quads are only cut across.
   */
  private split(x0: number, y0: number, x1: number, y1: number, wantX: boolean, wantY: boolean): void {
    const w = x1 - x0;
    const h = y1 - y0;
    let cutX = wantX;
    let cutY = wantY;
    if (cutX === cutY) {
      cutX = !(h > 2 * w);
      cutY = !(w > 2 * h);
    }
    if (w === 1) cutX = false;
    if (h === 1) cutY = false;
    if (!cutX && !cutY) {
      cutX = w > 1;
      cutY = !cutX;
    }
    const xc = x0 + Math.floor(w / 2);
    const yc = y0 + Math.floor(h / 2);
    if (cutX && cutY) {
      this.add(x0, y0, xc, yc);
      this.add(xc, y0, x1, yc);
      this.add(x0, yc, xc, y1);
      this.add(xc, yc, x1, y1);
    } else if (cutX) {
      this.add(x0, y0, xc, y1);
      this.add(xc, y0, x1, y1);
    } else {
      this.add(x0, y0, x1, yc);
      this.add(x0, yc, x1, y1);
    }
  }

  /**
   * Which test points fail to map back onto the destination within maxPxErr
   * (BEND_* bits, 0 when the quad is good enough). Checking in the destination (as MapProxy
   * does) rather than comparing source positions catches a quad that straddles
   * a seam: its interpolated middle lands on the far side of the world.
   */
  private inaccuracy(q: MeshQuad): number {
    const w = q.x1 - q.x0;
    const h = q.y1 - q.y0;
    const period = this.dstPeriod;
    let failed = 0;
    for (let t = 0; t < TEST_U.length; t++) {
      const u = TEST_U[t];
      const v = TEST_V[t];
      const a = (1 - u) * (1 - v);
      const b = u * (1 - v);
      const c = (1 - u) * v;
      const d = u * v;
      const px = a * q.nwx + b * q.nex + c * q.swx + d * q.sex;
      const py = a * q.nwy + b * q.ney + c * q.swy + d * q.sey;
      let wy = this.srcBbox[3] - py * this.srcResY;
      if (this.srcLatLong) wy = alignLat(wy);
      const back = this.srcSrs.transformPoint([this.srcBbox[0] + px * this.srcResX, wy], this.dstSrs);
      if (!Number.isFinite(back[0]) || !Number.isFinite(back[1])) {
        failed |= TEST_BEND[t];
        continue;
      }
      let ex = back[0] - (this.dstBbox[0] + (q.x0 + u * w) * this.dstResX);
      // A destination past the antimeridian gets longitudes back one turn off.
      if (period > 0) ex -= period * Math.round(ex / period);
      const ey = back[1] - (this.dstBbox[3] - (q.y0 + v * h) * this.dstResY);
      if (!(Math.abs(ex) < this.maxPxErr * this.dstResX && Math.abs(ey) < this.maxPxErr * this.dstResY)) {
        failed |= TEST_BEND[t];
      }
    }
    return failed;
  }

  /** Whether corners and test points all lie beyond the same edge of the source, so the quad is all fill. */
  private outsideSource(q: MeshQuad): boolean {
    const side = this.sideMask(q.nwx, q.nwy) & this.sideMask(q.nex, q.ney)
      & this.sideMask(q.swx, q.swy) & this.sideMask(q.sex, q.sey);
    if (side === 0) return false;
    let common = side;
    for (let t = 0; t < TEST_U.length && common !== 0; t++) {
      this.toSrcPx(q.x0 + TEST_U[t] * (q.x1 - q.x0), q.y0 + TEST_V[t] * (q.y1 - q.y0));
      if (Number.isNaN(this.px)) return false;
      common &= this.sideMask(this.px, this.py);
    }
    return common !== 0;
  }

  /** Bit set of the source edges a point lies beyond: 1 left, 2 right, 4 above, 8 below. */
  private sideMask(px: number, py: number): number {
    return (px < 0 ? 1 : 0) | (px >= this.srcW ? 2 : 0) | (py < 0 ? 4 : 0) | (py >= this.srcH ? 8 : 0);
  }

  /**
   * For a quad with failed corners: whether every point that does transform
   * (corners and test points) lies beyond the same source edge, or none does.
   * Either way nothing of the source shows, and the rim of a projection's
   * valid area (90 degrees off a transverse mercator's meridian) need not be
   * traced pixel by pixel.
   */
  private partlyValidOutside(q: MeshQuad): boolean {
    let common = 15;
    const corners = [q.nwx, q.nwy, q.nex, q.ney, q.swx, q.swy, q.sex, q.sey];
    for (let k = 0; k < 8; k += 2) {
      if (!Number.isNaN(corners[k])) common &= this.sideMask(corners[k], corners[k + 1]);
    }
    for (let t = 0; t < TEST_U.length && common !== 0; t++) {
      this.toSrcPx(q.x0 + TEST_U[t] * (q.x1 - q.x0), q.y0 + TEST_V[t] * (q.y1 - q.y0));
      if (!Number.isNaN(this.px)) common &= this.sideMask(this.px, this.py);
    }
    return common !== 0;
  }
}
