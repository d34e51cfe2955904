/**
 * `grids:` section of mapproxy.yaml -> TileGrid objects, with MapProxy's
 * built-in grids, `base` inheritance and defaults. Wrong values throw
 * ConfigError naming the key path; the config layer adds file and line.
 */
import { ConfigError, SrsError } from '../errors.ts';
import type { Bbox } from '../srs/types.ts';
import { getSrs } from '../srs/srs.ts';
import { GridError, tileGrid, type TileGrid } from './tile-grid.ts';

/** Global settings that grids fall back to (globals.grid.tile_size, globals.image.*). */
export interface GridGlobals {
  tileSize?: [number, number];
  stretchFactor?: number;
  maxShrinkFactor?: number;
  /** receives MapProxy's warnings (missing origin, unknown keys); key path first */
  warn?: (path: string, message: string) => void;
}

/** Raw grid options as they appear in YAML. */
export type RawGridConf = Record<string, unknown>;

/** MapProxy's built-in grids; a user grid of the same name replaces one entirely. */
export const DEFAULT_GRIDS: Readonly<Record<string, RawGridConf>> = Object.freeze({
  GLOBAL_GEODETIC: { srs: 'EPSG:4326', origin: 'sw', name: 'GLOBAL_GEODETIC' },
  GLOBAL_MERCATOR: { srs: 'EPSG:900913', origin: 'sw', name: 'GLOBAL_MERCATOR' },
  GLOBAL_WEBMERCATOR: { srs: 'EPSG:3857', origin: 'nw', name: 'GLOBAL_WEBMERCATOR' },
});

const KNOWN_KEYS = new Set([
  'srs',
  'bbox',
  'bbox_srs',
  'origin',
  'tile_size',
  'res',
  'min_res',
  'max_res',
  'num_levels',
  'res_factor',
  'threshold_res',
  'stretch_factor',
  'max_shrink_factor',
  'base',
  'name',
  'align_resolutions_with',
]);

/** Resolves the built-ins plus all user grids (in that order) into TileGrids keyed by config name. */
export function buildGrids(
  gridsConf: Record<string, any> | null | undefined,
  globals: GridGlobals = {},
  path = 'grids',
): Map<string, TileGrid> {
  if (gridsConf != null && (typeof gridsConf !== 'object' || Array.isArray(gridsConf)))
    throw new ConfigError(`${path}: expected a mapping of grid names to grid options`);
  const confs = new Map<string, RawGridConf>();
  for (const [name, conf] of Object.entries(DEFAULT_GRIDS)) confs.set(name, { ...conf });
  for (const [name, conf] of Object.entries(gridsConf ?? {})) {
    const p = `${path}.${name}`;
    if (conf == null) confs.set(name, {});
    else if (typeof conf !== 'object' || Array.isArray(conf)) throw new ConfigError(`${p}: expected a mapping of grid options`);
    else confs.set(name, { ...(conf as RawGridConf) });
  }
  // check every grid's own values first, so an error in a base names the base
  for (const [name, conf] of confs) validateOwn(conf, `${path}.${name}`, globals);

  const merged = new Map<string, RawGridConf>();
  const resolve = (name: string, chain: string[]): RawGridConf => {
    const done = merged.get(name);
    if (done) return done;
    const own = confs.get(name)!;
    let conf: RawGridConf;
    if (own.base !== undefined && own.base !== null) {
      const baseName = own.base as string;
      const p = `${path}.${name}.base`;
      if (!confs.has(baseName)) throw new ConfigError(`${p}: unknown base grid '${baseName}'`);
      if (chain.includes(baseName))
        throw new ConfigError(`${p}: circular base grids: ${[...chain, name, baseName].join(' -> ')}`);
      const base = resolve(baseName, [...chain, name]);
      conf = { ...base, ...own };
      delete conf.base;
    } else {
      conf = { ...own };
    }
    // name is not inherited: MapProxy sets it on every grid before merging
    conf.name = own.name ?? name;
    merged.set(name, conf);
    return conf;
  };

  const grids = new Map<string, TileGrid>();
  const building = new Set<string>();
  const build = (name: string): TileGrid => {
    const ready = grids.get(name);
    if (ready) return ready;
    const p = `${path}.${name}`;
    if (building.has(name)) throw new ConfigError(`${p}.align_resolutions_with: circular reference`);
    building.add(name);
    const conf = resolve(name, []);
    let alignWith: TileGrid | null = null;
    if (conf.align_resolutions_with != null) {
      const other = conf.align_resolutions_with as string;
      if (!confs.has(other)) throw new ConfigError(`${p}.align_resolutions_with: unknown grid '${other}'`);
      alignWith = build(other);
    }
    if (conf.origin == null && globals.warn) {
      globals.warn(
        `${p}.origin`,
        `grid ${conf.name} does not have an origin. default origin will change from sw (south/west) to nw (north-west) with MapProxy 2.0`,
      );
    }
    if (Array.isArray(conf.res) && conf.res.length) {
      for (const k of ['min_res', 'max_res', 'align_resolutions_with'] as const) {
        if (conf[k] != null) throw new ConfigError(`${p}.res: cannot be combined with ${k}`);
      }
    }
    let grid: TileGrid;
    try {
      grid = tileGrid({
        name: conf.name as string,
        srs: conf.srs as string | undefined,
        bbox: conf.bbox == null ? null : parseBbox(conf.bbox, `${p}.bbox`),
        bboxSrs: conf.bbox_srs as string | undefined,
        tileSize: (conf.tile_size as [number, number] | undefined) ?? globals.tileSize ?? [256, 256],
        res: conf.res as number[] | undefined,
        resFactor: (conf.res_factor as number | 'sqrt2' | undefined) ?? 2.0,
        thresholdRes: conf.threshold_res as number[] | undefined,
        numLevels: conf.num_levels as number | undefined,
        minRes: conf.min_res as number | undefined,
        maxRes: conf.max_res as number | undefined,
        stretchFactor: (conf.stretch_factor as number | undefined) ?? globals.stretchFactor ?? 1.15,
        maxShrinkFactor: (conf.max_shrink_factor as number | undefined) ?? globals.maxShrinkFactor ?? 4.0,
        alignWith,
        origin: conf.origin as string | undefined,
      });
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      if (e instanceof GridError || e instanceof SrsError)
        throw new ConfigError(`${p}: ${e.message}`);
      throw e;
    }
    building.delete(name);
    grids.set(name, grid);
    return grid;
  };

  for (const name of confs.keys()) build(name);
  return grids;
}

/** Type checks of one grid's own keys (before inheritance). */
function validateOwn(conf: RawGridConf, p: string, globals: GridGlobals): void {
  for (const key of Object.keys(conf)) {
    if (!KNOWN_KEYS.has(key)) globals.warn?.(`${p}.${key}`, `unknown grid option '${key}' is ignored`);
  }
  const v = (key: string) => conf[key];
  const has = (key: string) => conf[key] !== undefined && conf[key] !== null;
  for (const key of ['srs', 'bbox_srs'] as const) {
    if (!has(key)) continue;
    const val = v(key);
    if (typeof val === 'number') conf[key] = `EPSG:${val}`;
    else if (typeof val !== 'string' || !val.trim()) throw new ConfigError(`${p}.${key}: expected an SRS code like 'EPSG:25832'`);
    try {
      getSrs(conf[key] as string);
    } catch (e) {
      throw new ConfigError(`${p}.${key}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  for (const key of ['name', 'base', 'align_resolutions_with'] as const) {
    if (has(key) && (typeof v(key) !== 'string' || !(v(key) as string).length))
      throw new ConfigError(`${p}.${key}: expected a grid name string`);
  }
  if (has('bbox')) parseBbox(v('bbox'), `${p}.bbox`);
  if (has('origin')) {
    const o = v('origin');
    if (typeof o !== 'string' || !['ll', 'sw', 'ul', 'nw'].includes(o.toLowerCase()))
      throw new ConfigError(`${p}.origin: unknown origin value '${String(o)}' (expected sw, ll, nw or ul)`);
  }
  if (has('tile_size')) {
    const ts = v('tile_size');
    if (!Array.isArray(ts) || ts.length !== 2 || !ts.every((n) => Number.isInteger(n) && n > 0))
      throw new ConfigError(`${p}.tile_size: expected [width, height] in whole pixels`);
  }
  if (has('res')) {
    const res = v('res');
    if (!Array.isArray(res))
      throw new ConfigError(`${p}.res: expected a list of resolutions (use res_factor for a factor between levels)`);
    if (res.some((r) => Array.isArray(r))) throw new ConfigError(`${p}.res: named resolutions are not supported`);
    res.forEach((r, i) => {
      if (!isPositive(r)) throw new ConfigError(`${p}.res[${i}]: expected a positive number`);
    });
  }
  for (const key of ['min_res', 'max_res', 'stretch_factor', 'max_shrink_factor'] as const) {
    if (has(key) && !isPositive(v(key))) throw new ConfigError(`${p}.${key}: expected a positive number`);
  }
  if (has('num_levels')) {
    const n = v('num_levels');
    if (!Number.isInteger(n) || (n as number) < 1) throw new ConfigError(`${p}.num_levels: expected a positive integer`);
  }
  if (has('res_factor')) {
    const f = v('res_factor');
    if (f !== 'sqrt2' && typeof f !== 'number') throw new ConfigError(`${p}.res_factor: expected a number or 'sqrt2'`);
    if (typeof f === 'number' && !(f > 1)) throw new ConfigError(`${p}.res_factor: must be greater than 1`);
  }
  if (has('threshold_res')) {
    const t = v('threshold_res');
    if (!Array.isArray(t)) throw new ConfigError(`${p}.threshold_res: expected a list of resolutions`);
    t.forEach((r, i) => {
      if (!isPositive(r)) throw new ConfigError(`${p}.threshold_res[${i}]: expected a positive number`);
    });
  }
  if (has('max_res') && has('num_levels') && (v('num_levels') as number) < 2)
    throw new ConfigError(`${p}.num_levels: must be at least 2 together with max_res`);
}

function isPositive(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x > 0;
}

/** A bbox as MapProxy accepts it: [minx, miny, maxx, maxy] or "minx,miny,maxx,maxy" (numbers or numeric strings). */
export function parseBbox(value: unknown, path: string): Bbox {
  const parts = typeof value === 'string' ? value.split(',') : value;
  if (!Array.isArray(parts) || parts.length !== 4)
    throw new ConfigError(`${path}: expected [minx, miny, maxx, maxy] or 'minx,miny,maxx,maxy'`);
  const nums = parts.map((n) => (typeof n === 'number' ? n : typeof n === 'string' && n.trim() !== '' ? Number(n) : NaN));
  if (!nums.every(Number.isFinite))
    throw new ConfigError(`${path}: expected four numbers, got ${JSON.stringify(value)}`);
  const bbox = nums as Bbox;
  if (!(bbox[0] < bbox[2]) || !(bbox[1] < bbox[3]))
    throw new ConfigError(`${path}: minx/miny must be smaller than maxx/maxy (west,south,east,north)`);
  return bbox;
}
