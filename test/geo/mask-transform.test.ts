/**
 * transformTo between EPSG:4326 and EPSG:3857 (MapProxy's transform_geometry:
 * every vertex, no densifying) and coverage masks (pixel centres; the expected
 * masks were computed with Shapely's contains at the same centres).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { getSrs } from '../../src/srs/srs.ts';
import type { Bbox, Point } from '../../src/srs/types.ts';
import { BboxCoverage, MultiCoverage, type Coverage } from '../../src/geo/coverage.ts';
import { coverageArea, GeomCoverage } from '../../src/geo/geom-coverage.ts';
import { coverageMask } from '../../src/geo/mask.ts';

const ll = getSrs('EPSG:4326');
const merc = getSrs('EPSG:3857');
const square = (x0: number, y0: number, x1: number, y1: number): Point[] => [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]];
const sortedPoints = (ring: Point[]) => ring.slice(0, -1).map((p) => `${p[0]} ${p[1]}`).sort();

describe('GeomCoverage.transformTo', () => {
  const cov = GeomCoverage.fromPolygons([[square(5, 45, 15, 55), square(8, 48, 12, 52)]], ll, true);

  it('transforms every vertex to EPSG:3857 exactly as MapProxy', () => {
    const m = cov.transformTo(merc) as GeomCoverage;
    assert.ok(m instanceof GeomCoverage);
    assert.equal(m.srs, merc);
    assert.equal(m.clip, true);
    assert.equal(m.geometry.length, 1);
    const [ext, hole] = m.geometry[0];
    // MapProxy 1.15 transform_geometry(SRS(4326), SRS(3857), polygon)
    assert.deepEqual(sortedPoints(ext), sortedPoints(square(556597.4539663679, 5621521.486192066, 1669792.3618991035, 7361866.113051188)));
    assert.deepEqual(sortedPoints(hole), sortedPoints(square(890555.9263461885, 6106854.834885074, 1335833.8895192828, 6800125.454397307)));
    assert.deepEqual(m.bbox, [556597.4539663679, 5621521.486192066, 1669792.3618991035, 7361866.113051188]);
    // MapProxy: intersects and contains of this box in the transformed coverage are both true
    assert.equal(m.contains([1000000, 6000000, 1100000, 6100000], merc), true);
    assert.equal(m.intersects([1000000, 6300000, 1100000, 6400000], merc), false, 'in the hole');
  });

  it('and back to EPSG:4326 (MapProxy gets the same rounding)', () => {
    const back = (cov.transformTo(merc) as GeomCoverage).transformTo(ll) as GeomCoverage;
    assert.deepEqual(sortedPoints(back.geometry[0][0]), sortedPoints(square(5, 44.99999999999999, 14.999999999999998, 54.99999999999999)));
  });

  it('returns itself for the same SRS (and its aliases)', () => {
    assert.equal(cov.transformTo(ll), cov);
    const m = cov.transformTo(merc);
    assert.equal(m.transformTo(getSrs('EPSG:900913')), m);
  });

  it('coverageArea: the geometry area in the coverage SRS (as the grids report of MapProxy)', () => {
    assert.equal(coverageArea(cov), 84);
    assert.equal(coverageArea(new BboxCoverage([0, 0, 2, 3], ll)), 6);
    assert.ok(Math.abs(coverageArea(cov.transformTo(merc)) / 1628644647283.5146 - 1) < 1e-9);
  });

  it('transforms once per SRS (clip masks ask on every request)', () => {
    assert.equal(cov.transformTo(merc), cov.transformTo(merc));
    assert.equal(cov.transformTo(getSrs('EPSG:900913')).srs.code, 'EPSG:900913');
  });

  it('keeps straight edges straight in the target SRS (no densifying)', () => {
    const tri = GeomCoverage.fromPolygons([[[[0, 0], [40, 60], [-40, 60], [0, 0]]]], ll);
    const m = tri.transformTo(merc) as GeomCoverage;
    assert.equal(m.geometry[0][0].length, 4);
  });
});

const HOLES_MASK = [
  '.......................',
  '..###################..',
  '..###################..',
  '..###################..',
  '..###################..',
  '..###################..',
  '..###################..',
  '..########...########..',
  '..########...########..',
  '..########...########..',
  '..###################..',
  '..###################..',
  '..###################..',
  '..###################..',
  '..###################..',
  '..###################..',
  '.......................',
];
const DIAMOND_MASK = [
  '.......................',
  '...........#...........',
  '..........###..........',
  '.........#####.........',
  '.......#########.......',
  '......###########......',
  '.....#############.....',
  '...#################...',
  '..###################..',
  '...#################...',
  '.....#############.....',
  '......###########......',
  '.......#########.......',
  '.........#####.........',
  '..........###..........',
  '...........#...........',
  '.......................',
];

function render(mask: Uint8Array, w: number): string[] {
  const rows: string[] = [];
  for (let r = 0; r * w < mask.length; r++) rows.push([...mask.subarray(r * w, (r + 1) * w)].map((v) => (v === 255 ? '#' : v === 0 ? '.' : '?')).join(''));
  return rows;
}

describe('coverageMask', () => {
  const bbox: Bbox = [-1, -1, 11, 11];

  it('polygon with a hole, rows from the top', () => {
    const cov = GeomCoverage.fromPolygons([[square(0, 0, 10, 10), square(4, 4, 6, 6)]], ll);
    assert.deepEqual(render(coverageMask(cov, bbox, ll, [23, 17]), 23), HOLES_MASK);
  });

  it('diagonal edges', () => {
    const cov = GeomCoverage.fromPolygons([[[[5, 0], [10, 5], [5, 10], [0, 5], [5, 0]]]], ll);
    assert.deepEqual(render(coverageMask(cov, bbox, ll, [23, 17]), 23), DIAMOND_MASK);
  });

  it('top is maxy: a coverage in the upper half fills the first rows', () => {
    const cov = new BboxCoverage([0, 5, 10, 10], ll);
    const rows = render(coverageMask(cov, [0, 0, 10, 10], ll, [4, 4]), 4);
    assert.deepEqual(rows, ['####', '####', '....', '....']);
  });

  it('bbox coverage: pixel centres in the closed box', () => {
    const rows = render(coverageMask(new BboxCoverage([1, 1, 3, 2.5], ll), [0, 0, 4, 4], ll, [4, 4]), 4);
    assert.deepEqual(rows, ['....', '.##.', '.##.', '....']);
  });

  it('multi coverage: any part', () => {
    const cov = new MultiCoverage([new BboxCoverage([0, 0, 1, 1], ll), GeomCoverage.fromPolygons([[square(3, 3, 4, 4)]], ll)]);
    assert.deepEqual(render(coverageMask(cov, [0, 0, 4, 4], ll, [4, 4]), 4), ['...#', '....', '....', '#...']);
  });

  it('a coverage in another SRS is transformed first; agrees with point tests', () => {
    const cov = GeomCoverage.fromPolygons([[square(5, 45, 15, 55), square(8, 48, 12, 52)]], ll);
    const img: Bbox = [0, 5000000, 2000000, 8000000];
    const [w, h] = [64, 48];
    const mask = coverageMask(cov, img, merc, [w, h]);
    const m = cov.transformTo(merc) as GeomCoverage;
    let inside = 0;
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) {
        const x = img[0] + ((c + 0.5) * (img[2] - img[0])) / w;
        const y = img[3] - ((r + 0.5) * (img[3] - img[1])) / h;
        const want = m.prepared.locate(x, y) !== 0 ? 255 : 0;
        assert.equal(mask[r * w + c], want, `pixel ${c},${r}`);
        if (want) inside++;
      }
    }
    assert.ok(inside > 200 && inside < w * h);
  });

  it('any other coverage through its intersects()', () => {
    const custom: Coverage = {
      srs: ll,
      bbox: [0, 0, 2, 2],
      clip: false,
      intersects: (b) => b[0] < 2 && b[1] < 2,
      contains: () => false,
      transformTo() {
        return this;
      },
    };
    assert.deepEqual(render(coverageMask(custom, [0, 0, 4, 4], ll, [4, 4]), 4), ['....', '....', '##..', '##..']);
  });

  it('rejects a bad size', () => {
    assert.throws(() => coverageMask(new BboxCoverage([0, 0, 1, 1], ll), [0, 0, 1, 1], ll, [0, 4]), /invalid mask size/);
  });
});
