/**
 * Expected pixels and cache keys come from MapProxy 1.15.1's concat_legends
 * (Pillow) and cache/legend.py legend_hash run on the same inputs.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRaster, getPixel, setPixel, type Raster, type Rgba } from '../../../src/image/raster.ts';
import { concatLegends, legendCacheFile, legendCacheKey } from '../../../src/service/wms/legend.ts';

function rows(r: Raster): Rgba[][] {
  const out: Rgba[][] = [];
  for (let y = 0; y < r.height; y++) {
    const row: Rgba[] = [];
    for (let x = 0; x < r.width; x++) row.push([...getPixel(r, x, y)] as unknown as Rgba);
    out.push(row);
  }
  return out;
}

// a: 3x2 red with a half-transparent blue and a fully transparent pixel,
// b: 2x3 green with a quarter-transparent orange pixel, c: 4x1 opaque black
function legends(): Raster[] {
  const a = createRaster(3, 2, [255, 0, 0, 255]);
  setPixel(a, 1, 0, [0, 0, 255, 128]);
  setPixel(a, 2, 1, [10, 20, 30, 0]);
  const b = createRaster(2, 3, [0, 255, 0, 255]);
  setPixel(b, 0, 2, [200, 100, 50, 64]);
  const c = createRaster(4, 1, [0, 0, 0, 255]);
  return [a, b, c];
}

const K: Rgba = [0, 0, 0, 255];
const G: Rgba = [0, 255, 0, 255];
const R: Rgba = [255, 0, 0, 255];

describe('concatLegends', () => {
  it('stacks the last legend on top, left aligned, on a transparent white background', () => {
    const out = concatLegends(legends());
    assert.equal(out.width, 4);
    assert.equal(out.height, 6);
    const T: Rgba = [255, 255, 255, 0];
    assert.deepEqual(rows(out), [
      [K, K, K, K],
      [G, G, T, T],
      [G, G, T, T],
      // Pillow's paste blends alpha with itself too: 64 -> 16, 128 -> 64
      [[241, 216, 204, 16], G, T, T],
      [R, [127, 127, 255, 64], R, T],
      [R, R, T, T],
    ]);
  });

  it('blends onto an opaque background when not transparent', () => {
    const out = concatLegends(legends(), { transparent: false, bgcolor: '#000080' });
    const N: Rgba = [0, 0, 128, 255];
    assert.deepEqual(rows(out), [
      [K, K, K, K],
      [G, G, N, N],
      [G, G, N, N],
      [[50, 25, 108, 255], G, N, N],
      [R, [0, 0, 192, 255], R, N],
      [R, R, N, N],
    ]);
  });

  it('uses a coloured transparent background', () => {
    const out = concatLegends(legends(), { bgcolor: [255, 128, 0, 255] });
    assert.deepEqual([...getPixel(out, 3, 1)], [255, 128, 0, 0]);
    assert.deepEqual([...getPixel(out, 0, 3)], [241, 121, 13, 16]);
    assert.deepEqual([...getPixel(out, 1, 4)], [127, 64, 128, 64]);
  });

  it('returns a single legend unchanged and a 1x1 background for none', () => {
    const [a] = legends();
    assert.equal(concatLegends([a]), a);
    const empty = concatLegends([]);
    assert.equal(empty.width, 1);
    assert.equal(empty.height, 1);
    assert.deepEqual([...getPixel(empty, 0, 0)], [255, 255, 255, 0]);
    assert.deepEqual([...getPixel(concatLegends([], { transparent: false }), 0, 0)], [255, 255, 255, 255]);
  });

  it('does not modify its inputs', () => {
    const ls = legends();
    const before = ls.map((l) => [...l.data]);
    concatLegends(ls);
    assert.deepEqual(ls.map((l) => [...l.data]), before);
  });
});

describe('legend cache', () => {
  it('names legends as MapProxy legend_hash(legend_identifier(...), scale)', () => {
    const layers = [['http://localhost/service?', 'foo'], ['http://localhost/service?', 'bar']] as const;
    assert.equal(legendCacheKey(layers), '967b3f0497e4fa945d926df8fcf78266');
    assert.equal(legendCacheKey(layers, null), '967b3f0497e4fa945d926df8fcf78266');
    assert.equal(legendCacheKey(layers, 5000), '56badbe8a82711c6c867ea08774edb57');
    assert.equal(legendCacheKey(['file:///opt/legend.png']), 'f6cdc52d6f1d8b42aa297cb64be8b62b');
    assert.equal(legendCacheKey([['file:///opt/legend.png', null]]), 'f6cdc52d6f1d8b42aa297cb64be8b62b');
    assert.equal(legendCacheKey([['http://x/wms?', 'straße']], 1e-5), '54f1884144b70c9f189348614268c8e6');
  });

  it('stores them under <base_dir>/legends', () => {
    assert.equal(legendCacheFile('/var/cache/mapproxy', 'abc'), '/var/cache/mapproxy/legends/abc.png');
    assert.equal(legendCacheFile('cache_data', 'abc', 'jpeg'), 'cache_data/legends/abc.jpeg');
  });
});
