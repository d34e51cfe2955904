/**
 * The polygon model: normalization (MapProxy's unary_union / buffer(0), answers
 * from MapProxy 1.15's build_multipolygon), the validity fast path, boolean
 * operations and the exact orientation predicate.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Point } from '../../src/srs/types.ts';
import {
  bboxPolygon,
  buildMultiPolygon,
  differenceGeometries,
  EmptyCoverageError,
  intersectGeometries,
  multiPolygonArea,
  multiPolygonBounds,
  normalize,
  unionGeometries,
  vertexCount,
  type Polygon,
} from '../../src/geo/geometry.ts';
import { isValidLayout } from '../../src/geo/validity.ts';
import { orient } from '../../src/geo/orient.ts';

const sq = (x0: number, y0: number, x1: number, y1: number): Point[] => [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]];

describe('normalize (as build_multipolygon)', () => {
  // [name, polygons, valid as given, bounds, area] with MapProxy's bounds and area
  const cases: [string, Polygon[], boolean, number[], number][] = [
    ['overlapping polygons', [[sq(0, 0, 10, 10)], [sq(5, 5, 15, 15)]], false, [0, 0, 15, 15], 175],
    ['a polygon inside another', [[sq(0, 0, 10, 10)], [sq(2, 2, 4, 4)]], false, [0, 0, 10, 10], 100],
    ['touching polygons', [[sq(0, 0, 10, 10)], [sq(10, 0, 20, 10)]], false, [0, 0, 20, 10], 200],
    ['a hole touching the exterior', [[sq(0, 0, 10, 10), [[0, 0], [5, 2], [2, 5], [0, 0]]]], false, [0, 0, 10, 10], 89.5],
    ['an island in a hole', [[sq(0, 0, 10, 10), sq(2, 2, 8, 8)], [sq(4, 4, 6, 6)]], true, [0, 0, 10, 10], 68],
    ['a hole outside its exterior', [[sq(0, 0, 10, 10), sq(20, 20, 22, 22)]], false, [0, 0, 10, 10], 100],
    ['a spike', [[[[0, 0], [10, 0], [10, 5], [15, 5], [10, 5], [10, 10], [0, 10], [0, 0]]]], false, [0, 0, 10, 10], 100],
    ['disjoint polygons with holes', [[sq(0, 0, 10, 10), sq(1, 1, 2, 2), sq(3, 3, 4, 4)], [sq(20, 0, 30, 10)]], true, [0, 0, 30, 10], 198],
  ];
  for (const [name, polys, valid, bounds, area] of cases) {
    it(name, () => {
      assert.equal(isValidLayout(polys), valid, 'validity');
      const mp = normalize(polys);
      assert.deepEqual(multiPolygonBounds(mp), bounds);
      assert.equal(multiPolygonArea(mp), area);
      if (valid) assert.deepEqual(mp, polys, 'valid input is kept as it is');
    });
  }

  it('a self-intersecting bowtie keeps both lobes (GEOS buffer(0) keeps one: area 25)', () => {
    const mp = normalize([[[[0, 0], [10, 10], [10, 0], [0, 10], [0, 0]]]]);
    assert.equal(mp.length, 2);
    assert.equal(multiPolygonArea(mp), 50);
  });

  it('drops repeated points, closes rings and drops rings without area', () => {
    const mp = normalize([[[[0, 0], [0, 0], [4, 0], [4, 4], [0, 4]]], [[[9, 9], [9, 9], [9, 9]]]]);
    assert.deepEqual(mp, [[[[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]]]]);
    assert.equal(vertexCount(mp), 5);
    assert.deepEqual(normalize([[[[0, 0], [1, 1], [2, 2], [0, 0]]]]), []);
  });

  it('buildMultiPolygon throws EmptyCoverageError without area', () => {
    assert.throws(() => buildMultiPolygon([]), EmptyCoverageError);
    assert.throws(() => buildMultiPolygon([[[[0, 0], [1, 0], [2, 0], [0, 0]]]]), EmptyCoverageError);
  });
});

describe('isValidLayout', () => {
  it('rejects crossing rings, nested holes and a polygon inside another', () => {
    assert.equal(isValidLayout([[sq(0, 0, 10, 10), sq(5, 5, 15, 15)]]), false, 'hole crossing the exterior');
    assert.equal(isValidLayout([[sq(0, 0, 10, 10), sq(1, 1, 9, 9), sq(2, 2, 3, 3)]]), false, 'hole inside a hole');
    assert.equal(isValidLayout([[sq(0, 0, 10, 10), sq(1, 1, 2, 2)], [sq(3, 3, 4, 4)]]), false, 'polygon inside the area of another');
    assert.equal(isValidLayout([[sq(0, 0, 10, 10)], [sq(1, 1, 2, 2)]]), false);
    assert.equal(isValidLayout([[[[0, 0], [10, 0], [10, 10], [5, -1], [0, 10], [0, 0]]]]), false, 'self-crossing');
  });

  it('accepts a large simple ring quickly', () => {
    const ring: Point[] = [];
    for (let i = 0; i < 50000; i++) {
      const a = (i / 50000) * Math.PI * 2;
      const r = 100 * (1 + 0.05 * Math.sin(a * 300));
      ring.push([r * Math.cos(a), r * Math.sin(a)]);
    }
    ring.push(ring[0]);
    const start = performance.now();
    assert.equal(isValidLayout([[ring]]), true);
    assert.ok(performance.now() - start < 2000);
  });
});

describe('boolean operations', () => {
  const a = [bboxPolygon([0, 0, 10, 10])];
  const b = [bboxPolygon([5, 5, 15, 15])];
  it('union, intersection, difference', () => {
    assert.equal(multiPolygonArea(unionGeometries([a, b])), 175);
    assert.equal(multiPolygonArea(intersectGeometries([a, b])), 25);
    assert.equal(multiPolygonArea(differenceGeometries(a, [b])), 75);
    assert.deepEqual(intersectGeometries([a, [bboxPolygon([20, 20, 30, 30])]]), []);
    assert.deepEqual(differenceGeometries(a, [a]), []);
    assert.deepEqual(intersectGeometries([a, []]), []);
    assert.equal(multiPolygonArea(differenceGeometries(a, [])), 100);
  });
});

describe('orient', () => {
  it('has the exact sign where the plain determinant rounds', () => {
    assert.equal(orient(0, 0, 10, 10, 5, 5), 0);
    assert.ok(orient(0, 0, 10, 0, 5, 1) > 0);
    assert.ok(orient(0, 0, 10, 0, 5, -1) < 0);
    // Kettner et al.'s classroom example: the plain determinant rounds to 0, the point lies left of the line
    const py = 0.5000000000000001;
    assert.equal((12 - 0.5) * (24 - py) - (12 - py) * (24 - 0.5), 0);
    assert.ok(orient(0.5, py, 12, 12, 24, 24) > 0);
    // a point one ulp off a long line at web mercator magnitudes
    const ax = -8296780.798186172;
    const ay = 4344069.191503136;
    const bx = -8257645.039704162;
    const by = 4383204.9499851465;
    assert.equal(orient(ax, ay, bx, by, ax, ay), 0);
    assert.equal(orient(ax, ay, bx, ay, (ax + bx) / 2, ay), 0);
    assert.ok(orient(ax, ay, bx, ay, (ax + bx) / 2, 4344069.191503137) > 0);
    assert.ok(orient(ax, ay, bx, ay, (ax + bx) / 2, 4344069.191503135) < 0);
    assert.ok(orient(1e-300, 0, 0, 1e-300, 0, 0) > 0, 'tiny magnitudes');
  });

  it('agrees with an exact rational computation on near-degenerate points', () => {
    let seed = 3;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed / 2147483648);
    for (let k = 0; k < 2000; k++) {
      const ax = rand() * 1e7;
      const ay = rand() * 1e7;
      const bx = ax + rand() * 1e5;
      const by = ay + rand() * 1e5;
      const t = rand();
      // a point rounded from the line a-b: almost collinear
      const cx = ax + (bx - ax) * t;
      const cy = ay + (by - ay) * t;
      const big = (v: number) => {
        // every double is an integer multiple of 2^-1074
        const s = v.toString(2);
        const [int, frac = ''] = s.replace('-', '').split('.');
        const m = BigInt('0b' + (int + frac || '0')) * (v < 0 ? -1n : 1n);
        return m * 2n ** BigInt(1074 - frac.length);
      };
      const det = (big(bx) - big(ax)) * (big(cy) - big(ay)) - (big(by) - big(ay)) * (big(cx) - big(ax));
      const want = det > 0n ? 1 : det < 0n ? -1 : 0;
      assert.equal(Math.sign(orient(ax, ay, bx, by, cx, cy)), want, `${ax} ${ay} ${bx} ${by} ${cx} ${cy}`);
    }
  });
});
