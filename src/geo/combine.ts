/**
 * Boolean combinations of coverages (MapProxy's union_coverage,
 * intersection_coverage, diff_coverage). Every part is first moved into the
 * SRS of the first one (a bbox coverage as its transformed bbox), and so is the
 * result.
 */
import type { Coverage } from './coverage.ts';
import { differenceGeometries, EmptyCoverageError, intersectGeometries, unionGeometries, type MultiPolygon } from './geometry.ts';
import { coverageGeometry, GeomCoverage } from './geom-coverage.ts';

function partsInFirstSrs(coverages: readonly Coverage[]): MultiPolygon[] {
  if (!coverages.length) throw new Error('a coverage combination needs at least one coverage');
  const srs = coverages[0].srs;
  return coverages.map((c) => coverageGeometry(c.transformTo(srs)));
}

/** The area covered by any of the coverages. */
export function unionCoverage(coverages: readonly Coverage[], clip = false): GeomCoverage {
  const mp = unionGeometries(partsInFirstSrs(coverages));
  if (!mp.length) throw new EmptyCoverageError('union did not return any geometry');
  return new GeomCoverage(mp, coverages[0].srs, clip);
}

/** The area covered by all of the coverages; EmptyCoverageError when they share no area. */
export function intersectionCoverage(coverages: readonly Coverage[], clip = false): GeomCoverage {
  const mp = intersectGeometries(partsInFirstSrs(coverages));
  if (!mp.length) throw new EmptyCoverageError('intersection did not return any geometry');
  return new GeomCoverage(mp, coverages[0].srs, clip);
}

/** The first coverage minus all others; EmptyCoverageError when nothing is left. */
export function differenceCoverage(coverages: readonly Coverage[], clip = false): GeomCoverage {
  const [first, ...others] = partsInFirstSrs(coverages);
  const mp = differenceGeometries(first, others);
  if (!mp.length) throw new EmptyCoverageError('difference did not return any geometry');
  return new GeomCoverage(mp, coverages[0].srs, clip);
}
