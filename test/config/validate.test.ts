import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, loadConfigString } from '../../src/config/loader.ts';
import { ConfigErrors } from '../../src/config/validate.ts';
import { ConfigError } from '../../src/errors.ts';
import { errorOf, fixture, inDir, MINIMAL } from './helpers.ts';

const env = { env: {} };

/** Loads `text` as mapproxy.yaml and returns the thrown error's message. */
function errorFor(text: string): string {
  return errorOf(() => loadConfigString(text, 'mapproxy.yaml', env)).message;
}

describe('option spec', () => {
  it('accepts a minimal config without warnings', () => {
    const loaded = loadConfigString(MINIMAL, 'mapproxy.yaml', env);
    assert.deepEqual(loaded.warnings, []);
  });

  it('accepts every documented section and the usual options', () => {
    const text = `services:
  demo:
  kml: {use_grid_names: true}
  tms: {use_grid_names: true, origin: nw}
  wmts: {restful: true, kvp: false, restful_template: '/{Layer}/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.{Format}'}
  wms:
    srs: ['EPSG:4326', 'EPSG:3857']
    bbox_srs: ['EPSG:4326', {srs: 'EPSG:3857', bbox: [0, 0, 1, 1]}]
    md: {title: Test, contact: {person: me}}
    max_output_pixels: [2000, 2000]
  ogcapi: {enable_maps: true, md: {license: {name: CC-BY}}}
globals:
  cache: {base_dir: ./data, meta_size: [4, 4], link_single_color_images: hardlink, s3: {bucket_name: b}}
  image: {resampling_method: bilinear, formats: {custom: {format: image/png, mode: P, colors: 16}}}
  http: {client_timeout: 5, headers: {X-Foo: bar}, access_control_allow_origin: }
  srs: {preferred_src_proj: {'EPSG:25832': ['EPSG:4326']}}
  background: {url: 'http://x/{z}/{x}/{y}.png'}
grids:
  g1: {srs: 'EPSG:25832', bbox: '0,0,1,1', res_factor: sqrt2, origin: nw}
  g2: {base: g1, tile_size: [512, 512]}
sources:
  w: {type: wms, req: {url: 'http://w', layers: 'a,b', transparent: true}, on_error: {500: {response: transparent, cache: false}}}
  t: {type: tile, url: 'http://t/%(z)s', grid: g1, coverage: {union: [{bbox: [0, 0, 1, 1], srs: 'EPSG:4326'}]}}
  d: {type: debug}
  ag: {type: arcgis, req: {url: 'http://ag', layers: 'show:0'}}
  mn: {type: mapnik, mapfile: x.xml, layers: [l1]}
  ms: {type: mapserver, req: {map: x.map, layers: a}, mapserver: {binary: /bin/true}}
  ot: {type: ogcapitiles, landingpage_url: 'http://o'}
  om: {type: ogcapimaps, landingpage_url: 'http://o', bgcolor: [1, 2, 3]}
caches:
  c1: {sources: ['w:a', t, d], grids: [g2, GLOBAL_GEODETIC], cache: {type: sqlite, directory: x, ttl: 5}, refresh_before: {days: 1}}
  c2: {sources: [c1], cache: {type: s3, bucket_name: b, use_http_get: true}}
  c3: {sources: {r: [{source: w, band: 0}], g: [{source: c1, band: 1, factor: 0.5}]}, cache: {type: compact, version: 2}}
  c4: {sources: [], cache: {type: mbtiles, filename: x.mbtiles}}
layers:
  - title: Root
    layers:
      - {name: l1, title: L1, sources: [c1, 'ms:a'], md: {abstract: x, keyword_list: [{keywords: [a]}]}}
      - {name: l2, title: L2, tile_sources: [c2], dimensions: {time: {values: ['2020', 2021], default: '2020'}}}
`;
    const loaded = loadConfigString(text, 'mapproxy.yaml', env);
    assert.deepEqual(loaded.warnings.map(String), []);
  });

  it('warns about an unknown key, naming its path', () => {
    const text = MINIMAL.replace('    grids: [GLOBAL_WEBMERCATOR]\n', '    grids: [GLOBAL_WEBMERCATOR]\n    foo: 1\n');
    const loaded = loadConfigString(text, 'mapproxy.yaml', env);
    assert.equal(loaded.warnings.length, 1);
    const w = loaded.warnings[0];
    assert.equal(w.message, "unknown 'foo' in caches.osm_cache");
    assert.equal(String(w), "mapproxy.yaml:11: caches.osm_cache.foo: unknown 'foo' in caches.osm_cache");
    assert.deepEqual({ file: w.file, line: w.line, path: w.path }, { file: 'mapproxy.yaml', line: 11, path: 'caches.osm_cache.foo' });
  });

  it('warns about unknown top-level sections and source options', () => {
    const text = `${MINIMAL}seeds: {}\n`.replace('    type: tile\n', '    type: tile\n    foo_bar: 2\n');
    const loaded = loadConfigString(text, 'mapproxy.yaml', env);
    assert.deepEqual(loaded.warnings.map((w) => w.message), ["unknown 'foo_bar' in sources.osm", "unknown 'seeds' in the top level"]);
  });

  it('rejects a string where a number or a list is expected', () => {
    assert.equal(
      errorFor(MINIMAL.replace('    grids: [GLOBAL_WEBMERCATOR]\n', '    grids: [GLOBAL_WEBMERCATOR]\n    meta_buffer: lots\n')),
      "mapproxy.yaml:11: caches.osm_cache.meta_buffer: expected a number, got 'lots'",
    );
    assert.equal(
      errorFor(MINIMAL.replace('grids: [GLOBAL_WEBMERCATOR]', 'grids: GLOBAL_WEBMERCATOR')),
      "mapproxy.yaml:10: caches.osm_cache.grids: expected a list of strings, got 'GLOBAL_WEBMERCATOR'",
    );
    assert.equal(
      errorFor(`${MINIMAL}globals:\n  cache:\n    meta_size: [4, four]\n`),
      "mapproxy.yaml:17: globals.cache.meta_size[1]: expected a number, got 'four'",
    );
    assert.equal(
      errorFor(`${MINIMAL}globals:\n  image:\n    paletted: 'no'\n`),
      "mapproxy.yaml:17: globals.image.paletted: expected true or false, got 'no'",
    );
  });

  it('rejects missing required keys', () => {
    assert.equal(
      errorFor(MINIMAL.replace('    type: tile\n', '')),
      "mapproxy.yaml:4: sources.osm: missing 'type' (one of: wms, mapserver, tile, mapnik, arcgis, debug, ogcapitiles, ogcapimaps)",
    );
    assert.equal(
      errorFor(MINIMAL.replace('    url: http://localhost/%(z)s/%(x)s/%(y)s.png\n', '')),
      "mapproxy.yaml:4: sources.osm: missing required 'url'",
    );
    assert.equal(errorFor(MINIMAL.replace('    sources: [osm]\n', '')), "mapproxy.yaml:8: caches.osm_cache: missing required 'sources'");
    assert.equal(errorFor(MINIMAL.replace('    title: OSM\n', '')), "mapproxy.yaml:12: layers[0]: missing required 'title'");
    assert.equal(
      errorFor(`${MINIMAL}  - name: w\n    title: W\n    sources: [w]\n`.replace('sources:\n', 'sources:\n  w:\n    type: wms\n    req: {layers: a}\n')),
      "mapproxy.yaml:6: sources.w.req: missing required 'url'",
    );
  });

  it('rejects an unknown source or cache type', () => {
    assert.equal(
      errorFor(MINIMAL.replace('type: tile', 'type: wmts')),
      "mapproxy.yaml:5: sources.osm.type: unknown source type 'wmts' (known: wms, mapserver, tile, mapnik, arcgis, debug, ogcapitiles, ogcapimaps)",
    );
    assert.match(
      errorFor(MINIMAL.replace('    grids: [GLOBAL_WEBMERCATOR]\n', '    grids: [GLOBAL_WEBMERCATOR]\n    cache:\n      type: riak\n')),
      /^mapproxy\.yaml:12: caches\.osm_cache\.cache\.type: unknown cache type 'riak' \(known: file, sqlite/,
    );
  });

  it('lists all errors, one per line, the first one first', () => {
    const err = errorOf(() =>
      loadConfigString(
        MINIMAL.replace('sources: [osm]', 'sources: [nope]').replace('title: OSM', 'title: [OSM]'),
        'mapproxy.yaml',
        env,
      ),
    );
    assert.ok(err instanceof ConfigErrors);
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.message.split('\n'), [
      'mapproxy.yaml:13: layers[0].title: expected a string, got a list',
      "mapproxy.yaml:9: caches.osm_cache.sources[0]: unknown source 'nope'",
    ]);
    assert.equal((err as ConfigErrors).errors.length, 2);
    assert.deepEqual((err as ConfigError).location, { file: 'mapproxy.yaml', line: 13, path: 'layers[0].title' });
  });
});

describe('references', () => {
  it('names an unknown cache source as file:line: path: message', () => {
    const dir = fixture({ 'mapproxy.yaml': MINIMAL.replace('sources: [osm]', 'sources: [osm_tile]') });
    const err = inDir(dir, () => errorOf(() => loadConfig('mapproxy.yaml', env)));
    assert.equal(err.message, "mapproxy.yaml:9: caches.osm_cache.sources[0]: unknown source 'osm_tile'");
  });

  it('points into the base file for references written there', () => {
    const dir = fixture({
      'caches.yaml': 'caches:\n  osm_cache:\n    grids: [GLOBAL_WEBMERCATOR]\n    sources: [osm_tile]\n',
      'mapproxy.yaml': `base: caches.yaml\n${MINIMAL.replace(/caches:[\s\S]*?layers:/, 'layers:')}`,
    });
    const err = inDir(dir, () => errorOf(() => loadConfig('mapproxy.yaml', env)));
    assert.equal(err.message, "caches.yaml:4: caches.osm_cache.sources[0]: unknown source 'osm_tile'");
  });

  it('accepts tagged source names and checks the part before the colon', () => {
    const text = MINIMAL.replace('sources:\n  osm:', 'sources:\n  w:\n    type: wms\n    req: {url: "http://w", layers: "a,b"}\n  osm:')
      .replace('sources: [osm]', "sources: ['w:a,b', osm]");
    assert.deepEqual(loadConfigString(text, 'mapproxy.yaml', env).warnings, []);
    assert.equal(
      errorFor(text.replace("'w:a,b'", "'x:a,b'")),
      "mapproxy.yaml:12: caches.osm_cache.sources[0]: unknown source 'x'",
    );
    assert.equal(
      errorFor(text.replace("'w:a,b'", "'w:a,c'")),
      "mapproxy.yaml:12: caches.osm_cache.sources[0]: source 'w' offers the layers 'a, b', not 'c'",
    );
    assert.match(errorFor(text.replace("'w:a,b', osm", "'osm:a'")), /caches\.osm_cache\.sources\[0\]: source 'osm' is a 'tile' source; layer tags/);
  });

  it('checks layer sources and tile_sources', () => {
    assert.equal(
      errorFor(MINIMAL.replace('sources: [osm_cache]', 'sources: [osm_cache, missing]')),
      "mapproxy.yaml:14: layers[0].sources[1]: unknown source 'missing'",
    );
    assert.equal(
      errorFor(MINIMAL.replace('sources: [osm_cache]', 'tile_sources: [osm]')),
      "mapproxy.yaml:14: layers[0].tile_sources[0]: unknown cache 'osm'",
    );
    const nested = `${MINIMAL}  - title: Group\n    layers:\n      - name: inner\n        title: Inner\n        sources: [gone]\n`;
    assert.equal(errorFor(nested), "mapproxy.yaml:19: layers[1].layers[0].sources[0]: unknown source 'gone'");
  });

  it('checks grid references of caches, sources and grids', () => {
    assert.equal(
      errorFor(MINIMAL.replace('grids: [GLOBAL_WEBMERCATOR]', 'grids: [GLOBAL_WEBMERCATOR, mygrid]')),
      "mapproxy.yaml:10: caches.osm_cache.grids[1]: unknown grid 'mygrid'",
    );
    assert.equal(
      errorFor(MINIMAL.replace('    type: tile\n', '    type: tile\n    grid: webmerc\n')),
      "mapproxy.yaml:6: sources.osm.grid: unknown grid 'webmerc'",
    );
    const withGrids = `${MINIMAL}grids:\n  mygrid:\n    base: GLOBAL_MERCATOR\n  other:\n    base: mygrd\n`;
    assert.equal(errorFor(withGrids), "mapproxy.yaml:19: grids.other.base: unknown grid 'mygrd'");
    const ok = MINIMAL.replace('grids: [GLOBAL_WEBMERCATOR]', 'grids: [mygrid, GLOBAL_GEODETIC, GLOBAL_MERCATOR]');
    assert.deepEqual(loadConfigString(`${ok}grids:\n  mygrid:\n    base: GLOBAL_WEBMERCATOR\n`, 'mapproxy.yaml', env).warnings, []);
    assert.equal(
      errorFor(`${MINIMAL}grids:\n  a:\n    base: b\n  b:\n    base: a\n`),
      "mapproxy.yaml:19: grids.b.base: grid 'a' is its own base (a -> b -> a)",
    );
  });

  it('rejects a cache that is its own source, directly or through other caches', () => {
    assert.equal(
      errorFor(MINIMAL.replace('sources: [osm]', 'sources: [osm_cache]')),
      "mapproxy.yaml:9: caches.osm_cache.sources[0]: cache 'osm_cache' uses itself as a source",
    );
    const cycle = MINIMAL.replace('sources: [osm]', 'sources: [c2]').replace(
      'caches:\n',
      'caches:\n  c2:\n    sources: [c3]\n  c3:\n    sources: [osm, osm_cache]\n',
    );
    assert.equal(
      errorFor(cycle),
      "mapproxy.yaml:13: caches.osm_cache.sources[0]: cache 'c2' uses itself as a source (c2 -> c3 -> osm_cache -> c2)",
    );
  });

  it('warns about layers without sources and missing sections', () => {
    const loaded = loadConfigString(
      `${MINIMAL}  - name: empty\n    title: Empty\n`.replace('services:\n  tms:\n', ''),
      'mapproxy.yaml',
      env,
    );
    assert.deepEqual(loaded.warnings.map(String), [
      "mapproxy.yaml:1: no 'services' section, no service is switched on",
      "mapproxy.yaml:13: layers[1]: layer 'empty' has no sources, tile_sources or layers",
    ]);
  });
});
