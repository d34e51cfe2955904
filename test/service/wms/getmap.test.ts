import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startWmsUpstream, near, FEATURES, BACKGROUND, type WmsUpstream } from '../../helpers/wms-upstream.ts';
import { startProxy, type TestProxy } from '../../helpers/proxy-server.ts';
import { decodeImage, sniffImageFormat } from '../../../src/image/codec.ts';
import { getPixel, type Raster } from '../../../src/image/raster.ts';
import { getSrs } from '../../../src/srs/srs.ts';
import { SCHEMAS, xmllint } from '../../helpers/xmllint.ts';

const RED = FEATURES[0].color;

function config(up: string): string {
  return `
services:
  tms:
    origin: nw
  wms:
    srs: ['EPSG:3857', 'EPSG:900913', 'EPSG:4326', 'EPSG:25832', 'CRS:84']
    md:
      title: Test WMS
    max_output_pixels: [2000, 2000]
globals:
  http:
    client_timeout: 2
layers:
  - name: cached
    title: Cached
    sources: [wms_cache]
  - name: direct
    title: Direct
    sources: [upstream]
  - name: failing
    title: Failing
    sources: [fail_cache]
caches:
  wms_cache:
    grids: [webmercator]
    sources: [upstream]
    meta_size: [4, 4]
    meta_buffer: 0
  fail_cache:
    grids: [webmercator]
    sources: [fail_src]
    meta_size: [2, 2]
    meta_buffer: 0
    image:
      transparent: true
sources:
  upstream:
    type: wms
    req:
      url: ${up}
      layers: base
    supported_srs: ['EPSG:3857', 'EPSG:4326']
  fail_src:
    type: wms
    req:
      url: ${up.replace('/wms', '/fail')}
      layers: base
grids:
  webmercator:
    base: GLOBAL_WEBMERCATOR
`;
}

async function getImage(url: string): Promise<{ status: number; raster?: Raster; type: string; body: Uint8Array }> {
  const r = await fetch(url);
  const body = new Uint8Array(await r.arrayBuffer());
  const type = r.headers.get('content-type') ?? '';
  return { status: r.status, type, body, raster: type.startsWith('image/') ? await decodeImage(body) : undefined };
}

function text(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}

/** Pixel of a lon/lat in a GetMap image of bbox (in srs) and size. */
function pixelOf(lon: number, lat: number, srsCode: string, bbox: number[], size: [number, number]): [number, number] {
  const [x, y] = getSrs('EPSG:4326').transformPoint([lon, lat], getSrs(srsCode));
  return [((x - bbox[0]) / (bbox[2] - bbox[0])) * size[0], ((bbox[3] - y) / (bbox[3] - bbox[1])) * size[1]];
}

/** Asserts the red box lands where it should: inside 2 px in from its corners, outside 2 px out. */
function assertRedBox(r: Raster, srsCode: string, bbox: number[], size: [number, number]): void {
  const [w, s, e, n] = FEATURES[0].box;
  const cx = (w + e) / 2;
  const cy = (s + n) / 2;
  const [px, py] = pixelOf(cx, cy, srsCode, bbox, size);
  assert.ok(near(getPixel(r, Math.floor(px), Math.floor(py)), RED), `centre ${px},${py} is red`);
  // along the horizontal and vertical through the centre, the edges land within 1 px
  const [lx] = pixelOf(w, cy, srsCode, bbox, size);
  const [rx] = pixelOf(e, cy, srsCode, bbox, size);
  const [, ty] = pixelOf(cx, n, srsCode, bbox, size);
  const [, by] = pixelOf(cx, s, srsCode, bbox, size);
  const row = Math.floor(py);
  const col = Math.floor(px);
  assert.ok(near(getPixel(r, Math.floor(lx) + 2, row), RED), 'just inside the west edge');
  assert.ok(near(getPixel(r, Math.floor(lx) - 2, row), BACKGROUND), 'just outside the west edge');
  assert.ok(near(getPixel(r, Math.floor(rx) - 2, row), RED), 'just inside the east edge');
  assert.ok(near(getPixel(r, Math.floor(rx) + 2, row), BACKGROUND), 'just outside the east edge');
  assert.ok(near(getPixel(r, col, Math.floor(ty) + 2), RED), 'just inside the north edge');
  assert.ok(near(getPixel(r, col, Math.floor(ty) - 2), BACKGROUND), 'just outside the north edge');
  assert.ok(near(getPixel(r, col, Math.floor(by) - 2), RED), 'just inside the south edge');
  assert.ok(near(getPixel(r, col, Math.floor(by) + 2), BACKGROUND), 'just outside the south edge');
}

describe('WMS GetMap over HTTP', () => {
  let up: WmsUpstream;
  let mp: TestProxy;
  before(async () => {
    up = await startWmsUpstream();
    mp = await startProxy(config(up.url));
  });
  after(async () => {
    await mp.stop();
    await up.stop();
  });

  const getmap = (q: Record<string, string>) => {
    const p = new URLSearchParams({ SERVICE: 'WMS', REQUEST: 'GetMap', VERSION: '1.1.1', STYLES: '', FORMAT: 'image/png', ...q });
    return `${mp.url}/service?${p}`;
  };

  it('answers a GetMap in EPSG:3857 from the cache with the feature at the right pixels', async () => {
    const bbox = [556597, 6106855, 1335834, 7000000]; // about 5..12 E, 48..53.5 N
    const size: [number, number] = [512, 456];
    const r = await getImage(getmap({ LAYERS: 'cached', SRS: 'EPSG:3857', BBOX: bbox.join(','), WIDTH: String(size[0]), HEIGHT: String(size[1]) }));
    assert.equal(r.status, 200, text(r.body));
    assert.equal(r.type, 'image/png');
    assertRedBox(r.raster!, 'EPSG:3857', bbox, size);
    for (const req of up.requests) assert.equal(req.params.srs, 'EPSG:3857');
  });

  it('reprojects the EPSG:3857 cache into EPSG:4326 and EPSG:25832', async () => {
    const b4326 = [4, 47, 14, 55];
    const r1 = await getImage(getmap({ LAYERS: 'cached', SRS: 'EPSG:4326', BBOX: b4326.join(','), WIDTH: '500', HEIGHT: '400' }));
    assert.equal(r1.status, 200, text(r1.body));
    assertRedBox(r1.raster!, 'EPSG:4326', b4326, [500, 400]);
    const b25832 = [300000, 5400000, 700000, 5900000];
    const r2 = await getImage(getmap({ LAYERS: 'cached', SRS: 'EPSG:25832', BBOX: b25832.join(','), WIDTH: '400', HEIGHT: '500' }));
    assert.equal(r2.status, 200, text(r2.body));
    assertRedBox(r2.raster!, 'EPSG:25832', b25832, [400, 500]);
  });

  it('reads WMS 1.3.0 EPSG:4326 bboxes in lat/lon order and CRS:84 in lon/lat', async () => {
    const p = { SERVICE: 'WMS', REQUEST: 'GetMap', VERSION: '1.3.0', STYLES: '', FORMAT: 'image/png', LAYERS: 'cached', WIDTH: '500', HEIGHT: '400' };
    const r1 = await getImage(`${mp.url}/service?${new URLSearchParams({ ...p, CRS: 'EPSG:4326', BBOX: '47,4,55,14' })}`);
    assert.equal(r1.status, 200, text(r1.body));
    assertRedBox(r1.raster!, 'EPSG:4326', [4, 47, 14, 55], [500, 400]);
    const r2 = await getImage(`${mp.url}/service?${new URLSearchParams({ ...p, CRS: 'CRS:84', BBOX: '4,47,14,55' })}`);
    assertRedBox(r2.raster!, 'EPSG:4326', [4, 47, 14, 55], [500, 400]);
  });

  it('asks an uncached source in a supported SRS and reprojects into the requested one', async () => {
    up.requests.length = 0;
    const b = [300000, 5400000, 700000, 5900000];
    const r = await getImage(getmap({ LAYERS: 'direct', SRS: 'EPSG:25832', BBOX: b.join(','), WIDTH: '400', HEIGHT: '500' }));
    assert.equal(r.status, 200, text(r.body));
    assert.equal(up.requests.length, 1);
    assert.equal(up.requests[0].params.srs, 'EPSG:3857', 'projected requests prefer a projected source SRS');
    assertRedBox(r.raster!, 'EPSG:25832', b, [400, 500]);
  });

  it('asks the upstream once per meta tile and serves the other tiles of it from the cache', async () => {
    up.requests.length = 0;
    // level 6, tiles 8..11 x 40..43 are one 4x4 meta tile (nothing else asked for them)
    const t1 = await fetch(`${mp.url}/tiles/cached_EPSG3857/6/9/41.png`);
    assert.equal(t1.status, 200);
    await t1.arrayBuffer();
    assert.equal(up.requests.length, 1);
    const p = up.requests[0].params;
    assert.equal(p.width, '1024');
    assert.equal(p.height, '1024');
    for (const [x, y] of [[8, 40], [11, 43], [10, 42]]) {
      const t = await fetch(`${mp.url}/tiles/cached_EPSG3857/6/${x}/${y}.png`);
      assert.equal(t.status, 200);
      await t.arrayBuffer();
    }
    assert.equal(up.requests.length, 1, 'no further upstream request inside the meta tile');
    const dir = path.join(mp.dir, 'cache_data', 'wms_cache_EPSG3857', '06');
    void fs;
    for (let x = 8; x < 12; x++) {
      for (let y = 40; y < 44; y++) {
        const f = path.join(dir, '000', '000', String(x).padStart(3, '0'), '000', '000', String(y).padStart(3, '0') + '.png');
        assert.ok(fs.existsSync(f), `tile ${x},${y} of the meta tile is stored`);
      }
    }
  });

  it('makes 32 concurrent requests for tiles of one meta tile cause exactly one upstream request', async () => {
    up.requests.length = 0;
    up.delayMs = 150;
    try {
      const urls: string[] = [];
      for (let i = 0; i < 32; i++) urls.push(`${mp.url}/tiles/cached_EPSG3857/7/${20 + (i % 4)}/${80 + (Math.floor(i / 4) % 4)}.png`);
      const res = await Promise.all(urls.map((u) => fetch(u).then(async (r) => ({ status: r.status, body: new Uint8Array(await r.arrayBuffer()) }))));
      for (const r of res) {
        assert.equal(r.status, 200);
        assert.equal(sniffImageFormat(r.body), 'png');
      }
      assert.equal(up.requests.length, 1);
    } finally {
      up.delayMs = 0;
    }
  });

  it('merges several layers bottom to top', async () => {
    const b = [4, 47, 14, 55];
    const r = await getImage(getmap({ LAYERS: 'direct,cached', SRS: 'EPSG:4326', BBOX: b.join(','), WIDTH: '200', HEIGHT: '160' }));
    assert.equal(r.status, 200, text(r.body));
    assertRedBox(r.raster!, 'EPSG:4326', b, [200, 160]);
  });

  it('answers JPEG and honours TRANSPARENT and BGCOLOR where no data is', async () => {
    const out = [100, 0, 120, 10];
    // outside the world of a EPSG:3857 grid? No: use a part of EPSG:4326 beyond the mercator limit
    const polar = [0, 86, 10, 90];
    const j = await getImage(getmap({ LAYERS: 'cached', SRS: 'EPSG:4326', BBOX: out.join(','), WIDTH: '64', HEIGHT: '64', FORMAT: 'image/jpeg' }));
    assert.equal(j.type, 'image/jpeg');
    const t = await getImage(getmap({ LAYERS: 'cached', SRS: 'EPSG:4326', BBOX: polar.join(','), WIDTH: '64', HEIGHT: '64', TRANSPARENT: 'true' }));
    assert.equal(t.status, 200);
    assert.equal(getPixel(t.raster!, 10, 10)[3], 0, 'beyond the mercator limit is transparent');
    const bg = await getImage(getmap({ LAYERS: 'cached', SRS: 'EPSG:4326', BBOX: polar.join(','), WIDTH: '64', HEIGHT: '64', BGCOLOR: '0x00ff00' }));
    assert.deepEqual([...getPixel(bg.raster!, 10, 10)], [0, 255, 0, 255]);
  });
});

describe('WMS bad input', () => {
  let up: WmsUpstream;
  let mp: TestProxy;
  before(async () => {
    up = await startWmsUpstream();
    mp = await startProxy(config(up.url));
  });
  after(async () => {
    await mp.stop();
    await up.stop();
  });

  const base = { SERVICE: 'WMS', REQUEST: 'GetMap', VERSION: '1.1.1', STYLES: '', FORMAT: 'image/png', LAYERS: 'cached', SRS: 'EPSG:4326', BBOX: '4,47,14,55', WIDTH: '100', HEIGHT: '100' };
  const call = async (q: Record<string, string | undefined>, version = '1.1.1') => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...base, VERSION: version, ...q })) if (v !== undefined) p.set(k, v);
    const r = await fetch(`${mp.url}/service?${p}`);
    return { status: r.status, type: r.headers.get('content-type') ?? '', body: await r.text(), cc: r.headers.get('cache-control') ?? '' };
  };

  const cases: [string, Record<string, string | undefined>, string, RegExp][] = [
    ['malformed bbox', { BBOX: '1,2,three,4' }, 'InvalidParameterValue', /invalid bbox/],
    ['bbox with three values', { BBOX: '1,2,3' }, 'InvalidParameterValue', /invalid bbox/],
    ['inverted bbox', { BBOX: '14,55,4,47' }, 'InvalidParameterValue', /invalid bbox/],
    ['zero width', { WIDTH: '0' }, 'InvalidParameterValue', /invalid width/],
    ['negative height', { HEIGHT: '-5' }, 'InvalidParameterValue', /invalid height/],
    ['non-numeric width', { WIDTH: 'abc' }, 'InvalidParameterValue', /invalid width/],
    ['over max_output_pixels', { WIDTH: '5000', HEIGHT: '5000' }, 'InvalidParameterValue', /image size too large/],
    ['unknown layer', { LAYERS: 'nope' }, 'LayerNotDefined', /unknown layer: nope/],
    ['unsupported srs', { SRS: 'EPSG:31467' }, 'InvalidSRS', /unsupported srs/],
    ['unknown srs code', { SRS: 'EPSG:999999' }, 'InvalidSRS', /unsupported srs/],
    ['unsupported format', { FORMAT: 'image/webp' }, 'InvalidFormat', /unsupported image format/],
    ['missing bbox and width', { BBOX: undefined, WIDTH: undefined }, 'MissingParameterValue', /missing parameters \[&#39;bbox&#39;, &#39;width&#39;\]/],
    ['unknown style', { STYLES: 'fancy' }, 'StyleNotDefined', /unsupported styles/],
    ['unknown request', { REQUEST: 'GetCoffee' }, 'InvalidRequest', /unknown WMS request type/],
  ];
  for (const [name, q, code, msg] of cases) {
    it(`answers ${name} with the OGC exception ${code}`, async () => {
      const r = await call(q);
      assert.equal(r.status, 400, r.body);
      assert.equal(r.type, 'application/vnd.ogc.se_xml');
      assert.match(r.body, new RegExp(`code="${code}"`));
      assert.match(r.body, msg);
      assert.doesNotMatch(r.body, /at .*\.ts:\d+/, 'no stack trace');
    });
  }

  it('answers 1.3.0 errors in the 1.3.0 exception format with InvalidCRS', async () => {
    const r = await call({ SRS: undefined, CRS: 'EPSG:31467' }, '1.3.0');
    assert.equal(r.status, 400);
    assert.match(r.body, /xmlns="http:\/\/www.opengis.net\/ogc"/);
    assert.match(r.body, /code="InvalidCRS"/);
  });

  it('refuses a huge LAYERS list quickly with LayerNotDefined', async () => {
    // 1100 names stay under the 8192-character URL limit of the app (longer URLs get 414 before the WMS sees them)
    const layers = Array.from({ length: 1100 }, (_, i) => `l${i}`).join(',');
    const r = await call({ LAYERS: layers });
    assert.equal(r.status, 400);
    assert.match(r.body, /LayerNotDefined/);
    assert.ok(r.body.length < 2000, 'the answer does not echo the whole list');
  });

  it('renders the message into the image for EXCEPTIONS=application/vnd.ogc.se_inimage and a blank image for BLANK', async () => {
    const p = new URLSearchParams({ ...base, LAYERS: 'nope', EXCEPTIONS: 'application/vnd.ogc.se_inimage' });
    const r = await getImage(`${mp.url}/service?${p}`);
    assert.equal(r.type, 'image/png');
    assert.equal(r.raster!.width, 100);
    const dark = [...Array(100 * 20).keys()].some((i) => getPixel(r.raster!, i % 100, Math.floor(i / 100))[0] < 100);
    assert.ok(dark, 'the message is drawn');
    p.set('EXCEPTIONS', 'application/vnd.ogc.se_blank');
    const b = await getImage(`${mp.url}/service?${p}`);
    assert.deepEqual([...getPixel(b.raster!, 5, 10)], [255, 255, 255, 255]);
  });

  for (const mode of ['error500', 'exception', 'html', 'truncated', 'hang'] as const) {
    it(`answers an upstream that ${mode === 'hang' ? 'hangs' : `sends ${mode}`} with an exception and caches nothing`, async () => {
      up.mode = mode;
      up.requests.length = 0;
      try {
        const bbox = mode === 'hang' ? '-20,-40,-5,-15' : `${-170 + ['error500', 'exception', 'html', 'truncated'].indexOf(mode) * 20},10,${-160 + ['error500', 'exception', 'html', 'truncated'].indexOf(mode) * 20},20`;
        const started = Date.now();
        const r = await call({ BBOX: bbox });
        assert.ok(Date.now() - started < 10000);
        assert.equal(r.status, 502, r.body);
        assert.match(r.body, /ServiceException/);
        assert.match(r.cc, /no-cache/);
        assert.ok(up.requests.length >= 1);
        const tile = await fetch(`${mp.url}/tiles/cached_EPSG3857/1/0/0.png`);
        await tile.arrayBuffer();
      } finally {
        up.mode = 'ok';
      }
      const dir = path.join(mp.dir, 'cache_data', 'wms_cache_EPSG3857');
      const files = fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true }).map(String) : [];
      for (const f of files) assert.doesNotMatch(f, /\.tmp/, 'no temp files left');
    });
  }

  it('notifies about a failing source in the image when other layers rendered (on_source_errors: notify)', async () => {
    const p = new URLSearchParams({ ...base, LAYERS: 'cached,failing', BBOX: '4,47,14,55' });
    const r = await fetch(`${mp.url}/service?${p}`);
    assert.equal(r.status, 200, r.status === 200 ? '' : await r.clone().text());
    assert.match(r.headers.get('cache-control') ?? '', /no-cache/);
    const img = await decodeImage(new Uint8Array(await r.arrayBuffer()));
    assert.equal(img.width, 100);
  });
});

describe('WMS capabilities over HTTP', () => {
  let up: WmsUpstream;
  let mp: TestProxy;
  before(async () => {
    up = await startWmsUpstream();
    mp = await startProxy(config(up.url));
  });
  after(async () => {
    await mp.stop();
    await up.stop();
  });

  const caps = async (version: string, headers: Record<string, string> = {}, endpoint = 'service') => {
    const r = await fetch(`${mp.url}/${endpoint}?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=${version}`, { headers });
    return { status: r.status, type: r.headers.get('content-type') ?? '', body: await r.text() };
  };

  for (const [version, args] of [
    ['1.0.0', ['--dtdvalid', SCHEMAS.wms100]],
    ['1.1.0', ['--dtdvalid', SCHEMAS.wms110]],
    ['1.1.1', ['--dtdvalid', SCHEMAS.wms111]],
    ['1.3.0', ['--schema', SCHEMAS.wms130]],
  ] as const) {
    it(`answers ${version} capabilities that validate against the OGC schema`, async () => {
      const c = await caps(version);
      assert.equal(c.status, 200);
      const v = xmllint(c.body, [...args]);
      assert.equal(v.status, 0, v.stderr);
    });
  }

  it('lists the layers, SRS and formats, with bboxes in the 1.3.0 axis order', async () => {
    const c = await caps('1.3.0');
    assert.match(c.type, /text\/xml/);
    for (const name of ['cached', 'direct', 'failing']) assert.match(c.body, new RegExp(`<Name>${name}</Name>`));
    assert.match(c.body, /<CRS>EPSG:25832<\/CRS>/);
    assert.match(c.body, /<Format>image\/jpeg<\/Format>/);
    assert.match(c.body, /<Title>Test WMS<\/Title>/);
    assert.match(c.body, /<MaxWidth>2000<\/MaxWidth>/);
    // the cached layer's EPSG:4326 bbox is the mercator square: latitude first at 1.3.0
    assert.match(c.body, /<BoundingBox CRS="EPSG:4326" minx="-85\.0511\d*" miny="-180(\.0)?" maxx="85\.0511\d*" maxy="180(\.0)?"/);
    const c111 = await caps('1.1.1');
    assert.equal(c111.type, 'application/vnd.ogc.wms_xml');
    assert.match(c111.body, /<BoundingBox SRS="EPSG:4326" minx="-180(\.0)?" miny="-85\.0511\d*"/);
  });

  it('negotiates the version and answers on /ows and /wms too', async () => {
    const c = await caps('1.2.0');
    assert.match(c.body, /WMT_MS_Capabilities version="1.1.1"/);
    const none = await fetch(`${mp.url}/ows?SERVICE=WMS&REQUEST=GetCapabilities`);
    assert.match(await none.text(), /<WMS_Capabilities[^>]*version="1.3.0"/);
    const w = await caps('1.1.1', {}, 'wms');
    assert.equal(w.status, 200);
    const bad = await fetch(`${mp.url}/ows?REQUEST=GetCapabilities`);
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /MissingParameterValue/);
  });

  it('writes URLs for the Host, X-Forwarded-Host, X-Forwarded-Proto and X-Script-Name the client came through', async () => {
    const c = await caps('1.1.1', { 'X-Forwarded-Host': 'maps.example.org, proxy.internal', 'X-Forwarded-Proto': 'https', 'X-Script-Name': '/mapproxy' });
    assert.match(c.body, /xlink:href="https:\/\/maps\.example\.org\/mapproxy\/service\?"/);
    assert.doesNotMatch(c.body, /127\.0\.0\.1/);
    const h = await caps('1.3.0', { Host: 'tiles.example.com:8080' });
    assert.match(h.body, /http:\/\/tiles\.example\.com:8080\/service\?/);
    const evil = await caps('1.3.0', { Host: 'x"><script>' });
    assert.doesNotMatch(evil.body, /<script>/);
  });
});
