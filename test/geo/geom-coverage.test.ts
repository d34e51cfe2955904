/**
 * GeomCoverage predicates against Shapely's prepared geometry as MapProxy uses
 * it. The expected answers were computed with MapProxy 1.15 (bbox_polygon +
 * shapely.prepared, Shapely 1.8.5) and are kept here as literals:
 * each row is [minx, miny, maxx, maxy, intersects, contains].
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { getSrs } from '../../src/srs/srs.ts';
import type { Bbox, Point } from '../../src/srs/types.ts';
import { GeomCoverage } from '../../src/geo/geom-coverage.ts';
import { normalize, type MultiPolygon, type Polygon } from '../../src/geo/geometry.ts';
import { BOUNDARY, INSIDE, OUTSIDE, PreparedGeometry } from '../../src/geo/prepared.ts';
import { tileGrid } from '../../src/grid/tile-grid.ts';

type Row = [number, number, number, number, number, number];
const ll = getSrs('EPSG:4326');
const merc = getSrs('EPSG:3857');

const square = (x0: number, y0: number, x1: number, y1: number): Point[] => [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]];

// POLYGON((0 0,10 0,10 10,0 10,0 0),(4 4,6 4,6 6,4 6,4 4))
const HOLES: Polygon[] = [[square(0, 0, 10, 10), square(4, 4, 6, 6)]];
const HOLES_REF: Row[] = [[2,2,3,3,1,1],[4,4,6,6,1,0],[3,3,7,7,1,0],[4.5,4.5,5.5,5.5,0,0],[10,10,12,12,1,0],[10,0,12,10,1,0],[-1,-1,11,11,1,0],[0,0,10,10,1,0],[0,0,4,4,1,1],[1,1,4,6,1,1],[6,6,8,8,1,1],[5,5,7,7,1,0],[11,0,12,1,0,0],[3.9,3.9,4,4,1,1],[4,3,6,4,1,1],[4,4.5,6,5.5,1,0],[5,5,5,5,0,0],[1,1,1,1,1,1],[0,0,0,5,1,0],[6,6,6,8,1,0],[-1,5,0,5,1,0],[2,1.5,8,7,1,0],[4,6,8,9,1,1],[0,-1,8,8,1,0],[14,3,15,6,0,0],[2,2,7,10,1,0],[6,6,7,7,1,1],[5,1.5,9,2,1,1],[1.5,5,9,7,1,0],[-1,0,10,9,1,0],[1.5,-1,12,8,1,0],[3,-1,12,3,1,0],[6,5,8,10,1,1],[10,5,12,12,1,0],[10,6,12,8,1,0],[1.5,0,15,4,1,0],[-1,2,1.5,6,1,0],[3,5,9,9,1,0],[3,5,14,7,1,0],[5,4,14,8,1,0],[7,5,8,8,1,1],[2,-1,4,9,1,0],[3,8,14,9,1,0],[1.5,4,10,10,1,0],[7,0,8,8,1,1],[9,2,10,9,1,1]];
// two squares touching at (4 4) and a triangle
const MULTI: Polygon[] = [[square(0, 0, 4, 4)], [square(4, 4, 8, 8)], [[[10, 0], [14, 3], [10, 6], [10, 0]]]];
const MULTI_REF: Row[] = [[3,3,5,5,1,0],[4,4,4,4,1,0],[3,4,4,5,1,0],[2,2,4,4,1,1],[4,0,6,2,1,0],[0,0,8,8,1,0],[12,3,13,3.5,1,1],[10,0,14,6,1,0],[9,0,10,6,1,0],[13,0,14,1,0,0],[11,1,12,2,1,0],[5,5,7,7,1,1],[4,4,8,8,1,1],[8,8,9,9,1,0],[8,3,14,12,1,0],[0,6,15,9,1,0],[0,0,6,4,1,0],[1.5,-1,5,3,1,0],[5,0,12,5,1,0],[-1,-1,8,8,1,0],[5,4,10,8,1,0],[3,2,7,7,1,0],[-1,-1,3,0,1,0],[0,-1,8,7,1,0],[2,3,5,8,1,0],[1.5,-1,3,10,1,0],[4,4,14,12,1,0],[1.5,5,14,12,1,0],[6,5,14,7,1,0],[9,8,14,9,0,0],[0,7,7,8,1,0],[3,9,5,10,0,0],[2,3,10,5,1,0],[3,3,7,7,1,0],[-1,5,4,12,1,0],[4,-1,8,5,1,0],[8,1.5,15,9,1,0],[-1,4,9,9,1,0],[4,4,6,9,1,0]];
const DIAMOND: Polygon[] = [[[[5, 0], [10, 5], [5, 10], [0, 5], [5, 0]]]];
const DIAMOND_REF: Row[] = [[2.5,2.5,7.5,7.5,1,1],[2.4,2.5,7.5,7.5,1,0],[2.5,2.5,7.6,7.5,1,0],[0,0,2.5,2.5,1,0],[0,0,2.4,2.4,0,0],[4,4,6,6,1,1],[-1,-1,11,11,1,0],[5,0,6,1,1,0],[4,0,5,0.5,1,0],[9,4,10,5,1,0],[10,5,11,6,1,0],[8,3,10,10,1,0],[-1,-1,6,8,1,0],[-1,3,9,4,1,0],[6,3,9,8,1,0],[4,1.5,8,4,1,0],[1.5,4,4,12,1,0],[8,3,14,12,1,0],[5,-1,12,0,1,0],[8,1.5,9,10,1,0],[3,2,7,9,1,0],[3,2,12,4,1,0],[1.5,5,9,9,1,0],[0,0,10,8,1,0],[4,2,15,9,1,0],[6,0,12,1.5,1,0],[4,2,10,9,1,0],[8,3,15,6,1,0],[2,-1,12,0,1,0],[2,4,7,8,1,0],[1.5,3,14,4,1,0],[12,0,14,9,0,0],[8,4,12,8,1,0],[1.5,3,5,7,1,0],[12,3,14,6,0,0],[4,3,9,5,1,0]];

function check(polys: Polygon[], rows: Row[]): void {
  // both as given and as normalized (what loadCoverage builds)
  for (const geometry of [polys as MultiPolygon, normalize(polys)]) {
    const cov = new GeomCoverage(geometry, ll);
    for (const [x0, y0, x1, y1, i, c] of rows) {
      const b: Bbox = [x0, y0, x1, y1];
      assert.equal(cov.intersects(b, ll), i === 1, `intersects ${b}`);
      assert.equal(cov.contains(b, ll), c === 1, `contains ${b}`);
    }
  }
}

describe('GeomCoverage predicates (Shapely reference)', () => {
  it('polygon with a hole: touching counts for intersects, a rectangle around the hole is not contained', () => {
    check(HOLES, HOLES_REF);
    const cov = GeomCoverage.fromPolygons(HOLES, ll);
    assert.equal(cov.intersects([10, 10, 12, 12], ll), true, 'corner touch');
    assert.equal(cov.intersects([4.5, 4.5, 5.5, 5.5], ll), false, 'inside the hole');
    assert.equal(cov.intersects([4, 4.5, 6, 5.5], ll), true, 'inside the hole, touching its edges');
    assert.equal(cov.contains([3, 3, 7, 7], ll), false, 'around the hole');
    assert.equal(cov.contains([0, 0, 4, 4], ll), true, 'touching the outer and the hole boundary from inside');
    assert.equal(cov.contains([0, 0, 10, 10], ll), false, 'the whole exterior, hole included');
  });

  it('multipolygon whose parts touch at a point', () => {
    check(MULTI, MULTI_REF);
    const cov = GeomCoverage.fromPolygons(MULTI, ll);
    assert.equal(cov.contains([3, 3, 5, 5], ll), false, 'across the touching point');
    assert.equal(cov.contains([12, 3, 13, 3.5], ll), true);
    assert.equal(cov.intersects([9, 8, 14, 9], ll), false);
  });

  it('diagonal edges', () => check(DIAMOND, DIAMOND_REF));

  it('degenerate rectangles (points and lines) as GEOS answers them', () => {
    const cov = GeomCoverage.fromPolygons(HOLES, ll);
    assert.equal(cov.intersects([5, 5, 5, 5], ll), false);
    assert.equal(cov.contains([1, 1, 1, 1], ll), true);
    assert.equal(cov.contains([0, 0, 0, 5], ll), false);
    assert.equal(cov.intersects([0, 0, 0, 5], ll), true);
  });

  it('comb with teeth, two holes and an island: 400 rectangles', () => {
    const ref = JSON.parse(readFileSync(new URL('./fixtures/comb-shapely.json', import.meta.url), 'utf8')) as { geometry: MultiPolygon; rects: Row[] };
    check(ref.geometry, ref.rects);
    assert.equal(ref.rects.length, 400);
  });

  it('inverted rectangles intersect nothing', () => {
    const cov = GeomCoverage.fromPolygons(HOLES, ll);
    assert.equal(cov.intersects([3, 3, 2, 2], ll), false);
    assert.equal(cov.contains([3, 3, 2, 2], ll), false);
  });

  it('bbox is the geometry bounds, clip defaults to false', () => {
    const cov = GeomCoverage.fromPolygons(MULTI, ll);
    assert.deepEqual(cov.bbox, [0, 0, 14, 8]);
    assert.equal(cov.clip, false);
    assert.equal(GeomCoverage.fromPolygons(MULTI, ll, true).clip, true);
  });

  it('tiles of the grid a coverage was made of: exact to the last bit, as MapProxy', () => {
    // MapProxy's tile_bbox rounds offsets, so neighbours may be one ulp apart;
    // the answers are MapProxy's for the same tiles
    const grid = tileGrid({ srs: 'EPSG:3857', origin: 'nw' });
    const t = grid.tileBbox([300, 400, 10]);
    assert.deepEqual(t, [-8296780.798186172, 4344069.191503136, -8257645.039704162, 4383204.9499851465]);
    const cov = GeomCoverage.fromPolygons([[square(t[0], t[1], t[2], t[3])]], merc);
    assert.equal(cov.contains(t, merc), true);
    const neighbours: [number, number, boolean][] = [[-1, 0, true], [1, 0, false], [0, -1, false], [0, 1, true], [1, 1, false], [-1, -1, false]];
    for (const [dx, dy, touches] of neighbours) {
      const n = grid.tileBbox([300 + dx, 400 + dy, 10]);
      assert.equal(cov.intersects(n, merc), touches, `neighbour ${dx},${dy}`);
      assert.equal(cov.contains(n, merc), false);
    }
    const children: [number, number, boolean][] = [[600, 800, true], [601, 800, false], [600, 801, true], [601, 801, false]];
    for (const [x, y, inside] of children) assert.equal(cov.contains(grid.tileBbox([x, y, 11]), merc), inside, `child ${x},${y}`);
  });

  it('tests a bbox given in another SRS after transforming it (as MapProxy)', () => {
    const cov = GeomCoverage.fromPolygons([[square(5, 45, 15, 55), square(8, 48, 12, 52)]], ll);
    // answers from MapProxy's GeomCoverage with the bbox in EPSG:3857
    assert.equal(cov.intersects([1000000, 6000000, 1100000, 6100000], merc), true);
    assert.equal(cov.contains([600000, 5700000, 800000, 5800000], merc), true);
    assert.equal(cov.intersects([1000000, 6300000, 1100000, 6400000], merc), false);
  });
});

/** O(n) predicates without any index, to check the grid on a large geometry. */
function bruteForce(mp: MultiPolygon) {
  const segs: number[][] = [];
  for (const poly of mp) for (const ring of poly) for (let i = 0; i + 1 < ring.length; i++) segs.push([...ring[i], ...ring[i + 1]]);
  const orient = (ax: number, ay: number, bx: number, by: number, cx: number, cy: number) => (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
  const inside = (px: number, py: number) => {
    let odd = false;
    for (const [ax, ay, bx, by] of segs) if (ay > py !== by > py && px < ax + ((py - ay) * (bx - ax)) / (by - ay)) odd = !odd;
    return odd;
  };
  const hits = ([ax, ay, bx, by]: number[], [x0, y0, x1, y1]: Bbox, open: boolean) => {
    const lt = (a: number, b: number) => (open ? a <= b : a < b);
    if (lt(Math.max(ax, bx), x0) || lt(x1, Math.min(ax, bx)) || lt(Math.max(ay, by), y0) || lt(y1, Math.min(ay, by))) return false;
    const o = [orient(ax, ay, bx, by, x0, y0), orient(ax, ay, bx, by, x1, y0), orient(ax, ay, bx, by, x1, y1), orient(ax, ay, bx, by, x0, y1)];
    return open ? !(o.every((v) => v >= 0) || o.every((v) => v <= 0)) : !(o.every((v) => v > 0) || o.every((v) => v < 0));
  };
  return {
    intersects: (b: Bbox) => segs.some((s) => hits(s, b, false)) || inside(b[0], b[1]),
    contains: (b: Bbox) => !segs.some((s) => hits(s, b, true)) && inside((b[0] + b[2]) / 2, (b[1] + b[3]) / 2),
  };
}

describe('PreparedGeometry index', () => {
  // a wiggly ring of 5000 vertices with a wiggly hole: many cells of every kind
  const wiggly = (n: number, r: number, dir: 1 | -1): Point[] => {
    const ring: Point[] = [];
    for (let i = 0; i < n; i++) {
      const a = dir * (i / n) * Math.PI * 2;
      const rr = r * (1 + 0.08 * Math.sin(a * 37) + 0.02 * Math.sin(a * 411));
      ring.push([rr * Math.cos(a), rr * Math.sin(a)]);
    }
    ring.push(ring[0]);
    return ring;
  };
  const mp: MultiPolygon = [[wiggly(5000, 1000, 1), wiggly(800, 300, -1)]];
  const prep = new PreparedGeometry(mp);
  const ref = bruteForce(mp);
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed / 2147483648);

  it('agrees with unindexed predicates on 3000 rectangles of every size', () => {
    for (let k = 0; k < 3000; k++) {
      const s = 2000 * 2 ** -(rand() * 12);
      const x = rand() * 2600 - 1300;
      const y = rand() * 2600 - 1300;
      const b: Bbox = [x, y, x + s, y + s * (0.5 + rand())];
      assert.equal(prep.intersectsBbox(b), ref.intersects(b), `intersects ${b}`);
      assert.equal(prep.containsBbox(b), ref.contains(b), `contains ${b}`);
    }
  });

  it('locates points inside, outside and on the boundary', () => {
    assert.equal(prep.locate(0, 0), OUTSIDE, 'in the hole');
    assert.equal(prep.locate(600, 0), INSIDE);
    assert.equal(prep.locate(2000, 0), OUTSIDE);
    const [x, y] = mp[0][0][17];
    assert.equal(prep.locate(x, y), BOUNDARY, 'a vertex');
    const p = new PreparedGeometry([[square(0, 0, 10, 10)]]);
    assert.equal(p.locate(5, 10), BOUNDARY, 'on a horizontal edge');
    assert.equal(p.locate(0, 5), BOUNDARY, 'on a vertical edge');
    assert.equal(p.locate(10, 10), BOUNDARY, 'a corner');
    assert.equal(p.locate(5, 5), INSIDE);
    assert.equal(p.locate(5, 10.000001), OUTSIDE);
  });

  it('answers a seed walk fast', () => {
    const start = performance.now();
    let n = 0;
    for (let k = 0; k < 100000; k++) {
      const a = rand() * Math.PI * 2;
      const x = Math.cos(a) * 1000;
      const y = Math.sin(a) * 1000;
      prep.intersectsBbox([x, y, x + 5, y + 5]);
      prep.containsBbox([x, y, x + 5, y + 5]);
      n += 2;
    }
    const perSecond = n / ((performance.now() - start) / 1000);
    assert.ok(perSecond > 100000, `${Math.round(perSecond)} tests/s`);
  });
});
