/**
 * The tile manager of one cache and one grid: a hit is the stored bytes as
 * they are; a miss asks the sources, encodes once, stores atomically and
 * answers the same bytes. Concurrent misses for one tile share one creation.
 */
import { RequestError, SourceError } from '../errors.ts';
import type { TileGrid } from '../grid/tile-grid.ts';
import { decodeImage, encodeImage, sniffImageFormat } from '../image/codec.ts';
import { compositeOver } from '../image/composite.ts';
import { createRaster, type Raster } from '../image/raster.ts';
import type { ImageFormat } from '../image/format.ts';
import type { Source, SourceImage } from '../source/source.ts';
import type { TileCoord } from '../grid/tile-grid.ts';
import type { CacheBackend } from './file-cache.ts';

/** A tile as services answer it. */
export interface Tile {
  bytes: Uint8Array;
  /** Real format of the bytes (for `mixed` caches it may differ from the cache format). */
  format: ImageFormat;
  /** Seconds since the epoch: the file mtime for cached tiles, now for fresh ones. */
  mtime: number;
  /** False for substitute tiles (on_error without cache) that clients must not keep. */
  cacheable: boolean;
}

/** Everything a tile manager needs, resolved from the config by core. */
export interface TileManagerOptions {
  cacheName: string;
  grid: TileGrid;
  format: ImageFormat;
  backend: CacheBackend;
  sources: Source[];
  disableStorage: boolean;
  jpegQuality: number;
}

/** Hit -> bytes, miss -> sources -> store -> bytes. */
export class TileManager {
  private inflight = new Map<string, Promise<Tile>>();
  constructor(readonly opts: TileManagerOptions) {}

  get grid(): TileGrid {
    return this.opts.grid;
  }

  /** The cached tile without creating it (undefined when missing). */
  loadCached(coord: TileCoord): Tile | undefined {
    if (this.opts.disableStorage) return undefined;
    const hit = this.opts.backend.load(coord);
    if (!hit) return undefined;
    return { bytes: hit.bytes, format: sniffImageFormat(hit.bytes) ?? this.opts.format, mtime: hit.mtime, cacheable: true };
  }

  /** The tile, from the cache or newly created; coord must be valid for the grid. */
  async getTile(coord: TileCoord): Promise<Tile> {
    const cached = this.loadCached(coord);
    if (cached) return cached;
    const key = `${coord[2]}/${coord[0]}/${coord[1]}`;
    let p = this.inflight.get(key);
    if (!p) {
      p = this.createTile(coord).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private async createTile(coord: TileCoord): Promise<Tile> {
    const { grid, sources, format } = this.opts;
    if (sources.length === 0) throw new RequestError('tile not cached and the cache has no sources', 404);
    const bbox = grid.tileBbox(coord);
    const size: [number, number] = [grid.tileSize[0], grid.tileSize[1]];
    const query = { bbox, size, srs: grid.srs, format };
    const images = await Promise.all(sources.map((s) => s.getMap(query)));
    const cacheable = images.every((i) => i.cacheable);
    const bytes = await this.encode(images, size);
    if (cacheable && !this.opts.disableStorage) this.opts.backend.store(coord, bytes);
    return { bytes, format: sniffImageFormat(bytes) ?? format, mtime: Date.now() / 1000, cacheable };
  }

  /** One encoded tile from the source answers: pass through when a single source already has the format. */
  private async encode(images: SourceImage[], size: [number, number]): Promise<Uint8Array> {
    const fmt = this.opts.format;
    if (images.length === 1) {
      const img = images[0];
      if (img.kind === 'encoded' && img.format === fmt) return img.bytes;
    }
    let out: Raster | undefined;
    for (const img of images) {
      const r = await toRaster(img, size);
      if (r.width !== size[0] || r.height !== size[1]) {
        throw new SourceError(`source image has size ${r.width}x${r.height}, expected ${size[0]}x${size[1]}`);
      }
      out = out ? compositeOver(out, r) : r;
    }
    const target = fmt === 'jpeg' || fmt === 'jpg' ? 'jpeg' : 'png';
    return encodeImage(out ?? createRaster(size[0], size[1], [255, 255, 255, 0]), { format: target, jpegQuality: this.opts.jpegQuality });
  }
}

async function toRaster(img: SourceImage, size: [number, number]): Promise<Raster> {
  if (img.kind === 'raster') return img.raster;
  if (img.kind === 'blank') return createRaster(size[0], size[1], [255, 255, 255, 0]);
  return decodeImage(img.bytes);
}
