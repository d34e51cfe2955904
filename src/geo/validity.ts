/**
 * A quick check whether polygons already form a valid multipolygon in the
 * sense the prepared tests need: no two ring segments meet (other than
 * neighbours at their shared vertex), holes lie directly inside their own
 * exterior, and no polygon lies inside another one's area. Such input needs no
 * union (polygon-clipping takes over a second for a 50k-vertex border, this
 * check a few milliseconds); anything else, including rings that merely touch,
 * goes through the union.
 */
import type { MultiPolygon } from './geometry.ts';
import { orient } from './orient.ts';

// beyond these the check costs more than it saves
const MAX_PAIR_TESTS = 50_000_000;
const MAX_NESTING_WORK = 200_000_000;
const MAX_CELLS = 1 << 21;

/** True when `mp` (closed rings, no repeated consecutive points) is valid as it is. */
export function isValidLayout(mp: MultiPolygon): boolean {
  // segments with their ring
  let n = 0;
  let ringCount = 0;
  for (const poly of mp) {
    for (const ring of poly) {
      if (ring.length < 4) return false;
      n += ring.length - 1;
      ringCount++;
    }
  }
  if (n === 0) return false;
  const ax = new Float64Array(n);
  const ay = new Float64Array(n);
  const bx = new Float64Array(n);
  const by = new Float64Array(n);
  const ringOf = new Int32Array(n);
  const ringLen: number[] = [];
  let s = 0;
  let r = 0;
  let minx = Infinity;
  let miny = Infinity;
  let maxx = -Infinity;
  let maxy = -Infinity;
  for (const poly of mp) {
    for (const ring of poly) {
      ringLen.push(ring.length - 1);
      for (let i = 0; i + 1 < ring.length; i++) {
        const [x1, y1] = ring[i];
        const [x2, y2] = ring[i + 1];
        if (!Number.isFinite(x1) || !Number.isFinite(y1)) return false;
        if (x1 === x2 && y1 === y2) return false;
        ax[s] = x1;
        ay[s] = y1;
        bx[s] = x2;
        by[s] = y2;
        ringOf[s] = r;
        s++;
        if (x1 < minx) minx = x1;
        if (x1 > maxx) maxx = x1;
        if (y1 < miny) miny = y1;
        if (y1 > maxy) maxy = y1;
      }
      r++;
    }
  }
  if (!(maxx > minx && maxy > miny)) return false;

  // neighbours in a ring share exactly their common vertex
  const adjacent = (a: number, b: number): boolean => {
    if (ringOf[a] !== ringOf[b]) return false;
    const len = ringLen[ringOf[a]];
    const d = Math.abs(a - b);
    return d === 1 || d === len - 1;
  };

  // a grid of the segments by their bounding boxes
  const cells = Math.min(MAX_CELLS, Math.max(1, 2 * n));
  const nx = Math.max(1, Math.min(4096, Math.round(Math.sqrt((cells * (maxx - minx)) / (maxy - miny)))));
  const ny = Math.max(1, Math.min(4096, Math.round(cells / nx)));
  const cw = (maxx - minx) / nx;
  const ch = (maxy - miny) / ny;
  const col = (x: number) => Math.max(0, Math.min(nx - 1, Math.floor((x - minx) / cw)));
  const row = (y: number) => Math.max(0, Math.min(ny - 1, Math.floor((y - miny) / ch)));
  const counts = new Int32Array(nx * ny + 1);
  const range = (i: number): [number, number, number, number] => [col(Math.min(ax[i], bx[i])), col(Math.max(ax[i], bx[i])), row(Math.min(ay[i], by[i])), row(Math.max(ay[i], by[i]))];
  let registered = 0;
  for (let i = 0; i < n; i++) {
    const [c0, c1, r0, r1] = range(i);
    registered += (c1 - c0 + 1) * (r1 - r0 + 1);
    // long diagonal segments over a fine grid: not worth it
    if (registered > 16 * n + 1_000_000) return false;
    for (let y = r0; y <= r1; y++) for (let x = c0; x <= c1; x++) counts[y * nx + x]++;
  }
  const start = new Int32Array(nx * ny + 1);
  for (let c = 0; c < nx * ny; c++) start[c + 1] = start[c] + counts[c];
  const fill = start.slice(0, nx * ny);
  const segs = new Int32Array(start[nx * ny]);
  for (let i = 0; i < n; i++) {
    const [c0, c1, r0, r1] = range(i);
    for (let y = r0; y <= r1; y++) for (let x = c0; x <= c1; x++) segs[fill[y * nx + x]++] = i;
  }

  let tests = 0;
  for (let c = 0; c < nx * ny; c++) {
    const lo = start[c];
    const hi = start[c + 1];
    tests += ((hi - lo) * (hi - lo - 1)) / 2;
    if (tests > MAX_PAIR_TESTS) return false;
    for (let p = lo; p < hi; p++) {
      for (let q = p + 1; q < hi; q++) {
        const a = segs[p];
        const b = segs[q];
        if (adjacent(a, b) ? overlapsBeyondVertex(a, b) : segmentsMeet(a, b)) return false;
      }
    }
  }

  // nesting: with no crossings, one vertex of a ring tells which rings contain it
  if (ringCount > 1) {
    if (ringCount * n > MAX_NESTING_WORK) return false;
    let ri = 0;
    for (let pi = 0; pi < mp.length; pi++) {
      const poly = mp[pi];
      const shellRing = ri;
      for (let k = 0; k < poly.length; k++, ri++) {
        const [px, py] = poly[k][0];
        const containing = containingRings(px, py, ri);
        if (k === 0) {
          // an exterior lies outside every other polygon's area: inside an even number of rings
          if (containing.length % 2 !== 0) return false;
        } else {
          // a hole lies in its own exterior and in no other hole of it
          if (!containing.includes(shellRing)) return false;
          for (let h = shellRing + 1; h < shellRing + poly.length; h++) if (containing.includes(h)) return false;
          if (containing.length % 2 !== 1) return false;
        }
      }
    }
  }
  return true;

  function containingRings(px: number, py: number, self: number): number[] {
    const parity = new Map<number, boolean>();
    for (let i = 0; i < n; i++) {
      if (ringOf[i] === self) continue;
      if (ay[i] > py !== by[i] > py) {
        const o = orient(ax[i], ay[i], bx[i], by[i], px, py);
        if (by[i] > ay[i] ? o > 0 : o < 0) parity.set(ringOf[i], !parity.get(ringOf[i]));
      }
    }
    return [...parity].filter(([, odd]) => odd).map(([ring]) => ring);
  }

  function segmentsMeet(a: number, b: number): boolean {
    if (Math.max(ax[a], bx[a]) < Math.min(ax[b], bx[b]) || Math.max(ax[b], bx[b]) < Math.min(ax[a], bx[a])) return false;
    if (Math.max(ay[a], by[a]) < Math.min(ay[b], by[b]) || Math.max(ay[b], by[b]) < Math.min(ay[a], by[a])) return false;
    const o1 = Math.sign(orient(ax[a], ay[a], bx[a], by[a], ax[b], ay[b]));
    const o2 = Math.sign(orient(ax[a], ay[a], bx[a], by[a], bx[b], by[b]));
    const o3 = Math.sign(orient(ax[b], ay[b], bx[b], by[b], ax[a], ay[a]));
    const o4 = Math.sign(orient(ax[b], ay[b], bx[b], by[b], bx[a], by[a]));
    // collinear with overlapping boxes: they share a point
    if (o1 === 0 && o2 === 0) return true;
    // crossing, or an endpoint on the other segment
    return o1 * o2 <= 0 && o3 * o4 <= 0;
  }

  function overlapsBeyondVertex(a: number, b: number): boolean {
    // a -> b in ring order: b starts where a ends (or the ring wraps)
    const [first, second] = bx[a] === ax[b] && by[a] === ay[b] ? [a, b] : [b, a];
    const o = orient(ax[first], ay[first], bx[first], by[first], bx[second], by[second]);
    if (o !== 0) return false;
    // collinear: a spike back along the first segment overlaps it
    const dx1 = bx[first] - ax[first];
    const dy1 = by[first] - ay[first];
    const dx2 = bx[second] - ax[second];
    const dy2 = by[second] - ay[second];
    return dx1 * dx2 + dy1 * dy2 < 0;
  }
}
