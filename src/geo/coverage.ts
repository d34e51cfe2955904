/**
 * Coverages: the area a seed, cleanup, source or cache is limited to, as
 * MapProxy's mapproxy/util/coverage.py models it. A coverage lives in one SRS;
 * tests against a bbox in another SRS transform that bbox first (16 points per
 * edge, as MapProxy's transform_bbox_to), and transformTo() moves the whole
 * coverage so that a pyramid walk tests in the grid's own SRS.
 */
import { getSrs, isSameSrs, type Srs } from '../srs/srs.ts';
import type { Bbox } from '../srs/types.ts';

/** An area in one SRS. */
export interface Coverage {
  readonly srs: Srs;
  /** Bounding box of the area, in srs. */
  readonly bbox: Bbox;
  /** clip: true: sources and caches clip their images to the area (not only skip what lies outside). */
  readonly clip: boolean;
  /** True when the area `bbox` (in `srs`) shares some interior with the coverage. */
  intersects(bbox: Bbox, srs: Srs): boolean;
  /** True when the area `bbox` (in `srs`) lies completely inside the coverage. */
  contains(bbox: Bbox, srs: Srs): boolean;
  /** The same area in another SRS (itself when the SRS is the same). */
  transformTo(srs: Srs): Coverage;
}

/** The bbox of a coverage in EPSG:4326, for messages and summaries. */
export function coverageLlBbox(cov: Coverage): Bbox {
  const ll = getSrs('EPSG:4326');
  return isSameSrs(cov.srs, ll) ? cov.bbox : cov.srs.transformBbox(cov.bbox, ll);
}

/** MapProxy's bbox_intersects: interiors overlap (touching edges do not count). */
export function bboxIntersects(a: Readonly<Bbox>, b: Readonly<Bbox>): boolean {
  return a[0] < b[2] && a[2] > b[0] && a[1] < b[3] && a[3] > b[1];
}

/** MapProxy's bbox_contains: `outer` contains `inner`, allowing rounding errors of 1e-13 of its size. */
export function bboxContains(outer: Readonly<Bbox>, inner: Readonly<Bbox>): boolean {
  const dx = Math.abs(outer[2] - outer[0]) / 10e12;
  const dy = Math.abs(outer[3] - outer[1]) / 10e12;
  return outer[0] <= inner[0] + dx && outer[2] >= inner[2] - dx && outer[1] <= inner[1] + dy && outer[3] >= inner[3] - dy;
}

/** A rectangle (MapProxy's BBOXCoverage). */
export class BboxCoverage implements Coverage {
  constructor(
    readonly bbox: Bbox,
    readonly srs: Srs,
    readonly clip = false,
  ) {}

  private local(bbox: Bbox, srs: Srs): Bbox {
    return isSameSrs(srs, this.srs) ? bbox : srs.transformBbox(bbox, this.srs);
  }

  intersects(bbox: Bbox, srs: Srs): boolean {
    return bboxIntersects(this.bbox, this.local(bbox, srs));
  }

  contains(bbox: Bbox, srs: Srs): boolean {
    return bboxContains(this.bbox, this.local(bbox, srs));
  }

  transformTo(srs: Srs): Coverage {
    if (isSameSrs(srs, this.srs)) return this;
    return new BboxCoverage(this.srs.transformBbox(this.bbox, srs), srs, this.clip);
  }
}

/** Several coverages of one seed task (MapProxy's MultiCoverage): any of them counts. */
export class MultiCoverage implements Coverage {
  readonly clip = false;
  readonly srs: Srs;
  readonly bbox: Bbox;

  constructor(readonly coverages: readonly Coverage[]) {
    if (!coverages.length) throw new Error('MultiCoverage needs at least one coverage');
    this.srs = coverages[0].srs;
    // MapProxy adds the MapExtents: each bbox in EPSG:4326 unless all share an SRS
    const same = coverages.every((c) => isSameSrs(c.srs, this.srs));
    const boxes = same ? coverages.map((c) => c.bbox) : coverages.map(coverageLlBbox);
    if (!same) this.srs = getSrs('EPSG:4326');
    this.bbox = [Math.min(...boxes.map((b) => b[0])), Math.min(...boxes.map((b) => b[1])), Math.max(...boxes.map((b) => b[2])), Math.max(...boxes.map((b) => b[3]))];
  }

  intersects(bbox: Bbox, srs: Srs): boolean {
    return this.coverages.some((c) => c.intersects(bbox, srs));
  }

  contains(bbox: Bbox, srs: Srs): boolean {
    return this.coverages.some((c) => c.contains(bbox, srs));
  }

  transformTo(srs: Srs): Coverage {
    return new MultiCoverage(this.coverages.map((c) => c.transformTo(srs)));
  }
}
