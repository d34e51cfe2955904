/**
 * `seed_only: true` sources, as MapProxy 1.15 treats them: while serving the
 * source is a DummySource (no upstream request, nothing stored, the empty
 * transparent tile answered); `mapproxy seed` and seeding-API job processes
 * use it, and the server then answers the seeded tiles from the cache.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startRecordingWms, type RecordingWms } from '../helpers/recording-wms.ts';
import { startProxy, type TestProxy } from '../helpers/proxy-server.ts';
import { listFiles, seedIn } from '../seed/helpers.ts';
import { api, TOKEN } from '../admin/helpers.ts';
import { loadConfig } from '../../src/config/loader.ts';
import { buildProxy } from '../../src/core/build-proxy.ts';
import { decodeImage } from '../../src/image/codec.ts';
import { runJobProcess } from '../../src/render/job-process.ts';
import { SeedOnlySource } from '../../src/source/seed-only.ts';
import { WmsSource } from '../../src/source/wms.ts';
import { TileSource } from '../../src/source/tile.ts';

/** mapproxy.yaml: cache `c` (2x2 meta tiles) of the seed_only source `src`, a direct layer on it, cache `m` merging it with `live`. */
function config(url: string, baseDir: string, extra = ''): string {
  return `
globals:
  cache:
    base_dir: ${baseDir}
    lock_dir: ${baseDir}/locks
services:
  tms:
  wms:
    srs: ['EPSG:3857', 'EPSG:4326']
    featureinfo_types: [text]
${extra}
layers:
  - name: l
    title: Seeded
    sources: [c]
  - name: direct
    title: Direct
    sources: [src]
  - name: merged
    title: Merged
    sources: [m]
caches:
  c:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [src]
    meta_size: [2, 2]
    meta_buffer: 0
  m:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [src, live]
    meta_size: [1, 1]
    meta_buffer: 0
sources:
  src:
    type: wms
    seed_only: true
    coverage:
      bbox: [-20, -40, 20, 60]
      srs: EPSG:4326
    wms_opts:
      featureinfo: true
    req:
      url: ${url}
      layers: seeded
      transparent: true
  live:
    type: wms
    req:
      url: ${url}
      layers: live
      transparent: true
`;
}

const SEED_YAML = `
seeds:
  s:
    caches: [c]
    grids: [GLOBAL_WEBMERCATOR]
    levels: {from: 0, to: 2}
`;

async function get(url: string): Promise<{ status: number; type: string; cache: string | null; body: Uint8Array }> {
  const r = await fetch(url);
  return { status: r.status, type: r.headers.get('content-type') ?? '', cache: r.headers.get('x-cache'), body: new Uint8Array(await r.arrayBuffer()) };
}

async function fullyTransparent(png: Uint8Array): Promise<boolean> {
  const r = await decodeImage(png);
  for (let i = 3; i < r.data.length; i += 4) if (r.data[i] !== 0) return false;
  return true;
}

/** Stored tiles of cache c (tc layout), relative paths. */
function tilesOf(baseDir: string, cache = 'c'): string[] {
  const dir = path.join(baseDir, `${cache}_EPSG3857`);
  return fs.existsSync(dir) ? listFiles(dir).filter((f) => f.endsWith('.png')) : [];
}

describe('seed_only sources', () => {
  let up: RecordingWms;
  let work: string;
  let baseDir: string;
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
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-seed-only-'));
    baseDir = path.join(work, 'cache_data');
  });

  it('while serving: no upstream request, the empty transparent tile, nothing stored', async () => {
    p = await startProxy(config(up.url, baseDir));
    for (let i = 0; i < 2; i++) {
      const r = await get(`${p.url}/tms/1.0.0/l/EPSG3857/1/1/1.png`);
      assert.equal(r.status, 200);
      assert.equal(r.type, 'image/png');
      assert.ok(await fullyTransparent(r.body));
    }
    assert.equal(up.requests.length, 0);
    assert.deepEqual(tilesOf(baseDir), []);
  });

  it('while serving: WMS maps of the cache and of a direct layer ask nothing upstream', async () => {
    p = await startProxy(config(up.url, baseDir));
    for (const layer of ['l', 'direct']) {
      const r = await get(`${p.url}/service?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=${layer}&STYLES=&SRS=EPSG:4326&BBOX=5,45,15,55&WIDTH=200&HEIGHT=100&FORMAT=image/png&TRANSPARENT=true`);
      assert.equal(r.status, 200, layer);
      assert.equal(r.type, 'image/png');
      assert.ok(await fullyTransparent(r.body), layer);
    }
    assert.deepEqual(up.getMaps(), []);
    assert.deepEqual(tilesOf(baseDir), []);
  });

  it('while serving: feature info of the source still asks upstream (MapProxy replaces only the map source)', async () => {
    p = await startProxy(config(up.url, baseDir));
    const r = await get(`${p.url}/service?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetFeatureInfo&LAYERS=direct&QUERY_LAYERS=direct&STYLES=&SRS=EPSG:4326&BBOX=5,45,15,55&WIDTH=200&HEIGHT=100&FORMAT=image/png&X=70&Y=30&INFO_FORMAT=text/plain`);
    assert.equal(r.status, 200);
    assert.match(new TextDecoder().decode(r.body), /red box/);
    assert.equal(up.requests.length, 1);
    assert.equal(up.requests[0].params.request, 'GetFeatureInfo');
  });

  it('while serving: a cache merging it with another source asks only the other and stores the tile', async () => {
    p = await startProxy(config(up.url, baseDir));
    // TMS level 1 is grid level 2 (MapProxy's global-mercator profile); tc paths count y from the top
    const r = await get(`${p.url}/tms/1.0.0/merged/EPSG3857/1/2/2.png`);
    assert.equal(r.status, 200);
    assert.equal(r.cache, 'MISS');
    assert.deepEqual(up.getMaps().map((m) => m.params.layers), ['live']);
    assert.deepEqual(tilesOf(baseDir, 'm'), ['02/000/000/002/000/000/001.png']);
  });

  it('mapproxy seed fetches and stores; the server then answers the seeded tiles and still nothing else', async () => {
    fs.writeFileSync(path.join(work, 'mapproxy.yaml'), config(up.url, baseDir));
    fs.writeFileSync(path.join(work, 'seed.yaml'), SEED_YAML);
    const s = await seedIn(work, { seedConf: 'seed.yaml' });
    assert.equal(s.code, 0, s.err + s.out);
    const seededRequests = up.getMaps();
    // levels 0-2 with 2x2 meta tiles: 1 + 1 + 4 meta tiles (the coverage touches all of level 2's)
    assert.equal(seededRequests.length, 6);
    assert.ok(seededRequests.every((m) => m.params.layers === 'seeded' && m.method === 'GET'));
    const stored = tilesOf(baseDir);
    assert.equal(stored.length, 1 + 4 + 16);

    p = await startProxy(config(up.url, baseDir));
    // TMS 1/1/2 is grid level 2, x 1, y 1 from the top
    const file = path.join(baseDir, 'c_EPSG3857', '02/000/000/001/000/000/001.png');
    const hit = await get(`${p.url}/tms/1.0.0/l/EPSG3857/1/1/2.png`);
    assert.equal(hit.status, 200);
    assert.equal(hit.cache, 'HIT');
    assert.deepEqual(hit.body, new Uint8Array(fs.readFileSync(file)));
    // a level that was not seeded (grid level 3): empty, not asked, not stored
    const miss = await get(`${p.url}/tms/1.0.0/l/EPSG3857/2/3/3.png`);
    assert.equal(miss.cache, null);
    assert.equal(miss.status, 200);
    assert.ok(await fullyTransparent(miss.body));
    // the WMS answers from the seeded level too: the red box of the upstream pattern
    const map = await get(`${p.url}/service?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=l&STYLES=&SRS=EPSG:3857&BBOX=0,0,10018754.17,10018754.17&WIDTH=256&HEIGHT=256&FORMAT=image/png`);
    assert.equal(map.status, 200);
    const img = await decodeImage(map.body);
    // 9 E, 51 N lies at about (59, 154) in that map
    const x = Math.round((1001875.4 / 10018754.17) * 256 - 0.5);
    const y = Math.round(256 - (6621293.7 / 10018754.17) * 256 - 0.5);
    const i = (y * img.width + x) * 4;
    assert.ok(img.data[i] > 150 && img.data[i + 1] < 60, `pixel at ${x},${y}: ${[...img.data.subarray(i, i + 4)]}`);
    assert.equal(up.getMaps().length, seededRequests.length);
    assert.equal(tilesOf(baseDir).length, stored.length);
  });

  it('a seeding-API job process (job-run) uses the source and stores the tiles', async () => {
    const yaml = config(up.url, baseDir, `  admin:\n    token: ${TOKEN}`);
    p = await startProxy(yaml);
    const sub = await api(p.url, 'POST', '/admin/seed', { body: { cache: 'c', levels: '0-1', bbox: [-180, -85, 180, 85] } });
    assert.equal(sub.status, 201, JSON.stringify(sub.json));
    // no runner in this process: run the job as `mapproxy serve` runs it, in its own job process
    const code = await runJobProcess({ config: p.configFile, jobsDir: path.join(baseDir, '.mapproxy-jobs'), id: sub.json.id });
    assert.equal(code, 0);
    const job = await api(p.url, 'GET', `/admin/jobs/${sub.json.id}`);
    assert.equal(job.json.state, 'done', JSON.stringify(job.json));
    assert.equal(up.getMaps().length, 2);
    assert.equal(tilesOf(baseDir).length, 1 + 4);
    const hit = await get(`${p.url}/tms/1.0.0/l/EPSG3857/0/0/1.png`);
    assert.equal(hit.cache, 'HIT');
    assert.equal(up.getMaps().length, 2);
  });

  it('buildProxy replaces seed_only sources unless seeding, tagged references and tile sources too', () => {
    const yaml = config(up.url, baseDir).replace(
      '  live:\n',
      `  tiles:
    type: tile
    seed_only: true
    url: http://127.0.0.1:9/%(tms_path)s.png
  renderer:
    type: mapnik
    seed_only: true
    mapfile: osm.xml
  plain:
    type: tile
    url: http://127.0.0.1:9/%(tms_path)s.png
  live:
`,
    ).replace('    sources: [src, live]', '    sources: [src, live, "src:a,b", tiles, plain]').replace('      layers: seeded', '      layers: seeded,a,b');
    fs.writeFileSync(path.join(work, 'mapproxy.yaml'), yaml);
    const serving = buildProxy(loadConfig(path.join(work, 'mapproxy.yaml')));
    assert.ok(serving.sources.get('src') instanceof SeedOnlySource);
    assert.ok(serving.sources.get('tagged:src:a,b') instanceof SeedOnlySource);
    assert.ok(serving.sources.get('tiles') instanceof SeedOnlySource);
    assert.ok(serving.sources.get('renderer') instanceof SeedOnlySource);
    assert.ok(serving.sources.get('plain') instanceof TileSource);
    assert.ok(serving.sources.get('live') instanceof WmsSource);
    // the coverage stays the extent, as DummySource's
    assert.deepEqual(serving.sources.get('src')!.extent?.bbox, [-20, -40, 20, 60]);
    // an unsupported type that is only a dummy while serving is nothing to warn about
    assert.ok(!serving.unsupported.some((u) => u.includes('sources.renderer')), serving.unsupported.join('\n'));

    const seeding = buildProxy(loadConfig(path.join(work, 'mapproxy.yaml')), { seeding: true });
    assert.ok(seeding.sources.get('src') instanceof WmsSource);
    assert.ok(seeding.sources.get('tagged:src:a,b') instanceof WmsSource);
    assert.ok(seeding.sources.get('tiles') instanceof TileSource);
    assert.ok(seeding.unsupported.some((u) => u.includes('sources.renderer')));
  });

  it('config errors of a seed_only source show when serving too', () => {
    const yaml = config(up.url, baseDir).replace('    seed_only: true\n', '    seed_only: true\n    http:\n      method: PUT\n');
    fs.writeFileSync(path.join(work, 'mapproxy.yaml'), yaml);
    assert.throws(() => buildProxy(loadConfig(path.join(work, 'mapproxy.yaml'))), /sources\.src\.http\.method: expected GET, POST or AUTO, got 'PUT'/);
  });
});
