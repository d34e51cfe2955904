import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startWmsUpstream, near, FEATURES, type WmsUpstream } from '../../helpers/wms-upstream.ts';
import { startProxy, type TestProxy } from '../../helpers/proxy-server.ts';
import { SCHEMAS, xmllint } from '../../helpers/xmllint.ts';
import { decodeImage, encodeImage } from '../../../src/image/codec.ts';
import { createRaster, getPixel } from '../../../src/image/raster.ts';

// WMS-C (TILED=true) as MapProxy 1.15 does it: the expected strings below were
// taken from MapProxy 1.15.1 answering the same config (see the comparison notes
// in the service code), written out by hand so the tests need no MapProxy.

const MERC = 20037508.342789244;

/** Bbox of tile x/y/z of GLOBAL_WEBMERCATOR, rows counted from the top (its origin is nw, so the cache stores them so). */
function mercTile(x: number, y: number, z: number): number[] {
  const size = (2 * MERC) / 2 ** z;
  return [-MERC + x * size, MERC - (y + 1) * size, -MERC + (x + 1) * size, MERC - y * size];
}

function config(up: string): string {
  return `
services:
  wms:
    srs: ['EPSG:3857', 'EPSG:900913', 'EPSG:4326', 'EPSG:25832']
    md:
      title: WMS-C test
    attribution:
      text: '(c) test'
globals:
  tiles:
    expires_hours: 2
layers:
  - name: osm
    title: Cached
    sources: [c_merc]
  - name: utm
    title: UTM
    sources: [c_utm]
  - name: overlay
    title: Overlay
    sources: [c_trans]
  - name: direct
    title: Direct
    sources: [upstream]
  - name: group
    title: Group
    layers:
      - name: photo
        title: JPEG
        sources: [c_jpeg]
caches:
  c_merc:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [upstream]
    meta_size: [2, 2]
    meta_buffer: 0
  c_utm:
    grids: [utm]
    sources: [upstream]
    meta_size: [1, 1]
    meta_buffer: 0
  c_trans:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [upstream_t]
    meta_size: [1, 1]
    meta_buffer: 0
    image:
      transparent: true
  c_jpeg:
    grids: [GLOBAL_MERCATOR]
    sources: [upstream]
    format: image/jpeg
    meta_size: [1, 1]
    meta_buffer: 0
sources:
  upstream:
    type: wms
    req:
      url: ${up}
      layers: base
    supported_srs: ['EPSG:3857', 'EPSG:4326']
  upstream_t:
    type: wms
    req:
      url: ${up}
      layers: base
      transparent: true
    supported_srs: ['EPSG:3857', 'EPSG:4326']
grids:
  utm:
    srs: 'EPSG:25832'
    bbox: [200000, 5200000, 900000, 6200000]
    origin: nw
    tile_size: [512, 512]
    res: [2000.5, 1000.25, 500.125]
`;
}

const MERC_RES =
  '78271.51696402048 39135.75848201024 19567.87924100512 9783.93962050256 4891.96981025128 2445.98490512564 1222.99245256282 611.49622628141 305.748113140705 152.8740565703525 76.43702828517625 38.21851414258813 19.109257071294063 9.554628535647032 4.777314267823516 2.388657133911758 1.194328566955879 0.5971642834779395 0.29858214173896974 ';

/** MapProxy 1.15's TileSets for the config above; srs is the 1.1.1 (grid code) or 1.1.0 (TMS profile) name. */
function expectedTileSets(merc3857: string, merc900913: string): string {
  const merc = (srs: string, format: string, layer: string) => `
    <TileSet>
      <SRS>${srs}</SRS>
      <BoundingBox SRS="${srs}" minx="-20037508.342789244" miny="-20037508.342789244" maxx="20037508.342789244" maxy="20037508.342789244" />
      <Resolutions>${MERC_RES}</Resolutions>
      <Width>256</Width>
      <Height>256</Height>
      <Format>${format}</Format>
      <Layers>${layer}</Layers>
      <Styles></Styles>
    </TileSet>`;
  return `
  <VendorSpecificCapabilities>${merc(merc3857, 'image/png', 'osm')}
    <TileSet>
      <SRS>EPSG:25832</SRS>
      <BoundingBox SRS="EPSG:25832" minx="200000.0" miny="5200000.0" maxx="900000.0" maxy="6200000.0" />
      <Resolutions>2000.5 1000.25 500.125 </Resolutions>
      <Width>512</Width>
      <Height>512</Height>
      <Format>image/png</Format>
      <Layers>utm</Layers>
      <Styles></Styles>
    </TileSet>${merc(merc3857, 'image/png', 'overlay')}${merc(merc900913, 'image/jpeg', 'photo')}
  </VendorSpecificCapabilities>`;
}

const TILESET_DTD = `
 <!ELEMENT VendorSpecificCapabilities (TileSet*) >
 <!ELEMENT TileSet (SRS, BoundingBox?, Resolutions, Width, Height, Format, Layers*, Styles*) >
 <!ELEMENT Resolutions (#PCDATA) >
 <!ELEMENT Width (#PCDATA) >
 <!ELEMENT Height (#PCDATA) >
 <!ELEMENT Layers (#PCDATA) >
 <!ELEMENT Styles (#PCDATA) >`;

/** Lines trimmed, blank ones dropped: the comparison ignores indentation, as a diff against MapProxy did. */
function squash(s: string): string {
  return s
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join('\n');
}

/** Validates a 1.1.x document with its internal DTD subset (the TileSet declarations) plus the local OGC DTD. */
function validateWithInternalSubset(xml: string, version: '1.1.0' | '1.1.1'): { status: number | null; stderr: string } {
  const remote = version === '1.1.1' ? 'http://schemas.opengis.net/wms/1.1.1/WMS_MS_Capabilities.dtd' : 'http://schemas.opengis.net/wms/1.1.0/capabilities_1_1_0.dtd';
  // --dtdvalid would ignore the internal subset; --valid reads both once the DOCTYPE names the local copy
  assert.ok(xml.includes(remote), 'the DOCTYPE names the OGC DTD');
  return xmllint(xml.replace(remote, version === '1.1.1' ? SCHEMAS.wms111 : SCHEMAS.wms110), ['--valid']);
}

function getMaps(up: WmsUpstream): Record<string, string>[] {
  return up.requests.filter((r) => (r.params.request ?? '').toLowerCase() === 'getmap').map((r) => r.params);
}

describe('WMS-C: TILED=true GetMap over HTTP', () => {
  let up: WmsUpstream;
  let mp: TestProxy;
  const tiled = (q: string) => `${mp.url}/service?SERVICE=WMS&REQUEST=GetMap&VERSION=1.1.1&STYLES=&TILED=true&${q}`;
  const mercQuery = (layer: string, x: number, y: number, z: number, extra = '') =>
    `LAYERS=${layer}&SRS=EPSG:3857&FORMAT=image/png&WIDTH=256&HEIGHT=256&BBOX=${mercTile(x, y, z).join(',')}${extra}`;
  const tilePath = (cache: string, z: number, x: number, y: number, ext = 'png') =>
    path.join(mp.dir, 'cache_data', cache, String(z).padStart(2, '0'), '000', '000', String(x).padStart(3, '0'), '000', '000', `${String(y).padStart(3, '0')}.${ext}`);

  before(async () => {
    up = await startWmsUpstream();
    mp = await startProxy(config(up.url));
  });
  after(async () => {
    await mp.stop();
    await up.stop();
  });
  beforeEach(() => {
    up.requests.length = 0;
  });

  it('creates a missing tile with one upstream request per meta tile and answers with the stored bytes', async () => {
    const r1 = await fetch(tiled(mercQuery('osm', 2, 1, 2)));
    const b1 = new Uint8Array(await r1.arrayBuffer());
    assert.equal(r1.status, 200, new TextDecoder().decode(b1));
    assert.equal(r1.headers.get('content-type'), 'image/png');
    const maps = getMaps(up);
    assert.equal(maps.length, 1, 'one request for the 2x2 meta tile');
    assert.equal(maps[0].width, '512');
    assert.equal(maps[0].height, '512');
    // the answer is the cached tile itself: no attribution, no re-encoding
    assert.deepEqual(b1, new Uint8Array(fs.readFileSync(tilePath('c_merc_EPSG3857', 2, 2, 1))));
    // the red box (8-10 E, 50-52 N) lies in this tile
    const img = await decodeImage(b1);
    assert.ok(near(getPixel(img, 25, 86), FEATURES[0].color), `red box in the tile: ${getPixel(img, 25, 86)}`);
    assert.equal(r1.headers.get('cache-control'), 'public, max-age=7200, s-maxage=7200');
    assert.ok(r1.headers.get('etag'));
    assert.ok(r1.headers.get('last-modified'));

    // the neighbour in the same meta tile was stored by the same request
    const r2 = await fetch(tiled(mercQuery('osm', 3, 0, 2)));
    assert.equal(r2.status, 200);
    assert.deepEqual(new Uint8Array(await r2.arrayBuffer()), new Uint8Array(fs.readFileSync(tilePath('c_merc_EPSG3857', 2, 3, 0))));
    assert.equal(getMaps(up).length, 1, 'no request for a tile of the same meta tile');

    // a tile of another meta tile costs one more
    const r3 = await fetch(tiled(mercQuery('osm', 1, 1, 2)));
    assert.equal(r3.status, 200);
    await r3.arrayBuffer();
    assert.equal(getMaps(up).length, 2);
  });

  it('answers a cached tile with its stored bytes, without asking the upstream, and with 304 for its ETag', async () => {
    // a tile nobody but the cache could have made: solid blue
    const blue = await encodeImage(createRaster(256, 256, [0, 0, 255, 255]), { format: 'png' });
    const file = tilePath('c_merc_EPSG3857', 3, 4, 2);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, blue);
    const r = await fetch(tiled(mercQuery('osm', 4, 2, 3)));
    assert.equal(r.status, 200);
    assert.deepEqual(new Uint8Array(await r.arrayBuffer()), blue);
    assert.equal(getMaps(up).length, 0);
    const etag = r.headers.get('etag')!;
    const again = await fetch(tiled(mercQuery('osm', 4, 2, 3)), { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304);
    assert.equal(getMaps(up).length, 0);
  });

  it('without TILED the same bbox is a rendered map: attribution drawn, no tile cache headers', async () => {
    const blue = fs.readFileSync(tilePath('c_merc_EPSG3857', 3, 4, 2));
    const r = await fetch(`${mp.url}/service?SERVICE=WMS&REQUEST=GetMap&VERSION=1.1.1&STYLES=&${mercQuery('osm', 4, 2, 3)}`);
    const body = new Uint8Array(await r.arrayBuffer());
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('etag'), null);
    assert.notDeepEqual(body, new Uint8Array(blue), 'the attribution makes it differ from the tile');
    assert.equal(getMaps(up).length, 0, 'still from the cache');
  });

  it('serves tiles of a local grid (512 px tiles, origin nw) the same way', async () => {
    // level 0, tile 0/0 from the top-left corner: 512 px of 2000.5 m
    const bbox = [200000, 6200000 - 512 * 2000.5, 200000 + 512 * 2000.5, 6200000];
    const r = await fetch(tiled(`LAYERS=utm&SRS=EPSG:25832&FORMAT=image/png&WIDTH=512&HEIGHT=512&BBOX=${bbox.join(',')}`));
    const body = new Uint8Array(await r.arrayBuffer());
    assert.equal(r.status, 200, new TextDecoder().decode(body));
    assert.deepEqual(body, new Uint8Array(fs.readFileSync(tilePath('c_utm_EPSG25832', 0, 0, 0))));
    assert.equal(getMaps(up).length, 1);
  });

  it('answers a transparent cache with the tile only for TRANSPARENT=true, else merged onto BGCOLOR', async () => {
    const t = await fetch(tiled(mercQuery('overlay', 2, 1, 2, '&TRANSPARENT=true')));
    const tb = new Uint8Array(await t.arrayBuffer());
    assert.equal(t.status, 200);
    assert.deepEqual(tb, new Uint8Array(fs.readFileSync(tilePath('c_trans_EPSG3857', 2, 2, 1))));
    assert.ok(t.headers.get('etag'));
    assert.equal(getPixel(await decodeImage(tb), 5, 5)[3], 0, 'transparent where the upstream drew nothing');

    // MapProxy's LayerMerger composes a transparent layer onto the background: a new image
    const o = await fetch(tiled(mercQuery('overlay', 2, 1, 2, '&BGCOLOR=0x00ff00')));
    const ob = new Uint8Array(await o.arrayBuffer());
    assert.equal(o.status, 200);
    assert.equal(o.headers.get('etag'), null);
    assert.deepEqual([...getPixel(await decodeImage(ob), 5, 5)], [0, 255, 0, 255]);
    assert.equal(getMaps(up).length, 1, 'both from the one cached tile');
  });

  it('renders a tiled request for an uncached layer as an ordinary GetMap (MapProxy ignores TILED there)', async () => {
    const r = await fetch(tiled(mercQuery('direct', 2, 1, 2)));
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'image/png');
    assert.equal(r.headers.get('etag'), null);
    await r.arrayBuffer();
    assert.equal(getMaps(up).length, 1);
  });

  // [description, query, MapProxy's message]
  const refused: [string, string, string][] = [
    ['a bbox off the tile grid by 0.2 px', `LAYERS=osm&SRS=EPSG:3857&FORMAT=image/png&WIDTH=256&HEIGHT=256&BBOX=7827.15,7827.15,10010927.02,10010927.02`, 'Request too large or invalid BBOX. (query does not align to tile boundaries)'],
    ['a bbox across two tiles', `LAYERS=osm&SRS=EPSG:3857&FORMAT=image/png&WIDTH=256&HEIGHT=256&BBOX=5009377.085697311,0,15028131.257091933,10018754.171394622`, 'Request too large or invalid BBOX. (not a single tile)'],
    ['another size than the tile size', `LAYERS=osm&SRS=EPSG:3857&FORMAT=image/png&WIDTH=512&HEIGHT=512&BBOX=${mercTile(2, 1, 2).join(',')}`, 'Invalid request: invalid tile size (use 256x256)'],
    ['another format than the cache format', `LAYERS=osm&SRS=EPSG:3857&FORMAT=image/jpeg&WIDTH=256&HEIGHT=256&BBOX=${mercTile(2, 1, 2).join(',')}`, 'Invalid request: invalid tile format, use png'],
    ['a PNG from the JPEG cache', `LAYERS=photo&SRS=EPSG:900913&FORMAT=image/png&WIDTH=256&HEIGHT=256&BBOX=${mercTile(2, 1, 2).join(',')}`, 'Invalid request: invalid tile format, use jpeg'],
    ['an SRS the cache has no grid in', `LAYERS=osm&SRS=EPSG:4326&FORMAT=image/png&WIDTH=256&HEIGHT=256&BBOX=0,0,90,90`, 'Request too large or invalid BBOX. (not a single tile)'],
  ];
  for (const [what, q, message] of refused) {
    it(`refuses ${what} with MapProxy's exception`, async () => {
      const r = await fetch(tiled(q));
      const body = await r.text();
      assert.equal(r.status, 400);
      assert.equal(r.headers.get('content-type'), 'application/vnd.ogc.se_xml');
      // MapProxy sets no exception code for these
      assert.ok(body.includes(`<ServiceException>${message}</ServiceException>`), body);
      assert.equal(getMaps(up).length, 0, 'nothing is fetched for a refused request');
    });
  }

  it('writes the refusal in the version and EXCEPTIONS format of the request', async () => {
    const q = mercQuery('osm', 2, 1, 2).replace('WIDTH=256', 'WIDTH=300');
    const v130 = await fetch(`${mp.url}/service?SERVICE=WMS&REQUEST=GetMap&VERSION=1.3.0&STYLES=&TILED=true&${q.replace('SRS=', 'CRS=')}`);
    const body = await v130.text();
    assert.equal(v130.headers.get('content-type'), 'text/xml; charset=utf-8');
    assert.ok(body.includes('<ServiceExceptionReport version="1.3.0"'), body);
    assert.ok(body.includes('Invalid request: invalid tile size (use 256x256)'), body);
    const img = await fetch(tiled(`${q}&EXCEPTIONS=application/vnd.ogc.se_inimage`));
    assert.equal(img.status, 200);
    assert.equal(img.headers.get('content-type'), 'image/png');
    assert.equal((await decodeImage(new Uint8Array(await img.arrayBuffer()))).width, 300);
  });
});

describe('WMS-C: TileSets in GetCapabilities', () => {
  let up: WmsUpstream;
  let mp: TestProxy;
  const caps = async (q: string) => {
    const r = await fetch(`${mp.url}/service?SERVICE=WMS&REQUEST=GetCapabilities&${q}`);
    assert.equal(r.status, 200);
    return r.text();
  };
  before(async () => {
    up = await startWmsUpstream();
    mp = await startProxy(config(up.url));
  });
  after(async () => {
    await mp.stop();
    await up.stop();
  });

  it('lists every cached layer per grid for TILED=true in 1.1.1, as MapProxy, and validates against the DTD', async () => {
    const xml = await caps('VERSION=1.1.1&TILED=true');
    assert.ok(squash(xml).includes(squash(TILESET_DTD)), 'DOCTYPE declares the TileSet elements');
    assert.ok(!xml.includes('<!ELEMENT VendorSpecificCapabilities EMPTY>'));
    const vendor = xml.slice(xml.indexOf('<VendorSpecificCapabilities>'), xml.indexOf('</VendorSpecificCapabilities>') + '</VendorSpecificCapabilities>'.length);
    assert.equal(squash(vendor), squash(expectedTileSets('EPSG:3857', 'EPSG:900913')));
    // between Exception and the root Layer, as the DTD orders Capability
    assert.ok(xml.indexOf('</Exception>') < xml.indexOf('<VendorSpecificCapabilities>'));
    assert.ok(xml.indexOf('</VendorSpecificCapabilities>') < xml.search(/<Layer[ >]/));
    const r = validateWithInternalSubset(xml, '1.1.1');
    assert.equal(r.status, 0, r.stderr);
  });

  it('names the global mercator profile OSGEO:41001 in 1.1.0, as MapProxy\'s 1.1.0 template, and validates', async () => {
    const xml = await caps('VERSION=1.1.0&TILED=true');
    const vendor = xml.slice(xml.indexOf('<VendorSpecificCapabilities>'), xml.indexOf('</VendorSpecificCapabilities>') + '</VendorSpecificCapabilities>'.length);
    assert.equal(squash(vendor), squash(expectedTileSets('OSGEO:41001', 'OSGEO:41001')));
    const r = validateWithInternalSubset(xml, '1.1.0');
    assert.equal(r.status, 0, r.stderr);
  });

  it('lists no TileSets unless TILED=true is asked, and never in 1.3.0', async () => {
    for (const q of ['VERSION=1.1.1', 'VERSION=1.1.1&TILED=false']) {
      const xml = await caps(q);
      assert.ok(xml.includes('<!ELEMENT VendorSpecificCapabilities EMPTY>'), q);
      assert.ok(!xml.includes('TileSet'), q);
      const r = validateWithInternalSubset(xml, '1.1.1');
      assert.equal(r.status, 0, r.stderr);
    }
    const v130 = await caps('VERSION=1.3.0&TILED=true');
    assert.ok(!v130.includes('TileSet'));
    const r = xmllint(v130, ['--schema', SCHEMAS.wms130]);
    assert.equal(r.status, 0, r.stderr);
  });

  it('accepts TILED in any case, as MapProxy lower-cases the value', async () => {
    const xml = await caps('VERSION=1.1.1&tiled=TRUE');
    assert.ok(xml.includes('<Layers>photo</Layers>'));
  });
});
