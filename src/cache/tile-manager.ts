/**
 * The tile manager of one cache and one grid: a hit is the stored bytes as
 * they are; a miss asks the sources for the whole meta tile (once, under a
 * lock shared by every process on the cache), splits it, stores the tiles
 * atomically and answers from them. Concurrent misses inside one meta tile
 * share one creation in-process; the lock file covers other processes.
 * With bulk_meta_tiles, tile sources (which answer only their own tiles) get
 * one request per tile of the meta tile instead, under the same lock.
 */
import { RequestError, SourceError } from '../errors.ts';
import type { TileGrid, TileCoord } from '../grid/tile-grid.ts';
import { MetaGrid, type MetaTile } from '../grid/meta-grid.ts';
import { decodeImage, decodeImageTiles, encodeImage, sniffImageFormat } from '../image/codec.ts';
import { compositeOver } from '../image/composite.ts';
import { looksComplete, type ImageFormat } from '../image/format.ts';
import { applyOpacity } from '../image/encode.ts';
import { createRaster, releaseBuffer, type Raster, type Rgba } from '../image/raster.ts';
import { splitRaster, stitchTiles } from '../image/stitch.ts';
import type { BandMerger } from '../image/band-merge.ts';
import { transformExtent, type ResamplingMethod } from '../image/resample.ts';
import type { Source, SourceImage } from '../source/source.ts';
import { Semaphore } from '../util/semaphore.ts';
import { getLogger } from '../log/logger.ts';
import type { CacheBackend } from './file-cache.ts';
import { LockTimeoutError, lockFilename, type TileLocker } from './tile-lock.ts';
import { dimensionsPath } from '../layer/dimensions.ts';
import { metrics } from '../util/metrics.ts';
import { RenderCancelled, type RenderPriority, type RenderQueue } from '../render/queue.ts';
import type { RemoteCreator } from '../render/remote.ts';

const log = getLogger('mapproxy.cache.tile');

/** A tile as services answer it. */
export interface Tile {
  bytes: Uint8Array;
  /** Real format of the bytes (for `mixed` caches it may differ from the cache format). */
  format: ImageFormat;
  /** Seconds since the epoch: the file mtime for cached tiles, now for fresh ones. */
  mtime: number;
  /** False for substitute tiles (on_error without cache) that clients must not keep. */
  cacheable: boolean;
  /**
   * How the tile came to be (the X-Cache header): HIT fresh from the cache,
   * MISS created for this request, REFRESH stored but expired and created
   * again for this request, STALE expired and answered as it is
   * (stale-while-revalidate, stale-if-error), WAITING a placeholder while the
   * tile is still being created.
   */
  status?: TileStatus;
  /** Cache-Control for this answer instead of the service's (stale and waiting tiles). */
  cacheControl?: string;
}

export type TileStatus = 'HIT' | 'MISS' | 'REFRESH' | 'STALE' | 'WAITING';

/** A window in which expired tiles are still used, optionally only on some levels. */
export interface StaleWindow {
  /** seconds past expiry */
  seconds: number;
  /** levels it applies to (inclusive); undefined = all */
  levels?: [number, number];
}

/** The placeholder of `waiting_image`. */
export interface WaitingImage {
  /** milliseconds a creation may take before the placeholder is answered */
  afterMs: number;
  /** the encoded placeholder (tile size) */
  load(): Promise<Uint8Array>;
  cacheControl: string;
}

/** `prefetch`: after an on-demand miss, the tiles under it on the next levels, at the lowest priority. */
export interface PrefetchOptions {
  levels: number;
  /** prefetch creations of this cache queued or running at most */
  maxQueue: number;
}

/** Options of one getTiles call. */
export interface GetTilesOptions {
  /** Priority of the creations in the render queue (default the manager's, else on-demand). */
  priority?: RenderPriority;
}

/** Everything a tile manager needs, resolved from the config by core. */
export interface TileManagerOptions {
  cacheName: string;
  /** Stable identity of cache + grid: lock files are named after its hash. */
  identifier: string;
  grid: TileGrid;
  /** Storage format (file extension). */
  format: ImageFormat;
  /** Format asked from sources (request_format), as an extension. */
  requestFormat?: ImageFormat;
  backend: CacheBackend;
  sources: Source[];
  disableStorage: boolean;
  /** Encodes a tile in the cache's image options. */
  encode(r: Raster): Promise<Uint8Array>;
  /** Background for merging when the cache is not transparent (jpeg); undefined = transparent. */
  bgcolor?: Rgba;
  metaSize?: [number, number];
  metaBuffer?: number;
  minimizeMetaRequests?: boolean;
  /**
   * bulk_meta_tiles: when no source can answer meta requests (tile sources),
   * a miss fetches every tile of its meta tile (meta_size, no buffer) from
   * the sources, concurrent_tile_creators at a time, under one lock.
   */
  bulkMetaTiles?: boolean;
  /** sources as a mapping of bands: the output image is built band by band from the source images. */
  bandMerger?: BandMerger;
  /** Meta tiles created in parallel for one multi-tile request. */
  concurrentTileCreators?: number;
  /** File locks per meta tile; undefined = in-process coalescing only. */
  locker?: TileLocker;
  /** Tiles with an mtime at or before this timestamp (seconds) are refreshed (refresh_before). */
  refreshBefore?: () => number | undefined;
  /** link_single_color_images: uniform tiles stored once per colour and linked. */
  linkSingleColor?: 'symlink' | 'hardlink';
  /** Drawn into each new tile before it is encoded (watermark). */
  preStore?: (r: Raster, coord: TileCoord) => void;
  /** upscale_tiles (negative: from N coarser levels) / downscale_tiles (positive: from N finer levels). */
  rescaleTiles?: number;
  /** cache_rescaled_tiles: store what rescaling produced. */
  cacheRescaledTiles?: boolean;
  /** resampling of rescaled tiles */
  resampling?: ResamplingMethod;
  /** Answer the stored (stale) tile when refreshing it fails (default true; seeding wants the error). */
  staleOnError?: boolean;
  /** Dimension values (lower-case names) this manager's tiles are for: asked from the sources, stored apart. */
  dimensions?: Record<string, string>;
  /** The process's render queue: creations run through it by priority, identical ones coalesced. */
  queue?: RenderQueue;
  /** Priority of this manager's creations (default on-demand; seeding managers use seed). */
  priority?: RenderPriority;
  /** stale_while_revalidate: expired tiles within the window are answered at once and refreshed in the background. */
  staleWhileRevalidate?: StaleWindow;
  /** stale_if_error: expired tiles within the window are answered when creating them fails. */
  staleIfError?: StaleWindow;
  /** Cache-Control of stale answers (short, so clients come back for the refreshed tile). */
  staleCacheControl?: string;
  waitingImage?: WaitingImage;
  prefetch?: PrefetchOptions;
  /** MapProxy's cache identifier (`<cache>_<grid>`), as renderd knows it. */
  renderdId?: string;
  /** globals.renderd.address: a renderd creates the tiles into this cache. */
  remote?: RemoteCreator;
}

/** Hit -> bytes, miss -> meta tile from sources -> split -> store -> bytes. */
export class TileManager {
  /** tile key -> creation that will deliver it (or undefined if the sources had nothing) */
  private inflight = new Map<string, Promise<Map<string, Tile>>>();
  readonly metaGrid: MetaGrid | undefined;
  /** meta tiles are fetched tile by tile (bulk_meta_tiles) */
  readonly bulk: boolean;
  private blankTile: Promise<Tile> | undefined;
  /** prefetch creations of this manager queued or running */
  private prefetching = 0;
  private byDimensions = new Map<string, TileManager>();
  private readonly metricLabels: [string];

  constructor(readonly opts: TileManagerOptions) {
    this.metricLabels = [opts.cacheName];
    const ms = opts.metaSize ?? [1, 1];
    const mb = opts.metaBuffer ?? 0;
    const wantsMeta = mb > 0 || ms[0] !== 1 || ms[1] !== 1;
    const metaCapable = opts.sources.length > 0 && opts.sources.every((s) => s.supportsMetaTiles === true);
    const allTiled = opts.sources.length > 0 && opts.sources.every((s) => s.supportsMetaTiles !== true);
    // as MapProxy's TileManager: bulk mode only when every source is tiled and meta_size is more than one tile (a buffer alone does nothing)
    this.bulk = opts.bulkMetaTiles === true && allTiled && (ms[0] !== 1 || ms[1] !== 1);
    if (wantsMeta && metaCapable) this.metaGrid = new MetaGrid(opts.grid, ms, mb);
    else if (this.bulk) this.metaGrid = new MetaGrid(opts.grid, ms, 0);
  }

  get grid(): TileGrid {
    return this.opts.grid;
  }

  /**
   * The manager of the same cache for one combination of dimension values:
   * its tiles live in the cache's sub-directory for those values (MapProxy's
   * layout), its locks are its own and its source queries carry the values.
   */
  forDimensions(dims: Record<string, string>): TileManager {
    const rel = dimensionsPath(dims);
    if (!rel) return this;
    let tm = this.byDimensions.get(rel);
    if (!tm) {
      const backend = this.opts.backend.below?.(rel);
      if (!backend && !this.opts.disableStorage) throw new Error(`cache '${this.opts.cacheName}' cannot store dimension values`);
      tm = new TileManager({ ...this.opts, backend: backend ?? this.opts.backend, identifier: `${this.opts.identifier}/${rel}`, dimensions: dims });
      this.byDimensions.set(rel, tm);
    }
    return tm;
  }

  /** The cached tile without creating it (undefined when missing or due for refresh). */
  loadCached(coord: TileCoord): Tile | undefined {
    const hit = this.loadFresh(coord);
    if (hit) metrics.cacheHits.inc(this.metricLabels);
    return hit;
  }

  /** loadCached without counting a hit (re-checks after waiting for a lock are not requests). */
  private loadFresh(coord: TileCoord): Tile | undefined {
    const hit = this.loadStored(coord);
    return hit && notExpired(hit, this.opts.refreshBefore?.()) ? hit : undefined;
  }

  private loadStored(coord: TileCoord): Tile | undefined {
    if (this.opts.disableStorage) return undefined;
    const hit = this.opts.backend.load(coord);
    if (!hit) return undefined;
    return { bytes: hit.bytes, format: sniffImageFormat(hit.bytes) ?? this.opts.format, mtime: hit.mtime, cacheable: true, status: 'HIT' };
  }

  /**
   * Seconds an expired stored tile is past its expiry when `window` still
   * covers it (tile mtime against the refresh_before threshold), else undefined.
   */
  private staleWithin(tile: Tile, coord: TileCoord, window: StaleWindow | undefined): boolean {
    if (!window) return false;
    if (window.levels && (coord[2] < window.levels[0] || coord[2] > window.levels[1])) return false;
    const before = this.opts.refreshBefore?.();
    if (before === undefined) return false;
    return before - tile.mtime < window.seconds;
  }

  /** The tile, from the cache or newly created; an empty transparent tile where the sources have nothing. */
  async getTile(coord: TileCoord, opts: GetTilesOptions = {}): Promise<Tile> {
    if (this.opts.sources.length === 0) {
      const cached = this.loadCached(coord);
      if (cached) return cached;
      throw new RequestError('tile not cached and the cache has no sources', 404);
    }
    // getTilesDirect reads the stored tile once: a hit, a stale answer, or what it refreshes
    const made = this.getTiles([coord], opts).then(async ([tile]) => {
      if (tile && (tile.status === 'MISS' || tile.status === 'REFRESH')) this.prefetchBelow(coord, opts.priority);
      return tile ?? this.emptyTile();
    });
    const wait = this.opts.waitingImage;
    return wait ? this.waitOrPlaceholder(made, wait, coord) : made;
  }

  /** The tile if it is ready within the deadline, else the placeholder; the creation goes on either way. */
  private waitOrPlaceholder(made: Promise<Tile>, wait: WaitingImage, coord: TileCoord): Promise<Tile> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const placeholder = new Promise<Tile>((resolve) => {
      timer = setTimeout(async () => {
        made.catch((e) => log.warn(`${this.opts.cacheName}: creating tile ${coord.join('/')} in the background failed: ${(e as Error).message}`));
        const bytes = await wait.load();
        resolve({ bytes, format: sniffImageFormat(bytes) ?? this.opts.format, mtime: Date.now() / 1000, cacheable: false, status: 'WAITING', cacheControl: wait.cacheControl });
      }, wait.afterMs);
    });
    return Promise.race([made, placeholder]).finally(() => clearTimeout(timer));
  }

  /**
   * prefetch: the tiles under `coord` on the next levels, created at the
   * lowest priority when the queue has room (the queue drops them under load).
   */
  private prefetchBelow(coord: TileCoord, priority: RenderPriority | undefined): void {
    const pf = this.opts.prefetch;
    if (!pf || (priority ?? this.opts.priority ?? 'ondemand') !== 'ondemand') return;
    const grid = this.opts.grid;
    const [minx, miny, maxx, maxy] = grid.tileBbox(coord);
    // a hair inside, so tiles that only touch an edge are not counted
    const ex = (maxx - minx) * 1e-6, ey = (maxy - miny) * 1e-6;
    const inner: [number, number, number, number] = [minx + ex, miny + ey, maxx - ex, maxy - ey];
    const wanted: TileCoord[] = [];
    for (let z = coord[2] + 1; z <= Math.min(grid.levels - 1, coord[2] + pf.levels); z++) {
      let affected;
      try {
        affected = grid.affectedLevelTiles(inner, z);
      } catch {
        break;
      }
      for (const c of affected.tiles) if (c && !this.inflight.has(key(c)) && !this.loadFresh(c)) wanted.push(c);
    }
    for (const job of this.plan(wanted)) {
      if (this.prefetching >= pf.maxQueue) break;
      this.prefetching++;
      this.schedule(job, 'prefetch')
        .catch((e) => {
          if (!(e instanceof RenderCancelled)) log.warn(`${this.opts.cacheName}: prefetch of ${job.lockCoord.join('/')} failed: ${(e as Error).message}`);
        })
        .finally(() => this.prefetching--);
    }
  }

  /** Tiles for a list of coords (null = outside the grid): null where nothing exists or the sources had nothing. */
  async getTiles(coords: readonly (TileCoord | null)[], opts: GetTilesOptions = {}): Promise<(Tile | null)[]> {
    const out = await this.getTilesDirect(coords, opts);
    const rescale = this.opts.rescaleTiles ?? 0;
    const first = coords.find((c): c is TileCoord => c !== null);
    if (!rescale || !first || out.every((t, i) => t || !coords[i])) return out;
    const stop = Math.max(0, Math.min(this.opts.grid.levels - 1, first[2] + rescale));
    const memo = new Map<string, Tile | null>();
    return Promise.all(out.map((t, i) => t ?? (coords[i] ? this.rescaled(coords[i]!, stop, memo) : null)));
  }

  /**
   * Cached or created from the sources, without rescaling. Expired tiles
   * within the stale-while-revalidate window are answered as they are and
   * refreshed in the background; within the stale-if-error window they stand
   * in when creating them fails.
   */
  private async getTilesDirect(coords: readonly (TileCoord | null)[], opts: GetTilesOptions = {}): Promise<(Tile | null)[]> {
    const out: (Tile | null)[] = new Array(coords.length).fill(null);
    const missing: TileCoord[] = [];
    /** expired tiles as stored, by key */
    const expired = new Map<string, Tile>();
    const revalidate: TileCoord[] = [];
    const before = this.opts.refreshBefore?.();
    let hits = 0;
    for (let i = 0; i < coords.length; i++) {
      const c = coords[i];
      if (!c) continue;
      const stored = this.loadStored(c);
      if (stored && notExpired(stored, before)) {
        out[i] = stored;
        hits++;
        continue;
      }
      if (stored && this.staleWithin(stored, c, this.opts.staleWhileRevalidate)) {
        out[i] = { ...stored, status: 'STALE', cacheControl: this.opts.staleCacheControl };
        revalidate.push(c);
        metrics.staleServed.inc([this.opts.cacheName, 'revalidate']);
        continue;
      }
      if (stored) expired.set(key(c), stored);
      missing.push(c);
    }
    if (hits) metrics.cacheHits.inc(this.metricLabels, hits);
    if (revalidate.length) this.revalidate(revalidate);
    if (!missing.length || !this.opts.sources.length) return out;
    metrics.cacheMisses.inc(this.metricLabels, missing.length);
    let created: Map<string, Tile>;
    try {
      created = await this.create(missing, opts.priority ?? this.opts.priority ?? 'ondemand');
    } catch (e) {
      // stale-if-error: every missing tile has a stored one young enough
      const window = this.opts.staleIfError;
      if (!window || !(e instanceof SourceError || e instanceof LockTimeoutError)) throw e;
      created = new Map();
      for (const c of missing) {
        const old = expired.get(key(c));
        if (!old || !this.staleWithin(old, c, window)) throw e;
        created.set(key(c), { ...old, status: 'STALE', cacheControl: this.opts.staleCacheControl });
      }
      log.warn(`${this.opts.cacheName}: answering ${missing.length} expired tile(s) after: ${(e as Error).message}`);
      metrics.staleServed.inc([this.opts.cacheName, 'error'], missing.length);
    }
    for (let i = 0; i < coords.length; i++) {
      const c = coords[i];
      if (!c || out[i]) continue;
      const k = key(c);
      const t = created.get(k);
      if (!t) continue;
      out[i] = t.status === 'STALE' ? t : { ...t, status: expired.has(k) ? 'REFRESH' : 'MISS' };
    }
    return out;
  }

  /** Refreshes the meta tiles of expired tiles in the background, at refresh priority. */
  private revalidate(coords: TileCoord[]): void {
    for (const job of this.plan(coords.filter((c) => !this.inflight.has(key(c))))) {
      const p = this.schedule(job, 'refresh');
      for (const c of job.coords) if (!this.inflight.has(key(c))) this.inflight.set(key(c), p);
      p.catch((e) => log.warn(`${this.opts.cacheName}: background refresh of ${job.lockCoord.join('/')} failed: ${(e as Error).message}`)).finally(() => {
        for (const c of job.coords) if (this.inflight.get(key(c)) === p) this.inflight.delete(key(c));
      });
    }
  }

  /**
   * MapProxy's _scaled_tile: a missing tile made from the next level towards
   * `stop` (recursively, each tile tried once per request), scaled and clipped.
   */
  private async rescaled(coord: TileCoord, stop: number, memo: Map<string, Tile | null>): Promise<Tile | null> {
    const k = key(coord);
    if (memo.has(k)) return memo.get(k)!;
    memo.set(k, null);
    const z = coord[2];
    if (z === stop) return null;
    const grid = this.opts.grid;
    const bbox = grid.tileBbox(coord);
    let affected;
    try {
      affected = grid.affectedLevelTiles(bbox, stop > z ? z + 1 : z - 1);
    } catch {
      return null;
    }
    const coords = [...affected.tiles];
    const direct = await this.getTilesDirect(coords);
    const tiles = await Promise.all(direct.map((t, i) => t ?? (coords[i] ? this.rescaled(coords[i]!, stop, memo) : null)));
    if (tiles.every((t) => !t)) return null;
    const [tw, th] = grid.tileSize;
    const rasters = await Promise.all(tiles.map((t) => (t ? toRaster({ kind: 'encoded', bytes: t.bytes, format: t.format, cacheable: true }) : null)));
    const stitched = stitchTiles(rasters, affected.gridSize[0], affected.gridSize[1], tw, th);
    const r = transformExtent(stitched, affected.bbox, bbox, [tw, th], this.opts.resampling ?? 'bicubic');
    const bytes = await this.opts.encode(r);
    const cacheable = tiles.every((t) => !t || t.cacheable);
    const tile = this.opts.cacheRescaledTiles ? this.store(coord, bytes, cacheable) : this.tile(bytes, cacheable);
    memo.set(k, tile);
    return tile;
  }

  /** Creates the missing tiles, joining creations already running for any of them. */
  private async create(missing: TileCoord[], priority: RenderPriority): Promise<Map<string, Tile>> {
    const waits = new Set<Promise<Map<string, Tile>>>();
    const fresh: TileCoord[] = [];
    for (const c of missing) {
      const p = this.inflight.get(key(c));
      if (p) waits.add(p);
      else fresh.push(c);
    }
    // bulk meta tiles one after another, as MapProxy: each already uses concurrent_tile_creators requests
    const creators = new Semaphore(this.bulk ? 1 : Math.max(1, this.opts.concurrentTileCreators ?? 1));
    for (const job of this.plan(fresh)) {
      const p = creators.run(() => this.schedule(job, priority)).finally(() => {
        for (const c of job.coords) if (this.inflight.get(key(c)) === p) this.inflight.delete(key(c));
      });
      for (const c of job.coords) this.inflight.set(key(c), p);
      waits.add(p);
    }
    const results = await Promise.all(waits);
    const all = new Map<string, Tile>();
    for (const r of results) for (const [k, t] of r) all.set(k, t);
    // a coalesced creation of another shape (another manager's job for the same meta tile) stored them
    for (const c of missing) {
      if (all.has(key(c))) continue;
      const t = this.loadStored(c);
      if (t) all.set(key(c), t);
    }
    return all;
  }

  /** A job through the render queue (coalesced with the same meta tile anywhere in the process), or at once without one. */
  private schedule(job: Job, priority: RenderPriority): Promise<Map<string, Tile>> {
    const q = this.opts.queue;
    if (!q) return this.runJob(job, priority);
    return q.run(`${this.opts.identifier}\u0000${key(job.lockCoord)}`, priority, () => this.runJob(job, priority));
  }

  /** Which creations to run: one per meta tile, one minimal meta tile, or one per tile. */
  private plan(coords: TileCoord[]): Job[] {
    if (!coords.length) return [];
    const mg = this.metaGrid;
    if (!mg) return coords.map((c) => ({ coords: [c], lockCoord: c }));
    // a minimal meta tile would be one request, which tile sources cannot answer (MapProxy fails there): bulk keeps to meta tiles
    if (this.opts.minimizeMetaRequests && coords.length > 1 && !this.bulk) {
      const meta = mg.minimalMetaTile(coords);
      return [{ coords: meta.tiles.map((t) => t.coord).filter(isCoord), meta, lockCoord: mg.metaTileCoord(meta.mainTileCoord ?? coords[0]) }];
    }
    const seen = new Map<string, Job>();
    for (const c of coords) {
      const main = mg.metaTileCoord(c);
      const k = key(main);
      if (seen.has(k)) continue;
      const meta = mg.metaTile(c);
      seen.set(k, { coords: meta.tiles.map((t) => t.coord).filter(isCoord), meta, lockCoord: main });
    }
    return [...seen.values()];
  }

  /** Runs one job under the meta tile lock. */
  private async runJob(job: Job, priority: RenderPriority): Promise<Map<string, Tile>> {
    const remote = this.opts.remote;
    // the renderd takes the meta tile lock itself (it may be this very cache): ours has another name, as MapProxy's
    const lock = await this.lock(job.lockCoord, remote ? '_renderd' : '');
    try {
      // another process (or a seed) may have made them while we waited
      const already = new Map<string, Tile>();
      for (const c of job.coords) {
        const t = this.loadFresh(c);
        if (!t) break;
        already.set(key(c), t);
      }
      if (already.size === job.coords.length) return already;
      if (remote) {
        // MapProxy sends the meta tile's main (top-left) tile: the same id for the same work
        await remote.create(this.opts.renderdId ?? this.opts.cacheName, job.meta?.mainTileCoord ?? job.lockCoord, priority);
        const made = new Map<string, Tile>();
        for (const c of job.coords) {
          const t = this.loadStored(c);
          if (t) made.set(key(c), t);
        }
        return made;
      }
      if (job.meta && this.bulk) return await this.createBulk(job.meta);
      return job.meta ? await this.createMeta(job.meta) : await this.createSingle(job.coords[0]);
    } finally {
      lock?.release();
    }
  }

  private async lock(coord: TileCoord, suffix: string): Promise<{ release(): void } | undefined> {
    const locker = this.opts.locker;
    if (!locker) return undefined;
    const started = performance.now();
    try {
      const lock = await locker.lock(lockFilename(this.opts.identifier + suffix, coord));
      // an uncontended lock is a few file operations; longer means another creator held it
      const waited = (performance.now() - started) / 1000;
      if (waited > 0.005) {
        metrics.lockWaits.inc(this.metricLabels);
        metrics.lockWaitSeconds.inc(this.metricLabels, waited);
      }
      return lock;
    } catch (e) {
      if (e instanceof LockTimeoutError) {
        metrics.lockTimeouts.inc(this.metricLabels);
        // as MapProxy: better a duplicate upstream request than no tile
        log.warn(`${this.opts.cacheName}: ${e.message}; creating the tile without the lock`);
        return undefined;
      }
      throw e;
    }
  }

  private async createSingle(coord: TileCoord): Promise<Map<string, Tile>> {
    const { grid } = this.opts;
    const size: [number, number] = [grid.tileSize[0], grid.tileSize[1]];
    const bbox = grid.tileBbox(coord);
    let images: SourceImage[];
    try {
      images = await this.querySources(bbox, size);
    } catch (e) {
      const stale = e instanceof SourceError && this.opts.staleOnError !== false ? this.loadStored(coord) : undefined;
      if (stale) return new Map([[key(coord), stale]]);
      throw e;
    }
    const out = new Map<string, Tile>();
    if (this.onlyBlank(images)) return out;
    if (images.length === 1 && images[0].kind === 'raster' && images[0].authorizeStale) {
      const stale = this.loadStored(coord);
      if (stale) return new Map([[key(coord), stale]]);
    }
    const cacheable = images.every((i) => i.cacheable);
    const bytes = images.length === 1 ? this.passthrough(images[0]) : undefined;
    if (bytes) out.set(key(coord), this.store(coord, bytes, cacheable));
    else out.set(key(coord), await this.encodeAndStore(coord, await this.merge(images, size), cacheable));
    return out;
  }

  private async createMeta(meta: MetaTile): Promise<Map<string, Tile>> {
    const images = await this.querySources(meta.bbox, meta.size);
    const out = new Map<string, Tile>();
    if (this.onlyBlank(images)) return out;
    const cacheable = images.every((i) => i.cacheable);
    const [tw, th] = this.opts.grid.tileSize;
    const parts = meta.tiles.filter((t) => t.coord !== null);
    // a 1x1 meta tile without buffer is exactly one tile: keep upstream bytes
    if (parts.length === 1 && images.length === 1 && meta.size[0] === tw && meta.size[1] === th) {
      const bytes = this.passthrough(images[0]);
      if (bytes) {
        out.set(key(parts[0].coord!), this.store(parts[0].coord!, bytes, cacheable));
        return out;
      }
    }
    const crops = parts.map((p) => p.crop);
    let tiles = this.splitDirect(images, meta.size, crops);
    if (!tiles) {
      const raster = await this.merge(images, meta.size);
      tiles = splitRaster(raster, tw, th, crops);
      // decoded or composed here (no source's own raster, which it may keep): nobody else holds it
      if (!this.opts.bandMerger && images.every((i) => i.kind !== 'raster')) releaseBuffer(raster.data);
    }
    // the split copies are ours too, and unused once encoded
    const stored = await Promise.all(tiles.map((t, i) => this.encodeAndStore(parts[i].coord!, t, cacheable).finally(() => releaseBuffer(t.data))));
    for (let i = 0; i < parts.length; i++) out.set(key(parts[i].coord!), stored[i]);
    return out;
  }

  /**
   * bulk_meta_tiles: every tile of the meta tile from the sources, at most
   * concurrent_tile_creators at once; stored only when all succeeded (the
   * first error fails the meta tile), as MapProxy's _create_bulk_meta_tile.
   */
  private async createBulk(meta: MetaTile): Promise<Map<string, Tile>> {
    const coords = meta.tiles.map((t) => t.coord).filter(isCoord);
    const made: (PreparedTile | undefined)[] = new Array(coords.length);
    let next = 0;
    let failed = false;
    // workers stop taking tiles after the first error (MapProxy shuts its pool down)
    const worker = async () => {
      while (!failed && next < coords.length) {
        const i = next++;
        try {
          made[i] = await this.prepareFromSources(coords[i]);
        } catch (e) {
          failed = true;
          throw e;
        }
      }
    };
    const n = Math.max(1, Math.min(this.opts.concurrentTileCreators ?? 1, coords.length));
    await Promise.all(Array.from({ length: n }, worker));
    const out = new Map<string, Tile>();
    for (const p of made) if (p) out.set(key(p.coord), this.storePrepared(p));
    return out;
  }

  /** One tile from the sources, encoded but not stored; undefined where the only source has nothing. */
  private async prepareFromSources(coord: TileCoord): Promise<PreparedTile | undefined> {
    const { grid } = this.opts;
    const size: [number, number] = [grid.tileSize[0], grid.tileSize[1]];
    const images = await this.querySources(grid.tileBbox(coord), size);
    if (this.onlyBlank(images)) return undefined;
    const cacheable = images.every((i) => i.cacheable);
    const bytes = images.length === 1 ? this.passthrough(images[0]) : undefined;
    if (bytes) return { coord, bytes, cacheable };
    return this.prepare(coord, await this.merge(images, size), cacheable);
  }

  private async encodeAndStore(coord: TileCoord, r: Raster, cacheable: boolean): Promise<Tile> {
    return this.storePrepared(await this.prepare(coord, r, cacheable));
  }

  /** Watermark, encode and (for link_single_color_images) find the uniform colour of a new tile. */
  private async prepare(coord: TileCoord, r: Raster, cacheable: boolean): Promise<PreparedTile> {
    this.opts.preStore?.(r, coord);
    const bytes = await this.opts.encode(r);
    const linking = this.opts.linkSingleColor && this.opts.backend.storeSingleColor && cacheable && !this.opts.disableStorage;
    return { coord, bytes, cacheable, color: linking ? singleColor(r) : undefined };
  }

  private storePrepared(p: PreparedTile): Tile {
    const backend = this.opts.backend;
    const link = this.opts.linkSingleColor;
    if (p.color && link && backend.storeSingleColor) {
      backend.storeSingleColor(p.coord, p.bytes, p.color, link);
      metrics.tilesCreated.inc(this.metricLabels);
      return this.tile(p.bytes, p.cacheable);
    }
    return this.store(p.coord, p.bytes, p.cacheable);
  }

  private store(coord: TileCoord, bytes: Uint8Array, cacheable: boolean): Tile {
    metrics.tilesCreated.inc(this.metricLabels);
    if (cacheable && !this.opts.disableStorage) this.opts.backend.store(coord, bytes);
    return this.tile(bytes, cacheable);
  }

  private tile(bytes: Uint8Array, cacheable: boolean): Tile {
    return { bytes, format: sniffImageFormat(bytes) ?? this.opts.format, mtime: Date.now() / 1000, cacheable };
  }

  private querySources(bbox: [number, number, number, number], size: [number, number]): Promise<SourceImage[]> {
    const { grid, sources } = this.opts;
    const query = { bbox, size, srs: grid.srs, format: this.opts.requestFormat ?? this.opts.format, dimensions: this.opts.dimensions };
    return Promise.all(sources.map((s) => s.getMap(query)));
  }

  /** MapProxy stores nothing when a single source has nothing there (a band merge stores its blank image). */
  private onlyBlank(images: SourceImage[]): boolean {
    return !this.opts.bandMerger && images.length === 1 && images[0].kind === 'blank';
  }

  /** Upstream bytes stored as they are when they already are the cache format. */
  private passthrough(img: SourceImage): Uint8Array | undefined {
    if (img.kind !== 'encoded' || this.opts.sources[0].opacity !== undefined || this.opts.bandMerger) return undefined;
    // these need the pixels
    if (this.opts.linkSingleColor || this.opts.preStore) return undefined;
    const want = this.opts.format === 'jpg' ? 'jpeg' : this.opts.format;
    const have = sniffImageFormat(img.bytes);
    if (have !== want || !looksComplete(img.bytes)) return undefined;
    return img.bytes;
  }

  /**
   * The tiles of a meta tile decoded straight from the one source's image
   * when nothing is merged into it (no band merger, background or opacity)
   * and codec.ts's decodeImageTiles takes it: without the meta-tile-sized
   * raster in between. Undefined otherwise: merge and split.
   */
  private splitDirect(images: SourceImage[], size: [number, number], crops: readonly (readonly [number, number])[]): Raster[] | undefined {
    if (images.length !== 1 || this.opts.bandMerger || this.opts.bgcolor) return undefined;
    const img = images[0];
    const opacity = this.opts.sources[0]?.opacity;
    if (img.kind !== 'encoded' || (opacity !== undefined && opacity < 1)) return undefined;
    const [tw, th] = this.opts.grid.tileSize;
    // an image of another size is merge's error to report
    return decodeImageTiles(img.bytes, size, tw, th, crops);
  }

  /** Source images bottom to top, with opacity, over the background; or band by band with a band merger. */
  private async merge(images: SourceImage[], size: [number, number]): Promise<Raster> {
    const bands = this.opts.bandMerger;
    if (bands) {
      // as MapProxy's BandMerger: no opacity, and any source without data makes the whole image blank
      const rasters = await Promise.all(images.map((img) => (img.kind === 'blank' ? null : toRaster(img))));
      let merged: Raster | null;
      try {
        merged = bands.merge(rasters, size);
      } catch (e) {
        throw new SourceError((e as Error).message);
      }
      // MapProxy's BlankImageSource: the background, white unless set, transparent unless the cache is opaque
      return merged ?? createRaster(size[0], size[1], this.opts.bgcolor ?? [255, 255, 255, 0]);
    }
    let out: Raster | undefined = this.opts.bgcolor ? createRaster(size[0], size[1], this.opts.bgcolor) : undefined;
    for (const [i, img] of images.entries()) {
      if (img.kind === 'blank') continue;
      const opacity = this.opts.sources[i]?.opacity;
      let r = await toRaster(img);
      if (r.width !== size[0] || r.height !== size[1]) {
        throw new SourceError(`source image has size ${r.width}x${r.height}, expected ${size[0]}x${size[1]}`);
      }
      if (opacity !== undefined && opacity < 1) r = applyOpacity(r, opacity);
      out = out ? compositeOver(out, r) : r;
    }
    return out ?? createRaster(size[0], size[1]);
  }

  /** A transparent tile for places without data (not stored), as MapProxy's empty_response. */
  emptyTile(): Promise<Tile> {
    this.blankTile ??= (async () => {
      const [w, h] = this.opts.grid.tileSize;
      const bytes = await encodeImage(createRaster(w, h), { format: 'png' });
      return { bytes, format: 'png', mtime: Date.now() / 1000, cacheable: true };
    })();
    return this.blankTile;
  }
}

/** A new tile, encoded and waiting to be stored. */
interface PreparedTile {
  coord: TileCoord;
  bytes: Uint8Array;
  cacheable: boolean;
  /** its colour when uniform and link_single_color_images stores it linked */
  color?: number[];
}

interface Job {
  /** tiles this job delivers */
  coords: TileCoord[];
  meta?: MetaTile;
  /** the meta tile's first tile: one lock per meta tile */
  lockCoord: TileCoord;
}

/** The colour of a uniform raster (RGB when opaque, as MapProxy names the file; RGBA otherwise), else undefined. */
export function singleColor(r: Raster): number[] | undefined {
  const d = r.data;
  const n = d.length;
  const c0 = d[0], c1 = d[1], c2 = d[2], c3 = d[3];
  for (let i = 4; i < n; i += 4) {
    if (d[i] !== c0 || d[i + 1] !== c1 || d[i + 2] !== c2 || d[i + 3] !== c3) return undefined;
  }
  return c3 === 255 ? [c0, c1, c2] : [c0, c1, c2, c3];
}

/** refresh_before: a tile at or before the threshold (seconds, whole seconds of the mtime) is due. */
function notExpired(t: Tile, before: number | undefined): boolean {
  return before === undefined || Math.trunc(t.mtime) > before;
}

function key(c: readonly [number, number, number]): string {
  return `${c[2]}/${c[0]}/${c[1]}`;
}

function isCoord(c: TileCoord | null): c is TileCoord {
  return c !== null;
}

async function toRaster(img: SourceImage): Promise<Raster> {
  if (img.kind === 'raster') return img.raster;
  if (img.kind === 'blank') throw new Error('blank has no raster');
  try {
    return await decodeImage(img.bytes);
  } catch (e) {
    throw new SourceError(`unreadable image from source: ${(e as Error).message}`);
  }
}
