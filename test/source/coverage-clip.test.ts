/**
 * Polygon coverages and clip: true on sources, over HTTP against a real
 * upstream WMS: requests outside the polygon (but inside its bbox) ask no
 * one, and clipped images are transparent outside the polygon, in direct
 * WMS layers and in cached tiles.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startWmsUpstream, BACKGROUND, type WmsUpstream } from '../helpers/wms-upstream.ts';
import { startProxy, type TestProxy } from '../helpers/proxy-server.ts';
import { decodeImage } from '../../src/image/codec.ts';
import { getPixel } from '../../src/image/raster.ts';

/** A triangle (0,40) (20,40) (0,60) in lon/lat with a square hole at 2..4 / 42..44. */
const TRIANGLE = JSON.stringify({
  type: 'Feature',
  properties: {},
  geometry: {
    type: 'Polygon',
    coordinates: [
      [[0, 40], [20, 40], [0, 60], [0, 40]],
      [[2, 42], [2, 44], [4, 44], [4, 42], [2, 42]],
    ],
  },
});

function config(up: string): string {
  return `
services:
  wms:
    srs: ['EPSG:4326', 'EPSG:3857']
    md:
      title: Coverage test
  tms:
layers:
  - name: clipped
    title: Clipped
    sources: [clipped_src]
  - name: polygon
    title: Polygon without clip
    sources: [polygon_src]
  - name: cached
    title: Cached clipped
    sources: [clipped_cache]
caches:
  clipped_cache:
    grids: [GLOBAL_GEODETIC]
    sources: [clipped_src]
    meta_size: [1, 1]
    meta_buffer: 0
    image: {transparent: true}
sources:
  clipped_src:
    type: wms
    req: {url: ${up}, layers: base}
    coverage: {datasource: triangle.geojson, srs: 'EPSG:4326', clip: true}
  polygon_src:
    type: wms
    req: {url: ${up}, layers: base}
    coverage:
      difference:
        - {bbox: [0, 40, 20, 60], srs: 'EPSG:4326'}
        - {polygons: hole.wkt, polygons_srs: 'EPSG:4326'}
`;
}

const getmap = (base: string, layer: string, bbox: string, w = 200, h = 200) =>
  `${base}/service?SERVICE=WMS&REQUEST=GetMap&VERSION=1.1.1&LAYERS=${layer}&STYLES=&SRS=EPSG:4326&BBOX=${bbox}&WIDTH=${w}&HEIGHT=${h}&FORMAT=image/png&TRANSPARENT=true`;

describe('polygon coverages and clip on sources', () => {
  let up: WmsUpstream;
  let p: TestProxy;

  before(async () => {
    up = await startWmsUpstream();
    p = await startProxy(config(up.url), { files: { 'triangle.geojson': TRIANGLE, 'hole.wkt': 'POLYGON((5 45, 15 45, 15 55, 5 55, 5 45))' } });
  });
  after(async () => {
    await p?.stop();
    await up.stop();
  });

  it('clips a direct layer to the polygon: transparent outside it and in its hole, upstream pixels inside', async () => {
    up.requests.length = 0;
    // 0.1 degree per pixel, rows from lat 60 down
    const r = await fetch(getmap(p.url, 'clipped', '0,40,20,60'));
    assert.equal(r.status, 200);
    const img = await decodeImage(new Uint8Array(await r.arrayBuffer()));
    const px = (lon: number, lat: number) => [...getPixel(img, Math.floor(lon * 10), Math.floor((60 - lat) * 10))];
    assert.deepEqual(px(8, 45), [...BACKGROUND], 'inside the triangle');
    assert.equal(px(18, 58)[3], 0, 'outside the triangle');
    assert.equal(px(3, 43)[3], 0, 'in the hole');
    assert.deepEqual(px(1, 41), [...BACKGROUND], 'inside, next to the hole');
    assert.equal(up.requests.length, 1);
  });

  it('asks no one for a bbox inside the coverage bbox but outside its polygons', async () => {
    up.requests.length = 0;
    // beyond the hypotenuse lon + lat = 60
    const r = await fetch(getmap(p.url, 'clipped', '15,55,20,60', 50, 50));
    assert.equal(r.status, 200);
    const img = await decodeImage(new Uint8Array(await r.arrayBuffer()));
    assert.equal(getPixel(img, 25, 25)[3], 0);
    // inside the difference's hole
    const hole = await fetch(getmap(p.url, 'polygon', '6,46,14,54', 80, 80));
    assert.equal(hole.status, 200);
    await hole.arrayBuffer();
    assert.equal(up.requests.length, 0);
    // without clip the polygon only decides whether to ask: the whole answer is the upstream's
    const part = await fetch(getmap(p.url, 'polygon', '0,40,20,60'));
    const img2 = await decodeImage(new Uint8Array(await part.arrayBuffer()));
    assert.deepEqual([...getPixel(img2, 100, 100)], [...BACKGROUND], 'no clip inside the hole');
    assert.equal(up.requests.length, 1);
  });

  it('stores clipped tiles in a cache of the clipped source', async () => {
    up.requests.length = 0;
    // exactly one GLOBAL_GEODETIC tile of level 2 (45 degrees), answered from the cache
    const r = await fetch(getmap(p.url, 'cached', '0,0,45,45', 256, 256));
    assert.equal(r.status, 200, await r.clone().text());
    const img = await decodeImage(new Uint8Array(await r.arrayBuffer()));
    const res = 45 / 256;
    const px = (lon: number, lat: number) => [...getPixel(img, Math.floor(lon / res), Math.floor((45 - lat) / res))];
    assert.deepEqual(px(10, 42), [...BACKGROUND]);
    assert.equal(px(30, 42)[3], 0);
    assert.equal(px(10, 20)[3], 0);
    assert.equal(up.requests.length, 1);
    // a tile whose area misses the triangle costs no request
    const r2 = await fetch(getmap(p.url, 'cached', '45,0,90,45', 256, 256));
    assert.equal(r2.status, 200);
    await r2.arrayBuffer();
    assert.equal(up.requests.length, 1);
  });

  it('refuses coverages it cannot load, naming the key', async () => {
    for (const [cov, re] of [
      ["{datasource: missing.geojson, srs: 'EPSG:4326'}", /sources\.bad\.coverage.*missing\.geojson/],
      ["{datasource: 'PG: dbname=gis', srs: 'EPSG:4326'}", /sources\.bad\.coverage.*OGR/],
      ["{bbox: [0, 0, 10, 10], srs: 'EPSG:4326', clip: 'yes'}", /sources\.bad\.coverage\.clip/],
    ] as const) {
      const yaml = `services:\n  wms:\nlayers:\n  - name: l\n    title: L\n    sources: [bad]\nsources:\n  bad:\n    type: wms\n    req: {url: ${up.url}, layers: base}\n    coverage: ${cov}\n`;
      await assert.rejects(startProxy(yaml), re);
    }
  });
});
