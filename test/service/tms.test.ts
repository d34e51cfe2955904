import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';
import { startProxy, type TestProxy } from '../helpers/proxy-server.ts';
import { sniffImageFormat } from '../../src/image/codec.ts';

function config(upstream: string, extra = ''): string {
  return `
services:
  tms:
globals:
  http:
    client_timeout: 1
layers:
  - name: osm
    title: OSM
    sources: [osm_cache]
  - name: red
    title: Red on error
    sources: [err_cache]
caches:
  osm_cache:
    grids: [GLOBAL_MERCATOR]
    sources: [osm_tiles]
  err_cache:
    grids: [GLOBAL_MERCATOR]
    sources: [err_tiles]
sources:
  osm_tiles:
    type: tile
    url: ${upstream}/tiles/%(tms_path)s.%(format)s
  err_tiles:
    type: tile
    url: ${upstream}/err/%(z)s/%(x)s/%(y)s.png
    on_error:
      500:
        response: '#ff0000'
        cache: false
${extra}`;
}

describe('TMS and /tiles over HTTP', () => {
  let up: Upstream;
  let mp: TestProxy;
  before(async () => {
    up = await startUpstream();
    mp = await startProxy(config(up.url));
  });
  after(async () => {
    await mp.stop();
    await up.stop();
  });

  const cacheFile = (rel: string) => path.join(mp.dir, 'cache_data', 'osm_cache_EPSG900913', rel);

  it('fetches a missing tile once, stores it at the MapProxy path and serves hits from disk', async () => {
    up.mode = 'png';
    up.requests.length = 0;
    // TMS z=1 is internal level 2 (global-mercator profile skips level 0)
    const r1 = await fetch(`${mp.url}/tms/1.0.0/osm/EPSG900913/1/2/3.png`);
    assert.equal(r1.status, 200);
    assert.equal(r1.headers.get('content-type'), 'image/png');
    const b1 = new Uint8Array(await r1.arrayBuffer());
    assert.equal(sniffImageFormat(b1), 'png');
    assert.deepEqual(up.requests, ['/tiles/2/2/3.png']);
    assert.ok(fs.existsSync(cacheFile('02/000/000/002/000/000/003.png')));
    const r2 = await fetch(`${mp.url}/tms/1.0.0/osm/EPSG900913/1/2/3.png`);
    assert.deepEqual(new Uint8Array(await r2.arrayBuffer()), b1);
    assert.equal(up.requests.length, 1, 'a hit must not go upstream');
    assert.equal(r2.headers.get('cache-control'), 'public, max-age=259200, s-maxage=259200');
    assert.equal(r2.headers.get('access-control-allow-origin'), '*');
    assert.match(r2.headers.get('etag') ?? '', /^[0-9a-f]{32}$/);
    assert.ok(r2.headers.get('last-modified'));
  });

  it('answers 304 for If-None-Match and If-Modified-Since', async () => {
    const r = await fetch(`${mp.url}/tms/1.0.0/osm/EPSG900913/1/2/3.png`);
    await r.arrayBuffer();
    const etag = r.headers.get('etag')!;
    const r304 = await fetch(`${mp.url}/tms/1.0.0/osm/EPSG900913/1/2/3.png`, { headers: { 'If-None-Match': etag } });
    assert.equal(r304.status, 304);
    const rIms = await fetch(`${mp.url}/tms/1.0.0/osm/EPSG900913/1/2/3.png`, { headers: { 'If-Modified-Since': r.headers.get('last-modified')! } });
    assert.equal(rIms.status, 304);
    const rOld = await fetch(`${mp.url}/tms/1.0.0/osm/EPSG900913/1/2/3.png`, { headers: { 'If-Modified-Since': 'Thu, 01 Jan 2015 00:00:00 GMT' } });
    assert.equal(rOld.status, 200);
    await rOld.arrayBuffer();
  });

  it('serves /tiles without the level shift and flips rows for origin=nw', async () => {
    up.requests.length = 0;
    const r = await fetch(`${mp.url}/tiles/osm/EPSG900913/1/0/0.png?origin=nw`);
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    // nw row 0 at level 1 is sw row 1
    assert.deepEqual(up.requests, ['/tiles/1/0/1.png']);
    const r2 = await fetch(`${mp.url}/tiles/osm_EPSG900913/1/0/1.png`);
    assert.equal(r2.status, 200);
    await r2.arrayBuffer();
    assert.equal(up.requests.length, 1, 'same internal tile, served from the cache');
  });

  it('serves a tile that an existing MapProxy cache already holds without asking upstream', async () => {
    up.requests.length = 0;
    const file = cacheFile('03/000/000/005/000/000/006.png');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const bytes = new Uint8Array(fs.readFileSync(cacheFile('02/000/000/002/000/000/003.png')));
    fs.writeFileSync(file, bytes);
    const r = await fetch(`${mp.url}/tiles/osm/EPSG900913/3/5/6.png`);
    assert.deepEqual(new Uint8Array(await r.arrayBuffer()), bytes);
    assert.equal(up.requests.length, 0);
  });

  it('coalesces concurrent requests for one missing tile into one upstream request', async () => {
    up.requests.length = 0;
    const rs = await Promise.all(Array.from({ length: 10 }, () => fetch(`${mp.url}/tiles/osm/EPSG900913/4/7/7.png`)));
    for (const r of rs) {
      assert.equal(r.status, 200);
      await r.arrayBuffer();
    }
    assert.deepEqual(up.requests, ['/tiles/4/7/7.png']);
  });

  it('lists layers in the TMS capabilities and tile sets in the TileMap', async () => {
    const root = await (await fetch(`${mp.url}/tms`)).text();
    assert.match(root, /<TileMapService title="" version="1.0.0" href="http:\/\/127\.0\.0\.1:\d+\/tms\/1\.0\.0\/"/);
    const caps = await (await fetch(`${mp.url}/tms/1.0.0/`)).text();
    assert.match(caps, /<TileMap title="OSM" srs="OSGEO:41001" profile="global-mercator" href="http:\/\/127\.0\.0\.1:\d+\/tms\/1\.0\.0\/osm\/EPSG900913" \/>/);
    const tm = await (await fetch(`${mp.url}/tms/1.0.0/osm/EPSG900913`)).text();
    assert.match(tm, /<BoundingBox minx="-20037508.342789244" miny="-20037508.342789244" maxx="20037508.342789244" maxy="20037508.342789244" \/>/);
    assert.match(tm, /<TileSet href="[^"]+\/osm\/EPSG900913\/0" units-per-pixel="78271.51696402048" order="0" \/>/);
    assert.equal((tm.match(/<TileSet /g) ?? []).length, 19);
  });

  describe('bad input', () => {
    const cases: [string, number, RegExp][] = [
      ['/tms/1.0.0/osm/EPSG900913/1/9/0.png', 404, /outside the bounding box/],
      ['/tms/1.0.0/osm/EPSG900913/25/0/0.png', 404, /outside the bounding box/],
      ['/tms/1.0.0/osm/EPSG900913/-1/0/0.png', 404, /outside the bounding box/],
      ['/tms/1.0.0/osm/EPSG900913/1/-1/0.png', 404, /outside the bounding box/],
      ['/tms/1.0.0/osm/EPSG900913/a/0/0.png', 404, /invalid request/],
      ['/tms/1.0.0/nope/EPSG900913/1/0/0.png', 404, /unknown layer: nope/],
      ['/tms/1.0.0/osm/EPSG4326/1/0/0.png', 404, /unknown layer: osm/],
      ['/tms/1.0.0/osm/EPSG900913/1/0/0.jpeg', 404, /invalid format \(jpeg\)/],
      ['/tms/1.0.0/osm/EPSG900913/1/0/0.png/../../../etc/passwd', 404, /./],
      ['/tms/1.0.0/osm/%2e%2e/%2e%2e/1/0/0.png', 404, /invalid request|unknown layer/],
      ['/tms/1.0.0/%2e%2e%2f%2e%2e/EPSG900913/1/0/0.png', 404, /unknown layer/],
      ['/tms/1.0.0/osm/EPSG900913/99999999999999999999/0/0.png', 404, /./],
    ];
    for (const [p, status, msg] of cases) {
      it(`${p} -> ${status}`, async () => {
        const r = await fetch(mp.url + p);
        assert.equal(r.status, status);
        const body = await r.text();
        assert.match(body, msg);
        assert.doesNotMatch(body, /root:|at .*\.ts:\d+/);
      });
    }
    it('TMS errors are TileMapServerError XML, /tiles errors plain text', async () => {
      const x = await fetch(`${mp.url}/tms/1.0.0/nope/EPSG900913/1/0/0.png`);
      assert.equal(x.headers.get('content-type'), 'text/xml; charset=utf-8');
      assert.match(await x.text(), /<TileMapServerError>\s*<Message>unknown layer: nope<\/Message>/);
      const t = await fetch(`${mp.url}/tiles/nope/EPSG900913/1/0/0.png`);
      assert.equal(t.status, 404);
      assert.equal(await t.text(), 'unknown layer: nope');
    });
    it('unknown top-level paths are 404', async () => {
      const r = await fetch(`${mp.url}/nothing/here`);
      assert.equal(r.status, 404);
      await r.text();
    });
  });

  describe('upstream failures', () => {
    const errTile = (rel: string) => path.join(mp.dir, 'cache_data', 'osm_cache_EPSG900913', rel);
    for (const mode of ['error500', 'html', 'hang', 'notfound'] as const) {
      it(`${mode}: error response, nothing stored`, async () => {
        up.mode = mode;
        const r = await fetch(`${mp.url}/tiles/osm/EPSG900913/5/1/1.png`);
        assert.equal(r.status, 502);
        const body = await r.text();
        assert.doesNotMatch(body, /127\.0\.0\.1/, 'upstream URL hidden by default');
        assert.equal(r.headers.get('cache-control'), 'no-cache, no-store');
        assert.equal(fs.existsSync(errTile('05/000/000/001/000/000/001.png')), false);
        up.mode = 'png';
      });
    }
    it('on_error answers the substitute colour, uncached', async () => {
      up.mode = 'error500';
      const r = await fetch(`${mp.url}/tiles/red/EPSG900913/2/1/1.png`);
      up.mode = 'png';
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('cache-control'), 'no-cache, no-store');
      assert.equal(sniffImageFormat(new Uint8Array(await r.arrayBuffer())), 'png');
      assert.equal(fs.existsSync(path.join(mp.dir, 'cache_data', 'err_cache_EPSG900913', '02')), false);
    });
  });
});
