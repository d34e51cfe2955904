/** mapproxy seed with a seed.yaml and in the quick form, against a real counting upstream. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { basicConfig, listFiles, makeCase, seedIn, startSeedUpstream, type SeedUpstream } from './helpers.ts';

const SEED_0_5 = `
seeds:
  s:
    caches: [c]
    coverages: [area]
    levels: {from: 0, to: 5}
coverages:
  area:
    bbox: [5.8, 50.2, 9.0, 52.5]
    srs: EPSG:4326
`;

/** tc paths of a level */
function level(files: string[], z: number): string[] {
  const p = `${String(z).padStart(2, '0')}/`;
  return files.filter((f) => f.startsWith(p));
}

describe('mapproxy seed with seed.yaml', () => {
  let up: SeedUpstream;
  before(async () => {
    up = await startSeedUpstream();
  });
  after(async () => {
    await up.stop();
  });

  it('seeds levels 0-5 of a bbox with one request per meta tile', async () => {
    up.requests.length = 0;
    const dir = makeCase({ 'mapproxy.yaml': basicConfig(), 'seed.yaml': SEED_0_5 }, up);
    const r = await seedIn(dir, { seedConf: 'seed.yaml' });
    assert.equal(r.code, 0, r.err);
    const files = listFiles(path.join(dir, 'cache_data/c_EPSG3857'));
    assert.ok(files.every((f) => f.endsWith('.png')), files.join(','));
    // level 0: one tile, 1: 2x2, 2: 4x4 (meta tiles cover whole levels), level 5: the 4x4 meta tiles around the bbox
    assert.equal(level(files, 0).length, 1);
    assert.equal(level(files, 1).length, 4);
    assert.equal(level(files, 2).length, 16);
    assert.ok(level(files, 5).length >= 4 && level(files, 5).length % 16 === 0, String(level(files, 5).length));
    // every tile once, every meta tile one request: 1 + 1 + 1 + 1 + 1 + N5
    assert.equal(up.requests.length, 5 + level(files, 5).length / 16);
    assert.match(r.out, /Seeding cache 'c' with grid 'GLOBAL_WEBMERCATOR' in EPSG:3857/);
    assert.match(r.out, /Levels: \[0, 1, 2, 3, 4, 5\]/);
    assert.match(r.out, /seeded \d+ tiles/);
    // a second run finds everything cached
    const before2 = up.requests.length;
    const r2 = await seedIn(dir, { seedConf: 'seed.yaml' });
    assert.equal(r2.code, 0);
    assert.equal(up.requests.length, before2);
    assert.match(r2.out, /seeded 0 tiles/);
  });

  it('completes a meta tile that has its main tile but lost others (a creation killed half-way)', async () => {
    up.requests.length = 0;
    const dir = makeCase({ 'mapproxy.yaml': basicConfig(), 'seed.yaml': SEED_0_5 }, up);
    assert.equal((await seedIn(dir, { seedConf: 'seed.yaml' })).code, 0);
    const cache = path.join(dir, 'cache_data/c_EPSG3857');
    const all = listFiles(cache);
    // level 2 is one 4x4 meta tile: keep its first (main) tile, drop the rest
    const l2 = level(all, 2);
    assert.equal(l2.length, 16);
    const main = l2[0];
    for (const f of l2.slice(1)) fs.rmSync(path.join(cache, f));
    const before = up.requests.length;
    const r = await seedIn(dir, { seedConf: 'seed.yaml' });
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(level(listFiles(cache), 2), l2);
    assert.ok(fs.existsSync(path.join(cache, main)));
    assert.equal(up.requests.length, before + 1);
  });

  it('--dry-run and --summary write nothing and ask no one', async () => {
    up.requests.length = 0;
    const dir = makeCase({ 'mapproxy.yaml': basicConfig(), 'seed.yaml': SEED_0_5 }, up);
    const dry = await seedIn(dir, { seedConf: 'seed.yaml', dryRun: true });
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.out, /would seed \d+ tiles/);
    const sum = await seedIn(dir, { seedConf: 'seed.yaml', summary: true });
    assert.equal(sum.code, 0);
    assert.match(sum.out, /========== Seeding tasks ==========\n {2}s:\n/);
    assert.match(sum.out, /Limited to coverage in: 5\.80000, 50\.20000, 9\.00000, 52\.50000 \(EPSG:4326\)/);
    assert.equal(up.requests.length, 0);
    assert.deepEqual(listFiles(path.join(dir, 'cache_data/c_EPSG3857')), []);
  });

  it('refresh_before remakes old tiles only; --skip-uncached leaves missing ones missing', async () => {
    const seedYaml = `
seeds:
  s:
    caches: [c]
    levels: [0, 1, 2]
  refresh:
    caches: [c]
    levels: [0, 1, 2]
    refresh_before: {days: 5}
`;
    const dir = makeCase({ 'mapproxy.yaml': basicConfig(), 'seed.yaml': seedYaml }, up);
    assert.equal((await seedIn(dir, { seedConf: 'seed.yaml', seedNames: ['s'] })).code, 0);
    const cache = path.join(dir, 'cache_data/c_EPSG3857');
    const files = listFiles(cache);
    assert.equal(files.length, 21);
    const old = Date.now() / 1000 - 10 * 86400;
    // level 2 is one meta tile (4x4): age one of its tiles, and drop level 1 entirely
    fs.utimesSync(path.join(cache, level(files, 2)[0]), old, old);
    for (const f of level(files, 1)) fs.rmSync(path.join(cache, f));
    up.requests.length = 0;
    const skip = await seedIn(dir, { seedConf: 'seed.yaml', seedNames: ['refresh'], skipUncached: true });
    assert.equal(skip.code, 0, skip.err);
    assert.equal(up.requests.length, 1, 'only the meta tile with the stale tile');
    assert.equal(level(listFiles(cache), 1).length, 0, 'uncached tiles stay uncached');
    for (const f of level(files, 2)) assert.ok(fs.statSync(path.join(cache, f)).mtimeMs / 1000 > old + 86400, f);
    up.requests.length = 0;
    const all = await seedIn(dir, { seedConf: 'seed.yaml', seedNames: ['refresh'] });
    assert.equal(all.code, 0);
    assert.equal(up.requests.length, 1, 'level 1 again');
    assert.equal(listFiles(cache).length, 21);
  });

  it('selects tasks with --seed/--cleanup and refuses unknown names with exit 1', async () => {
    const seedYaml = `
seeds:
  a: {caches: [c], levels: [0]}
  b: {caches: [c], levels: [1]}
cleanups:
  x: {caches: [c], levels: [0], remove_all: true}
`;
    const dir = makeCase({ 'mapproxy.yaml': basicConfig(), 'seed.yaml': seedYaml }, up);
    const r = await seedIn(dir, { seedConf: 'seed.yaml', seedNames: ['b'], summary: true });
    assert.match(r.out, / {2}b:/);
    assert.doesNotMatch(r.out, / {2}a:|Cleaning up/);
    const c = await seedIn(dir, { seedConf: 'seed.yaml', cleanupNames: ['ALL'], summary: true });
    assert.doesNotMatch(c.out, /Seeding cache/);
    assert.match(c.out, /Cleaning up cache 'c'/);
    assert.match(c.out, /Remove: all tiles/);
    const bad = await seedIn(dir, { seedConf: 'seed.yaml', seedNames: ['nope'] });
    assert.equal(bad.code, 1);
    assert.match(bad.err, /unknown seed tasks: nope \(available: a, b\)/);
  });

  it('cleanup remove_before removes old tiles of the meta tiles in the coverage; remove_all removes whole levels', async () => {
    const seedYaml = `
seeds:
  s: {caches: [c], levels: [0, 1, 2, 3]}
cleanups:
  old:
    caches: [c]
    levels: [2, 3]
    coverages: [west]
    remove_before: {days: 5}
  all:
    caches: [c]
    levels: [3]
    remove_all: true
coverages:
  west:
    bbox: [-20037508.34, -20037508.34, -10, 20037508.34]
    srs: EPSG:3857
`;
    const dir = makeCase({ 'mapproxy.yaml': basicConfig(), 'seed.yaml': seedYaml }, up);
    assert.equal((await seedIn(dir, { seedConf: 'seed.yaml', seedNames: ['s'] })).code, 0);
    const cache = path.join(dir, 'cache_data/c_EPSG3857');
    const files = listFiles(cache);
    assert.equal(files.length, 1 + 4 + 16 + 64);
    const old = Date.now() / 1000 - 10 * 86400;
    // age every tile of level 3 (west and east); level 2 stays fresh
    for (const f of level(files, 3)) fs.utimesSync(path.join(cache, f), old, old);
    const r = await seedIn(dir, { seedConf: 'seed.yaml', cleanupNames: ['old'] });
    assert.equal(r.code, 0, r.err);
    // as MapProxy, whole meta tiles (4x4) that meet the coverage go: the two western ones of level 3
    const left3 = level(listFiles(cache), 3);
    assert.equal(left3.length, 32);
    assert.ok(left3.every((f) => Number(f.split('/')[3]) >= 4), left3.join(' '));
    assert.equal(level(listFiles(cache), 2).length, 16, 'fresh level 2 tiles stay');
    const all = await seedIn(dir, { seedConf: 'seed.yaml', cleanupNames: ['all'] });
    assert.equal(all.code, 0);
    assert.equal(level(listFiles(cache), 3).length, 0);
    assert.ok(!fs.existsSync(path.join(cache, '03')), 'empty level directory removed');
    assert.equal(level(listFiles(cache), 0).length, 1);
  });

  it('retries an upstream that fails 3 times, then succeeds', async () => {
    const dir = makeCase({ 'mapproxy.yaml': basicConfig(), 'seed.yaml': 'seeds:\n  s: {caches: [c], levels: [0]}\n' }, up);
    up.requests.length = 0;
    up.failNext = 3;
    const r = await seedIn(dir, { seedConf: 'seed.yaml', maxRetries: 5, retryDelay: 0.01 });
    assert.equal(r.code, 0, r.err + r.out);
    assert.equal(up.requests.filter((q) => q.startsWith('FAILED')).length, 3);
    assert.equal(up.requests.filter((q) => !q.startsWith('FAILED')).length, 1);
    assert.equal((r.out.match(/retry in/g) ?? []).length, 3);
    assert.match(r.out, /3 retries left|4 retries left|5 retries left/);
    assert.equal(listFiles(path.join(dir, 'cache_data/c_EPSG3857')).length, 1);
  });

  it('reports tiles that fail every retry with their coordinates and exits 3', async () => {
    const dir = makeCase({ 'mapproxy.yaml': basicConfig(), 'seed.yaml': 'seeds:\n  s: {caches: [c], levels: [0, 1]}\n' }, up);
    up.failAll = true;
    try {
      const r = await seedIn(dir, { seedConf: 'seed.yaml', maxRetries: 2, retryDelay: 0.01, maxFailures: 0 });
      assert.equal(r.code, 3);
      assert.match(r.err, /2 tiles failed after every retry/);
      assert.match(r.err, /\n {2}0\/0\/0 c\/GLOBAL_WEBMERCATOR: /);
      assert.match(r.err, /\n {2}0\/0\/1 c\/GLOBAL_WEBMERCATOR: /);
      assert.deepEqual(listFiles(path.join(dir, 'cache_data/c_EPSG3857')), []);
    } finally {
      up.failAll = false;
    }
  });

  it('stops after --max-failures meta tiles in a row failed (exit 3, progress kept)', async () => {
    const dir = makeCase({ 'mapproxy.yaml': basicConfig(), 'seed.yaml': 'seeds:\n  s: {caches: [c], levels: [3, 4, 5]}\n' }, up);
    up.failAll = true;
    up.requests.length = 0;
    try {
      const r = await seedIn(dir, { seedConf: 'seed.yaml', maxRetries: 0, maxFailures: 3, concurrency: 1, progressFile: 'progress.json' });
      assert.equal(r.code, 3);
      assert.match(r.err, /interrupted: 3 meta tiles in a row failed/);
      assert.ok(up.requests.length <= 4, String(up.requests.length));
    } finally {
      up.failAll = false;
    }
  });

  it('limits the request rate with --max-rate', async () => {
    const dir = makeCase({ 'mapproxy.yaml': basicConfig(), 'seed.yaml': 'seeds:\n  s: {caches: [c], levels: [0, 1, 2, 3, 4]}\n' }, up);
    const started = performance.now();
    up.requests.length = 0;
    const r = await seedIn(dir, { seedConf: 'seed.yaml', maxRate: 40 });
    assert.equal(r.code, 0);
    // 1+1+1+4+16 meta tiles at 40/s take at least (23-1)/40 s
    assert.equal(up.requests.length, 23);
    assert.ok(performance.now() - started >= 500, String(performance.now() - started));
  });

  it('takes the same meta tile locks as the server: a tile is fetched once', async () => {
    up.requests.length = 0;
    up.delayMs = 150;
    try {
      const dir = makeCase({ 'mapproxy.yaml': basicConfig(), 'seed.yaml': 'seeds:\n  s: {caches: [c], levels: [0, 1, 2]}\n' }, up);
      const [a, b] = await Promise.all([seedIn(dir, { seedConf: 'seed.yaml' }), seedIn(dir, { seedConf: 'seed.yaml' })]);
      assert.equal(a.code, 0);
      assert.equal(b.code, 0);
      assert.equal(up.requests.length, 3, up.requests.join('\n'));
    } finally {
      up.delayMs = 0;
    }
  });
});

describe('mapproxy seed without seed.yaml', () => {
  let up: SeedUpstream;
  before(async () => {
    up = await startSeedUpstream();
  });
  after(async () => {
    await up.stop();
  });

  it('seeds a cache, grid, levels and bbox as the seed.yaml form does', async () => {
    const a = makeCase({ 'mapproxy.yaml': basicConfig(), 'seed.yaml': SEED_0_5 }, up);
    const b = makeCase({ 'mapproxy.yaml': basicConfig() }, up);
    assert.equal((await seedIn(a, { seedConf: 'seed.yaml' })).code, 0);
    const r = await seedIn(b, { cache: 'c', grids: ['GLOBAL_WEBMERCATOR'], levels: '0-5', bbox: '5.8,50.2,9.0,52.5' });
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(listFiles(path.join(b, 'cache_data/c_EPSG3857')), listFiles(path.join(a, 'cache_data/c_EPSG3857')));
  });

  it('cleans up with --cleanup --remove-all', async () => {
    const dir = makeCase({ 'mapproxy.yaml': basicConfig() }, up);
    assert.equal((await seedIn(dir, { cache: 'c', levels: '0-2' })).code, 0);
    const r = await seedIn(dir, { cache: 'c', levels: '2', cleanupNames: [], removeAll: true });
    assert.equal(r.code, 0, r.err);
    const files = listFiles(path.join(dir, 'cache_data/c_EPSG3857'));
    assert.equal(files.length, 5);
  });

  it('bbox in another SRS and a partial bbox cleanup', async () => {
    const dir = makeCase({ 'mapproxy.yaml': basicConfig() }, up);
    assert.equal((await seedIn(dir, { cache: 'c', levels: '3' })).code, 0);
    const r = await seedIn(dir, { cache: 'c', levels: '3', cleanupNames: [], removeAll: true, bbox: '-20037508,-20037508,-10,20037508', bboxSrs: 'EPSG:3857' });
    assert.equal(r.code, 0, r.err);
    assert.equal(listFiles(path.join(dir, 'cache_data/c_EPSG3857')).length, 32);
  });
});

describe('mapproxy seed bad input: one line, exit 2, nothing written', () => {
  let up: SeedUpstream;
  before(async () => {
    up = await startSeedUpstream();
  });
  after(async () => {
    await up.stop();
  });

  const cases: [string, Record<string, string>, Record<string, unknown>, RegExp][] = [
    ['unknown cache', { 'seed.yaml': 'seeds:\n  s: {caches: [nope]}\n' }, {}, /seed\.yaml:2: seeds\.s\.caches\[0\]: cache 'nope' not found \(known: c\)/],
    ['unknown grid', { 'seed.yaml': 'seeds:\n  s: {caches: [c], grids: [GLOBAL_GEODETIC]}\n' }, {}, /grid 'GLOBAL_GEODETIC' is not a grid of cache 'c'/],
    ['unknown coverage', { 'seed.yaml': 'seeds:\n  s: {caches: [c], coverages: [x]}\ncoverages:\n  y: {bbox: [0, 0, 1, 1], srs: "EPSG:4326"}\n' }, {}, /coverage 'x' not found \(known: y\)/],
    ['levels outside the grid', { 'seed.yaml': 'seeds:\n  s: {caches: [c], levels: {from: 3, to: 25}}\n' }, {}, /levels: level 25 outside grid 'GLOBAL_WEBMERCATOR' \(levels 0-19\)/],
    ['inverted bbox', { 'seed.yaml': 'seeds:\n  s: {caches: [c], coverages: [x]}\ncoverages:\n  x: {bbox: [9, 50, 5, 52], srs: "EPSG:4326"}\n' }, {}, /coverages\.x\.bbox/],
    ['unreadable coverage file', { 'seed.yaml': 'seeds:\n  s: {caches: [c], coverages: [x]}\ncoverages:\n  x: {datasource: missing.geojson, srs: "EPSG:4326"}\n' }, {}, /coverages\.x\.datasource.*missing\.geojson/],
    ['invalid coverage file', { 'seed.yaml': 'seeds:\n  s: {caches: [c], coverages: [x]}\ncoverages:\n  x: {datasource: bad.geojson, srs: "EPSG:4326"}\n', 'bad.geojson': '{"type": "FeatureCollection", "features": [' }, {}, /coverages\.x\.datasource/],
    ['legacy format', { 'seed.yaml': 'seeds:\n  c:\n    views: [v]\nviews:\n  v:\n    bbox: [0, 0, 1, 1]\n    level: [0, 5]\n' }, {}, /seed\.yaml:\d+: views: this is MapProxy's old seed\.yaml format/],
    ['wrong type', { 'seed.yaml': 'seeds:\n  s: {caches: c}\n' }, {}, /seeds\.s\.caches/],
    ['quick: unknown cache', {}, { cache: 'nope' }, /unknown cache 'nope' \(known: c\)/],
    ['quick: unknown grid', {}, { cache: 'c', grids: ['x'] }, /grid 'x' is not a grid of cache 'c'/],
    ['quick: levels outside', {}, { cache: 'c', levels: '18-22' }, /--levels: levels 20, 21, 22 outside grid/],
    ['quick: inverted bbox', {}, { cache: 'c', bbox: '9,52,5,50' }, /--bbox: inverted bbox/],
    ['quick: unreadable coverage file', {}, { cache: 'c', coverageFile: 'nope.wkt' }, /--coverage-file: .*nope\.wkt/],
  ];
  for (const [name, files, args, re] of cases) {
    it(name, async () => {
      up.requests.length = 0;
      const dir = makeCase({ 'mapproxy.yaml': basicConfig(), ...files }, up);
      const r = await seedIn(dir, { ...(files['seed.yaml'] ? { seedConf: 'seed.yaml' } : {}), ...args });
      assert.equal(r.code, 2, r.out + r.err);
      assert.match(r.err, re);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
      assert.equal(up.requests.length, 0);
      assert.ok(!fs.existsSync(path.join(dir, 'cache_data/c_EPSG3857')));
    });
  }
});
