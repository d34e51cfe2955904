import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { decodeImage } from '../../../src/image/codec.ts';
import { layerExtent } from '../../../src/layer/wms-layer.ts';
import { getSrs } from '../../../src/srs/srs.ts';
import { fillTileUrl, VIEWER_CONFIG_ID, type TileViewerConfig, type ViewerConfig } from '../../../src/service/demo/viewer-config.ts';
import { DemoService } from '../../../src/service/demo/demo-service.ts';
import { startDemoServer, XSS_TITLE_1, XSS_TITLE_2, XSS_WMS_TITLE, type DemoServer } from './demo-server.ts';

/** href values of a page, entities decoded. */
function hrefs(html: string): string[] {
  return [...html.matchAll(/\bhref="([^"]*)"/g)].map((m) => m[1].replace(/&amp;/g, '&'));
}

/** The viewer config block of a page. */
function configOf(html: string): ViewerConfig {
  const m = new RegExp(`<script type="application/json" id="${VIEWER_CONFIG_ID}">([^<]*)</script>`).exec(html);
  assert.ok(m, 'viewer page has a config block');
  return JSON.parse(m[1]) as ViewerConfig;
}

/** Status line of a raw HTTP request: the path goes out exactly as written (fetch would normalise it). */
function rawStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
    let data = '';
    sock.setTimeout(5000, () => sock.destroy(new Error('timeout')));
    sock.on('data', (d) => (data += d.toString('latin1')));
    sock.on('end', () => resolve(Number(/^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1] ?? 0)));
    sock.on('error', reject);
  });
}

/** bbox of OpenLayers tile [z, x, y] of a viewer grid (rows count downwards from the origin). */
function olTileBbox(cfg: TileViewerConfig, z: number, x: number, y: number): [number, number, number, number] {
  const res = cfg.grid.resolutions[z];
  const [tw, th] = [res * cfg.grid.tileSize[0], res * cfg.grid.tileSize[1]];
  const [minx, miny, , maxy] = cfg.grid.extent;
  const top = (cfg.grid.origin === 'sw' ? miny : maxy) - y * th;
  return [minx + x * tw, top - th, minx + (x + 1) * tw, top];
}

function intersect(a: readonly number[], b: readonly number[]): [number, number, number, number] {
  return [Math.max(a[0], b[0]), Math.max(a[1], b[1]), Math.min(a[2], b[2]), Math.min(a[3], b[3])];
}

/** OpenLayers tile [x, y] of level z that contains point p. */
function olTileAt(cfg: TileViewerConfig, z: number, p: number[]): [number, number] {
  const res = cfg.grid.resolutions[z];
  const [minx, miny, , maxy] = cfg.grid.extent;
  const oy = cfg.grid.origin === 'sw' ? miny : maxy;
  return [Math.floor((p[0] - minx) / (res * cfg.grid.tileSize[0])), Math.floor((oy - p[1]) / (res * cfg.grid.tileSize[1]))];
}

describe('demo service over HTTP', () => {
  let s: DemoServer;
  let index: string;
  const demoUrl = () => `${s.url}/demo/`;
  const get = (rel: string, init?: RequestInit) => fetch(new URL(rel, demoUrl()), init);
  /** Where the WMS draws a layer, in `code` (the extent of its cache's first grid). */
  const wmsExtent = (layer: string, code: string) => {
    const ext = layerExtent(s.proxy.services.wms!.layers.get(layer)!)!;
    return ext.srs.transformBbox(ext.bbox, getSrs(code));
  };

  before(async () => {
    s = await startDemoServer();
    const r = await get('./');
    assert.equal(r.status, 200);
    index = await r.text();
  });
  after(async () => {
    await s?.stop();
  });

  it('lists every WMS layer and every tile layer per service', () => {
    const links = hrefs(index);
    for (const name of ['osm', 'utm']) assert.match(index, new RegExp(`name="wms_layer" value="${name}"`));
    const viewers = (param: string) => links.filter((h) => h.includes(`${param}=`)).map((h) => new URL(h, demoUrl()).searchParams);
    const grids = (param: string, extra?: [string, string]) =>
      viewers(param)
        .filter((q) => !extra || q.get(extra[0]) === extra[1])
        .map((q) => `${q.get(param)}/${q.get('grid')}`)
        .sort();
    assert.deepEqual(grids('tms_layer'), ['osm/GLOBAL_GEODETIC', 'osm/webmercator', 'utm/utm32']);
    assert.deepEqual(grids('tiles_layer'), ['osm/GLOBAL_GEODETIC', 'osm/webmercator', 'utm/utm32']);
    // GLOBAL_GEODETIC has a sw origin with a half-empty top row: MapProxy's WMTS skips it
    assert.deepEqual(grids('wmts_layer', ['encoding', 'rest']), ['osm/webmercator', 'utm/utm32']);
    assert.deepEqual(grids('wmts_layer', ['encoding', 'kvp']), ['osm/webmercator', 'utm/utm32']);
    assert.match(index, /not compatible with WMTS RESTful/);
  });

  it('links every capabilities document, and each link answers', async () => {
    const links = hrefs(index);
    for (const want of [
      '../service?REQUEST=GetCapabilities&SERVICE=WMS',
      '../service?REQUEST=GetCapabilities&SERVICE=WMTS',
      '../wmts/1.0.0/WMTSCapabilities.xml',
      '../tms/1.0.0/',
      '../tms/1.0.0/utm/utm32',
      './?wms_capabilities',
      './?wmts_capabilities_kvp',
      './?wmts_capabilities',
      './?tms_capabilities',
      './?tms_capabilities&layer=osm&srs=webmercator',
    ]) {
      assert.ok(links.includes(want), `index links ${want}`);
    }
    for (const href of links) {
      const r = await get(href);
      assert.equal(r.status, 200, `${href} answers 200`);
      await r.arrayBuffer();
    }
  });

  it('shows capabilities documents pretty-printed and escaped', async () => {
    const r = await get('./?wms_capabilities');
    assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
    const html = await r.text();
    assert.match(html, /<pre class="xml">/);
    assert.match(html, /\n {4}<span class="xt">&lt;Title<\/span><span class="xt">&gt;<\/span>/, 'Service/Title indented two levels');
    assert.ok(html.includes(`${s.url}/service?REQUEST=GetCapabilities&amp;SERVICE=WMS`), 'links the raw document');
    const tms = await (await get('./?tms_capabilities&layer=utm&srs=utm32')).text();
    assert.match(tms, /TileMap/);
    assert.match(tms, /EPSG:25832/);
    const wmts = await get('./?wmts_capabilities');
    assert.equal(wmts.status, 200);
    assert.match(await wmts.text(), /TileMatrixSet/);
  });

  it('asks the proxy app itself for capabilities when given no fetch', async () => {
    const demo = new DemoService({ proxy: s.proxy });
    const r = await demo.handle(new Request(`${s.url}/demo/?tms_capabilities`), '/demo/', new URLSearchParams('tms_capabilities'));
    assert.equal(r.status, 200);
    const html = await r.text();
    assert.match(html, /TileMapService/);
    assert.doesNotMatch(html, /class="error"/);
  });

  it('names the external URL with X-Script-Name and redirects /demo relative to it', async () => {
    const html = await (await get('./?tms_capabilities', { headers: { 'X-Script-Name': '/mapproxy' } })).text();
    assert.ok(html.includes(`${s.url}/mapproxy/tms/1.0.0/`));
    const r = await fetch(`${s.url}/demo?tms_capabilities`, { redirect: 'manual' });
    assert.equal(r.status, 301);
    assert.equal(r.headers.get('location'), 'demo/?tms_capabilities=');
  });

  it('answers every viewer page with the layer grid, and its tile URLs address the tiles the grid means', async () => {
    const viewerLinks = hrefs(index).filter((h) => /[?&](tms|tiles|wmts)_layer=/.test(h));
    assert.equal(viewerLinks.length, 10);
    for (const href of viewerLinks) {
      const r = await get(href);
      assert.equal(r.status, 200, href);
      const cfg = configOf(await r.text());
      assert.equal(cfg.type, 'tile');
      if (cfg.type !== 'tile') continue;
      const q = new URL(href, demoUrl()).searchParams;
      const layer = q.get('tms_layer') ?? q.get('tiles_layer') ?? q.get('wmts_layer')!;
      const z = Math.min(1, cfg.levels.length - 1);
      const rows = cfg.levels[z].rows;
      const firstRow = cfg.grid.origin === 'sw' ? -1 : 0;
      const lastRow = cfg.grid.origin === 'sw' ? -rows : rows - 1;
      assert.equal(fillTileUrl(cfg, z, 0, cfg.grid.origin === 'sw' ? 0 : rows), undefined, 'no URL beyond the grid');
      for (const [x, y] of [[0, firstRow], [0, lastRow]]) {
        const url = fillTileUrl(cfg, z, x, y);
        assert.ok(url, `${href}: tile ${z}/${x}/${y} has a URL`);
        const tile = await get(url);
        assert.equal(tile.status, 200, `${url} (from ${href})`);
        assert.equal(tile.headers.get('content-type'), 'image/png');
        await tile.arrayBuffer();
      }
      // The tile under two points (one off-centre, so a flipped row shows) at the first level where
      // it lies inside the layer; the same bbox by WMS must look the same: the debug source writes
      // the bbox into the image, so equal pixels mean the same tile.
      const inner = intersect(cfg.grid.extent, wmsExtent(layer, cfg.projection.code));
      for (const [fx, fy] of [[0.5, 0.5], [0.3, 0.8]]) {
        const p = [inner[0] + fx * (inner[2] - inner[0]), inner[1] + fy * (inner[3] - inner[1])];
        let done = false;
        for (let level = 1; level < cfg.levels.length && !done; level++) {
          const [x, y] = olTileAt(cfg, level, p);
          const bbox = olTileBbox(cfg, level, x, y);
          if (bbox[0] < inner[0] || bbox[1] < inner[1] || bbox[2] > inner[2] || bbox[3] > inner[3]) continue;
          done = true;
          const url: string = fillTileUrl(cfg, level, x, y)!;
          const tile = await get(url);
          assert.equal(tile.status, 200, `${url} (from ${href})`);
          const map: Response = await fetch(
            `${s.url}/service?SERVICE=WMS&REQUEST=GetMap&VERSION=1.1.1&LAYERS=${layer}&STYLES=&SRS=${encodeURIComponent(cfg.projection.code)}&BBOX=${bbox.join(',')}&WIDTH=${cfg.grid.tileSize[0]}&HEIGHT=${cfg.grid.tileSize[1]}&FORMAT=image%2Fpng`,
          );
          assert.equal(map.status, 200);
          const a = await decodeImage(new Uint8Array(await tile.arrayBuffer()));
          const b = await decodeImage(new Uint8Array(await map.arrayBuffer()));
          let diff = 0;
          for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) diff++;
          assert.equal(diff, 0, `${url} (from ${href}) shows the tile at ${bbox.join(',')}`);
        }
        assert.ok(done, `${href}: a tile inside the layer`);
      }
    }
  });

  it('answers WMS viewer pages in every offered SRS, projected ones with their proj4 definition', async () => {
    for (const layer of ['osm', 'utm']) {
      for (const srs of ['EPSG:3857', 'EPSG:900913', 'EPSG:4326', 'EPSG:25832', 'EPSG:31467']) {
        const href = `./?wms_layer=${layer}&format=image%2Fpng&srs=${encodeURIComponent(srs)}`;
        const r = await get(href);
        assert.equal(r.status, 200, href);
        const cfg = configOf(await r.text());
        assert.equal(cfg.type, 'wms');
        if (cfg.type !== 'wms') continue;
        assert.equal(cfg.projection.code, srs);
        assert.equal(cfg.params.LAYERS, layer);
        assert.ok(cfg.initialExtent.every(Number.isFinite) && cfg.initialExtent[0] < cfg.initialExtent[2]);
        const map = await fetch(`${s.url}/service?SERVICE=WMS&REQUEST=GetMap&${new URLSearchParams(cfg.params)}&SRS=${encodeURIComponent(srs)}&BBOX=${cfg.initialExtent.join(',')}&WIDTH=200&HEIGHT=150`);
        assert.equal(map.status, 200);
        assert.equal(map.headers.get('content-type'), 'image/png', `${href}: GetMap with the viewer's parameters`);
      }
    }
    const utm = configOf(await (await get('./?wms_layer=utm&format=image%2Fpng&srs=EPSG%3A25832')).text());
    assert.match(utm.projection.def, /\+proj=utm \+zone=32/);
    assert.deepEqual(utm.initialExtent, [280000, 5200000, 920000, 6100000], 'a layer without coverage starts at its grid');
    // the browser has no BeTA2007 grid: the viewer gets the Helmert fallback instead
    const gk = configOf(await (await get('./?wms_layer=utm&format=image%2Fpng&srs=EPSG%3A31467')).text());
    assert.doesNotMatch(gk.projection.def, /nadgrids/);
    assert.match(gk.projection.def, /\+towgs84=/);
    assert.equal(gk.projection.axisNE, true);
  });

  it('answers unknown layers and bad parameters with escaped error pages', async () => {
    for (const [href, status] of [
      ['./?wms_layer=nope&format=image%2Fpng&srs=EPSG%3A4326', 404],
      ['./?tms_layer=%3Cb%3Ex', 404],
      ['./?wmts_layer=osm&grid=GLOBAL_NOPE', 404],
      ['./?wms_layer=osm&format=image%2Fpng&srs=EPSG%3A2056', 400],
      ['./?wms_layer=osm&format=text%2Fhtml&srs=EPSG%3A4326', 400],
      ['./?tms_capabilities&layer=..&srs=..', 404],
    ] as const) {
      const r = await get(href);
      assert.equal(r.status, status, href);
      const html = await r.text();
      assert.doesNotMatch(html, /<b>x/);
    }
  });

  it('serves the static files from memory, with ETag and gzip', async () => {
    const js = await get('static/viewer.js');
    assert.equal(js.status, 200);
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    const body = await js.text();
    assert.ok(body.length > 100_000, 'OpenLayers is bundled');
    assert.match(body, /BSD 2-Clause License/, 'with its license');
    const css = await get('static/demo.css');
    assert.equal(css.status, 200);
    assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
    assert.match(await css.text(), /\.ol-viewport/);
    const etag = js.headers.get('etag')!;
    const again = await get('static/viewer.js', { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304);
    const gz = await get('static/viewer.js', { headers: { 'Accept-Encoding': 'gzip' }, decompress: false } as RequestInit);
    assert.equal(gz.headers.get('content-encoding'), 'gzip');
    const raw = new Uint8Array(await gz.arrayBuffer());
    assert.ok(raw.length < body.length / 2, 'gzipped');
  });

  it('answers 404 for every other path, traversal attempts included', async () => {
    for (const p of ['/demo/static/', '/demo/static/nope.js', '/demo/static/viewer.js/x', '/demo/static/VIEWER.JS', '/demo/nope', '/demo/static/demo-service.ts']) {
      assert.equal((await fetch(`${s.url}${p}`)).status, 404, p);
    }
    for (const p of [
      '/demo/static/../demo-service.ts',
      '/demo/static/%2e%2e/demo-service.ts',
      '/demo/static/%2E%2E%2Fdemo-service.ts',
      '/demo/static/..%2f..%2f..%2fpackage.json',
      '/demo/static/viewer.js%00',
      '/demo/static/%00',
      '/demo/static/....//viewer.js',
    ]) {
      assert.equal(await rawStatus(Number(new URL(s.url).port), p), 404, p);
    }
    // the same paths handed over unnormalised, as another router might pass them
    const demo = new DemoService({ proxy: s.proxy });
    for (const p of ['/demo/static/../static/viewer.js', '/demo/static/%2e%2e/viewer.js', '/demo/static/viewer.js\0', '/demo/static/./viewer.js', '/demo/static//viewer.js']) {
      const r = await demo.handle(new Request(`${s.url}/demo/`), p, new URLSearchParams());
      assert.equal(r.status, 404, JSON.stringify(p));
    }
  });

  it('escapes every config value: titles never become markup, inline data never closes its script', async () => {
    const pages = [
      index,
      ...(await Promise.all(
        [
          './?wms_layer=osm&format=image%2Fpng&srs=EPSG%3A3857',
          './?wms_layer=utm&format=image%2Fpng&srs=EPSG%3A25832',
          './?tms_layer=osm&grid=webmercator',
          './?wmts_layer=utm&grid=utm32',
          './?wms_capabilities',
          './?wmts_capabilities',
          './?tms_capabilities',
        ].map(async (h) => (await get(h)).text()),
      )),
    ];
    for (const html of pages) {
      for (const bad of [XSS_TITLE_1, XSS_TITLE_2, XSS_WMS_TITLE, '<img', 'onerror=alert(2)>']) assert.ok(!html.includes(bad), `page contains ${bad}`);
      // the only scripts: the viewer file and JSON data
      for (const tag of html.match(/<script[^>]*>/g) ?? []) assert.match(tag, /^<script (src="static\/viewer\.js" defer|type="application\/json" id="[\w-]+")>$/);
    }
    assert.ok(index.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.ok(index.includes('&quot;&#39;&gt;&lt;img src=x onerror=alert(2)&gt;'));
    const r = await get('./');
    assert.match(r.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  });
});
