/**
 * EPSG:4326 <-> EPSG:3857 without proj4js: the transformation a tile cache runs
 * most, written as PROJ 9's webmerc pipeline so results match pyproj (and so
 * MapProxy) to the last bit, including lat = +-90 (finite, huge y) and longitude wrapping.
 */
import type { Point } from './types.ts';

const A = 6378137;
const RA = 1 / A;
const DEG_TO_RAD = 0.017453292519943296;
const RAD_TO_DEG = 1 / DEG_TO_RAD;
const HALF_PI = Math.PI / 2;
const TWO_PI = Math.PI * 2;
// PROJ's tolerance before a latitude beyond the pole is an error
const EPS = 1e-12;

/** PROJ's adjlon: longitudes just past +-pi are kept, so the antimeridian does not flip sign. */
function adjlon(lon: number): number {
  if (Math.abs(lon) < Math.PI + 1e-12) return lon;
  lon += Math.PI;
  lon -= TWO_PI * Math.floor(lon / TWO_PI);
  return lon - Math.PI;
}

/** WGS84 lon/lat degrees to web mercator meters; [Infinity, Infinity] where PROJ fails. */
export function lonLatToMercator(p: Point): Point {
  const lam = p[0] * DEG_TO_RAD;
  const phi = p[1] * DEG_TO_RAD;
  if (!Number.isFinite(lam) || !Number.isFinite(phi) || Math.abs(phi) > HALF_PI + EPS) return [Infinity, Infinity];
  return [A * adjlon(lam), A * Math.asinh(Math.tan(phi))];
}

/** Web mercator meters to WGS84 lon/lat degrees; [Infinity, Infinity] for non-finite input. */
export function mercatorToLonLat(p: Point): Point {
  const x = p[0] * RA;
  const y = p[1] * RA;
  if (!Number.isFinite(x) || !Number.isFinite(y)) return [Infinity, Infinity];
  return [adjlon(x) * RAD_TO_DEG, Math.atan(Math.sinh(y)) * RAD_TO_DEG];
}
