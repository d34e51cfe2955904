/** TileGrid behaviour with values from MapProxy 1.15 (grid.py doctests and python3 -c runs). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pyFloorDiv, pyRound, pyRoundInt } from '../../src/grid/py-math.ts';
import {
  computeResolutions,
  GridError,
  hasSqrt2Factor,
  NoTilesError,
  originFromString,
  tileGrid,
  tmsProfile,
  TileGrid,
} from '../../src/grid/tile-grid.ts';
import { getSrs } from '../../src/srs/srs.ts';
import { assertAllClose, assertClose } from './helpers.ts';

const M = 20037508.342789244;
const mercator = tileGrid({ srs: 'EPSG:900913' });
const webmercator = tileGrid({ srs: 'EPSG:3857', origin: 'nw' });
const geodetic = tileGrid({ srs: 'EPSG:4326' });

describe('Python number semantics', () => {
  it('rounds like round(x, n): ties to even on the exact binary value', () => {
    // 0.0054931640625 is exactly representable, a true tie; toFixed would give ...063
    assert.equal(pyRound(0.0054931640625, 12), 0.005493164062);
    assert.equal(pyRound(2.675, 2), 2.67);
    assert.equal(pyRound(-0.0054931640625, 12), -0.005493164062);
    assert.equal(pyRound(156543.03392804097 * 256, 12), 40075016.68557849);
  });

  it('rounds like round(x): ties to even', () => {
    assert.deepEqual([2.5, 3.5, -2.5, 0.4999, 1103.6].map(pyRoundInt), [2, 4, -2, 0, 1104]);
  });

  it('floor-divides floats like //', () => {
    assert.equal(pyFloorDiv(1, 0.1), 9);
    assert.equal(pyFloorDiv(360, 1.40625), 256);
    assert.equal(pyFloorDiv(-7, 2), -4);
  });
});

describe('TileGrid', () => {
  it('computes bboxes for sw and nw origins', () => {
    assert.deepEqual(mercator.tileBbox([0, 0, 1]), [-M, -M, 0, 0]);
    assert.deepEqual(webmercator.tileBbox([0, 0, 1]), [-M, 0, 0, M]);
    assert.deepEqual(mercator.tileBbox([1, 2, 2]), [-10018754.171394622, 0, 0, 10018754.171394622]);
    assert.deepEqual(webmercator.tileBbox([1, 2, 2]), [-10018754.171394622, -10018754.171394622, 0, 0]);
  });

  it('rounds tile offsets to 12 decimals like MapProxy (GLOBAL_GEODETIC level 16)', () => {
    assert.deepEqual(geodetic.tileBbox([1, 0, 16]), [-179.994506835938, -90.0, -179.98901367187602, -89.994506835938]);
    assert.deepEqual(geodetic.tileBbox([3, 1, 16]), [-179.983520507812, -89.994506835938, -179.97802734375, -89.989013671876]);
  });

  it('clips tile bboxes to the grid bbox with limit', () => {
    const g = tileGrid({ srs: 'EPSG:4326', bbox: [5, 45, 15, 55], res: [0.03] });
    assert.deepEqual(g.gridSizes, [[2, 2]]);
    assert.deepEqual(g.tileBbox([1, 1, 0]), [5 + 7.68, 45 + 7.68, 5 + 15.36, 45 + 15.36]);
    assert.deepEqual(g.tileBbox([1, 1, 0], true), [12.68, 52.68, 15, 55]);
  });

  it('finds tiles for points (doctest values)', () => {
    assert.deepEqual(mercator.tileCoord([1000, 1000], 0), [0, 0, 0]);
    assert.deepEqual(mercator.tileCoord([1000, 1000], 1), [1, 1, 1]);
    assert.deepEqual(webmercator.tileCoord([1000, 1000], 1), [1, 0, 1]);
    assert.deepEqual(tileGrid({ srs: 'EPSG:900913', tileSize: [512, 512] }).tileCoord([1000, 1000], 2), [2, 2, 2]);
  });

  it('flips rows between sw and nw counting', () => {
    assert.deepEqual(mercator.flipTileCoord([0, 1, 1]), [0, 0, 1]);
    assert.deepEqual(mercator.flipTileCoord([1, 3, 2]), [1, 0, 2]);
    // the same tile addressed both ways has the same bbox
    assert.deepEqual(webmercator.tileBbox(webmercator.flipTileCoord([3, 1, 3])), mercator.tileBbox([3, 1, 3]));
  });

  it('limits tiles to the grid', () => {
    assert.equal(mercator.limitTile([-1, 0, 2]), null);
    assert.equal(mercator.limitTile([1, 2, 1]), null);
    assert.deepEqual(mercator.limitTile([1, 2, 2]), [1, 2, 2]);
    assert.equal(mercator.isValidTile([0, 0, 20]), false);
    assert.equal(mercator.isValidTile([0, 0, -1]), false);
    assert.equal(geodetic.isValidTile([1, 0, 1]), true);
    assert.equal(geodetic.isValidTile([1, 1, 1]), false);
  });

  it('selects levels with the stretch factor (grid.py doctest)', () => {
    const g = tileGrid({ srs: 'EPSG:900913', stretchFactor: 1.1 });
    const l1 = g.resolution(1);
    const got = [320000.0, 160000.0, l1 + 50, l1, l1 - 50, l1 * 0.91, l1 * 0.89, 8000.0].map((r) => g.closestLevel(r));
    assert.deepEqual(got, [0, 0, 1, 1, 1, 1, 2, 5]);
  });

  it('switches levels exactly at threshold_res', () => {
    const g = tileGrid({ srs: 'EPSG:25832', bbox: [0, 0, 256000, 256000], res: [1000, 500, 250, 100], thresholdRes: [300, 600] });
    // without thresholds 550 would stretch to level 1 (500 * 1.15 > 550)
    assert.deepEqual([1000, 601, 600, 550, 301, 300, 260, 120, 1].map((r) => g.closestLevel(r)), [0, 0, 1, 1, 1, 2, 2, 3, 3]);
  });

  it('lists affected tiles, rows top-down, null outside the grid', () => {
    const a = mercator.affectedLevelTiles([-M, -M, M, M], 0);
    assert.deepEqual(a.bbox, [-M, -M, M, M]);
    assert.deepEqual(a.gridSize, [1, 1]);
    assert.deepEqual([...a.tiles], [[0, 0, 0]]);
    const b = mercator.affectedLevelTiles([-M - 1e6, -1e6, 1e6, M], 1);
    assert.deepEqual(b.gridSize, [3, 2]);
    assert.deepEqual([...b.tiles], [null, [0, 1, 1], [1, 1, 1], null, [0, 0, 1], [1, 0, 1]]);
    const c = webmercator.affectedLevelTiles([-1e6, -1e6, 1e6, 1e6], 1);
    assert.deepEqual([...c.tiles], [[0, 0, 1], [1, 0, 1], [0, 1, 1], [1, 1, 1]]);
    // iterable more than once
    assert.equal([...c.tiles].length, 4);
    assert.throws(() => mercator.affectedLevelTiles([10, 10, 10, 10], 3), GridError);
  });

  it('picks level and tiles for a map request; too coarse or outside means NoTiles', () => {
    const a = mercator.affectedTiles([-M, -M, M, M], [512, 512]);
    assert.equal(a.level, 1);
    assert.deepEqual(a.gridSize, [2, 2]);
    assert.throws(() => mercator.affectedTiles([-M, -M, M, M], [10, 10]), NoTilesError);
    assert.throws(() => mercator.affectedTiles([M, M, M + 10, M + 10], [10, 10]), NoTilesError);
    // a request in another SRS is transformed first
    const b = mercator.affectedTiles([-180, -85, 180, 85], [256, 256], getSrs('EPSG:4326'));
    assert.equal(b.level, 0);
  });

  it('has WMTS scale denominators (0.28 mm pixel, MapProxy metres per degree)', () => {
    assertClose(mercator.scaleDenominator(0), 559082264.0287176, 'mercator');
    assertClose(geodetic.scaleDenominator(0), 559082264.0287179, 'geodetic');
    assertAllClose(mercator.scaleDenominators().slice(0, 2), [559082264.0287176, 279541132.0143588], 'list');
  });

  it('detects the TMS global profiles by SRS and exact default bbox', () => {
    assert.equal(tmsProfile(mercator), 'global-mercator');
    assert.equal(tmsProfile(webmercator), 'global-mercator');
    assert.equal(tmsProfile(geodetic), 'global-geodetic');
    assert.equal(tmsProfile(tileGrid({ srs: 'EPSG:3857', bbox: [-M, -M, M, M + 1e-6] })), 'local');
    assert.equal(tmsProfile(tileGrid({ srs: 'EPSG:4326', bbox: [-180, -90, 180, 90], numLevels: 3 })), 'global-geodetic');
    assert.equal(hasSqrt2Factor(tileGrid({ srs: 'EPSG:3857', resFactor: 'sqrt2' })), true);
    assert.equal(hasSqrt2Factor(mercator), false);
  });

  it('knows when another origin can address the same tiles', () => {
    assert.equal(webmercator.supportsAccessWithOrigin('sw'), true);
    assert.equal(geodetic.supportsAccessWithOrigin('nw'), false);
    assert.deepEqual(mercator.originTile(2, 'nw'), [0, 3, 2]);
    assert.throws(() => geodetic.originTile(1, 'nw'), GridError);
  });

  it('checks subsets: fewer levels and equal resolutions', () => {
    const few = tileGrid({ srs: 'EPSG:900913', numLevels: 5 });
    assert.equal(few.isSubsetOf(mercator), true);
    assert.equal(mercator.isSubsetOf(few), false);
    assert.equal(geodetic.isSubsetOf(mercator), false);
    assert.equal(webmercator.isSubsetOf(mercator), true);
  });

  it('normalises origins', () => {
    assert.deepEqual(['ll', 'SW', 'ul', 'Nw', undefined, null].map(originFromString), ['sw', 'sw', 'nw', 'nw', 'sw', 'sw']);
    assert.throws(() => originFromString('top'), GridError);
  });

  it('derives resolutions like MapProxy', () => {
    const bbox = [0, 0, 256000, 128000] as [number, number, number, number];
    const tileSize = [256, 256] as const;
    // max_res with a factor stops strictly above max_res
    assert.deepEqual(computeResolutions({ bbox, tileSize, maxRes: 125 }), [1000, 500, 250]);
    assert.deepEqual(computeResolutions({ bbox, tileSize, minRes: 1000, maxRes: 124.9 }), [1000, 500, 250, 125]);
    assert.equal(computeResolutions({ bbox, tileSize, resFactor: 'sqrt2' }).length, 40);
    assert.equal(computeResolutions({ bbox, tileSize, resFactor: Math.SQRT2 }).length, 40);
    assertAllClose(computeResolutions({ bbox, tileSize, maxRes: 10, numLevels: 3 }), [1000, 100, 10], 'log spaced');
  });

  it('rejects a grid without resolutions', () => {
    assert.throws(() => new TileGrid({ srs: getSrs('EPSG:3857'), bbox: [0, 0, 1, 1], resolutions: [] }), GridError);
  });

  it('needs a bbox for SRS without a MapProxy default', () => {
    assert.throws(() => tileGrid({ srs: 'EPSG:25832' }), /need a bbox for grid with EPSG:25832/);
  });
});
