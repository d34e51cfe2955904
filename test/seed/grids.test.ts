/** mapproxy grids -l and -s seed.yaml -c COVERAGE: tiles per level within a coverage. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { makeCase } from './helpers.ts';

const MAIN = path.resolve(import.meta.dirname, '../../cli/main.ts');
const CONF = `
caches:
  c:
    grids: [GLOBAL_WEBMERCATOR, utm]
    sources: []
grids:
  utm:
    srs: EPSG:25832
    bbox: [280000, 5200000, 920000, 6100000]
    num_levels: 4
  unused:
    base: GLOBAL_GEODETIC
`;
const SEED = `
coverages:
  quarter:
    bbox: [0, 0, 20037508.342789244, 20037508.342789244]
    srs: EPSG:3857
  empty:
    datasource: empty.geojson
    srs: EPSG:4326
`;

function grids(dir: string, args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, 'grids', '-f', 'mapproxy.yaml', ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('mapproxy grids', () => {
  const dir = makeCase({ 'mapproxy.yaml': CONF, 'seed.yaml': SEED, 'empty.geojson': '{"type": "FeatureCollection", "features": []}' });

  it('-l lists the grids caches use, --all all of them', () => {
    assert.deepEqual(grids(dir, ['-l']).out.trim().split('\n'), ['GLOBAL_WEBMERCATOR', 'utm']);
    const all = grids(dir, ['-l', '--all']).out.trim().split('\n');
    assert.ok(all.includes('unused') && all.includes('GLOBAL_GEODETIC'), all.join(','));
  });

  it('-s -c counts the tiles within the coverage per level', () => {
    const r = grids(dir, ['-g', 'global_webmercator', '-s', 'seed.yaml', '-c', 'quarter']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Coverage: quarter covers approx\. 25\.0000% of the grid BBOX/);
    // level 0: the one tile; level 1: 1 of 4; level 2: 4 of 16; level 3: 16 of 64
    assert.match(r.out, /\n {8}00: .*= +1 \(1\)\n/);
    assert.match(r.out, /\n {8}01: .*= +4 \(1\)\n/);
    assert.match(r.out, /\n {8}02: .*= +16 \(4\)\n/);
    assert.match(r.out, /\n {8}03: .*= +64 \(16\)\n/);
  });

  it('refuses -c without -s, an unknown coverage and an empty one', () => {
    assert.equal(grids(dir, ['-c', 'quarter']).code, 1);
    const unknown = grids(dir, ['-s', 'seed.yaml', '-c', 'nope']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /coverage 'nope' not found \(known: quarter, empty\)/);
    const empty = grids(dir, ['-s', 'seed.yaml', '-c', 'empty']);
    assert.equal(empty.code, 2);
    assert.match(empty.err, /coverage 'empty' contains no geometries/);
    assert.equal(grids(dir, ['-g', 'nope']).code, 2);
  });

  it("takes -f before the subcommand, as the LXC runbook writes mapproxy-util lines", () => {
    const stats = spawnSync(process.execPath, [MAIN, '-f', 'mapproxy.yaml', 'cache-stats', 'c', '--json'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    assert.equal(stats.status, 0, stats.stderr);
    assert.equal(JSON.parse(stats.stdout).caches[0].cache, 'c');
    const clean = spawnSync(process.execPath, [MAIN, '-f', 'mapproxy.yaml', 'clean-cache', 'c', '--max-age', '30', '--dry-run'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    assert.equal(clean.status, 0, clean.stderr);
  });
});
