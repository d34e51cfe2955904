/**
 * WKT, GeoJSON and expire_tiles readers, with MapProxy's load_polygon_lines /
 * load_geojson / load_expire_tiles behaviour (answers checked with MapProxy 1.15).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GeometryError, multiPolygonArea, multiPolygonBounds } from '../../src/geo/geometry.ts';
import { parseWkt, readWktPolygons } from '../../src/geo/wkt.ts';
import { readGeoJsonPolygons } from '../../src/geo/geojson.ts';
import { expireTilesGeometry, parseExpireTileList, readExpireTiles, type ExpireTile } from '../../src/geo/expire-tiles.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-geo-readers-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function collect(): { warn: (m: string) => void; warnings: string[] } {
  const warnings: string[] = [];
  return { warn: (m) => warnings.push(m), warnings };
}

describe('WKT', () => {
  it('parses POLYGON with holes, MULTIPOLYGON, keywords in any case, Z coordinates', () => {
    const p = parseWkt('polygon ((0 0, 10 0, 10 10, 0 10, 0 0), (2 2, 2 3, 3 3, 2 2))');
    assert.equal(p.type, 'Polygon');
    assert.deepEqual(p.polygons, [[[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]], [[2, 2], [2, 3], [3, 3], [2, 2]]]]);
    const m = parseWkt('MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)), EMPTY, ((5 5, 6 5, 6 6, 5 5)))');
    assert.equal(m.type, 'MultiPolygon');
    assert.equal(m.polygons.length, 2);
    const z = parseWkt('POLYGON Z ((0 0 1, 1 0 1, 1 1 1, 0 0 1))');
    assert.deepEqual(z.polygons[0][0][1], [1, 0]);
    const e = parseWkt('MultiPolygon(((1e2 -2.5,+3 .5,4. 4,1e2 -2.5)))');
    assert.deepEqual(e.polygons[0][0][0], [100, -2.5]);
    assert.equal(parseWkt('POLYGON EMPTY').polygons.length, 0);
  });

  it('parses GEOMETRYCOLLECTION and the other types', () => {
    const g = parseWkt('GEOMETRYCOLLECTION (POINT (1 2), LINESTRING (0 0, 1 1), POLYGON ((0 0, 1 0, 1 1, 0 0)), MULTIPOINT ((1 1), 2 2), MULTILINESTRING ((0 0, 1 1)), GEOMETRYCOLLECTION EMPTY)');
    assert.equal(g.type, 'GeometryCollection');
    assert.deepEqual(
      g.geometries.map((c) => c.type),
      ['Point', 'LineString', 'Polygon', 'MultiPoint', 'MultiLineString', 'GeometryCollection'],
    );
    assert.equal(g.geometries[2].polygons.length, 1);
  });

  it('rejects bad WKT with the line and what is wrong', () => {
    const bad: [string, RegExp][] = [
      ['POLYGON((0 0, 1 0, 1 1))', /closed ring/],
      ['POLYGON((0 0, 1 0, 0 0))', /has 3 points; it needs at least 4/],
      ['POLYGON((0 0, 1 0, 1 1, 0 0)', /line 1: expected '\)' to close the polygon, found the end of the text/],
      ['\n\nCIRCLE(1 2)', /line 3: expected a WKT geometry type/],
      ['POLYGON((0 0, 1 x, 1 1, 0 0))', /expected a number, found 'x'/],
      ['POLYGON((0 0, 1 0, 1 1, 0 0)) x', /unexpected 'x' after the geometry/],
    ];
    for (const [wkt, re] of bad) assert.throws(() => parseWkt(wkt), (e: Error) => e instanceof GeometryError && re.test(e.message), wkt);
  });

  it('reads polygon files like load_polygon_lines: one geometry per line, non-polygons skipped', () => {
    const { warn, warnings } = collect();
    const text = [
      '\uFEFFPOLYGON((0 0, 1 0, 1 1, 0 0))',
      '',
      '   ',
      'MULTIPOLYGON(((5 5, 6 5, 6 6, 5 5)), ((7 7, 8 7, 8 8, 7 7)))',
      'POINT(1 2)',
      'GEOMETRYCOLLECTION(POLYGON((0 0, 1 0, 1 1, 0 0)))',
      'POLYGON((9 9, 10 9, 10 10, 9 9)) trailing words',
      'POLYGON EMPTY',
    ].join('\r\n');
    const polys = readWktPolygons(text, warn, 'coverage.txt');
    assert.equal(polys.length, 4);
    assert.deepEqual(warnings, [
      'ignoring non-polygon geometry (Point) from coverage.txt',
      'ignoring non-polygon geometry (GeometryCollection) from coverage.txt',
      "ignoring 'trailing words' after the geometry on line 7 of coverage.txt",
    ]);
  });

  it('accepts a geometry spread over several lines', () => {
    const polys = readWktPolygons('POLYGON((\n 0 0,\n 1 0,\n 1 1,\n 0 0\n))\nPOLYGON((5 5, 6 5, 6 6, 5 5))\n');
    assert.equal(polys.length, 2);
  });
});

describe('GeoJSON', () => {
  const poly = (x: number) => ({ type: 'Polygon', coordinates: [[[x, 0], [x + 1, 0], [x + 1, 1], [x, 0]]] });

  it('reads FeatureCollection, Feature, Polygon and MultiPolygon', () => {
    const fc = {
      type: 'FeatureCollection',
      features: [
        { type: 'Feature', properties: {}, geometry: poly(0) },
        { type: 'Feature', properties: {}, geometry: null },
        { type: 'Feature', properties: {}, geometry: { type: 'MultiPolygon', coordinates: [poly(2).coordinates, poly(4).coordinates] } },
      ],
    };
    assert.equal(readGeoJsonPolygons(JSON.stringify(fc)).length, 3);
    assert.equal(readGeoJsonPolygons(JSON.stringify({ type: 'Feature', geometry: poly(0) })).length, 1);
    assert.equal(readGeoJsonPolygons(JSON.stringify(poly(0))).length, 1);
    assert.equal(readGeoJsonPolygons(JSON.stringify({ type: 'MultiPolygon', coordinates: [poly(0).coordinates, []] })).length, 1);
  });

  it('closes open rings and drops z', () => {
    const [p] = readGeoJsonPolygons(JSON.stringify({ type: 'Polygon', coordinates: [[[0, 0, 5], [1, 0, 5], [1, 1, 5]]] }));
    assert.deepEqual(p, [[[0, 0], [1, 0], [1, 1], [0, 0]]]);
  });

  it('skips non-polygon geometries, GeometryCollection included, with warnings (as MapProxy)', () => {
    const { warn, warnings } = collect();
    const fc = {
      type: 'FeatureCollection',
      features: [
        { type: 'Feature', geometry: { type: 'Point', coordinates: [1, 2] } },
        { type: 'Feature', geometry: { type: 'GeometryCollection', geometries: [poly(0)] } },
        { type: 'Feature', geometry: poly(0) },
      ],
    };
    assert.equal(readGeoJsonPolygons(JSON.stringify(fc), warn, 'x.geojson').length, 1);
    assert.deepEqual(warnings, ['ignoring non-polygon geometry (Point) from x.geojson', 'ignoring non-polygon geometry (GeometryCollection) from x.geojson']);
    const top = collect();
    assert.equal(readGeoJsonPolygons(JSON.stringify({ type: 'GeometryCollection', geometries: [poly(0)] }), top.warn, 'y.json').length, 0);
    assert.deepEqual(top.warnings, ['skipping feature of type GeometryCollection from y.json: not a Polygon/MultiPolygon']);
  });

  it('rejects invalid JSON and malformed GeoJSON', () => {
    const bad: [string, RegExp][] = [
      ['{"type": "Polygon", ', /^invalid JSON/],
      ['{"features": []}', /not a GeoJSON object/],
      ['[1, 2]', /not a GeoJSON object/],
      ['{"type": "FeatureCollection"}', /without a "features" array/],
      ['{"type": "Polygon", "coordinates": [[[0, 0], [1, 0]]]}', /coordinates\[0\]: a ring needs at least 3 positions, found 2/],
      ['{"type": "Polygon", "coordinates": [[[0, 0], [1, "a"], [1, 1]]]}', /coordinates\[0\]\[1\]: a position must be/],
      ['{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Circle"}}]}', /features\[0\]\.geometry: unknown geometry type "Circle"/],
    ];
    for (const [text, re] of bad) assert.throws(() => readGeoJsonPolygons(text), (e: Error) => e instanceof GeometryError && re.test(e.message), text);
  });
});

describe('expire_tiles', () => {
  const dir = path.join(tmp, 'expire');
  fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'a.txt'), '5/10/12\n5/11/12\n5/10/13\n4/3/3\n5/10/12\n');
  fs.writeFileSync(path.join(dir, 'sub', 'b.txt'), '6/40/40\nbad/line\n6/41/41\n');

  it('parses z/x/y lines like Python int() and stops a file at the first bad line', () => {
    const tiles = new Map<string, ExpireTile>();
    const { warn, warnings } = collect();
    parseExpireTileList(' 1/ 0 /+1 \n2/1_0/3\n\n3/3/3\n', tiles, warn, 'list');
    assert.deepEqual([...tiles.values()], [[1, 0, 1], [2, 10, 3]]);
    assert.deepEqual(warnings, ['found error in list, skipping rest of file']);
    parseExpireTileList('4/1/2/3\n', tiles, warn, 'list');
    assert.equal(tiles.size, 2);
  });

  it('reads a file: the union of its tiles (MapProxy: same bounds and area)', () => {
    const tiles = readExpireTiles(path.join(dir, 'a.txt'));
    assert.equal(tiles.size, 4);
    const mp = expireTilesGeometry(tiles.values());
    assert.deepEqual(multiPolygonBounds(mp), [-12523442.714243278, 2504688.542848655, -5009377.085697311, 12523442.714243278]);
    assert.ok(Math.abs(multiPolygonArea(mp) / 10978563219185.314 - 1) < 1e-12);
  });

  it('reads a directory recursively', () => {
    const { warn, warnings } = collect();
    const tiles = readExpireTiles(dir, warn);
    assert.equal(tiles.size, 5);
    assert.deepEqual(warnings, [`found error in ${path.join(dir, 'sub', 'b.txt')}, skipping rest of file`]);
    const mp = expireTilesGeometry(tiles.values());
    assert.deepEqual(multiPolygonBounds(mp), [-12523442.714243278, -5635549.221409475, 5635549.221409475, 12523442.714243278]);
    assert.ok(Math.abs(multiPolygonArea(mp) / 11370654762727.648 - 1) < 1e-12);
  });

  it('merges blocks of tiles into few polygons', () => {
    const tiles: ExpireTile[] = [];
    for (let x = 0; x < 100; x++) for (let y = 0; y < 100; y++) if (x < 50 || y < 50) tiles.push([10, 500 + x, 300 + y]);
    const mp = expireTilesGeometry(tiles);
    assert.equal(mp.length, 1);
    assert.equal(mp[0].length, 1, 'no holes');
  });

  it('fails for a missing file and for levels outside the grid', () => {
    assert.throws(() => readExpireTiles(path.join(tmp, 'missing')), /can't read .*missing: ENOENT/);
    assert.throws(() => expireTilesGeometry([[20, 0, 0]]), /level 20 is not in the web mercator grid \(0-19\)/);
  });
});
