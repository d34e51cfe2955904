/**
 * loadCoverage: every kind of coverage config, the combinations, and every
 * way a config can be wrong (reported through opts.fail with its key path).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BboxCoverage, type Coverage } from '../../src/geo/coverage.ts';
import { GeomCoverage } from '../../src/geo/geom-coverage.ts';
import { multiPolygonArea } from '../../src/geo/geometry.ts';
import { EmptyCoverageError, loadCoverage, type CoveragePath } from '../../src/geo/load-coverage.ts';
import { getSrs } from '../../src/srs/srs.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-geo-load-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const write = (name: string, content: string | Uint8Array) => {
  const f = path.join(tmp, name);
  fs.mkdirSync(path.dirname(f), { recursive: true });
  fs.writeFileSync(f, content);
  return f;
};

class Failed extends Error {
  constructor(
    readonly at: CoveragePath,
    message: string,
  ) {
    super(message);
  }
}

const warnings: [CoveragePath, string][] = [];
const opts = {
  baseDir: tmp,
  fail(at: CoveragePath, message: string): never {
    throw new Failed(at, message);
  },
  warn(at: CoveragePath, message: string) {
    warnings.push([at, message]);
  },
};

const load = (conf: Record<string, unknown>) => loadCoverage(conf, opts);

/** The fail() call a config causes. */
function failure(conf: Record<string, unknown>): [CoveragePath, string] {
  try {
    load(conf);
  } catch (e) {
    if (e instanceof Failed) return [e.at, e.message];
    throw e;
  }
  assert.fail(`no failure for ${JSON.stringify(conf)}`);
}

const ll = getSrs('EPSG:4326');
const merc = getSrs('EPSG:3857');
const polyJson = (x: number, y: number, s: number) => ({ type: 'Polygon', coordinates: [[[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]]] });

write('two.geojson', JSON.stringify({ type: 'FeatureCollection', features: [{ type: 'Feature', geometry: polyJson(0, 0, 10) }, { type: 'Feature', geometry: polyJson(5, 5, 10) }] }));
write('plain.json', JSON.stringify(polyJson(0, 0, 2)));
write('poly.txt', 'POLYGON((0 0, 4 0, 4 4, 0 4, 0 0))\nPOLYGON((10 10, 12 10, 12 12, 10 12, 10 10))\n');
write('poly.wkt', 'MULTIPOLYGON(((0 0, 4 0, 4 4, 0 4, 0 0)))');
write('empty.txt', '  \n');
write('empty.geojson', JSON.stringify({ type: 'FeatureCollection', features: [] }));
write('points.txt', 'POINT(1 2)\n');
write('bad.txt', 'POLYGON((0 0, 1 0, 1 1))\n');
write('bad.geojson', '{"type": "FeatureCollection", "features": [');
write('list.json', '[1, 2, 3]');
write('tiles/a.txt', '5/10/12\n5/11/12\n');
write('shapes.shp', new Uint8Array([0, 0, 39, 10, 0, 0]));
write('binary.dat', new Uint8Array([1, 2, 0, 4]));

function bounds(c: Coverage): number[] {
  return c.bbox.map((v) => Math.round(v * 1e9) / 1e9);
}

describe('loadCoverage kinds', () => {
  it('bbox as list or string, with srs or bbox_srs (bbox_srs wins)', () => {
    const a = load({ bbox: [5, 50, 10, 55], srs: 'EPSG:4326' });
    assert.ok(a instanceof BboxCoverage);
    assert.deepEqual(a.bbox, [5, 50, 10, 55]);
    assert.equal(a.srs, ll);
    const b = load({ bbox: '5,50, 10,55', bbox_srs: 'EPSG:3857', srs: 'EPSG:4326' });
    assert.deepEqual(b.bbox, [5, 50, 10, 55]);
    assert.equal(b.srs, merc);
    assert.equal(load({ bbox: [0, 0, 1, 1], srs: 'EPSG:4326', clip: true }).clip, true);
  });

  it('datasource as bbox list or string', () => {
    const a = load({ datasource: [5, 50, 10, 55], srs: 'EPSG:4326' });
    assert.ok(a instanceof BboxCoverage);
    const b = load({ datasource: '-5.5,50,1e1,55', srs: 'EPSG:4326' });
    assert.deepEqual(b.bbox, [-5.5, 50, 10, 55]);
  });

  it('datasource GeoJSON: overlapping polygons merged (MapProxy: area 175)', () => {
    const c = load({ datasource: 'two.geojson', srs: 'EPSG:4326', clip: true });
    assert.ok(c instanceof GeomCoverage);
    assert.deepEqual(c.bbox, [0, 0, 15, 15]);
    assert.equal(multiPolygonArea(c.geometry), 175);
    assert.equal(c.clip, true);
    assert.equal(c.contains([6, 2, 9, 14], ll), true);
    assert.equal(c.contains([4, 4, 11, 11], ll), false);
    assert.ok(load({ datasource: path.join(tmp, 'plain.json'), srs: 4326 }) instanceof GeomCoverage);
  });

  it('datasource WKT, by content whatever the extension', () => {
    const c = load({ datasource: 'poly.txt', srs: 'EPSG:4326' }) as GeomCoverage;
    assert.equal(c.geometry.length, 2);
    assert.deepEqual(c.bbox, [0, 0, 12, 12]);
    assert.ok(load({ datasource: 'poly.wkt', srs: 'EPSG:4326' }) instanceof GeomCoverage);
  });

  it('polygons + polygons_srs', () => {
    const c = load({ polygons: 'poly.txt', polygons_srs: 'EPSG:3857' });
    assert.equal(c.srs, merc);
    assert.deepEqual(c.bbox, [0, 0, 12, 12]);
  });

  it('ogr_datasource + ogr_srs for GeoJSON and WKT files', () => {
    assert.deepEqual(load({ ogr_datasource: 'two.geojson', ogr_srs: 'EPSG:4326' }).bbox, [0, 0, 15, 15]);
    assert.deepEqual(load({ ogr_datasource: 'poly.txt', ogr_srs: 'EPSG:4326' }).bbox, [0, 0, 12, 12]);
  });

  it('expire_tiles: EPSG:3857, clip ignored as in MapProxy', () => {
    const c = load({ expire_tiles: 'tiles', clip: true });
    assert.equal(c.srs.code, 'EPSG:3857');
    assert.equal(c.clip, false);
    assert.deepEqual(c.bbox, [-7514065.628545966, 3757032.814272984, -5009377.085697311, 5009377.085697312]);
  });

  it('the first key in MapProxy order decides (polygons before bbox before datasource)', () => {
    const c = load({ bbox: [0, 0, 1, 1], srs: 'EPSG:4326', datasource: 'two.geojson' });
    assert.ok(c instanceof BboxCoverage);
    const d = load({ polygons: 'poly.txt', polygons_srs: 'EPSG:4326', bbox: [0, 0, 1, 1], srs: 'EPSG:4326' });
    assert.ok(d instanceof GeomCoverage);
  });

  it('ignores where for a WKT file with a warning, as MapProxy ignores it', () => {
    warnings.length = 0;
    load({ datasource: 'poly.txt', srs: 'EPSG:4326', where: 'x = 1' });
    assert.equal(warnings.length, 1);
    assert.deepEqual(warnings[0][0], ['where']);
  });

  it('reports skipped non-polygon geometries through warn with the key path', () => {
    warnings.length = 0;
    write('mixed.txt', 'POINT(1 2)\nPOLYGON((0 0, 1 0, 1 1, 0 0))\n');
    load({ union: [{ bbox: [0, 0, 1, 1], srs: 'EPSG:4326' }, { datasource: 'mixed.txt', srs: 'EPSG:4326' }] });
    assert.deepEqual(warnings, [[['union', 1, 'datasource'], `ignoring non-polygon geometry (Point) from ${path.join(tmp, 'mixed.txt')}`]]);
  });
});

describe('loadCoverage combinations (answers from MapProxy 1.15)', () => {
  const a = { bbox: [0, 0, 10, 10], srs: 'EPSG:4326' };
  const b = { datasource: 'two.geojson', srs: 'EPSG:4326' };
  const square5 = { bbox: [5, 5, 15, 15], srs: 'EPSG:4326' };
  const m = { bbox: [1000000, 1000000, 1300000, 1300000], srs: 'EPSG:3857' };
  const area = (c: Coverage) => multiPolygonArea((c as GeomCoverage).geometry);

  it('union', () => {
    const u = load({ union: [a, square5] });
    assert.deepEqual(u.bbox, [0, 0, 15, 15]);
    assert.equal(area(u), 175);
    assert.equal(u.clip, false);
    assert.equal(load({ union: [a, square5], clip: true }).clip, true);
  });

  it('intersection', () => {
    const i = load({ intersection: [a, square5] });
    assert.deepEqual(i.bbox, [5, 5, 10, 10]);
    assert.equal(area(i), 25);
  });

  it('difference', () => {
    const d = load({ difference: [a, square5] });
    assert.deepEqual(d.bbox, [0, 0, 10, 10]);
    assert.equal(area(d), 75);
    assert.equal(d.contains([6, 6, 7, 7], ll), false);
    assert.equal(d.contains([1, 1, 4, 9], ll), true);
  });

  it('the result is in the SRS of the first part; a bbox part counts as its transformed bbox', () => {
    const u = load({ union: [a, m] });
    assert.equal(u.srs, ll);
    assert.deepEqual(bounds(u), [0, 0, 11.678098694, 11.598071033]);
    assert.ok(Math.abs(area(u) - 106.07446794650542) < 1e-9);
    const v = load({ union: [m, a] });
    assert.equal(v.srs, merc);
    assert.deepEqual(bounds(v), [0, 0, 1300000, 1300000]);
    assert.ok(Math.abs(area(v) / 1322084882790.6953 - 1) < 1e-12);
    const d = load({ difference: [a, m] });
    assert.ok(Math.abs(area(d) - 98.9288266129144) < 1e-9);
  });

  it('nests', () => {
    const c = load({ difference: [{ union: [a, square5] }, { intersection: [a, b, square5] }] });
    assert.equal(area(c), 150);
  });

  it('an empty intersection or difference is an EmptyCoverageError', () => {
    assert.throws(() => load({ intersection: [a, { bbox: [20, 20, 30, 30], srs: 'EPSG:4326' }] }), EmptyCoverageError);
    assert.throws(() => load({ difference: [a, a] }), EmptyCoverageError);
    // touching parts share no area
    assert.throws(() => load({ intersection: [a, { bbox: [10, 0, 20, 10], srs: 'EPSG:4326' }] }), EmptyCoverageError);
  });
});

describe('loadCoverage errors', () => {
  it('empty geometries are EmptyCoverageError', () => {
    for (const conf of [
      { datasource: 'empty.txt', srs: 'EPSG:4326' },
      { datasource: 'empty.geojson', srs: 'EPSG:4326' },
      { datasource: 'points.txt', srs: 'EPSG:4326' },
      { polygons: 'empty.txt', polygons_srs: 'EPSG:4326' },
      { expire_tiles: 'empty.txt' },
      { union: [{ bbox: [0, 0, 1, 1], srs: 'EPSG:4326' }, { datasource: 'empty.geojson', srs: 'EPSG:4326' }] },
    ]) {
      assert.throws(() => load(conf), EmptyCoverageError, JSON.stringify(conf));
    }
  });

  it('reports each bad value with its key path', () => {
    const cases: [Record<string, unknown>, CoveragePath, RegExp][] = [
      [{}, [], /needs one of bbox, datasource, polygons, ogr_datasource, expire_tiles, union, intersection, difference/],
      [{ srs: 'EPSG:4326', clip: true }, [], /needs one of/],
      [{ bbox: [0, 0, 1, 1] }, ['srs'], /bbox needs 'srs'/],
      [{ bbox: [0, 0, 1, 1], srs: 'EPSG:99999' }, ['srs'], /^unknown SRS EPSG:99999$/],
      [{ bbox: [0, 0, 1, 1], bbox_srs: 'FOO:1' }, ['bbox_srs'], /^unknown SRS FOO:1$/],
      [{ bbox: [0, 0, 1, 1], srs: ['EPSG:4326'] }, ['srs'], /must be an SRS code/],
      [{ bbox: [10, 0, 1, 1], srs: 'EPSG:4326' }, ['bbox'], /^minx must be below maxx$/],
      [{ bbox: [0, 5, 1, 5], srs: 'EPSG:4326' }, ['bbox'], /^miny must be below maxy$/],
      [{ bbox: [0, 0, 1], srs: 'EPSG:4326' }, ['bbox'], /four numbers/],
      [{ bbox: ['0', 0, 1, 1], srs: 'EPSG:4326' }, ['bbox'], /four numbers/],
      [{ bbox: '0,0,1', srs: 'EPSG:4326' }, ['bbox'], /minx,miny,maxx,maxy/],
      [{ bbox: 'a,b,c,d', srs: 'EPSG:4326' }, ['bbox'], /minx,miny,maxx,maxy/],
      [{ bbox: { minx: 0 }, srs: 'EPSG:4326' }, ['bbox'], /expected a bbox/],
      [{ bbox: [0, 0, 1, 1], srs: 'EPSG:4326', clip: 'yes' }, ['clip'], /clip must be true or false/],
      [{ datasource: [3, 0, 1, 1], srs: 'EPSG:4326' }, ['datasource'], /minx must be below maxx/],
      [{ datasource: 'two.geojson' }, ['srs'], /datasource needs 'srs'/],
      [{ datasource: 'missing.geojson', srs: 'EPSG:4326' }, ['datasource'], new RegExp(`^can't read ${path.join(tmp, 'missing.geojson')}: ENOENT$`)],
      [{ datasource: 42, srs: 'EPSG:4326' }, ['datasource'], /must be a file name/],
      [{ datasource: 'bad.txt', srs: 'EPSG:4326' }, ['datasource'], /bad\.txt: WKT line 1: the points of a polygon ring do not form a closed ring/],
      [{ datasource: 'bad.geojson', srs: 'EPSG:4326' }, ['datasource'], /bad\.geojson: invalid JSON/],
      [{ datasource: 'list.json', srs: 'EPSG:4326' }, ['datasource'], /list\.json: not a GeoJSON object/],
      [{ datasource: 'shapes.shp', srs: 'EPSG:4326' }, ['datasource'], /shapes\.shp is an OGR data source.*does not include GDAL.*GeoJSON or WKT/],
      [{ datasource: 'binary.dat', srs: 'EPSG:4326' }, ['datasource'], /OGR data source/],
      [{ datasource: 'tiles', srs: 'EPSG:4326' }, ['datasource'], /OGR data source/],
      [{ datasource: 'PG: dbname=osm host=localhost', srs: 'EPSG:4326' }, ['datasource'], /'PG: dbname=osm host=localhost' is an OGR data source.*GDAL/],
      [{ datasource: 'two.geojson', srs: 'EPSG:4326', where: "name = 'x'" }, ['where'], /filters features through OGR.*GDAL/],
      [{ polygons: 'poly.txt' }, ['polygons_srs'], /polygons needs 'polygons_srs'/],
      [{ polygons: 'two.geojson', polygons_srs: 'EPSG:4326' }, ['polygons'], /expected a WKT geometry type/],
      [{ ogr_datasource: 'shapes.shp', ogr_srs: 'EPSG:4326' }, ['ogr_datasource'], /OGR data source.*GDAL/],
      [{ ogr_datasource: 'two.geojson' }, ['ogr_srs'], /needs 'ogr_srs'/],
      [{ ogr_datasource: 'two.geojson', ogr_srs: 'EPSG:4326', ogr_where: 'id > 3' }, ['ogr_where'], /filters features through OGR/],
      [{ ogr_datasource: 'PG: dbname=x', ogr_srs: 'EPSG:4326' }, ['ogr_datasource'], /OGR data source/],
      [{ expire_tiles: 'nope' }, ['expire_tiles'], /can't read .*nope: ENOENT/],
      [{ expire_tiles: 5 }, ['expire_tiles'], /file or directory name/],
      [{ union: [] }, ['union'], /union needs a list of coverages/],
      [{ intersection: 'a' }, ['intersection'], /intersection needs a list/],
      [{ union: [{ bbox: [0, 0, 1, 1], srs: 'EPSG:4326' }, 'x'] }, ['union', 1], /each union entry must be a coverage mapping/],
      [{ union: [{ bbox: [0, 0, 1, 1], srs: 'EPSG:4326' }, { bbox: [5, 0, 1, 1], srs: 'EPSG:4326' }] }, ['union', 1, 'bbox'], /^minx must be below maxx$/],
      [{ difference: [{ bbox: [0, 0, 1, 1], srs: 'EPSG:4326' }, { union: [{ datasource: 'x.json' }] }] }, ['difference', 1, 'union', 0, 'srs'], /needs 'srs'/],
      [{ intersection: [{ bbox: [0, 0, 1, 1], srs: 'EPSG:4326' }, {}] }, ['intersection', 1], /needs one of/],
    ];
    for (const [conf, at, re] of cases) {
      const [gotAt, msg] = failure(conf);
      assert.deepEqual(gotAt, at, JSON.stringify(conf));
      assert.match(msg, re, JSON.stringify(conf));
    }
  });
});
