/** MetaGrid against MapProxy 1.15's MetaGrid (values from python3 with the mapproxy package). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MetaGrid } from '../../src/grid/meta-grid.ts';
import { tileGrid } from '../../src/grid/tile-grid.ts';

const M = 20037508.342789244;
const mercator = tileGrid({ srs: 'EPSG:900913' });
const webmercator = tileGrid({ srs: 'EPSG:3857', origin: 'nw' });
const utm = tileGrid({ srs: 'EPSG:25832', bbox: [280000, 5200000, 920000, 6100000], maxRes: 0.5, numLevels: 15, origin: 'nw' });

describe('MetaGrid', () => {
  const mg = new MetaGrid(mercator, [4, 4], 80);

  it('shrinks the meta tile to the level and drops the buffer at the grid edge (level 0, 1)', () => {
    const m0 = mg.metaTile([0, 0, 0]);
    assert.deepEqual(m0.bbox, [-M, -M, M, M]);
    assert.deepEqual(m0.size, [256, 256]);
    assert.deepEqual(m0.gridSize, [1, 1]);
    assert.deepEqual(m0.tiles, [{ coord: [0, 0, 0], crop: [0, 0] }]);
    const m1 = mg.metaTile([1, 1, 1]);
    assert.deepEqual(m1.size, [512, 512]);
    assert.deepEqual(
      m1.tiles.map((t) => [t.coord, t.crop]),
      [
        [[0, 1, 1], [0, 0]],
        [[1, 1, 1], [256, 0]],
        [[0, 0, 1], [0, 256]],
        [[1, 0, 1], [256, 256]],
      ],
    );
  });

  it('keeps the buffer on inner sides only (sw origin)', () => {
    for (const c of [[5, 5, 3], [7, 7, 3]] as const) {
      const m = mg.metaTile(c);
      assert.deepEqual(mg.metaTileCoord(c), [4, 4, 3]);
      assert.deepEqual(m.bbox, [-1565430.3392804097, -1565430.3392804097, M, M]);
      assert.deepEqual(m.size, [1104, 1104]);
      assert.deepEqual(m.tiles[0], { coord: [4, 7, 3], crop: [80, 0] });
      assert.deepEqual(m.tiles[1], { coord: [5, 7, 3], crop: [336, 0] });
      assert.deepEqual(m.tiles[15], { coord: [7, 4, 3], crop: [848, 768] });
      assert.deepEqual(m.mainTileCoord, [4, 7, 3]);
    }
    const m = mg.metaTile([0, 0, 3]);
    assert.deepEqual(m.bbox, [-M, -M, 1565430.3392804088, 1565430.3392804088]);
    assert.deepEqual(m.tiles[0], { coord: [0, 3, 3], crop: [0, 80] });
    assert.deepEqual(m.tiles[15], { coord: [3, 0, 3], crop: [768, 848] });
    const m4 = mg.metaTile([2, 3, 4]);
    assert.deepEqual(m4.bbox, [-M, -M, -9236039.001754418, -9236039.001754418]);
    assert.deepEqual(m4.size, [1104, 1104]);
  });

  it('orders tiles top-down for nw origin too', () => {
    const wg = new MetaGrid(webmercator, [4, 4], 80);
    const m = wg.metaTile([5, 5, 3]);
    assert.deepEqual(m.bbox, [-1565430.3392804097, -M, M, 1565430.3392804097]);
    assert.deepEqual(m.tiles[0], { coord: [4, 4, 3], crop: [80, 80] });
    assert.deepEqual(m.tiles[15], { coord: [7, 7, 3], crop: [848, 848] });
    const m0 = wg.metaTile([0, 0, 3]);
    assert.deepEqual(m0.bbox, [-M, -1565430.3392804088, 1565430.3392804088, M]);
    assert.deepEqual(m0.tiles[0], { coord: [0, 0, 3], crop: [0, 0] });
  });

  it('clips meta tiles that reach past a grid whose size is not a multiple of meta_size', () => {
    const ug = new MetaGrid(utm, [4, 4], 80);
    assert.deepEqual(utm.gridSizes[2], [3, 4]);
    const m2 = ug.metaTile([2, 3, 2]);
    assert.deepEqual(m2.bbox, [280000, 5200000, 920000, 6100000]);
    assert.deepEqual(m2.size, [645, 907]);
    assert.deepEqual(m2.gridSize, [3, 4]);
    assert.equal(m2.tiles.length, 12);
    assert.deepEqual(m2.tiles[11], { coord: [2, 3, 2], crop: [512, 768] });
    // level 3 is 5 x 7 tiles: the second meta column has one real column, buffers go negative
    const m3 = ug.metaTile([4, 5, 3]);
    assert.deepEqual(m3.bbox, [777290.7977125138, 5200000, 920000, 5602709.202287486]);
    assert.deepEqual(m3.size, [271, 764]);
    assert.deepEqual(
      m3.tiles.filter((t) => t.coord).map((t) => [t.coord, t.crop]),
      [
        [[4, 4, 3], [80, 80]],
        [[4, 5, 3], [80, 336]],
        [[4, 6, 3], [80, 592]],
      ],
    );
    assert.equal(m3.tiles.length, 16);
  });

  it('lists the tiles of a meta tile', () => {
    assert.deepEqual(new MetaGrid(mercator, [2, 2]).tileList([0, 1, 3]), [
      [0, 1, 3],
      [1, 1, 3],
      [0, 0, 3],
      [1, 0, 3],
    ]);
  });

  it('builds minimal meta tiles around given tiles', () => {
    const m = new MetaGrid(mercator, [2, 2], 10).minimalMetaTile([
      [0, 1, 2],
      [1, 1, 2],
    ]);
    assert.deepEqual(m.gridSize, [2, 1]);
    assert.deepEqual(m.tiles.map((t) => [t.coord, t.crop]), [
      [[0, 1, 2], [0, 10]],
      [[1, 1, 2], [256, 10]],
    ]);
  });

  it('lists affected meta tiles for seeding', () => {
    const a = mg.affectedLevelTiles([-M, -M, M, M], 3);
    assert.deepEqual(a.gridSize, [2, 2]);
    assert.deepEqual([...a.tiles], [
      [0, 4, 3],
      [4, 4, 3],
      [0, 0, 3],
      [4, 0, 3],
    ]);
    // MapProxy adds tile widths, so the far edge is a few ulps off M
    assert.deepEqual(a.bbox, [-M, -M, 20037508.342789248, 20037508.342789248]);
  });
});
