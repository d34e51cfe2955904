/**
 * Layer dimensions in the WMS over HTTP, against a recording upstream: the
 * values (or defaults) a GetMap passes to direct WMS sources through
 * forward_req_params and to caches as per-value sub-directories, the
 * InvalidDimensionValue exception, and the Dimension/Extent elements of the
 * 1.1.1 and 1.3.0 capabilities (valid against the OGC DTD and schema).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startRecordingWms, type RecordingWms } from '../../helpers/recording-wms.ts';
import { startProxy, type TestProxy } from '../../helpers/proxy-server.ts';
import { SCHEMAS, xmllint } from '../../helpers/xmllint.ts';

function config(up: string): string {
  return `
services:
  wms:
    srs: ['EPSG:4326', 'EPSG:3857']
    md:
      title: Dimensions
  wmts:
layers:
  - name: direct
    title: Direct
    sources: [fwd_src]
    dimensions:
      time:
        values: ['2020-01-01T00:00:00Z', '2020-02-01T00:00:00Z']
        default: '2020-01-01T00:00:00Z'
      elevation:
        values: ['0', '500', '1000']
  - name: cached
    title: Cached
    sources: [dim_cache]
    dimensions:
      time:
        values: ['2020-01-01T00:00:00Z/2020-01-03T00:00:00Z/P1D']
      dim_level:
        values: ['700', '850']
        default: '850'
  - name: plain
    title: Plain
    sources: [plain_cache]
  - name: levels
    title: Levels
    sources: [level_src]
    dimensions:
      level:
        values: ['700', '850']
  - name: grp
    title: Group
    layers:
      - name: sub
        title: Sub
        sources: [sub_src]
        dimensions:
          Time:
            values: ['2021-01-01T00:00:00Z', '2021-06-01T00:00:00Z']
      - name: nodims
        title: No dimensions
        sources: [nodims_src]
caches:
  dim_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [cache_src]
  plain_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [plain_src]
sources:
  fwd_src:
    type: wms
    forward_req_params: ['time', 'elevation', 'cql_filter']
    wms_opts:
      featureinfo: true
    req:
      url: ${up}
      layers: direct
  cache_src:
    type: wms
    forward_req_params: ['time', 'dim_level']
    req:
      url: ${up}
      layers: cached
  plain_src:
    type: wms
    forward_req_params: ['time']
    req:
      url: ${up}
      layers: plain
  level_src:
    type: wms
    forward_req_params: ['level']
    req:
      url: ${up}
      layers: levels
  sub_src:
    type: wms
    forward_req_params: ['time']
    req:
      url: ${up}
      layers: sub
  nodims_src:
    type: wms
    forward_req_params: ['time']
    req:
      url: ${up}
      layers: nodims
globals:
  cache:
    meta_size: [1, 1]
    meta_buffer: 0
`;
}

/** A GetMap of 10x10 degrees in EPSG:4326. */
const DIRECT = { SERVICE: 'WMS', REQUEST: 'GetMap', VERSION: '1.1.1', STYLES: '', SRS: 'EPSG:4326', BBOX: '0,0,10,10', WIDTH: '100', HEIGHT: '100', FORMAT: 'image/png' };
/** Exactly one tile of GLOBAL_WEBMERCATOR: level 1, column 1, the upper row. */
const TILE = { ...DIRECT, SRS: 'EPSG:3857', BBOX: '0,0,20037508.342789244,20037508.342789244', WIDTH: '256', HEIGHT: '256' };

describe('WMS dimensions', () => {
  let up: RecordingWms;
  let proxy: TestProxy;
  before(async () => {
    up = await startRecordingWms();
    proxy = await startProxy(config(up.url));
  });
  after(async () => {
    await proxy.stop();
    await up.stop();
  });

  const url = (params: Record<string, string>) => `${proxy.url}/service?${new URLSearchParams(params)}`;

  /** Runs a request and returns the answer with the upstream GetMaps it caused (parameters lower-cased). */
  async function call(params: Record<string, string>): Promise<{ status: number; type: string; body: Uint8Array; upstream: Record<string, string>[] }> {
    const before = up.requests.length;
    const r = await fetch(url(params));
    const body = new Uint8Array(await r.arrayBuffer());
    const upstream = up.requests.slice(before).filter((q) => (q.params.request ?? '').toLowerCase() === 'getmap').map((q) => q.params);
    return { status: r.status, type: r.headers.get('content-type') ?? '', body, upstream };
  }

  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  const cacheDir = (...parts: string[]) => path.join(proxy.dir, 'cache_data', ...parts);
  /** tc layout of the TILE request below a cache (sub-)directory: GLOBAL_WEBMERCATOR counts rows from the top (origin nw) */
  const TILE_FILE = ['01', '000', '000', '001', '000', '000', '000.png'];

  it('forwards the requested values and other forward_req_params of direct sources, as sent', async () => {
    const r = await call({ ...DIRECT, LAYERS: 'direct', TIME: '2020-02-01T00:00:00Z', ELEVATION: '500', CQL_FILTER: 'a=1', DIM_FOO: 'x' });
    assert.equal(r.status, 200, text(r.body));
    assert.equal(r.upstream.length, 1);
    const q = r.upstream[0];
    assert.equal(q.time, '2020-02-01T00:00:00Z');
    assert.equal(q.elevation, '500');
    // not a dimension, but named in forward_req_params: passed on as MapProxy does
    assert.equal(q.cql_filter, 'a=1');
    // neither a dimension of the layer nor in forward_req_params
    assert.equal(q.dim_foo, undefined);
    // forwarded under the configured (lower-case) name, whatever case the request used
    const raw = up.requests[up.requests.length - 1].query;
    assert.ok('time' in raw && !('TIME' in raw));
  });

  it('asks direct sources with the defaults when the request has no values (or says default)', async () => {
    for (const extra of [{}, { TIME: 'default', ELEVATION: '' }] as Record<string, string>[]) {
      const r = await call({ ...DIRECT, LAYERS: 'direct', ...extra });
      assert.equal(r.status, 200, text(r.body));
      // time has a configured default, elevation the last value
      assert.deepEqual([r.upstream[0].time, r.upstream[0].elevation], ['2020-01-01T00:00:00Z', '1000']);
    }
  });

  it('answers a value the layer does not offer with InvalidDimensionValue (1.1.1 and 1.3.0), asking nobody', async () => {
    const r = await call({ ...DIRECT, LAYERS: 'direct', time: 'bogus' });
    assert.equal(r.status, 400);
    assert.equal(r.type, 'application/vnd.ogc.se_xml');
    assert.equal(r.upstream.length, 0);
    assert.equal(
      text(r.body),
      '<?xml version="1.0"?>\n<!DOCTYPE ServiceExceptionReport SYSTEM "http://schemas.opengis.net/wms/1.1.1/exception_1_1_1.dtd">\n<ServiceExceptionReport version="1.1.1">\n    <ServiceException code="InvalidDimensionValue">invalid dimension value (time=bogus).</ServiceException>\n</ServiceExceptionReport>',
    );
    const { SRS: _srs, ...rest } = DIRECT;
    const r130 = await call({ ...rest, VERSION: '1.3.0', CRS: 'EPSG:4326', LAYERS: 'direct', ELEVATION: '7' });
    assert.equal(r130.status, 400);
    assert.match(text(r130.body), /<ServiceException code="InvalidDimensionValue">invalid dimension value \(elevation=7\)\.<\/ServiceException>/);
    // one bad layer of several fails the request, and a cached layer is checked too
    const mixed = await call({ ...TILE, LAYERS: 'plain,cached', DIM_LEVEL: '100' });
    assert.equal(mixed.status, 400);
    assert.match(text(mixed.body), /invalid dimension value \(dim_level=100\)\./);
    assert.equal(mixed.upstream.length, 0);
  });

  it('reads and fills the cache of each value combination, in MapProxy layout, and passes the values upstream', async () => {
    const a = await call({ ...TILE, LAYERS: 'cached', TIME: '2020-01-02T00:00:00Z', DIM_LEVEL: '700', CQL_FILTER: 'x' });
    assert.equal(a.status, 200, text(a.body));
    assert.equal(a.upstream.length, 1);
    assert.equal(a.upstream[0].time, '2020-01-02T00:00:00Z');
    assert.equal(a.upstream[0].dim_level, '700');
    // the cache's source forwards only its own forward_req_params, and caches get dimensions only
    assert.equal(a.upstream[0].cql_filter, undefined);
    assert.ok(fs.existsSync(cacheDir('dim_cache_EPSG3857', 'time-2020-01-02T00:00:00Z', 'dim_level-700', ...TILE_FILE)));
    // the same values again: from the cache
    const again = await call({ ...TILE, LAYERS: 'cached', time: '2020-01-02T00:00:00Z', dim_level: '700' });
    assert.equal(again.status, 200);
    assert.equal(again.upstream.length, 0);
    // no values: the defaults' directory (last time value, dim_level's configured default)
    const def = await call({ ...TILE, LAYERS: 'cached' });
    assert.equal(def.status, 200);
    assert.deepEqual([def.upstream[0].time, def.upstream[0].dim_level], ['2020-01-03T00:00:00Z', '850']);
    assert.ok(fs.existsSync(cacheDir('dim_cache_EPSG3857', 'time-2020-01-03T00:00:00Z', 'dim_level-850', ...TILE_FILE)));
    // nothing is stored outside the value directories
    assert.deepEqual(fs.readdirSync(cacheDir('dim_cache_EPSG3857')).sort(), ['time-2020-01-02T00:00:00Z', 'time-2020-01-03T00:00:00Z']);
  });

  it('shares the per-value tiles with the WMTS', async () => {
    await call({ ...TILE, LAYERS: 'cached', TIME: '2020-01-01T00:00:00Z', DIM_LEVEL: '850' });
    const before = up.requests.length;
    const kvp = { SERVICE: 'WMTS', VERSION: '1.0.0', REQUEST: 'GetTile', LAYER: 'cached', STYLE: 'default', TILEMATRIXSET: 'GLOBAL_WEBMERCATOR', TILEMATRIX: '1', TILEROW: '0', TILECOL: '1', FORMAT: 'image/png' };
    const r = await fetch(url({ ...kvp, TIME: '2020-01-01T00:00:00Z', DIM_LEVEL: '850' }));
    assert.equal(r.status, 200);
    const file = fs.readFileSync(cacheDir('dim_cache_EPSG3857', 'time-2020-01-01T00:00:00Z', 'dim_level-850', ...TILE_FILE));
    assert.deepEqual(new Uint8Array(await r.arrayBuffer()), new Uint8Array(file));
    assert.equal(up.requests.length, before);
  });

  it('answers WMS-C tiled requests with the stored tile of the values', async () => {
    const r = await call({ ...TILE, LAYERS: 'cached', TIME: '2020-01-02T00:00:00Z', DIM_LEVEL: '850', TILED: 'true' });
    assert.equal(r.status, 200, text(r.body));
    assert.equal(r.upstream.length, 1);
    assert.deepEqual([r.upstream[0].time, r.upstream[0].dim_level], ['2020-01-02T00:00:00Z', '850']);
    const file = fs.readFileSync(cacheDir('dim_cache_EPSG3857', 'time-2020-01-02T00:00:00Z', 'dim_level-850', ...TILE_FILE));
    assert.deepEqual(r.body, new Uint8Array(file));
  });

  it('serves a cached layer without dimensions from its cache whatever TIME says', async () => {
    const r = await call({ ...TILE, LAYERS: 'plain', TIME: 'zzz' });
    assert.equal(r.status, 200, text(r.body));
    assert.equal(r.upstream.length, 1);
    assert.equal(r.upstream[0].time, undefined);
    assert.deepEqual(fs.readdirSync(cacheDir('plain_cache_EPSG3857')), ['01']);
    const other = await call({ ...TILE, LAYERS: 'plain', TIME: 'other' });
    assert.equal(other.upstream.length, 0);
  });

  it('gives each layer of a group its own values; a layer without dimensions forwards the request as sent', async () => {
    const r = await call({ ...DIRECT, LAYERS: 'grp', TIME: '2021-06-01T00:00:00Z' });
    assert.equal(r.status, 200, text(r.body));
    const byLayer = Object.fromEntries(r.upstream.map((q) => [q.layers, q.time]));
    assert.deepEqual(byLayer, { sub: '2021-06-01T00:00:00Z', nodims: '2021-06-01T00:00:00Z' });
    // without TIME: sub asks its default (configured as 'Time'), nodims nothing
    const d = await call({ ...DIRECT, LAYERS: 'grp' });
    assert.deepEqual(Object.fromEntries(d.upstream.map((q) => [q.layers, q.time])), { sub: '2021-06-01T00:00:00Z', nodims: undefined });
    // no check where nothing is configured
    const free = await call({ ...DIRECT, LAYERS: 'nodims', TIME: 'anything' });
    assert.equal(free.status, 200);
    assert.equal(free.upstream[0].time, 'anything');
    const bad = await call({ ...DIRECT, LAYERS: 'grp', TIME: 'anything' });
    assert.equal(bad.status, 400);
    assert.match(text(bad.body), /invalid dimension value \(time=anything\)\./);
  });

  it('takes a dimension without the dim_ prefix from its DIM_ parameter (WMS 1.3.0 Annex C) or its own name', async () => {
    const r = await call({ ...DIRECT, LAYERS: 'levels', DIM_LEVEL: '700' });
    assert.equal(r.status, 200, text(r.body));
    assert.equal(r.upstream[0].level, '700');
    const own = await call({ ...DIRECT, LAYERS: 'levels', LEVEL: '700' });
    assert.equal(own.upstream[0].level, '700');
    const def = await call({ ...DIRECT, LAYERS: 'levels' });
    assert.equal(def.upstream[0].level, '850');
    const bad = await call({ ...DIRECT, LAYERS: 'levels', DIM_LEVEL: '1' });
    assert.equal(bad.status, 400);
    assert.match(text(bad.body), /invalid dimension value \(level=1\)\./);
  });

  it('does not forward dimensions with GetFeatureInfo, as MapProxy', async () => {
    const before = up.requests.length;
    const r = await fetch(url({ ...DIRECT, REQUEST: 'GetFeatureInfo', LAYERS: 'direct', QUERY_LAYERS: 'direct', X: '5', Y: '5', INFO_FORMAT: 'text/plain', TIME: '2020-02-01T00:00:00Z' }));
    assert.equal(r.status, 200, await r.clone().text());
    assert.equal(await r.text(), 'feature: red box');
    const info = up.requests.slice(before).filter((q) => q.params.request === 'GetFeatureInfo');
    assert.equal(info.length, 1);
    assert.equal(info[0].params.time, undefined);
  });

  describe('capabilities', () => {
    async function caps(version: string): Promise<string> {
      const r = await fetch(url({ SERVICE: 'WMS', REQUEST: 'GetCapabilities', VERSION: version }));
      assert.equal(r.status, 200);
      return r.text();
    }
    /** The elements of a named layer up to its first child layer or its end. */
    function layerXml(xml: string, name: string): string {
      const start = xml.indexOf(`<Name>${name}</Name>`);
      assert.ok(start > 0, `layer ${name} listed`);
      const rest = xml.slice(start);
      return rest.slice(0, rest.search(/<Layer|<\/Layer>/));
    }

    it('1.1.1: a Dimension (name, units) and an Extent (default, nearestValue, values) per dimension, valid against the DTD', async () => {
      const xml = await caps('1.1.1');
      assert.ok(
        layerXml(xml, 'direct').includes(
          [
            '      <Dimension name="time" units="ISO8601" />',
            '      <Dimension name="elevation" units="" />',
            '      <Extent name="time" default="2020-01-01T00:00:00Z" nearestValue="0">2020-01-01T00:00:00Z,2020-02-01T00:00:00Z</Extent>',
            '      <Extent name="elevation" default="1000" nearestValue="0">0,500,1000</Extent>',
          ].join('\n'),
        ),
        layerXml(xml, 'direct'),
      );
      assert.ok(
        layerXml(xml, 'cached').includes(
          '      <Extent name="time" default="2020-01-03T00:00:00Z" nearestValue="0">2020-01-01T00:00:00Z,2020-01-02T00:00:00Z,2020-01-03T00:00:00Z</Extent>\n      <Extent name="dim_level" default="850" nearestValue="0">700,850</Extent>',
        ),
      );
      // named by the lower-case key, as MapProxy's template
      assert.ok(layerXml(xml, 'sub').includes('<Dimension name="time" units="ISO8601" />'));
      for (const name of ['plain', 'nodims', 'grp']) assert.ok(!/<Dimension|<Extent/.test(layerXml(xml, name)), name);
      const v = xmllint(xml, ['--dtdvalid', SCHEMAS.wms111]);
      assert.equal(v.status, 0, v.stderr);
    });

    it('1.3.0: one Dimension per dimension with default, nearestValue, units and values, valid against the schema', async () => {
      const xml = await caps('1.3.0');
      assert.ok(
        layerXml(xml, 'direct').includes(
          [
            '      <Dimension name="time" default="2020-01-01T00:00:00Z" nearestValue="0" units="ISO8601" >2020-01-01T00:00:00Z,2020-02-01T00:00:00Z</Dimension>',
            '      <Dimension name="elevation" default="1000" nearestValue="0" units="" >0,500,1000</Dimension>',
          ].join('\n'),
        ),
        layerXml(xml, 'direct'),
      );
      assert.ok(layerXml(xml, 'levels').includes('<Dimension name="level" default="850" nearestValue="0" units="" >700,850</Dimension>'));
      assert.ok(!layerXml(xml, 'plain').includes('<Dimension'));
      const v = xmllint(xml, ['--schema', SCHEMAS.wms130]);
      assert.equal(v.status, 0, v.stderr);
    });

    it('1.1.0 writes Extent without nearestValue (its DTD has none), 1.0.0 no dimensions', async () => {
      const xml = await caps('1.1.0');
      assert.ok(layerXml(xml, 'direct').includes('<Extent name="elevation" default="1000">0,500,1000</Extent>'));
      const v = xmllint(xml, ['--dtdvalid', SCHEMAS.wms110]);
      assert.equal(v.status, 0, v.stderr);
      assert.ok(!/<Dimension|<Extent/.test(await caps('1.0.0')));
    });
  });
});
