/**
 * Grids from fixtures/mapproxy-grids.yaml against the numbers MapProxy 1.15
 * itself computed for them (fixtures/mapproxy-grids.json).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildGrids } from '../../src/grid/grid-config.ts';
import { MetaGrid } from '../../src/grid/meta-grid.ts';
import { GridError, hasSqrt2Factor, NoTilesError, tmsProfile, type TileGrid } from '../../src/grid/tile-grid.ts';
import { assertAllClose, assertClose, REF, referenceGridsConf, summarize } from './helpers.ts';

const grids = buildGrids(referenceGridsConf(), { tileSize: [256, 256] });
const names = Object.keys(REF.grids);

function grid(name: string): TileGrid {
  const g = grids.get(name);
  assert.ok(g, `grid ${name} built`);
  return g;
}

describe('grids equal MapProxy 1.15', () => {
  it('builds the same set of grids', () => {
    assert.deepEqual([...grids.keys()].sort(), [...names].sort());
  });

  for (const name of names) {
    const r = REF.grids[name];
    describe(name, () => {
      it('has the same resolutions, bbox, sizes and options', () => {
        const g = grid(name);
        assert.equal(g.name, r.name);
        assert.equal(g.origin, r.origin === 'ul' ? 'nw' : 'sw');
        assert.deepEqual([...g.tileSize], r.tile_size);
        assertAllClose(g.resolutions, r.res, 'resolutions');
        // bboxes not from a transformation must be bit-identical
        if (name === 'utm_bbox_srs') assertAllClose(g.bbox, r.bbox, 'bbox', 1e-12);
        else assert.deepEqual([...g.bbox], r.bbox);
        assert.deepEqual(g.gridSizes.map((s) => [...s]), r.grid_sizes);
        assert.equal(g.levels, r.res.length);
        assert.equal(g.stretchFactor, r.stretch);
        assert.equal(g.maxShrinkFactor, r.shrink);
        assert.deepEqual(g.thresholdRes ? [...g.thresholdRes] : null, r.threshold);
      });

      it('has the same tile bboxes', () => {
        const g = grid(name);
        for (const [coord, bbox, limited] of r.tile_bbox) {
          if (name === 'utm_bbox_srs') {
            assertAllClose(g.tileBbox(coord), bbox, `tileBbox ${coord}`, 1e-12);
            continue;
          }
          assert.deepEqual(g.tileBbox(coord), bbox, `tileBbox ${coord}`);
          assert.deepEqual(g.tileBbox(coord, true), limited, `tileBbox ${coord} limited`);
        }
      });

      it('selects the same levels (closestLevel)', () => {
        const g = grid(name);
        for (const [res, level] of r.closest) assert.equal(g.closestLevel(res), level, `closestLevel(${res})`);
      });

      it('finds the same tile for points', () => {
        const g = grid(name);
        for (const [pt, z, coord] of r.tile_coord) {
          // proj4js and PROJ differ in the last bits of a transformed bbox: its exact corners are ambiguous
          if (name === 'utm_bbox_srs' && (r.bbox.includes(pt[0]) || r.bbox.includes(pt[1]))) continue;
          assert.deepEqual(g.tileCoord(pt, z), coord, `tileCoord ${pt} @${z}`);
        }
      });

      it('lists the same affected tiles', () => {
        const g = grid(name);
        for (const c of r.affected_level) {
          if (c[2] === 'GridError') {
            assert.throws(() => g.affectedLevelTiles(c[0], c[1]), GridError);
            continue;
          }
          const [bbox, z, abbox, size, tiles] = c;
          const a = g.affectedLevelTiles(bbox, z);
          assertAllClose(a.bbox, abbox, `affected bbox ${bbox} @${z}`, 1e-12);
          assert.deepEqual(a.gridSize, size);
          assert.deepEqual(summarize(a.tiles), tiles);
        }
        for (const c of r.affected) {
          if (c[2] === 'NoTiles') {
            assert.throws(() => g.affectedTiles(c[0], c[1]), NoTilesError);
            continue;
          }
          const [bbox, size, abbox, gsize, tiles] = c;
          const a = g.affectedTiles(bbox, size);
          assertAllClose(a.bbox, abbox, `affectedTiles bbox ${bbox} ${size}`, 1e-12);
          assert.deepEqual(a.gridSize, gsize);
          assert.deepEqual(summarize(a.tiles), tiles);
        }
      });

      it('has the same TMS profile, origin support and WMTS scale denominators', () => {
        const g = grid(name);
        assert.equal(tmsProfile(g), r.tms_profile);
        assert.equal(hasSqrt2Factor(g), r.skip_odd);
        assert.equal(g.supportsAccessWithOrigin('nw'), r.supports_nw);
        assert.equal(g.supportsAccessWithOrigin('sw'), r.supports_sw);
        if (r.scale_denoms) assertAllClose(g.scaleDenominators(), r.scale_denoms, 'scale denominators');
      });

      for (const m of r.meta) {
        it(`has the same meta tiles (meta_size ${m.meta_size}, buffer ${m.meta_buffer})`, () => {
          const g = grid(name);
          const mg = new MetaGrid(g, m.meta_size, m.meta_buffer);
          for (const [coord, main, bbox, size, gridSize, patterns] of m.tiles) {
            const mt = mg.metaTile(coord);
            assert.deepEqual(mg.metaTileCoord(coord), main, `main tile of ${coord}`);
            assert.deepEqual(mt.bbox, bbox, `meta bbox of ${coord}`);
            assert.deepEqual(mt.size, size, `meta size of ${coord}`);
            assert.deepEqual(mt.gridSize, gridSize);
            assert.deepEqual(
              mt.tiles.map((t) => [t.coord, t.crop]),
              patterns,
              `tiles of ${coord}`,
            );
            assert.deepEqual(mt.mainTileCoord, patterns.find((p) => p[0] !== null)?.[0] ?? null);
          }
          for (const [tiles, bbox, size, gridSize, patterns] of m.minimal) {
            const mt = mg.minimalMetaTile(tiles);
            assert.deepEqual(mt.bbox, bbox);
            assert.deepEqual(mt.size, size);
            assert.deepEqual(mt.gridSize, gridSize);
            assert.deepEqual(mt.tiles.map((t) => [t.coord, t.crop]), patterns);
          }
          for (const [bbox, z, abbox, size, tiles] of m.affected) {
            const a = mg.affectedLevelTiles(bbox, z);
            assertAllClose(a.bbox, abbox, `meta affected ${bbox} @${z}`, 1e-12);
            assert.deepEqual(a.gridSize, size);
            assert.deepEqual(summarize(a.tiles), tiles);
          }
        });
      }
    });
  }

  it('agrees on isSubsetOf for every pair of grids', () => {
    for (const [a, b, expected] of REF.subset) {
      assert.equal(grid(a).isSubsetOf(grid(b)), expected, `${a} subset of ${b}`);
    }
  });

  it('keeps resolutions within 1e-9 of the printed built-in values', () => {
    assertClose(grid('GLOBAL_MERCATOR').resolution(0), 156543.03392804097, 'mercator level 0');
    assertClose(grid('GLOBAL_MERCATOR').resolution(19), 0.29858214173896974, 'mercator level 19');
    assertClose(grid('GLOBAL_GEODETIC').resolution(19), 2.682209014892578e-6, 'geodetic level 19');
  });
});
