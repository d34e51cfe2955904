import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startProxy, type TestProxy } from '../helpers/proxy-server.ts';

const CONFIG = `
services:
  tms:
  wmts:
  kml:
  wms:
layers:
  - name: single
    title: One cache
    sources: [a_cache]
  - name: with_debug
    title: A cache and a debug source
    sources: [a_cache, dbg]
  - name: two
    title: Two caches (WMS only)
    sources: [a_cache, b_cache]
  - name: picked
    title: Two caches, tiles from tile_sources
    sources: [a_cache, b_cache]
    tile_sources: [b_cache]
  - name: direct
    title: A source, no cache
    sources: [dbg]
caches:
  a_cache:
    grids: [GLOBAL_WEBMERCATOR, GLOBAL_MERCATOR]
    sources: [dbg]
  b_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [dbg]
    format: image/jpeg
sources:
  dbg:
    type: debug
`;

describe('tile layers: eligibility, tile_sources and one tile behind every tile URL', () => {
  let proxy: TestProxy;
  before(async () => {
    proxy = await startProxy(CONFIG);
  });
  after(() => proxy.stop());

  it('TMS lists one tile map per eligible layer and grid; tile_sources chooses the cache', async () => {
    const xml = await (await fetch(`${proxy.url}/tms/1.0.0/`)).text();
    const maps = [...xml.matchAll(/href="[^"]+\/tms\/1\.0\.0\/([^"]+)"/g)].map((m) => m[1]).sort();
    assert.deepEqual(maps, ['picked/EPSG3857', 'single/EPSG3857', 'single/EPSG900913', 'with_debug/EPSG3857', 'with_debug/EPSG900913']);
    const picked = await fetch(`${proxy.url}/tms/1.0.0/picked/EPSG3857/1/0/0.jpeg`);
    assert.equal(picked.status, 200);
    assert.equal(picked.headers.get('content-type'), 'image/jpeg');
  });

  it('WMTS publishes the same layers', async () => {
    const xml = await (await fetch(`${proxy.url}/wmts/1.0.0/WMTSCapabilities.xml`)).text();
    const layers = [...xml.matchAll(/<\/ows:WGS84BoundingBox>\s*<ows:Identifier>([^<]+)<\/ows:Identifier>/g)].map((m) => m[1]).sort();
    assert.deepEqual(layers, ['picked', 'single', 'with_debug']);
  });

  it('the same tile is byte-identical over /tiles, TMS, WMTS KVP, WMTS RESTful and KML', async () => {
    const z = 2;
    const x = 1;
    const yTop = 1;
    const urls = [
      `/tiles/single/EPSG3857/${z}/${x}/${yTop}.png?origin=nw`,
      `/tiles/single/EPSG3857/${z}/${x}/${3 - yTop}.png?origin=sw`,
      // without ?origin the grid's own origin counts (north-west for GLOBAL_WEBMERCATOR), as in MapProxy
      `/tiles/single/EPSG3857/${z}/${x}/${yTop}.png`,
      `/tms/1.0.0/single/EPSG3857/${z - 1}/${x}/${3 - yTop}.png`,
      `/wmts/single/GLOBAL_WEBMERCATOR/${z}/${x}/${yTop}.png`,
      `/service?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=single&STYLE=&TILEMATRIXSET=GLOBAL_WEBMERCATOR&TILEMATRIX=${z}&TILEROW=${yTop}&TILECOL=${x}&FORMAT=image%2Fpng`,
      `/kml/single_EPSG3857/${z}/${x}/${3 - yTop}.png`,
    ];
    const bodies: Uint8Array[] = [];
    for (const u of urls) {
      const r = await fetch(proxy.url + u);
      assert.equal(r.status, 200, u);
      assert.equal(r.headers.get('content-type'), 'image/png', u);
      bodies.push(new Uint8Array(await r.arrayBuffer()));
    }
    for (let i = 1; i < bodies.length; i++) assert.deepEqual(bodies[i], bodies[0], urls[i]);
  });

  it('layers that are not tile layers are not served as tiles', async () => {
    assert.equal((await fetch(`${proxy.url}/tms/1.0.0/two/EPSG3857/1/0/0.png`)).status, 404);
    assert.equal((await fetch(`${proxy.url}/tiles/direct/EPSG3857/1/0/0.png`)).status, 404);
    assert.equal((await fetch(`${proxy.url}/wmts/two/GLOBAL_WEBMERCATOR/1/0/0.png`)).status, 400);
  });
});
