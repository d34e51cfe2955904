import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRaster, getPixel, type Raster, type Rgba } from '../../src/image/raster.ts';
import { splitRaster, stitchTiles } from '../../src/image/stitch.ts';

function noise(w: number, h: number, seed = 7): Raster {
  const r = createRaster(w, h);
  let v = seed;
  for (let i = 0; i < r.data.length; i++) {
    v = (v * 1103515245 + 12345) >>> 0;
    r.data[i] = v >>> 24;
  }
  return r;
}

const RED: Rgba = [255, 0, 0, 255];
const GREEN: Rgba = [0, 255, 0, 255];
const BLUE: Rgba = [0, 0, 255, 255];

describe('stitchTiles', () => {
  it('places tiles row-major, top row first', () => {
    const tiles = [RED, GREEN, BLUE, [9, 9, 9, 255] as Rgba].map((c) => createRaster(4, 3, c));
    const out = stitchTiles(tiles, 2, 2, 4, 3);
    assert.equal(out.width, 8);
    assert.equal(out.height, 6);
    assert.deepEqual([...getPixel(out, 0, 0)], [...RED]);
    assert.deepEqual([...getPixel(out, 7, 2)], [...GREEN]);
    assert.deepEqual([...getPixel(out, 3, 3)], [...BLUE]);
    assert.deepEqual([...getPixel(out, 4, 5)], [9, 9, 9, 255]);
  });

  it('fills the cells of missing tiles', () => {
    const out = stitchTiles([createRaster(2, 2, RED), null, null], 3, 1, 2, 2, [1, 2, 3, 4]);
    assert.deepEqual([...getPixel(out, 1, 1)], [...RED]);
    assert.deepEqual([...getPixel(out, 2, 0)], [1, 2, 3, 4]);
    assert.deepEqual([...getPixel(out, 5, 1)], [1, 2, 3, 4]);
    const clear = stitchTiles([null], 1, 1, 2, 2);
    assert.ok(clear.data.every((v) => v === 0), 'transparent by default');
  });

  it('replaces rather than blends semi-transparent tiles, and keeps odd-sized tiles in their cell', () => {
    const out = stitchTiles([createRaster(2, 2, [255, 0, 0, 100]), createRaster(5, 5, GREEN)], 2, 1, 2, 2, BLUE);
    assert.deepEqual([...getPixel(out, 0, 0)], [255, 0, 0, 100]);
    assert.deepEqual([...getPixel(out, 3, 1)], [...GREEN]);
    const small = stitchTiles([createRaster(1, 1, RED), createRaster(2, 2, GREEN)], 2, 1, 2, 2, BLUE);
    assert.deepEqual([...getPixel(small, 1, 1)], [...BLUE], 'uncovered part of a cell keeps the fill');
  });

  it('rejects a tile list that does not match the grid', () => {
    assert.throws(() => stitchTiles([null, null, null], 2, 2, 4, 4), RangeError);
  });
});

describe('splitRaster', () => {
  it('splits a meta tile into tiles that stitch back to the original', () => {
    const meta = noise(12, 8);
    const crops: [number, number][] = [];
    for (let y = 0; y < 2; y++) for (let x = 0; x < 3; x++) crops.push([x * 4, y * 4]);
    const tiles = splitRaster(meta, 4, 4, crops);
    assert.equal(tiles.length, 6);
    assert.deepEqual([...getPixel(tiles[4], 1, 2)], [...getPixel(meta, 5, 6)]);
    assert.deepEqual(stitchTiles(tiles, 3, 2, 4, 4).data, meta.data);
  });

  it('pads crops that reach past the meta tile', () => {
    const meta = noise(6, 6);
    const [tl, br] = splitRaster(meta, 4, 4, [[-2, -1], [4, 4]]);
    assert.deepEqual([...getPixel(tl, 1, 1)], [0, 0, 0, 0]);
    assert.deepEqual([...getPixel(tl, 2, 0)], [0, 0, 0, 0]);
    assert.deepEqual([...getPixel(tl, 2, 1)], [...getPixel(meta, 0, 0)]);
    assert.deepEqual([...getPixel(br, 1, 1)], [...getPixel(meta, 5, 5)]);
    assert.deepEqual([...getPixel(br, 2, 1)], [0, 0, 0, 0]);
    const [filled] = splitRaster(meta, 2, 2, [[5, 5]], [8, 8, 8, 255]);
    assert.deepEqual([...getPixel(filled, 1, 1)], [8, 8, 8, 255]);
  });
});
