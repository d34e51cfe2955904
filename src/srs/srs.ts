/**
 * Spatial reference systems: a proj4js wrapper with MapProxy's semantics
 * (code aliases, identity, axis order, bbox transformation).
 */
import proj4, { type Converter } from 'proj4';
import { SrsError } from '../errors.ts';
import { calculateBbox, generateEnvelopePoints } from './bbox.ts';
import { canonicalCode, parseSrsCode } from './codes.ts';
import epsgDefsText from './epsg-defs.json' with { type: 'text' };
import { ensureGrids, fallbackDef } from './grids.ts';
import type { Bbox, Point } from './types.ts';
import { lonLatToMercator, mercatorToLonLat } from './web-mercator.ts';

export { parseSrsCode } from './codes.ts';
export type { Bbox, Point } from './types.ts';

/** MapProxy's meters per degree (from the GoogleCRS84Quad scale set) for scale denominators. */
export const METERS_PER_DEGREE = 111319.4907932736;

/** Half the side of the web mercator world square, as MapProxy writes it. */
export const MERCATOR_MAX = 20037508.342789244;

/**
 * The EPSG table as its JSON text (`{"2001":["+proj=...",0],...}`, ~5,600
 * codes): a process reads the few entries its config names instead of
 * building the whole table at startup (10-25 ms of every process start).
 */
const DEFS_TEXT = epsgDefsText as unknown as string;

/** The proj definition and the north/east axis flag of an EPSG number, undefined when the table has none. */
function epsgEntry(num: string): [string, 0 | 1] | undefined {
  const key = `"${num}":[`;
  const at = DEFS_TEXT.indexOf(key);
  if (at < 0) return undefined;
  // no definition holds a bracket, so the entry ends at the first one
  const end = DEFS_TEXT.indexOf(']', at + key.length);
  return JSON.parse(DEFS_TEXT.slice(at + key.length - 1, end + 1)) as [string, 0 | 1];
}

type PointFn = (p: Point) => Point;

/** One SRS; get instances from getSrs() so that they are shared and cached. */
export class Srs {
  /** Normalised code as the user wrote it, e.g. 'EPSG:900913'; used in capabilities and paths. */
  readonly code: string;
  /** The code that decides identity: all web mercator aliases are 'EPSG:3857', CRS:84 is 'EPSG:4326'. */
  readonly canonical: string;
  readonly proj4def: string;
  readonly isLatLong: boolean;
  /** North/east axis order, for WMS 1.3.0 BBOX and WMTS TopLeftCorner (never true for CRS:84). */
  readonly axisOrderNE: boolean;
  /** Meters per map unit as MapProxy uses it for scale denominators: 1 for every projected SRS. */
  readonly metersPerUnit: number;
  readonly unitsPerMeter: number;
  /** Required datum grids this build does not ship; transforms to or from this SRS fail. */
  readonly missingGrids: readonly string[];
  /** The definition with a shipped grid swapped for its Helmert fallback, used where the grid has no data. */
  readonly fallbackDef: string | undefined;
  private readonly transformers = new Map<string, PointFn>();

  /** Use getSrs(); the constructor trusts its arguments. */
  constructor(code: string, canonical: string, proj4def: string, axisOrderNE: boolean) {
    this.code = code;
    this.canonical = canonical;
    this.proj4def = proj4def;
    this.isLatLong = /\+proj=(longlat|latlong|lonlat|latlon)\b/.test(proj4def);
    this.axisOrderNE = axisOrderNE;
    this.metersPerUnit = this.isLatLong ? METERS_PER_DEGREE : 1;
    this.unitsPerMeter = 1 / this.metersPerUnit;
    this.missingGrids = ensureGrids(proj4def);
    this.fallbackDef = fallbackDef(proj4def);
  }

  /**
   * Transforms east/north points into `to`. Points that cannot be transformed
   * come back as [Infinity, Infinity], as pyproj returns them to MapProxy.
   */
  transform(points: readonly Point[], to: Srs): Point[] {
    if (isSameSrs(this, to)) return points.map((p) => [p[0], p[1]]);
    const fn = this.transformerTo(to);
    return points.map(fn);
  }

  /** Transforms one east/north point; see transform(). */
  transformPoint(point: Point, to: Srs): Point {
    if (isSameSrs(this, to)) return [point[0], point[1]];
    return this.transformerTo(to)(point);
  }

  /**
   * The bbox in `to`, as MapProxy's SRS.transform_bbox_to: the outline sampled with
   * `withPoints` points, failed points ignored, and EPSG:4326 -> EPSG:3857/900913
   * boxes that reach the poles/antimeridian snapped to the mercator world square.
   */
  transformBbox(bbox: Bbox, to: Srs, withPoints = 16): Bbox {
    if (isSameSrs(this, to)) return [bbox[0], bbox[1], bbox[2], bbox[3]];
    const points = generateEnvelopePoints(bbox, withPoints);
    const result = calculateBbox(this.transform(points, to));
    // MapProxy keeps the old Proj.4 results here (PROJ >= 6 gives inf beyond 85.06 deg);
    // it checks the literal codes, so CRS:84 and EPSG:102100 are not adjusted
    if (this.code === 'EPSG:4326' && (to.code === 'EPSG:3857' || to.code === 'EPSG:900913')) {
      if (bbox[0] <= -180.0) result[0] = -MERCATOR_MAX;
      if (bbox[1] <= -85.06) result[1] = -MERCATOR_MAX;
      if (bbox[2] >= 180.0) result[2] = MERCATOR_MAX;
      if (bbox[3] >= 85.06) result[3] = MERCATOR_MAX;
    }
    return result;
  }

  /** Debug form, as MapProxy's repr. */
  toString(): string {
    return `SRS('${this.code}')`;
  }

  private transformerTo(to: Srs): PointFn {
    let fn = this.transformers.get(to.canonical);
    if (!fn) {
      fn = makeTransformer(this, to);
      this.transformers.set(to.canonical, fn);
    }
    return fn;
  }
}

function makeTransformer(from: Srs, to: Srs): PointFn {
  if (from.canonical === 'EPSG:4326' && to.canonical === 'EPSG:3857') return lonLatToMercator;
  if (from.canonical === 'EPSG:3857' && to.canonical === 'EPSG:4326') return mercatorToLonLat;
  const missing = [...from.missingGrids, ...to.missingGrids];
  if (missing.length > 0) {
    return () => {
      throw new SrsError(
        `cannot transform from ${from.code} to ${to.code}: datum grid ${missing.join(', ')} is not available`,
      );
    };
  }
  const primary = proj4(from.proj4def, to.proj4def);
  const hasGrid = from.fallbackDef !== undefined || to.fallbackDef !== undefined;
  if (!hasGrid) return (p) => run(primary, p);
  const secondary = proj4(from.fallbackDef ?? from.proj4def, to.fallbackDef ?? to.proj4def);
  return (p) => {
    // proj4js reports points outside a grid on console.log; that is expected here
    const log = console.log;
    console.log = noop;
    try {
      const r = run(primary, p);
      return Number.isFinite(r[0]) && Number.isFinite(r[1]) ? r : run(secondary, p);
    } finally {
      console.log = log;
    }
  };
}

function noop(): void {}

function run(conv: Converter, p: Point): Point {
  try {
    const r = conv.forward([p[0], p[1]]);
    if (r && Number.isFinite(r[0]) && Number.isFinite(r[1])) return [r[0], r[1]];
  } catch {
    // proj4js throws for non-finite input; pyproj answers inf
  }
  return [Infinity, Infinity];
}

const cache = new Map<string, Srs>();

/** The SRS for a code like 'EPSG:4326', 'epsg:31467', 4326, 'CRS:84' or 'OSGEO:41001'; throws SrsError if unknown. */
export function getSrs(code: string | number): Srs {
  const normalized = parseSrsCode(code);
  let srs = cache.get(normalized);
  if (!srs) {
    srs = createSrs(normalized);
    cache.set(normalized, srs);
  }
  return srs;
}

function createSrs(code: string): Srs {
  const canonical = canonicalCode(code);
  const m = /^EPSG:(\d+)$/.exec(canonical);
  const entry = m ? epsgEntry(m[1]) : undefined;
  if (!entry) throw new SrsError(`unknown SRS code: '${code}'`);
  // CRS:84 is EPSG:4326 with lon/lat axis order by definition
  const axisNE = code === 'CRS:84' ? false : entry[1] === 1;
  return new Srs(code, canonical, entry[0], axisNE);
}

/** Whether both are the same SRS for MapProxy (EPSG:900913 is EPSG:3857, CRS:84 is EPSG:4326). */
export function isSameSrs(a: Srs, b: Srs): boolean {
  return a === b || a.canonical === b.canonical;
}

/** Whether the code names web mercator under any of its aliases. */
export function isWebMercator(srs: Srs): boolean {
  return srs.canonical === 'EPSG:3857';
}

/**
 * The bbox MapProxy gives a grid that has none (grid.py default_bboxs), or
 * undefined where MapProxy requires one ("need a bbox for grid with ...").
 */
export function defaultBbox(srs: Srs): Bbox | undefined {
  if (srs.canonical === 'EPSG:4326') return [-180, -90, 180, 90];
  if (srs.canonical === 'EPSG:3857') return [-MERCATOR_MAX, -MERCATOR_MAX, MERCATOR_MAX, MERCATOR_MAX];
  return undefined;
}

/** preferred_src_proj: target canonical code -> SRS to try first for it. */
export type PreferredSrc = ReadonlyMap<string, readonly Srs[]>;

/**
 * MapProxy's PreferredSrcSRS.preferred_src: of the items (by their SRS) the one
 * in the target SRS, else the first preferred for the target, else the first
 * of the same kind (geographic/projected), else the first; undefined if none.
 */
export function preferredSource<T>(target: Srs, items: readonly T[], srsOf: (item: T) => Srs, preferred?: PreferredSrc): T | undefined {
  if (!items.length) return undefined;
  const same = items.find((i) => isSameSrs(srsOf(i), target));
  if (same) return same;
  for (const pref of preferred?.get(target.canonical) ?? []) {
    const hit = items.find((i) => isSameSrs(srsOf(i), pref));
    if (hit) return hit;
  }
  return items.find((i) => srsOf(i).isLatLong === target.isLatLong) ?? items[0];
}
