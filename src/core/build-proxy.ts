/**
 * buildProxy: the runtime graph from a loaded config, built once:
 * sources -> caches (tile managers per grid) -> layers -> services.
 * Every subcommand starts here after loadConfig.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors.ts';
import type { LoadedConfig } from '../config/loader.ts';
import { globalsWithDefaults, tileLockDir } from '../config/defaults.ts';
import { buildGrids } from '../grid/grid-config.ts';
import type { TileGrid } from '../grid/tile-grid.ts';
import { getSrs, type PreferredSrc, type Srs } from '../srs/srs.ts';
import type { Bbox } from '../srs/types.ts';
import { FileCache } from '../cache/file-cache.ts';
import { DIRECTORY_LAYOUTS, type DirectoryLayout } from '../cache/file-layout.ts';
import { TileManager } from '../cache/tile-manager.ts';
import { formatFromMime, mimeFromFormat } from '../image/format.ts';
import { HttpClient, type HttpOptions } from '../source/http-client.ts';
import { parseOnError } from '../source/on-error.ts';
import { TileSource } from '../source/tile.ts';
import { DebugMapSource } from '../source/debug-adapter.ts';
import { WmsSource, type WmsHttpMethod, type WmsSourceOptions } from '../source/wms.ts';
import { SeedOnlySource } from '../source/seed-only.ts';
import { CacheMapLayer, ResolutionConditionalLayer } from '../layer/cache-layer.ts';
import type { InfoSource, LegendSource, WmsLayer } from '../layer/wms-layer.ts';
import { WmsInfoSource } from '../source/wms-info.ts';
import { XsltInfoSource, XsltTransformer } from '../service/wms/featureinfo-xslt.ts';
import { StaticLegendSource, WmsLegendSource } from '../source/wms-legend.ts';
import { TileLocker } from '../cache/tile-lock.ts';
import { cacheImageOptions, resolveImageOptions, type ImageOptions } from '../image/image-options.ts';
import { canEncode, encodeWithOptions } from '../image/encode.ts';
import type { ResamplingMethod } from '../image/resample.ts';
import { parseColor } from '../image/parse-color.ts';
import { bandMergerFromConfig, type BandMergeConfig } from '../image/band-merge.ts';
import type { Raster } from '../image/raster.ts';
import { refreshBefore, watermark } from '../cache/cache-options.ts';
import { Semaphore } from '../util/semaphore.ts';
import { WmsService } from '../service/wms/wms-service.ts';
import { ALL_VERSIONS, type WmsVersion } from '../service/wms/request.ts';
import type { InfoType } from '../service/wms/featureinfo.ts';
import { UnsupportedSource } from '../source/unsupported.ts';
import { scaleToRes, type MapExtent, type ResRange, type Source } from '../source/source.ts';
import { unknownTemplateVars } from '../source/tile-url.ts';
import { TileLayerIndex, tileLayerExtent, type TileLayer } from '../layer/tile-layer.ts';
import { parseDimensions, type Dimension } from '../layer/dimensions.ts';
import { TmsService } from '../service/tms/tms-service.ts';
import { KmlService } from '../service/kml/kml-service.ts';
import { DEFAULT_INFO_TEMPLATE, DEFAULT_TEMPLATE, WmtsService } from '../service/wmts/wmts-service.ts';
import { INFO_REQUIRED, TILE_REQUIRED, WmtsUrlTemplate } from '../service/wmts/url-template.ts';
import { getLogger } from '../log/logger.ts';
import { RenderQueue } from '../render/queue.ts';
import type { Coverage } from '../geo/coverage.ts';
import { EmptyCoverageError, loadCoverage } from '../geo/load-coverage.ts';
import { renderdClient, type RemoteCreator } from '../render/remote.ts';
import { DEFAULT_STALE_MAX_AGE, prefetchOptions, renderQueueOptions, shareOf, staleWindow, waitingImage, waitingImageLoader } from '../render/render-options.ts';
import { tileCacheControl } from '../service/tile-response.ts';

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
  services: { tms?: TmsService; wms?: WmsService; wmts?: WmtsService; kml?: KmlService; demo: boolean };
  /** cache name -> the cache as a map layer (for WMS and caches used as sources) */
  cacheLayers: Map<string, CacheMapLayer>;
  /** the WMS layer tree */
  wmsLayers: WmsLayer[];
  /** Access-Control-Allow-Origin for every response ('' = none). */
  corsOrigin: string;
  /** Things the config asks for that this version does not do yet, one line each. */
  unsupported: string[];
  /** globals.cache.base_dir, absolute (health checks test that it is writable). */
  cacheDir: string;
  /** The render queue every tile creation of this proxy runs through. */
  renderQueue: RenderQueue;
}

const SUPPORTED_SERVICES = new Set(['tms', 'wms', 'wmts', 'kml', 'demo', 'admin']);

/** Options of buildProxy. */
export interface BuildOptions {
  /**
   * Processes serving this config side by side (the workers of `mapproxy
   * serve`): globals.render.concurrency is the total of the group, each gets
   * its share (rounded up).
   */
  renderShare?: number;
  /**
   * A seeding run (`mapproxy seed`, seeding-API jobs): `seed_only` sources
   * are used; otherwise they are replaced by a SeedOnlySource, as MapProxy's
   * loader does outside its seed context.
   */
  seeding?: boolean;
  /** Use this render queue (a seeding proxy next to the serving one of the same process) instead of a new one. */
  renderQueue?: RenderQueue;
  /** At most this many upstream requests open at once, over all sources and renderd (a seed worker's share of -c); unset: no limit beyond concurrent_requests. */
  upstreamRequests?: number;
}

/** Source types whose MapProxy loader honours seed_only. */
const SEED_ONLY_TYPES = new Set(['wms', 'tile', 'mapserver', 'mapnik', 'arcgis']);

/** Build the graph; a ConfigError names file, line and key path. */
export function buildProxy(config: LoadedConfig, opts: BuildOptions = {}): Proxy {
  try {
    return new Builder(config, opts).build();
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
  private cacheLayers = new Map<string, CacheMapLayer>();
  private lockers = new Map<string, TileLocker>();
  private limiters = new Map<string, Semaphore>();
  private preferred: PreferredSrc | undefined;
  private infoLegendDone = new Map<string, { info?: InfoSource; legend?: LegendSource }>();
  private renderQueue: RenderQueue;
  private remote: RemoteCreator | undefined;
  private seeding: boolean;
  private requestSlots: Semaphore | undefined;

  constructor(
    private config: LoadedConfig,
    opts: BuildOptions,
  ) {
    this.conf = config.conf as Dict;
    this.globals = globalsWithDefaults(this.conf);
    const queueOptions = renderQueueOptions(this.globals.render, fail);
    this.renderQueue = opts.renderQueue ?? new RenderQueue(shareOf(queueOptions, opts.renderShare ?? 1));
    this.seeding = opts.seeding === true;
    this.requestSlots = opts.upstreamRequests ? new Semaphore(opts.upstreamRequests) : undefined;
    const renderd = this.globals.renderd?.address;
    if (renderd != null) {
      if (typeof renderd !== 'string' || !/^https?:\/\/[^/]/.test(renderd)) fail('globals.renderd.address', `expected an http:// or https:// URL, got '${renderd}'`);
      this.remote = renderdClient(renderd, { timeoutSeconds: Number(this.globals.http?.client_timeout ?? 60), slots: this.requestSlots });
    }
  }

  build(): Proxy {
    const tileSize = this.globals.grid?.tile_size as [number, number] | undefined;
    this.grids = buildGrids(this.conf.grids ?? {}, { tileSize }, 'grids');
    for (const name of Object.keys(this.conf.sources ?? {})) this.sources.set(name, this.buildSource(name));
    for (const name of Object.keys(this.conf.caches ?? {})) this.cache(name);
    const tileLayers = this.buildTileLayers();
    const wmsLayers = this.buildWmsLayers();
    const services = this.buildServices(tileLayers, wmsLayers);
    for (const u of this.unsupported) log.warn(u);
    return {
      config: this.config,
      globals: this.globals,
      grids: this.grids,
      sources: this.sources,
      caches: this.caches,
      tileLayers,
      services,
      cacheLayers: this.cacheLayers,
      wmsLayers,
      corsOrigin: this.corsOrigin(),
      unsupported: this.unsupported,
      cacheDir: this.cacheBaseDir(),
      renderQueue: this.renderQueue,
    };
  }

  private corsOrigin(): string {
    const cors = this.globals.http?.access_control_allow_origin;
    return typeof cors === 'string' ? cors : '*';
  }

  private abspath(p: string): string {
    return path.resolve(this.config.configDir, p);
  }

  /** A featureinfo_xslt stylesheet (relative to the config file), or a config error at `p`. */
  private xslt(file: string, outFormat: string | undefined, p: string): XsltTransformer {
    try {
      return new XsltTransformer(this.abspath(file), outFormat);
    } catch (e) {
      fail(p, (e as Error).message);
    }
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
      slots: this.requestSlots,
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

  private coverageBbox(cov: Dict | undefined, p: string, target: TileGrid): { bbox: Bbox; coverage?: Coverage } | undefined {
    const ext = this.coverageExtent(cov, p);
    return ext ? { bbox: ext.srs.transformBbox(ext.bbox, target.srs), coverage: ext.coverage } : undefined;
  }

  private buildSource(name: string): Source {
    const src = this.conf.sources[name] as Dict;
    // built even when replaced, so its config errors show when serving too, not only when seeding
    const s = this.sourceOf(name, src);
    return this.seedOnlyNow(src) ? new SeedOnlySource(name, s.extent) : s;
  }

  /** seed_only outside a seeding run: MapProxy answers from a DummySource instead. */
  private seedOnlyNow(src: Dict): boolean {
    return src.seed_only === true && !this.seeding && SEED_ONLY_TYPES.has(String(src.type));
  }

  private sourceOf(name: string, src: Dict): Source {
    const p = `sources.${name}`;
    switch (src.type) {
      case 'tile': {
        const url = src.url as string;
        const unknown = unknownTemplateVars(url);
        if (unknown.length) fail(`${p}.url`, `unknown template variable %(${unknown[0]})s`);
        const grid = this.grid(src.grid ?? 'GLOBAL_MERCATOR', `${p}.grid`);
        const cov = this.coverageBbox(src.coverage, `${p}.coverage`, grid);
        return new TileSource({
          name,
          url,
          grid,
          client: new HttpClient(this.httpOptions(src), name),
          format: src.request_format ? formatFromMime(src.request_format) : undefined,
          transparent: src.transparent === true,
          coverageBbox: cov?.bbox,
          coverage: cov?.coverage,
          resRange: this.resRange(src),
          onError: parseOnError(src.on_error, `${p}.on_error`),
        });
      }
      case 'wms':
        return this.wmsSource(name, src, p);
      case 'debug':
        return new DebugMapSource(name);
      default:
        if (!this.seedOnlyNow(src)) this.unsupported.push(`${p}: source type '${src.type}' is not supported yet; requests that need it fail`);
        return new UnsupportedSource(name, String(src.type));
    }
  }

  private resampling(local: Dict | undefined): ResamplingMethod {
    const m = String(local?.resampling_method ?? this.globals.image?.resampling_method ?? 'bicubic');
    if (m !== 'nearest' && m !== 'bilinear' && m !== 'bicubic') fail('globals.image.resampling_method', `expected nearest, bilinear or bicubic, got '${m}'`);
    return m;
  }

  /** globals.srs.preferred_src_proj, parsed once for every source and cache layer. */
  private preferredSrc(): PreferredSrc {
    if (this.preferred) return this.preferred;
    const out = new Map<string, Srs[]>();
    const conf = (this.globals.srs?.preferred_src_proj ?? {}) as Dict;
    for (const [target, list] of Object.entries(conf)) {
      const p = `globals.srs.preferred_src_proj.${target}`;
      out.set(this.srs(target, p).canonical, (list as string[]).map((c, i) => this.srs(c, `${p}[${i}]`)));
    }
    return (this.preferred = out);
  }

  /** globals.cache.base_dir as an absolute path (legends live below it). */
  private cacheBaseDir(): string {
    return this.abspath(this.globals.cache?.base_dir ?? './cache_data');
  }

  /**
   * A coverage as an extent: its bbox, and the area itself when it is
   * polygons or combined coverages or clips (loaded as seed.yaml coverages
   * are: WKT and GeoJSON files relative to the config, union/intersection/difference).
   */
  private coverageExtent(cov: Dict | undefined, p: string): MapExtent | undefined {
    if (!cov) return undefined;
    if (!cov.bbox || cov.clip === true || Object.keys(cov).some((k) => k !== 'bbox' && k !== 'srs' && k !== 'bbox_srs' && k !== 'clip')) {
      let area: Coverage;
      try {
        area = loadCoverage(cov, { baseDir: this.config.configDir, fail: (sub, msg) => fail([p, ...sub].join('.').replace(/\.(\d+)(?=\.|$)/g, '[$1]'), msg) });
      } catch (e) {
        if (e instanceof EmptyCoverageError) fail(p, `the coverage has no area: ${e.message}`);
        throw e;
      }
      return { bbox: area.bbox, srs: area.srs, coverage: area };
    }
    let bbox = cov.bbox as Bbox | string;
    if (typeof bbox === 'string') bbox = bbox.split(',').map(Number) as Bbox;
    if (!Array.isArray(bbox) || bbox.length !== 4 || bbox.some((v) => !Number.isFinite(v))) fail(`${p}.bbox`, 'expected four numbers');
    if (bbox[0] >= bbox[2] || bbox[1] >= bbox[3]) fail(`${p}.bbox`, 'minx must be below maxx and miny below maxy');
    const srsCode = cov.srs ?? cov.bbox_srs;
    if (!srsCode) fail(p, "a bbox coverage needs 'srs'");
    return { bbox: bbox as Bbox, srs: this.srs(srsCode, `${p}.srs`) };
  }

  private srs(code: unknown, p: string): Srs {
    try {
      return getSrs(String(code));
    } catch (e) {
      fail(p, (e as Error).message);
    }
  }

  /** Feature info and legend sources of a source or cache reference (wms_opts.featureinfo, legendgraphic, legendurl). */
  private infoAndLegend(ref: string, p: string): { info: InfoSource[]; legend: LegendSource[] } {
    const i = ref.indexOf(':');
    const name = i < 0 ? ref : ref.slice(0, i);
    if (this.conf.caches?.[name]) {
      const out = { info: [] as InfoSource[], legend: [] as LegendSource[] };
      const c = this.conf.caches[name] as Dict;
      // a band merge (sources as a mapping) has none: MapProxy looks its band names up as sources
      for (const [j, r] of (Array.isArray(c.sources) ? (c.sources as string[]) : []).entries()) {
        const sub = this.infoAndLegend(r, `caches.${name}.sources[${j}]`);
        out.info.push(...sub.info);
        out.legend.push(...sub.legend);
      }
      return out;
    }
    const src = this.conf.sources?.[name] as Dict | undefined;
    if (!src || src.type !== 'wms') return { info: [], legend: [] };
    let done = this.infoLegendDone.get(ref);
    if (!done) {
      const sp = `sources.${name}`;
      const w = this.wmsParts(name, src, sp, i < 0 ? undefined : ref.slice(i + 1));
      const opts = (src.wms_opts ?? {}) as Dict;
      done = {};
      if (opts.featureinfo === true) {
        done.info = new WmsInfoSource({
          name, url: w.url, params: w.params, version: w.version, client: w.client, supportedSrs: w.supportedSrs,
          preferredSrc: this.preferredSrc(), infoFormat: typeof opts.featureinfo_format === 'string' ? opts.featureinfo_format : undefined,
          format: w.format, coverage: w.coverage, limiter: w.limiter,
        });
        if (typeof opts.featureinfo_xslt === 'string') {
          const out = opts.featureinfo_out_format ?? opts.featureinfo_format;
          done.info = new XsltInfoSource(done.info, this.xslt(opts.featureinfo_xslt, typeof out === 'string' ? out : undefined, `${sp}.wms_opts.featureinfo_xslt`));
        }
      }
      const cacheBaseDir = this.cacheBaseDir();
      if (typeof opts.legendurl === 'string') {
        done.legend = new StaticLegendSource({ name, url: opts.legendurl, client: w.client, configDir: this.config.configDir, cacheBaseDir });
      } else if (opts.legendgraphic === true) {
        done.legend = new WmsLegendSource({ name, url: w.url, params: w.params, version: w.version, client: w.client, cacheBaseDir, format: w.format, limiter: w.limiter });
      }
      this.infoLegendDone.set(ref, done);
    }
    return { info: done.info ? [done.info] : [], legend: done.legend ? [done.legend] : [] };
  }

  /** What map, feature info and legend requests of one wms source share. */
  private wmsParts(name: string, src: Dict, p: string, layers?: string) {
    const req = (src.req ?? {}) as Dict;
    if (typeof req.url !== 'string' || !req.url) fail(`${p}.req.url`, 'a wms source needs req.url');
    const opts = (src.wms_opts ?? {}) as Dict;
    const version = String(opts.version ?? '1.1.1') as WmsVersion;
    if (!ALL_VERSIONS.includes(version)) fail(`${p}.wms_opts.version`, `unsupported WMS version '${version}' (one of ${ALL_VERSIONS.join(', ')})`);
    const params: Record<string, string> = {};
    for (const [k, v] of Object.entries(req)) {
      if (k === 'url') continue;
      params[k] = typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v);
    }
    // sld: file://path goes upstream as sld_body with the file's content (MapProxy's create_request)
    if (typeof req.sld === 'string' && req.sld.startsWith('file://')) {
      const file = this.abspath(req.sld.slice('file://'.length));
      try {
        params.sld_body = fs.readFileSync(file, 'utf8');
      } catch (e) {
        fail(`${p}.req.sld`, `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      delete params.sld;
    }
    if (layers !== undefined) {
      const have = req.layers != null ? String(req.layers).split(',') : undefined;
      const want = layers.split(',');
      if (have && !want.every((l) => have.includes(l))) fail(p, `layers (${layers}) not in source (${have.join(',')})`);
      params.layers = layers;
    }
    return {
      url: String(req.url),
      params,
      version,
      client: new HttpClient(this.httpOptions(src), name),
      format: typeof req.format === 'string' ? req.format : undefined,
      supportedSrs: ((src.supported_srs ?? []) as string[]).map((c, i) => this.srs(c, `${p}.supported_srs[${i}]`)),
      coverage: this.coverageExtent(src.coverage, `${p}.coverage`),
      limiter: this.limiter(src, req, p),
    };
  }

  /** concurrent_requests: one semaphore per upstream host and limit, shared by the sources using it. */
  private limiter(src: Dict, req: Dict, p: string): Semaphore | undefined {
    const limit = Number(src.concurrent_requests ?? this.globals.http?.concurrent_requests ?? 0);
    if (!(limit > 0)) return undefined;
    let host = '';
    try {
      host = new URL(String(req.url).replace(/^(\w+:\/\/)[^/@]*@/, '$1')).host;
    } catch {
      fail(`${p}.req.url`, `invalid URL '${req.url}'`);
    }
    const k = `${host}|${limit}`;
    let l = this.limiters.get(k);
    if (!l) this.limiters.set(k, (l = new Semaphore(limit)));
    return l;
  }

  /** A wms source; `layers` comes from a tagged reference ('name:lyr1,lyr2'). */
  private wmsSource(name: string, src: Dict, p: string, layers?: string): Source {
    const req = (src.req ?? {}) as Dict;
    const w = this.wmsParts(name, src, p, layers);
    const image = (src.image ?? {}) as Dict;
    const transparent = image.transparent != null ? image.transparent === true : String(req.transparent ?? 'false').toLowerCase() === 'true';
    let transparentColor;
    if (image.transparent_color != null) {
      const c = parseColor(image.transparent_color);
      if (!c) fail(`${p}.image.transparent_color`, `invalid colour ${JSON.stringify(image.transparent_color)}`);
      transparentColor = c;
    }
    const o: WmsSourceOptions = {
      name,
      ...w,
      preferredSrc: this.preferredSrc(),
      supportedFormats: ((src.supported_formats ?? []) as string[]).map((f) => (f.includes('/') ? f : `image/${f}`)),
      resRange: this.resRange(src),
      onError: parseOnError(src.on_error, `${p}.on_error`),
      transparent,
      transparentColor: transparentColor ? [transparentColor[0], transparentColor[1], transparentColor[2], 255] : undefined,
      transparentColorTolerance: image.transparent_color_tolerance != null ? Number(image.transparent_color_tolerance) : Number(this.globals.image?.transparent_color_tolerance ?? 10),
      opacity: image.opacity != null ? Number(image.opacity) : undefined,
      resampling: this.resampling(image),
      forwardParams: new Set(((src.forward_req_params ?? []) as string[]).map((s) => s.toLowerCase())),
      httpMethod: this.httpMethod(src, p),
    };
    return new WmsSource(o);
  }

  /** http.method of a wms source (its own, else globals.http.method): GET, POST or AUTO, the values MapProxy's WMSClient knows. */
  private httpMethod(src: Dict, p: string): WmsHttpMethod {
    const own = src.http?.method;
    const m = own ?? this.globals.http?.method ?? 'AUTO';
    if (m !== 'GET' && m !== 'POST' && m !== 'AUTO') fail(own != null ? `${p}.http.method` : 'globals.http.method', `expected GET, POST or AUTO, got '${m}'`);
    return m;
  }

  /** A source by reference, tagged references ('wms:lyr1,lyr2') building their own instance. */
  private sourceRef(ref: string, p: string): Source {
    const i = ref.indexOf(':');
    const name = i < 0 ? ref : ref.slice(0, i);
    if (i < 0) {
      const s = this.sources.get(name);
      if (!s) fail(p, `unknown source '${ref}'`);
      return s;
    }
    const key = `tagged:${ref}`;
    const done = this.sources.get(key);
    if (done) return done;
    const src = this.conf.sources?.[name] as Dict | undefined;
    if (!src) fail(p, `unknown source '${name}'`);
    if (src.type !== 'wms') fail(p, `tagged source names ('${ref}') are only supported for wms sources`);
    const built = this.wmsSource(name, src, `sources.${name}`, ref.slice(i + 1));
    const s = this.seedOnlyNow(src) ? new SeedOnlySource(name, built.extent) : built;
    this.sources.set(key, s);
    return s;
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
    if (format === 'mixed' && !['image/png', 'image/vnd.jpeg-png'].includes(String(c.request_format))) {
      fail(`${p}.request_format`, 'request_format must be set to image/png or image/vnd.jpeg-png if mixed mode is enabled');
    }
    const requestFormat = c.request_format ? (format === 'mixed' ? 'png' : formatFromMime(String(c.request_format))) : undefined;
    const g = (key: string) => c[key] ?? this.globals.cache?.[key];
    const imageOpts = cacheImageOptions(this.globals.image, c, `${p}.image`);
    const paletted = this.globals.image?.paletted !== false;
    const encode = format === 'mixed' ? mixedEncoder(imageOpts, paletted) : (r: Raster) => encodeWithOptions(r, imageOpts, { paletted });
    const link = g('link_single_color_images');
    const linkSingleColor = link === true || link === 'symlink' ? 'symlink' as const : link === 'hardlink' ? 'hardlink' as const : undefined;
    if (link != null && link !== false && !linkSingleColor) fail(`${p}.link_single_color_images`, `expected true, 'symlink' or 'hardlink', got '${link}'`);
    const preStore = c.watermark ? watermark(c.watermark as Dict, `${p}.watermark`, parseColor) : undefined;
    const refresh = refreshBefore(c.refresh_before, `${p}.refresh_before`, (f) => this.abspath(f));
    const up = Number(c.upscale_tiles ?? 0);
    const down = Number(c.downscale_tiles ?? 0);
    if (!(up >= 0) || !Number.isInteger(up)) fail(`${p}.upscale_tiles`, 'upscale_tiles must be a positive integer');
    if (!(down >= 0) || !Number.isInteger(down)) fail(`${p}.downscale_tiles`, 'downscale_tiles must be a positive integer');
    if (up && down) fail(p, 'cannot use both upscale_tiles and downscale_tiles');
    const baseDir = c.cache_dir ? this.abspath(c.cache_dir) : this.cacheBaseDir();
    const metaSize = g('meta_size') as [number, number];
    const metaBuffer = Number(g('meta_buffer') ?? 0);
    // sources as a mapping of bands (r, g, b, a, l): a band merge over the sources it names
    const bands: BandMergeConfig | undefined =
      c.sources && typeof c.sources === 'object' && !Array.isArray(c.sources) ? bandMergerFromConfig(c.sources as Dict, `${p}.sources`, fail) : undefined;
    const sourceRefs = bands ? bands.sourceNames : ((c.sources ?? []) as string[]).filter((ref) => !this.mapDisabled(ref));
    const sourcePath = (j: number) => (bands ? bands.sourcePaths[j] : `${p}.sources[${j}]`);
    const managers = new Map<string, TileManager>();
    const locker = this.locker(tileLockDir(this.config, c), Number(this.globals.http?.client_timeout ?? 60));
    const swr = staleWindow(c.stale_while_revalidate, `${p}.stale_while_revalidate`, fail);
    const sie = staleWindow(c.stale_if_error, `${p}.stale_if_error`, fail);
    if ((swr || sie) && !refresh) fail(swr ? `${p}.stale_while_revalidate` : `${p}.stale_if_error`, 'needs refresh_before: tiles only become stale when they expire');
    const waiting = waitingImage(c.waiting_image, `${p}.waiting_image`, fail, (f) => this.abspath(f));
    const prefetch = prefetchOptions(c.prefetch, `${p}.prefetch`, fail);
    for (const [i, gname] of gridNames.entries()) {
      const grid = this.grid(gname, `${p}.grids[${i}]`);
      let dir: string;
      if (backendConf.directory) dir = this.abspath(backendConf.directory);
      else if (backendConf.use_grid_names) dir = path.join(baseDir, name, grid.name ?? gname);
      else dir = path.join(baseDir, `${name}_${gridSrsConf(this.conf, gname, grid).replace(/:/g, '')}`);
      const sources = sourceRefs.map((s, j) => this.cacheSource(s, sourcePath(j)));
      const metaCapable = sources.filter((s) => s.supportsMetaTiles).length;
      const wantsMeta = metaBuffer > 0 || metaSize[0] !== 1 || metaSize[1] !== 1;
      if (wantsMeta && metaCapable > 0 && metaCapable < sources.length) {
        fail(`${p}.sources`, 'meta tiling configured but not supported by all sources (tile sources cannot be combined with wms sources here; set meta_size: [1, 1] and meta_buffer: 0)');
      }
      const opaqueBg = imageOpts.transparent === false || format === 'jpeg' || format === 'jpg';
      managers.set(
        gname,
        new TileManager({
          cacheName: name,
          identifier: dir,
          grid,
          format,
          requestFormat,
          backend: new FileCache(dir, format, layout),
          sources,
          disableStorage: c.disable_storage === true,
          encode,
          linkSingleColor,
          preStore,
          refreshBefore: refresh,
          rescaleTiles: up ? -up : down,
          cacheRescaledTiles: c.cache_rescaled_tiles === true,
          resampling: this.resampling(c.image),
          bgcolor: opaqueBg ? [255, 255, 255, 255] : undefined,
          metaSize: [Number(metaSize[0]), Number(metaSize[1])],
          metaBuffer,
          minimizeMetaRequests: g('minimize_meta_requests') === true,
          bulkMetaTiles: g('bulk_meta_tiles') === true,
          bandMerger: bands?.merger,
          concurrentTileCreators: Number(g('concurrent_tile_creators') ?? 2),
          locker,
          queue: this.renderQueue,
          staleWhileRevalidate: swr?.window,
          staleIfError: sie?.window,
          staleCacheControl: tileCacheControl(swr?.maxAge ?? sie?.maxAge ?? DEFAULT_STALE_MAX_AGE),
          waitingImage: waiting ? { afterMs: waiting.afterMs, cacheControl: waiting.cacheControl, load: waitingImageLoader(waiting, grid.tileSize, encode) } : undefined,
          prefetch,
          renderdId: `${name}_${gname}`,
          // renderd cannot create tiles that are not stored (as MapProxy)
          remote: c.disable_storage === true ? undefined : this.remote,
        }),
      );
    }
    this.building.delete(name);
    this.caches.set(name, managers);
    this.cacheLayers.set(
      name,
      new CacheMapLayer({
        name,
        managers: [...managers.values()],
        resampling: this.resampling(c.image),
        maxTileLimit: Number(this.globals.cache?.max_tile_limit ?? 500),
        extent: this.coverageExtent(backendConf.coverage, `${p}.cache.coverage`),
        opacity: c.image?.opacity != null ? Number(c.image.opacity) : undefined,
        transparent: imageOpts.transparent === true,
        preferredSrc: this.preferredSrc(),
      }),
    );
    return managers;
  }

  private locker(dir: string, timeout: number): TileLocker {
    let l = this.lockers.get(dir);
    if (!l) this.lockers.set(dir, (l = new TileLocker({ lockDir: dir, timeoutSeconds: timeout })));
    return l;
  }

  /** The cache as WMS layers see it: with use_direct_from_level/res, fine requests skip the cache. */
  private cacheMapLayer(name: string, p: string): Source {
    this.cache(name);
    const layer = this.cacheLayers.get(name)!;
    const c = this.conf.caches[name] as Dict;
    if (c.use_direct_from_level == null && c.use_direct_from_res == null) return layer;
    const cp = `caches.${name}`;
    const grid = layer.opts.managers[0].grid;
    let res: number;
    if (c.use_direct_from_level != null) {
      const level = Number(c.use_direct_from_level);
      if (!Number.isInteger(level) || level < 0 || level >= grid.levels) fail(`${cp}.use_direct_from_level`, `expected a level between 0 and ${grid.levels - 1}`);
      res = grid.resolution(level);
    } else res = Number(c.use_direct_from_res);
    const srcs = (c.sources ?? []) as string[];
    if (srcs.length !== 1) fail(`${cp}.sources`, 'use_direct_from_level/res only supports single sources');
    void p;
    return new ResolutionConditionalLayer(layer, this.cacheSource(srcs[0], `${cp}.sources[0]`), res, grid.srs);
  }

  /** wms sources with wms_opts.map: false serve only feature info and legends. */
  private mapDisabled(ref: string): boolean {
    const src = this.conf.sources?.[ref.split(':')[0]] as Dict | undefined;
    return src?.type === 'wms' && src.wms_opts?.map === false;
  }

  /** A cache source: another cache (as a map layer: stitched, scaled or reprojected) or a source. */
  private cacheSource(ref: string, p: string): Source {
    const name = ref.split(':')[0];
    if (this.conf.caches?.[name]) {
      this.cache(name);
      return this.cacheLayers.get(name)!;
    }
    return this.sourceRef(ref, p);
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
    const dimensions = l.dimensions ? this.layerDimensions(l, p) : undefined;
    // info-only wms sources (map: false) of the layer answer WMTS GetFeatureInfo next to the caches' own
    const fiOnly = ((l.sources ?? []) as string[]).filter((ref) => this.mapDisabled(ref));
    const legendUrls = { rest: strOr(l.wmts_rest_legendurl, l.legendurl), kvp: strOr(l.wmts_kvp_legendurl, l.legendurl) };
    for (const cacheName of caches) {
      const managers = this.caches.get(cacheName);
      if (!managers) fail(`${p}.tile_sources`, `unknown cache '${cacheName}'`);
      const c = this.conf.caches[cacheName] as Dict;
      const mime = c.format ?? 'image/png';
      const info = [cacheName, ...fiOnly].flatMap((ref, i) => this.infoAndLegend(ref, i ? `${p}.sources` : `caches.${cacheName}`));
      for (const [gname, tm] of managers) {
        out.push({
          dimensions,
          infoSources: info.flatMap((x) => x.info),
          extent: tileLayerExtent(tm),
          legendUrls: legendUrls.rest || legendUrls.kvp ? legendUrls : undefined,
          hasWmsLegend: info.some((x) => x.legend.length > 0),
          name: String(l.name),
          title: String(l.title ?? ''),
          cacheName,
          grid: tm.grid,
          gridName: tm.grid.name ?? gname,
          format: tm.opts.format,
          // MapProxy advertises mixed caches as PNG
          formatMime: tm.opts.format === 'mixed' ? 'image/png' : mime.includes('/') ? mime.split(';')[0] : mimeFromFormat(tm.opts.format),
          tileManager: tm,
        });
      }
    }
    return out;
  }

  /** A layer's `dimensions:` (shared by its WMS layer and its tile layers); a bad value fails the config at `p.dimensions`. */
  private layerDimensions(l: Dict, p: string): Map<string, Dimension> {
    try {
      return parseDimensions(l.dimensions as Dict);
    } catch (e) {
      fail(`${p}.dimensions`, (e as Error).message);
    }
  }

  /** The `layers:` tree as WMS layers (list form, or MapProxy's older name -> layer mapping). */
  private buildWmsLayers(): WmsLayer[] {
    const conf = this.conf.layers;
    if (!conf) return [];
    const list: Dict[] = Array.isArray(conf) ? conf : Object.entries(conf as Dict).map(([name, l]) => ({ name, ...(l as Dict) }));
    const seen = new Set<string>();
    const build = (l: Dict, p: string): WmsLayer => {
      if (l.name != null) {
        const n = String(l.name);
        if (seen.has(n)) fail(`${p}.name`, `duplicate layer name '${n}'`);
        seen.add(n);
      }
      const mapLayers: Source[] = [];
      const infoSources: InfoSource[] = [];
      let legendSources: LegendSource[] = [];
      for (const [i, ref] of ((l.sources ?? []) as string[]).entries()) {
        const sp = `${p}.sources[${i}]`;
        const il = this.infoAndLegend(ref, sp);
        infoSources.push(...il.info);
        legendSources.push(...il.legend);
        if (this.mapDisabled(ref)) continue;
        const name = ref.split(':')[0];
        if (this.conf.caches?.[name]) mapLayers.push(this.cacheMapLayer(name, sp));
        else mapLayers.push(this.sourceRef(ref, sp));
      }
      if (typeof l.legendurl === 'string') {
        const cacheBaseDir = this.cacheBaseDir();
        legendSources = [new StaticLegendSource({ name: String(l.name ?? l.title), url: l.legendurl, configDir: this.config.configDir, cacheBaseDir, client: new HttpClient(this.httpOptions({}), `legend:${String(l.name ?? l.title)}`) })];
      }
      return {
        name: l.name != null ? String(l.name) : undefined,
        title: String(l.title ?? ''),
        md: (l.md ?? {}) as Dict,
        mapLayers,
        infoSources,
        legendSources,
        legendUrl: typeof l.legendurl === 'string' ? l.legendurl : undefined,
        resRange: this.resRange(l),
        dimensions: l.dimensions ? this.layerDimensions(l, p) : undefined,
        children: ((l.layers ?? []) as Dict[]).map((c, i) => build(c, `${p}.layers[${i}]`)),
      };
    };
    return list.map((l, i) => build(l, Array.isArray(conf) ? `layers[${i}]` : `layers.${l.name}`));
  }

  private wmsService(conf: Dict, wmsLayers: WmsLayer[], tileLayers: TileLayer[]): WmsService {
    const p = 'services.wms';
    const srs = ((conf.srs ?? this.globals.wms?.srs ?? ['EPSG:4326', 'EPSG:4258', 'CRS:84', 'EPSG:900913', 'EPSG:3857']) as string[]).map(String);
    for (const [i, code] of srs.entries()) this.srs(code, `${p}.srs[${i}]`);
    const srsExtents = new Map<string, MapExtent | undefined>();
    for (const [i, e] of ((conf.bbox_srs ?? []) as (string | Dict)[]).entries()) {
      if (typeof e === 'string') srsExtents.set(e, undefined);
      else {
        const bp = `${p}.bbox_srs[${i}]`;
        const ext = this.coverageExtent({ bbox: e.bbox, srs: e.srs }, bp);
        srsExtents.set(String(e.srs), ext);
      }
    }
    const imageFormats = new Map<string, ImageOptions>();
    const fmts = (conf.image_formats ?? this.globals.wms?.image_formats ?? ['image/png', 'image/jpeg', 'image/gif', 'image/GeoTIFF', 'image/tiff']) as string[];
    for (const [i, f] of fmts.entries()) {
      const named = this.globals.image?.formats?.[f] as Dict | undefined;
      const mime = named?.format ? String(named.format) : f;
      if (!mime.includes('/') || !canEncode(mime)) {
        this.unsupported.push(`${p}.image_formats[${i}]: format '${f}' cannot be written yet and is not offered`);
        continue;
      }
      imageFormats.set(f.includes('/') ? f : mime, resolveImageOptions(this.globals.image, undefined, f, `${p}.image_formats[${i}]`));
    }
    if (!imageFormats.size) fail(`${p}.image_formats`, 'no supported image format (png, jpeg, gif, tiff, GeoTIFF, vnd.jpeg-png)');
    const infoTransformers = new Map<InfoType, XsltTransformer>();
    for (const [t, file] of Object.entries((conf.featureinfo_xslt ?? {}) as Dict)) {
      // MapProxy looks the requested type up by name: other keys are never used
      if (!['text', 'html', 'xml', 'json'].includes(t)) this.unsupported.push(`${p}.featureinfo_xslt.${t}: not an info type (text, html, xml, json), never applied`);
      else infoTransformers.set(t as InfoType, this.xslt(String(file), undefined, `${p}.featureinfo_xslt.${t}`));
    }
    // without featureinfo_types MapProxy offers the types that have a stylesheet
    const defaultInfoTypes = infoTransformers.size ? [...infoTransformers.keys()] : ['text', 'html', 'xml'];
    const infoTypes = ((conf.featureinfo_types ?? defaultInfoTypes) as string[]).map((t, i) => {
      if (!['text', 'html', 'xml', 'json'].includes(t)) fail(`${p}.featureinfo_types[${i}]`, `unknown feature info type '${t}' (text, html, xml, json)`);
      return t as InfoType;
    });
    const versions = ((conf.versions ?? ALL_VERSIONS) as string[]).map((v, i) => {
      if (!ALL_VERSIONS.includes(v as WmsVersion)) fail(`${p}.versions[${i}]`, `unsupported WMS version '${v}'`);
      return v as WmsVersion;
    });
    let maxOutputPixels = conf.max_output_pixels ?? 4000 * 4000;
    if (Array.isArray(maxOutputPixels)) maxOutputPixels = Number(maxOutputPixels[0]) * Number(maxOutputPixels[1]);
    const onSourceErrors = String(conf.on_source_errors ?? 'notify');
    if (onSourceErrors !== 'notify' && onSourceErrors !== 'raise') fail(`${p}.on_source_errors`, `expected 'notify' or 'raise', got '${onSourceErrors}'`);
    return new WmsService({
      layers: wmsLayers,
      md: (conf.md ?? {}) as Dict,
      srs,
      srsExtents,
      imageFormats,
      infoTypes,
      infoTransformers: infoTransformers.size ? infoTransformers : undefined,
      versions,
      maxOutputPixels: Number(maxOutputPixels),
      onSourceErrors,
      attribution: conf.attribution?.text ? String(conf.attribution.text) : undefined,
      strict: conf.strict === true,
      paletted: this.globals.image?.paletted !== false,
      maxTileAge: Math.round(Number(this.globals.tiles?.expires_hours ?? 72) * 3600),
      corsOrigin: this.corsOrigin(),
      tileLayers,
      inspireMd: conf.inspire_md ?? undefined,
    });
  }

  private buildServices(tileLayers: TileLayer[], wmsLayers: WmsLayer[]): Proxy['services'] {
    const services = (this.conf.services ?? {}) as Dict;
    for (const name of Object.keys(services)) {
      if (!SUPPORTED_SERVICES.has(name)) this.unsupported.push(`services.${name}: the ${name} service is not supported yet`);
    }
    const out: Proxy['services'] = { demo: 'demo' in services };
    if ('wms' in services) out.wms = this.wmsService((services.wms ?? {}) as Dict, wmsLayers, tileLayers);
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
    if ('kml' in services) {
      const kml = (services.kml ?? {}) as Dict;
      out.kml = new KmlService({
        index: new TileLayerIndex(tileLayers, kml.use_grid_names === true),
        maxTileAge: Math.round(Number(this.globals.tiles?.expires_hours ?? 72) * 3600),
        corsOrigin: this.corsOrigin(),
      });
    }
    if ('wmts' in services) out.wmts = this.wmtsService((services.wmts ?? {}) as Dict, tileLayers, out.wms !== undefined);
    return out;
  }

  private wmtsService(conf: Dict, tileLayers: TileLayer[], wms: boolean): WmtsService {
    const p = 'services.wmts';
    const md = { ...((this.conf.services?.wms?.md ?? {}) as Dict), ...((conf.md ?? {}) as Dict) };
    // MapProxy enables neither when only one is set to false; a missing switch means on here
    const kvp = conf.kvp !== false;
    const restful = conf.restful !== false;
    if (!kvp && !restful) this.unsupported.push(`${p}: kvp and restful are both false, WMTS is not served`);
    const infoFormats = new Map<string, string>();
    for (const f of (conf.featureinfo_formats ?? []) as Dict[]) {
      const mime = String(f.mimetype);
      infoFormats.set(f.suffix != null ? String(f.suffix) : mime.split('/')[1]?.split(/[;+]/)[0] ?? mime, mime);
    }
    const template = conf.restful_template != null ? String(conf.restful_template) : DEFAULT_TEMPLATE;
    const infoTemplate = conf.restful_featureinfo_template != null ? String(conf.restful_featureinfo_template) : DEFAULT_INFO_TEMPLATE;
    for (const [key, t, req] of [['restful_template', template, TILE_REQUIRED], ['restful_featureinfo_template', infoTemplate, INFO_REQUIRED]] as const) {
      try {
        new WmtsUrlTemplate(t, req);
      } catch (e) {
        fail(`${p}.${key}`, (e as Error).message);
      }
    }
    return new WmtsService({
      tileLayers,
      md,
      kvp,
      restful,
      restfulTemplate: template,
      restfulInfoTemplate: infoTemplate,
      infoFormats,
      maxTileAge: Math.round(Number(this.globals.tiles?.expires_hours ?? 72) * 3600),
      corsOrigin: this.corsOrigin(),
      wmsLegends: wms,
    });
  }
}

/** The first of the values that is a non-empty string. */
function strOr(...vals: unknown[]): string | undefined {
  for (const v of vals) if (typeof v === 'string' && v) return v;
  return undefined;
}

/** format: mixed: PNG where the tile has transparent pixels, JPEG elsewhere (as MapProxy decides per tile). */
function mixedEncoder(opts: ImageOptions, paletted: boolean): (r: Raster) => Promise<Uint8Array> {
  const png: ImageOptions = { ...opts, format: 'image/png', transparent: true };
  const jpeg: ImageOptions = { ...opts, format: 'image/jpeg', transparent: false, colors: undefined, mode: undefined };
  return (r) => {
    const d = r.data;
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 255) return encodeWithOptions(r, png, { paletted });
    return encodeWithOptions(r, jpeg, { paletted });
  };
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
