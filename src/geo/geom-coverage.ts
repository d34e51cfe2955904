/**
 * A polygon coverage (MapProxy's GeomCoverage): tests against the prepared
 * geometry, built on the first test and kept, since a seed walk asks once per
 * meta tile.
 */
import { isSameSrs, type Srs } from '../srs/srs.ts';
import type { Bbox } from '../srs/types.ts';
import { BboxCoverage, MultiCoverage, type Coverage } from './coverage.ts';
import { bboxPolygon, EmptyCoverageError, multiPolygonArea, multiPolygonBounds, normalize, transformGeometry, unionGeometries, type MultiPolygon, type Polygon } from './geometry.ts';
import { PreparedGeometry } from './prepared.ts';

/** A (multi)polygon area in one SRS. */
export class GeomCoverage implements Coverage {
  readonly bbox: Bbox;
  private prep: PreparedGeometry | undefined;
  // clip masks ask for the same few SRS on every request
  private readonly transformed = new Map<string, GeomCoverage>();

  /** `geometry` must be valid and non-empty (see normalize(), or use GeomCoverage.fromPolygons). */
  constructor(
    readonly geometry: MultiPolygon,
    readonly srs: Srs,
    readonly clip = false,
  ) {
    const b = multiPolygonBounds(geometry);
    if (!b) throw new EmptyCoverageError();
    this.bbox = b;
  }

  /** A coverage from any polygons (overlaps merged, invalid rings repaired); throws EmptyCoverageError without area. */
  static fromPolygons(polys: readonly Polygon[], srs: Srs, clip = false): GeomCoverage {
    const mp = normalize(polys);
    if (!mp.length) throw new EmptyCoverageError();
    return new GeomCoverage(mp, srs, clip);
  }

  /** The prepared geometry (grid index), built once. */
  get prepared(): PreparedGeometry {
    if (!this.prep) this.prep = new PreparedGeometry(this.geometry);
    return this.prep;
  }

  private local(bbox: Bbox, srs: Srs): Bbox {
    return isSameSrs(srs, this.srs) ? bbox : srs.transformBbox(bbox, this.srs);
  }

  intersects(bbox: Bbox, srs: Srs): boolean {
    return this.prepared.intersectsBbox(this.local(bbox, srs));
  }

  contains(bbox: Bbox, srs: Srs): boolean {
    return this.prepared.containsBbox(this.local(bbox, srs));
  }

  transformTo(srs: Srs): Coverage {
    if (isSameSrs(srs, this.srs)) return this;
    const known = this.transformed.get(srs.code);
    if (known) return known;
    const mp = transformGeometry(this.geometry, this.srs, srs);
    if (!mp.length) throw new EmptyCoverageError(`coverage has no area in ${srs.code}`);
    const cov = new GeomCoverage(mp, srs, this.clip);
    this.transformed.set(srs.code, cov);
    return cov;
  }

  toString(): string {
    return `GeomCoverage(${this.srs.code}, ${this.geometry.length} polygon(s), bbox ${this.bbox.join(',')})`;
  }
}

/**
 * The area of any coverage as a multipolygon in its SRS, as MapProxy's
 * combinations take it: a bbox coverage is its rectangle, a multi coverage
 * the union of its parts (in the SRS of the first).
 */
export function coverageGeometry(cov: Coverage): MultiPolygon {
  if (cov instanceof GeomCoverage) return cov.geometry;
  if (cov instanceof MultiCoverage) {
    const srs = cov.coverages[0].srs;
    return unionGeometries(cov.coverages.map((c) => coverageGeometry(c.transformTo(srs))));
  }
  if (cov instanceof BboxCoverage) return [bboxPolygon(cov.bbox)];
  throw new Error(`cannot combine a ${cov.constructor.name} with other coverages`);
}

/**
 * The area of a coverage in its SRS units, as MapProxy's grids report takes
 * it: the geometry's area, or the bbox area of a bbox coverage.
 */
export function coverageArea(cov: Coverage): number {
  if (cov instanceof BboxCoverage) return (cov.bbox[2] - cov.bbox[0]) * (cov.bbox[3] - cov.bbox[1]);
  return multiPolygonArea(coverageGeometry(cov));
}
