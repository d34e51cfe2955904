import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { configErrorAt, loadConfig, loadConfigString } from '../../src/config/loader.ts';
import { ConfigError } from '../../src/errors.ts';
import { errorOf, fixture, inDir, MINIMAL } from './helpers.ts';

const noValidate = { validate: false, env: {} };

describe('YAML parsing', () => {
  it('reports a syntax error with its line', () => {
    const err = errorOf(() => loadConfigString('services:\n  tms:\nlayers: [a, b\ncaches: {}\n', 'mapproxy.yaml', noValidate));
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /^mapproxy\.yaml:\d+: YAML syntax error: /);
    assert.ok((err as ConfigError).location!.line! >= 3);
  });

  it('rejects tabs in indentation with the line', () => {
    const err = errorOf(() => loadConfigString('services:\n  tms:\nglobals:\n\tcache:\n', 'mapproxy.yaml', noValidate));
    assert.equal(err.message, 'mapproxy.yaml:4: tab character in indentation, YAML allows only spaces there');
  });

  it('rejects a file that is not a mapping', () => {
    const err = errorOf(() => loadConfigString('- a\n- b\n', 'mapproxy.yaml', noValidate));
    assert.equal(err.message, 'mapproxy.yaml:1: configuration is not a YAML mapping (key: value pairs)');
  });

  it('resolves anchors from parts and merge keys', () => {
    const text = `parts:
  coverages:
    de: &de
      bbox: [5, 47, 16, 55]
      srs: 'EPSG:4326'
  http: &http
    client_timeout: 10
    method: GET
sources:
  a:
    type: tile
    url: http://a/%(z)s.png
    coverage: *de
    http:
      <<: *http
      method: POST
`;
    const loaded = loadConfigString(text, 'mapproxy.yaml', noValidate);
    const a = (loaded.conf as any).sources.a;
    assert.deepEqual(a.coverage, { bbox: [5, 47, 16, 55], srs: 'EPSG:4326' });
    assert.deepEqual(a.http, { client_timeout: 10, method: 'POST' });
    // values from an anchor point at the anchor's lines
    assert.deepEqual(loaded.locate(['sources', 'a', 'coverage', 'bbox']), { file: 'mapproxy.yaml', line: 4 });
    assert.deepEqual(loaded.locate(['sources', 'a', 'http', 'client_timeout']), { file: 'mapproxy.yaml', line: 7 });
    assert.deepEqual(loaded.locate(['sources', 'a', 'http', 'method']), { file: 'mapproxy.yaml', line: 16 });
  });

  it('reads YAML 1.1 booleans like PyYAML (yes/no/on/off, but y stays a string)', () => {
    const loaded = loadConfigString('a: yes\nb: off\nc: y\ny: 1\nd: 0755\n', 'x.yaml', noValidate);
    assert.deepEqual({ ...loaded.conf }, { a: true, b: false, c: 'y', y: 1, d: 493 });
  });

  it('keeps dates as strings', () => {
    const loaded = loadConfigString('d: 2024-05-01\n', 'x.yaml', noValidate);
    assert.equal((loaded.conf as any).d, '2024-05-01');
  });

  it('warns about duplicate keys and keeps the later one', () => {
    const loaded = loadConfigString('a: 1\nb: 2\na: 3\n', 'x.yaml', noValidate);
    assert.equal((loaded.conf as any).a, 3);
    assert.equal(String(loaded.warnings[0]), "x.yaml:3: a: duplicate key 'a', this later one wins");
  });

  it('converts old dict-style layers to a list, with a warning', () => {
    const text = `${MINIMAL.replace(/layers:[\s\S]*/, '')}layers:
  osm:
    title: OSM
    sources: [osm_cache]
  other:
    title: Other
    sources: [osm]
`;
    const loaded = loadConfigString(text, 'mapproxy.yaml', { env: {} });
    assert.deepEqual((loaded.conf as any).layers, [
      { name: 'osm', title: 'OSM', sources: ['osm_cache'] },
      { name: 'other', title: 'Other', sources: ['osm'] },
    ]);
    assert.match(String(loaded.warnings[0]), /^mapproxy\.yaml:\d+: layers: old layer syntax/);
    assert.deepEqual(loaded.locate(['layers', 1, 'title']), { file: 'mapproxy.yaml', line: loaded.locate(['layers', 1])!.line + 1 });
  });

  it('deep-freezes the result', () => {
    const loaded = loadConfigString('globals:\n  cache:\n    meta_size: [4, 4]\n', 'x.yaml', noValidate);
    assert.throws(() => {
      (loaded.conf as any).globals.cache.meta_size.push(1);
    });
    assert.ok(Object.isFrozen((loaded.conf as any).globals.cache));
  });
});

describe('environment variables', () => {
  it('substitutes $VAR and ${VAR} in string values of all files, not in keys', () => {
    const dir = fixture({
      'base.yaml': 'globals:\n  cache:\n    base_dir: ${CACHE}/tiles\n',
      'mapproxy.yaml': 'base: base.yaml\nsources:\n  $NAME:\n    type: tile\n    url: http://$HOST:8080/${LAYER}_x/%(z)s.png\n    min_res: 5\n',
    });
    const loaded = loadConfig(path.join(dir, 'mapproxy.yaml'), {
      validate: false,
      env: { CACHE: '/var/cache', HOST: 'tiles.example', LAYER: 'osm', NAME: 'nope' },
    });
    const c = loaded.conf as any;
    assert.equal(c.globals.cache.base_dir, '/var/cache/tiles');
    assert.deepEqual(Object.keys(c.sources), ['$NAME']);
    assert.equal(c.sources.$NAME.url, 'http://tiles.example:8080/osm_x/%(z)s.png');
    assert.equal(c.sources.$NAME.min_res, 5);
    assert.equal(loaded.warnings.length, 0);
  });

  it('leaves unset variables as written and warns once per name', () => {
    const loaded = loadConfigString('a: $MISSING/x\nb: ${MISSING}\nc: ${OTHER}\nd: $SET\n', 'x.yaml', {
      validate: false,
      env: { SET: 'ok', UNDEF: undefined },
    });
    assert.deepEqual({ ...loaded.conf }, { a: '$MISSING/x', b: '${MISSING}', c: '${OTHER}', d: 'ok' });
    assert.deepEqual(loaded.warnings.map(String), [
      "x.yaml:1: a: environment variable 'MISSING' is not set, '$MISSING' is left as it is",
      "x.yaml:3: c: environment variable 'OTHER' is not set, '${OTHER}' is left as it is",
    ]);
  });

  it('substitutes in base: names', () => {
    const dir = fixture({ 'sub/base.yaml': 'x: 1\n', 'mapproxy.yaml': 'base: $DIR/base.yaml\n' });
    const loaded = loadConfig(path.join(dir, 'mapproxy.yaml'), { validate: false, env: { DIR: 'sub' } });
    assert.equal((loaded.conf as any).x, 1);
  });
});

describe('source positions', () => {
  it('maps keys to file and line, for the main file and for base files', () => {
    const dir = fixture({
      'base.yaml': `sources:
  osm:
    type: tile
    url: http://x/%(z)s.png
layers:
  - name: a
    title: A
    sources: [osm]
services:
  wms:
    srs: [EPSG:4326]
`,
      'mapproxy.yaml': `base: base.yaml
services:
  wms:
    srs: [EPSG:3857]
layers:
  - name: a
    title: A from main
  - name: b
    title: B
    sources: [osm]
`,
    });
    const loaded = inDir(dir, () => loadConfig('mapproxy.yaml', noValidate));
    const at = (...p: (string | number)[]) => {
      const pos = loaded.locate(p);
      return pos && `${pos.file}:${pos.line}`;
    };
    assert.equal(at('sources', 'osm', 'url'), 'base.yaml:4');
    assert.equal(at('layers', 0, 'title'), 'mapproxy.yaml:7');
    assert.equal(at('layers', 0, 'sources', 0), 'base.yaml:8');
    assert.equal(at('layers', 1), 'mapproxy.yaml:8');
    assert.equal(at('layers', 1, 'sources'), 'mapproxy.yaml:10');
    assert.equal(at('services', 'wms', 'srs', 0), 'base.yaml:11');
    assert.equal(at('services', 'wms', 'srs', 1), 'mapproxy.yaml:4');
    // a missing key falls back to the deepest existing prefix
    assert.equal(at('sources', 'osm', 'grid'), 'base.yaml:2');
  });

  it('shows files outside the cwd with absolute paths', () => {
    const dir = fixture({ 'mapproxy.yaml': 'a: 1\n' });
    const loaded = inDir('/', () => loadConfig(path.join(dir, 'mapproxy.yaml'), noValidate));
    assert.deepEqual(loaded.locate(['a']), { file: path.join(dir, 'mapproxy.yaml').replace(/^\//, ''), line: 1 });
    const loaded2 = inDir(path.join(dir, '..'), () => loadConfig(path.join(dir, 'mapproxy.yaml'), noValidate));
    assert.equal(loaded2.locate(['a'])!.file, path.join(path.basename(dir), 'mapproxy.yaml'));
    const outside = fixture({});
    const loaded3 = inDir(outside, () => loadConfig(path.join(dir, 'mapproxy.yaml'), noValidate));
    assert.equal(loaded3.locate(['a'])!.file, path.join(dir, 'mapproxy.yaml'));
  });
});

describe('configErrorAt', () => {
  it('builds errors for later stages in the same format', () => {
    const loaded = loadConfigString(MINIMAL, 'mapproxy.yaml', { env: {} });
    const err = configErrorAt(loaded, ['caches', 'osm_cache', 'grids', 0], "grid 'GLOBAL_WEBMERCATOR' has no levels");
    assert.ok(err instanceof ConfigError);
    assert.equal(err.message, "mapproxy.yaml:10: caches.osm_cache.grids[0]: grid 'GLOBAL_WEBMERCATOR' has no levels");
  });
});
