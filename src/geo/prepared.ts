/**
 * A (multi)polygon prepared for millions of rectangle tests, as GEOS prepared
 * geometries serve MapProxy's seeder. The bounds are covered by a uniform grid;
 * each cell lists the boundary segments that touch it, and a cell without
 * segments knows whether it lies inside or outside. A test then looks only at
 * the segments near the rectangle, and locates a point by walking along its
 * row to the next cell without segments.
 *
 * Predicates follow Shapely: intersects = the closed sets share a point
 * (touching counts); contains = no point of the rectangle outside the closed
 * polygon and some interior point inside.
 */
import type { Bbox } from '../srs/types.ts';
import type { MultiPolygon } from './geometry.ts';
import { orient } from './orient.ts';

/** Where a point lies. */
export const OUTSIDE = 0;
export const INSIDE = 1;
export const BOUNDARY = 2;
export type Location = typeof OUTSIDE | typeof INSIDE | typeof BOUNDARY;

const CELL_EMPTY_OUT = 0;
const CELL_EMPTY_IN = 1;
const CELL_BOUNDARY = 2;

// segments register in every cell they come within this many cell widths of,
// so that a cell without segments is empty even after rounding
const EPS = 1e-6;
const MAX_CELLS = 1 << 22;
const MAX_SIDE = 4096;

/** A multipolygon with a segment grid; the geometry must be valid (see normalize()). */
export class PreparedGeometry {
  /** [minx, miny, maxx, maxy] of all vertices. */
  readonly bounds: Bbox;
  /** Number of boundary segments. */
  readonly segmentCount: number;
  private readonly ax: Float64Array;
  private readonly ay: Float64Array;
  private readonly bx: Float64Array;
  private readonly by: Float64Array;
  private readonly nx: number;
  private readonly ny: number;
  private readonly gx0: number;
  private readonly gy0: number;
  private readonly cw: number;
  private readonly ch: number;
  private readonly start: Int32Array;
  private readonly segs: Int32Array;
  private readonly state: Uint8Array;
  private readonly stamp: Uint32Array;
  private gen = 0;

  constructor(mp: MultiPolygon) {
    let n = 0;
    for (const poly of mp) for (const ring of poly) n += Math.max(0, ring.length - 1);
    const ax = new Float64Array(n);
    const ay = new Float64Array(n);
    const bx = new Float64Array(n);
    const by = new Float64Array(n);
    let k = 0;
    let minx = Infinity;
    let miny = Infinity;
    let maxx = -Infinity;
    let maxy = -Infinity;
    for (const poly of mp) {
      for (const ring of poly) {
        for (let i = 0; i + 1 < ring.length; i++) {
          const [x1, y1] = ring[i];
          const [x2, y2] = ring[i + 1];
          if (x1 === x2 && y1 === y2) continue;
          ax[k] = x1;
          ay[k] = y1;
          bx[k] = x2;
          by[k] = y2;
          k++;
          if (x1 < minx) minx = x1;
          if (x1 > maxx) maxx = x1;
          if (y1 < miny) miny = y1;
          if (y1 > maxy) maxy = y1;
          if (x2 < minx) minx = x2;
          if (x2 > maxx) maxx = x2;
          if (y2 < miny) miny = y2;
          if (y2 > maxy) maxy = y2;
        }
      }
    }
    if (k === 0 || !(minx <= maxx && miny <= maxy)) throw new Error('cannot prepare an empty geometry');
    this.segmentCount = k;
    this.ax = ax.subarray(0, k);
    this.ay = ay.subarray(0, k);
    this.bx = bx.subarray(0, k);
    this.by = by.subarray(0, k);
    this.bounds = [minx, miny, maxx, maxy];
    this.stamp = new Uint32Array(k);

    const w = maxx - minx;
    const h = maxy - miny;
    const target = Math.min(MAX_CELLS, Math.max(1, 2 * k));
    const aspect = w > 0 && h > 0 ? w / h : 1;
    this.nx = clampInt(Math.round(Math.sqrt(target * aspect)), 1, MAX_SIDE);
    this.ny = clampInt(Math.round(target / this.nx), 1, MAX_SIDE);
    this.gx0 = minx;
    this.gy0 = miny;
    this.cw = w > 0 ? w / this.nx : 1;
    this.ch = h > 0 ? h / this.ny : 1;

    const cells = this.nx * this.ny;
    const counts = new Int32Array(cells + 1);
    for (let s = 0; s < k; s++) this.forEachCell(s, (c) => counts[c]++);
    const start = new Int32Array(cells + 1);
    for (let c = 0; c < cells; c++) start[c + 1] = start[c] + counts[c];
    const segs = new Int32Array(start[cells]);
    const fill = start.slice(0, cells);
    for (let s = 0; s < k; s++) this.forEachCell(s, (c) => (segs[fill[c]++] = s));
    this.start = start;
    this.segs = segs;
    this.state = new Uint8Array(cells);
    this.classifyCells();
  }

  /** Whether the closed rectangle and the closed geometry share a point (Shapely's intersects). */
  intersectsBbox(r: Readonly<Bbox>): boolean {
    const [rx0, ry0, rx1, ry1] = r;
    const [minx, miny, maxx, maxy] = this.bounds;
    if (!(rx0 <= rx1 && ry0 <= ry1)) return false;
    if (rx0 > maxx || rx1 < minx || ry0 > maxy || ry1 < miny) return false;
    const i0 = this.colLo(Math.max(rx0, minx));
    const i1 = this.colHi(Math.min(rx1, maxx));
    const j0 = this.rowLo(Math.max(ry0, miny));
    const j1 = this.rowHi(Math.min(ry1, maxy));
    const gen = this.nextGen();
    const { state, start, segs, stamp, nx } = this;
    for (let j = j0; j <= j1; j++) {
      for (let i = i0; i <= i1; i++) {
        const c = j * nx + i;
        const s = state[c];
        if (s === CELL_EMPTY_IN) {
          if (this.cellTouchesClosed(i, j, r)) return true;
        } else if (s === CELL_BOUNDARY) {
          for (let q = start[c], end = start[c + 1]; q < end; q++) {
            const seg = segs[q];
            if (stamp[seg] === gen) continue;
            stamp[seg] = gen;
            if (this.segTouchesClosed(seg, rx0, ry0, rx1, ry1)) return true;
          }
        }
      }
    }
    // no boundary in the rectangle: it lies wholly inside or wholly outside
    return this.locate(rx0, ry0) !== OUTSIDE;
  }

  /** Whether every point of the rectangle lies in the closed geometry and its interior meets the geometry's (Shapely's contains). */
  containsBbox(r: Readonly<Bbox>): boolean {
    const [rx0, ry0, rx1, ry1] = r;
    const [minx, miny, maxx, maxy] = this.bounds;
    if (!(rx0 <= rx1 && ry0 <= ry1)) return false;
    if (rx0 < minx || rx1 > maxx || ry0 < miny || ry1 > maxy) return false;
    // a degenerate rectangle (line or point) must not touch the boundary at all, as GEOS answers
    const degenerate = rx0 === rx1 || ry0 === ry1;
    const i0 = this.colLo(rx0);
    const i1 = this.colHi(rx1);
    const j0 = this.rowLo(ry0);
    const j1 = this.rowHi(ry1);
    const gen = this.nextGen();
    const { state, start, segs, stamp, nx } = this;
    for (let j = j0; j <= j1; j++) {
      for (let i = i0; i <= i1; i++) {
        const c = j * nx + i;
        const s = state[c];
        if (s === CELL_EMPTY_OUT) {
          if (degenerate ? this.cellTouchesClosed(i, j, r) : this.cellOverlapsOpen(i, j, r)) return false;
        } else if (s === CELL_BOUNDARY) {
          for (let q = start[c], end = start[c + 1]; q < end; q++) {
            const seg = segs[q];
            if (stamp[seg] === gen) continue;
            stamp[seg] = gen;
            if (degenerate ? this.segTouchesClosed(seg, rx0, ry0, rx1, ry1) : this.segCrossesOpen(seg, rx0, ry0, rx1, ry1)) return false;
          }
        }
      }
    }
    // no boundary inside the rectangle: its centre decides
    return this.locate((rx0 + rx1) / 2, (ry0 + ry1) / 2) === INSIDE;
  }

  /** Whether the point lies inside, outside or on the boundary. */
  locate(px: number, py: number): Location {
    const [minx, miny, maxx, maxy] = this.bounds;
    if (!(px >= minx && px <= maxx && py >= miny && py <= maxy)) return OUTSIDE;
    const { nx, state, start, segs, stamp, ax, ay, bx, by } = this;
    const i = clampInt(Math.floor((px - this.gx0) / this.cw), 0, nx - 1);
    const j = clampInt(Math.floor((py - this.gy0) / this.ch), 0, this.ny - 1);
    const c0 = j * nx + i;
    if (state[c0] !== CELL_BOUNDARY) return state[c0] as Location;
    // count crossings of the ray to the right up to the next cell without boundary
    const gen = this.nextGen();
    let crossings = 0;
    for (let col = i; col < nx; col++) {
      const c = j * nx + col;
      if (state[c] !== CELL_BOUNDARY) return (state[c] ^ (crossings & 1)) as Location;
      for (let q = start[c], end = start[c + 1]; q < end; q++) {
        const s = segs[q];
        if (stamp[s] === gen) continue;
        stamp[s] = gen;
        const sax = ax[s];
        const say = ay[s];
        const sbx = bx[s];
        const sby = by[s];
        if (sax === px && say === py) return BOUNDARY;
        if (say > py !== sby > py) {
          const o = orient(sax, say, sbx, sby, px, py);
          if (o === 0) return BOUNDARY;
          if (sby > say ? o > 0 : o < 0) crossings++;
        } else if (say === py && sby === py && px >= Math.min(sax, sbx) && px <= Math.max(sax, sbx)) {
          return BOUNDARY;
        }
      }
    }
    return (crossings & 1) as Location;
  }

  private nextGen(): number {
    if (this.gen >= 0xfffffffe) {
      this.stamp.fill(0);
      this.gen = 0;
    }
    return ++this.gen;
  }

  private colLo(x: number): number {
    return clampInt(Math.floor((x - this.gx0) / this.cw - EPS), 0, this.nx - 1);
  }

  private colHi(x: number): number {
    return clampInt(Math.floor((x - this.gx0) / this.cw + EPS), 0, this.nx - 1);
  }

  private rowLo(y: number): number {
    return clampInt(Math.floor((y - this.gy0) / this.ch - EPS), 0, this.ny - 1);
  }

  private rowHi(y: number): number {
    return clampInt(Math.floor((y - this.gy0) / this.ch + EPS), 0, this.ny - 1);
  }

  private cellTouchesClosed(i: number, j: number, r: Readonly<Bbox>): boolean {
    const x0 = this.gx0 + i * this.cw;
    const y0 = this.gy0 + j * this.ch;
    return x0 <= r[2] && x0 + this.cw >= r[0] && y0 <= r[3] && y0 + this.ch >= r[1];
  }

  private cellOverlapsOpen(i: number, j: number, r: Readonly<Bbox>): boolean {
    const x0 = this.gx0 + i * this.cw;
    const y0 = this.gy0 + j * this.ch;
    return x0 < r[2] && x0 + this.cw > r[0] && y0 < r[3] && y0 + this.ch > r[1];
  }

  /** Closed segment meets closed rectangle (separating axes: x, y and the segment's normal). */
  private segTouchesClosed(s: number, rx0: number, ry0: number, rx1: number, ry1: number): boolean {
    const sax = this.ax[s];
    const say = this.ay[s];
    const sbx = this.bx[s];
    const sby = this.by[s];
    const lox = sax < sbx ? sax : sbx;
    const hix = sax < sbx ? sbx : sax;
    const loy = say < sby ? say : sby;
    const hiy = say < sby ? sby : say;
    if (hix < rx0 || lox > rx1 || hiy < ry0 || loy > ry1) return false;
    if ((sax >= rx0 && sax <= rx1 && say >= ry0 && say <= ry1) || (sbx >= rx0 && sbx <= rx1 && sby >= ry0 && sby <= ry1)) return true;
    const o1 = Math.sign(orient(sax, say, sbx, sby, rx0, ry0));
    const o2 = Math.sign(orient(sax, say, sbx, sby, rx1, ry0));
    const o3 = Math.sign(orient(sax, say, sbx, sby, rx1, ry1));
    const o4 = Math.sign(orient(sax, say, sbx, sby, rx0, ry1));
    return !((o1 > 0 && o2 > 0 && o3 > 0 && o4 > 0) || (o1 < 0 && o2 < 0 && o3 < 0 && o4 < 0));
  }

  /** Closed segment meets the open interior of the rectangle. */
  private segCrossesOpen(s: number, rx0: number, ry0: number, rx1: number, ry1: number): boolean {
    const sax = this.ax[s];
    const say = this.ay[s];
    const sbx = this.bx[s];
    const sby = this.by[s];
    const lox = sax < sbx ? sax : sbx;
    const hix = sax < sbx ? sbx : sax;
    const loy = say < sby ? say : sby;
    const hiy = say < sby ? sby : say;
    if (hix <= rx0 || lox >= rx1 || hiy <= ry0 || loy >= ry1) return false;
    if ((sax > rx0 && sax < rx1 && say > ry0 && say < ry1) || (sbx > rx0 && sbx < rx1 && sby > ry0 && sby < ry1)) return true;
    const o1 = Math.sign(orient(sax, say, sbx, sby, rx0, ry0));
    const o2 = Math.sign(orient(sax, say, sbx, sby, rx1, ry0));
    const o3 = Math.sign(orient(sax, say, sbx, sby, rx1, ry1));
    const o4 = Math.sign(orient(sax, say, sbx, sby, rx0, ry1));
    return !((o1 >= 0 && o2 >= 0 && o3 >= 0 && o4 >= 0) || (o1 <= 0 && o2 <= 0 && o3 <= 0 && o4 <= 0));
  }

  /** Calls fn for every cell the segment comes near, row by row. */
  private forEachCell(s: number, fn: (cell: number) => void): void {
    const sax = this.ax[s];
    const say = this.ay[s];
    const sbx = this.bx[s];
    const sby = this.by[s];
    const loy = Math.min(say, sby);
    const hiy = Math.max(say, sby);
    const lox = Math.min(sax, sbx);
    const hix = Math.max(sax, sbx);
    const j0 = this.rowLo(loy);
    const j1 = this.rowHi(hiy);
    for (let j = j0; j <= j1; j++) {
      let x0 = lox;
      let x1 = hix;
      if (say !== sby) {
        // the part of the segment inside this row's band
        const yA = Math.max(loy, this.gy0 + j * this.ch);
        const yB = Math.min(hiy, this.gy0 + (j + 1) * this.ch);
        const slope = (sbx - sax) / (sby - say);
        const xa = sax + (yA - say) * slope;
        const xb = sax + (yB - say) * slope;
        x0 = Math.max(lox, Math.min(xa, xb));
        x1 = Math.min(hix, Math.max(xa, xb));
        if (!(x0 <= x1)) {
          x0 = lox;
          x1 = hix;
        }
      }
      const i0 = this.colLo(x0);
      const i1 = this.colHi(x1);
      for (let i = i0; i <= i1; i++) fn(j * this.nx + i);
    }
  }

  /** Inside/outside of every cell without segments, by the crossings of its row's centre line. */
  private classifyCells(): void {
    const { nx, ny, start, segs, stamp, state, ax, ay, bx, by } = this;
    const xs = new Float64Array(this.segmentCount);
    for (let j = 0; j < ny; j++) {
      const yc = this.gy0 + (j + 0.5) * this.ch;
      const gen = this.nextGen();
      let m = 0;
      for (let i = 0; i < nx; i++) {
        const c = j * nx + i;
        for (let q = start[c], end = start[c + 1]; q < end; q++) {
          const s = segs[q];
          if (stamp[s] === gen) continue;
          stamp[s] = gen;
          if (ay[s] > yc !== by[s] > yc) xs[m++] = ax[s] + ((yc - ay[s]) * (bx[s] - ax[s])) / (by[s] - ay[s]);
        }
      }
      const row = xs.subarray(0, m).sort();
      let p = 0;
      for (let i = 0; i < nx; i++) {
        const c = j * nx + i;
        if (start[c + 1] > start[c]) {
          state[c] = CELL_BOUNDARY;
          continue;
        }
        const xc = this.gx0 + (i + 0.5) * this.cw;
        while (p < m && row[p] < xc) p++;
        state[c] = (p & 1) === 1 ? CELL_EMPTY_IN : CELL_EMPTY_OUT;
      }
    }
  }
}

function clampInt(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
