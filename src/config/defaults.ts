/**
 * MapProxy's built-in defaults (mapproxy/config/defaults.py of MapProxy 7)
 * and helpers to read `globals` with them filled in.
 */

import * as path from 'node:path';

/** The three grids every config has, as config entries (the grid module computes the rest). */
export const BUILTIN_GRIDS: Readonly<Record<string, Readonly<{ srs: string; origin: string; name: string }>>> = deepFreeze({
  GLOBAL_GEODETIC: { srs: 'EPSG:4326', origin: 'sw', name: 'GLOBAL_GEODETIC' },
  GLOBAL_MERCATOR: { srs: 'EPSG:900913', origin: 'sw', name: 'GLOBAL_MERCATOR' },
  GLOBAL_WEBMERCATOR: { srs: 'EPSG:3857', origin: 'nw', name: 'GLOBAL_WEBMERCATOR' },
});

/** SRS with north/east axis order unless the user lists them in axis_order_en. */
export const DEFAULT_AXIS_ORDER_NE: readonly string[] = ['EPSG:4326', 'EPSG:4258', 'EPSG:31466', 'EPSG:31467', 'EPSG:31468'];
/** SRS with east/north axis order unless the user lists them in axis_order_ne. */
export const DEFAULT_AXIS_ORDER_EN: readonly string[] = ['CRS:84', 'EPSG:900913', 'EPSG:25831', 'EPSG:25832', 'EPSG:25833'];

/**
 * Defaults of `globals`. `cache.tile_lock_dir` has none on purpose: MapProxy
 * puts tile locks under each cache's own cache_dir (see tileLockDir()).
 * `wms` and `ogcapi` are MapProxy's service defaults, which it also reads
 * from `globals.wms` / `globals.ogcapi` as an undocumented fallback.
 */
export const GLOBAL_DEFAULTS = deepFreeze({
  cache: {
    base_dir: './cache_data',
    lock_dir: './cache_data/tile_locks',
    max_tile_limit: 500,
    concurrent_tile_creators: 2,
    meta_size: [4, 4],
    meta_buffer: 80,
    bulk_meta_tiles: false,
    minimize_meta_requests: false,
    link_single_color_images: false as boolean | string,
    sqlite_timeout: 30,
  },
  image: {
    resampling_method: 'bicubic',
    jpeg_quality: 90,
    stretch_factor: 1.15,
    max_shrink_factor: 4.0,
    paletted: true,
    transparent_color_tolerance: 5,
  },
  grid: {
    tile_size: [256, 256],
  },
  tiles: {
    expires_hours: 72,
  },
  http: {
    ssl_no_cert_checks: false,
    client_timeout: 60,
    concurrent_requests: 0,
    method: 'AUTO',
    access_control_allow_origin: '*' as string | Record<string, never> | null,
    hide_error_details: true,
    manage_cookies: false,
  },
  srs: {
    axis_order_ne: [] as string[],
    axis_order_en: [] as string[],
  },
  wms: {
    image_formats: ['image/png', 'image/jpeg', 'image/gif', 'image/GeoTIFF', 'image/tiff'],
    srs: ['EPSG:4326', 'EPSG:4258', 'CRS:84', 'EPSG:900913', 'EPSG:3857'],
    strict: false,
    concurrent_layer_renderer: 1,
    max_output_pixels: 4000 * 4000,
  },
  ogcapi: {
    image_formats: ['image/png', 'image/jpeg'],
    map_srs: ['EPSG:4326', 'EPSG:3857'],
    concurrent_layer_renderer: 1,
    max_output_pixels: 4000 * 4000,
  },
  background: {
    url: 'https://tile.openstreetmap.org/{z}/{x}/{y}.png',
  },
});

/** Shape of globals after defaults are applied; user-only keys are reachable by index. */
export type Globals = {
  readonly [K in keyof typeof GLOBAL_DEFAULTS]: (typeof GLOBAL_DEFAULTS)[K] & Readonly<Record<string, unknown>>;
} & Readonly<Record<string, unknown>>;

type Dict = Record<string, unknown>;

function isDict(v: unknown): v is Dict {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Freezes an object graph so nobody changes shared config by accident. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

// Like MapProxy's _copy_conf_values: user values over defaults, mappings merged,
// everything else (lists too) replaced, and an empty value (null) keeps the default.
function overlay(defaults: unknown, user: unknown): unknown {
  if (user === null || user === undefined) return defaults;
  if (isDict(defaults) && isDict(user)) {
    const out: Dict = { ...defaults };
    for (const [k, v] of Object.entries(user)) out[k] = overlay(defaults[k], v);
    return out;
  }
  return user;
}

const cacheByConf = new WeakMap<object, Globals>();

/** `globals` of a config deep-merged over GLOBAL_DEFAULTS (frozen, computed once per config). */
export function globalsWithDefaults(conf: { readonly globals?: unknown } | Record<string, unknown>): Globals {
  const hit = cacheByConf.get(conf);
  if (hit) return hit;
  const merged = { ...(overlay(GLOBAL_DEFAULTS, (conf as Dict).globals) as Dict) };
  // the built-in axis order lists are combined with the user's, as finish_base_config does
  const srs = { ...(merged.srs as Dict) };
  const userNe = Array.isArray(srs.axis_order_ne) ? (srs.axis_order_ne as string[]) : [];
  const userEn = Array.isArray(srs.axis_order_en) ? (srs.axis_order_en as string[]) : [];
  srs.axis_order_ne = [...new Set([...DEFAULT_AXIS_ORDER_NE.filter((s) => !userEn.includes(s)), ...userNe])];
  srs.axis_order_en = [...new Set([...DEFAULT_AXIS_ORDER_EN.filter((s) => !userNe.includes(s)), ...userEn])];
  merged.srs = srs;
  const result = deepFreeze(merged) as Globals;
  cacheByConf.set(conf, result);
  return result;
}

/** One value of globals by dotted key (`'cache.meta_size'`), defaults applied; undefined if unknown. */
export function getGlobal<T = unknown>(conf: { readonly globals?: unknown } | Record<string, unknown>, key: string): T | undefined {
  let cur: unknown = globalsWithDefaults(conf);
  for (const part of key.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur as T | undefined;
}

/** Anything with the directory of the main config file. */
export interface HasConfigDir {
  readonly configDir: string;
}

/**
 * A path from the config made absolute. MapProxy resolves relative paths
 * (base_dir, cache_dir, lock dirs, ...) against the directory of the main
 * mapproxy.yaml, also when they were written in a base file.
 */
export function resolveConfigPath(loaded: HasConfigDir, p: string): string {
  return path.resolve(loaded.configDir, p);
}

/** Absolute `globals.cache.base_dir`. */
export function cacheBaseDir(loaded: HasConfigDir & { readonly conf: object }): string {
  return resolveConfigPath(loaded, getGlobal<string>(loaded.conf, 'cache.base_dir') ?? GLOBAL_DEFAULTS.cache.base_dir);
}

/**
 * Tile lock directory of one cache, as MapProxy picks it: the backend's
 * `cache.tile_lock_dir`, else `globals.cache.tile_lock_dir`, else
 * `<cache_dir or base_dir>/tile_locks`.
 */
export function tileLockDir(loaded: HasConfigDir & { readonly conf: object }, cacheConf: Record<string, unknown>): string {
  const backend = isDict(cacheConf.cache) ? cacheConf.cache : {};
  const local = backend.tile_lock_dir;
  if (typeof local === 'string') return resolveConfigPath(loaded, local);
  const global = getGlobal<string>(loaded.conf, 'cache.tile_lock_dir');
  if (typeof global === 'string') return resolveConfigPath(loaded, global);
  const cacheDir = typeof cacheConf.cache_dir === 'string' ? resolveConfigPath(loaded, cacheConf.cache_dir) : cacheBaseDir(loaded);
  return path.join(cacheDir, 'tile_locks');
}
