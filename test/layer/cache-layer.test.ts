import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Tile, TileManager } from '../../src/cache/tile-manager.ts';
import { decodeImage } from '../../src/image/codec.ts';
import { encodeIndexedPng } from '../../src/image/encode.ts';
import { encodePng } from '../../src/image/png-encode.ts';
import { createRaster, fillRect, getPixel, type Raster } from '../../src/image/raster.ts';
import { transformExtent, type ResamplingMethod } from '../../src/image/resample.ts';
import { stitchTiles } from '../../src/image/stitch.ts';
import { TileGrid, type TileCoord } from '../../src/grid/tile-grid.ts';
import { reprojectRaster } from '../../src/image/transform.ts';
import { SourceError } from '../../src/errors.ts';
import { CacheMapLayer } from '../../src/layer/cache-layer.ts';
import type { SourceImage } from '../../src/source/source.ts';
import { getSrs } from '../../src/srs/srs.ts';
import type { Bbox } from '../../src/srs/types.ts';

// A cache layer over a 4x4-tile level (1 unit a pixel, origin sw) whose tiles
// come from a map in memory; the layer's answers are checked against all
// tiles stitched whole and scaled (the plain way), pixel for pixel.

const srs = getSrs('EPSG:3857');
const grid = new TileGrid({ srs, bbox: [0, 0, 1024, 1024], resolutions: [1], origin: 'sw' });

/** Deterministic noise tiles, opaque or not, so any misplaced or missing pixel changes some byte. */
function noiseTile(seed: number, opaque: boolean, w = 256, h = 256): Raster {
  const r = createRaster(w, h);
  let v = seed;
  for (let i = 0; i < r.data.length; i++) {
    v = (v * 1103515245 + 12345) >>> 0;
    r.data[i] = (i & 3) === 3 && opaque ? 255 : v >>> 24;
  }
  return r;
}

/** A paletted PNG of a few colours in blocks: what MapProxy caches hold. */
function palettedTile(seed: number): Uint8Array {
  const indices = new Uint8Array(256 * 256);
  for (let i = 0; i < indices.length; i++) indices[i] = ((i >> 3) + (i >> 11) + seed) % 5;
  const palette = new Uint8Array([200, 10, 10, 10, 200, 10, 10, 10, 200, 250, 250, 250, 30, 30, 30]);
  return encodeIndexedPng({ width: 256, height: 256, indices, palette, exact: true });
}

function layerOver(tiles: Map<string, Uint8Array>): CacheMapLayer {
  const tm = {
    grid,
    getTiles: async (coords: readonly (TileCoord | null)[]) => coords.map((c): Tile | null => {
      const bytes = c && tiles.get(c.join('/'));
      return bytes ? { bytes, format: 'png', mtime: 0, cacheable: true, cache: 'HIT' } as unknown as Tile : null;
    }),
  } as unknown as TileManager;
  return new CacheMapLayer({ name: 'test', managers: [tm], resampling: 'bicubic' });
}

async function rasterOf(img: SourceImage): Promise<Raster> {
  assert.equal(img.kind, 'raster');
  return (img as { raster: Raster }).raster;
}

/** The plain way: every tile of the level stitched whole, then scaled. */
function expected(rasters: (Raster | null)[], bbox: Bbox, size: [number, number], method: ResamplingMethod, to = srs): Raster {
  // tiles row-major from the top row (y = 3) down
  const ordered: (Raster | null)[] = [];
  for (let y = 3; y >= 0; y--) for (let x = 0; x < 4; x++) ordered.push(rasters[y * 4 + x]);
  const whole = stitchTiles(ordered, 4, 4, 256, 256);
  return to === srs
    ? transformExtent(whole, [0, 0, 1024, 1024], bbox, size, method)
    : reprojectRaster(whole, [0, 0, 1024, 1024], srs, bbox, size, to, { method });
}

function assertSameRaster(got: Raster, want: Raster, what: string): void {
  assert.equal(got.width, want.width, what);
  assert.equal(got.height, want.height, what);
  for (let i = 0; i < want.data.length; i++) {
    if (got.data[i] !== want.data[i]) {
      const p = i >> 2;
      assert.fail(`${what}: pixel ${p % want.width},${Math.floor(p / want.width)} channel ${i & 3}: ${got.data[i]} != ${want.data[i]}`);
    }
  }
}

const wgs84 = getSrs('EPSG:4326');
// The level spans about 0..0.0092 degrees east and north.
const REQUESTS_4326: [Bbox, [number, number]][] = [
  [[0.001, 0.0012, 0.0062, 0.0058], [256, 256]],
  [[0.002, 0.002, 0.0032, 0.0031], [300, 200]],
  [[0.0005, 0.006, 0.004, 0.0091], [128, 160]],
];

const REQUESTS: [Bbox, [number, number]][] = [
  [[100.5, 130.25, 700.75, 610.5], [256, 256]], // shrink across 3x3 tiles
  [[300, 300, 556, 556], [256, 256]], // 1:1, off the tile grid (a crop)
  [[250.3, 240.7, 290.1, 280.9], [256, 256]], // enlarged, around a tile corner
  [[0, 0, 1024, 1024], [600, 500]], // the whole level
  [[-100, 900, 120, 1100], [110, 100]], // over the level's edge
];

/** Every request in EPSG:3857 and EPSG:4326 from a layer over `tiles` against the plain way over their `rasters`. */
async function assertLayerMatches(tiles: Map<string, Uint8Array>, rasters: (Raster | null)[], what: string): Promise<void> {
  const layer = layerOver(tiles);
  for (const [to, requests] of [[srs, REQUESTS], [wgs84, REQUESTS_4326]] as const) {
    for (const [bbox, size] of requests) {
      const got = await rasterOf(await layer.getMap({ bbox, size, srs: to, format: 'png' }));
      assertSameRaster(got, expected(rasters, bbox, size, 'bicubic', to), `${what} ${to.code} ${bbox.join(',')}`);
    }
  }
}

describe('cache layer GetMap from stitched tiles', () => {
  it('gives what stitching every tile whole and scaling or reprojecting gives, for RGBA and paletted tiles', async () => {
    const rgba: (Raster | null)[] = [];
    const tiles = new Map<string, Uint8Array>();
    for (let i = 0; i < 16; i++) {
      const x = i % 4;
      const y = i >> 2;
      if (i === 6) {
        rgba.push(null); // a missing tile stays transparent
        continue;
      }
      const r = noiseTile(i + 1, i % 3 !== 0);
      rgba.push(r);
      tiles.set(`${x}/${y}/0`, encodePng(r));
    }
    await assertLayerMatches(tiles, rgba, 'RGBA');

    const paletted = new Map<string, Uint8Array>();
    const rasters: Raster[] = [];
    for (let i = 0; i < 16; i++) {
      const png = palettedTile(i);
      paletted.set(`${i % 4}/${i >> 2}/0`, png);
      rasters.push(await decodeImage(png));
    }
    await assertLayerMatches(paletted, rasters, 'paletted');
  });

  it('clips a cached tile of the wrong size to its cell', async () => {
    const green = createRaster(300, 300, [0, 200, 0, 255]);
    const blue = createRaster(256, 256, [0, 0, 200, 255]);
    fillRect(green, 250, 0, 50, 300, [250, 0, 0, 255]); // beyond x 256: must not show
    const tiles = new Map<string, Uint8Array>([['0/0/0', encodePng(green)], ['1/0/0', encodePng(blue)]]);
    const r = await rasterOf(await layerOver(tiles).getMap({ bbox: [0, 0, 512, 256], size: [512, 256], srs, format: 'png' }));
    assert.deepEqual([...getPixel(r, 200, 100)], [0, 200, 0, 255]);
    assert.deepEqual([...getPixel(r, 252, 100)], [250, 0, 0, 255]);
    assert.deepEqual([...getPixel(r, 256, 100)], [0, 0, 200, 255]);
    assert.deepEqual([...getPixel(r, 290, 10)], [0, 0, 200, 255]);
  });

  it('refuses a cached tile that is not a readable image with a source error, not a crash', async () => {
    const good = palettedTile(1);
    const cut = good.subarray(0, good.length >> 1);
    for (const bad of [cut, new TextEncoder().encode('<html>not a tile</html>')]) {
      const tiles = new Map<string, Uint8Array>([['0/0/0', good], ['1/0/0', bad]]);
      await assert.rejects(
        layerOver(tiles).getMap({ bbox: [100, 0, 400, 256], size: [200, 170], srs, format: 'png' }),
        (e: Error) => e instanceof SourceError && /unreadable cached tile/.test(e.message),
      );
    }
  });
});
