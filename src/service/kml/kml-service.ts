/**
 * KML 2.2 super-overlay service (/kml), MapProxy's KMLServer: one KML document per
 * tile with Regions, NetworkLinks to the next level and GroundOverlays of its
 * images, plus the image tiles themselves, with HTTP caching and 304s.
 */
import { createHash } from 'node:crypto';
import { RequestError } from '../../errors.ts';
import { tileManagerFor, type TileLayer, type TileLayerIndex } from '../../layer/tile-layer.ts';
import { getLogger } from '../../log/logger.ts';
import { baseUrl, notModified, NO_CACHE_HEADERS } from '../../server/http.ts';
import { failure, tileCacheControl, tileResponse } from '../tile-response.ts';
import type { TileCoord } from '../../grid/tile-grid.ts';
import { tileServiceGrid, type TileServiceGrid } from '../tms/tile-service-grid.ts';
import { renderKmlDocument } from './kml-document.ts';
import { KmlLayerIndex, type KmlLayer } from './kml-layers.ts';
import { parseKmlPath, type KmlRequest } from './kml-request.ts';
import { kmlToInternal, subTiles, wgsBbox } from './kml-tiles.ts';

const log = getLogger('mapproxy.service.kml');

/** Mime type of KML documents. */
export const KML_MIME = 'application/vnd.google-earth.kml+xml';

/** Options of `services.kml` (and what it takes from globals). */
export interface KmlOptions {
  /** Tile layers; `useGridNames` comes from services.kml.use_grid_names. */
  index: TileLayerIndex;
  /** max-age in seconds for documents and tiles. */
  maxTileAge: number;
  /** Access-Control-Allow-Origin for successful answers ('' = none); the app adds it to the rest. */
  corsOrigin: string;
}

const OUTSIDE = 'The requested tile is outside the bounding box of the tile map.';

/** The KML service; `handle` answers one request under /kml. */
export class KmlService {
  private layers: KmlLayerIndex;
  private grids = new WeakMap<TileLayer, TileServiceGrid>();
  private cacheControl: string;

  constructor(readonly opts: KmlOptions) {
    this.layers = new KmlLayerIndex(opts.index);
    this.cacheControl = tileCacheControl(opts.maxTileAge);
  }

  /** Answer a request whose path (URL pathname) starts with /kml. */
  async handle(req: Request, path: string): Promise<Response> {
    try {
      if (path !== '/kml' && !path.startsWith('/kml/')) throw new RequestError(`invalid request (${path})`, 404);
      const r = parseKmlPath(path.slice(4));
      const entry = this.layers.find(r.layer, r.spec);
      if (!entry) throw new RequestError(`unknown layer: ${r.layer}`, 404);
      const sg = this.sg(entry.layer);
      const coord = r.coord && kmlToInternal(sg, r.coord);
      // MapProxy checks the format of image requests before the coords
      if (r.ext !== 'kml') checkFormat(entry.layer, r.ext);
      if (!coord) throw new RequestError(OUTSIDE, 404, 'TileOutOfRange');
      return r.ext === 'kml' ? this.document(req, r, entry, sg, coord) : await this.tile(req, entry.layer, coord);
    } catch (e) {
      return this.error(e);
    }
  }

  private sg(layer: TileLayer): TileServiceGrid {
    let sg = this.grids.get(layer);
    if (!sg) this.grids.set(layer, (sg = tileServiceGrid(layer.grid)));
    return sg;
  }

  private document(req: Request, r: KmlRequest, entry: KmlLayer, sg: TileServiceGrid, coord: TileCoord): Response {
    const layer = entry.layer;
    const kml = renderKmlDocument({
      name: r.layer,
      bbox: wgsBbox(layer.grid, layer.grid.tileBbox(coord, true)),
      subtiles: subTiles(sg, coord),
      baseHref: `${baseUrl(req)}/kml/${entry.namePath.map(encodeURIComponent).join('/')}`,
      format: imageExt(layer),
      tileSize: layer.grid.tileSize[0],
    });
    // documents carry absolute URLs, so they differ per host/prefix; the ETag is of the text (MapProxy: md5 of the result)
    const etag = createHash('md5').update(kml).digest('hex');
    const headers: Record<string, string> = {
      ETag: etag,
      'Cache-Control': this.cacheControl,
      Vary: 'X-Script-Name, X-Forwarded-Host, X-Forwarded-Proto',
    };
    if (this.opts.corsOrigin) headers['Access-Control-Allow-Origin'] = this.opts.corsOrigin;
    // no Last-Modified for documents, so only If-None-Match can make them conditional (as in MapProxy)
    if (req.headers.has('if-none-match') && notModified(req, etag, Number.NaN)) return new Response(null, { status: 304, headers });
    headers['Content-Type'] = KML_MIME;
    return new Response(kml, { headers });
  }

  private async tile(req: Request, layer: TileLayer, coord: TileCoord): Promise<Response> {
    // hits are answered without awaiting anything: the common case stays synchronous
    const tm = tileManagerFor(layer);
    const tile = tm.loadCached(coord) ?? (await tm.getTile(coord));
    return tileResponse(req, tile, this.cacheControl, this.opts.corsOrigin);
  }

  private error(e: unknown): Response {
    const { status, msg } = failure(e, log);
    // MapProxy's PlainExceptionHandler: the message as text/plain
    return new Response(msg, { status, headers: { 'Content-Type': 'text/plain; charset=utf-8', ...NO_CACHE_HEADERS } });
  }
}

/** Extension of a layer's image tiles in KML links; a mixed cache's tiles are linked as png. */
function imageExt(layer: TileLayer): string {
  return layer.format === 'mixed' ? 'png' : layer.format;
}

/** Image URLs must name the cache format; a mixed cache answers PNG or JPEG whatever the URL says, as in MapProxy. */
function checkFormat(layer: TileLayer, ext: string): void {
  if (ext === layer.format) return;
  if (layer.format === 'mixed' && /^(png|jpe?g|mixed)$/.test(ext)) return;
  throw new RequestError(`invalid format (${ext}). this tile set only supports (${layer.format})`, 404, 'InvalidParameterValue');
}
