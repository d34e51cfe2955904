import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BandMerger, bandMergerFromConfig, factorTable, pyFixed6 } from '../../src/image/band-merge.ts';
import { createRaster, getPixel, type Rgba } from '../../src/image/raster.ts';
import { decodeImage, encodeImage } from '../../src/image/codec.ts';
import { serveHttp, type RunningServer } from '../../src/runtime/serve.ts';
import { startProxy, type TestProxy } from '../helpers/proxy-server.ts';
import { startWmsUpstream, BACKGROUND, FEATURES, type WmsUpstream } from '../helpers/wms-upstream.ts';
import { loadConfig } from '../../src/config/loader.ts';
import { buildProxy } from '../../src/core/build-proxy.ts';
import { ConfigError } from '../../src/errors.ts';

// Upstream colours. The expected values below are MapProxy 1.15's BandMerger
// arithmetic done by hand: factor 1 copies the band (dropping earlier terms),
// other factors add trunc(float32(v * float32(factor))), clamped to 0..255.
const A: Rgba = [200, 100, 50, 255];
const B: Rgba = [10, 220, 130, 255];
const C: Rgba = [90, 60, 30, 128];

const fail = (p: string, msg: string): never => {
  throw new ConfigError(msg, { file: '', path: p });
};

describe('BandMerger', () => {
  const size: [number, number] = [4, 2];
  const imgs = [createRaster(4, 2, A), createRaster(4, 2, B), createRaster(4, 2, C)];
  const merge = (conf: Record<string, unknown>, names = ['a', 'b', 'c']) => {
    const { merger, sourceNames } = bandMergerFromConfig(conf, 'caches.x.sources', fail);
    // the merger's sources in its own order (first use)
    return merger.merge(sourceNames.map((n) => imgs[names.indexOf(n)]), size);
  };

  it('weights, truncates in float32 and adds the terms of a band', () => {
    const r = merge({
      // 200 * 0.5 = 100, plus 220 * 0.4 = 88 -> 188
      r: [{ source: 'a', band: 0, factor: 0.5 }, { source: 'b', band: 1, factor: 0.4 }],
      // 90 * 0.7 is 62.99999999999999 in float64 but 63 in float32 (PIL's ImageMath)
      g: [{ source: 'c', band: 0, factor: 0.7 }],
      // factor 1 replaces: 130, not 100 * 0.25 + 130
      b: [{ source: 'a', band: 1, factor: 0.25 }, { source: 'b', band: 2 }],
    })!;
    assert.deepEqual(getPixel(r, 0, 0), [188, 63, 130, 255]);
    assert.deepEqual(getPixel(r, 3, 1), [188, 63, 130, 255]);
  });

  it('clamps sums above 255 and negative terms to 0', () => {
    const r = merge({
      r: [{ source: 'a', band: 0, factor: 1.5 }], // 300
      g: [{ source: 'a', band: 0, factor: 0.9 }, { source: 'b', band: 1, factor: 0.5 }], // 180 + 110
      b: [{ source: 'a', band: 2, factor: -1 }],
    })!;
    assert.deepEqual(getPixel(r, 1, 1), [255, 255, 0, 255]);
  });

  it('makes a grey image from an l band', () => {
    const { merger } = bandMergerFromConfig(
      { l: [{ source: 'a', band: 0, factor: 0.299 }, { source: 'a', band: 1, factor: 0.587 }, { source: 'a', band: 2, factor: 0.114 }] },
      'caches.x.sources',
      fail,
    );
    assert.equal(merger.mode, 'L');
    // 59.8 -> 59, 58.7 -> 58, 5.7 -> 5
    assert.deepEqual(getPixel(merger.merge([imgs[0]], size)!, 2, 0), [122, 122, 122, 255]);
  });

  it('writes alpha only with an a band; bands nothing writes are 0', () => {
    const rgba = bandMergerFromConfig({ r: [{ source: 'c', band: 0 }], a: [{ source: 'c', band: 3 }] }, 'p', fail).merger;
    assert.equal(rgba.mode, 'RGBA');
    assert.deepEqual(getPixel(rgba.merge([imgs[2]], size)!, 0, 0), [90, 0, 0, 128]);
    const rgb = bandMergerFromConfig({ r: [{ source: 'c', band: 3 }] }, 'p', fail).merger;
    assert.equal(rgb.mode, 'RGB');
    // band 3 of an opaque source is 255; without an a band the result is opaque
    assert.deepEqual(getPixel(rgb.merge([imgs[0]], size)!, 0, 0), [255, 0, 0, 255]);
    assert.deepEqual(getPixel(rgb.merge([imgs[2]], size)!, 0, 0), [128, 0, 0, 255]);
  });

  it('has no image when any source has none', () => {
    const m = bandMergerFromConfig({ r: [{ source: 'a', band: 0 }], g: [{ source: 'b', band: 0 }] }, 'p', fail).merger;
    assert.equal(m.sourceCount, 2);
    assert.equal(m.merge([imgs[0], null], size), null);
    assert.equal(m.merge([imgs[0]], size), null);
  });

  it('prints factors with six decimals as Python does (ties to even)', () => {
    assert.equal(pyFixed6(0.0078125), 0.007812);
    assert.equal(pyFixed6(0.0234375), 0.023438);
    assert.equal(pyFixed6(-0.0078125), -0.007812);
    assert.equal(pyFixed6(0.1234567), 0.123457);
    // 128 * 0.007812 < 1 <= 128 * 0.007813
    assert.equal(factorTable(0.0078125)[128], 0);
    assert.deepEqual([...factorTable(0.7)].slice(88, 92), [61, 62, 63, 63]);
  });

  it('lists its sources in order of first use', () => {
    const { sourceNames, sourcePaths, merger } = bandMergerFromConfig(
      { g: [{ source: 'y', band: 1 }], r: [{ source: 'x', band: 0 }, { source: 'y', band: 2 }] },
      'caches.m.sources',
      fail,
    );
    assert.deepEqual(sourceNames, ['y', 'x']);
    assert.deepEqual(sourcePaths, ['caches.m.sources.g[0].source', 'caches.m.sources.r[0].source']);
    assert.deepEqual(merger.ops.map((o) => [o.dstBand, o.srcImg, o.srcBand, o.factor]), [[1, 0, 1, 1], [0, 1, 0, 1], [0, 0, 2, 1]]);
  });
});

/** A tile upstream answering /<name>/z/x/y.png with one colour per name. */
async function startColourUpstream(colours: Record<string, Rgba>): Promise<{ url: string; paths: string[]; stop(): Promise<void> }> {
  const bytes = new Map<string, Uint8Array>();
  for (const [k, c] of Object.entries(colours)) bytes.set(k, await encodeImage(createRaster(256, 256, c), { format: 'png' }));
  const paths: string[] = [];
  const server: RunningServer = await serveHttp({
    hostname: '127.0.0.1',
    port: 0,
    fetch: (req) => {
      const p = new URL(req.url).pathname;
      paths.push(p);
      const b = bytes.get(p.split('/')[1]);
      return b ? new Response(b as BodyInit, { headers: { 'Content-Type': 'image/png' } }) : new Response('no', { status: 404 });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, paths, stop: () => server.stop() };
}

describe('band merging caches over HTTP', () => {
  let up: Awaited<ReturnType<typeof startColourUpstream>>;
  let wms: WmsUpstream;
  let mp: TestProxy;
  before(async () => {
    up = await startColourUpstream({ a: A, b: B, c: C });
    wms = await startWmsUpstream();
    const src = (name: string, extra = '') => `  ${name}: {type: tile, grid: GLOBAL_WEBMERCATOR, url: '${up.url}/${name}/%(z)s/%(x)s/%(y)s.png'${extra}}`;
    mp = await startProxy(`
services:
  tms:
  wms:
    srs: ['EPSG:3857']
layers:
  - {name: rgb, title: RGB, sources: [rgb_cache]}
  - {name: grey, title: Grey, sources: [grey_cache]}
  - {name: rgba, title: RGBA, sources: [rgba_cache]}
  - {name: partial, title: One source outside its coverage, sources: [partial_cache]}
  - {name: swapped, title: WMS bands swapped, sources: [swapped_cache]}
  - {name: bulk, title: Bulk meta tiles, sources: [bulk_cache]}
caches:
  rgb_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources:
      r: [{source: a, band: 0, factor: 0.5}, {source: b, band: 1, factor: 0.4}]
      g: [{source: c, band: 0, factor: 0.7}]
      b: [{source: a, band: 1, factor: 0.25}, {source: b, band: 2}]
  grey_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources:
      l: [{source: a, band: 0, factor: 0.299}, {source: a, band: 1, factor: 0.587}, {source: a, band: 2, factor: 0.114}]
  rgba_cache:
    grids: [GLOBAL_WEBMERCATOR]
    image: {transparent: true}
    sources:
      r: [{source: c, band: 0}]
      b: [{source: b, band: 2, factor: 0.5}]
      a: [{source: c, band: 3}]
  partial_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources:
      r: [{source: a, band: 0}]
      g: [{source: far, band: 1}]
  swapped_cache:
    grids: [GLOBAL_WEBMERCATOR]
    meta_size: [2, 2]
    meta_buffer: 10
    sources:
      r: [{source: w, band: 1}]
      g: [{source: w, band: 0, factor: 0.5}]
      b: [{source: w, band: 2}]
  bulk_cache:
    grids: [GLOBAL_WEBMERCATOR]
    meta_size: [2, 2]
    bulk_meta_tiles: true
    sources:
      r: [{source: b, band: 1, factor: 0.7}]
      g: [{source: a, band: 0}]
sources:
${src('a')}
${src('b')}
${src('c')}
${src('far', ", coverage: {bbox: [170, -80, 179, -70], srs: 'EPSG:4326'}")}
  w: {type: wms, req: {url: '${wms.url}', layers: base}}
`);
  });
  after(async () => {
    await mp.stop();
    await wms.stop();
    await up.stop();
  });

  const tile = async (layer: string, z: number, x: number, y: number) => {
    const r = await fetch(`${mp.url}/tiles/${layer}_EPSG3857/${z}/${x}/${y}.png`);
    const body = new Uint8Array(await r.arrayBuffer());
    assert.equal(r.status, 200, new TextDecoder().decode(body));
    return decodeImage(body);
  };
  const cached = (cache: string) => {
    const dir = path.join(mp.dir, 'cache_data', `${cache}_EPSG3857`);
    return fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.png')).length : 0;
  };

  it('computes each band from the source bands with factors (RGB)', async () => {
    const r = await tile('rgb', 2, 1, 1);
    assert.deepEqual(getPixel(r, 10, 10), [188, 63, 130, 255]);
    assert.deepEqual(getPixel(r, 255, 255), [188, 63, 130, 255]);
    // each source asked once for the tile
    for (const s of ['a', 'b', 'c']) assert.deepEqual(up.paths.filter((p) => p.startsWith(`/${s}/2/`)), [`/${s}/2/1/1.png`]);
    assert.equal(cached('rgb_cache'), 1);
  });

  it('makes grey tiles from an l band', async () => {
    assert.deepEqual(getPixel(await tile('grey', 3, 2, 2), 100, 100), [122, 122, 122, 255]);
  });

  it('takes alpha from an a band in a transparent cache', async () => {
    assert.deepEqual(getPixel(await tile('rgba', 3, 2, 2), 0, 0), [90, 0, 65, 128]);
  });

  it('stores a blank tile where one source has nothing', async () => {
    const before = up.paths.length;
    const r = await tile('partial', 2, 1, 1);
    // not transparent: MapProxy's blank image is white
    assert.deepEqual(getPixel(r, 5, 5), [255, 255, 255, 255]);
    assert.equal(cached('partial_cache'), 1);
    // the source with data was still asked, as MapProxy does
    assert.deepEqual(up.paths.slice(before), ['/a/2/1/1.png']);
  });

  it('merges wms meta tiles band by band (one GetMap per meta tile)', async () => {
    // level 5 around 9E 51N: the red box; its meta tile is one request with the buffer
    const z = 5;
    const x = Math.floor(((9 + 180) / 360) * 2 ** z);
    const lat = (51 * Math.PI) / 180;
    // GLOBAL_WEBMERCATOR counts rows from the north, and /tiles follows the grid
    const y = Math.floor(((1 - Math.log(Math.tan(lat) + 1 / Math.cos(lat)) / Math.PI) / 2) * 2 ** z);
    const r = await tile('swapped', z, x, y);
    assert.equal(wms.requests.length, 1);
    assert.equal(wms.requests[0].params.width, String(2 * 256 + 2 * 10));
    const [rr, rg, rb] = FEATURES[0].color;
    const [br, bg, bb] = BACKGROUND;
    // r <- g, g <- r * 0.5, b <- b
    assert.deepEqual(getPixel(r, 0, 0), [bg, Math.trunc(br * 0.5), bb, 255]);
    // the red box around 9E 51N lies inside this tile; find a pixel of it
    let found = false;
    for (let py = 0; py < 256 && !found; py += 4) {
      for (let px = 0; px < 256 && !found; px += 4) {
        if (getPixel(r, px, py)[0] === rg) {
          assert.deepEqual(getPixel(r, px, py), [rg, Math.trunc(rr * 0.5), rb, 255]);
          found = true;
        }
      }
    }
    assert.ok(found, 'the red box is in the tile');
    assert.equal(cached('swapped_cache'), 4);
  });

  it('merges each tile of a bulk meta tile', async () => {
    const r = await tile('bulk', 3, 4, 4);
    // 220 * 0.7 = 154 (float32), 200
    assert.deepEqual(getPixel(r, 7, 7), [154, 200, 0, 255]);
    // the 2x2 meta tile of x 4..5, y 4..5: each tile from each source once
    const meta = ['4/4', '4/5', '5/4', '5/5'];
    for (const s of ['a', 'b']) assert.deepEqual(up.paths.filter((p) => meta.some((m) => p === `/${s}/3/${m}.png`)).sort(), meta.map((m) => `/${s}/3/${m}.png`));
    assert.equal(cached('bulk_cache'), 4);
  });

  it('serves band merged caches to WMS too', async () => {
    const p = new URLSearchParams({ SERVICE: 'WMS', REQUEST: 'GetMap', VERSION: '1.1.1', LAYERS: 'grey', STYLES: '', SRS: 'EPSG:3857', BBOX: '-5000000,-5000000,5000000,5000000', WIDTH: '64', HEIGHT: '64', FORMAT: 'image/png' });
    const r = await fetch(`${mp.url}/service?${p}`);
    assert.equal(r.status, 200);
    assert.deepEqual(getPixel(await decodeImage(new Uint8Array(await r.arrayBuffer())), 32, 32), [122, 122, 122, 255]);
  });
});

describe('band merge configuration errors', () => {
  const build = (sources: string) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-bands-'));
    const file = path.join(dir, 'mapproxy.yaml');
    fs.writeFileSync(
      file,
      `
caches:
  merged:
    grids: [GLOBAL_WEBMERCATOR]
    sources:
${sources}
sources:
  s1: {type: tile, grid: GLOBAL_WEBMERCATOR, url: 'http://127.0.0.1:9/%(z)s/%(x)s/%(y)s.png'}
`,
    );
    try {
      return buildProxy(loadConfig(file));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  const rejects = (sources: string, key: string, what: RegExp) =>
    assert.throws(
      () => build(sources),
      (e: unknown) => e instanceof ConfigError && e.message.includes(key) && what.test(e.message),
    );

  it('names an unknown source in a band', () => {
    rejects('      r: [{source: s1, band: 0}]\n      g: [{source: nope, band: 1}]', 'caches.merged.sources.g[0].source', /unknown source 'nope'/);
  });

  it('names a band index out of range', () => {
    rejects('      r: [{source: s1, band: 0}, {source: s1, band: 4}]', 'caches.merged.sources.r[1].band', /out of range/);
    rejects('      b: [{source: s1, band: -1}]', 'caches.merged.sources.b[0].band', /out of range/);
  });

  it('names an unknown band', () => {
    rejects('      r: [{source: s1, band: 0}]\n      x: [{source: s1, band: 1}]', 'caches.merged.sources.x', /band 'x'/);
  });

  it('refuses l next to colour bands', () => {
    rejects('      l: [{source: s1, band: 0}]\n      g: [{source: s1, band: 1}]', 'caches.merged.sources', /band 'l' cannot be combined/);
  });

  it('builds a valid mapping', () => {
    const tm = build('      r: [{source: s1, band: 0, factor: 0.5}]\n      a: [{source: s1, band: 3}]').caches.get('merged')!.get('GLOBAL_WEBMERCATOR')!;
    assert.equal(tm.opts.bandMerger?.mode, 'RGBA');
    assert.equal(tm.opts.sources.length, 1);
    assert.ok(tm.opts.bandMerger instanceof BandMerger);
  });
});
