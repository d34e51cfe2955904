import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DIRECTORY_LAYOUTS, tileRelPath, type DirectoryLayout } from '../../src/cache/file-layout.ts';
import { FileCache } from '../../src/cache/file-cache.ts';
import { parseTileRelPath, walkTiles, type TileFile } from '../../src/cache/tile-files.ts';
import { cleanCache, lruTime, parseBefore, parseMaxAge, parseSize, type CleanOptions } from '../../src/cache/cache-clean.ts';
import type { TileCoord } from '../../src/grid/tile-grid.ts';
import { daysAgo, listDirs, listFiles, makeEnv, runCli, writeTile, type TestEnv } from './cache-helpers.ts';

const envs: TestEnv[] = [];
after(() => {
  for (const e of envs) e.remove();
});
function env(...args: Parameters<typeof makeEnv>): TestEnv {
  const e = makeEnv(...args);
  envs.push(e);
  return e;
}

const clean = (e: TestEnv, opts: Omit<CleanOptions, 'cache'> & { cache?: string }) => cleanCache(e.proxy, { cache: 'osm', ...opts } as CleanOptions);
const coords = (dir: string, layout: DirectoryLayout) => [...walkTiles(dir, layout, 'png')].map((t) => t.coord.join('/')).sort();

const SAMPLE: TileCoord[] = [
  [0, 0, 0],
  [1, 0, 1],
  [3, 4, 3],
  [1234, 5678, 14],
  [262143, 1, 18],
  [1234567, 87654321, 27],
];

describe('tile paths parsed back', () => {
  for (const layout of DIRECTORY_LAYOUTS) {
    it(`${layout}: parseTileRelPath inverts tileRelPath`, () => {
      for (const c of SAMPLE) {
        if (layout === 'quadkey' && (c[0] >= 2 ** c[2] || c[1] >= 2 ** c[2])) continue;
        for (const ext of ['png', 'jpeg']) {
          const rel = tileRelPath(layout, c, ext);
          assert.deepEqual(parseTileRelPath(layout, rel, ext), c, `${layout} ${rel}`);
        }
      }
      // temp files of FileCache.store, other extensions and lock files are no tiles
      const rel = tileRelPath(layout, [3, 4, 3], 'png');
      assert.equal(parseTileRelPath(layout, `${rel}.123.1.tmp`, 'png'), undefined);
      assert.equal(parseTileRelPath(layout, rel, 'jpeg'), undefined);
      assert.equal(parseTileRelPath(layout, 'tile_locks/abc.lck', 'png'), undefined);
    });
  }

  it('refuses paths tileRelPath never writes', () => {
    assert.equal(parseTileRelPath('tc', '2/000/000/003/000/000/004.png', 'png'), undefined); // level not padded
    assert.equal(parseTileRelPath('tc', '02/000/000/03/000/000/004.png', 'png'), undefined);
    assert.equal(parseTileRelPath('tms', '02/3/4.png', 'png'), undefined);
    assert.equal(parseTileRelPath('tms', '2/3/x.png', 'png'), undefined);
    assert.equal(parseTileRelPath('quadkey', '0124.png', 'png'), undefined);
    assert.equal(parseTileRelPath('arcgis', 'L09/R05397FB1/C0012d687.png', 'png'), undefined);
    assert.equal(parseTileRelPath('mp', '02/0000/0003/0000.png', 'png'), undefined);
  });

  for (const layout of DIRECTORY_LAYOUTS) {
    it(`${layout}: walkTiles finds what FileCache stored, below dimensions too, and nothing else`, () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-walk-'));
      try {
        const cache = new FileCache(dir, 'png', layout);
        const want: TileCoord[] = [[0, 0, 0], [1, 0, 1], [0, 1, 1], [5, 6, 3], [1234, 567, 12]];
        for (const c of want) cache.store(c, new Uint8Array([1, 2, 3]));
        cache.below('time-2020-01-01T00:00:00Z/dim_level-700').store([2, 3, 2], new Uint8Array([1]));
        // foreign things: a temp file, a note, a lock dir, another extension, a non-canonical name
        fs.writeFileSync(cache.tilePath([5, 6, 3]) + '.999.1.tmp', 'x');
        fs.writeFileSync(path.join(dir, 'README.txt'), 'x');
        fs.mkdirSync(path.join(dir, 'tile_locks'));
        fs.writeFileSync(path.join(dir, 'tile_locks', '0a.lck'), '');
        fs.writeFileSync(cache.tilePath([5, 6, 3]).replace(/\.png$/, '.jpeg'), 'x');
        const tiles = [...walkTiles(dir, layout, 'png')];
        const got = tiles.map((t) => t.coord.join('/')).sort();
        assert.deepEqual(got, [...want, [2, 3, 2] as TileCoord].map((c) => c.join('/')).sort());
        const dimTile = tiles.find((t) => t.coord[2] === 2)!;
        assert.ok(dimTile.path.includes(`${path.sep}time-2020-01-01T00:00:00Z${path.sep}dim_level-700${path.sep}`));
        assert.equal(dimTile.size, 1);
        // levels: only level 1 (pruned by directory or by file name, as the layout allows)
        assert.deepEqual([...walkTiles(dir, layout, 'png', { levels: new Set([1]) })].map((t) => t.coord.join('/')).sort(), ['0/1/1', '1/0/1']);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('option syntax', () => {
  it('--max-age, --before, --max-size', () => {
    assert.equal(parseMaxAge('30'), 30 * 86400);
    assert.equal(parseMaxAge('30d'), 30 * 86400);
    assert.equal(parseMaxAge('1w2d'), 9 * 86400);
    assert.equal(parseMaxAge('12h'), 12 * 3600);
    assert.equal(parseMaxAge('90m'), 5400);
    assert.equal(parseMaxAge('1.5d'), 1.5 * 86400);
    assert.throws(() => parseMaxAge('30 days'), /invalid --max-age '30 days'/);
    assert.throws(() => parseMaxAge('-3d'), /invalid --max-age/);
    assert.equal(parseBefore('2026-01-01T00:00:00Z'), Date.UTC(2026, 0, 1) / 1000);
    assert.equal(parseBefore('2026-01-01T01:30+01:30'), Date.UTC(2026, 0, 1) / 1000);
    assert.equal(parseBefore('2026-01-01'), new Date(2026, 0, 1).getTime() / 1000);
    assert.equal(parseBefore('2026-01-01T12:30'), new Date(2026, 0, 1, 12, 30).getTime() / 1000);
    for (const bad of ['2026-13-01', '2026-02-30', '2026-01-01T25:00', 'yesterday', '2026/01/01']) assert.throws(() => parseBefore(bad), /invalid --before/, bad);
    assert.equal(parseSize('20G'), 20 * 1024 ** 3);
    assert.equal(parseSize('500M'), 500 * 1024 ** 2);
    assert.equal(parseSize('1.5KiB'), 1536);
    assert.equal(parseSize('4096'), 4096);
    for (const bad of ['20 X', '-1G', 'G', '']) assert.throws(() => parseSize(bad), /invalid --max-size/, bad);
  });
});

describe('cache-clean', () => {
  it('removes tiles older than --max-age (a bare number is days) and the directories it empties', async () => {
    const e = env({ osm: { layout: 'tc' } });
    const dir = e.dir('osm');
    const now = Date.now() / 1000;
    writeTile(dir, 'tc', [0, 0, 1], { mtime: daysAgo(40, now) });
    writeTile(dir, 'tc', [1, 0, 1], { mtime: daysAgo(20, now) });
    writeTile(dir, 'tc', [5, 5, 4], { mtime: daysAgo(31, now) });
    writeTile(dir, 'tc', [6, 5, 4], { mtime: daysAgo(1, now) });
    const r = await clean(e, { maxAge: '30', now });
    assert.equal(r.removed.tiles, 2);
    assert.equal(r.removed.bytes, 200);
    assert.equal(r.kept.tiles, 2);
    assert.deepEqual(listFiles(dir), ['01/000/000/001/000/000/000.png', '04/000/000/006/000/000/005.png']);
    // 01/000/000/000 went with its only tile; directories still holding tiles stay
    assert.deepEqual(listDirs(dir).filter((d) => d.split('/').length === 4), ['01/000/000/001', '04/000/000/006']);
    const again = await clean(e, { maxAge: '30d', now });
    assert.equal(again.removed.tiles, 0);
  });

  it('--before removes tiles modified strictly before the time; --all removes all, the cache directory stays', async () => {
    const e = env({ osm: { layout: 'tms' } });
    const dir = e.dir('osm');
    const t0 = parseBefore('2026-01-01T00:00:00Z');
    writeTile(dir, 'tms', [0, 0, 2], { mtime: t0 - 1 });
    writeTile(dir, 'tms', [1, 0, 2], { mtime: t0 });
    writeTile(dir, 'tms', [1, 1, 2], { mtime: t0 + 3600 });
    const r = await clean(e, { before: '2026-01-01T00:00:00Z' });
    assert.equal(r.removed.tiles, 1);
    assert.deepEqual(listFiles(dir), ['2/1/0.png', '2/1/1.png']);
    const all = await clean(e, { all: true });
    assert.equal(all.removed.tiles, 2);
    assert.deepEqual(listFiles(dir), []);
    assert.deepEqual(listDirs(dir), []);
    assert.ok(fs.existsSync(dir));
  });

  it('--levels limits to levels, also where the level is only in the file name', async () => {
    for (const layout of ['tc', 'reverse_tms', 'quadkey', 'arcgis'] as const) {
      const e = env({ osm: { layout } });
      const dir = e.dir('osm');
      for (const c of [[0, 0, 0], [1, 1, 1], [2, 3, 2], [3, 3, 2], [7, 7, 3]] as TileCoord[]) writeTile(dir, layout, c, { mtime: daysAgo(100) });
      const r = await clean(e, { all: true, levels: '1-2' });
      assert.equal(r.removed.tiles, 3, layout);
      assert.deepEqual(coords(dir, layout), ['0/0/0', '7/7/3'], layout);
    }
  });

  it('--grid cleans one grid of a cache with several', async () => {
    const e = env({ osm: { grids: ['webmercator', 'geodetic'] } });
    const merc = e.dir('osm', 'webmercator');
    const geo = e.dir('osm', 'geodetic');
    assert.notEqual(merc, geo);
    writeTile(merc, 'tc', [0, 0, 1]);
    writeTile(geo, 'tc', [0, 0, 1]);
    const r = await clean(e, { all: true, grid: 'geodetic' });
    assert.equal(r.removed.tiles, 1);
    assert.deepEqual(r.targets.map((t) => t.grids), [['geodetic']]);
    assert.equal(listFiles(merc).length, 1);
    assert.equal(listFiles(geo).length, 0);
    const both = await clean(e, { all: true });
    assert.equal(both.removed.tiles, 1);
    assert.equal(both.targets.length, 2);
  });

  it('--coverage BBOX removes the tiles it intersects (in the grid SRS), also with --coverage-srs', async () => {
    const e = env({ osm: {} });
    const dir = e.dir('osm');
    // level 1 of GLOBAL_WEBMERCATOR (origin nw): x 0 west, 1 east; y 0 north, 1 south
    for (const c of [[0, 0, 1], [1, 0, 1], [0, 1, 1], [1, 1, 1]] as TileCoord[]) writeTile(dir, 'tc', c);
    const r = await clean(e, { all: true, coverage: '5,40,15,50' });
    assert.equal(r.removed.tiles, 1);
    assert.deepEqual(coords(dir, 'tc'), ['0/0/1', '0/1/1', '1/1/1']);
    // a bbox across the equator, west of Greenwich, in metres
    const m = await clean(e, { all: true, coverage: '-1000000,-1000000,-500000,1000000', coverageSrs: 'EPSG:3857' });
    assert.equal(m.removed.tiles, 2);
    assert.deepEqual(coords(dir, 'tc'), ['1/1/1']);
    // touching the edge only does not count (MapProxy's bbox_intersects)
    const edge = await clean(e, { all: true, coverage: '-20037508.34,-1000,0,1000', coverageSrs: 'EPSG:3857' });
    assert.equal(edge.removed.tiles, 0);
  });

  it('--coverage FILE reads a coverage file through load-coverage', { skip: !fs.existsSync(path.join(import.meta.dirname, '../../src/geo/load-coverage.ts')) && 'src/geo/load-coverage.ts is not there yet' }, async () => {
    const e = env({ osm: {} });
    const dir = e.dir('osm');
    for (const c of [[0, 0, 1], [1, 0, 1], [0, 1, 1], [1, 1, 1]] as TileCoord[]) writeTile(dir, 'tc', c);
    const file = path.join(e.root, 'area.geojson');
    fs.writeFileSync(file, JSON.stringify({ type: 'Polygon', coordinates: [[[5, 40], [15, 40], [15, 50], [5, 50], [5, 40]]] }));
    const r = await clean(e, { all: true, coverage: file });
    assert.equal(r.removed.tiles, 1);
    assert.deepEqual(coords(dir, 'tc'), ['0/0/1', '0/1/1', '1/1/1']);
    // relative to the working directory (baseDir), as on the command line
    const cli = runCli(['cache-clean', '-f', e.config, 'osm', '--all', '--coverage', 'area.geojson', '--dry-run'], e.root);
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /would remove 0 tiles/);
  });

  it('--dry-run removes nothing and reports what a real run removes', async () => {
    const e = env({ osm: {} });
    const dir = e.dir('osm');
    for (let x = 0; x < 4; x++) writeTile(dir, 'tc', [x, 0, 2], { mtime: daysAgo(x * 10), size: 100 + x });
    writeTile(dir, 'tc', [0, 0, 0], { mtime: daysAgo(100) });
    const before = listFiles(dir);
    const dry = await clean(e, { maxAge: '15d', dryRun: true });
    assert.equal(dry.dryRun, true);
    assert.deepEqual(listFiles(dir), before);
    assert.equal(listDirs(dir).length > 0, true);
    const real = await clean(e, { maxAge: '15d' });
    assert.deepEqual({ ...dry, dryRun: false }, real);
    assert.equal(real.removed.tiles, 3);
    assert.equal(real.removed.bytes, 100 + 102 + 103);
  });

  it('--max-size evicts the least recently used tiles by access time (mtime where the access time is older)', async () => {
    const e = env({ osm: {} });
    const dir = e.dir('osm');
    const now = Date.now() / 1000;
    const old = daysAgo(50, now);
    // same mtime, different access times: tile x=k was last read k days ago
    const atimes = [1, 5, 3, 9, 7];
    for (const [x, d] of atimes.entries()) writeTile(dir, 'tc', [x, 0, 3], { mtime: old, atime: daysAgo(d, now) });
    // on a file system without access times the atime stays old: the (new) mtime decides
    writeTile(dir, 'tc', [7, 7, 3], { mtime: daysAgo(2, now), atime: daysAgo(300, now) });
    const one = fs.statSync(path.join(dir, tileRelPath('tc', [0, 0, 3], 'png'))).blocks * 512;
    assert.equal(lruTime({ atime: 1, mtime: 2 }), 2);
    const dry = await clean(e, { maxSize: String(3 * one), dryRun: true });
    assert.equal(dry.removed.tiles, 3);
    assert.equal(dry.removed.disk, 3 * one);
    assert.equal(listFiles(dir).length, 6);
    const r = await clean(e, { maxSize: String(3 * one) });
    assert.equal(r.removed.tiles, 3);
    assert.equal(r.kept.disk, 3 * one);
    // left: read 1 day ago (x=0), mtime 2 days ago (7,7), read 3 days ago (x=2)
    assert.deepEqual(coords(dir, 'tc'), ['0/0/3', '2/0/3', '7/7/3']);
    const fits = await clean(e, { maxSize: '1G' });
    assert.equal(fits.removed.tiles, 0);
  });

  it('--max-size after --max-age: aged tiles go first, then LRU', async () => {
    const e = env({ osm: {} });
    const dir = e.dir('osm');
    const now = Date.now() / 1000;
    writeTile(dir, 'tc', [0, 0, 2], { mtime: daysAgo(40, now), atime: daysAgo(0.5, now) });
    writeTile(dir, 'tc', [1, 0, 2], { mtime: daysAgo(10, now), atime: daysAgo(9, now) });
    writeTile(dir, 'tc', [2, 0, 2], { mtime: daysAgo(10, now), atime: daysAgo(1, now) });
    const one = fs.statSync(path.join(dir, tileRelPath('tc', [0, 0, 2], 'png'))).blocks * 512;
    const r = await clean(e, { maxAge: '30d', maxSize: String(one), now });
    assert.equal(r.removed.tiles, 2);
    assert.deepEqual(coords(dir, 'tc'), ['2/0/2']);
  });

  it('counts links to single-colour tiles as tiles and removes a single-colour file only with its last link', async () => {
    for (const mode of ['symlink', 'hardlink'] as const) {
      const e = env({ osm: {} });
      const dir = e.dir('osm');
      const cache = new FileCache(dir, 'png', 'tc');
      const red = new Uint8Array(300).fill(1);
      cache.storeSingleColor([0, 0, 2], red, [255, 0, 0], mode);
      cache.storeSingleColor([1, 0, 2], red, [255, 0, 0], mode);
      cache.storeSingleColor([0, 0, 5], red, [255, 0, 0], mode);
      cache.storeSingleColor([1, 1, 2], new Uint8Array(200), [0, 0, 255], mode);
      cache.store([3, 3, 2], new Uint8Array(50));
      // an orphan left behind by someone else
      fs.writeFileSync(path.join(dir, 'single_color_tiles', '00ff00.png'), new Uint8Array(10));
      const tiles: TileFile[] = [...walkTiles(dir, 'tc', 'png')];
      assert.equal(tiles.length, 5);
      assert.equal(tiles.filter((t) => t.shared).length, 4, mode);
      assert.ok(tiles.filter((t) => t.shared).every((t) => t.size === 0));
      // level 2 only: the red file is still linked from level 5 (not walked), the blue one is not
      const r = await clean(e, { all: true, levels: '2' });
      assert.equal(r.removed.tiles, 4, mode);
      assert.equal(r.removed.bytes, 50);
      assert.equal(r.sharedRemoved.tiles, 2, mode);
      assert.equal(r.sharedRemoved.bytes, 210);
      assert.deepEqual(listFiles(dir), ['05/000/000/000/000/000/000.png', 'single_color_tiles/ff0000.png'], mode);
      const last = await clean(e, { all: true });
      assert.equal(last.removed.tiles, 1);
      assert.equal(last.sharedRemoved.tiles, 1);
      assert.deepEqual(listFiles(dir), []);
      assert.deepEqual(listDirs(dir), []);
    }
  });

  it('never follows a symlink out of the cache directory, never removes outside it', async () => {
    const e = env({ osm: { layout: 'tms' } });
    const dir = e.dir('osm');
    const outside = path.join(e.root, 'outside');
    fs.mkdirSync(path.join(outside, '3'), { recursive: true });
    fs.writeFileSync(path.join(outside, '3', '4.png'), 'keep');
    fs.writeFileSync(path.join(outside, 'file.png'), 'keep');
    writeTile(dir, 'tms', [0, 0, 2], { mtime: daysAgo(100) });
    // a level directory and a tile that are symlinks to the outside
    fs.mkdirSync(path.join(dir, '2', '1'), { recursive: true });
    fs.symlinkSync(outside, path.join(dir, '5'));
    fs.symlinkSync(path.join(outside, 'file.png'), path.join(dir, '2', '1', '1.png'));
    const tiles = [...walkTiles(dir, 'tms', 'png')];
    assert.deepEqual(tiles.map((t) => t.coord.join('/')).sort(), ['0/0/2', '1/1/2']);
    assert.equal(tiles.find((t) => t.symlink)!.size, 0);
    const r = await clean(e, { all: true });
    assert.equal(r.removed.tiles, 2);
    assert.equal(fs.readFileSync(path.join(outside, '3', '4.png'), 'utf8'), 'keep');
    assert.equal(fs.readFileSync(path.join(outside, 'file.png'), 'utf8'), 'keep');
    assert.ok(fs.lstatSync(path.join(dir, '5')).isSymbolicLink());
  });

  it('a cache without tiles on disk yet is nothing to clean', async () => {
    const e = env({ osm: {} });
    const r = await clean(e, { all: true });
    assert.equal(r.removed.tiles, 0);
    assert.equal(r.targets.length, 1);
  });
});

describe('cache-clean command', () => {
  it('prints what it removed; clean-cache and a bare --max-age number work as in the LXC document', () => {
    const e = env({ osm: {}, geoserver_cache: {} });
    const dir = e.dir('osm');
    writeTile(dir, 'tc', [0, 0, 1], { mtime: daysAgo(40), size: 1000 });
    writeTile(dir, 'tc', [1, 0, 1], { mtime: daysAgo(3) });
    const r = runCli(['clean-cache', '-f', e.config, 'osm', '--max-age', '30'], e.root);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^osm \(webmercator\) .*: removed 1 tiles \(1000 B, 4\.0 KiB on disk\), kept 1 tiles/m);
    assert.equal(listFiles(dir).length, 1);
    writeTile(e.dir('geoserver_cache'), 'tc', [0, 0, 0]);
    const all = runCli(['clean-cache', 'geoserver_cache', '--all', '--mapproxy-conf', e.config], e.root);
    assert.equal(all.status, 0, all.stderr);
    assert.match(all.stdout, /removed 1 tiles/);
    const dry = runCli(['cache-clean', '-f', e.config, 'osm', '--max-size', '0', '--dry-run'], e.root);
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, /would remove 1 tiles/);
    assert.equal(listFiles(dir).length, 1);
    const help = runCli(['cache-clean', '--help'], e.root);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--max-size <size>/);
  });

  it('bad input: one line naming the problem, exit code 2, nothing removed', () => {
    const e = env({ osm: { grids: ['webmercator', 'geodetic'] }, nostore: { disableStorage: true } });
    const dir = e.dir('osm', 'webmercator');
    writeTile(dir, 'tc', [0, 0, 1], { mtime: daysAgo(40) });
    fs.writeFileSync(path.join(e.root, 'unreadable.geojson'), '{}');
    fs.chmodSync(path.join(e.root, 'unreadable.geojson'), 0);
    const cases: [string[], RegExp][] = [
      [['nope', '--all'], /^error: unknown cache 'nope' \(known: osm, nostore\)$/],
      [['osm', '--all', '--grid', 'utm'], /^error: unknown grid 'utm' for cache 'osm' \(grids: webmercator, geodetic\)$/],
      [['osm', '--all', '--levels', '5-25'], /^error: levels 20, 21, 22, 23, 24, 25 outside grid 'webmercator' \(levels 0-19\)$/],
      [['osm', '--all', '--levels', 'x'], /^error: invalid --levels 'x'/],
      [['osm', '--all', '--coverage', '10,50,5,55'], /^error: invalid --coverage bbox '10,50,5,55': min is not below max/],
      [['osm', '--all', '--coverage', '1,2,3'], /^error: invalid --coverage bbox '1,2,3'/],
      [['osm', '--all', '--coverage', 'missing.geojson'], /^error: cannot read coverage file missing\.geojson: ENOENT$/],
      [['osm', '--all', '--coverage', '5,50,10,55', '--coverage-srs', 'EPSG:999999'], /^error: invalid --coverage-srs 'EPSG:999999'/],
      [['osm', '--max-age', '30 days'], /^error: invalid --max-age '30 days'/],
      [['osm', '--before', '2026-13-01'], /^error: invalid --before '2026-13-01'/],
      [['osm', '--max-size', '20X'], /^error: invalid --max-size '20X'/],
      [['osm'], /^error: nothing to clean by: give --max-age, --before, --all or --max-size$/],
      [['osm', '--max-age', '3d', '--before', '2026-01-01'], /^error: give either --max-age or --before, not both$/],
      [['osm', '--all', '--max-age', '3d'], /^error: --all removes every selected tile and cannot be combined with --max-age$/],
      [['nostore', '--all'], /^error: cache 'nostore' has disable_storage: true, it keeps no tiles$/],
      [['osm', '--all', '--bogus'], /^error: unknown option '--bogus'$/],
    ];
    if (fs.existsSync(path.join(import.meta.dirname, '../../src/geo/load-coverage.ts'))) {
      fs.writeFileSync(path.join(e.root, 'empty.geojson'), '');
      fs.writeFileSync(path.join(e.root, 'broken.geojson'), '{"type": "Polygon", "coordinates": ');
      cases.push([['osm', '--all', '--coverage', 'empty.geojson'], /^error: coverage file empty\.geojson has no geometry$/]);
      cases.push([['osm', '--all', '--coverage', 'broken.geojson'], /^error: coverage file broken\.geojson/]);
    }
    if (process.getuid?.() !== 0) cases.push([['osm', '--all', '--coverage', 'unreadable.geojson'], /^error: cannot read coverage file unreadable\.geojson: EACCES$/]);
    for (const [args, re] of cases) {
      const r = runCli(['cache-clean', '-f', e.config, ...args], e.root);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr.trim(), re, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, args.join(' '));
      assert.equal(listFiles(dir).length, 1, args.join(' '));
    }
    const noConf = runCli(['cache-clean', 'osm', '--all'], e.root);
    assert.equal(noConf.status, 2);
    assert.match(noConf.stderr, /missing mapproxy configuration/);
  });
});
