/**
 * The polygon model of coverages: (multi)polygons with holes as nested
 * coordinate arrays (GeoJSON's layout), plus the boolean operations MapProxy
 * gets from Shapely (union, intersection, difference) through polygon-clipping.
 */
import polygonClipping from 'polygon-clipping';
import type { Srs } from '../srs/srs.ts';
import type { Bbox, Point } from '../srs/types.ts';
import { isValidLayout } from './validity.ts';

/** A closed ring: the first point is repeated at the end. */
export type Ring = Point[];
/** The exterior ring first, then the holes. */
export type Polygon = Ring[];
/** Polygons whose interiors do not overlap (after normalize()). */
export type MultiPolygon = Polygon[];

/** The coverage has no area (empty file, empty intersection ...); MapProxy skips such seed tasks. */
export class EmptyCoverageError extends Error {
  constructor(message = 'coverage contains no polygons') {
    super(message);
    this.name = 'EmptyCoverageError';
  }
}

/** Bad geometry input (WKT, GeoJSON, tile lists); the message says what and where. */
export class GeometryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GeometryError';
  }
}

/** The polygon of a bbox (MapProxy's bbox_polygon), counter-clockwise. */
export function bboxPolygon(b: Readonly<Bbox>): Polygon {
  return [
    [
      [b[0], b[1]],
      [b[2], b[1]],
      [b[2], b[3]],
      [b[0], b[3]],
      [b[0], b[1]],
    ],
  ];
}

/** The bounds of all exterior rings; undefined for an empty geometry. */
export function multiPolygonBounds(mp: MultiPolygon): Bbox | undefined {
  let minx = Infinity;
  let miny = Infinity;
  let maxx = -Infinity;
  let maxy = -Infinity;
  for (const poly of mp) {
    if (!poly.length) continue;
    for (const [x, y] of poly[0]) {
      if (x < minx) minx = x;
      if (x > maxx) maxx = x;
      if (y < miny) miny = y;
      if (y > maxy) maxy = y;
    }
  }
  return minx <= maxx && miny <= maxy ? [minx, miny, maxx, maxy] : undefined;
}

/** Number of vertices (closing points included), for messages and benchmarks. */
export function vertexCount(mp: MultiPolygon): number {
  let n = 0;
  for (const poly of mp) for (const ring of poly) n += ring.length;
  return n;
}

/** The signed area of a ring (> 0 counter-clockwise). */
export function ringArea(ring: Ring): number {
  let a = 0;
  for (let i = 0, n = ring.length - 1; i < n; i++) a += ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1];
  return a / 2;
}

/** The area of a multipolygon whose holes lie inside their exteriors. */
export function multiPolygonArea(mp: MultiPolygon): number {
  let a = 0;
  for (const poly of mp) poly.forEach((ring, i) => (a += i === 0 ? Math.abs(ringArea(ring)) : -Math.abs(ringArea(ring))));
  return a;
}

/** The ring closed and without consecutive duplicates; undefined when fewer than 3 distinct points remain. */
function cleanRing(ring: readonly Point[]): Ring | undefined {
  const out: Ring = [];
  for (const p of ring) {
    const last = out[out.length - 1];
    if (!last || last[0] !== p[0] || last[1] !== p[1]) out.push([p[0], p[1]]);
  }
  if (out.length > 1 && out[0][0] === out[out.length - 1][0] && out[0][1] === out[out.length - 1][1]) out.pop();
  if (out.length < 3) return undefined;
  out.push([out[0][0], out[0][1]]);
  return out;
}

/** Polygons with unusable rings dropped (a polygon without a usable exterior goes altogether). */
function cleanPolygons(polys: readonly Polygon[]): MultiPolygon {
  const out: MultiPolygon = [];
  for (const poly of polys) {
    if (!poly.length) continue;
    const ext = cleanRing(poly[0]);
    if (!ext) continue;
    const rings = [ext];
    for (let i = 1; i < poly.length; i++) {
      const hole = cleanRing(poly[i]);
      if (hole) rings.push(hole);
    }
    out.push(rings);
  }
  return out;
}

/**
 * One valid multipolygon from any polygons: overlaps merged, self-intersections
 * resolved, exteriors counter-clockwise and holes clockwise. This is what
 * MapProxy gets from unary_union and buffer(0); tests on coverages rely on it.
 */
export function normalize(polys: readonly Polygon[]): MultiPolygon {
  const clean = cleanPolygons(polys);
  if (!clean.length) return [];
  if (isValidLayout(clean)) return clean;
  try {
    return polygonClipping.union(clean);
  } catch (e) {
    // polygon-clipping gives up on some degenerate inputs; disjoint valid
    // polygons (the usual case) are right as they are, since tests count
    // boundary crossings of all rings
    if (clean.length === 1) return clean;
    throw new GeometryError(`cannot merge the polygons: ${(e as Error).message}`);
  }
}

/** The union of multipolygons. */
export function unionGeometries(geoms: readonly MultiPolygon[]): MultiPolygon {
  const clean = geoms.map(cleanPolygons).filter((g) => g.length);
  if (!clean.length) return [];
  return polygonClipping.union(clean[0], ...clean.slice(1));
}

/** The intersection of multipolygons (empty when any is empty). */
export function intersectGeometries(geoms: readonly MultiPolygon[]): MultiPolygon {
  const clean = geoms.map(cleanPolygons);
  if (!clean.length || clean.some((g) => !g.length)) return [];
  return polygonClipping.intersection(clean[0], ...clean.slice(1));
}

/** The first multipolygon minus all others. */
export function differenceGeometries(first: MultiPolygon, others: readonly MultiPolygon[]): MultiPolygon {
  const subject = cleanPolygons(first);
  if (!subject.length) return [];
  const clip = others.map(cleanPolygons).filter((g) => g.length);
  return polygonClipping.difference(subject, ...clip);
}

/**
 * Every vertex transformed, as MapProxy's transform_geometry (no densifying:
 * edges stay straight in the target SRS), then normalized as its buffer(0).
 * Vertices that cannot be transformed are dropped.
 */
export function transformGeometry(mp: MultiPolygon, from: Srs, to: Srs): MultiPolygon {
  const out: Polygon[] = [];
  for (const poly of mp) {
    const rings: Polygon = [];
    for (const ring of poly) {
      rings.push(from.transform(ring, to).filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1])));
    }
    out.push(rings);
  }
  return normalize(out);
}

/**
 * The polygons of a geometry list as one multipolygon, as MapProxy's
 * build_multipolygon; throws EmptyCoverageError when nothing with an area is left.
 */
export function buildMultiPolygon(polys: readonly Polygon[], what = 'no polygons'): MultiPolygon {
  const mp = polys.length ? normalize(polys) : [];
  if (!mp.length) throw new EmptyCoverageError(what);
  return mp;
}
