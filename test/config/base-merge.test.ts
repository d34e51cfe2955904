import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { loadConfig } from '../../src/config/loader.ts';
import { ConfigError } from '../../src/errors.ts';
import { errorOf, fixture, inDir } from './helpers.ts';

const noValidate = { validate: false, env: {} };

function load(files: Record<string, string>, main = 'mapproxy.yaml') {
  const dir = fixture(files);
  return { dir, loaded: loadConfig(path.join(dir, main), noValidate) };
}

describe('base: merging', () => {
  it('merges mappings recursively, the including file wins', () => {
    const { loaded } = load({
      'base.yaml': 'globals:\n  cache:\n    base_dir: /base\n    meta_buffer: 10\n  http:\n    client_timeout: 5\n',
      'mapproxy.yaml': 'base: base.yaml\nglobals:\n  cache:\n    meta_buffer: 20\n',
    });
    assert.deepEqual(loaded.conf.globals, { cache: { base_dir: '/base', meta_buffer: 20 }, http: { client_timeout: 5 } });
    assert.equal('base' in loaded.conf, false);
  });

  it('replaces the lists bbox, tile_size, max_output_pixels, sources, grids and res', () => {
    const { loaded } = load({
      'base.yaml': `grids:
  g:
    bbox: [0, 0, 1, 1]
    tile_size: [256, 256]
    res: [10, 5]
services:
  wms:
    max_output_pixels: [100, 100]
caches:
  c:
    sources: [a, b]
    grids: [g]
`,
      'mapproxy.yaml': `base: base.yaml
grids:
  g:
    bbox: [2, 2, 3, 3]
    tile_size: [512, 512]
    res: [1]
services:
  wms:
    max_output_pixels: [200, 200]
caches:
  c:
    sources: [x]
    grids: [GLOBAL_WEBMERCATOR]
`,
    });
    const c = loaded.conf as any;
    assert.deepEqual(c.grids.g, { bbox: [2, 2, 3, 3], tile_size: [512, 512], res: [1] });
    assert.deepEqual(c.services.wms.max_output_pixels, [200, 200]);
    assert.deepEqual(c.caches.c, { sources: ['x'], grids: ['GLOBAL_WEBMERCATOR'] });
  });

  it('concatenates other lists, base items first', () => {
    const { loaded } = load({
      'base.yaml': 'services:\n  wms:\n    srs: [EPSG:4326, EPSG:3857]\n',
      'mapproxy.yaml': 'base: base.yaml\nservices:\n  wms:\n    srs: [EPSG:25832]\n',
    });
    assert.deepEqual((loaded.conf as any).services.wms.srs, ['EPSG:4326', 'EPSG:3857', 'EPSG:25832']);
  });

  it('deletes a list with an empty list, but an empty replaced list stays empty', () => {
    const { loaded } = load({
      'base.yaml': 'services:\n  wms:\n    srs: [EPSG:4326]\n    image_formats: [image/png]\ncaches:\n  c:\n    sources: [a]\n',
      'mapproxy.yaml': 'base: base.yaml\nservices:\n  wms:\n    srs: []\ncaches:\n  c:\n    sources: []\n',
    });
    const c = loaded.conf as any;
    assert.deepEqual(c.services.wms, { image_formats: ['image/png'] });
    assert.deepEqual(c.caches.c.sources, []);
  });

  it('keeps the base mapping or list when the including file gives an empty value', () => {
    const { loaded } = load({
      'base.yaml': 'services:\n  wms:\n    srs: [EPSG:4326]\n  tms:\n    origin: nw\n',
      'mapproxy.yaml': 'base: base.yaml\nservices:\n  tms:\n  wms:\n    srs:\n',
    });
    assert.deepEqual((loaded.conf as any).services, { wms: { srs: ['EPSG:4326'] }, tms: { origin: 'nw' } });
  });

  it('merges layers by name (deep, nested too) and appends new ones', () => {
    const { loaded } = load({
      'base.yaml': `layers:
  - name: a
    title: A
    sources: [s1]
  - name: group
    title: Group
    layers:
      - name: g1
        title: G1
        sources: [s1]
  - name: b
    title: B
    sources: [s2]
`,
      'mapproxy.yaml': `base: base.yaml
layers:
  - name: new
    title: New
    sources: [s3]
  - name: b
    sources: [s4]
    min_res: 10
  - name: group
    layers:
      - name: g1
        title: G1 changed
      - name: g2
        title: G2
        sources: [s2]
`,
    });
    assert.deepEqual((loaded.conf as any).layers, [
      { name: 'a', title: 'A', sources: ['s1'] },
      {
        name: 'group',
        title: 'Group',
        layers: [
          { name: 'g1', title: 'G1 changed', sources: ['s1'] },
          { name: 'g2', title: 'G2', sources: ['s2'] },
        ],
      },
      { name: 'b', title: 'B', sources: ['s4'], min_res: 10 },
      { name: 'new', title: 'New', sources: ['s3'] },
    ]);
  });

  it('follows nested bases relative to the including file and records every file', () => {
    const { dir, loaded } = load({
      'conf/mapproxy.yaml': 'base: parts/one.yaml\nglobals:\n  image:\n    paletted: false\n',
      'conf/parts/one.yaml': 'base: [../../shared/two.yaml]\nglobals:\n  image:\n    jpeg_quality: 80\n',
      'shared/two.yaml': 'globals:\n  image:\n    jpeg_quality: 70\n    stretch_factor: 1.2\n',
    }, 'conf/mapproxy.yaml');
    assert.deepEqual((loaded.conf as any).globals.image, { jpeg_quality: 80, stretch_factor: 1.2, paletted: false });
    assert.deepEqual(loaded.files, [
      path.join(dir, 'conf/mapproxy.yaml'),
      path.join(dir, 'conf/parts/one.yaml'),
      path.join(dir, 'shared/two.yaml'),
    ]);
    assert.equal(loaded.configDir, path.join(dir, 'conf'));
  });

  it('lets earlier files of a base list win over later ones, as MapProxy does', () => {
    const { loaded } = load({
      'a.yaml': 'globals:\n  tiles:\n    expires_hours: 1\nlayers:\n  - name: la\n    title: A\n',
      'b.yaml': 'globals:\n  tiles:\n    expires_hours: 2\nlayers:\n  - name: lb\n    title: B\n',
      'mapproxy.yaml': 'base: [a.yaml, b.yaml]\n',
    });
    const c = loaded.conf as any;
    assert.equal(c.globals.tiles.expires_hours, 1);
    assert.deepEqual(c.layers.map((l: any) => l.name), ['lb', 'la']);
  });

  it('accepts the same base reached twice through different files', () => {
    const { loaded } = load({
      'common.yaml': 'globals:\n  tiles:\n    expires_hours: 3\n',
      'a.yaml': 'base: common.yaml\n',
      'b.yaml': 'base: common.yaml\n',
      'mapproxy.yaml': 'base: [a.yaml, b.yaml]\n',
    });
    assert.equal((loaded.conf as any).globals.tiles.expires_hours, 3);
    assert.equal(loaded.files.length, 4);
  });

  it('detects base cycles and names the base line', () => {
    const dir = fixture({
      'mapproxy.yaml': 'services:\n  tms:\nbase: a.yaml\n',
      'a.yaml': '# comment\nbase: b.yaml\n',
      'b.yaml': 'base: [a.yaml]\n',
    });
    const err = inDir(dir, () => errorOf(() => loadConfig('mapproxy.yaml', noValidate)));
    assert.ok(err instanceof ConfigError);
    assert.equal(err.message, 'b.yaml:1: base: base files include each other in a cycle: a.yaml -> b.yaml -> a.yaml');
  });

  it('reports a missing base file at the base line', () => {
    const dir = fixture({ 'mapproxy.yaml': 'services:\n  tms:\nbase:\n  - gone.yaml\n' });
    const err = inDir(dir, () => errorOf(() => loadConfig('mapproxy.yaml', noValidate)));
    assert.match(err.message, /^mapproxy\.yaml:4: base: base file 'gone\.yaml' not found/);
  });

  it('reports a missing main file', () => {
    const err = errorOf(() => loadConfig('/nonexistent/mapproxy.yaml'));
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /mapproxy\.yaml: config file not found/);
  });
});
