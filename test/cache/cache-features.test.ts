import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startWmsUpstream, near, FEATURES, BACKGROUND, type WmsUpstream } from '../helpers/wms-upstream.ts';
import { startProxy, type TestProxy } from '../helpers/proxy-server.ts';
import { decodeImage, sniffImageFormat } from '../../src/image/codec.ts';
import { getPixel } from '../../src/image/raster.ts';

const RED = FEATURES[0].color;

function config(up: string): string {
  return `
services:
  tms:
    origin: nw
  wms:
    srs: ['EPSG:3857', 'EPSG:4326']
globals:
  http:
    client_timeout: 5
layers:
  - name: linked
    title: Linked
    sources: [linked_cache]
  - name: mixed
    title: Mixed
    sources: [mixed_cache]
  - name: marked
    title: Watermarked
    sources: [marked_cache]
  - name: refreshed
    title: Refreshed
    sources: [refresh_cache]
  - name: directfine
    title: Direct from level 8
    sources: [direct_cache]
  - name: geo
    title: Cache of a cache in another SRS
    sources: [geo_cache]
  - name: nostore
    title: Not stored
    sources: [nostore_cache]
  - name: v130
    title: Upstream WMS 1.3.0
    sources: [v130_src]
  - name: tagged
    title: Tagged
    sources: ['tagged_src:roads,rivers']
  - name: keyed
    title: Colour keyed
    sources: [keyed_src]
  - name: limited
    title: One request at a time
    sources: [limited_src]
  - name: upscaled
    title: Upscaled beyond level 5
    sources: [up_cache]
caches:
  linked_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [upstream]
    meta_size: [2, 2]
    meta_buffer: 0
    link_single_color_images: true
  mixed_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [transparent_src]
    format: mixed
    request_format: image/png
    meta_size: [1, 1]
    meta_buffer: 0
  marked_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [upstream]
    meta_size: [1, 1]
    meta_buffer: 0
    watermark:
      text: MARK
      opacity: 255
      color: '#0000ff'
  refresh_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [upstream]
    meta_size: [1, 1]
    meta_buffer: 0
    refresh_before:
      mtime: stamp.txt
  direct_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [upstream]
    use_direct_from_level: 8
  base_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [upstream]
    meta_size: [1, 1]
    meta_buffer: 0
  geo_cache:
    grids: [GLOBAL_GEODETIC]
    sources: [base_cache]
    meta_size: [1, 1]
    meta_buffer: 0
  up_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [coarse_src]
    meta_size: [1, 1]
    meta_buffer: 0
    upscale_tiles: 2
    cache_rescaled_tiles: true
  nostore_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [upstream]
    disable_storage: true
sources:
  upstream:
    type: wms
    req: {url: '${up}', layers: base}
  transparent_src:
    type: wms
    req: {url: '${up}', layers: base, transparent: true}
  v130_src:
    type: wms
    wms_opts: {version: '1.3.0'}
    supported_srs: ['EPSG:4326']
    req: {url: '${up}', layers: base}
  tagged_src:
    type: wms
    req: {url: '${up}', layers: 'roads,rivers,places'}
  keyed_src:
    type: wms
    req: {url: '${up}', layers: base}
    image:
      transparent_color: '#ebebeb'
      transparent_color_tolerance: 0
  coarse_src:
    type: wms
    req: {url: '${up}', layers: base}
    # blank finer than level 5 (4891.97 m/px)
    max_res: 4000
  limited_src:
    type: wms
    concurrent_requests: 1
    req: {url: '${up}?map=/x.map', layers: base}
`;
}

describe('cache features over HTTP', () => {
  let up: WmsUpstream;
  let mp: TestProxy;
  before(async () => {
    up = await startWmsUpstream();
    mp = await startProxy(config(up.url), { files: { 'stamp.txt': 'x' } });
  });
  after(async () => {
    await mp.stop();
    await up.stop();
  });

  const tile = async (layer: string, z: number, x: number, y: number, ext = 'png') => {
    const r = await fetch(`${mp.url}/tiles/${layer}_EPSG3857/${z}/${x}/${y}.${ext}`);
    return { status: r.status, type: r.headers.get('content-type'), body: new Uint8Array(await r.arrayBuffer()) };
  };
  const getmap = async (layer: string, srs: string, bbox: number[], w: number, h: number, extra: Record<string, string> = {}) => {
    const p = new URLSearchParams({ SERVICE: 'WMS', REQUEST: 'GetMap', VERSION: '1.1.1', LAYERS: layer, STYLES: '', SRS: srs, BBOX: bbox.join(','), WIDTH: String(w), HEIGHT: String(h), FORMAT: 'image/png', ...extra });
    const r = await fetch(`${mp.url}/service?${p}`);
    const body = new Uint8Array(await r.arrayBuffer());
    assert.equal(r.status, 200, new TextDecoder().decode(body));
    return decodeImage(body);
  };

  it('links uniform tiles to one file per colour (link_single_color_images)', async () => {
    // level 4, tile 2,10 lies in the South Pacific: background only
    const t = await tile('linked', 4, 2, 10);
    assert.equal(t.status, 200);
    const dir = path.join(mp.dir, 'cache_data', 'linked_cache_EPSG3857');
    const file = path.join(dir, '04', '000', '000', '002', '000', '000', '010.png');
    assert.ok(fs.lstatSync(file).isSymbolicLink(), 'a uniform tile is a symlink');
    const target = path.resolve(path.dirname(file), fs.readlinkSync(file));
    assert.equal(target, path.join(dir, 'single_color_tiles', 'ebebeb.png'));
    // served again from the link
    const again = await tile('linked', 4, 2, 10);
    assert.deepEqual(again.body, t.body);
  });

  it('stores PNG where the tile has transparency and JPEG where it is opaque (format: mixed)', async () => {
    const dir = path.join(mp.dir, 'cache_data', 'mixed_cache_EPSG3857');
    // transparent upstream: an ocean tile is all transparent, a tile with the red box has opaque red only in part
    const clear = await tile('mixed', 4, 2, 10);
    assert.equal(clear.status, 200);
    assert.equal(sniffImageFormat(clear.body), 'png');
    assert.ok(fs.existsSync(path.join(dir, '04', '000', '000', '002', '000', '000', '010.mixed')));
    // a tile deep inside the red box is opaque -> JPEG (level 10 around 9E 51N)
    const z = 10;
    const x = Math.floor(((9 + 180) / 360) * 2 ** z);
    const lat = (51 * Math.PI) / 180;
    const y = Math.floor(((1 - Math.log(Math.tan(lat) + 1 / Math.cos(lat)) / Math.PI) / 2) * 2 ** z);
    const red = await tile('mixed', z, x, y);
    assert.equal(red.status, 200);
    assert.equal(red.type, 'image/jpeg');
    assert.equal(sniffImageFormat(red.body), 'jpeg');
  });

  it('draws the watermark into stored tiles', async () => {
    const t = await tile('marked', 4, 2, 10);
    const r = await decodeImage(t.body);
    let blue = 0;
    for (let y = 0; y < 256; y++) for (let x = 0; x < 256; x++) if (near(getPixel(r, x, y), [0, 0, 255, 255], 30)) blue++;
    assert.ok(blue > 20, `watermark pixels drawn (${blue})`);
    assert.ok(near(getPixel(r, 5, 5), BACKGROUND), 'the rest of the tile is the map');
  });

  it('refetches tiles older than the refresh_before mtime file', async () => {
    const stamp = path.join(mp.dir, 'stamp.txt');
    const past = Date.now() / 1000 - 100;
    fs.utimesSync(stamp, past, past);
    up.requests.length = 0;
    await tile('refreshed', 3, 1, 2);
    await tile('refreshed', 3, 1, 2);
    assert.equal(up.requests.length, 1, 'second request is a cache hit');
    // the tile predates the stamp (the stamp stays in the past, so a new tile is fresh)
    const tileFile = path.join(mp.dir, 'cache_data', 'refresh_cache_EPSG3857', '03', '000', '000', '001', '000', '000', '002.png');
    fs.utimesSync(tileFile, past, past);
    fs.utimesSync(stamp, past + 50, past + 50);
    await tile('refreshed', 3, 1, 2);
    assert.equal(up.requests.length, 2, 'stale tile refetched');
    await tile('refreshed', 3, 1, 2);
    assert.equal(up.requests.length, 2);
  });

  it('sends fine WMS requests straight to the source (use_direct_from_level)', async () => {
    up.requests.length = 0;
    // 256 px over ~0.3 degrees is much finer than level 8
    await getmap('directfine', 'EPSG:4326', [9.0, 51.0, 9.3, 51.2], 256, 170);
    assert.equal(up.requests.length, 1);
    assert.equal(up.requests[0].params.width, '256', 'asked at the request size, not as a meta tile');
    up.requests.length = 0;
    await getmap('directfine', 'EPSG:4326', [0, 40, 20, 60], 256, 256);
    assert.equal(up.requests[0].params.width, '1184', 'coarse requests go through the cache: a 4x4 meta tile with an 80 px buffer');
  });

  it('builds a EPSG:4326 cache from a EPSG:3857 cache (cache as source with reprojection)', async () => {
    const r = await getmap('geo', 'EPSG:4326', [0, 40, 20, 60], 400, 400);
    // red box 8..10E, 50..52N -> pixels x 160..200, y 160..200
    assert.ok(near(getPixel(r, 180, 180), RED), 'red box centre');
    assert.ok(near(getPixel(r, 100, 100), BACKGROUND), 'background');
    assert.ok(fs.existsSync(path.join(mp.dir, 'cache_data', 'geo_cache_EPSG4326')));
    assert.ok(fs.existsSync(path.join(mp.dir, 'cache_data', 'base_cache_EPSG3857')));
  });

  it('stores nothing with disable_storage', async () => {
    up.requests.length = 0;
    await getmap('nostore', 'EPSG:3857', [0, 0, 1000000, 1000000], 256, 256);
    await getmap('nostore', 'EPSG:3857', [0, 0, 1000000, 1000000], 256, 256);
    assert.equal(up.requests.length, 2);
    assert.ok(!fs.existsSync(path.join(mp.dir, 'cache_data', 'nostore_cache_EPSG3857')));
  });

  it('asks a WMS 1.3.0 upstream with CRS and lat/lon axis order', async () => {
    up.requests.length = 0;
    const r = await getmap('v130', 'EPSG:4326', [0, 40, 20, 60], 200, 200);
    const p = up.requests[0].params;
    assert.equal(p.version, '1.3.0');
    assert.equal(p.crs, 'EPSG:4326');
    assert.equal(p.bbox, '40.0,0.0,60.0,20.0');
    assert.ok(near(getPixel(r, 90, 90), RED));
  });

  it('asks only the tagged layers of a source', async () => {
    up.requests.length = 0;
    await getmap('tagged', 'EPSG:4326', [0, 40, 20, 60], 100, 100);
    assert.equal(up.requests[0].params.layers, 'roads,rivers');
  });

  it('makes transparent_color transparent', async () => {
    const r = await getmap('keyed', 'EPSG:4326', [0, 40, 20, 60], 200, 200, { TRANSPARENT: 'true' });
    assert.equal(getPixel(r, 10, 10)[3], 0, 'background keyed out');
    assert.ok(near(getPixel(r, 90, 90), RED), 'red stays');
  });

  it('keeps query parameters of the source URL and honours concurrent_requests', async () => {
    up.requests.length = 0;
    up.delayMs = 200;
    const started = Date.now();
    try {
      await Promise.all([0, 1, 2].map((i) => getmap('limited', 'EPSG:4326', [i, 40, i + 10, 50], 100, 100)));
    } finally {
      up.delayMs = 0;
    }
    assert.equal(up.requests.length, 3);
    assert.ok(Date.now() - started >= 580, 'one request at a time');
    assert.equal(up.requests[0].params.map, '/x.map');
  });

  it('fills tiles the source cannot deliver from coarser levels (upscale_tiles) and stores them (cache_rescaled_tiles)', async () => {
    up.requests.length = 0;
    // level 6 tile over the red box (9E 51N): x 33, y 21
    const t = await tile('upscaled', 6, 33, 21);
    assert.equal(t.status, 200);
    const r = await decodeImage(t.body);
    let red = 0;
    for (let y = 0; y < 256; y += 4) for (let x = 0; x < 256; x += 4) if (near(getPixel(r, x, y), RED, 40)) red++;
    assert.ok(red > 50, `the upscaled tile shows the red box (${red})`);
    assert.equal(up.requests.length, 1, 'one upstream request, for the level 5 tile');
    assert.equal(up.requests[0].params.width, '256');
    const stored = path.join(mp.dir, 'cache_data', 'up_cache_EPSG3857', '06', '000', '000', '033', '000', '000', '021.png');
    assert.ok(fs.existsSync(stored), 'the rescaled tile is stored');
    // level 8 is more than 2 levels below the source: nothing there
    const deep = await tile('upscaled', 8, 10, 100);
    assert.equal(deep.status, 200);
    assert.equal(getPixel(await decodeImage(deep.body), 100, 100)[3], 0, 'transparent empty tile');
  });
});
