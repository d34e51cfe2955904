/**
 * Regular tile grids: resolutions per level, tile <-> bbox math and level
 * selection, matching MapProxy's grid.py number for number, because caches
 * on disk are shared with MapProxy and must agree on every tile border.
 */
import type { Bbox } from '../srs/types.ts';
import { defaultBbox, getSrs, isSameSrs, METERS_PER_DEGREE, type Srs } from '../srs/srs.ts';
import { intFloorDiv, pyFloorDiv, pyRound } from './py-math.ts';

/** [x, y, z]: column, row (counted from the grid origin), level. */
export type TileCoord = [number, number, number];

/** Corner of tile (0, 0): south-west (TMS style) or north-west (OSM/WMTS style). */
export type Origin = 'sw' | 'nw';

/** A grid cannot answer a request (MapProxy's GridError). */
export class GridError extends Error {
  override name = 'GridError';
}

/** The request lies outside the grid or is too coarse for it (MapProxy's NoTiles). */
export class NoTilesError extends GridError {
  override name = 'NoTilesError';
}

/** Tiles of one level that cover a bbox, rows top-down, null for tiles outside the grid. */
export interface AffectedTiles {
  /** bbox of all listed tiles (may extend beyond the grid bbox) */
  bbox: Bbox;
  /** [columns, rows] of the listed range */
  gridSize: [number, number];
  /** re-iterable, lazy: a seed of a large bbox can cover millions of tiles */
  tiles: Iterable<TileCoord | null>;
}

/** Fully resolved grid parameters; see tileGrid() for MapProxy-style derivation. */
export interface TileGridOptions {
  name?: string;
  srs: Srs;
  bbox: Bbox;
  tileSize?: [number, number];
  resolutions: number[];
  origin?: Origin;
  thresholdRes?: number[] | null;
  stretchFactor?: number;
  maxShrinkFactor?: number;
}

/** Size of a standardized rendering pixel (OGC), metres. */
export const OGC_PIXEL_SIZE = 0.00028;

/** MapProxy's metres per degree (GoogleCRS84Quad), re-exported so grid users need not import srs. */
export { METERS_PER_DEGREE };

/** MapProxy's default bbox of GLOBAL_MERCATOR / GLOBAL_WEBMERCATOR (2 * pi * 6378137 / 2). */
export const MERCATOR_BBOX: Readonly<Bbox> = [
  -20037508.342789244, -20037508.342789244, 20037508.342789244, 20037508.342789244,
];

/** MapProxy's default bbox of GLOBAL_GEODETIC. */
export const GEODETIC_BBOX: Readonly<Bbox> = [-180, -90, 180, 90];

/** A tile grid with MapProxy's semantics; immutable once built. */
export class TileGrid {
  readonly name: string | undefined;
  readonly srs: Srs;
  readonly bbox: Readonly<Bbox>;
  readonly origin: Origin;
  readonly tileSize: readonly [number, number];
  /** units per pixel per level, descending */
  readonly resolutions: readonly number[];
  readonly levels: number;
  /** [columns, rows] per level */
  readonly gridSizes: readonly (readonly [number, number])[];
  readonly stretchFactor: number;
  readonly maxShrinkFactor: number;
  /** ascending, or null */
  readonly thresholdRes: readonly number[] | null;

  constructor(opts: TileGridOptions) {
    if (opts.resolutions.length === 0) throw new GridError('a tile grid needs at least one resolution');
    this.name = opts.name;
    this.srs = opts.srs;
    this.bbox = Object.freeze([...opts.bbox]) as Readonly<Bbox>;
    this.origin = opts.origin ?? 'sw';
    this.tileSize = Object.freeze([...(opts.tileSize ?? [256, 256])]) as readonly [number, number];
    this.resolutions = Object.freeze([...opts.resolutions]);
    this.levels = this.resolutions.length;
    this.stretchFactor = opts.stretchFactor ?? 1.15;
    this.maxShrinkFactor = opts.maxShrinkFactor ?? 4.0;
    this.thresholdRes =
      opts.thresholdRes && opts.thresholdRes.length
        ? Object.freeze([...opts.thresholdRes].sort((a, b) => a - b))
        : null;
    this.gridSizes = Object.freeze(this.resolutions.map((res) => this.levelGridSize(res)));
  }

  private levelGridSize(res: number): readonly [number, number] {
    const width = this.bbox[2] - this.bbox[0];
    const height = this.bbox[3] - this.bbox[1];
    // MapProxy floors to whole pixels first (float //), then rounds tiles up
    const x = Math.max(Math.ceil(pyFloorDiv(width, res) / this.tileSize[0]), 1);
    const y = Math.max(Math.ceil(pyFloorDiv(height, res) / this.tileSize[1]), 1);
    return Object.freeze([x, y] as [number, number]);
  }

  /** True for origin nw: rows count downwards from the top of the bbox. */
  get flippedYAxis(): boolean {
    return this.origin === 'nw';
  }

  /** Resolution (units/pixel) of level z. */
  resolution(z: number): number {
    const res = this.resolutions[z];
    if (res === undefined) throw new GridError(`level ${z} is not in the grid (0-${this.levels - 1})`);
    return res;
  }

  /** OGC scale denominator of level z as WMTS advertises it (0.28 mm pixels, degrees via METERS_PER_DEGREE). */
  scaleDenominator(z: number): number {
    // same float expression as MapProxy: 0.28 / 1000 is not the literal 0.00028
    return (this.resolution(z) / (0.28 / 1000)) * (this.srs.isLatLong ? METERS_PER_DEGREE : 1);
  }

  /** Scale denominators of all levels. */
  scaleDenominators(): number[] {
    return this.resolutions.map((_, z) => this.scaleDenominator(z));
  }

  /**
   * The level to render a request of resolution `res` from: the coarsest level
   * that is at most stretchFactor finer than needed, with threshold_res
   * forcing the switch at exact resolutions (MapProxy's closest_level).
   */
  closestLevel(res: number): number {
    const resolutions = this.resolutions;
    let prevRes = resolutions[0];
    let threshold: number | null = null;
    let thresholds: number[] = [];
    if (this.thresholdRes) {
      thresholds = [...this.thresholdRes];
      threshold = thresholds.pop() ?? null;
      // thresholds above the first level never apply
      while (threshold !== null && threshold > prevRes && thresholds.length) threshold = thresholds.pop() ?? null;
    }
    let thresholdResult: number | null = null;
    for (let level = 0; level < resolutions.length; level++) {
      const lRes = resolutions[level];
      if (threshold && prevRes > threshold && threshold >= lRes) {
        if (res > threshold) return level - 1;
        if (res >= lRes) return level;
        threshold = thresholds.length ? (thresholds.pop() ?? null) : null;
      }
      // a level within the stretch factor wins unless the next one is still coarser than res
      if (thresholdResult !== null && lRes < res) return thresholdResult;
      if (lRes <= res * this.stretchFactor) thresholdResult = level;
      prevRes = lRes;
    }
    return resolutions.length - 1;
  }

  /** The tile of level z that contains point [x, y] (may lie outside the grid). */
  tileCoord(point: readonly [number, number], z: number): TileCoord {
    const res = this.resolution(z);
    const dx = point[0] - this.bbox[0];
    const dy = this.flippedYAxis ? this.bbox[3] - point[1] : point[1] - this.bbox[1];
    return [Math.floor(dx / (res * this.tileSize[0])), Math.floor(dy / (res * this.tileSize[1])), z];
  }

  /**
   * bbox of a tile. Offsets are rounded to 12 decimals as MapProxy does, so
   * adjacent tiles share borders exactly; `limit` clips to the grid bbox.
   */
  tileBbox(coord: readonly [number, number, number], limit = false): Bbox {
    const [x, y, z] = coord;
    const res = this.resolution(z);
    const tw = pyRound(res * this.tileSize[0], 12);
    const th = pyRound(res * this.tileSize[1], 12);
    const x0 = this.bbox[0] + pyRound(x * res * this.tileSize[0], 12);
    const x1 = x0 + tw;
    let y0: number;
    let y1: number;
    if (this.flippedYAxis) {
      y1 = this.bbox[3] - pyRound(y * res * this.tileSize[1], 12);
      y0 = y1 - th;
    } else {
      y0 = this.bbox[1] + pyRound(y * res * this.tileSize[1], 12);
      y1 = y0 + th;
    }
    if (limit) {
      return [
        Math.max(x0, this.bbox[0]),
        Math.max(y0, this.bbox[1]),
        Math.min(x1, this.bbox[2]),
        Math.min(y1, this.bbox[3]),
      ];
    }
    return [x0, y0, x1, y1];
  }

  /** bbox spanning the first and the last of `tiles` (two opposite corners suffice). */
  tilesBbox(tiles: readonly (readonly [number, number, number])[]): Bbox {
    const a = this.tileBbox(tiles[0]);
    const b = this.tileBbox(tiles[tiles.length - 1]);
    return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])];
  }

  /** Converts a row index between sw and nw counting (same tile, other origin). */
  flipTileCoord(coord: readonly [number, number, number]): TileCoord {
    const [x, y, z] = coord;
    return [x, this.gridSizes[z][1] - 1 - y, z];
  }

  /** The coord if it is a tile of this grid, else null (MapProxy's limit_tile). */
  limitTile(coord: readonly [number, number, number]): TileCoord | null {
    return this.isValidTile(coord) ? [coord[0], coord[1], coord[2]] : null;
  }

  /** True if the level exists and x/y lie inside that level's grid size. */
  isValidTile(coord: readonly [number, number, number]): boolean {
    const [x, y, z] = coord;
    if (!Number.isInteger(z) || z < 0 || z >= this.levels) return false;
    const size = this.gridSizes[z];
    return Number.isInteger(x) && Number.isInteger(y) && x >= 0 && y >= 0 && x < size[0] && y < size[1];
  }

  /**
   * Level and bbox (in grid SRS) to serve a map request of `size` pixels from.
   * Throws NoTilesError when the bbox misses the grid or needs shrinking
   * more than maxShrinkFactor.
   */
  affectedBboxAndLevel(bbox: Bbox, size: readonly [number, number], reqSrs?: Srs): { bbox: Bbox; level: number } {
    const srcBbox = reqSrs && !isSameSrs(reqSrs, this.srs) ? reqSrs.transformBbox(bbox, this.srs) : bbox;
    if (!bboxIntersects(this.bbox, srcBbox)) throw new NoTilesError('bbox does not intersect the grid');
    const res = Math.min(Math.abs(srcBbox[0] - srcBbox[2]) / size[0], Math.abs(srcBbox[1] - srcBbox[3]) / size[1]);
    const level = this.closestLevel(res);
    if (res > this.resolutions[0] * this.maxShrinkFactor) throw new NoTilesError('resolution too low for the grid');
    return { bbox: srcBbox, level };
  }

  /** Tiles needed to render `bbox` into an image of `size` pixels (MapProxy's get_affected_tiles). */
  affectedTiles(bbox: Bbox, size: readonly [number, number], reqSrs?: Srs): AffectedTiles & { level: number } {
    const { bbox: srcBbox, level } = this.affectedBboxAndLevel(bbox, size, reqSrs);
    return { ...this.affectedLevelTiles(srcBbox, level), level };
  }

  /** Tiles of level z that cover `bbox`; tiles merely touched at an edge are left out. */
  affectedLevelTiles(bbox: Bbox, z: number): AffectedTiles {
    // a tenth of a pixel inwards, so a bbox on a tile border does not pull in the neighbour
    const delta = this.resolution(z) / 10.0;
    const [x0, y0] = this.tileCoord([bbox[0] + delta, bbox[1] + delta], z);
    const [x1, y1] = this.tileCoord([bbox[2] - delta, bbox[3] - delta], z);
    return this.tileRange(x0, y0, x1, y1, z, 1, 1);
  }

  /** @internal shared with MetaGrid: tile range with a step, rows ordered top-down. */
  tileRange(x0: number, y0: number, x1: number, y1: number, z: number, stepX: number, stepY: number, extend?: [number, number]): AffectedTiles {
    const xs = range(x0, x1 + 1, stepX);
    const ys = this.flippedYAxis ? range(y1, y0 + 1, stepY) : range(y1, y0 - 1, -stepY);
    if (!xs.length || !ys.length) throw new GridError('Invalid BBOX');
    const ll: TileCoord = [xs[0], ys[ys.length - 1], z];
    const ur: TileCoord = [xs[xs.length - 1], ys[0], z];
    if (extend) {
      ur[0] += extend[0] - 1;
      ur[1] += extend[1] - 1;
    }
    return {
      bbox: this.tilesBbox([ll, ur]),
      gridSize: [xs.length, ys.length],
      tiles: tileList(xs, ys, z, this.gridSizes[z]),
    };
  }

  /** True if tiles of this grid can also be addressed with the other origin (all levels fill the bbox vertically). */
  supportsAccessWithOrigin(origin: Origin): boolean {
    if (origin === this.origin) return true;
    const delta = Math.max(Math.abs(this.bbox[1]), Math.abs(this.bbox[3])) / 1e12;
    for (let level = 0; level < this.levels; level++) {
      const [w, h] = this.gridSizes[level];
      const b = this.tilesBbox([[0, 0, level], [w - 1, h - 1, level]]);
      if (Math.abs(this.bbox[1] - b[1]) > delta || Math.abs(this.bbox[3] - b[3]) > delta) return false;
    }
    return true;
  }

  /** Tile (0, 0) of `level` as counted from `origin`, in this grid's own row numbering. */
  originTile(level: number, origin: Origin): TileCoord {
    if (!this.supportsAccessWithOrigin(origin)) throw new GridError('tile origins are incompatible');
    return origin === this.origin ? [0, 0, level] : this.flipTileCoord([0, 0, level]);
  }

  /** True if every tile of this grid is also a tile of `other` (other may have more levels or a larger bbox). */
  isSubsetOf(other: TileGrid): boolean {
    if (!isSameSrs(this.srs, other.srs)) return false;
    if (this.tileSize[0] !== other.tileSize[0] || this.tileSize[1] !== other.tileSize[1]) return false;
    for (let level = 0; level < this.levels; level++) {
      const [cols, rows] = this.gridSizes[level];
      const levelSize: [number, number] = [cols * this.tileSize[0], rows * this.tileSize[1]];
      const levelBbox = this.tilesBbox([[0, 0, level], [cols - 1, rows - 1, level]]);
      let otherLevel: number;
      let otherBbox: Bbox;
      try {
        otherLevel = other.affectedBboxAndLevel(levelBbox, levelSize).level;
        otherBbox = other.affectedLevelTiles(levelBbox, otherLevel).bbox;
      } catch (e) {
        if (e instanceof GridError) return false;
        throw e;
      }
      if (other.resolution(otherLevel) !== this.resolutions[level]) return false;
      if (!bboxEquals(otherBbox, levelBbox)) return false;
    }
    return true;
  }
}

function range(start: number, stop: number, step: number): number[] {
  const out: number[] = [];
  if (step > 0) for (let i = start; i < stop; i += step) out.push(i);
  else for (let i = start; i > stop; i += step) out.push(i);
  return out;
}

/** @internal tiles of xs × ys, null where outside the level's grid size. */
export function tileList(xs: readonly number[], ys: readonly number[], z: number, gridSize: readonly [number, number]): Iterable<TileCoord | null> {
  return {
    *[Symbol.iterator]() {
      for (const y of ys) {
        for (const x of xs) {
          yield x < 0 || y < 0 || x >= gridSize[0] || y >= gridSize[1] ? null : [x, y, z];
        }
      }
    },
  };
}

/** True if the bboxes overlap with a non-empty area (touching edges do not count). */
export function bboxIntersects(a: Readonly<Bbox>, b: Readonly<Bbox>): boolean {
  return a[0] < b[2] && a[2] > b[0] && a[1] < b[3] && a[3] > b[1];
}

/** MapProxy's bbox_equals: equal within a millionth of the first bbox's width. */
export function bboxEquals(a: Readonly<Bbox>, b: Readonly<Bbox>, xDelta?: number, yDelta?: number): boolean {
  const dx = xDelta ?? Math.abs(a[0] - a[2]) / 1000000.0;
  const dy = yDelta ?? dx;
  // MapProxy compares miny with the x delta and maxx with the y delta; kept for identical results
  return Math.abs(a[0] - b[0]) < dx && Math.abs(a[1] - b[1]) < dx && Math.abs(a[2] - b[2]) < dy && Math.abs(a[3] - b[3]) < dy;
}

/** Normalises MapProxy's origin spellings (ll/sw, ul/nw, any case); undefined/null means sw. */
export function originFromString(origin: string | null | undefined): Origin {
  if (origin === undefined || origin === null) return 'sw';
  const o = origin.toLowerCase();
  if (o === 'll' || o === 'sw') return 'sw';
  if (o === 'ul' || o === 'nw') return 'nw';
  throw new GridError(`unknown origin value '${origin}'`);
}

/** Inputs of MapProxy's resolutions(): the first level from min_res or the bbox, then by factor or count. */
export interface ResolutionOptions {
  minRes?: number | null;
  maxRes?: number | null;
  resFactor?: number | 'sqrt2';
  numLevels?: number | null;
  bbox: Readonly<Bbox>;
  tileSize: readonly [number, number];
}

/** Resolutions as MapProxy derives them when no explicit `res` list is given. */
export function computeResolutions(opts: ResolutionOptions): number[] {
  const factor = opts.resFactor === 'sqrt2' ? Math.sqrt(2) : (opts.resFactor ?? 2.0);
  const minRes = opts.minRes || initialResolution(opts.bbox, opts.tileSize);
  const maxRes = opts.maxRes;
  let numLevels = opts.numLevels;
  if (maxRes) {
    if (numLevels) {
      if (numLevels < 2) throw new GridError('num_levels must be at least 2 together with max_res');
      // log-spaced between both ends, both inclusive
      const step = (Math.log10(minRes) - Math.log10(maxRes)) / (numLevels - 1);
      return Array.from({ length: numLevels }, (_, i) => 10 ** (Math.log10(minRes) - step * i));
    }
    if (!(factor > 1)) throw new GridError('res_factor must be greater than 1');
    const res = [minRes];
    // the last level stays strictly coarser than max_res, as in MapProxy
    for (;;) {
      const next = res[res.length - 1] / factor;
      if (maxRes >= next) break;
      res.push(next);
    }
    return res;
  }
  if (!numLevels) numLevels = factor !== Math.sqrt(2) ? 20 : 40;
  const res = [minRes];
  while (res.length < numLevels) res.push(res[res.length - 1] / factor);
  return res;
}

/** Resolution at which the whole bbox fits into one tile. */
function initialResolution(bbox: Readonly<Bbox>, tileSize: readonly [number, number]): number {
  return Math.max((bbox[2] - bbox[0]) / tileSize[0], (bbox[3] - bbox[1]) / tileSize[1]);
}

/**
 * MapProxy's aligned_resolutions (undocumented align_resolutions_with):
 * take the other grid's resolutions within min/max res, then thin them out or
 * fill in sqrt2 steps to match the requested factor.
 */
export function alignedResolutions(opts: ResolutionOptions & { alignWith: TileGrid }): number[] {
  const minRes = opts.minRes || initialResolution(opts.bbox, opts.tileSize);
  let res = opts.alignWith.resolutions.filter((r) => r <= minRes);
  if (opts.maxRes) res = res.filter((r) => r >= opts.maxRes!);
  if (opts.numLevels) res = res.slice(0, opts.numLevels);
  if (res.length < 2) throw new GridError('aligned grid needs at least two resolutions');
  const factor = res[0] / res[1];
  const factorFactor = opts.resFactor ?? 2.0;
  const r8 = (v: number) => pyRound(v, 8);
  if (factorFactor === 'sqrt2' && r8(factor) !== r8(Math.sqrt(2))) {
    if (r8(factor) === 2.0) res = res.flatMap((r) => [r, r / Math.sqrt(2)]);
  } else if (factorFactor === 2.0 && r8(factor) !== 2.0) {
    if (r8(factor) === r8(Math.sqrt(2))) res = res.filter((_, i) => i % 2 === 0);
  }
  return res;
}

/** MapProxy's tile_grid() arguments, already type-checked. */
export interface TileGridConfig {
  name?: string;
  /** default EPSG:900913 */
  srs?: string;
  bbox?: Bbox | null;
  bboxSrs?: string | null;
  tileSize?: [number, number];
  res?: number[] | null;
  resFactor?: number | 'sqrt2';
  thresholdRes?: number[] | null;
  numLevels?: number | null;
  minRes?: number | null;
  maxRes?: number | null;
  stretchFactor?: number;
  maxShrinkFactor?: number;
  alignWith?: TileGrid | null;
  origin?: string | null;
}

/** Builds a grid the way MapProxy's tile_grid() does (default bbox, bbox_srs, resolution derivation). */
export function tileGrid(cfg: TileGridConfig): TileGrid {
  const srs = getSrs(cfg.srs ?? 'EPSG:900913');
  const tileSize = cfg.tileSize ?? [256, 256];
  let bbox: Bbox;
  if (cfg.bbox && cfg.bbox.length) {
    bbox = [...cfg.bbox] as Bbox;
  } else {
    const def = defaultGridBbox(srs);
    if (!def) throw new GridError(`need a bbox for grid with ${srs.code}`);
    bbox = def;
  }
  // MapProxy applies bbox_srs even to the default bbox
  if (cfg.bboxSrs) {
    const bboxSrs = getSrs(cfg.bboxSrs);
    if (!isSameSrs(bboxSrs, srs)) bbox = bboxSrs.transformBbox(bbox, srs);
  }
  let resolutions: number[];
  if (cfg.res && cfg.res.length) {
    if (cfg.minRes != null || cfg.maxRes != null || cfg.alignWith)
      throw new GridError('res cannot be combined with min_res, max_res or align_resolutions_with');
    resolutions = [...cfg.res].sort((a, b) => b - a);
  } else {
    const ro: ResolutionOptions = {
      minRes: cfg.minRes,
      maxRes: cfg.maxRes,
      resFactor: cfg.resFactor,
      numLevels: cfg.numLevels,
      bbox,
      tileSize,
    };
    resolutions = cfg.alignWith ? alignedResolutions({ ...ro, alignWith: cfg.alignWith }) : computeResolutions(ro);
  }
  return new TileGrid({
    name: cfg.name,
    srs,
    bbox,
    tileSize,
    resolutions,
    origin: originFromString(cfg.origin),
    thresholdRes: cfg.thresholdRes,
    stretchFactor: cfg.stretchFactor,
    maxShrinkFactor: cfg.maxShrinkFactor,
  });
}

/**
 * MapProxy's default grid bbox: only EPSG:4326 and the web mercator aliases
 * have one; any other SRS needs an explicit bbox.
 */
export function defaultGridBbox(srs: Srs): Bbox | null {
  return defaultBbox(srs) ?? null;
}

/** TMS profile of a grid, as MapProxy's TileServiceGrid decides it: by SRS and exact default bbox. */
export type TmsProfile = 'global-mercator' | 'global-geodetic' | 'local';

/** Which TMS profile MapProxy's /tms endpoint uses for this grid (global ones skip the first level). */
export function tmsProfile(grid: TileGrid): TmsProfile {
  // exact float comparison on purpose: MapProxy compares the bbox tuples with ==
  if (isSameSrs(grid.srs, getSrs('EPSG:900913')) && sameBbox(grid.bbox, MERCATOR_BBOX)) return 'global-mercator';
  if (isSameSrs(grid.srs, getSrs('EPSG:4326')) && sameBbox(grid.bbox, GEODETIC_BBOX)) return 'global-geodetic';
  return 'local';
}

/** True if level 0 -> 1 is exactly a sqrt(2) step: MapProxy's TMS then exposes every second level only. */
export function hasSqrt2Factor(grid: TileGrid): boolean {
  return grid.levels > 1 && grid.resolutions[0] / grid.resolutions[1] === Math.sqrt(2);
}

function sameBbox(a: Readonly<Bbox>, b: Readonly<Bbox>): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}

/** Meta tile origin helper shared with MetaGrid: Python's `x // n * n` on ints. */
export function alignDown(v: number, n: number): number {
  return intFloorDiv(v, n) * n;
}
