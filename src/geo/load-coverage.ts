/**
 * A coverage from its configuration dict, as MapProxy's load_coverage: the
 * first of union, intersection, difference, ogr_datasource, polygons, bbox,
 * datasource, expire_tiles decides the kind. OGR data sources (Shapefile,
 * GeoPackage, PostGIS ...) need GDAL, which this build does not include: those
 * fail with a hint to convert them to GeoJSON or WKT.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { getSrs, type Srs } from '../srs/srs.ts';
import type { Bbox } from '../srs/types.ts';
import { differenceCoverage, intersectionCoverage, unionCoverage } from './combine.ts';
import { BboxCoverage, type Coverage } from './coverage.ts';
import { expireTilesGeometry, readExpireTiles } from './expire-tiles.ts';
import { readGeoJsonPolygons } from './geojson.ts';
import { buildMultiPolygon, EmptyCoverageError, GeometryError, type Polygon } from './geometry.ts';
import { GeomCoverage } from './geom-coverage.ts';
import { readWktPolygons } from './wkt.ts';

export { EmptyCoverageError } from './geometry.ts';

/** A key path below the coverage dict, e.g. ['union', 1, 'bbox']. */
export type CoveragePath = (string | number)[];

/** How loadCoverage reports. */
export interface LoadCoverageOptions {
  /** Relative file names resolve against this directory (the config file's). */
  baseDir: string;
  /** Reports a bad value at `subPath` below the coverage dict; must throw. */
  fail(subPath: CoveragePath, message: string): never;
  /** Reports something skipped (non-polygon geometries, bad expire_tiles lines); default: ignored. */
  warn?(subPath: CoveragePath, message: string): void;
}

/** The keys of which one makes a coverage. */
export const COVERAGE_KEYS = ['bbox', 'datasource', 'polygons', 'ogr_datasource', 'expire_tiles', 'union', 'intersection', 'difference'] as const;

// MapProxy treats names like PG:, MYSQL:, WFS: as OGR connection strings, not files
const OGR_CONNECTION = /^\w{2,}:/;
const OGR_EXTENSIONS = new Set([
  '.shp', '.shx', '.dbf', '.prj', '.gpkg', '.sqlite', '.db', '.gml', '.kml', '.kmz', '.tab', '.mif', '.mid', '.fgb',
  '.gdb', '.gpx', '.dxf', '.osm', '.pbf', '.csv', '.xlsx', '.ods', '.mdb', '.zip', '.parquet',
]);
const NUMBER = /^\s*[-+]?(?:\d+(?:_\d+)*\.?(?:\d+(?:_\d+)*)?|\.\d+(?:_\d+)*)(?:[eE][-+]?\d+)?\s*$/;

type Dict = Record<string, unknown>;

function isDict(v: unknown): v is Dict {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function ogrMessage(what: string): string {
  return (
    `${what} is an OGR data source, and mapproxy-ts does not include GDAL/OGR: ` +
    'convert the polygons to a GeoJSON or WKT file (e.g. ogr2ogr -f GeoJSON coverage.geojson SOURCE) and use that file'
  );
}

/**
 * Loads a coverage from a config dict (the value of a `coverage:` key or of a
 * seed.yaml coverage). Bad values go to opts.fail with their key path; a
 * geometry without area throws EmptyCoverageError.
 */
export function loadCoverage(conf: Record<string, unknown>, opts: LoadCoverageOptions): Coverage {
  const fail: LoadCoverageOptions['fail'] = (p, m) => opts.fail(p, m);
  const warn = (p: CoveragePath, m: string) => opts.warn?.(p, m);
  if (!isDict(conf)) fail([], `a coverage must be a mapping with one of ${COVERAGE_KEYS.join(', ')}`);

  let clip = false;
  if ('clip' in conf && conf.clip !== null && conf.clip !== undefined) {
    if (typeof conf.clip !== 'boolean') fail(['clip'], `clip must be true or false, not ${JSON.stringify(conf.clip)}`);
    clip = conf.clip;
  }

  for (const op of ['union', 'intersection', 'difference'] as const) {
    if (!(op in conf)) continue;
    const list = conf[op];
    if (!Array.isArray(list) || !list.length) fail([op], `${op} needs a list of coverages`);
    const parts = list.map((sub, i) => {
      if (!isDict(sub)) fail([op, i], `each ${op} entry must be a coverage mapping with one of ${COVERAGE_KEYS.join(', ')}`);
      return loadCoverage(sub, {
        baseDir: opts.baseDir,
        fail: (p, m) => fail([op, i, ...p], m),
        warn: (p, m) => warn([op, i, ...p], m),
      });
    });
    if (op === 'union') return unionCoverage(parts, clip);
    if (op === 'intersection') return intersectionCoverage(parts, clip);
    return differenceCoverage(parts, clip);
  }

  const srsAt = (key: string, what: string): Srs => {
    const v = conf[key];
    if (v === undefined || v === null || v === '') fail([key], `${what} needs '${key}'`);
    if (typeof v !== 'string' && typeof v !== 'number') fail([key], `${key} must be an SRS code like 'EPSG:4326'`);
    try {
      return getSrs(v);
    } catch {
      fail([key], `unknown SRS ${v}`);
    }
  };

  const fileText = (key: string, file: string): { abs: string; text: string } => {
    const abs = path.resolve(opts.baseDir, file);
    let st: fs.Stats;
    try {
      st = fs.statSync(abs);
    } catch (e) {
      fail([key], `can't read ${abs}: ${errCode(e)}`);
    }
    // a directory is a Shapefile folder, a File Geodatabase ...
    if (st.isDirectory()) fail([key], ogrMessage(abs));
    let buf: Uint8Array;
    try {
      buf = fs.readFileSync(abs);
    } catch (e) {
      fail([key], `can't read ${abs}: ${errCode(e)}`);
    }
    if (OGR_EXTENSIONS.has(path.extname(abs).toLowerCase()) || buf.subarray(0, 4096).includes(0)) fail([key], ogrMessage(abs));
    return { abs, text: new TextDecoder('utf-8').decode(buf) };
  };

  const geometryFromFile = (key: string, file: unknown, opt: { whereKey?: string; wktOnly?: boolean }): Polygon[] => {
    if (typeof file !== 'string' || !file.trim()) fail([key], `${key} must be a file name`);
    if (OGR_CONNECTION.test(file)) fail([key], ogrMessage(`'${file}'`));
    const { abs, text } = fileText(key, file);
    const content = text.replace(/^\uFEFF/, '').trimStart();
    if (!content) throw new EmptyCoverageError(`${abs} is empty`);
    const isJson = !opt.wktOnly && (content.startsWith('{') || /\.(geo)?json$/i.test(abs));
    const where = opt.whereKey ? conf[opt.whereKey] : undefined;
    if (where !== undefined && where !== null && isJson) {
      fail([opt.whereKey!], `'${opt.whereKey}' filters features through OGR, and mapproxy-ts does not include GDAL/OGR: write only the wanted features to the GeoJSON file instead (e.g. ogr2ogr -where ...)`);
    }
    if (where !== undefined && where !== null) warn([opt.whereKey!], `'${opt.whereKey}' is ignored for the WKT file ${abs} (as MapProxy does)`);
    try {
      return isJson ? readGeoJsonPolygons(content, (m) => warn([key], m), abs) : readWktPolygons(content, (m) => warn([key], m), abs);
    } catch (e) {
      if (e instanceof GeometryError) fail([key], `${abs}: ${e.message}`);
      throw e;
    }
  };

  const geomCoverage = (polys: Polygon[], srs: Srs, source: string): Coverage => {
    const mp = buildMultiPolygon(polys, `no polygons in ${source}`);
    return new GeomCoverage(mp, srs, clip);
  };

  if ('ogr_datasource' in conf) {
    const srs = srsAt('ogr_srs', 'ogr_datasource');
    const polys = geometryFromFile('ogr_datasource', conf.ogr_datasource, { whereKey: 'ogr_where' });
    return geomCoverage(polys, srs, String(conf.ogr_datasource));
  }
  if ('polygons' in conf) {
    const srs = srsAt('polygons_srs', 'polygons');
    const polys = geometryFromFile('polygons', conf.polygons, { wktOnly: true });
    return geomCoverage(polys, srs, String(conf.polygons));
  }
  if ('bbox' in conf) {
    const srsKey = conf.bbox_srs !== undefined && conf.bbox_srs !== null && conf.bbox_srs !== '' ? 'bbox_srs' : 'srs';
    const bbox = parseCoverageBbox(conf.bbox, ['bbox'], fail);
    const srs = srsAt(srsKey, 'bbox');
    return new BboxCoverage(bbox, srs, clip);
  }
  if ('datasource' in conf) {
    const ds = conf.datasource;
    if (Array.isArray(ds) || (typeof ds === 'string' && ds.split(',').length === 4 && ds.split(',').every((p) => NUMBER.test(p)))) {
      const bbox = parseCoverageBbox(ds, ['datasource'], fail);
      return new BboxCoverage(bbox, srsAt('srs', 'datasource'), clip);
    }
    const srs = srsAt('srs', 'datasource');
    const polys = geometryFromFile('datasource', ds, { whereKey: 'where' });
    return geomCoverage(polys, srs, String(ds));
  }
  if ('expire_tiles' in conf) {
    const file = conf.expire_tiles;
    if (typeof file !== 'string' || !file.trim()) fail(['expire_tiles'], 'expire_tiles must be a file or directory name');
    const abs = path.resolve(opts.baseDir, file);
    try {
      const tiles = readExpireTiles(abs, (m) => warn(['expire_tiles'], m));
      if (!tiles.size) throw new EmptyCoverageError(`no tiles in ${abs}`);
      // MapProxy ignores clip for expire_tiles
      return new GeomCoverage(expireTilesGeometry(tiles.values()), getSrs('EPSG:3857'));
    } catch (e) {
      if (e instanceof GeometryError) fail(['expire_tiles'], e.message);
      throw e;
    }
  }
  fail([], `a coverage needs one of ${COVERAGE_KEYS.join(', ')}`);
}

/** A bbox as a list of four numbers or an "minx,miny,maxx,maxy" string; minimums below maximums. */
export function parseCoverageBbox(value: unknown, at: CoveragePath, fail: LoadCoverageOptions['fail']): Bbox {
  let nums: number[];
  if (typeof value === 'string') {
    const parts = value.split(',');
    if (parts.length !== 4 || !parts.every((p) => NUMBER.test(p))) fail(at, `expected a bbox as 'minx,miny,maxx,maxy', found '${value}'`);
    nums = parts.map((p) => Number(p.replace(/_/g, '')));
  } else if (Array.isArray(value)) {
    if (value.length !== 4 || !value.every((v) => typeof v === 'number')) fail(at, `expected a bbox as a list of four numbers [minx, miny, maxx, maxy], found ${JSON.stringify(value)}`);
    nums = value as number[];
  } else {
    fail(at, `expected a bbox as a list [minx, miny, maxx, maxy] or a string 'minx,miny,maxx,maxy', found ${JSON.stringify(value)}`);
  }
  if (!nums.every(Number.isFinite)) fail(at, `bbox values must be finite numbers, found ${JSON.stringify(value)}`);
  if (!(nums[0] < nums[2])) fail(at, 'minx must be below maxx');
  if (!(nums[1] < nums[3])) fail(at, 'miny must be below maxy');
  return [nums[0], nums[1], nums[2], nums[3]];
}

function errCode(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ?? err.message;
}
