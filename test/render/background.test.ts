/**
 * Background rendering over HTTP against a real upstream whose latency the
 * test controls: on-demand work ahead of seed work in the render queue,
 * stale-while-revalidate, stale-if-error, waiting images, prefetching, and one
 * upstream request per meta tile across the workers of `mapproxy serve`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startProxy, type TestProxy } from '../helpers/proxy-server.ts';
import { makeCase, startSeedUpstream, type SeedUpstream } from '../seed/helpers.ts';
import { decodeImage } from '../../src/image/codec.ts';
import type { TileCoord } from '../../src/grid/tile-grid.ts';

const root = path.resolve(import.meta.dir, '../..');
const cli = path.join(root, 'cli', 'main.ts');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `cond` every 20 ms for at most `ms`. */
async function until(cond: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) if (cond()) return true;
  return cond();
}

function config(upstream: string, extra: { render?: string; cache?: string } = {}): string {
  return `
services:
  tms:
globals:
  render:
${extra.render ?? '    concurrency: 4\n    keep_free: 1'}
layers:
  - name: bg
    title: Background
    sources: [bg_cache]
caches:
  bg_cache:
    grids: [GLOBAL_MERCATOR]
    sources: [up]
    meta_size: [2, 2]
    meta_buffer: 0
${extra.cache ?? ''}
sources:
  up:
    type: wms
    req:
      url: ${upstream}
      layers: base
`;
}

const tileUrl = (base: string, z: number, x: number, y: number) => `${base}/tiles/bg/EPSG900913/${z}/${x}/${y}.png`;

async function get(url: string): Promise<{ status: number; headers: Headers; body: Uint8Array; ms: number }> {
  const t0 = performance.now();
  const r = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  const body = new Uint8Array(await r.arrayBuffer());
  return { status: r.status, headers: r.headers, body, ms: performance.now() - t0 };
}

/** The stored file of a tile (tc layout, as MapProxy). */
function tileFile(p: TestProxy, z: number, x: number, y: number): string {
  const tm = p.app.proxy.caches.get('bg_cache')!.get('GLOBAL_MERCATOR')!;
  return (tm.opts.backend as unknown as { tilePath(c: TileCoord): string }).tilePath([x, y, z]);
}

/** Makes a stored tile `age` seconds old. */
function age(p: TestProxy, z: number, x: number, y: number, seconds: number): void {
  const t = Date.now() / 1000 - seconds;
  fs.utimesSync(tileFile(p, z, x, y), t, t);
}

describe('render queue priorities over HTTP', () => {
  let up: SeedUpstream;
  let p: TestProxy;
  const DELAY = 300;

  before(async () => {
    up = await startSeedUpstream();
    up.delayMs = DELAY;
  });
  after(async () => {
    await p?.stop();
    await up.stop();
  });

  it('answers an on-demand miss within about one tile-creation time while seed work fills the queue', async () => {
    p = await startProxy(config(up.url));
    const tm = p.app.proxy.caches.get('bg_cache')!.get('GLOBAL_MERCATOR')!;
    // 40 meta tiles of seed work at level 6: 3 run (one slot kept free), 37 wait
    let done = 0;
    const seeds = Array.from({ length: 40 }, (_, i) => tm.getTiles([[(i % 20) * 2, Math.floor(i / 20) * 2, 6]], { priority: 'seed' })
      .finally(() => done++));
    try {
      await until(() => up.requests.length > 0, 2000);
      const stats = p.app.proxy.renderQueue.stats();
      assert.equal(stats.running.seed, 3);
      // on a loaded machine a first job may already be done (DELAY after its request)
      assert.equal(stats.queued.seed, 37 - done);
      const r = await get(tileUrl(p.url, 5, 20, 20));
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-cache'), 'MISS');
      // one creation (DELAY) plus overhead, far from the 13 rounds the seed work needs
      assert.ok(r.ms < DELAY * 2, `on-demand took ${r.ms.toFixed(0)} ms with the queue full of seed work`);
      assert.ok(p.app.proxy.renderQueue.stats().queued.seed > 25, 'the seed work was still queued');
    } finally {
      // a failed assertion must not leave seed jobs running into the tests after this one
      await Promise.allSettled(seeds);
    }
  });

  it('without free slots, an on-demand miss waits for one creation, not for the queued seed work', async () => {
    await p.stop();
    p = await startProxy(config(up.url, { render: '    concurrency: 2\n    max_seed_share: 1' }));
    const tm = p.app.proxy.caches.get('bg_cache')!.get('GLOBAL_MERCATOR')!;
    const seeds = Array.from({ length: 20 }, (_, i) => tm.getTiles([[i * 2, 10, 6]], { priority: 'seed' }));
    await until(() => p.app.proxy.renderQueue.stats().running.seed === 2, 2000);
    const r = await get(tileUrl(p.url, 5, 2, 2));
    assert.equal(r.status, 200);
    assert.ok(r.ms < DELAY * 3, `on-demand took ${r.ms.toFixed(0)} ms (slot wait + creation should be < ${DELAY * 2} ms plus overhead)`);
    assert.ok(p.app.proxy.renderQueue.stats().queued.seed >= 14, 'seed work did not go first');
    await Promise.all(seeds);
  });
});

describe('stale-while-revalidate and stale-if-error', () => {
  let up: SeedUpstream;
  let p: TestProxy;

  before(async () => {
    up = await startSeedUpstream();
    p = await startProxy(config(up.url, { cache: '    refresh_before: {seconds: 60}\n    stale_while_revalidate: 5m\n    stale_if_error: {duration: 1h, max_age: 10}' }));
  });
  after(async () => {
    await p.stop();
    await up.stop();
  });

  it('answers a fresh tile as HIT, a new one as MISS', async () => {
    const miss = await get(tileUrl(p.url, 3, 1, 1));
    assert.equal(miss.headers.get('x-cache'), 'MISS');
    const hit = await get(tileUrl(p.url, 3, 1, 1));
    assert.equal(hit.headers.get('x-cache'), 'HIT');
    assert.equal(hit.headers.get('cache-control'), 'public, max-age=259200, s-maxage=259200');
  });

  it('answers expired tiles at once as STALE with a short max-age and refreshes their meta tile exactly once', async () => {
    await get(tileUrl(p.url, 4, 2, 2));
    for (const [x, y] of [[2, 2], [3, 2], [2, 3], [3, 3]]) age(p, 4, x, y, 120);
    const before = up.requests.length;
    up.delayMs = 400;
    const rs = await Promise.all(Array.from({ length: 16 }, (_, i) => get(tileUrl(p.url, 4, 2 + (i % 2), 2 + (Math.floor(i / 2) % 2)))));
    for (const r of rs) {
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-cache'), 'STALE');
      assert.equal(r.headers.get('cache-control'), 'public, max-age=10, s-maxage=10');
      assert.ok(r.ms < 300, `a stale answer took ${r.ms.toFixed(0)} ms: it waited for the upstream`);
    }
    assert.ok(await until(() => up.requests.length > before, 3000), 'no background refresh');
    // the refresh has stored the tiles: fresh again
    assert.ok(await until(() => fs.statSync(tileFile(p, 4, 3, 3)).mtimeMs > Date.now() - 5000, 3000));
    const again = await get(tileUrl(p.url, 4, 3, 3));
    assert.equal(again.headers.get('x-cache'), 'HIT');
    await sleep(100);
    assert.equal(up.requests.length - before, 1, `refreshes: ${up.requests.slice(before).join(', ')}`);
    up.delayMs = 0;
  });

  it('creates tiles expired past the stale window while the client waits (REFRESH)', async () => {
    await get(tileUrl(p.url, 4, 6, 6));
    age(p, 4, 6, 6, 60 + 400);
    const before = up.requests.length;
    const r = await get(tileUrl(p.url, 4, 6, 6));
    assert.equal(r.headers.get('x-cache'), 'REFRESH');
    assert.equal(up.requests.length - before, 1);
  });

  it('answers the expired tile when the upstream fails (stale_if_error), and an error past that window', async () => {
    await get(tileUrl(p.url, 5, 8, 8));
    age(p, 5, 8, 8, 60 + 1800); // past the 5 minutes of stale_while_revalidate, within the hour of stale_if_error
    age(p, 5, 9, 9, 60 + 7200); // past both
    up.failAll = true;
    try {
      const r = await get(tileUrl(p.url, 5, 8, 8));
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-cache'), 'STALE');
      assert.equal(r.headers.get('cache-control'), 'public, max-age=10, s-maxage=10');
      await decodeImage(r.body);
      const gone = await get(tileUrl(p.url, 5, 9, 9));
      assert.equal(gone.status, 502);
    } finally {
      up.failAll = false;
    }
  });
});

describe('waiting images and prefetching', () => {
  let up: SeedUpstream;
  let p: TestProxy;

  before(async () => {
    up = await startSeedUpstream();
  });
  after(async () => {
    await p?.stop();
    await up.stop();
  });

  it('answers a placeholder after the deadline, never cached, and the real tile once it is made', async () => {
    p = await startProxy(config(up.url, { cache: "    waiting_image: {after: 100ms, color: '#00ff00'}" }));
    up.delayMs = 700;
    const r = await get(tileUrl(p.url, 3, 0, 0));
    up.delayMs = 0;
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-cache'), 'WAITING');
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.equal(r.headers.get('etag'), null);
    assert.ok(r.ms < 500, `the placeholder took ${r.ms.toFixed(0)} ms`);
    const img = await decodeImage(r.body);
    assert.deepEqual([...img.data.slice(0, 4)], [0, 255, 0, 255]);
    // the creation went on in the background
    assert.ok(await until(() => fs.existsSync(tileFile(p, 3, 0, 0)), 3000), 'the tile was not created after the placeholder');
    const real = await get(tileUrl(p.url, 3, 0, 0));
    assert.equal(real.headers.get('x-cache'), 'HIT');
    assert.equal(up.requests.length, 1);
  });

  it('queues the tiles under a miss at the lowest priority (prefetch)', async () => {
    await p.stop();
    up.requests.length = 0;
    p = await startProxy(config(up.url, { cache: '    prefetch: {levels: 1}' }));
    const r = await get(tileUrl(p.url, 2, 1, 1));
    assert.equal(r.headers.get('x-cache'), 'MISS');
    // the four tiles under (1,1,2) at level 3 are one 2x2 meta tile
    assert.ok(await until(() => [[2, 2], [3, 2], [2, 3], [3, 3]].every(([x, y]) => fs.existsSync(tileFile(p, 3, x, y))), 3000), 'no prefetched tiles');
    assert.equal(up.requests.length, 2);
    const child = await get(tileUrl(p.url, 3, 3, 3));
    assert.equal(child.headers.get('x-cache'), 'HIT');
    // a hit prefetches nothing
    await get(tileUrl(p.url, 2, 1, 1));
    await sleep(100);
    assert.equal(up.requests.length, 2);
  });

  it('refuses bad settings with the key in the message', async () => {
    for (const [cache, re] of [
      ['    waiting_image: {after: soon}', /waiting_image\.after.*duration/],
      ['    prefetch: {levels: 9}', /prefetch\.levels/],
      ['    stale_while_revalidate: 5m', /stale_while_revalidate.*refresh_before/],
      ["    waiting_image: {file: missing.png}", /waiting_image\.file.*cannot read/],
    ] as const) {
      await assert.rejects(startProxy(config(up.url, { cache })), re);
    }
    await assert.rejects(startProxy(config(up.url, { render: '    concurrency: 4\n    keep_free: 4' })), /globals\.render\.keep_free/);
  });
});

describe('meta tiles across the workers of mapproxy serve', () => {
  let up: SeedUpstream;
  let dir: string;
  let pid = 0;

  before(async () => {
    up = await startSeedUpstream();
    dir = makeCase({ 'mapproxy.yaml': config('@UPSTREAM@').replace('globals:', `globals:\n  cache:\n    base_dir: cache_data`) }, up);
  });
  after(async () => {
    if (pid) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await up.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('64 concurrent requests for the tiles of one meta tile on 2 workers cost one upstream request', async () => {
    const child = spawn(process.execPath, [cli, 'serve', 'mapproxy.yaml', '-b', '127.0.0.1:0', '-w', '2', '--debug'], { cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    pid = child.pid!;
    let log = '';
    child.stdout!.on('data', (d) => (log += d));
    child.stderr!.on('data', (d) => (log += d));
    const re = /listening at http:\/\/127\.0\.0\.1:(\d+)/;
    assert.ok(await until(() => re.test(log), 20_000), `serve did not start:\n${log}`);
    const base = `http://127.0.0.1:${re.exec(log)![1]}`;
    up.delayMs = 300;
    const rs = await Promise.all(Array.from({ length: 64 }, (_, i) => fetch(tileUrl(base, 6, 10 + (i % 2), 12 + (Math.floor(i / 2) % 2)), { signal: AbortSignal.timeout(15_000), keepalive: false })));
    const workers = new Set(rs.map((r) => r.headers.get('x-mapproxy-worker')));
    for (const r of rs) {
      assert.equal(r.status, 200);
      await r.arrayBuffer();
    }
    assert.equal(up.requests.length, 1, `upstream requests: ${up.requests.join(', ')}`);
    assert.equal(workers.size, 2, 'both workers answered some of the requests');
  });
});
