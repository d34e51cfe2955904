/**
 * WMS-C (WMS Tiling Client Recommendation): GetMap requests with TILED=true
 * must ask for exactly one tile of a cached layer's grid and are answered with
 * that tile as the cache stores it, and GetCapabilities with TILED=true lists
 * the cached layers as TileSets. Both as MapProxy 1.15 does them
 * (CacheMapLayer with query.tiled_only, WMSServer.tile_layers).
 */
import { RequestError } from '../../errors.ts';
import type { Tile } from '../../cache/tile-manager.ts';
import { GridError, NoTilesError } from '../../grid/tile-grid.ts';
import { CacheMapLayer, ResolutionConditionalLayer } from '../../layer/cache-layer.ts';
import { srsPathName, type TileLayer } from '../../layer/tile-layer.ts';
import { isSameSrs } from '../../srs/srs.ts';
import type { Bbox } from '../../srs/types.ts';
import { resRangeContains, type MapQuery, type Source, type SourceImage } from '../../source/source.ts';
import { tileServiceGrid, tileSets } from '../tms/tile-service-grid.ts';
import type { WmsTileSet } from './capabilities.ts';

/** What a source gave for a tiled request: the image, and the tile itself when it came from a cache. */
export interface TiledImage {
  image: SourceImage;
  /** the one cached tile the request matched (undecoded, with its mtime for the cache headers) */
  tile?: Tile;
}

/** MapProxy wraps grid failures of tiled requests in this text (MapBBOXError in LayerRenderer). */
function bboxError(reason: string): RequestError {
  return new RequestError(`Request too large or invalid BBOX. (${reason})`, 400);
}

/** MapProxy's MapError text for requests a cache cannot answer with one tile. */
function invalidRequest(reason: string): RequestError {
  return new RequestError(`Invalid request: ${reason}`, 400);
}

/**
 * One source's answer to a TILED=true GetMap. Caches check that format and
 * size are the tile's and that the bbox is one tile (within a tenth of a pixel,
 * MapProxy's bbox_equals) and hand out that tile, created through the tile
 * manager when missing; other sources (direct WMS and the like) render as
 * for any GetMap, as MapProxy ignores tiled_only there.
 */
export async function tiledImage(src: Source, q: MapQuery): Promise<TiledImage> {
  let s = src;
  if (s instanceof ResolutionConditionalLayer) {
    // use_direct_from_level/res: the same choice as ResolutionConditionalLayer.getMap
    const b = isSameSrs(q.srs, s.srs) ? q.bbox : q.srs.transformBbox(q.bbox, s.srs);
    const res = Math.min((b[2] - b[0]) / q.size[0], (b[3] - b[1]) / q.size[1]);
    s = res > s.resolution ? s.cached : s.direct;
  }
  if (!(s instanceof CacheMapLayer)) return { image: await s.getMap(q) };
  // check_res_range: outside the cache's resolution range the layer is left out
  if (!resRangeContains(s.resRange, q.bbox, q.size, q.srs.isLatLong)) return { image: { kind: 'blank', cacheable: true } };
  const base = s.managerFor(q.srs);
  const tm = q.dimensions ? base.forDimensions(q.dimensions) : base;
  const g = tm.grid;
  if (q.format !== tm.opts.format) throw invalidRequest(`invalid tile format, use ${tm.opts.format}`);
  if (q.size[0] !== g.tileSize[0] || q.size[1] !== g.tileSize[1]) throw invalidRequest(`invalid tile size (use ${g.tileSize[0]}x${g.tileSize[1]})`);
  let affected;
  try {
    affected = g.affectedTiles(q.bbox, q.size, q.srs);
  } catch (e) {
    if (e instanceof NoTilesError) return { image: { kind: 'blank', cacheable: true } };
    if (e instanceof GridError) throw bboxError(e.message);
    throw e;
  }
  const [cols, rows] = affected.gridSize;
  const limit = s.opts.maxTileLimit ?? 500;
  if (cols * rows >= limit) throw bboxError(`too many tiles, max_tile_limit: ${limit}, num_tiles: ${cols * rows}`);
  if (cols * rows > 1) throw bboxError('not a single tile');
  // the request bbox is compared as it is, even in another SRS than the grid's (as MapProxy)
  if (!bboxEquals(q.bbox, affected.bbox, Math.abs((q.bbox[2] - q.bbox[0]) / q.size[0] / 10), Math.abs((q.bbox[3] - q.bbox[1]) / q.size[1] / 10))) {
    throw bboxError('query does not align to tile boundaries');
  }
  const [coord] = [...affected.tiles];
  if (!coord) return { image: { kind: 'blank', cacheable: true } };
  const [tile] = await tm.getTiles([coord]);
  if (!tile) return { image: { kind: 'blank', cacheable: true } };
  return { image: { kind: 'encoded', bytes: tile.bytes, format: tile.format, cacheable: tile.cacheable }, tile };
}

/** MapProxy's bbox_equals: every coordinate closer than the delta. */
function bboxEquals(a: Bbox, b: Readonly<Bbox>, dx: number, dy: number): boolean {
  return Math.abs(a[0] - b[0]) < dx && Math.abs(a[1] - b[1]) < dy && Math.abs(a[2] - b[2]) < dx && Math.abs(a[3] - b[3]) < dy;
}

/**
 * The TileSets of the WMS capabilities: one per tile layer, keyed like MapProxy's
 * WMS tile_layers (`name_EPSGxxxx`), so a later layer with the same key takes the
 * place of the earlier one (a Map keeps the first position, as Python's odict).
 */
export function wmscTileSets(tileLayers: readonly TileLayer[]): WmsTileSet[] {
  const byKey = new Map<string, TileLayer>();
  for (const l of tileLayers) byKey.set(`${l.name}_${srsPathName(l.grid.srs.code)}`, l);
  return [...byKey.values()].map((l) => {
    const sg = tileServiceGrid(l.grid);
    const b = l.grid.bbox;
    return {
      srs: l.grid.srs.code,
      srsName: sg.srsName,
      // MapProxy's TileServiceGrid.bbox fails on a missing grid method and falls back
      // (through __getattr__) to the grid's own bbox, so that is what TileSets show
      bbox: [b[0], b[1], b[2], b[3]],
      resolutions: tileSets(sg).map(([, res]) => res),
      tileSize: l.grid.tileSize,
      // md['format'] is the cache's image format: 'mixed' stays 'mixed' there
      format: l.format === 'mixed' ? 'mixed' : l.formatMime,
      layer: l.name,
    };
  });
}
