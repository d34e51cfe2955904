/**
 * buildProxy: the runtime graph from a loaded config, built once:
 * sources -> caches (tile managers per grid) -> layers -> services.
 * Every subcommand starts here after loadConfig.
 */
import * as path from 'node:path';
import { ConfigError } from '../errors.ts';
import type { LoadedConfig } from '../config/loader.ts';
import { globalsWithDefaults } from '../config/defaults.ts';
import { buildGrids } from '../grid/grid-config.ts';
import type { TileGrid } from '../grid/tile-grid.ts';
import { getSrs } from '../srs/srs.ts';
import type { Bbox } from '../srs/types.ts';
import { FileCache } from '../cache/file-cache.ts';
import { DIRECTORY_LAYOUTS, type DirectoryLayout } from '../cache/file-layout.ts';
import { TileManager } from '../cache/tile-manager.ts';
import { formatFromMime, mimeFromFormat } from '../image/format.ts';
import { HttpClient, type HttpOptions } from '../source/http-client.ts';
import { parseOnError } from '../source/on-error.ts';
import { TileSource } from '../source/tile.ts';
import { DebugMapSource } from '../source/debug-adapter.ts';
import { CacheSource } from '../source/cache-source.ts';
import { UnsupportedSource } from '../source/unsupported.ts';
import { scaleToRes, type ResRange, type Source } from '../source/source.ts';
import { unknownTemplateVars } from '../source/tile-url.ts';
import { TileLayerIndex, type TileLayer } from '../layer/tile-layer.ts';
import { TmsService } from '../service/tms/tms-service.ts';
import { getLogger } from '../log/logger.ts';

const log = getLogger('mapproxy.config');

type Dict = Record<string, any>;

/** The runtime graph of one config. */
export interface Proxy {
  config: LoadedConfig;
  globals: Dict;
  grids: Map<string, TileGrid>;
  sources: Map<string, Source>;
  /** cache name -> grid name -> tile manager */
  caches: Map<string, Map<string, TileManager>>;
  tileLayers: TileLayer[];
  services: { tms?: TmsService; demo: boolean };
  /** Access-Control-Allow-Origin for every response ('' = none). */
  corsOrigin: string;
  /** Things the config asks for that this version does not do yet, one line each. */
  unsupported: string[];
}

const SUPPORTED_SERVICES = new Set(['tms']);

/** Build the graph; a ConfigError names file, line and key path. */
export function buildProxy(config: LoadedConfig): Proxy {
  try {
    return new Builder(config).build();
  } catch (e) {
    if (e instanceof ConfigError && e.location && !e.location.file) {
      const segs = parsePath(e.location.path);
      const pos = config.locate(segs);
      throw new ConfigError(e.detail, { file: pos?.file ?? path.basename(config.configFile), line: pos?.line, path: e.location.path });
    }
    throw e;
  }
}

/** 'caches.osm.sources[0]' -> ['caches', 'osm', 'sources', 0] */
function parsePath(p: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of p.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]);
  return out;
}

function fail(p: string, msg: string): never {
  throw new ConfigError(msg, { file: '', path: p });
}

class Builder {
  private conf: Dict;
  private globals: Dict;
  private grids = new Map<string, TileGrid>();
  private sources = new Map<string, Source>();
  private caches = new Map<string, Map<string, TileManager>>();
  private building = new Set<string>();
  private unsupported: string[] = [];

  constructor(private config: LoadedConfig) {
    this.conf = config.conf as Dict;
    this.globals = globalsWithDefaults(this.conf);
  }

  build(): Proxy {
    const tileSize = this.globals.grid?.tile_size as [number, number] | undefined;
    this.grids = buildGrids(this.conf.grids ?? {}, { tileSize }, 'grids');
    for (const name of Object.keys(this.conf.sources ?? {})) this.sources.set(name, this.buildSource(name));
    for (const name of Object.keys(this.conf.caches ?? {})) this.cache(name);
    const tileLayers = this.buildTileLayers();
    const services = this.buildServices(tileLayers);
    for (const u of this.unsupported) log.warn(u);
    return {
      config: this.config,
      globals: this.globals,
      grids: this.grids,
      sources: this.sources,
      caches: this.caches,
      tileLayers,
      services,
      corsOrigin: this.corsOrigin(),
      unsupported: this.unsupported,
    };
  }

  private corsOrigin(): string {
    const cors = this.globals.http?.access_control_allow_origin;
    return typeof cors === 'string' ? cors : '*';
  }

  private abspath(p: string): string {
    return path.resolve(this.config.configDir, p);
  }

  private grid(name: string, p: string): TileGrid {
    const g = this.grids.get(name);
    if (!g) fail(p, `unknown grid '${name}'`);
    return g;
  }

  private httpOptions(src: Dict): HttpOptions {
    const g = this.globals.http ?? {};
    const s = src.http ?? {};
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...(g.headers ?? {}), ...(s.headers ?? {}) })) headers[k] = String(v);
    return {
      clientTimeout: Number(s.client_timeout ?? g.client_timeout ?? 60),
      headers,
      hideErrorDetails: (s.hide_error_details ?? g.hide_error_details ?? true) !== false,
    };
  }

  private resRange(src: Dict): ResRange | undefined {
    let minRes = src.min_res as number | undefined;
    let maxRes = src.max_res as number | undefined;
    if (src.max_scale != null) minRes = scaleToRes(src.max_scale);
    if (src.min_scale != null) maxRes = scaleToRes(src.min_scale);
    if (minRes == null && maxRes == null) return undefined;
    return { minRes, maxRes };
  }

  private coverageBbox(cov: Dict | undefined, p: string, target: TileGrid): Bbox | undefined {
    if (!cov) return undefined;
    if (!cov.bbox) {
      this.unsupported.push(`${p}: only bbox coverages are supported yet; the coverage is ignored`);
      return undefined;
    }
    let bbox = cov.bbox as Bbox | string;
    if (typeof bbox === 'string') bbox = bbox.split(',').map(Number) as Bbox;
    if (!Array.isArray(bbox) || bbox.length !== 4 || bbox.some((v) => !Number.isFinite(v))) fail(`${p}.bbox`, 'expected four numbers');
    const srsCode = cov.srs ?? cov.bbox_srs;
    if (!srsCode) fail(p, "a bbox coverage needs 'srs'");
    const from = getSrs(srsCode);
    return from.transformBbox(bbox as Bbox, target.srs);
  }

  private buildSource(name: string): Source {
    const p = `sources.${name}`;
    const src = this.conf.sources[name] as Dict;
    switch (src.type) {
      case 'tile': {
        const url = src.url as string;
        const unknown = unknownTemplateVars(url);
        if (unknown.length) fail(`${p}.url`, `unknown template variable %(${unknown[0]})s`);
        const grid = this.grid(src.grid ?? 'GLOBAL_MERCATOR', `${p}.grid`);
        return new TileSource({
          name,
          url,
          grid,
          client: new HttpClient(this.httpOptions(src)),
          format: src.request_format ? formatFromMime(src.request_format) : undefined,
          transparent: src.transparent === true,
          coverageBbox: this.coverageBbox(src.coverage, `${p}.coverage`, grid),
          resRange: this.resRange(src),
          onError: parseOnError(src.on_error, `${p}.on_error`),
        });
      }
      case 'debug':
        return new DebugMapSource(name);
      default:
        this.unsupported.push(`${p}: source type '${src.type}' is not supported yet; requests that need it fail`);
        return new UnsupportedSource(name, String(src.type));
    }
  }

  /** Tile managers of a cache, building caches it uses first (cycles are config errors). */
  private cache(name: string): Map<string, TileManager> {
    const done = this.caches.get(name);
    if (done) return done;
    const p = `caches.${name}`;
    if (this.building.has(name)) fail(p, `cache '${name}' uses itself as a source`);
    this.building.add(name);
    const c = this.conf.caches[name] as Dict;
    const backendConf = (c.cache ?? {}) as Dict;
    const type = backendConf.type ?? 'file';
    if (type !== 'file') fail(`${p}.cache.type`, `cache type '${type}' is not supported yet (supported: file)`);
    const layout = (backendConf.directory_layout ?? 'tc') as DirectoryLayout;
    if (!DIRECTORY_LAYOUTS.includes(layout)) fail(`${p}.cache.directory_layout`, `unknown directory_layout '${layout}' (one of ${DIRECTORY_LAYOUTS.join(', ')})`);
    const gridNames: string[] = c.grids ?? ['GLOBAL_MERCATOR'];
    if (backendConf.directory && gridNames.length > 1) fail(`${p}.cache.directory`, 'a single directory cannot hold a cache with more than one grid');
    const formatMime: string = c.format ?? 'image/png';
    const format = formatFromMime(formatMime);
    if (format === 'mixed') fail(`${p}.format`, "format 'mixed' is not supported yet");
    const baseDir = this.abspath(c.cache_dir ?? this.globals.cache?.base_dir ?? './cache_data');
    const jpegQuality = Number(c.image?.encoding_options?.jpeg_quality ?? this.globals.image?.jpeg_quality ?? 90);
    const managers = new Map<string, TileManager>();
    for (const [i, gname] of gridNames.entries()) {
      const grid = this.grid(gname, `${p}.grids[${i}]`);
      let dir: string;
      if (backendConf.directory) dir = this.abspath(backendConf.directory);
      else if (backendConf.use_grid_names) dir = path.join(baseDir, name, grid.name ?? gname);
      else dir = path.join(baseDir, `${name}_${gridSrsConf(this.conf, gname, grid).replace(/:/g, '')}`);
      const sources = ((c.sources ?? []) as string[]).map((s, j) => this.cacheSource(s, `${p}.sources[${j}]`, grid, gname));
      managers.set(
        gname,
        new TileManager({
          cacheName: name,
          grid,
          format,
          backend: new FileCache(dir, format, layout),
          sources,
          disableStorage: c.disable_storage === true,
          jpegQuality,
        }),
      );
    }
    this.building.delete(name);
    this.caches.set(name, managers);
    return managers;
  }

  private cacheSource(ref: string, p: string, grid: TileGrid, gridName: string): Source {
    const name = ref.split(':')[0];
    if (this.conf.caches?.[name]) {
      const managers = this.cache(name);
      const tm = managers.get(gridName) ?? [...managers.values()].find((m) => sameGrid(m.grid, grid));
      if (!tm) fail(p, `cache '${name}' as a source needs the same grid (${gridName}); reprojection between caches is not supported yet`);
      return new CacheSource(name, tm);
    }
    const s = this.sources.get(name);
    if (!s) fail(p, `unknown source '${ref}'`);
    return s;
  }

  private buildTileLayers(): TileLayer[] {
    const out: TileLayer[] = [];
    const visit = (layers: Dict[] | undefined, p: string) => {
      for (const [i, l] of (layers ?? []).entries()) {
        if (l.name) out.push(...this.tileLayersOf(l, `${p}[${i}]`));
        if (l.layers) visit(l.layers, `${p}[${i}].layers`);
      }
    };
    visit(this.conf.layers, 'layers');
    return out;
  }

  /** MapProxy's eligibility: exactly one cache in sources (debug sources skipped), or tile_sources. */
  private tileLayersOf(l: Dict, p: string): TileLayer[] {
    let caches: string[];
    if (l.tile_sources) caches = l.tile_sources.map((s: string) => s.split(':')[0]);
    else {
      caches = [];
      for (const ref of (l.sources ?? []) as string[]) {
        const n = ref.split(':')[0];
        if (this.conf.caches?.[n]) caches.push(n);
        else if (this.conf.sources?.[n]?.type === 'debug') continue;
        else if (this.conf.sources?.[n]?.type === 'wms' && this.conf.sources[n].wms_opts?.map === false) continue;
        else return [];
      }
      if (caches.length > 1) return [];
    }
    const out: TileLayer[] = [];
    for (const cacheName of caches) {
      const managers = this.caches.get(cacheName);
      if (!managers) fail(`${p}.tile_sources`, `unknown cache '${cacheName}'`);
      const c = this.conf.caches[cacheName] as Dict;
      const mime = c.format ?? 'image/png';
      for (const [gname, tm] of managers) {
        out.push({
          name: String(l.name),
          title: String(l.title ?? ''),
          cacheName,
          grid: tm.grid,
          gridName: tm.grid.name ?? gname,
          format: tm.opts.format,
          formatMime: mime.includes('/') ? mime.split(';')[0] : mimeFromFormat(tm.opts.format),
          tileManager: tm,
        });
      }
    }
    return out;
  }

  private buildServices(tileLayers: TileLayer[]): Proxy['services'] {
    const services = (this.conf.services ?? {}) as Dict;
    for (const name of Object.keys(services)) {
      if (!SUPPORTED_SERVICES.has(name)) this.unsupported.push(`services.${name}: the ${name} service is not supported yet`);
    }
    const out: Proxy['services'] = { demo: false };
    if ('tms' in services) {
      const tms = (services.tms ?? {}) as Dict;
      const md = { ...(services.wms?.md ?? {}), ...(tms.md ?? {}) } as Dict;
      const origin = tms.origin;
      if (origin != null && origin !== 'sw' && origin !== 'nw') fail('services.tms.origin', `expected 'sw' or 'nw', got '${origin}'`);
      out.tms = new TmsService({
        index: new TileLayerIndex(tileLayers, tms.use_grid_names === true),
        origin,
        maxTileAge: Math.round(Number(this.globals.tiles?.expires_hours ?? 72) * 3600),
        title: String(md.title ?? ''),
        abstract: String(md.abstract ?? ''),
        corsOrigin: this.corsOrigin(),
      });
    }
    return out;
  }
}

/** The srs of a grid as written in the config (MapProxy names cache dirs after it). */
function gridSrsConf(conf: Dict, gname: string, grid: TileGrid): string {
  const seen = new Set<string>();
  let g: Dict | undefined = conf.grids?.[gname];
  let key = gname;
  while (g && !seen.has(key)) {
    seen.add(key);
    if (g.srs) return String(g.srs);
    if (!g.base) break;
    key = g.base;
    g = conf.grids?.[key];
  }
  if (key === 'GLOBAL_GEODETIC') return 'EPSG:4326';
  if (key === 'GLOBAL_MERCATOR') return 'EPSG:900913';
  if (key === 'GLOBAL_WEBMERCATOR') return 'EPSG:3857';
  return grid.srs.code;
}

function sameGrid(a: TileGrid, b: TileGrid): boolean {
  return (
    a.srs.code === b.srs.code &&
    a.origin === b.origin &&
    a.tileSize[0] === b.tileSize[0] &&
    a.tileSize[1] === b.tileSize[1] &&
    a.bbox.every((v, i) => v === b.bbox[i]) &&
    a.resolutions.length === b.resolutions.length &&
    a.resolutions.every((r, i) => r === b.resolutions[i])
  );
}
