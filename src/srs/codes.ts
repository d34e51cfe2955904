/** SRS code normalisation and the aliases MapProxy treats as one SRS. */
import { SrsError } from '../errors.ts';

/** Codes MapProxy maps to EPSG:3857 (srs.py WEBMERCATOR_EPSG); OSGEO:41001 is TMS's name for it. */
export const WEB_MERCATOR_CODES: ReadonlySet<string> = new Set([
  'EPSG:900913',
  'EPSG:3857',
  'EPSG:102100',
  'EPSG:102113',
  'OSGEO:41001',
]);

/**
 * Normalises a user-written code the way MapProxy's _clean_srs_code does:
 * `4326`, `'4326'`, `'epsg:4326'` -> `'EPSG:4326'`; `'crs:84'` -> `'CRS:84'`.
 */
export function parseSrsCode(code: string | number): string {
  if (typeof code === 'number') {
    if (!Number.isInteger(code) || code <= 0) throw new SrsError(`invalid SRS code: ${code}`);
    return `EPSG:${code}`;
  }
  const c = code.trim();
  if (/^\d+$/.test(c)) return `EPSG:${Number(c)}`;
  const m = /^([A-Za-z][\w.-]*):(\w+)$/.exec(c);
  if (!m) throw new SrsError(`invalid SRS code: '${code}'`);
  const auth = m[1].toUpperCase();
  const id = m[2].toUpperCase();
  // 'EPSG:04326' and 'EPSG:4326' are the same code for pyproj
  if (auth === 'EPSG' && /^\d+$/.test(id)) return `EPSG:${Number(id)}`;
  return `${auth}:${id}`;
}

/**
 * The EPSG code that decides identity: MapProxy compares SRS by the CRS it
 * builds, and builds EPSG:3857 for all web mercator aliases and EPSG:4326 for CRS:84.
 */
export function canonicalCode(normalized: string): string {
  if (WEB_MERCATOR_CODES.has(normalized)) return 'EPSG:3857';
  if (normalized === 'CRS:84') return 'EPSG:4326';
  return normalized;
}
