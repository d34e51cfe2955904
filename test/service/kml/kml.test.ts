import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfigString } from '../../../src/config/loader.ts';
import { buildProxy, type Proxy } from '../../../src/core/build-proxy.ts';
import type { TileCoord } from '../../../src/grid/tile-grid.ts';
import { sniffImageFormat } from '../../../src/image/codec.ts';
import { TileLayerIndex, type TileLayer } from '../../../src/layer/tile-layer.ts';
import { serveHttp, type RunningServer } from '../../../src/runtime/serve.ts';
import { KML_MIME, KmlService } from '../../../src/service/kml/kml-service.ts';
import { getSrs } from '../../../src/srs/srs.ts';
import type { Bbox } from '../../../src/srs/types.ts';
import { startUpstream, type Upstream } from '../../helpers/upstream.ts';
import { SCHEMAS, xmllint } from '../../helpers/xmllint.ts';

const KML_XSD = SCHEMAS.kml22;

// Small pyramids (3 levels; 5 sqrt2 levels = 3 KML levels) so whole super-overlays can be crawled.
// utm: nw origin, sqrt2 factor and a bbox whose height is not a whole number of tiles;
// odd: the same with levels that do not nest (factors 1.5, 2, 1.5).
function config(dir: string, upstream: string): string {
  return `
services:
  tms:
globals:
  cache:
    base_dir: ${dir}/cache_data
  http:
    client_timeout: 1
layers:
  - name: osm
    title: OSM
    sources: [dbg_cache]
  - name: o&m
    title: JPEG
    sources: [jpeg_cache]
  - name: odd
    title: Levels that do not nest
    sources: [odd_cache]
  - name: broken
    title: Broken
    sources: [broken_cache]
  - name: red
    title: Red on error
    sources: [red_cache]
caches:
  dbg_cache:
    grids: [merc, geo, webmerc, utm]
    sources: [dbg]
  jpeg_cache:
    grids: [geo]
    format: image/jpeg
    sources: [dbg]
  odd_cache:
    grids: [odd]
    sources: [dbg]
  broken_cache:
    grids: [merc]
    sources: [broken_tiles]
  red_cache:
    grids: [merc]
    sources: [red_tiles]
sources:
  dbg:
    type: debug
  broken_tiles:
    type: tile
    url: ${upstream}/err/%(z)s/%(x)s/%(y)s.png
  red_tiles:
    type: tile
    url: ${upstream}/err/%(z)s/%(x)s/%(y)s.png
    on_error:
      500:
        response: '#ff0000'
        cache: false
grids:
  merc:
    base: GLOBAL_MERCATOR
    num_levels: 3
  geo:
    base: GLOBAL_GEODETIC
    num_levels: 3
  webmerc:
    base: GLOBAL_WEBMERCATOR
    num_levels: 3
  utm:
    srs: 'EPSG:25832'
    bbox: [280000, 5200000, 1180000, 5840000]
    origin: nw
    res_factor: sqrt2
    num_levels: 5
  odd:
    srs: 'EPSG:25832'
    bbox: [280000, 5200000, 1180000, 5840000]
    origin: nw
    res: [3515.625, 2343.75, 1171.875, 781.25]
`;
}

/** A box as [west, south, east, north] from the first <tag> element of the text. */
function boxOf(text: string, tag: string): Bbox {
  const m = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(text);
  assert.ok(m, `no ${tag} in ${text}`);
  const v = (k: string) => Number(new RegExp(`<${k}>([^<]*)</${k}>`).exec(m[1])![1]);
  return [v('west'), v('south'), v('east'), v('north')];
}

const text = (block: string, tag: string) => new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(block)?.[1];

interface Feature {
  name: string;
  region: Bbox;
  lod: [number, number];
  href: string;
  block: string;
}

interface KmlDoc {
  name: string;
  region: Bbox;
  links: Feature[];
  overlays: (Feature & { drawOrder: number; latLonBox: Bbox })[];
}

/** The parts of a super-overlay document the tests look at (its layout is fixed, so regexes do). */
function parseDoc(xml: string): KmlDoc {
  const head = xml.split(/<NetworkLink>|<GroundOverlay>/)[0];
  const feature = (block: string): Feature => ({
    name: text(block, 'name')!,
    region: boxOf(block, 'LatLonAltBox'),
    lod: [Number(text(block, 'minLodPixels')), Number(text(block, 'maxLodPixels'))],
    href: text(block, 'href')!,
    block,
  });
  return {
    name: text(head, 'name')!,
    region: boxOf(head, 'LatLonAltBox'),
    links: [...xml.matchAll(/<NetworkLink>([\s\S]*?)<\/NetworkLink>/g)].map((m) => feature(m[1])),
    overlays: [...xml.matchAll(/<GroundOverlay>([\s\S]*?)<\/GroundOverlay>/g)].map((m) => ({
      ...feature(m[1]),
      drawOrder: Number(text(m[1], 'drawOrder')),
      latLonBox: boxOf(m[1], 'LatLonBox'),
    })),
  };
}

function assertValidKml(xml: string): void {
  const r = xmllint(xml, ['--schema', KML_XSD]);
  assert.equal(r.status, 0, r.stderr);
}

/** GET with a raw, unnormalised request target (fetch would resolve dot segments first). */
function rawGet(port: number, target: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', reject);
    sock.on('end', () => {
      const res = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(res)?.[1]);
      resolve({ status, body: res.slice(res.indexOf('\r\n\r\n') + 4) });
    });
    sock.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
  });
}

describe('KML super-overlay service', () => {
  let dir: string;
  let up: Upstream;
  let proxy: Proxy;
  let kml: KmlService;
  let server: RunningServer;
  let gridNamesServer: RunningServer;
  let url: string;
  let gridNamesUrl: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapproxy-kml-'));
    up = await startUpstream();
    up.mode = 'error500';
    proxy = buildProxy(loadConfigString(config(dir, up.url), path.join(dir, 'mapproxy.yaml')));
    kml = new KmlService({ index: new TileLayerIndex(proxy.tileLayers, false), maxTileAge: 3600, corsOrigin: '' });
    server = await serveHttp({ hostname: '127.0.0.1', port: 0, fetch: (req) => kml.handle(req, new URL(req.url).pathname) });
    url = `http://127.0.0.1:${server.port}`;
    const byGrid = new KmlService({ index: new TileLayerIndex(proxy.tileLayers, true), maxTileAge: 3600, corsOrigin: '' });
    gridNamesServer = await serveHttp({ hostname: '127.0.0.1', port: 0, fetch: (req) => byGrid.handle(req, new URL(req.url).pathname) });
    gridNamesUrl = `http://127.0.0.1:${gridNamesServer.port}`;
  });

  after(async () => {
    await server.stop();
    await gridNamesServer.stop();
    await up.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const layerOf = (name: string, grid: string): TileLayer => proxy.tileLayers.find((l) => l.name === name && l.gridName === grid)!;

  async function getKml(href: string): Promise<string> {
    const r = await fetch(href);
    const body = await r.text();
    assert.equal(r.status, 200, `${href}: ${body}`);
    assert.equal(r.headers.get('content-type'), KML_MIME);
    return body;
  }

  /**
   * Crawls a super-overlay from its initial document and checks every document,
   * link, region and image on the way; returns the overlay coords by level.
   */
  async function crawl(start: string, layer: TileLayer, sqrt2: boolean): Promise<Map<number, Set<string>>> {
    const grid = layer.grid;
    const wgs = getSrs('EPSG:4326');
    const seen = new Map<number, Set<string>>();
    const queue = [start];
    while (queue.length) {
      const docUrl = queue.shift()!;
      const xml = await getKml(docUrl);
      assertValidKml(xml);
      const doc = parseDoc(xml);
      assert.equal(doc.links.length, doc.overlays.length);
      for (const [i, o] of doc.overlays.entries()) {
        const m = /\/(\d+)\/(\d+)\/(\d+)\.png$/.exec(o.href);
        assert.ok(m, o.href);
        const [z, x, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
        // the network link of the same tile comes in the same position
        const link = doc.links[i];
        assert.equal(link.href, o.href.replace(/\.png$/, '.kml'));
        assert.equal(link.name, `${doc.name} - (${x}, ${y}, ${z})`);
        assert.equal(o.name, `(${x}, ${y}, ${z})`);
        assert.deepEqual(link.region, o.region);
        assert.deepEqual(o.latLonBox, o.region);
        assert.deepEqual(link.lod, [128, -1]);
        assert.deepEqual(o.lod, [128, 768]);
        assert.equal(o.drawOrder, z);
        const level = seen.get(z) ?? new Set<string>();
        seen.set(z, level);
        assert.ok(!level.has(`${x},${y}`), `tile ${z}/${x}/${y} listed twice`);
        level.add(`${x},${y}`);

        // KML coords count rows from the south and halve sqrt2 levels
        const iz = sqrt2 ? z * 2 : z;
        const internal: TileCoord = [x, grid.origin === 'nw' ? grid.gridSizes[iz][1] - 1 - y : y, iz];
        assert.ok(grid.isValidTile(internal), `${o.href} is no tile of the grid`);
        // every corner of the tile lies in the region (6 decimals as printed)
        const b = grid.tileBbox(internal);
        for (const p of [[b[0], b[1]], [b[2], b[1]], [b[2], b[3]], [b[0], b[3]]] as [number, number][]) {
          const [lon, lat] = grid.srs.transformPoint(p, wgs);
          const r = o.region;
          assert.ok(lon >= r[0] - 1e-6 && lon <= r[2] + 1e-6 && lat >= r[1] - 1e-6 && lat <= r[3] + 1e-6, `${o.href}: ${lon},${lat} outside ${r}`);
        }

        const img = await fetch(o.href);
        const bytes = new Uint8Array(await img.arrayBuffer());
        assert.equal(img.status, 200, o.href);
        assert.equal(img.headers.get('content-type'), 'image/png');
        assert.deepEqual(bytes, layer.tileManager.loadCached(internal)?.bytes, `${o.href} differs from the cached tile`);
        queue.push(link.href);
      }
    }
    return seen;
  }

  /** All tiles of KML levels 1.. of the grid, as the crawl should find them. */
  function allTiles(layer: TileLayer, sqrt2: boolean): Map<number, Set<string>> {
    const out = new Map<number, Set<string>>();
    const step = sqrt2 ? 2 : 1;
    for (let iz = step; iz < layer.grid.levels; iz += step) {
      const [cols, rows] = layer.grid.gridSizes[iz];
      const s = new Set<string>();
      for (let x = 0; x < cols; x++) for (let y = 0; y < rows; y++) s.add(`${x},${y}`);
      out.set(iz / step, s);
    }
    return out;
  }

  const pyramids: [string, string, boolean][] = [
    ['osm_EPSG900913', 'merc', false],
    ['osm_EPSG4326', 'geo', false],
    ['osm_EPSG3857', 'webmerc', false],
    ['osm_EPSG25832', 'utm', true],
    ['odd_EPSG25832', 'odd', false],
  ];
  for (const [name, gridName, sqrt2] of pyramids) {
    it(`${name}: every document validates, links resolve, images match the cache, each tile once`, async () => {
      const layer = layerOf(name.split('_')[0], gridName);
      const seen = await crawl(`${url}/kml/${name}`, layer, sqrt2);
      assert.deepEqual(seen, allTiles(layer, sqrt2));
    });
  }

  it('the initial document is level 0: its region is the grid in lon/lat', async () => {
    const geo = parseDoc(await getKml(`${url}/kml/osm_EPSG4326`));
    assert.equal(geo.name, 'osm_EPSG4326');
    assert.deepEqual(geo.region, [-180, -90, 180, 90]);
    assert.deepEqual(
      geo.overlays.map((o) => [o.href.replace(url, ''), o.region]),
      [
        ['/kml/osm/EPSG4326/1/0/0.png', [-180, -90, 0, 90]],
        ['/kml/osm/EPSG4326/1/1/0.png', [0, -90, 180, 90]],
      ],
    );
    // mercator tiles on the world's edge reach the poles, as in MapProxy
    const merc = parseDoc(await getKml(`${url}/kml/osm/EPSG900913`));
    assert.equal(merc.name, 'osm');
    assert.deepEqual(merc.region, [-180, -90, 180, 90]);
    assert.deepEqual(merc.overlays.map((o) => o.href.replace(url, '')), ['/kml/osm/EPSG900913/1/0/1.png', '/kml/osm/EPSG900913/1/1/1.png', '/kml/osm/EPSG900913/1/0/0.png', '/kml/osm/EPSG900913/1/1/0.png']);
    assert.deepEqual(merc.overlays[0].region, [-180, 0, 0, 90]);
    const inner = parseDoc(await getKml(`${url}/kml/osm/EPSG900913/1/0/1.kml`));
    assert.deepEqual(inner.region, [-180, 0, 0, 90]);
    // level 2 tile (1, 2): x -10018754..0, y 0..10018754 -> lat 0..66.51
    const o = inner.overlays.find((f) => f.href.endsWith('/2/1/2.png'))!;
    assert.deepEqual(o.region, [-90, 0, 0, 66.51326]);
    assert.match(o.block, /<north>66\.513260<\/north><south>0\.000000<\/south>/);
  });

  it('answers the initial document under each of its names, and the layer name alone with the EPSG:4326 grid first', async () => {
    const strip = (s: string) => s.replace(/<name>[^<]*<\/name>/g, '');
    const ref = strip(await getKml(`${url}/kml/osm_EPSG900913`));
    for (const p of ['/kml/osm/EPSG900913', '/kml/osm/EPSG900913/', '/kml/osm_EPSG900913/', '/kml/osm_EPSG900913/0/0/0.kml', '/kml/osm/EPSG900913/0/0/0.kml']) {
      assert.equal(strip(await getKml(url + p)), ref, p);
    }
    const bare = parseDoc(await getKml(`${url}/kml/osm`));
    assert.equal(bare.name, 'osm');
    assert.ok(bare.links.every((l) => l.href.startsWith(`${url}/kml/osm/EPSG4326/1/`)));
  });

  it('works with use_grid_names: /kml/LAYER/GRIDNAME', async () => {
    const doc = parseDoc(await getKml(`${gridNamesUrl}/kml/osm/utm`));
    assert.equal(doc.links.length, 4);
    assert.ok(doc.links.every((l) => l.href.startsWith(`${gridNamesUrl}/kml/osm/utm/1/`)), doc.links[0].href);
    assertValidKml(await getKml(doc.links[0].href));
    const img = await fetch(doc.overlays[0].href);
    assert.equal(img.status, 200);
    assert.equal(sniffImageFormat(new Uint8Array(await img.arrayBuffer())), 'png');
    for (const p of ['/kml/osm_EPSG900913', '/kml/osm/EPSG900913', '/kml/osm', '/kml/osm_EPSG900913/1/0/0.kml']) {
      const r = await fetch(gridNamesUrl + p);
      assert.equal(r.status, 404, p);
      assert.match(await r.text(), /unknown layer/);
    }
  });

  it('escapes names and links, and serves the format of the cache', async () => {
    const xml = await getKml(`${url}/kml/o%26m_EPSG4326`);
    assertValidKml(xml);
    assert.match(xml, /<name>o&amp;m_EPSG4326<\/name>/);
    assert.match(xml, /<name>o&amp;m_EPSG4326 - \(0, 0, 1\)<\/name>/);
    const doc = parseDoc(xml);
    assert.equal(doc.overlays[0].href, `${url}/kml/o%26m/EPSG4326/1/0/0.jpeg`);
    const img = await fetch(doc.overlays[0].href);
    assert.equal(img.status, 200);
    assert.equal(img.headers.get('content-type'), 'image/jpeg');
    const bytes = new Uint8Array(await img.arrayBuffer());
    assert.deepEqual(bytes, layerOf('o&m', 'geo').tileManager.loadCached([0, 0, 1])?.bytes);
    const png = await fetch(`${url}/kml/o%26m/EPSG4326/1/0/0.png`);
    assert.equal(png.status, 404);
    assert.equal(await png.text(), 'invalid format (png). this tile set only supports (jpeg)');
  });

  it('makes absolute links from the forwarded host and script name', async () => {
    const r = await fetch(`${url}/kml/osm_EPSG4326`, { headers: { 'X-Forwarded-Host': 'maps.example.org', 'X-Forwarded-Proto': 'https', 'X-Script-Name': '/mapproxy' } });
    const doc = parseDoc(await r.text());
    assert.equal(doc.links[0].href, 'https://maps.example.org/mapproxy/kml/osm/EPSG4326/1/0/0.kml');
    assert.equal(doc.overlays[1].href, 'https://maps.example.org/mapproxy/kml/osm/EPSG4326/1/1/0.png');
  });

  it('sends caching headers and 304 for documents', async () => {
    const r = await fetch(`${url}/kml/osm/EPSG900913/1/0/0.kml`);
    await r.text();
    const etag = r.headers.get('etag')!;
    assert.match(etag, /^[0-9a-f]{32}$/);
    assert.equal(r.headers.get('cache-control'), 'public, max-age=3600, s-maxage=3600');
    for (const inm of [etag, `"${etag}"`, `W/"${etag}"`]) {
      const r304 = await fetch(`${url}/kml/osm/EPSG900913/1/0/0.kml`, { headers: { 'If-None-Match': inm } });
      assert.equal(r304.status, 304, inm);
      assert.equal(await r304.text(), '');
      assert.equal(r304.headers.get('etag'), etag);
    }
    const other = await fetch(`${url}/kml/osm/EPSG900913/1/0/0.kml`, { headers: { 'If-None-Match': 'abc' } });
    assert.equal(other.status, 200);
    await other.text();
    // documents have no modification time, so If-Modified-Since alone does not apply
    const ims = await fetch(`${url}/kml/osm/EPSG900913/1/0/0.kml`, { headers: { 'If-Modified-Since': new Date().toUTCString() } });
    assert.equal(ims.status, 200);
    await ims.text();
    // the links depend on the host, and so does the ETag
    const proxied = await fetch(`${url}/kml/osm/EPSG900913/1/0/0.kml`, { headers: { 'X-Forwarded-Host': 'other.example.org', 'If-None-Match': etag } });
    assert.equal(proxied.status, 200);
    assert.notEqual(proxied.headers.get('etag'), etag);
    await proxied.text();
  });

  it('sends caching headers and 304 for images', async () => {
    const tileUrl = `${url}/kml/osm/EPSG3857/2/1/2.png`;
    const r = await fetch(tileUrl);
    await r.arrayBuffer();
    assert.equal(r.status, 200);
    const etag = r.headers.get('etag')!;
    assert.match(etag, /^[0-9a-f]{32}$/);
    assert.ok(r.headers.get('last-modified'));
    assert.equal(r.headers.get('cache-control'), 'public, max-age=3600, s-maxage=3600');
    const r304 = await fetch(tileUrl, { headers: { 'If-None-Match': etag } });
    assert.equal(r304.status, 304);
    assert.equal(r304.headers.get('content-type'), null);
    const rIms = await fetch(tileUrl, { headers: { 'If-Modified-Since': r.headers.get('last-modified')! } });
    assert.equal(rIms.status, 304);
    const rOld = await fetch(tileUrl, { headers: { 'If-Modified-Since': 'Thu, 01 Jan 2015 00:00:00 GMT' } });
    assert.equal(rOld.status, 200);
    await rOld.arrayBuffer();
  });

  it('adds Access-Control-Allow-Origin to documents and images when configured', async () => {
    const cors = new KmlService({ index: new TileLayerIndex(proxy.tileLayers, false), maxTileAge: 60, corsOrigin: '*' });
    for (const p of ['/kml/osm_EPSG4326', '/kml/osm/EPSG4326/1/0/0.png']) {
      const r = await cors.handle(new Request(url + p), p);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('access-control-allow-origin'), '*');
      assert.equal(r.headers.get('cache-control'), 'public, max-age=60, s-maxage=60');
    }
  });

  it('answers upstream failures with 502 and on_error substitutes uncached; documents need no upstream', async () => {
    up.requests.length = 0;
    const doc = await getKml(`${url}/kml/broken_EPSG900913`);
    assertValidKml(doc);
    assert.equal(up.requests.length, 0);
    const r = await fetch(`${url}/kml/broken/EPSG900913/1/0/0.png`);
    assert.equal(r.status, 502);
    assert.equal(r.headers.get('cache-control'), 'no-cache, no-store');
    assert.doesNotMatch(await r.text(), /127\.0\.0\.1|at .*\.ts:\d+/);
    const red = await fetch(`${url}/kml/red/EPSG900913/1/0/0.png`);
    assert.equal(red.status, 200);
    assert.equal(red.headers.get('cache-control'), 'no-cache, no-store');
    assert.equal(red.headers.get('etag'), null);
    assert.equal(sniffImageFormat(new Uint8Array(await red.arrayBuffer())), 'png');
  });

  describe('bad input', () => {
    const OUTSIDE = /^The requested tile is outside the bounding box of the tile map\.$/;
    const cases: [string, RegExp][] = [
      ['/kml/nope_EPSG900913', /^unknown layer: nope_EPSG900913$/],
      ['/kml/nope/EPSG900913', /^unknown layer: nope$/],
      ['/kml/osm/EPSG31467', /^unknown layer: osm$/],
      ['/kml/nope/EPSG900913/1/0/0.kml', /^unknown layer: nope$/],
      ['/kml/nope/EPSG900913/1/0/0.png', /^unknown layer: nope$/],
      ['/kml/osm/EPSG900913/1/2/0.kml', OUTSIDE],
      ['/kml/osm/EPSG900913/1/0/2.png', OUTSIDE],
      ['/kml/osm/EPSG900913/3/0/0.kml', OUTSIDE],
      ['/kml/osm/EPSG900913/-1/0/0.kml', OUTSIDE],
      ['/kml/osm/EPSG900913/1/-1/0.kml', OUTSIDE],
      ['/kml/osm/EPSG25832/3/0/0.kml', OUTSIDE],
      ['/kml/osm/EPSG900913/99999999999999999999/0/0.kml', OUTSIDE],
      ['/kml/osm/EPSG900913/1/0/0.jpeg', /^invalid format \(jpeg\)/],
      ['/kml/osm/EPSG900913/1/0/0.kmz', /^invalid format \(kmz\)/],
      ['/kml/osm/EPSG900913/1/0/0', /^invalid request/],
      ['/kml/osm/EPSG900913/a/0/0.kml', /^invalid request/],
      ['/kml/osm/EPSG900913/1/0/0.kml/x', /^invalid request/],
      ['/kml/osm/EPSG900913/1/0/0.png/../../../etc/passwd', /./],
      ['/kml/%2e%2e/%2e%2e/etc/passwd', /./],
      ['/kml/osm/%2e%2e', /./],
      ['/kml/osm%00_EPSG900913', /^invalid request/],
      ['/kml/osm/EPSG900913%00/1/0/0.png', /^invalid request/],
      ['/kml/%E0%A4%A/EPSG900913', /^invalid request/],
      ['/kml', /^invalid request/],
      ['/kml/', /^invalid request/],
    ];
    const check = (status: number, body: string, p: string) => {
      assert.equal(status, 404, `${p}: ${body}`);
      assert.doesNotMatch(body, /root:|at .*\.ts:\d+/);
    };
    for (const [p, msg] of cases) {
      it(`${p} -> 404`, async () => {
        const r = await fetch(url + p);
        const body = await r.text();
        check(r.status, body, p);
        // fetch resolves dot segments before sending, so the raw target and the unnormalised path are tried as well
        const raw = await rawGet(server.port, p);
        check(raw.status, raw.body, p);
        const direct = await kml.handle(new Request(url + p), p);
        const directBody = await direct.text();
        check(direct.status, directBody, p);
        assert.match(directBody, msg);
        assert.equal(direct.headers.get('content-type'), 'text/plain; charset=utf-8');
        assert.equal(direct.headers.get('cache-control'), 'no-cache, no-store');
      });
    }
    it('refuses dot segments and NUL before looking anything up', async () => {
      for (const p of ['/kml/../osm_EPSG900913', '/kml/osm/%2e%2e/1/0/0.png', '/kml/%2E%2E/EPSG900913/1/0/0.kml', '/kml/./EPSG900913', '/kml/%00/EPSG900913']) {
        const r = await kml.handle(new Request(url + '/kml/x'), p);
        assert.equal(r.status, 404, p);
        assert.match(await r.text(), /^invalid request/, p);
      }
    });
  });
});
