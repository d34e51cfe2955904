/**
 * Bbox helpers that mirror mapproxy/srs.py, so transformed extents come out
 * the same as MapProxy's (same sample points, same min/max rules).
 */
import { SrsError } from '../errors.ts';
import type { Bbox, Point } from './types.ts';

/**
 * Points along the bbox outline, counter-clockwise from the lower left corner:
 * `n` is the total wanted (MapProxy rounds it to 4 + a multiple of 4).
 */
export function generateEnvelopePoints(bbox: Bbox, n: number): Point[] {
  let [minx, miny, maxx, maxy] = bbox;
  let k = n <= 4 ? 0 : Math.ceil((n - 4) / 4);
  // the steps use the signed width/height as MapProxy does, before sorting the corners
  const width = maxx - minx;
  const height = maxy - miny;
  [minx, maxx] = [Math.min(minx, maxx), Math.max(minx, maxx)];
  [miny, maxy] = [Math.min(miny, maxy), Math.max(miny, maxy)];
  k += 1;
  const xstep = width / k;
  const ystep = height / k;
  const result: Point[] = [];
  for (let i = 0; i <= k; i++) result.push([minx + i * xstep, miny]);
  for (let i = 1; i < k; i++) result.push([maxx, miny + i * ystep]);
  for (let i = k; i >= 0; i--) result.push([minx + i * xstep, maxy]);
  for (let i = k - 1; i > 0; i--) result.push([minx, miny + i * ystep]);
  return result;
}

/** Bbox of the points; points that failed to transform (non-finite) are left out. */
export function calculateBbox(points: Iterable<Point>): Bbox {
  let minx = Infinity;
  let miny = Infinity;
  let maxx = -Infinity;
  let maxy = -Infinity;
  for (const [x, y] of points) {
    // x and y are filtered separately, like MapProxy's calculate_bbox
    if (Number.isFinite(x)) {
      if (x < minx) minx = x;
      if (x > maxx) maxx = x;
    }
    if (Number.isFinite(y)) {
      if (y < miny) miny = y;
      if (y > maxy) maxy = y;
    }
  }
  if (minx === Infinity || miny === Infinity) throw new SrsError('transformation failed for all points of the bbox');
  return [minx, miny, maxx, maxy];
}

/** Smallest bbox that contains both. */
export function mergeBbox(a: Bbox, b: Bbox): Bbox {
  return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])];
}

/**
 * Whether two bboxes are equal within a tolerance; the default (a millionth of
 * the width) absorbs transformation round-off, as in MapProxy's bbox_equals.
 */
export function bboxEquals(a: Bbox, b: Bbox, xDelta?: number, yDelta?: number): boolean {
  const dx = xDelta ?? Math.abs(a[0] - a[2]) / 1e6;
  const dy = yDelta ?? dx;
  // MapProxy compares minx/miny with x_delta and maxx/maxy with y_delta; kept for equal results
  return Math.abs(a[0] - b[0]) < dx && Math.abs(a[1] - b[1]) < dx && Math.abs(a[2] - b[2]) < dy && Math.abs(a[3] - b[3]) < dy;
}
