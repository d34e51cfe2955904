import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startWmsUpstream, type WmsUpstream } from '../helpers/wms-upstream.ts';
import { serveHttp, type RunningServer } from '../../src/runtime/serve.ts';
import { HttpClient } from '../../src/source/http-client.ts';
import { StaticLegendSource, WmsLegendSource, legendSize, type WmsLegendSourceOptions } from '../../src/source/wms-legend.ts';
import { legendCacheFile, legendCacheKey } from '../../src/service/wms/legend.ts';
import { SourceError } from '../../src/errors.ts';
import { decodeImage, encodeImage, sniffImageFormat } from '../../src/image/codec.ts';
import { createRaster, getPixel } from '../../src/image/raster.ts';

function client(timeout = 5): HttpClient {
  return new HttpClient({ clientTimeout: timeout, headers: {}, hideErrorDetails: false });
}

const made: string[] = [];

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-legend-'));
  made.push(d);
  return d;
}

function cleanup(): void {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

function legends(dir: string): string[] {
  const d = path.join(dir, 'legends');
  return fs.existsSync(d) ? fs.readdirSync(d) : [];
}

describe('WmsLegendSource', () => {
  let up: WmsUpstream;
  let base: string;
  const source = (o: Partial<WmsLegendSourceOptions> = {}) => new WmsLegendSource({
    name: 'lg',
    url: up.url,
    params: { layers: 'roads,rivers' },
    version: '1.1.1',
    client: client(),
    cacheBaseDir: base,
    ...o,
  });

  before(async () => {
    up = await startWmsUpstream();
  });
  after(async () => {
    await up.stop();
    cleanup();
  });
  beforeEach(() => {
    up.requests.length = 0;
    up.mode = 'ok';
    base = tmpDir();
  });

  it('asks GetLegendGraphic once per layer and stacks the legends', async () => {
    const png = await source({ params: { layers: 'roads,rivers', transparent: 'true' } }).getLegend({ format: 'image/png' });
    assert.ok(png);
    assert.equal(sniffImageFormat(png), 'png');
    const img = await decodeImage(png);
    assert.deepEqual([img.width, img.height], [40, 40]);
    assert.deepEqual([...getPixel(img, 5, 5)], [0, 0, 200, 255]);
    assert.deepEqual(up.requests.map((r) => r.params.layer).sort(), ['rivers', 'roads']);
    for (const r of up.requests) {
      assert.equal(r.params.request, 'GetLegendGraphic');
      assert.equal(r.params.service, 'WMS');
      assert.equal(r.params.version, '1.1.1');
      assert.equal(r.params.sld_version, '1.1.0');
      assert.equal(r.params.format, 'image/png');
      assert.equal(r.params.transparent, 'true');
      assert.equal(r.params.layers, undefined);
      assert.equal(r.params.scale, undefined);
    }
  });

  it('caches legends on disk under MapProxy\'s name and does not ask again', async () => {
    const s = source();
    const first = await s.getLegend({ format: 'image/png' });
    assert.equal(up.requests.length, 2);
    const key = legendCacheKey([[up.url, 'roads'], [up.url, 'rivers']], undefined);
    const file = legendCacheFile(base, key);
    assert.equal(s.cacheFile(), file);
    assert.ok(fs.existsSync(file));
    assert.deepEqual(legends(base), [`${key}.png`], 'no temp files left');
    const second = await s.getLegend({ format: 'image/png' });
    assert.equal(up.requests.length, 2);
    assert.deepEqual(second, first);
    // a new source object (a restart) finds the file as well
    await source().getLegend({ format: 'image/png' });
    assert.equal(up.requests.length, 2);
  });

  it('shares one upstream round between concurrent calls', async () => {
    up.delayMs = 50;
    try {
      const s = source();
      await Promise.all([s.getLegend({ format: 'image/png' }), s.getLegend({ format: 'image/png' })]);
      assert.equal(up.requests.length, 2);
    } finally {
      up.delayMs = 0;
    }
  });

  it('passes scale and caches each scale apart', async () => {
    const s = source({ params: { layers: 'roads' } });
    await s.getLegend({ format: 'image/png', scale: 5000 });
    assert.equal(up.requests[0].params.scale, '5000.0');
    assert.ok(fs.existsSync(legendCacheFile(base, legendCacheKey([[up.url, 'roads']], 5000))));
    await s.getLegend({ format: 'image/png', scale: 5000 });
    assert.equal(up.requests.length, 1);
    await s.getLegend({ format: 'image/png' });
    assert.equal(up.requests.length, 2);
  });

  it('asks with version 1.3.0 when configured', async () => {
    await source({ version: '1.3.0', params: { layers: 'roads' } }).getLegend({ format: 'image/png' });
    assert.equal(up.requests[0].params.version, '1.3.0');
    assert.equal(up.requests[0].params.sld_version, '1.1.0');
  });

  it('passes a single PNG legend through unchanged', async () => {
    const png = await source({ params: { layers: 'roads' } }).getLegend({ format: 'image/png' });
    const expected = await encodeImage(createRaster(40, 20, [0, 0, 200, 255]), { format: 'png' });
    assert.deepEqual(png, expected);
  });

  it('keeps credentials out of the cache key', async () => {
    const withAuth = up.url.replace('http://', 'http://user:secret@');
    const s = source({ url: withAuth, params: { layers: 'roads' } });
    await s.getLegend({ format: 'image/png' });
    assert.ok(fs.existsSync(legendCacheFile(base, legendCacheKey([[up.url, 'roads']], undefined))));
  });

  it('knows its size (for WMS 1.1.1 LegendURL) and fetches it once', async () => {
    const s = source();
    assert.deepEqual(await legendSize(s), [40, 40]);
    assert.deepEqual(await s.size(), [40, 40]);
    assert.equal(up.requests.length, 2);
  });

  it('has no legend without layers', async () => {
    assert.equal(await source({ params: { layers: '' } }).getLegend({ format: 'image/png' }), undefined);
    assert.equal(await legendSize(source({ params: {} })), undefined);
    assert.equal(up.requests.length, 0);
  });

  it('rejects a non-image answer with SourceError and caches nothing', async () => {
    up.mode = 'html';
    await assert.rejects(source().getLegend({ format: 'image/png' }), SourceError);
    assert.deepEqual(legends(base), []);
    assert.equal(await legendSize(source()), undefined);
  });

  it('turns HTTP errors into SourceError', async () => {
    up.mode = 'error500';
    await assert.rejects(source().getLegend({ format: 'image/png' }), (e: unknown) => e instanceof SourceError && e.status === 500);
  });

  it('gives up after client_timeout', async () => {
    up.mode = 'hang';
    const started = performance.now();
    await assert.rejects(source({ client: client(0.3), params: { layers: 'roads' } }).getLegend({ format: 'image/png' }),
      (e: unknown) => e instanceof SourceError && /timeout/.test(e.message));
    assert.ok(performance.now() - started < 3000);
  });
});

describe('legends from a partly failing upstream', () => {
  let server: RunningServer;
  let url: string;
  let calls = 0;
  before(async () => {
    const png = await encodeImage(createRaster(30, 10, [200, 0, 0, 255]), { format: 'png' });
    server = await serveHttp({
      hostname: '127.0.0.1',
      port: 0,
      fetch: (req) => {
        calls++;
        const u = new URL(req.url);
        if (u.pathname === '/static.png') return new Response(png, { headers: { 'Content-Type': 'image/png' } });
        if (u.pathname === '/static.txt') return new Response('not found here', { headers: { 'Content-Type': 'text/plain' } });
        if (u.searchParams.get('layer') === 'bad') return new Response('<ServiceExceptionReport/>', { headers: { 'Content-Type': 'application/vnd.ogc.se_xml' } });
        return new Response(png, { headers: { 'Content-Type': 'image/png' } });
      },
    });
    url = `http://127.0.0.1:${server.port}`;
  });
  after(async () => {
    await server.stop();
    cleanup();
  });

  it('serves the legends it got but does not cache the partial result', async () => {
    const base = tmpDir();
    const s = new WmsLegendSource({ name: 'p', url: `${url}/wms`, params: { layers: 'good,bad' }, version: '1.1.1', client: client(), cacheBaseDir: base });
    calls = 0;
    const png = await s.getLegend({ format: 'image/png' });
    assert.ok(png);
    const img = await decodeImage(png);
    assert.deepEqual([img.width, img.height], [30, 10]);
    assert.deepEqual(legends(base), []);
    await s.getLegend({ format: 'image/png' });
    assert.equal(calls, 4);
  });

  it('fetches a static http legend once', async () => {
    const base = tmpDir();
    const s = new StaticLegendSource({ name: 's', url: `${url}/static.png`, client: client(), configDir: '/nonexistent', cacheBaseDir: base });
    calls = 0;
    const png = await s.getLegend({ format: 'image/png' });
    assert.ok(png);
    assert.deepEqual(await legendSize(s), [30, 10]);
    // static legends ignore the scale for caching, as MapProxy
    await s.getLegend({ format: 'image/png', scale: 1000 });
    assert.equal(calls, 1);
    assert.ok(fs.existsSync(legendCacheFile(base, legendCacheKey([[`${url}/static.png`, null]], undefined))));
  });

  it('rejects a static legend that is no image', async () => {
    const s = new StaticLegendSource({ name: 's', url: `${url}/static.txt`, client: client(), configDir: '/nonexistent', cacheBaseDir: tmpDir() });
    await assert.rejects(s.getLegend({ format: 'image/png' }), SourceError);
  });
});

describe('StaticLegendSource with file://', () => {
  let confDir: string;
  let png: Uint8Array;
  before(async () => {
    confDir = tmpDir();
    fs.mkdirSync(path.join(confDir, 'img'));
    png = await encodeImage(createRaster(12, 34, [0, 128, 0, 255]), { format: 'png' });
    fs.writeFileSync(path.join(confDir, 'img', 'my legend.png'), png);
    fs.writeFileSync(path.join(confDir, 'img', 'notes.txt'), 'hello');
  });
  after(cleanup);

  it('reads a file relative to the config directory', async () => {
    const base = tmpDir();
    const s = new StaticLegendSource({ name: 's', url: 'file://img/my%20legend.png', configDir: confDir, cacheBaseDir: base });
    assert.equal(s.url, `file://${confDir}/img/my%20legend.png`);
    assert.deepEqual(await s.getLegend({ format: 'image/png' }), png);
    assert.deepEqual(await legendSize(s), [12, 34]);
    const key = legendCacheKey([[s.url, null]], undefined);
    assert.ok(fs.existsSync(legendCacheFile(base, key)));
  });

  it('reads an absolute file:/// URL', async () => {
    const s = new StaticLegendSource({ name: 's', url: `file://${confDir}/img/my legend.png`, configDir: '/elsewhere', cacheBaseDir: tmpDir() });
    assert.deepEqual(await s.getLegend({ format: 'image/png' }), png);
  });

  it('serves the cached copy after the file is gone', async () => {
    const base = tmpDir();
    const file = path.join(confDir, 'img', 'gone.png');
    fs.writeFileSync(file, png);
    const s = new StaticLegendSource({ name: 's', url: 'file://img/gone.png', configDir: confDir, cacheBaseDir: base });
    await s.getLegend({ format: 'image/png' });
    fs.unlinkSync(file);
    assert.deepEqual(await s.getLegend({ format: 'image/png' }), png);
  });

  it('fails with SourceError for a missing or non-image file', async () => {
    const missing = new StaticLegendSource({ name: 's', url: 'file://img/none.png', configDir: confDir, cacheBaseDir: tmpDir() });
    await assert.rejects(missing.getLegend({ format: 'image/png' }), SourceError);
    const text = new StaticLegendSource({ name: 's', url: 'file://img/notes.txt', configDir: confDir, cacheBaseDir: tmpDir() });
    await assert.rejects(text.getLegend({ format: 'image/png' }), SourceError);
  });

  it('refuses URLs that are neither http(s) nor file', () => {
    assert.throws(() => new StaticLegendSource({ name: 's', url: 'ftp://host/x.png', configDir: confDir, cacheBaseDir: tmpDir() }));
  });
});
