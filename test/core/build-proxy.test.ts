import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../../src/config/loader.ts';
import { buildProxy } from '../../src/core/build-proxy.ts';
import { ConfigError } from '../../src/errors.ts';
import type { FileCache } from '../../src/cache/file-cache.ts';

function build(yaml: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-build-'));
  const file = path.join(dir, 'mapproxy.yaml');
  fs.writeFileSync(file, yaml);
  try {
    return buildProxy(loadConfig(file));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const base = (cache: string, source = 'type: debug') => `services:
  tms:
layers:
  - name: l
    title: L
    sources: [c]
caches:
  c:
${cache}
sources:
  s:
    ${source}
`;

describe('buildProxy', () => {
  it('names cache directories as MapProxy does', () => {
    const p = build(base('    grids: [GLOBAL_MERCATOR, GLOBAL_WEBMERCATOR, GLOBAL_GEODETIC, mygrid]\n    sources: [s]') + 'grids:\n  mygrid:\n    base: GLOBAL_WEBMERCATOR\n    name: my_name\n');
    const dirs = [...p.caches.get('c')!.values()].map((tm) => path.basename((tm.opts.backend as FileCache).dir));
    assert.deepEqual(dirs, ['c_EPSG900913', 'c_EPSG3857', 'c_EPSG4326', 'c_EPSG3857']);
    assert.deepEqual(p.tileLayers.map((l) => l.gridName), ['GLOBAL_MERCATOR', 'GLOBAL_WEBMERCATOR', 'GLOBAL_GEODETIC', 'my_name']);
  });

  it('uses cache/grid-name directories with use_grid_names and the exact directory with directory', () => {
    const p = build(base('    grids: [GLOBAL_WEBMERCATOR]\n    sources: [s]\n    cache:\n      type: file\n      use_grid_names: true'));
    const dir = (p.caches.get('c')!.get('GLOBAL_WEBMERCATOR')!.opts.backend as FileCache).dir;
    assert.equal(dir.split(path.sep).slice(-2).join('/'), 'c/GLOBAL_WEBMERCATOR');
    const q = build(base('    grids: [GLOBAL_WEBMERCATOR]\n    sources: [s]\n    cache:\n      type: file\n      directory: /srv/tiles/osm\n      directory_layout: tms'));
    assert.equal((q.caches.get('c')!.get('GLOBAL_WEBMERCATOR')!.opts.backend as FileCache).dir, '/srv/tiles/osm');
  });

  const fails = (yaml: string, re: RegExp) => {
    assert.throws(() => build(yaml), (e: unknown) => e instanceof ConfigError && re.test(e.message));
  };

  it('reports bad values with file, line and key path', () => {
    fails(base('    grids: [GLOBAL_MERCATOR]\n    sources: [s]\n    cache:\n      type: file\n      directory_layout: zyx'), /mapproxy\.yaml:13: caches\.c\.cache\.directory_layout: unknown directory_layout 'zyx'/);
    fails(base('    grids: [GLOBAL_MERCATOR]\n    sources: [s]', 'type: tile\n    url: http://x/%(col)s'), /mapproxy\.yaml:1[45]: sources\.s\.url: unknown template variable %\(col\)s/);
    fails(base('    grids: [GLOBAL_MERCATOR]\n    sources: [s]', "type: tile\n    url: http://x/%(z)s\n    on_error:\n      500:\n        response: 'reddish'"), /sources\.s\.on_error\.500: response: expected 'transparent' or a colour/);
    fails(base('    grids: [GLOBAL_MERCATOR]\n    sources: [s]\n    cache:\n      type: couchdb'), /caches\.c\.cache\.type: cache type 'couchdb' is not supported yet/);
  });

  it('detects caches that use themselves', () => {
    fails(base('    grids: [GLOBAL_MERCATOR]\n    sources: [c2]\n  c2:\n    grids: [GLOBAL_MERCATOR]\n    sources: [c]'), /uses itself|circular|cycle/i);
  });

  it('publishes tile layers only for layers with exactly one cache', () => {
    const p = build(`services:
  tms:
layers:
  - name: one
    title: One
    sources: [c, s]
  - name: two
    title: Two
    sources: [c, c2]
  - name: direct
    title: Direct
    sources: [s]
caches:
  c:
    grids: [GLOBAL_MERCATOR]
    sources: [s]
  c2:
    grids: [GLOBAL_MERCATOR]
    sources: [s]
sources:
  s:
    type: debug
`);
    assert.deepEqual(p.tileLayers.map((l) => l.name), ['one']);
  });
});
