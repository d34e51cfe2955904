/**
 * GeoJSON reading for coverages, as MapProxy's load_geojson: a
 * FeatureCollection's feature geometries, a Feature's geometry, or a bare
 * Polygon/MultiPolygon. Other top-level types and non-polygon geometries
 * (points, lines, GeometryCollections) are skipped with a warning. Rings are
 * closed when they are not (Shapely does so) and need at least 3 positions.
 */
import { GeometryError, type Polygon, type Ring } from './geometry.ts';

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function ring(v: unknown, where: string): Ring {
  if (!Array.isArray(v)) throw new GeometryError(`${where}: a ring must be an array of positions`);
  const pts: Ring = v.map((p, i) => {
    if (!Array.isArray(p) || p.length < 2 || typeof p[0] !== 'number' || typeof p[1] !== 'number' || !Number.isFinite(p[0]) || !Number.isFinite(p[1])) {
      throw new GeometryError(`${where}[${i}]: a position must be an array of at least two numbers`);
    }
    return [p[0], p[1]];
  });
  if (pts.length < 3) throw new GeometryError(`${where}: a ring needs at least 3 positions, found ${pts.length}`);
  const first = pts[0];
  const last = pts[pts.length - 1];
  if (first[0] !== last[0] || first[1] !== last[1]) pts.push([first[0], first[1]]);
  return pts;
}

function polygon(v: unknown, where: string): Polygon | undefined {
  if (!Array.isArray(v)) throw new GeometryError(`${where}: polygon coordinates must be an array of rings`);
  if (!v.length) return undefined;
  return v.map((r, i) => ring(r, `${where}[${i}]`));
}

/** The polygons of one GeoJSON geometry object; non-polygon types give none (reported through warn). */
function geometryPolygons(g: unknown, where: string, warn: (m: string) => void, source: string): Polygon[] {
  if (!isObject(g)) throw new GeometryError(`${where}: a geometry must be an object`);
  const t = g.type;
  if (t === 'Polygon') {
    const p = polygon(g.coordinates, `${where}.coordinates`);
    return p ? [p] : [];
  }
  if (t === 'MultiPolygon') {
    if (!Array.isArray(g.coordinates)) throw new GeometryError(`${where}.coordinates: MultiPolygon coordinates must be an array of polygons`);
    const out: Polygon[] = [];
    g.coordinates.forEach((pc, i) => {
      const p = polygon(pc, `${where}.coordinates[${i}]`);
      if (p) out.push(p);
    });
    return out;
  }
  if (t === 'Point' || t === 'MultiPoint' || t === 'LineString' || t === 'MultiLineString' || t === 'GeometryCollection') {
    warn(`ignoring non-polygon geometry (${t}) from ${source}`);
    return [];
  }
  throw new GeometryError(`${where}: unknown geometry type ${JSON.stringify(t)}`);
}

/** The polygons of a GeoJSON document (see the module comment); throws GeometryError on bad input. */
export function readGeoJsonPolygons(text: string, warn: (message: string) => void = () => {}, source = '<string>'): Polygon[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new GeometryError(`invalid JSON: ${(e as Error).message}`);
  }
  if (!isObject(doc) || typeof doc.type !== 'string' || !doc.type) throw new GeometryError('not a GeoJSON object (no "type")');
  const t = doc.type;
  const geometries: [unknown, string][] = [];
  if (t === 'FeatureCollection') {
    if (!Array.isArray(doc.features)) throw new GeometryError('FeatureCollection without a "features" array');
    doc.features.forEach((f, i) => {
      if (!isObject(f)) throw new GeometryError(`features[${i}]: a feature must be an object`);
      if (f.geometry) geometries.push([f.geometry, `features[${i}].geometry`]);
    });
  } else if (t === 'Feature') {
    if (doc.geometry) geometries.push([doc.geometry, 'geometry']);
  } else if (t === 'Polygon' || t === 'MultiPolygon') {
    geometries.push([doc, '(root)']);
  } else {
    warn(`skipping feature of type ${t} from ${source}: not a Polygon/MultiPolygon`);
  }
  const polygons: Polygon[] = [];
  for (const [g, where] of geometries) polygons.push(...geometryPolygons(g, where, warn, source));
  return polygons;
}
