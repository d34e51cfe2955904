/**
 * TMS 1.0.0 (/tms) and the plain tile service (/tiles): capabilities, tiles with
 * MapProxy's profile level shift (TMS only), origin flipping, HTTP caching and 304s.
 */
import { RequestError } from '../../errors.ts';
import { getLogger } from '../../log/logger.ts';
import { tileManagerFor, type TileLayer, type TileLayerIndex } from '../../layer/tile-layer.ts';
import { baseUrl, NO_CACHE_HEADERS } from '../../server/http.ts';
import { failure, tileCacheControl, tileResponse } from '../tile-response.ts';
import type { TileCoord } from '../../grid/tile-grid.ts';
import { pyFloat, xmlEscape } from '../../util/py-format.ts';
import { internalTileCoord, publicBbox, tileServiceGrid, tileSets, type TileServiceGrid } from './tile-service-grid.ts';

const log = getLogger('mapproxy.service.tile');

/** Options of `services.tms` (and what it takes from globals and wms.md). */
export interface TmsOptions {
  index: TileLayerIndex;
  /** Default origin of /tiles ('nw' makes it XYZ). */
  origin?: 'sw' | 'nw';
  /** max-age in seconds for tiles. */
  maxTileAge: number;
  title: string;
  abstract: string;
  /** Access-Control-Allow-Origin for tile responses ('' = none); the app adds it to everything else. */
  corsOrigin: string;
}

/** Parsed tile URL. */
interface TileRequestParts {
  layer: string;
  spec?: string;
  coord: TileCoord;
  ext: string;
}

/** A layer as tile URLs name it, resolved once. */
interface TileRoute {
  layer: TileLayer;
  sg: TileServiceGrid;
}

const TILE_RE = /^\/(?:1\.0\.0\/)?([^/]+)\/(?:([^/]+)\/)?(-?\d+)\/(-?\d+)\/(-?\d+)\.(\w+)$/;

/** The TMS and /tiles service; `handle` answers one request under /tms or /tiles. */
export class TmsService {
  private grids = new WeakMap<TileLayer, TileServiceGrid>();
  /** URL layer segment -> spec segment ('' for none) -> route; see route(). */
  private routes = new Map<string, Map<string, TileRoute>>();
  private cacheControl: string;
  constructor(readonly opts: TmsOptions) {
    this.cacheControl = tileCacheControl(opts.maxTileAge);
  }

  private sg(layer: TileLayer): TileServiceGrid {
    let sg = this.grids.get(layer);
    if (!sg) this.grids.set(layer, (sg = tileServiceGrid(layer.grid)));
    return sg;
  }

  /**
   * The layer a tile URL's layer and spec segments name, with its grid view,
   * remembered per segment pair: the lookup runs for every tile request. Only
   * pairs that name a layer are kept, so unknown names cannot grow the map.
   */
  private route(name: string, spec: string | undefined): TileRoute | undefined {
    const bySpec = this.routes.get(name);
    const known = bySpec?.get(spec ?? '');
    if (known) return known;
    const layer = this.opts.index.find(name, spec);
    if (!layer) return undefined;
    const route: TileRoute = { layer, sg: this.sg(layer) };
    if (bySpec) bySpec.set(spec ?? '', route);
    else this.routes.set(name, new Map([[spec ?? '', route]]));
    return route;
  }

  /**
   * Answer a request whose path starts with /tms or /tiles; `query` is the raw
   * query string ('' for none). A cache hit is answered synchronously: every
   * promise on the hot path costs a microtask turn per request.
   */
  handle(req: Request, path: string, query = ''): Response | Promise<Response> {
    const tms = path === '/tms' || path.startsWith('/tms/');
    const rest = path.slice(tms ? 4 : 6);
    try {
      // a tile first: the hot path; tile paths and the capability documents' paths never overlap
      const parts = parseTilePath(rest);
      if (!parts) {
        if (tms) {
          if (rest === '' || rest === '/') return this.rootResource(req);
          const cap = /^\/1\.0\.0\/?(?:\/?([^/]+))?(?:\/([^/]+))?\/?$/.exec(rest);
          if (cap) return cap[1] === undefined ? this.capabilities(req) : this.tileMap(req, decodeSegment(cap[1]), cap[2] && decodeSegment(cap[2]));
        }
        throw new RequestError(`invalid request (${path})`, 404);
      }
      let origin: 'sw' | 'nw' | undefined;
      if (tms) origin = 'sw';
      else {
        const o = query ? new URLSearchParams(query).get('origin') : null;
        origin = o === 'sw' || o === 'nw' ? o : this.opts.origin;
      }
      const r = this.tile(req, parts, origin, tms);
      return r instanceof Promise ? r.catch((e) => this.error(e, tms)) : r;
    } catch (e) {
      return this.error(e, tms);
    }
  }

  private tile(req: Request, p: TileRequestParts, origin: 'sw' | 'nw' | undefined, useProfiles: boolean): Response | Promise<Response> {
    const route = this.route(p.layer, p.spec);
    if (!route) throw new RequestError(`unknown layer: ${p.layer}`, 404);
    const { layer, sg } = route;
    // a mixed cache answers PNG or JPEG whatever the URL says, as MapProxy does
    if (p.ext !== layer.format && !(layer.format === 'mixed' && /^(png|jpe?g|mixed)$/.test(p.ext))) {
      throw new RequestError(`invalid format (${p.ext}). this tile set only supports (${layer.format})`, 404, 'InvalidParameterValue');
    }
    let coord = internalTileCoord(sg, p.coord, useProfiles);
    if (!coord) throw new RequestError('The requested tile is outside the bounding box of the tile map.', 404, 'TileOutOfRange');
    const gridOrigin = layer.grid.origin;
    if ((origin === 'nw' && gridOrigin !== 'nw') || (origin === 'sw' && gridOrigin !== 'sw')) {
      coord = [coord[0], layer.grid.gridSizes[coord[2]][1] - 1 - coord[1], coord[2]];
    }
    // hits are answered without awaiting anything: the common case stays synchronous
    // a layer with dimensions serves their defaults here, as MapProxy's TMS does
    const tm = layer.dimensions ? tileManagerFor(layer) : layer.tileManager;
    const hit = tm.loadCached(coord);
    if (hit) return tileResponse(req, hit, this.cacheControl, this.opts.corsOrigin);
    return tm.getTile(coord).then((tile) => tileResponse(req, tile, this.cacheControl, this.opts.corsOrigin));
  }

  private rootResource(req: Request): Response {
    const url = `${baseUrl(req)}/tms/`;
    const xml = `<?xml version="1.0"?>
<Services>
  <TileMapService title="${xmlEscape(this.opts.title)}" version="1.0.0" href="${xmlEscape(url)}1.0.0/" />
</Services>
`;
    return xmlResponse(xml);
  }

  private capabilities(req: Request): Response {
    const base = `${baseUrl(req)}/tms/1.0.0`;
    const maps = this.opts.index.layers
      .map(({ layer, namePath }) => {
        const sg = this.sg(layer);
        return `    <TileMap title="${xmlEscape(layer.title)}" srs="${xmlEscape(sg.srsName)}" profile="${sg.profile}" href="${xmlEscape(`${base}/${namePath.map(encodeURIComponent).join('/')}`)}" />`;
      })
      .join('\n');
    const xml = `<?xml version="1.0"?>
<TileMapService version="1.0.0">
  <Title>${xmlEscape(this.opts.title)}</Title>
  <Abstract>${xmlEscape(this.opts.abstract)}</Abstract>
  <TileMaps>
${maps}
  </TileMaps>
</TileMapService>
`;
    return xmlResponse(xml);
  }

  private tileMap(req: Request, name: string, spec: string | undefined): Response {
    const layer = this.opts.index.find(name, spec);
    if (!layer) throw new RequestError(`unknown layer: ${name}`, 404);
    const entry = this.opts.index.layers.find((e) => e.layer === layer)!;
    const url = `${baseUrl(req)}/tms/1.0.0/${entry.namePath.map(encodeURIComponent).join('/')}`;
    const sg = this.sg(layer);
    const bb = publicBbox(sg).map(pyFloat);
    const sets = tileSets(sg)
      .map(([order, res]) => `    <TileSet href="${xmlEscape(url)}/${order}" units-per-pixel="${pyFloat(res)}" order="${order}" />`)
      .join('\n');
    const xml = `<?xml version="1.0"?>
<TileMap version="1.0.0">
  <Title>${xmlEscape(layer.title)}</Title>
  <Abstract></Abstract>
  <SRS>${xmlEscape(sg.srsName)}</SRS>
  <BoundingBox minx="${bb[0]}" miny="${bb[1]}" maxx="${bb[2]}" maxy="${bb[3]}" />
  <Origin x="${bb[0]}" y="${bb[1]}" />
  <TileFormat width="${layer.grid.tileSize[0]}" height="${layer.grid.tileSize[1]}" mime-type="${xmlEscape(layer.formatMime)}" extension="${xmlEscape(layer.format === 'mixed' ? 'png' : layer.format)}" />
  <TileSets profile="${sg.profile}">
${sets}
  </TileSets>
</TileMap>
`;
    return xmlResponse(xml);
  }

  private error(e: unknown, tms: boolean): Response {
    const { status, msg } = failure(e, log);
    if (tms) {
      const xml = `<?xml version="1.0"?>
<TileMapServerError>
    <Message>${xmlEscape(msg)}</Message>
</TileMapServerError>`;
      return new Response(xml, { status, headers: { 'Content-Type': 'text/xml; charset=utf-8', ...NO_CACHE_HEADERS } });
    }
    return new Response(msg, { status, headers: { 'Content-Type': 'text/plain; charset=utf-8', ...NO_CACHE_HEADERS } });
  }
}

function decodeSegment(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    throw new RequestError(`invalid path segment: ${s}`, 404);
  }
}

/** Parse `/LAYER[/SPEC]/z/x/y.ext` (with optional /1.0.0 prefix); undefined if it is not one. */
function parseTilePath(rest: string): TileRequestParts | undefined {
  const m = TILE_RE.exec(rest);
  if (!m) return undefined;
  const z = Number(m[3]);
  const x = Number(m[4]);
  const y = Number(m[5]);
  if (!Number.isSafeInteger(x) || !Number.isSafeInteger(y) || !Number.isSafeInteger(z)) return undefined;
  return { layer: decodeSegment(m[1]), spec: m[2] === undefined ? undefined : decodeSegment(m[2]), coord: [x, y, z], ext: m[6] };
}

function xmlResponse(xml: string): Response {
  return new Response(xml, {
    headers: { 'Content-Type': 'text/xml', Vary: 'X-Script-Name, X-Forwarded-Host, X-Forwarded-Proto' },
  });
}
