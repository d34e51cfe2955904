import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startProxy, type TestProxy } from '../helpers/proxy-server.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeApp } from '../../src/server/reloading-app.ts';
import { serveHttp, type RunningServer } from '../../src/runtime/serve.ts';

const CONFIG = (upstream: string) => `
services:
  tms:
layers:
  - name: slow
    title: Slow
    sources: [slow_cache]
caches:
  slow_cache:
    grids: [GLOBAL_MERCATOR]
    sources: [slow_tiles]
sources:
  slow_tiles:
    type: tile
    url: ${upstream}/tiles/%(tms_path)s.png
`;

describe('request limits', () => {
  let proxy: TestProxy;
  before(async () => {
    proxy = await startProxy(CONFIG('http://127.0.0.1:9'));
  });
  after(() => proxy.stop());

  it('methods other than GET and HEAD get 405 with Allow', async () => {
    const r = await fetch(`${proxy.url}/tms/1.0.0/`, { method: 'POST', body: 'x'.repeat(1000) });
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'GET, HEAD');
  });

  it('URLs beyond the limit get 414', async () => {
    const r = await fetch(`${proxy.url}/service?SERVICE=WMS&LAYERS=${'a'.repeat(10000)}`);
    assert.equal(r.status, 414);
  });
});

describe('concurrency limit', () => {
  let up: Upstream;
  let server: RunningServer;
  let dir: string;
  before(async () => {
    up = await startUpstream();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapproxy-limit-'));
    fs.writeFileSync(path.join(dir, 'mapproxy.yaml'), CONFIG(up.url));
    const app = makeApp(path.join(dir, 'mapproxy.yaml'), { maxConcurrent: 1 });
    server = await serveHttp({ hostname: '127.0.0.1', port: 0, fetch: app.fetch });
  });
  after(async () => {
    await server.stop();
    await up.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After when more requests than allowed are in progress', async () => {
    up.mode = 'hang'; // the upstream answers after a while: the first request stays in progress
    const url = `http://127.0.0.1:${server.port}/tms/1.0.0/slow/EPSG900913/1/0/0.png`;
    const first = fetch(url, { signal: AbortSignal.timeout(10000) }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    const second = await fetch(url);
    assert.equal(second.status, 503);
    assert.equal(second.headers.get('retry-after'), '1');
    up.mode = 'png';
    await first;
  });
});
