import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startProxy, type TestProxy } from '../../helpers/proxy-server.ts';
import { startWmsUpstream, type WmsUpstream } from '../../helpers/wms-upstream.ts';
import { xmllint } from '../../helpers/xmllint.ts';
import { loadConfigString } from '../../../src/config/loader.ts';
import { buildProxy } from '../../../src/core/build-proxy.ts';
import { ConfigError } from '../../../src/errors.ts';

const SCHEMA_DIR = path.resolve(import.meta.dir, '../../fixtures/schemas');

/**
 * The WMTS 1.0.0 response schema types MinTileRow/MinTileCol as
 * positiveInteger although the standard (OGC 07-057r7, TileMatrixLimits)
 * counts rows and columns from 0, as every client does; validate against a
 * copy with that erratum fixed (nonNegativeInteger) and nothing else changed.
 */
function wmtsSchema(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wmts-xsd-'));
  fs.cpSync(SCHEMA_DIR, dir, { recursive: true });
  const f = path.join(dir, 'wmts/1.0/wmtsGetCapabilities_response.xsd');
  const text = fs.readFileSync(f, 'utf8');
  const fixed = text.replace(/(name="M(?:in|ax)Tile(?:Row|Col)"[^>]*type=")positiveInteger"/g, '$1nonNegativeInteger"');
  assert.notEqual(fixed, text, 'the erratum fix found the TileMatrixLimits elements');
  fs.writeFileSync(f, fixed);
  return f;
}

function config(wms: string, extra = ''): string {
  return `
services:
  tms:
  wms:
    md:
      title: WMTS & friends
      abstract: tiles <all> of them
      keyword_list:
        - vocabulary: GEMET
          keywords: [maps, tiles]
      contact:
        person: Jane Doe
        organization: Example
        city: Bonn
  wmts:
    featureinfo_formats:
      - mimetype: text/plain
        suffix: txt
${extra}
layers:
  - name: osm
    title: OSM <tiles>
    sources: [osm_cache]
  - name: weather
    title: Weather
    sources: [weather_cache]
    dimensions:
      time:
        values: ['2020-01-01T00:00:00Z/2020-01-03T00:00:00Z/P1D']
      elevation:
        values: ['0', '500', '1000']
        default: '0'
  - name: local
    title: Local
    sources: [local_cache]
caches:
  osm_cache:
    grids: [GLOBAL_WEBMERCATOR, geo_nw, GLOBAL_GEODETIC]
    sources: [osm_wms]
  weather_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [weather_wms]
  local_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [local_wms]
grids:
  geo_nw:
    srs: 'EPSG:4326'
    bbox: [-180, -90, 180, 90]
    origin: nw
sources:
  osm_wms:
    type: wms
    req:
      url: ${wms}
      layers: base
    wms_opts:
      featureinfo: true
  weather_wms:
    type: wms
    forward_req_params: ['time', 'elevation']
    req:
      url: ${wms}
      layers: weather
  local_wms:
    type: wms
    coverage:
      bbox: [5, 47, 15, 55]
      srs: 'EPSG:4326'
    req:
      url: ${wms}
      layers: local
globals:
  cache:
    meta_size: [1, 1]
    meta_buffer: 0
`;
}

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; body: Uint8Array; headers: Headers }> {
  const r = await fetch(url, { headers });
  return { status: r.status, type: r.headers.get('content-type') ?? '', body: new Uint8Array(await r.arrayBuffer()), headers: r.headers };
}

function text(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}

function exceptionCode(xml: string): string | undefined {
  return /exceptionCode="([^"]+)"/.exec(xml)?.[1];
}

describe('WMTS', () => {
  let up: WmsUpstream;
  let proxy: TestProxy;
  let schema: string;
  before(async () => {
    up = await startWmsUpstream();
    proxy = await startProxy(config(up.url));
    schema = wmtsSchema();
  });
  after(async () => {
    await proxy.stop();
    await up.stop();
    fs.rmSync(path.dirname(path.dirname(path.dirname(schema))), { recursive: true, force: true });
  });

  const kvp = (params: Record<string, string>) => `${proxy.url}/service?${new URLSearchParams({ SERVICE: 'WMTS', VERSION: '1.0.0', ...params })}`;
  const tileKvp = (layer: string, set: string, z: number, col: number, row: number, extra: Record<string, string> = {}) =>
    kvp({ REQUEST: 'GetTile', LAYER: layer, STYLE: 'default', TILEMATRIXSET: set, TILEMATRIX: String(z), TILEROW: String(row), TILECOL: String(col), FORMAT: 'image/png', ...extra });

  it('KVP and RESTful capabilities validate against the WMTS 1.0.0 schema', async () => {
    for (const url of [kvp({ REQUEST: 'GetCapabilities' }), `${proxy.url}/wmts/1.0.0/WMTSCapabilities.xml`]) {
      const r = await get(url);
      assert.equal(r.status, 200);
      assert.match(r.type, /xml/);
      const v = xmllint(text(r.body), ['--schema', schema]);
      assert.equal(v.status, 0, v.stderr);
    }
  });

  it('publishes one TileMatrixSet per WMTS-compatible grid with MapProxy values', async () => {
    const xml = text((await get(`${proxy.url}/wmts/1.0.0/WMTSCapabilities.xml`)).body);
    const sets = [...xml.matchAll(/<TileMatrixSet>\s*<ows:Identifier>([^<]+)<\/ows:Identifier>/g)].map((m) => m[1]);
    // GLOBAL_GEODETIC (origin sw, 1x1 tile of 360 degrees at level 0) cannot be read from the top: skipped as MapProxy does
    assert.deepEqual(sets.sort(), ['GLOBAL_WEBMERCATOR', 'geo_nw']);
    // MapProxy 1.15's values for GLOBAL_WEBMERCATOR level 0 and geo_nw level 0 (lat/lon axis order)
    assert.match(xml, /<ows:Identifier>0<\/ows:Identifier>\s*<ScaleDenominator>559082264\.0287176<\/ScaleDenominator>\s*<TopLeftCorner>-20037508\.342789244 20037508\.342789244<\/TopLeftCorner>/);
    assert.match(xml, /<ows:SupportedCRS>EPSG:4326<\/ows:SupportedCRS>\s*<TileMatrix>\s*<ows:Identifier>0<\/ows:Identifier>\s*<ScaleDenominator>559082264\.0287179<\/ScaleDenominator>\s*<TopLeftCorner>90\.0 -180\.0<\/TopLeftCorner>/);
    assert.match(xml, /<ows:Title>OSM &lt;tiles&gt;<\/ows:Title>/);
    assert.match(xml, /<ows:Keyword>maps<\/ows:Keyword>/);
    assert.match(xml, /<ows:ProviderName>Example<\/ows:ProviderName>/);
    assert.match(xml, /template="http:\/\/127\.0\.0\.1:\d+\/wmts\/osm\/\{TileMatrixSet\}\/\{TileMatrix\}\/\{TileCol\}\/\{TileRow\}\.png"/);
    assert.match(xml, /resourceType="FeatureInfo" template="[^"]+\/wmts\/osm\/\{TileMatrixSet\}\/\{TileMatrix\}\/\{TileCol\}\/\{TileRow\}\/\{I\}\/\{J\}\.txt"/);
    assert.match(xml, /<ServiceMetadataURL xlink:href="http:\/\/127\.0\.0\.1:\d+\/wmts\/1\.0\.0\/WMTSCapabilities\.xml"\/>/);
  });

  it('lists dimensions with expanded ISO 8601 values, and only queryable layers get InfoFormat', async () => {
    const xml = text((await get(kvp({ REQUEST: 'GetCapabilities' }))).body);
    const weather = xml.slice(xml.indexOf('<ows:Identifier>weather</ows:Identifier>'));
    const dims = weather.slice(0, weather.indexOf('</Layer>'));
    assert.match(dims, /<ows:Identifier>time<\/ows:Identifier>\s*<Default>2020-01-03T00:00:00Z<\/Default>\s*<Value>2020-01-01T00:00:00Z<\/Value>\s*<Value>2020-01-02T00:00:00Z<\/Value>\s*<Value>2020-01-03T00:00:00Z<\/Value>/);
    assert.match(dims, /<ows:Identifier>elevation<\/ows:Identifier>\s*<Default>0<\/Default>/);
    assert.doesNotMatch(dims, /InfoFormat/);
    assert.match(xml, /<InfoFormat>text\/plain<\/InfoFormat>/);
    assert.match(xml, /<ows:Operation name="GetTile">/);
  });

  it('TileMatrixSetLimits restrict a layer to its coverage', async () => {
    const xml = text((await get(kvp({ REQUEST: 'GetCapabilities' }))).body);
    const at = xml.indexOf('<ows:Identifier>local</ows:Identifier>');
    const part = xml.slice(xml.lastIndexOf('<Layer>', at), xml.indexOf('</Layer>', at));
    // level 3: 8x8 tiles; lon 5..15 is column 4, lat 47..55 is row 2 (from the top)
    assert.match(part, /<TileMatrix>3<\/TileMatrix>\s*<MinTileRow>2<\/MinTileRow>\s*<MaxTileRow>2<\/MaxTileRow>\s*<MinTileCol>4<\/MinTileCol>\s*<MaxTileCol>4<\/MaxTileCol>/);
    assert.match(part, /<ows:LowerCorner>5\.0 47\.0<\/ows:LowerCorner>/);
  });

  it('KVP GetTile, RESTful and /tiles give byte-identical tiles', async () => {
    const z = 3;
    const col = 4;
    const row = 2; // from the top
    const a = await get(tileKvp('osm', 'GLOBAL_WEBMERCATOR', z, col, row));
    const b = await get(`${proxy.url}/wmts/osm/GLOBAL_WEBMERCATOR/${z}/${col}/${row}.png`);
    const c = await get(`${proxy.url}/tiles/osm/EPSG3857/${z}/${col}/${row}.png?origin=nw`);
    // TMS counts from the bottom and skips level 0 of global grids
    const d = await get(`${proxy.url}/tms/1.0.0/osm/EPSG3857/${z - 1}/${col}/${7 - row}.png`);
    for (const r of [a, b, c, d]) {
      assert.equal(r.status, 200, text(r.body));
      assert.equal(r.type, 'image/png');
    }
    assert.deepEqual(a.body, b.body);
    assert.deepEqual(a.body, c.body);
    assert.deepEqual(a.body, d.body);
    // the 4326 grid with origin nw: row 0 is the north
    const g = await get(`${proxy.url}/wmts/osm/geo_nw/1/0/0.png`);
    assert.equal(g.status, 200);
  });

  it('answers 304 to a matching If-None-Match and sends caching headers', async () => {
    const url = `${proxy.url}/wmts/osm/GLOBAL_WEBMERCATOR/2/1/1.png`;
    await get(url); // created now: the next answer comes from the stored file
    const r = await get(url);
    const etag = r.headers.get('etag')!;
    assert.ok(etag);
    assert.match(r.headers.get('cache-control') ?? '', /max-age=259200/);
    const again = await fetch(url, { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304);
  });

  it('dimension values reach the upstream and are cached apart; defaults apply when absent', async () => {
    const before = up.requests.length;
    const t1 = await get(tileKvp('weather', 'GLOBAL_WEBMERCATOR', 2, 1, 1, { TIME: '2020-01-01T00:00:00Z', ELEVATION: '500' }));
    const t2 = await get(tileKvp('weather', 'GLOBAL_WEBMERCATOR', 2, 1, 1, { TIME: '2020-01-02T00:00:00Z' }));
    const t3 = await get(tileKvp('weather', 'GLOBAL_WEBMERCATOR', 2, 1, 1));
    for (const r of [t1, t2, t3]) assert.equal(r.status, 200, text(r.body));
    const seen = up.requests.slice(before).filter((q) => q.params.layers === 'weather');
    assert.deepEqual(
      seen.map((q) => [q.params.time, q.params.elevation]),
      [
        ['2020-01-01T00:00:00Z', '500'],
        ['2020-01-02T00:00:00Z', '0'],
        ['2020-01-03T00:00:00Z', '0'],
      ],
    );
    // the same values again: from the cache
    await get(tileKvp('weather', 'GLOBAL_WEBMERCATOR', 2, 1, 1, { time: '2020-01-01T00:00:00Z', elevation: '500' }));
    assert.equal(up.requests.slice(before).filter((q) => q.params.layers === 'weather').length, 3);
    const dirs = fs.readdirSync(path.join(proxy.dir, 'cache_data', 'weather_cache_EPSG3857')).sort();
    assert.deepEqual(dirs, ['elevation-0', 'elevation-500']);
    assert.ok(fs.existsSync(path.join(proxy.dir, 'cache_data', 'weather_cache_EPSG3857', 'elevation-500', 'time-2020-01-01T00:00:00Z', '02')));
  });

  it('feature info over KVP and RESTful asks the upstream at the tile pixel', async () => {
    up.featureInfo = 'feature: wmts';
    const a = await fetch(kvp({ REQUEST: 'GetFeatureInfo', LAYER: 'osm', STYLE: 'default', TILEMATRIXSET: 'GLOBAL_WEBMERCATOR', TILEMATRIX: '3', TILEROW: '2', TILECOL: '4', FORMAT: 'image/png', INFOFORMAT: 'text/plain', I: '10', J: '20' }));
    assert.equal(a.status, 200);
    assert.match(a.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(await a.text(), 'feature: wmts');
    const q = up.requests.at(-1)!.params;
    assert.equal(q.request, 'GetFeatureInfo');
    assert.equal(q.x, '10');
    assert.equal(q.y, '20');
    assert.equal(q.width, '256');
    // row 2 from the top at level 3 (8 rows): the tile's north edge is at y = +10018754
    const bbox = q.bbox.split(',').map(Number);
    assert.ok(Math.abs(bbox[3] - 10018754.171394622) < 1e-3, q.bbox);
    assert.ok(Math.abs(bbox[0] - 0) < 1e-6, q.bbox);
    const b = await fetch(`${proxy.url}/wmts/osm/GLOBAL_WEBMERCATOR/3/4/2/10/20.txt`);
    assert.equal(b.status, 200);
    assert.equal(await b.text(), 'feature: wmts');
    const c = await fetch(`${proxy.url}/wmts/weather/GLOBAL_WEBMERCATOR/3/4/2/10/20.txt`);
    assert.equal(c.status, 501);
    assert.equal(exceptionCode(await c.text()), 'OperationNotSupported');
  });

  describe('bad input answers an OWS ExceptionReport, never a 500', () => {
    const cases: [string, (u: string) => string, number, string][] = [
      ['unknown layer', () => tileKvp('nope', 'GLOBAL_WEBMERCATOR', 1, 0, 0), 400, 'InvalidParameterValue'],
      ['unknown TileMatrixSet', () => tileKvp('osm', 'nope', 1, 0, 0), 400, 'InvalidParameterValue'],
      ['GLOBAL_GEODETIC is not published', () => tileKvp('osm', 'GLOBAL_GEODETIC', 1, 0, 0), 400, 'InvalidParameterValue'],
      ['unknown TileMatrix', () => tileKvp('osm', 'GLOBAL_WEBMERCATOR', 40, 0, 0), 400, 'InvalidParameterValue'],
      ['non-numeric TileMatrix', () => tileKvp('osm', 'GLOBAL_WEBMERCATOR', 1, 0, 0, { TILEMATRIX: 'x1' }), 400, 'InvalidParameterValue'],
      ['unknown style', () => tileKvp('osm', 'GLOBAL_WEBMERCATOR', 1, 0, 0, { STYLE: 'fancy' }), 400, 'InvalidParameterValue'],
      ['wrong format', () => tileKvp('osm', 'GLOBAL_WEBMERCATOR', 1, 0, 0, { FORMAT: 'image/jpeg' }), 400, 'InvalidParameterValue'],
      ['dimension value not allowed', () => tileKvp('weather', 'GLOBAL_WEBMERCATOR', 1, 0, 0, { TIME: '1999-01-01T00:00:00Z' }), 400, 'InvalidParameterValue'],
      ['TileRow outside the matrix', () => tileKvp('osm', 'GLOBAL_WEBMERCATOR', 1, 0, 2), 400, 'TileOutOfRange'],
      ['TileCol outside the matrix', () => tileKvp('osm', 'GLOBAL_WEBMERCATOR', 1, -1, 0), 400, 'TileOutOfRange'],
      ['missing TILEMATRIX', () => kvp({ REQUEST: 'GetTile', LAYER: 'osm', STYLE: 'default', TILEMATRIXSET: 'GLOBAL_WEBMERCATOR', TILEROW: '0', TILECOL: '0', FORMAT: 'image/png' }), 400, 'MissingParameterValue'],
      ['missing REQUEST', () => kvp({ LAYER: 'osm' }), 400, 'MissingParameterValue'],
      ['unknown REQUEST', () => kvp({ REQUEST: 'GetMap' }), 501, 'OperationNotSupported'],
      ['unknown infoformat', () => kvp({ REQUEST: 'GetFeatureInfo', LAYER: 'osm', STYLE: 'default', TILEMATRIXSET: 'GLOBAL_WEBMERCATOR', TILEMATRIX: '3', TILEROW: '2', TILECOL: '4', INFOFORMAT: 'text/html', I: '1', J: '1' }), 400, 'InvalidParameterValue'],
      ['I outside the tile', () => kvp({ REQUEST: 'GetFeatureInfo', LAYER: 'osm', STYLE: 'default', TILEMATRIXSET: 'GLOBAL_WEBMERCATOR', TILEMATRIX: '3', TILEROW: '2', TILECOL: '4', INFOFORMAT: 'text/plain', I: '256', J: '1' }), 400, 'PointIJOutOfRange'],
      ['REST unknown layer', (u) => `${u}/wmts/nope/GLOBAL_WEBMERCATOR/1/0/0.png`, 400, 'InvalidParameterValue'],
      ['REST row outside', (u) => `${u}/wmts/osm/GLOBAL_WEBMERCATOR/1/0/5.png`, 400, 'TileOutOfRange'],
      ['REST wrong extension', (u) => `${u}/wmts/osm/GLOBAL_WEBMERCATOR/1/0/0.jpeg`, 400, 'InvalidParameterValue'],
      ['REST dot-dot layer', (u) => `${u}/wmts/osm/../GLOBAL_WEBMERCATOR/1/0/0.png`, 404, 'NoApplicableCode'],
      ['REST dot-dot in the name', (u) => `${u}/wmts/osm..x/GLOBAL_WEBMERCATOR/1/0/0.png`, 400, 'InvalidParameterValue'],
      ['REST encoded slash', (u) => `${u}/wmts/osm%2F..%2F..%2Fetc/GLOBAL_WEBMERCATOR/1/0/0.png`, 404, 'NoApplicableCode'],
      ['REST NUL', (u) => `${u}/wmts/osm%00/GLOBAL_WEBMERCATOR/1/0/0.png`, 404, 'NoApplicableCode'],
      ['REST too many segments', (u) => `${u}/wmts/osm/x/GLOBAL_WEBMERCATOR/1/0/0.png`, 404, 'NoApplicableCode'],
    ];
    for (const [name, url, status, code] of cases) {
      it(name, async () => {
        // raw request line: fetch would normalise '..' away before it is sent
        const target = url(proxy.url);
        const r = await rawGet(target);
        assert.equal(r.status, status, r.body);
        assert.match(r.body, /<ows:ExceptionReport/);
        assert.equal(exceptionCode(r.body), code, r.body);
      });
    }
    // the server resolves these before routing: they leave /wmts and find nothing, never a file
    for (const p of ['/wmts/../etc/passwd', '/wmts/%2e%2e/%2e%2e/etc/passwd', '/wmts/%2E%2E/GLOBAL_WEBMERCATOR/1/0/0.png']) {
      it(`${p} is a 404`, async () => {
        const r = await rawGet(proxy.url + p);
        assert.equal(r.status, 404);
        assert.doesNotMatch(r.body, /root:|at .*\.ts/);
      });
    }
  });
});

/** GET with the path sent exactly as written (no URL normalisation). */
async function rawGet(url: string): Promise<{ status: number; body: string }> {
  const u = /^http:\/\/([^/:]+):(\d+)(\/.*)$/.exec(url)!;
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u[2]), u[1]);
    let data = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('timeout'));
    }, 5000);
    sock.on('connect', () => sock.write(`GET ${u[3]} HTTP/1.1\r\nHost: ${u[1]}:${u[2]}\r\nConnection: close\r\n\r\n`));
    sock.on('data', (d) => (data += d.toString('latin1')));
    sock.on('end', () => {
      clearTimeout(timer);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
      let body = data.slice(data.indexOf('\r\n\r\n') + 4);
      if (/transfer-encoding: chunked/i.test(data.slice(0, data.indexOf('\r\n\r\n')))) body = dechunk(body);
      resolve({ status, body });
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

function dechunk(s: string): string {
  let out = '';
  let i = 0;
  for (let guard = 0; guard < 10000; guard++) {
    const nl = s.indexOf('\r\n', i);
    if (nl < 0) break;
    const n = parseInt(s.slice(i, nl), 16);
    if (!n) break;
    out += s.slice(nl + 2, nl + 2 + n);
    i = nl + 2 + n + 2;
  }
  return out;
}

describe('WMTS restful_template', () => {
  let up: WmsUpstream;
  let proxy: TestProxy;
  before(async () => {
    up = await startWmsUpstream();
    proxy = await startProxy(config(up.url, '    restful_template: "/{{Layer}}/{Style}/{TIME}/{TileMatrixSet}/{TileMatrix}/{TileRow}/{TileCol}.{Format}"'));
  });
  after(async () => {
    await proxy.stop();
    await up.stop();
  });

  it('takes Style and a dimension from the path (legacy {{}} accepted) and publishes the template', async () => {
    const xml = await (await fetch(`${proxy.url}/wmts/1.0.0/WMTSCapabilities.xml`)).text();
    assert.match(xml, /template="[^"]+\/wmts\/weather\/\{Style\}\/\{TIME\}\/\{TileMatrixSet\}\/\{TileMatrix\}\/\{TileRow\}\/\{TileCol\}\.png"/);
    assert.match(xml, /<ows:Identifier>TIME<\/ows:Identifier>\s*<Default>2020-01-03T00:00:00Z/);
    const before = up.requests.length;
    const r = await fetch(`${proxy.url}/wmts/weather/default/2020-01-02T00:00:00Z/GLOBAL_WEBMERCATOR/2/1/1.png`);
    assert.equal(r.status, 200);
    assert.equal(up.requests.slice(before)[0].params.time, '2020-01-02T00:00:00Z');
    // a layer without the dimension accepts only 'default' there
    assert.equal((await fetch(`${proxy.url}/wmts/osm/default/default/GLOBAL_WEBMERCATOR/2/1/1.png`)).status, 200);
    const bad = await fetch(`${proxy.url}/wmts/osm/default/2020-01-02T00:00:00Z/GLOBAL_WEBMERCATOR/2/1/1.png`);
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /unknown dimension: time/);
  });

  it('a template without the required variables is a config error naming the key', () => {
    const yaml = config('http://127.0.0.1:9/wms', '    restful_template: "/{Layer}/{TileMatrix}/{TileCol}/{TileRow}.png"');
    assert.throws(
      () => buildProxy(loadConfigString(yaml, 'mapproxy.yaml')),
      (e: unknown) => e instanceof ConfigError && /restful_template/.test(e.message) && /TileMatrixSet/.test(e.message) && /mapproxy\.yaml:\d+/.test(e.message),
    );
  });
});
