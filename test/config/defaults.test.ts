import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import {
  BUILTIN_GRIDS,
  getGlobal,
  GLOBAL_DEFAULTS,
  globalsWithDefaults,
  resolveConfigPath,
  tileLockDir,
} from '../../src/config/defaults.ts';
import { loadConfig, loadConfigString } from '../../src/config/loader.ts';
import { fixture, MINIMAL } from './helpers.ts';

describe('defaults', () => {
  it("has MapProxy's documented defaults", () => {
    const g = globalsWithDefaults({});
    assert.equal(g.cache.base_dir, './cache_data');
    assert.equal(g.cache.lock_dir, './cache_data/tile_locks');
    assert.deepEqual(g.cache.meta_size, [4, 4]);
    assert.equal(g.cache.meta_buffer, 80);
    assert.equal(g.cache.minimize_meta_requests, false);
    assert.equal(g.cache.concurrent_tile_creators, 2);
    assert.equal(g.cache.max_tile_limit, 500);
    assert.equal(g.cache.link_single_color_images, false);
    assert.equal(g.image.resampling_method, 'bicubic');
    assert.equal(g.image.paletted, true);
    assert.equal(g.image.stretch_factor, 1.15);
    assert.equal(g.image.max_shrink_factor, 4.0);
    assert.equal(g.image.jpeg_quality, 90);
    assert.deepEqual(g.grid.tile_size, [256, 256]);
    assert.equal(g.http.client_timeout, 60);
    assert.equal(g.http.method, 'AUTO');
    assert.equal(g.http.hide_error_details, true);
    assert.equal(g.http.access_control_allow_origin, '*');
    assert.equal(g.tiles.expires_hours, 72);
    assert.deepEqual(Object.keys(BUILTIN_GRIDS), ['GLOBAL_GEODETIC', 'GLOBAL_MERCATOR', 'GLOBAL_WEBMERCATOR']);
  });

  it('deep-merges the user globals over the defaults; lists replace, empty values keep defaults', () => {
    const conf = {
      globals: {
        cache: { meta_size: [2, 2], base_dir: null },
        http: { headers: { 'X-A': 'b' }, access_control_allow_origin: 'https://x' },
        srs: { axis_order_en: ['EPSG:4258'] },
      },
    };
    const g = globalsWithDefaults(conf);
    assert.deepEqual(g.cache.meta_size, [2, 2]);
    assert.equal(g.cache.base_dir, './cache_data');
    assert.equal(g.cache.meta_buffer, 80);
    assert.deepEqual(g.http.headers, { 'X-A': 'b' });
    assert.equal(g.http.access_control_allow_origin, 'https://x');
    assert.equal(g.http.client_timeout, 60);
    assert.ok(!g.srs.axis_order_ne.includes('EPSG:4258'));
    assert.ok(g.srs.axis_order_en.includes('EPSG:4258'));
    assert.ok(g.srs.axis_order_ne.includes('EPSG:4326'));
    assert.equal(getGlobal(conf, 'cache.meta_size.0'), 2);
    assert.equal(getGlobal(conf, 'image.jpeg_quality'), 90);
    assert.equal(getGlobal(conf, 'nothing.here'), undefined);
    assert.equal(globalsWithDefaults(conf), g, 'computed once per config');
    assert.ok(Object.isFrozen(g.cache));
    assert.deepEqual(GLOBAL_DEFAULTS.cache.meta_size, [4, 4], 'defaults untouched');
  });

  it('works on a loaded config', () => {
    const loaded = loadConfigString(`${MINIMAL}globals:\n  image:\n    jpeg_quality: 75\n`, 'mapproxy.yaml', { env: {} });
    assert.equal(getGlobal(loaded.conf, 'image.jpeg_quality'), 75);
    assert.equal(getGlobal(loaded.conf, 'image.paletted'), true);
  });

  it('resolves relative paths against the main config directory, also for values from bases', () => {
    const dir = fixture({
      'etc/mapproxy.yaml': `base: ../shared/base.yaml\n${MINIMAL}`,
      'shared/base.yaml': 'globals:\n  cache:\n    base_dir: tiles\n',
    });
    const loaded = loadConfig(path.join(dir, 'etc/mapproxy.yaml'), { env: {} });
    const baseDir = getGlobal<string>(loaded.conf, 'cache.base_dir')!;
    assert.equal(resolveConfigPath(loaded, baseDir), path.join(dir, 'etc/tiles'));
    assert.equal(resolveConfigPath(loaded, '/abs/x'), '/abs/x');
    assert.equal(tileLockDir(loaded, {}), path.join(dir, 'etc/tiles/tile_locks'));
    assert.equal(tileLockDir(loaded, { cache_dir: '/c' }), '/c/tile_locks');
    assert.equal(tileLockDir(loaded, { cache: { tile_lock_dir: 'locks' } }), path.join(dir, 'etc/locks'));
  });
});
