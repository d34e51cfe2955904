/**
 * A cache as a map layer: any bbox, size and SRS answered from its tiles,
 * stitched at the level MapProxy would pick, then cropped, scaled or
 * reprojected. Used by WMS layers and by caches that use another cache as
 * a source.
 */
import { RequestError } from '../errors.ts';
import { GridError, NoTilesError, type TileGrid, type TileCoord } from '../grid/tile-grid.ts';
import type { TileManager, Tile } from '../cache/tile-manager.ts';
import { decodeImageInto } from '../image/codec.ts';
import type { ClipRect } from '../image/png-decode.ts';
import { createRaster, type Raster } from '../image/raster.ts';
import { extentSourceWindow, pasteRaster, transformExtent, type ResamplingMethod } from '../image/resample.ts';
import { axesSourceWindow, meshSourceWindow, reprojectRaster, separableAxes, transformMesh } from '../image/transform.ts';
import { isSameSrs, preferredSource, type PreferredSrc, type Srs } from '../srs/srs.ts';
import type { Bbox } from '../srs/types.ts';
import { bboxPositionInImage } from '../source/wms.ts';
import type { MapExtent, MapQuery, ResRange, Source, SourceImage } from '../source/source.ts';
import { SourceError } from '../errors.ts';

/** Options of a cache layer. */
export interface CacheLayerOptions {
  name: string;
  /** One tile manager per grid of the cache, in config order. */
  managers: TileManager[];
  resampling: ResamplingMethod;
  /** Requests needing this many tiles or more are refused (globals max_tile_limit). */
  maxTileLimit?: number;
  /** cache coverage (else the grid bbox) */
  extent?: MapExtent;
  opacity?: number;
  transparent?: boolean;
  resRange?: ResRange;
  preferredSrc?: PreferredSrc;
}

/** Answers map queries from cached tiles. */
export class CacheMapLayer implements Source {
  readonly type = 'cache';
  readonly supportsMetaTiles = true;
  readonly name: string;
  readonly opacity?: number;
  readonly transparent?: boolean;
  readonly resRange?: ResRange;
  readonly extent: MapExtent;
  private extents = new Map<string, Bbox | undefined>();

  constructor(readonly opts: CacheLayerOptions) {
    if (!opts.managers.length) throw new Error(`cache layer '${opts.name}' has no grids`);
    this.name = opts.name;
    this.opacity = opts.opacity;
    this.transparent = opts.transparent;
    this.resRange = opts.resRange;
    const g = opts.managers[0].grid;
    this.extent = opts.extent ?? { bbox: [g.bbox[0], g.bbox[1], g.bbox[2], g.bbox[3]], srs: g.srs };
  }

  /** The tile manager whose grid serves requests in `srs` (MapProxy's SRSConditional choice). */
  managerFor(srs: Srs): TileManager {
    return preferredSource(srs, this.opts.managers, (m) => m.grid.srs, this.opts.preferredSrc)!;
  }

  async getMap(q: MapQuery): Promise<SourceImage> {
    // a cache used as a source passes the dimension values on to its own tiles
    const tm = q.dimensions ? this.managerFor(q.srs).forDimensions(q.dimensions) : this.managerFor(q.srs);
    const ext = this.extentIn(q.srs) ?? q.bbox;
    if (!(ext[0] < q.bbox[2] && ext[2] > q.bbox[0] && ext[1] < q.bbox[3] && ext[3] > q.bbox[1])) return { kind: 'blank', cacheable: true };
    if (ext[0] > q.bbox[0] || ext[1] > q.bbox[1] || ext[2] < q.bbox[2] || ext[3] < q.bbox[3]) {
      // only the part inside the extent: no tiles are fetched for empty margins
      const pos = bboxPositionInImage(q.bbox, q.size, ext);
      if (!pos) return { kind: 'blank', cacheable: true };
      const sub = await this.image(tm, { ...q, bbox: pos.bbox, size: pos.size });
      if (!sub) return { kind: 'blank', cacheable: true };
      const out = createRaster(q.size[0], q.size[1]);
      pasteRaster(out, sub.raster, pos.offset[0], pos.offset[1]);
      return { kind: 'raster', raster: out, cacheable: sub.cacheable };
    }
    const direct = await this.exactTile(tm, q);
    if (direct) return direct;
    const img = await this.image(tm, q);
    return img ? { kind: 'raster', raster: img.raster, cacheable: img.cacheable } : { kind: 'blank', cacheable: true };
  }

  /** The extent in `srs`, transformed once per SRS (it is asked on every request); undefined if it cannot be. */
  private extentIn(srs: Srs): Bbox | undefined {
    if (isSameSrs(this.extent.srs, srs)) return this.extent.bbox;
    if (!this.extents.has(srs.code)) {
      let b: Bbox | undefined;
      try {
        b = this.extent.srs.transformBbox(this.extent.bbox, srs);
      } catch {
        b = undefined;
      }
      this.extents.set(srs.code, b);
    }
    return this.extents.get(srs.code);
  }

  /** A query that is exactly one tile of the grid: its bytes, undecoded. */
  private async exactTile(tm: TileManager, q: MapQuery): Promise<SourceImage | undefined> {
    const g = tm.grid;
    if (!isSameSrs(g.srs, q.srs) || q.size[0] !== g.tileSize[0] || q.size[1] !== g.tileSize[1]) return undefined;
    let affected;
    try {
      affected = g.affectedTiles(q.bbox, q.size, q.srs);
    } catch {
      return undefined;
    }
    if (affected.gridSize[0] !== 1 || affected.gridSize[1] !== 1) return undefined;
    const tol = (q.bbox[2] - q.bbox[0]) / q.size[0] / 10;
    const b = affected.bbox;
    if (Math.abs(b[0] - q.bbox[0]) > tol || Math.abs(b[1] - q.bbox[1]) > tol || Math.abs(b[2] - q.bbox[2]) > tol || Math.abs(b[3] - q.bbox[3]) > tol) return undefined;
    const [coord] = [...affected.tiles];
    if (!coord) return { kind: 'blank', cacheable: true };
    const [tile] = await tm.getTiles([coord]);
    if (!tile) return { kind: 'blank', cacheable: true };
    return { kind: 'encoded', bytes: tile.bytes, format: tile.format, cacheable: tile.cacheable };
  }

  /** Stitch, then scale or reproject into the query; undefined when no tile exists. */
  private async image(tm: TileManager, q: MapQuery): Promise<{ raster: Raster; cacheable: boolean } | undefined> {
    const g: TileGrid = tm.grid;
    let affected;
    try {
      affected = g.affectedTiles(q.bbox, q.size, q.srs);
    } catch (e) {
      if (e instanceof NoTilesError) return undefined;
      if (e instanceof GridError) throw new RequestError(e.message, 400, 'InvalidParameterValue');
      throw e;
    }
    const [cols, rows] = affected.gridSize;
    const limit = this.opts.maxTileLimit ?? 500;
    if (cols * rows >= limit) throw new RequestError(`too many tiles, max_tile_limit: ${limit}, num_tiles: ${cols * rows}`, 400);
    const coords = [...affected.tiles] as (TileCoord | null)[];
    const tiles = await tm.getTiles(coords);
    if (tiles.every((t) => !t)) return undefined;
    const [tw, th] = g.tileSize;
    const cacheable = tiles.every((t) => !t || t.cacheable);
    const srcBbox: Bbox = affected.bbox;
    const sameSrs = isSameSrs(g.srs, q.srs);
    // The stitched image is only the part of the tiles the scaling or the
    // reprojection reads.
    const [fullW, fullH] = [cols * tw, rows * th];
    const axesFull = sameSrs ? undefined : separableAxes([fullW, fullH], srcBbox, g.srs, q.size, q.bbox, q.srs);
    const axes = axesFull && axesSourceWindow(axesFull, fullW, fullH);
    const mesh = sameSrs || axes ? undefined : meshSourceWindow(transformMesh([fullW, fullH], srcBbox, g.srs, q.size, q.bbox, q.srs), fullW, fullH);
    const [wx0, wy0, wx1, wy1] = axes ? axes.window : mesh ? mesh.window : extentSourceWindow(fullW, fullH, srcBbox, q.bbox, q.size);
    const stitched = createRaster(wx1 - wx0, wy1 - wy0);
    await Promise.all(tiles.map((t, i) => {
      if (!t) return undefined;
      // A tile of the wrong size is clipped to its cell, as stitchTiles does.
      const x = (i % cols) * tw - wx0;
      const y = Math.floor(i / cols) * th - wy0;
      if (x >= stitched.width || y >= stitched.height || x + tw <= 0 || y + th <= 0) return undefined;
      return decodeTileInto(t, stitched, x, y, [x, y, x + tw, y + th]);
    }));
    const stitchedBbox = windowBbox(srcBbox, fullW, fullH, [wx0, wy0, wx1, wy1]);
    const raster = axes || mesh
      ? reprojectRaster(stitched, stitchedBbox, g.srs, q.bbox, q.size, q.srs, { method: this.opts.resampling, axes: axes?.axes, mesh: mesh?.quads })
      : transformExtent(stitched, stitchedBbox, q.bbox, q.size, this.opts.resampling);
    return { raster, cacheable };
  }
}

async function decodeTileInto(t: Tile, dst: Raster, x: number, y: number, clip: ClipRect): Promise<void> {
  try {
    await decodeImageInto(t.bytes, dst, x, y, clip);
  } catch (e) {
    throw new SourceError(`unreadable cached tile: ${(e as Error).message}`);
  }
}

/** The bbox of pixels x0, y0, x1, y1 of a w x h image covering `b`. */
function windowBbox(b: Bbox, w: number, h: number, [x0, y0, x1, y1]: readonly number[]): Bbox {
  if (x0 === 0 && y0 === 0 && x1 === w && y1 === h) return b;
  const rx = (b[2] - b[0]) / w;
  const ry = (b[3] - b[1]) / h;
  return [b[0] + x0 * rx, b[3] - y1 * ry, b[0] + x1 * rx, b[3] - y0 * ry];
}

/**
 * use_direct_from_level/res: requests finer than `resolution` (in the grid's
 * SRS) bypass the cache and go straight to the cache's single source.
 */
export class ResolutionConditionalLayer implements Source {
  readonly type = 'resolution-conditional';
  readonly supportsMetaTiles = true;
  readonly name: string;
  readonly extent: MapExtent;
  readonly opacity?: number;
  readonly transparent?: boolean;
  readonly resRange?: ResRange;

  constructor(
    readonly cached: CacheMapLayer,
    readonly direct: Source,
    readonly resolution: number,
    readonly srs: Srs,
  ) {
    this.name = cached.name;
    this.extent = cached.extent;
    this.opacity = cached.opacity;
    this.transparent = cached.transparent;
    this.resRange = cached.resRange;
  }

  async getMap(q: MapQuery): Promise<SourceImage> {
    const b = isSameSrs(q.srs, this.srs) ? q.bbox : q.srs.transformBbox(q.bbox, this.srs);
    const res = Math.min((b[2] - b[0]) / q.size[0], (b[3] - b[1]) / q.size[1]);
    return res > this.resolution ? this.cached.getMap(q) : this.direct.getMap(q);
  }
}
