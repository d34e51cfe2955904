import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FileCache } from '../../src/cache/file-cache.ts';
import { cacheStats, formatStats, type CacheStats } from '../../src/cache/cache-stats.ts';
import { UsageError } from '../../src/cache/tile-files.ts';
import { daysAgo, makeEnv, runCli, writeTile, type TestEnv } from './cache-helpers.ts';

const envs: TestEnv[] = [];
after(() => {
  for (const e of envs) e.remove();
});
function env(...args: Parameters<typeof makeEnv>): TestEnv {
  const e = makeEnv(...args);
  envs.push(e);
  return e;
}

const blocks = (p: string) => fs.lstatSync(p).blocks * 512;

describe('cache-stats', () => {
  it('counts tiles, bytes, disk use, oldest and newest per level and in total', () => {
    const e = env({ osm: { layout: 'tms' }, aerial: { layout: 'quadkey', grids: ['webmercator'] } });
    const dir = e.dir('osm');
    const now = Math.floor(Date.now() / 1000);
    const paths = [
      writeTile(dir, 'tms', [0, 0, 0], { mtime: now - 500, size: 10 }),
      writeTile(dir, 'tms', [0, 0, 2], { mtime: now - 300, size: 20 }),
      writeTile(dir, 'tms', [1, 0, 2], { mtime: now - 100, size: 30 }),
      writeTile(dir, 'tms', [3, 3, 2], { mtime: now - 200, size: 40 }),
    ];
    // single-colour: two links to one 60-byte file
    const cache = new FileCache(dir, 'png', 'tms');
    cache.storeSingleColor([5, 5, 4], new Uint8Array(60), [1, 2, 3], 'symlink');
    cache.storeSingleColor([6, 5, 4], new Uint8Array(60), [1, 2, 3], 'symlink');
    const links = [cache.tilePath([5, 5, 4]), cache.tilePath([6, 5, 4])];
    for (const l of links) fs.lutimesSync(l, now - 50, now - 50);
    // ignored: temp file and a foreign file
    fs.writeFileSync(paths[1] + '.1.1.tmp', 'x');
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'x');
    const aerial = e.dir('aerial');
    writeTile(aerial, 'quadkey', [0, 0, 0], { mtime: now - 1000, size: 5 });

    const s = cacheStats(e.proxy);
    assert.equal(s.caches.length, 2);
    const osm = s.caches[0];
    assert.equal(osm.cache, 'osm');
    assert.equal(osm.grid, 'webmercator');
    assert.equal(osm.layout, 'tms');
    assert.equal(osm.directory, dir);
    assert.equal(osm.exists, true);
    const shared = path.join(dir, 'single_color_tiles', '010203.png');
    assert.deepEqual(osm.levels, [
      { level: 0, tiles: 1, bytes: 10, disk: blocks(paths[0]), linked: 0, oldest: now - 500, newest: now - 500 },
      { level: 2, tiles: 3, bytes: 90, disk: blocks(paths[1]) + blocks(paths[2]) + blocks(paths[3]), linked: 0, oldest: now - 300, newest: now - 100 },
      { level: 4, tiles: 2, bytes: 0, disk: blocks(links[0]) + blocks(links[1]), linked: 2, oldest: now - 50, newest: now - 50 },
    ]);
    assert.deepEqual(osm.singleColor, { files: 1, bytes: 60, disk: blocks(shared) });
    const osmDisk = osm.levels.reduce((n, l) => n + l.disk, 0) + blocks(shared);
    assert.deepEqual(osm.total, { tiles: 6, bytes: 160, disk: osmDisk, oldest: now - 500, newest: now - 50 });
    assert.deepEqual(s.caches[1].levels.map((l) => [l.level, l.tiles, l.bytes]), [[0, 1, 5]]);
    assert.deepEqual(s.total, { tiles: 7, bytes: 165, disk: osmDisk + s.caches[1].total.disk, oldest: now - 1000, newest: now - 50 });

    const text = formatStats(s);
    assert.match(text, /^osm \(webmercator\): .* \[tms\]$/m);
    assert.match(text, /^ +2 +3 +90 B /m);
    assert.match(text, /single-colour files: 1 \(60 B, .* on disk, in the total\), linked from 2 tiles/);
    assert.match(text, /^total: 7 tiles, 165 B/m);
  });

  it('one cache, one grid; grids of one directory are reported together; a missing directory has no tiles', () => {
    const e = env({ osm: { grids: ['webmercator', 'geodetic'] }, other: {} });
    writeTile(e.dir('osm', 'geodetic'), 'tc', [1, 0, 1], { mtime: daysAgo(2) });
    const s = cacheStats(e.proxy, 'osm', 'geodetic');
    assert.equal(s.caches.length, 1);
    assert.equal(s.caches[0].grid, 'geodetic');
    assert.equal(s.total.tiles, 1);
    const all = cacheStats(e.proxy, 'osm');
    assert.deepEqual(all.caches.map((c) => [c.grid, c.exists, c.total.tiles]), [['webmercator', false, 0], ['geodetic', true, 1]]);
    assert.throws(() => cacheStats(e.proxy, 'nope'), (err: Error) => err instanceof UsageError && err.message === "unknown cache 'nope' (known: osm, other)");
    assert.throws(() => cacheStats(e.proxy, 'osm', 'utm'), /unknown grid 'utm' for cache 'osm' \(grids: webmercator, geodetic\)/);
    // a grid given without a cache: the caches that have it
    assert.deepEqual(cacheStats(e.proxy, undefined, 'geodetic').caches.map((c) => c.cache), ['osm']);

    // without use_grid_names both EPSG:3857 grids live in c_EPSG3857: one directory, walked once
    const shared = env({ c: { grids: ['webmercator', 'GLOBAL_WEBMERCATOR'], useGridNames: false } });
    writeTile(shared.dir('c'), 'tc', [0, 0, 0]);
    const one = cacheStats(shared.proxy, 'c');
    assert.deepEqual(one.caches.map((c) => [path.basename(c.directory), c.grids, c.total.tiles]), [['c_EPSG3857', ['webmercator', 'GLOBAL_WEBMERCATOR'], 1]]);
  });

  it('--json for monitoring, text by default, exit code 2 for unknown names', () => {
    const e = env({ osm: {} });
    const now = Math.floor(Date.now() / 1000);
    writeTile(e.dir('osm'), 'tc', [0, 0, 0], { mtime: now - 60, size: 123 });
    const r = runCli(['cache-stats', '-f', e.config, 'osm', '--json'], e.root);
    assert.equal(r.status, 0, r.stderr);
    const s = JSON.parse(r.stdout) as CacheStats;
    assert.deepEqual(Object.keys(s), ['generated', 'caches', 'total']);
    assert.deepEqual(Object.keys(s.caches[0]), ['cache', 'grid', 'grids', 'directory', 'layout', 'exists', 'levels', 'singleColor', 'total']);
    assert.equal(s.total.tiles, 1);
    assert.equal(s.total.bytes, 123);
    assert.equal(s.caches[0].levels[0].oldest, now - 60);
    assert.ok(Math.abs(s.generated - Date.now() / 1000) < 60);
    const text = runCli(['cache-stats', '--mapproxy-conf', e.config], e.root);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^osm \(webmercator\): /);
    for (const [args, re] of [
      [['nope'], /^error: unknown cache 'nope' \(known: osm\)$/],
      [['osm', '--grid', 'utm'], /^error: unknown grid 'utm' for cache 'osm' \(grids: webmercator\)$/],
      [['--grid', 'utm'], /^error: unknown grid 'utm' in any cache \(grids: webmercator\)$/],
    ] as [string[], RegExp][]) {
      const bad = runCli(['cache-stats', '-f', e.config, ...args], e.root);
      assert.equal(bad.status, 2, bad.stderr);
      assert.match(bad.stderr.trim(), re);
    }
    const missing = runCli(['cache-stats', '-f', path.join(e.root, 'missing.yaml')], e.root);
    assert.equal(missing.status, 2);
    assert.equal(missing.stderr.trim().split('\n').length, 1);
  });
});
