/**
 * wms sources with `http.method` GET/POST/AUTO and `req.sld` / `req.sld_body`,
 * through the proxy over HTTP against a real upstream that records method,
 * Content-Type and body, as MapProxy 1.15's WMSClient sends them.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startRecordingWms, type RecordingWms } from '../helpers/recording-wms.ts';
import { startProxy, type TestProxy } from '../helpers/proxy-server.ts';
import { loadConfig } from '../../src/config/loader.ts';
import { buildProxy } from '../../src/core/build-proxy.ts';
import { ConfigError } from '../../src/errors.ts';
import { decodeImage } from '../../src/image/codec.ts';
import { WmsSource } from '../../src/source/wms.ts';

const SLD = '<StyledLayerDescriptor version="1.0.0"><NamedLayer><Name>roads</Name><UserStyle><Title>Straße &amp; Weg</Title></UserStyle></NamedLayer></StyledLayerDescriptor>';

/** mapproxy.yaml with one direct WMS layer on source `src`; `source` lines are indented under it. */
function config(url: string, source: string, globals = ''): string {
  return `
globals:
  cache:
    base_dir: ./cache_data
${globals}
services:
  wms:
    srs: ['EPSG:4326', 'EPSG:3857']
    featureinfo_types: [text]
layers:
  - name: direct
    title: Direct
    sources: [src]
sources:
  src:
    type: wms
    wms_opts:
      featureinfo: true
      legendgraphic: true
${source.replaceAll('@URL@', url)}
`;
}

const GETMAP = '/service?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=direct&STYLES=&SRS=EPSG:4326&BBOX=5,45,15,55&WIDTH=200&HEIGHT=100&FORMAT=image/png';

async function get(p: TestProxy, pathAndQuery: string): Promise<{ status: number; type: string; body: Uint8Array }> {
  const r = await fetch(p.url + pathAndQuery);
  return { status: r.status, type: r.headers.get('content-type') ?? '', body: new Uint8Array(await r.arrayBuffer()) };
}

/** The red box of the upstream pattern at 8..10 E, 50..52 N: pixel (70, 30) of the 5,45,15,55 200x100 map. */
async function assertPattern(body: Uint8Array): Promise<void> {
  const r = await decodeImage(body);
  const i = (30 * r.width + 70) * 4;
  assert.deepEqual([...r.data.subarray(i, i + 4)], [220, 0, 0, 255]);
}

describe('wms source http.method and sld', () => {
  let up: RecordingWms;
  let p: TestProxy | undefined;
  before(async () => {
    up = await startRecordingWms();
  });
  after(async () => {
    await up.stop();
  });
  beforeEach(async () => {
    await p?.stop();
    p = undefined;
    up.requests.length = 0;
  });

  it('POST: every GetMap parameter as form body, the URL keeps only its own query', async () => {
    p = await startProxy(config(up.url, `    http:
      method: POST
    req:
      url: @URL@?map=/data/x.map
      layers: roads,rails
      transparent: true
      tiled: 'false'`));
    const r = await get(p, GETMAP);
    assert.equal(r.status, 200);
    assert.equal(r.type, 'image/png');
    await assertPattern(r.body);
    const [seen] = up.getMaps();
    assert.equal(up.requests.length, 1);
    assert.equal(seen.method, 'POST');
    assert.equal(seen.contentType, 'application/x-www-form-urlencoded');
    assert.equal(seen.path, '/wms');
    assert.deepEqual(seen.query, { map: '/data/x.map' });
    const form = Object.fromEntries(new URLSearchParams(seen.body));
    assert.deepEqual(form, {
      service: 'WMS',
      request: 'GetMap',
      version: '1.1.1',
      layers: 'roads,rails',
      styles: '',
      srs: 'EPSG:4326',
      bbox: '5.0,45.0,15.0,55.0',
      width: '200',
      height: '100',
      format: 'image/png',
      transparent: 'True',
      tiled: 'false',
    });
  });

  it("POST to a URL ending in '?' drops the '?', and basic auth from the URL goes along", async () => {
    p = await startProxy(config(up.url.replace('http://', 'http://joe:s3cret@'), `    http:
      method: POST
    req:
      url: @URL@?
      layers: roads`));
    assert.equal((await get(p, GETMAP)).status, 200);
    const [seen] = up.getMaps();
    assert.equal(seen.method, 'POST');
    assert.deepEqual(seen.query, {});
    assert.equal(seen.authorization, 'Basic ' + btoa('joe:s3cret'));
    assert.equal(new URLSearchParams(seen.body).get('layers'), 'roads');
  });

  it('AUTO (the default) asks with GET when there is no sld_body', async () => {
    p = await startProxy(config(up.url, `    req:
      url: @URL@
      layers: roads`));
    assert.equal((await get(p, GETMAP)).status, 200);
    const [seen] = up.getMaps();
    assert.equal(seen.method, 'GET');
    assert.equal(seen.body, '');
    assert.equal(seen.query.bbox, '5.0,45.0,15.0,55.0');
    assert.equal(seen.query.layers, 'roads');
  });

  it('AUTO switches to POST when req has sld_body, which goes in the body unchanged', async () => {
    p = await startProxy(config(up.url, `    req:
      url: @URL@
      layers: roads
      sld_body: '${SLD}'`));
    const r = await get(p, GETMAP);
    assert.equal(r.status, 200);
    await assertPattern(r.body);
    const [seen] = up.getMaps();
    assert.equal(seen.method, 'POST');
    assert.equal(seen.contentType, 'application/x-www-form-urlencoded');
    assert.deepEqual(seen.query, {});
    const form = new URLSearchParams(seen.body);
    assert.equal(form.get('sld_body'), SLD);
    assert.equal(form.get('request'), 'GetMap');
    assert.equal(form.get('layers'), 'roads');
  });

  it('AUTO: sld_body is found whatever its case (MapProxy params are case-insensitive)', async () => {
    p = await startProxy(config(up.url, `    req:
      url: @URL@
      layers: roads
      SLD_BODY: '${SLD}'`));
    assert.equal((await get(p, GETMAP)).status, 200);
    const [seen] = up.getMaps();
    assert.equal(seen.method, 'POST');
    assert.equal(new URLSearchParams(seen.body).get('SLD_BODY'), SLD);
  });

  it('GET keeps sld_body in the URL', async () => {
    p = await startProxy(config(up.url, `    http:
      method: GET
    req:
      url: @URL@
      layers: roads
      sld_body: '${SLD}'`));
    assert.equal((await get(p, GETMAP)).status, 200);
    const [seen] = up.getMaps();
    assert.equal(seen.method, 'GET');
    assert.equal(seen.query.sld_body, SLD);
  });

  it('passes req.sld (a URL) as the sld parameter and stays with GET under AUTO', async () => {
    p = await startProxy(config(up.url, `    req:
      url: @URL@
      layers: roads
      sld: http://styles.example.com/roads.sld`));
    assert.equal((await get(p, GETMAP)).status, 200);
    const [seen] = up.getMaps();
    assert.equal(seen.method, 'GET');
    assert.equal(seen.query.sld, 'http://styles.example.com/roads.sld');
    assert.equal(seen.query.sld_body, undefined);
  });

  it('reads sld: file://... (relative to the config) into sld_body, so AUTO POSTs', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-sld-'));
    fs.mkdirSync(path.join(dir, 'styles'));
    fs.writeFileSync(path.join(dir, 'styles/roads.sld'), SLD);
    fs.writeFileSync(path.join(dir, 'mapproxy.yaml'), config(up.url, `    req:
      url: @URL@
      layers: roads
      sld: file://styles/roads.sld`));
    try {
      const src = buildProxy(loadConfig(path.join(dir, 'mapproxy.yaml'))).sources.get('src') as WmsSource;
      assert.equal(src.opts.params.sld_body, SLD);
      assert.equal(src.opts.params.sld, undefined);
      assert.equal(src.usesPost, true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves a map from an sld: file:// source over HTTP with the file content POSTed', async () => {
    p = await startProxy(
      config(up.url, `    req:
      url: @URL@
      layers: roads
      sld: file://roads.sld`),
      { files: { 'roads.sld': SLD } },
    );
    assert.equal((await get(p, GETMAP)).status, 200);
    const [seen] = up.getMaps();
    assert.equal(seen.method, 'POST');
    const form = new URLSearchParams(seen.body);
    assert.equal(form.get('sld_body'), SLD);
    assert.equal(form.get('sld'), null);
  });

  it('globals.http.method applies to every wms source; a source http.method overrides it', async () => {
    const yaml = config(
      up.url,
      `    req:
      url: @URL@
      layers: roads
  other:
    type: wms
    http:
      method: GET
    req:
      url: @URL@
      layers: other`,
      '  http:\n    method: POST',
    ).replace('sources: [src]', 'sources: [src, other]');
    p = await startProxy(yaml);
    assert.equal((await get(p, GETMAP)).status, 200);
    const maps = up.getMaps();
    assert.equal(maps.length, 2);
    const byLayer = Object.fromEntries(maps.map((m) => [m.params.layers, m.method]));
    assert.deepEqual(byLayer, { roads: 'POST', other: 'GET' });
  });

  it('feature info and legends stay GET with sld_body in the URL (MapProxy POSTs only GetMap)', async () => {
    p = await startProxy(config(up.url, `    http:
      method: POST
    req:
      url: @URL@
      layers: roads
      sld_body: '${SLD}'`));
    const fi = await get(p, '/service?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetFeatureInfo&LAYERS=direct&QUERY_LAYERS=direct&STYLES=&SRS=EPSG:4326&BBOX=5,45,15,55&WIDTH=200&HEIGHT=100&FORMAT=image/png&X=70&Y=30&INFO_FORMAT=text/plain');
    assert.equal(fi.status, 200);
    assert.match(new TextDecoder().decode(fi.body), /red box/);
    const lg = await get(p, '/service?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetLegendGraphic&LAYER=direct&FORMAT=image/png');
    assert.equal(lg.status, 200);
    assert.equal(lg.type, 'image/png');
    const byRequest = Object.fromEntries(up.requests.map((r) => [r.params.request, r]));
    assert.equal(byRequest.GetFeatureInfo.method, 'GET');
    assert.equal(byRequest.GetFeatureInfo.query.sld_body, SLD);
    assert.equal(byRequest.GetLegendGraphic.method, 'GET');
    assert.equal(byRequest.GetLegendGraphic.query.sld_body, SLD);
  });

  it('POSTs the GetMap of a cached layer too (meta tiles through the tile cache)', async () => {
    p = await startProxy(
      config(up.url, `    http:
      method: POST
    req:
      url: @URL@
      layers: roads`).replace(
        'layers:\n  - name: direct',
        'caches:\n  c:\n    grids: [GLOBAL_WEBMERCATOR]\n    sources: [src]\n    meta_size: [2, 2]\n    meta_buffer: 0\nlayers:\n  - name: cached\n    title: Cached\n    sources: [c]\n  - name: direct',
      ).replace('  wms:\n', '  tms:\n  wms:\n'),
    );
    const r = await get(p, '/tms/1.0.0/cached/EPSG3857/1/1/1.png');
    assert.equal(r.status, 200);
    assert.equal(r.type, 'image/png');
    const [seen] = up.getMaps();
    assert.equal(up.getMaps().length, 1);
    assert.equal(seen.method, 'POST');
    const form = new URLSearchParams(seen.body);
    assert.equal(form.get('srs'), 'EPSG:3857');
    assert.equal(form.get('width'), '512');
    assert.equal(form.get('height'), '512');
  });
});

describe('http.method config errors', () => {
  function build(yaml: string): void {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-method-'));
    try {
      fs.writeFileSync(path.join(dir, 'mapproxy.yaml'), yaml);
      buildProxy(loadConfig(path.join(dir, 'mapproxy.yaml')));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  it('rejects a source http.method other than GET, POST or AUTO, naming file, line and key', () => {
    const yaml = config('http://127.0.0.1:9/wms', `    http:
      method: PUT
    req:
      url: @URL@
      layers: roads`);
    const line = yaml.split('\n').findIndex((l) => l.includes('method: PUT')) + 1;
    assert.throws(
      () => build(yaml),
      (e: unknown) => e instanceof ConfigError && e.message.includes(`mapproxy.yaml:${line}: sources.src.http.method: expected GET, POST or AUTO, got 'PUT'`),
    );
  });

  it('rejects a bad globals.http.method at globals.http.method', () => {
    const yaml = config('http://127.0.0.1:9/wms', `    req:
      url: @URL@
      layers: roads`, '  http:\n    method: post');
    assert.throws(() => build(yaml), (e: unknown) => e instanceof ConfigError && /globals\.http\.method: expected GET, POST or AUTO, got 'post'/.test(e.message));
  });

  it('names req.sld when the file:// SLD cannot be read', () => {
    const yaml = config('http://127.0.0.1:9/wms', `    req:
      url: @URL@
      layers: roads
      sld: file://missing.sld`);
    assert.throws(() => build(yaml), (e: unknown) => e instanceof ConfigError && /sources\.src\.req\.sld: cannot read .*missing\.sld: ENOENT/.test(e.message));
  });
});
