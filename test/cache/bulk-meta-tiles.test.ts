import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startProxy, type TestProxy } from '../helpers/proxy-server.ts';
import { startWmsUpstream, type WmsUpstream } from '../helpers/wms-upstream.ts';
import { serveHttp, type RunningServer } from '../../src/runtime/serve.ts';
import { encodeImage } from '../../src/image/codec.ts';
import { createRaster } from '../../src/image/raster.ts';
import { loadConfig } from '../../src/config/loader.ts';
import { buildProxy } from '../../src/core/build-proxy.ts';
import { ConfigError } from '../../src/errors.ts';

/** A tile upstream that counts requests per path, keeps them in flight a while and fails the paths in `failing`. */
interface CountingUpstream {
  url: string;
  /** paths in arrival order */
  paths: string[];
  /** most requests in flight at once */
  maxInFlight: number;
  delayMs: number;
  /** paths answered with a 500 */
  failing: Set<string>;
  stop(): Promise<void>;
}

async function startCountingUpstream(): Promise<CountingUpstream> {
  const png = await encodeImage(createRaster(256, 256, [30, 90, 150, 255]), { format: 'png' });
  let server: RunningServer;
  let inFlight = 0;
  const up: CountingUpstream = { url: '', paths: [], maxInFlight: 0, delayMs: 40, failing: new Set(), stop: () => server.stop() };
  server = await serveHttp({
    hostname: '127.0.0.1',
    port: 0,
    fetch: async (req) => {
      const p = new URL(req.url).pathname;
      up.paths.push(p);
      inFlight++;
      up.maxInFlight = Math.max(up.maxInFlight, inFlight);
      try {
        await new Promise((r) => setTimeout(r, up.delayMs));
        if (up.failing.has(p)) return new Response('boom', { status: 500 });
        return new Response(png, { headers: { 'Content-Type': 'image/png' } });
      } finally {
        inFlight--;
      }
    },
  });
  up.url = `http://127.0.0.1:${server.port}`;
  return up;
}

function config(up: string): string {
  return `
services:
  tms:
    origin: nw
globals:
  http:
    client_timeout: 5
layers:
  - {name: bulk, title: Bulk, sources: [bulk_cache]}
  - {name: big, title: Big meta tiles, sources: [big_cache]}
  - {name: plain, title: No bulk, sources: [plain_cache]}
  - {name: failing, title: Failing, sources: [failing_cache]}
  - {name: twosrc, title: Two tile sources, sources: [two_cache]}
caches:
  bulk_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [tiles]
    meta_size: [2, 2]
    meta_buffer: 40
    bulk_meta_tiles: true
  big_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [big]
    meta_size: [4, 4]
    concurrent_tile_creators: 2
    bulk_meta_tiles: true
  plain_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [plain]
    meta_size: [2, 2]
  failing_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [failing]
    meta_size: [2, 2]
    bulk_meta_tiles: true
  two_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [under, over]
    meta_size: [2, 2]
    bulk_meta_tiles: true
sources:
  tiles: {type: tile, grid: GLOBAL_WEBMERCATOR, url: '${up}/bulk/%(z)s/%(x)s/%(y)s.png'}
  big: {type: tile, grid: GLOBAL_WEBMERCATOR, url: '${up}/big/%(z)s/%(x)s/%(y)s.png'}
  plain: {type: tile, grid: GLOBAL_WEBMERCATOR, url: '${up}/plain/%(z)s/%(x)s/%(y)s.png'}
  failing: {type: tile, grid: GLOBAL_WEBMERCATOR, url: '${up}/failing/%(z)s/%(x)s/%(y)s.png'}
  under: {type: tile, grid: GLOBAL_WEBMERCATOR, url: '${up}/under/%(z)s/%(x)s/%(y)s.png'}
  over: {type: tile, grid: GLOBAL_WEBMERCATOR, url: '${up}/over/%(z)s/%(x)s/%(y)s.png'}
`;
}

/** PNG files below a directory. */
function pngs(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.png')).sort();
}

describe('bulk_meta_tiles over HTTP', () => {
  let up: CountingUpstream;
  let mp: TestProxy;
  before(async () => {
    up = await startCountingUpstream();
    mp = await startProxy(config(up.url));
  });
  after(async () => {
    await mp.stop();
    await up.stop();
  });

  const tile = async (layer: string, z: number, x: number, y: number) => {
    const r = await fetch(`${mp.url}/tiles/${layer}_EPSG3857/${z}/${x}/${y}.png`);
    const body = new Uint8Array(await r.arrayBuffer());
    return { status: r.status, body, cache: r.headers.get('x-cache') };
  };
  const requested = (prefix: string) => up.paths.filter((p) => p.startsWith(prefix)).sort();
  const cacheDir = (name: string) => path.join(mp.dir, 'cache_data', `${name}_EPSG3857`);

  it('fetches every tile of the meta tile on a miss and stores them all', async () => {
    const t = await tile('bulk', 3, 2, 3);
    assert.equal(t.status, 200);
    // the 2x2 meta tile of x 2..3, y 2..3 (/tiles and the tile source count y alike)
    assert.deepEqual(requested('/bulk/'), ['/bulk/3/2/2.png', '/bulk/3/2/3.png', '/bulk/3/3/2.png', '/bulk/3/3/3.png']);
    assert.equal(pngs(cacheDir('bulk_cache')).length, 4);
    // the other tiles of the meta tile are hits now
    for (const [x, y] of [[3, 3], [2, 2], [3, 2]]) {
      const o = await tile('bulk', 3, x, y);
      assert.equal(o.status, 200);
      assert.equal(o.cache, 'HIT');
    }
    assert.equal(requested('/bulk/').length, 4);
  });

  it('coalesces concurrent requests for tiles of one meta tile into one fetch per tile', async () => {
    const before = requested('/bulk/').length;
    const tiles = [[4, 4], [5, 4], [4, 5], [5, 5], [4, 4], [5, 5]];
    const got = await Promise.all(tiles.map(([x, y]) => tile('bulk', 3, x, y)));
    assert.ok(got.every((t) => t.status === 200));
    const now = requested('/bulk/').slice();
    assert.equal(now.length - before, 4, `one request per tile of the meta tile: ${now.join(' ')}`);
    assert.equal(new Set(now).size, now.length, 'no tile fetched twice');
    assert.equal(pngs(cacheDir('bulk_cache')).length, 8);
  });

  it('asks each source for each tile, merging them per tile', async () => {
    const t = await tile('twosrc', 2, 0, 0);
    assert.equal(t.status, 200);
    assert.deepEqual(requested('/under/'), ['/under/2/0/0.png', '/under/2/0/1.png', '/under/2/1/0.png', '/under/2/1/1.png']);
    assert.deepEqual(requested('/over/'), ['/over/2/0/0.png', '/over/2/0/1.png', '/over/2/1/0.png', '/over/2/1/1.png']);
    assert.equal(pngs(cacheDir('two_cache')).length, 4);
  });

  it('fetches at most concurrent_tile_creators tiles at once', async () => {
    up.maxInFlight = 0;
    const t = await tile('big', 4, 1, 1);
    assert.equal(t.status, 200);
    assert.equal(requested('/big/').length, 16, '4x4 meta tile');
    assert.equal(up.maxInFlight, 2);
    assert.equal(pngs(cacheDir('big_cache')).length, 16);
  });

  it('fetches only the tile where the whole level is one tile', async () => {
    const t = await tile('big', 0, 0, 0);
    assert.equal(t.status, 200);
    assert.ok(requested('/big/').includes('/big/0/0/0.png'));
    assert.equal(requested('/big/0/').length, 1);
  });

  it('without bulk_meta_tiles a tile source gets one request per missing tile (no meta tiles)', async () => {
    const t = await tile('plain', 3, 2, 3);
    assert.equal(t.status, 200);
    assert.deepEqual(requested('/plain/'), ['/plain/3/2/3.png']);
    assert.equal(pngs(cacheDir('plain_cache')).length, 1);
  });

  it('stores nothing of the meta tile when one of its tiles fails, all of it once they answer', async () => {
    // the meta tile of 3/4/3 spans x 4..5, y 2..3
    up.failing.add('/failing/3/5/2.png');
    const failed = await tile('failing', 3, 4, 3);
    assert.notEqual(failed.status, 200);
    assert.equal(pngs(cacheDir('failing_cache')).length, 0);
    up.failing.clear();
    const ok = await tile('failing', 3, 4, 3);
    assert.equal(ok.status, 200);
    assert.equal(pngs(cacheDir('failing_cache')).length, 4);
  });
});

describe('bulk_meta_tiles configuration', () => {
  const build = (yaml: string) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-bulk-'));
    const file = path.join(dir, 'mapproxy.yaml');
    fs.writeFileSync(file, yaml);
    try {
      return buildProxy(loadConfig(file));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  const yaml = (cache: string, globals = '') => `
${globals}
caches:
  c:
    grids: [GLOBAL_WEBMERCATOR]
${cache}
sources:
  t: {type: tile, grid: GLOBAL_WEBMERCATOR, url: 'http://127.0.0.1:9/%(z)s/%(x)s/%(y)s.png'}
  w: {type: wms, req: {url: 'http://127.0.0.1:9/wms', layers: x}}
`;
  const manager = (y: string) => build(y).caches.get('c')!.get('GLOBAL_WEBMERCATOR')!;

  it('uses a meta grid without buffer for tile sources', () => {
    const tm = manager(yaml('    sources: [t]\n    meta_size: [3, 2]\n    meta_buffer: 50\n    bulk_meta_tiles: true'));
    assert.equal(tm.bulk, true);
    assert.deepEqual(tm.metaGrid?.metaSize, [3, 2]);
    assert.equal(tm.metaGrid?.metaBuffer, 0);
  });

  it('is switched on by globals.cache.bulk_meta_tiles', () => {
    const tm = manager(yaml('    sources: [t]', 'globals:\n  cache:\n    bulk_meta_tiles: true\n    meta_size: [2, 2]'));
    assert.equal(tm.bulk, true);
    assert.deepEqual(tm.metaGrid?.metaSize, [2, 2]);
  });

  it('does nothing for meta_size [1, 1] or without the option (single tiles, as MapProxy)', () => {
    const one = manager(yaml('    sources: [t]\n    meta_size: [1, 1]\n    meta_buffer: 10\n    bulk_meta_tiles: true'));
    assert.equal(one.bulk, false);
    assert.equal(one.metaGrid, undefined);
    const off = manager(yaml('    sources: [t]\n    meta_size: [2, 2]'));
    assert.equal(off.bulk, false);
    assert.equal(off.metaGrid, undefined);
  });

  it('keeps real meta tiles for sources that can answer them', () => {
    const tm = manager(yaml('    sources: [w]\n    meta_size: [2, 2]\n    meta_buffer: 10\n    bulk_meta_tiles: true'));
    assert.equal(tm.bulk, false);
    assert.equal(tm.metaGrid?.metaBuffer, 10);
  });

  it('refuses tile and wms sources together with meta tiles, bulk or not (as MapProxy)', () => {
    for (const bulk of ['true', 'false']) {
      assert.throws(
        () => build(yaml(`    sources: [w, t]\n    meta_size: [2, 2]\n    bulk_meta_tiles: ${bulk}`)),
        (e: unknown) => e instanceof ConfigError && /caches\.c\.sources/.test(e.message) && /meta tiling configured but not supported by all sources/.test(e.message),
      );
    }
  });
});

describe('bulk_meta_tiles with a wms cache as neighbour', () => {
  let wms: WmsUpstream;
  let up: CountingUpstream;
  let mp: TestProxy;
  before(async () => {
    wms = await startWmsUpstream();
    up = await startCountingUpstream();
    mp = await startProxy(`
services:
  tms:
    origin: nw
layers:
  - {name: w, title: W, sources: [w_cache]}
  - {name: t, title: T, sources: [t_cache]}
globals:
  cache:
    meta_size: [2, 2]
    meta_buffer: 10
    bulk_meta_tiles: true
caches:
  w_cache: {grids: [GLOBAL_WEBMERCATOR], sources: [w]}
  t_cache: {grids: [GLOBAL_WEBMERCATOR], sources: [t]}
sources:
  w: {type: wms, req: {url: '${wms.url}', layers: base}}
  t: {type: tile, grid: GLOBAL_WEBMERCATOR, url: '${up.url}/t/%(z)s/%(x)s/%(y)s.png'}
`);
  });
  after(async () => {
    await mp.stop();
    await up.stop();
    await wms.stop();
  });

  it('one GetMap per meta tile for the wms cache, one request per tile for the tile cache', async () => {
    assert.equal((await fetch(`${mp.url}/tiles/w_EPSG3857/3/2/3.png`)).status, 200);
    assert.equal(wms.requests.length, 1);
    assert.equal(wms.requests[0].params.width, String(2 * 256 + 2 * 10));
    assert.equal((await fetch(`${mp.url}/tiles/t_EPSG3857/3/2/3.png`)).status, 200);
    assert.equal(up.paths.length, 4);
  });
});
