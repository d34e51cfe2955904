import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startWmsUpstream, type WmsUpstream } from '../helpers/wms-upstream.ts';
import { serveHttp, type RunningServer } from '../../src/runtime/serve.ts';
import { HttpClient } from '../../src/source/http-client.ts';
import { WmsInfoSource, type WmsInfoSourceOptions } from '../../src/source/wms-info.ts';
import { SourceError } from '../../src/errors.ts';
import { getSrs } from '../../src/srs/srs.ts';
import { pixelToMap, transformInfoQuery } from '../../src/service/wms/featureinfo.ts';
import type { InfoQuery } from '../../src/layer/wms-layer.ts';
import type { Bbox } from '../../src/srs/types.ts';

const WGS84 = getSrs('EPSG:4326');
const MERC = getSrs('EPSG:3857');

function client(timeout = 5): HttpClient {
  return new HttpClient({ clientTimeout: timeout, headers: {}, hideErrorDetails: false });
}

function source(url: string, o: Partial<WmsInfoSourceOptions> = {}): WmsInfoSource {
  return new WmsInfoSource({
    name: 'fi',
    url,
    params: { layers: 'roads,rivers' },
    version: '1.1.1',
    client: client(),
    supportedSrs: [],
    ...o,
  });
}

const Q: InfoQuery = {
  bbox: [5, 45, 15, 55],
  size: [200, 100],
  srs: WGS84,
  pos: [40, 30],
  infoFormat: 'text/plain',
};

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('WmsInfoSource', () => {
  let up: WmsUpstream;
  before(async () => {
    up = await startWmsUpstream();
  });
  after(async () => {
    await up.stop();
  });
  beforeEach(() => {
    up.requests.length = 0;
    up.mode = 'ok';
    up.featureInfo = 'feature: red box';
  });

  it('asks WMS 1.1.1 with srs, x/y and query_layers = layers', async () => {
    const r = await source(up.url, { params: { layers: 'roads,rivers', styles: 'a,b', map: '/data/x.map' } })
      .getFeatureInfo({ ...Q, featureCount: 7 });
    assert.equal(text(r.body), 'feature: red box');
    assert.equal(r.mime, 'text/plain');
    assert.equal(up.requests.length, 1);
    const p = up.requests[0].params;
    assert.equal(p.request, 'GetFeatureInfo');
    assert.equal(p.service, 'WMS');
    assert.equal(p.version, '1.1.1');
    assert.equal(p.srs, 'EPSG:4326');
    assert.equal(p.crs, undefined);
    assert.equal(p.bbox, '5.0,45.0,15.0,55.0');
    assert.equal(p.width, '200');
    assert.equal(p.height, '100');
    assert.equal(p.x, '40');
    assert.equal(p.y, '30');
    assert.equal(p.i, undefined);
    assert.equal(p.layers, 'roads,rivers');
    assert.equal(p.query_layers, 'roads,rivers');
    assert.equal(p.styles, 'a,b');
    assert.equal(p.info_format, 'text/plain');
    assert.equal(p.feature_count, '7');
    assert.equal(p.format, 'image/png');
    assert.equal(p.map, '/data/x.map');
  });

  it('leaves feature_count out when the client gave none', async () => {
    await source(up.url).getFeatureInfo(Q);
    assert.equal(up.requests[0].params.feature_count, undefined);
  });

  it('asks WMS 1.3.0 with crs, i/j and a north/east bbox for EPSG:4326', async () => {
    await source(up.url, { version: '1.3.0' }).getFeatureInfo(Q);
    const p = up.requests[0].params;
    assert.equal(p.version, '1.3.0');
    assert.equal(p.crs, 'EPSG:4326');
    assert.equal(p.srs, undefined);
    assert.equal(p.bbox, '45.0,5.0,55.0,15.0');
    assert.equal(p.i, '40');
    assert.equal(p.j, '30');
    assert.equal(p.x, undefined);
    assert.equal(p.y, undefined);
  });

  it('keeps east/north bbox order for 1.3.0 in EPSG:3857', async () => {
    await source(up.url, { version: '1.3.0' }).getFeatureInfo({ ...Q, srs: MERC, bbox: [1000, 2000, 3000, 4000] });
    assert.equal(up.requests[0].params.bbox, '1000.0,2000.0,3000.0,4000.0');
  });

  it('forces wms_opts.featureinfo_format and answers with it as mime type', async () => {
    up.featureInfo = '<html><body>x</body></html>';
    const r = await source(up.url, { infoFormat: 'text/html' }).getFeatureInfo({ ...Q, infoFormat: 'application/vnd.ogc.gml' });
    assert.equal(up.requests[0].params.info_format, 'text/html');
    assert.equal(r.mime, 'text/html');
  });

  it('takes req.format and appends to a URL that already has a query', async () => {
    await source(`${up.url}?map=foo`, { format: 'image/jpeg' }).getFeatureInfo(Q);
    const p = up.requests[0].params;
    assert.equal(p.map, 'foo');
    assert.equal(p.format, 'image/jpeg');
  });

  it('carries the point into a supported SRS as MapProxy does', async () => {
    // a mercator view around western Germany; the upstream only speaks EPSG:4326
    const lonlat = [9, 51] as const;
    const c = WGS84.transformPoint([lonlat[0], lonlat[1]], MERC);
    const bbox: Bbox = [c[0] - 100000, c[1] - 60000, c[0] + 100000, c[1] + 140000];
    const q: InfoQuery = { ...Q, srs: MERC, bbox, size: [400, 400], pos: [200, 280] };
    await source(up.url, { supportedSrs: [WGS84] }).getFeatureInfo(q);
    const p = up.requests[0].params;
    assert.equal(p.srs, 'EPSG:4326');
    const expected = transformInfoQuery({ bbox, size: q.size, srs: MERC, x: 200, y: 280 }, WGS84);
    assert.equal(p.width, '400');
    assert.equal(p.height, String(expected.size[1]));
    assert.ok(expected.size[1] < 300, 'square degrees at 51 N make the image flatter');
    assert.equal(p.x, String(expected.x));
    assert.equal(p.y, String(expected.y));
    // the upstream pixel shows the same place as the client's pixel
    const upBbox = p.bbox.split(',').map(Number) as Bbox;
    const there = pixelToMap(upBbox, [Number(p.width), Number(p.height)], [Number(p.x), Number(p.y)]);
    const want = MERC.transformPoint(pixelToMap(bbox, q.size, [200, 280]), WGS84);
    const res = (upBbox[2] - upBbox[0]) / Number(p.width);
    assert.ok(Math.abs(there[0] - want[0]) <= res && Math.abs(there[1] - want[1]) <= res, `${there} vs ${want}`);
  });

  it('prefers preferred_src_proj when transforming', async () => {
    const s = source(up.url, {
      supportedSrs: [WGS84, getSrs('EPSG:25832')],
      preferredSrc: new Map([['EPSG:3857', [getSrs('EPSG:25832')]]]),
    });
    const c = WGS84.transformPoint([9, 51], MERC);
    await s.getFeatureInfo({ ...Q, srs: MERC, bbox: [c[0] - 1000, c[1] - 1000, c[0] + 1000, c[1] + 1000], size: [100, 100], pos: [50, 50] });
    assert.equal(up.requests[0].params.srs, 'EPSG:25832');
  });

  it('forwards the query unchanged when the SRS is supported (900913 is 3857)', async () => {
    await source(up.url, { supportedSrs: [getSrs('EPSG:900913')] }).getFeatureInfo({ ...Q, srs: MERC, bbox: [0, 0, 1000, 500] });
    const p = up.requests[0].params;
    assert.equal(p.srs, 'EPSG:900913');
    assert.equal(p.bbox, '0.0,0.0,1000.0,500.0');
    assert.equal(p.x, '40');
    assert.equal(p.height, '100');
  });

  it('uses req.srs as the only supported SRS when supported_srs is empty', async () => {
    const c = WGS84.transformPoint([9, 51], MERC);
    await source(up.url, { params: { layers: 'l', srs: 'EPSG:4326' } })
      .getFeatureInfo({ ...Q, srs: MERC, bbox: [c[0] - 1000, c[1] - 1000, c[0] + 1000, c[1] + 1000], size: [100, 100], pos: [50, 50] });
    const p = up.requests[0].params;
    assert.equal(p.srs, 'EPSG:4326');
    assert.notEqual(p.height, '100');
  });

  it('answers an empty document outside the coverage without asking upstream', async () => {
    const s = source(up.url, { coverage: { bbox: [8, 50, 10, 52], srs: WGS84 } });
    // pixel (40, 30) of Q is at lon 7, lat 52: outside
    const out = await s.getFeatureInfo(Q);
    assert.equal(out.body.length, 0);
    assert.equal(out.mime, 'text/plain');
    assert.equal(up.requests.length, 0);
    // pixel (80, 40) is at lon 9, lat 51: inside
    const inside = await s.getFeatureInfo({ ...Q, pos: [80, 40] });
    assert.equal(text(inside.body), 'feature: red box');
    assert.equal(up.requests.length, 1);
  });

  it('checks the coverage in its own SRS', async () => {
    const s = source(up.url, { coverage: { bbox: [8, 50, 10, 52], srs: WGS84 } });
    const c = WGS84.transformPoint([20, 51], MERC);
    const r = await s.getFeatureInfo({ ...Q, srs: MERC, bbox: [c[0] - 1000, c[1] - 1000, c[0] + 1000, c[1] + 1000], size: [100, 100], pos: [50, 50] });
    assert.equal(r.body.length, 0);
    assert.equal(up.requests.length, 0);
  });

  it('turns HTTP errors into SourceError with the status', async () => {
    up.mode = 'error500';
    await assert.rejects(source(up.url).getFeatureInfo(Q), (e: unknown) => e instanceof SourceError && e.status === 500);
  });

  it('turns a service exception into SourceError', async () => {
    up.mode = 'exception';
    await assert.rejects(source(up.url).getFeatureInfo(Q), (e: unknown) => e instanceof SourceError && /unknown layer/.test(e.message));
  });

  it('gives up after client_timeout', async () => {
    up.mode = 'hang';
    const started = performance.now();
    await assert.rejects(source(up.url, { client: client(0.3) }).getFeatureInfo(Q), (e: unknown) => e instanceof SourceError && /timeout/.test(e.message));
    assert.ok(performance.now() - started < 3000);
  });
});

describe('WmsInfoSource mime type', () => {
  let server: RunningServer;
  let url: string;
  let answer: { body: string; type: string | null };
  before(async () => {
    server = await serveHttp({
      hostname: '127.0.0.1',
      port: 0,
      fetch: () => {
        const headers: Record<string, string> = {};
        if (answer.type !== null) headers['Content-Type'] = answer.type;
        // bytes, not a string: a string body would get a text/plain Content-Type by default
        return new Response(new TextEncoder().encode(answer.body), { headers });
      },
    });
    url = `http://127.0.0.1:${server.port}/wms`;
  });
  after(async () => {
    await server.stop();
  });

  it("takes the response's Content-Type over the requested format", async () => {
    answer = { body: '<FeatureCollection/>', type: 'text/xml; charset=utf-8' };
    const r = await source(url).getFeatureInfo(Q);
    assert.equal(r.mime, 'text/xml; charset=utf-8');
  });

  it('keeps the forced format over the Content-Type', async () => {
    answer = { body: '{"type": "FeatureCollection"}', type: 'text/plain' };
    const r = await source(url, { infoFormat: 'application/json' }).getFeatureInfo(Q);
    assert.equal(r.mime, 'application/json');
  });

  it('recognises a ServiceExceptionReport sent as text/xml', async () => {
    answer = {
      body: '<?xml version="1.0"?>\n<!DOCTYPE ServiceExceptionReport SYSTEM "x.dtd">\n<ServiceExceptionReport><ServiceException>bad bbox</ServiceException></ServiceExceptionReport>',
      type: 'text/xml',
    };
    await assert.rejects(source(url).getFeatureInfo({ ...Q, infoFormat: 'text/xml' }), (e: unknown) => e instanceof SourceError && /bad bbox/.test(e.message));
  });
});
