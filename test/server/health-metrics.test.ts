import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startProxy, type TestProxy } from '../helpers/proxy-server.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

function config(upstream: string, baseDir = './cache_data'): string {
  return `
services:
  tms:
layers:
  - name: metered
    title: Metered
    sources: [metered_cache]
caches:
  metered_cache:
    grids: [GLOBAL_MERCATOR]
    sources: [metered_tiles]
sources:
  metered_tiles:
    type: tile
    url: ${upstream}/tiles/%(tms_path)s.png
globals:
  cache:
    base_dir: ${baseDir}
`;
}

function value(text: string, line: RegExp): number {
  const m = text.split('\n').find((l) => line.test(l));
  return m ? Number(m.split(' ').at(-1)) : 0;
}

describe('/healthz and /metrics', () => {
  let up: Upstream;
  let proxy: TestProxy;
  before(async () => {
    up = await startUpstream();
    proxy = await startProxy(config(up.url));
  });
  after(async () => {
    await proxy.stop();
    await up.stop();
  });

  it('/healthz answers ok when the config is loaded and the cache directory is writable', async () => {
    const r = await fetch(`${proxy.url}/healthz`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { status: 'ok' });
    assert.equal(fs.readdirSync(path.join(proxy.dir, 'cache_data')).filter((f) => f.startsWith('.healthz')).length, 0);
  });

  it('/metrics counts requests, cache hits and misses, created tiles and upstream requests', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${proxy.url}/tms/1.0.0/metered/EPSG900913/1/0/0.png`)).status, 200);
    assert.equal((await fetch(`${proxy.url}/tms/1.0.0/metered/EPSG900913/1/9/9.png`)).status, 404);
    const r = await fetch(`${proxy.url}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await r.text();
    assert.match(text, /# TYPE mapproxy_requests_total counter/);
    assert.ok(value(text, /^mapproxy_requests_total\{service="tms",status="200"\}/) >= 3);
    assert.ok(value(text, /^mapproxy_requests_total\{service="tms",status="404"\}/) >= 1);
    assert.equal(value(text, /^mapproxy_cache_hits_total\{cache="metered_cache"\}/), 2);
    assert.equal(value(text, /^mapproxy_cache_misses_total\{cache="metered_cache"\}/), 1);
    assert.equal(value(text, /^mapproxy_tiles_created_total\{cache="metered_cache"\}/), 1);
    assert.equal(value(text, /^mapproxy_upstream_requests_total\{source="metered_tiles",status="200"\}/), 1);
    assert.equal(value(text, /^mapproxy_upstream_request_duration_seconds_count\{source="metered_tiles"\}/), 1);
    assert.match(text, /^mapproxy_request_duration_seconds_bucket\{service="tms",le="\+Inf"\} \d+$/m);
  });

  it('/metrics labels each request with the service its first path segment names', async () => {
    const perService = async () => {
      const text = await (await fetch(`${proxy.url}/metrics`)).text();
      const sums = new Map<string, number>();
      for (const m of text.matchAll(/^mapproxy_requests_total\{service="([^"]*)",status="\d+"\} (\d+)$/gm)) sums.set(m[1], (sums.get(m[1]) ?? 0) + Number(m[2]));
      return sums;
    };
    const before = await perService();
    const paths: [string, string][] = [
      ['/', 'other'],
      ['/nothing/here', 'other'],
      ['/tmsx/1.0.0', 'other'],
      ['/tms', 'tms'],
      ['/tms/1.0.0/metered/EPSG900913', 'tms'],
      ['/tms?x=/wms/', 'tms'],
      ['/wms?SERVICE=WMS&REQUEST=GetCapabilities', 'wms'],
      ['/service?SERVICE=WMTS&REQUEST=GetCapabilities', 'wmts'],
      ['/ows?request=GetCapabilities&service=wms', 'wms'],
      ['/healthz', 'healthz'],
    ];
    for (const [p] of paths) await (await fetch(`${proxy.url}${p}`)).arrayBuffer();
    const after = await perService();
    const expected = new Map<string, number>();
    for (const [, service] of paths) expected.set(service, (expected.get(service) ?? 0) + 1);
    // the first /metrics read is counted too
    expected.set('metrics', 1);
    for (const [service, n] of expected) assert.equal((after.get(service) ?? 0) - (before.get(service) ?? 0), n, service);
  });

  it('/metrics counts upstream errors', async () => {
    up.mode = 'error500';
    try {
      assert.equal((await fetch(`${proxy.url}/tms/1.0.0/metered/EPSG900913/2/0/0.png`)).status, 502);
    } finally {
      up.mode = 'png';
    }
    const text = await (await fetch(`${proxy.url}/metrics`)).text();
    assert.equal(value(text, /^mapproxy_upstream_errors_total\{source="metered_tiles"\}/), 1);
    assert.equal(value(text, /^mapproxy_upstream_requests_total\{source="metered_tiles",status="500"\}/), 1);
  });
});

describe('/healthz with a cache directory that cannot be written', () => {
  let proxy: TestProxy;
  before(async () => {
    // a regular file where the cache directory should be: not writable even for root
    proxy = await startProxy(config('http://127.0.0.1:9', './not-a-dir'), { files: { 'not-a-dir': 'x' } });
  });
  after(() => proxy.stop());

  it('answers 503 with the reason and no path or stack', async () => {
    const r = await fetch(`${proxy.url}/healthz`);
    assert.equal(r.status, 503);
    const body = (await r.json()) as { status: string; reason: string };
    assert.equal(body.status, 'error');
    assert.match(body.reason, /cache directory not writable \((EEXIST|ENOTDIR)\)/);
  });
});
