import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startWmsUpstream, type WmsUpstream } from '../../helpers/wms-upstream.ts';
import { startProxy, type TestProxy } from '../../helpers/proxy-server.ts';
import { decodeImage, encodeImage } from '../../../src/image/codec.ts';
import { createRaster, getPixel } from '../../../src/image/raster.ts';
import { SCHEMAS, xmllint } from '../../helpers/xmllint.ts';

function config(up: string): string {
  return `
services:
  wms:
    srs: ['EPSG:3857', 'EPSG:4326']
    featureinfo_types: [text, html, xml, json]
layers:
  - name: group
    title: Group
    layers:
      - name: info
        title: Queryable through a cache
        sources: [info_cache]
      - name: infodirect
        title: Queryable source, map off
        sources: [base, info_only]
  - name: static
    title: Static legend
    sources: [base]
    legendurl: file://legend.png
  - name: plain
    title: No info, no legend
    sources: [base]
caches:
  info_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [fi_src]
sources:
  base:
    type: wms
    req: {url: '${up}', layers: base}
  fi_src:
    type: wms
    req: {url: '${up}', layers: roads}
    wms_opts:
      featureinfo: true
      legendgraphic: true
  info_only:
    type: wms
    req: {url: '${up}', layers: parcels}
    wms_opts:
      map: false
      featureinfo: true
      featureinfo_format: text/html
`;
}

describe('WMS GetFeatureInfo and GetLegendGraphic over HTTP', () => {
  let up: WmsUpstream;
  let mp: TestProxy;
  before(async () => {
    up = await startWmsUpstream();
    const legend = await encodeImage(createRaster(30, 12, [0, 120, 0, 255]), { format: 'png' });
    mp = await startProxy(config(up.url), { files: {} });
    await Bun.write(`${mp.dir}/legend.png`, legend);
  });
  after(async () => {
    await mp.stop();
    await up.stop();
  });

  const fi = (q: Record<string, string>, version = '1.1.1') => {
    const v130 = version === '1.3.0';
    const p = new URLSearchParams({
      SERVICE: 'WMS', REQUEST: 'GetFeatureInfo', VERSION: version, LAYERS: 'info', QUERY_LAYERS: 'info', STYLES: '',
      [v130 ? 'CRS' : 'SRS']: 'EPSG:4326', BBOX: v130 ? '40,0,60,20' : '0,40,20,60', WIDTH: '200', HEIGHT: '200', FORMAT: 'image/png',
      [v130 ? 'I' : 'X']: '90', [v130 ? 'J' : 'Y']: '90', INFO_FORMAT: 'text/plain', ...q,
    });
    return fetch(`${mp.url}/service?${p}`);
  };

  it('forwards GetFeatureInfo to the queryable source behind a cache and answers its text', async () => {
    up.requests.length = 0;
    up.featureInfo = 'roads: A7';
    const r = await fi({});
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(await r.text(), 'roads: A7');
    const q = up.requests.find((x) => x.params.request === 'GetFeatureInfo')!;
    assert.equal(q.params.query_layers, 'roads');
    assert.equal(q.params.info_format, 'text/plain');
    assert.ok(q.params.x !== undefined && q.params.y !== undefined);
  });

  it('merges the answers of several queryable layers and uses I/J at 1.3.0', async () => {
    up.requests.length = 0;
    up.featureInfo = '<html><body><p>hit</p></body></html>';
    const r = await fi({ LAYERS: 'info,infodirect', QUERY_LAYERS: 'info,infodirect', INFO_FORMAT: 'text/html' }, '1.3.0');
    assert.equal(r.status, 200);
    const body = await r.text();
    assert.equal(body.match(/<p>hit<\/p>/g)?.length, 2, body);
    assert.equal(body.match(/<body>/g)?.length, 1, 'one merged document');
    const reqs = up.requests.filter((x) => x.params.request === 'GetFeatureInfo');
    assert.equal(reqs.length, 2);
    assert.ok(reqs.some((x) => x.params.query_layers === 'parcels' && x.params.info_format === 'text/html'));
  });

  it('queries the children of a group layer', async () => {
    up.featureInfo = 'group hit';
    const r = await fi({ LAYERS: 'group', QUERY_LAYERS: 'group' });
    assert.equal(r.status, 200);
    assert.match(await r.text(), /group hit/);
  });

  it('refuses bad feature info requests with OGC exceptions', async () => {
    const missing = await fi({ X: '', Y: '' });
    assert.equal(missing.status, 400);
    const outside = await fi({ X: '500' });
    assert.equal(outside.status, 400);
    assert.match(await outside.text(), /invalid point/);
    const unknown = await fi({ QUERY_LAYERS: 'nope' });
    assert.match(await unknown.text(), /LayerNotDefined/);
    const fmt = await fi({ INFO_FORMAT: 'application/pdf' });
    assert.match(await fmt.text(), /InvalidFormat/);
    up.mode = 'error500';
    try {
      const failing = await fi({});
      assert.equal(failing.status, 502);
    } finally {
      up.mode = 'ok';
    }
  });

  it('answers GetLegendGraphic from the source and caches the legend', async () => {
    up.requests.length = 0;
    const url = `${mp.url}/service?SERVICE=WMS&REQUEST=GetLegendGraphic&VERSION=1.1.1&FORMAT=image/png&LAYER=info`;
    const r = await fetch(url);
    assert.equal(r.status, 200);
    const img = await decodeImage(new Uint8Array(await r.arrayBuffer()));
    assert.deepEqual([img.width, img.height], [40, 20]);
    assert.deepEqual([...getPixel(img, 5, 5)], [0, 0, 200, 255]);
    const again = await fetch(url);
    await again.arrayBuffer();
    assert.equal(up.requests.filter((x) => x.params.request === 'GetLegendGraphic').length, 1, 'second legend from the legend cache');
  });

  it('answers a static file:// legend and 404 for a layer without one', async () => {
    const r = await fetch(`${mp.url}/service?SERVICE=WMS&REQUEST=GetLegendGraphic&VERSION=1.3.0&FORMAT=image/png&LAYER=static&SLD_VERSION=1.1.0`);
    assert.equal(r.status, 200);
    const img = await decodeImage(new Uint8Array(await r.arrayBuffer()));
    assert.deepEqual([img.width, img.height], [30, 12]);
    const none = await fetch(`${mp.url}/service?SERVICE=WMS&REQUEST=GetLegendGraphic&VERSION=1.1.1&FORMAT=image/png&LAYER=plain`);
    assert.equal(none.status, 404);
    const unknown = await fetch(`${mp.url}/service?SERVICE=WMS&REQUEST=GetLegendGraphic&VERSION=1.1.1&FORMAT=image/png&LAYER=nope`);
    assert.match(await unknown.text(), /LayerNotDefined/);
  });

  it('marks queryable layers and lists legend URLs with their sizes in valid capabilities', async () => {
    const c111 = await (await fetch(`${mp.url}/service?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.1.1`)).text();
    const v = xmllint(c111, ['--dtdvalid', SCHEMAS.wms111]);
    assert.equal(v.status, 0, v.stderr);
    assert.match(c111, /<Layer queryable="1">\s*<Name>info<\/Name>/);
    assert.match(c111, /<Layer(?: queryable="0")?>\s*<Name>plain<\/Name>/);
    assert.match(c111, /<LegendURL width="30" height="12">/);
    assert.match(c111, /<LegendURL width="40" height="20">/);
    const c130 = await (await fetch(`${mp.url}/service?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0`)).text();
    const v130 = xmllint(c130, ['--schema', SCHEMAS.sld110]);
    assert.equal(v130.status, 0, v130.stderr);
    assert.match(c130, /GetLegendGraphic/);
  });
});
