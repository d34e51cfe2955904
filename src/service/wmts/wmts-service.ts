/**
 * WMTS 1.0.0: KVP (GetCapabilities, GetTile, GetFeatureInfo on /service and
 * /ows) and RESTful (/wmts/1.0.0/WMTSCapabilities.xml, tiles and feature info
 * by URL template), with dimensions, HTTP caching and 304s as for TMS, and
 * OWS exception reports for every bad request.
 */
import { RequestError } from '../../errors.ts';
import type { TileCoord, TileGrid } from '../../grid/tile-grid.ts';
import { tileManagerFor, type TileLayer } from '../../layer/tile-layer.ts';
import { getLogger } from '../../log/logger.ts';
import { baseUrl, NO_CACHE_HEADERS } from '../../server/http.ts';
import { failure, tileCacheControl, tileResponse } from '../tile-response.ts';
import { xmlEscape } from '../../util/py-format.ts';
import { combineFeatureInfo } from '../wms/featureinfo.ts';
import { formatExt, wmtsCapabilities, type WmtsLayer } from './capabilities.ts';
import { INFO_REQUIRED, TILE_REQUIRED, WmtsUrlTemplate } from './url-template.ts';

const log = getLogger('mapproxy.service.wmts');

/** Default RESTful templates, MapProxy's. */
export const DEFAULT_TEMPLATE = '/{Layer}/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.{Format}';
export const DEFAULT_INFO_TEMPLATE = '/{Layer}/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}/{I}/{J}.{InfoFormat}';

/** Options of `services.wmts`. */
export interface WmtsOptions {
  /** Tile layers with grid names as published (use_grid_names: true). */
  tileLayers: TileLayer[];
  md: Record<string, unknown>;
  kvp: boolean;
  restful: boolean;
  restfulTemplate: string;
  restfulInfoTemplate: string;
  /** feature info suffix -> mime type (featureinfo_formats) */
  infoFormats: Map<string, string>;
  maxTileAge: number;
  corsOrigin: string;
  /** Whether a WMS service answers GetLegendGraphic (for LegendURLs of layers with legends). */
  wmsLegends: boolean;
}

/** The request of a tile or feature info, once parsed from KVP or a URL. */
interface TileQuery {
  layer: string;
  matrixSet: string;
  matrix: string;
  row: string;
  col: string;
  format?: string;
  style?: string;
  dimensions: Map<string, string>;
}

const TILE_PARAMS = ['version', 'request', 'layer', 'style', 'tilematrixset', 'tilematrix', 'tilerow', 'tilecol', 'format'];
const KNOWN_PARAMS = new Set([...TILE_PARAMS, 'service', 'infoformat', 'i', 'j', 'feature_count']);

/** WMTS KVP and RESTful, one instance for both (they share layers and matrix sets). */
export class WmtsService {
  readonly kvp: boolean;
  readonly restful: boolean;
  readonly restfulTemplate: string;
  private template: WmtsUrlTemplate;
  private infoTemplate: WmtsUrlTemplate;
  /** layer name -> WMTS layer */
  readonly layers = new Map<string, WmtsLayer>();
  /** grid name -> grid, for TileMatrixSets */
  readonly matrixSets = new Map<string, TileGrid>();
  private cacheControl: string;

  /** Throws Error for a template without its required variables (the builder makes it a ConfigError). */
  constructor(readonly opts: WmtsOptions) {
    this.kvp = opts.kvp;
    this.restful = opts.restful;
    this.template = new WmtsUrlTemplate(opts.restfulTemplate, TILE_REQUIRED);
    this.infoTemplate = new WmtsUrlTemplate(opts.restfulInfoTemplate, INFO_REQUIRED);
    this.restfulTemplate = this.template.template;
    this.cacheControl = tileCacheControl(opts.maxTileAge);
    for (const tl of opts.tileLayers) {
      if (!tl.grid.supportsAccessWithOrigin('nw')) {
        log.warn(`skipping layer '${tl.name}' for WMTS, grid '${tl.gridName}' of cache '${tl.cacheName}' is not compatible with WMTS`);
        continue;
      }
      if (!this.matrixSets.has(tl.gridName)) this.matrixSets.set(tl.gridName, tl.grid);
      let l = this.layers.get(tl.name);
      if (!l) this.layers.set(tl.name, (l = { name: tl.name, grids: new Map(), first: tl }));
      l.grids.set(tl.gridName, tl);
    }
  }

  /** A KVP request (SERVICE=WMTS) on /service or /ows; `params` are the query parameters. */
  async handleKvp(req: Request, path: string, params: URLSearchParams): Promise<Response> {
    const p = new Map<string, string>();
    for (const [k, v] of params) if (!p.has(k.toLowerCase())) p.set(k.toLowerCase(), v);
    try {
      const type = (p.get('request') ?? '').toLowerCase().replace(/^get/, '');
      if (type === 'capabilities') return this.capabilities(req, `${baseUrl(req)}${path}`, false);
      if (type !== 'tile' && type !== 'featureinfo') {
        if (!p.has('request')) throw new RequestError("missing parameters ['request']", 400, 'MissingParameterValue');
        throw new RequestError(`unknown WMTS request type '${p.get('request')}'`, 501, 'OperationNotSupported');
      }
      const expected = type === 'tile' ? TILE_PARAMS : [...TILE_PARAMS.filter((x) => x !== 'format'), 'infoformat', 'i', 'j'];
      const missing = expected.filter((k) => !p.has(k));
      if (missing.length) throw new RequestError(`missing parameters [${missing.map((m) => `'${m}'`).join(', ')}]`, 400, 'MissingParameterValue');
      const dims = new Map<string, string>();
      for (const [k, v] of p) if (!KNOWN_PARAMS.has(k)) dims.set(k, v);
      const q: TileQuery = {
        layer: p.get('layer')!,
        matrixSet: p.get('tilematrixset')!,
        matrix: p.get('tilematrix')!,
        row: p.get('tilerow')!,
        col: p.get('tilecol')!,
        format: p.get('format'),
        style: p.get('style'),
        dimensions: dims,
      };
      if (type === 'tile') return await this.tile(req, q);
      return await this.featureInfo(q, p.get('infoformat')!, p.get('i')!, p.get('j')!, p.get('feature_count'));
    } catch (e) {
      return this.error(e);
    }
  }

  /** A RESTful request; `rest` is the path below /wmts ('/1.0.0/WMTSCapabilities.xml', '/osm/GLOBAL_WEBMERCATOR/3/4/2.png'). */
  handleRest(req: Request, rest: string): Response | Promise<Response> {
    // a cache hit is answered synchronously (no promise on the hot path)
    try {
      if (rest === '/1.0.0/WMTSCapabilities.xml') return this.capabilities(req, `${baseUrl(req)}/wmts`, true);
      const tile = this.template.match(rest);
      if (tile) {
        const r = this.tile(req, this.restQuery(tile, this.template));
        return r instanceof Promise ? r.catch((e) => this.error(e)) : r;
      }
      return this.restInfo(rest);
    } catch (e) {
      return this.error(e);
    }
  }

  private async restInfo(rest: string): Promise<Response> {
    try {
      const info = this.infoTemplate.match(rest);
      if (info) {
        const q = this.restQuery(info, this.infoTemplate);
        return await this.featureInfo(q, info.get('InfoFormat') ?? '', info.get('I')!, info.get('J')!, undefined);
      }
      throw new RequestError(`invalid request (${rest.length > 200 ? `${rest.slice(0, 200)}...` : rest})`, 404);
    } catch (e) {
      return this.error(e);
    }
  }

  private restQuery(vars: Map<string, string>, t: WmtsUrlTemplate): TileQuery {
    const dims = new Map<string, string>();
    for (const d of t.dimensions) dims.set(d.toLowerCase(), vars.get(d)!);
    const q: TileQuery = {
      layer: vars.get('Layer')!,
      matrixSet: vars.get('TileMatrixSet')!,
      matrix: vars.get('TileMatrix')!,
      row: vars.get('TileRow')!,
      col: vars.get('TileCol')!,
      format: vars.get('Format'),
      style: vars.get('Style'),
      dimensions: dims,
    };
    // a template dimension the layer does not have may only say 'default' (MapProxy's check)
    const layer = this.layers.get(q.layer);
    if (layer) {
      for (const [k, v] of dims) {
        if (!layer.first.dimensions?.has(k) && v !== 'default') throw new RequestError(`unknown dimension: ${k}`, 400, 'InvalidParameterValue');
      }
    }
    return q;
  }

  /** The tile layer and internal tile coordinate a query addresses (checks layer, set, style, matrix, row and column). */
  private resolve(q: TileQuery): { layer: TileLayer; coord: TileCoord } {
    const wl = this.layers.get(q.layer);
    if (!wl) throw new RequestError(`unknown layer: ${q.layer}`, 400, 'InvalidParameterValue');
    const layer = wl.grids.get(q.matrixSet);
    if (!layer) throw new RequestError(`unknown tilematrixset: ${q.matrixSet}`, 400, 'InvalidParameterValue');
    if (q.style !== undefined && q.style !== '' && q.style.toLowerCase() !== 'default') {
      throw new RequestError(`unknown style: ${q.style}`, 400, 'InvalidParameterValue');
    }
    const int = (v: string, what: string) => {
      if (!/^-?\d{1,9}$/.test(v.trim())) throw new RequestError(`invalid ${what}: ${v}`, 400, 'InvalidParameterValue');
      return Number(v);
    };
    const z = int(q.matrix, 'TileMatrix');
    const x = int(q.col, 'TileCol');
    const yFromTop = int(q.row, 'TileRow');
    const g = layer.grid;
    if (z < 0 || z >= g.resolutions.length) throw new RequestError(`unknown TileMatrix: ${q.matrix}`, 400, 'InvalidParameterValue');
    const [cols, rows] = g.gridSizes[z];
    if (x < 0 || yFromTop < 0 || x >= cols || yFromTop >= rows) {
      throw new RequestError('The requested tile is outside the bounding box of the tile map.', 400, 'TileOutOfRange');
    }
    const y = g.origin === 'nw' ? yFromTop : rows - 1 - yFromTop;
    return { layer, coord: [x, y, z] };
  }

  private tile(req: Request, q: TileQuery): Response | Promise<Response> {
    const { layer, coord } = this.resolve(q);
    const want = formatExt(layer);
    if (q.format !== undefined) {
      const f = (q.format.includes('/') ? q.format.split('/')[1] : q.format).split(';')[0].trim().toLowerCase();
      if (f !== want && !(want === 'jpeg' && f === 'jpg')) {
        throw new RequestError(`invalid format (${q.format}). this tile set only supports (${want})`, 400, 'InvalidParameterValue');
      }
    }
    const tm = tileManagerFor(layer, q.dimensions);
    const hit = tm.loadCached(coord);
    if (hit) return tileResponse(req, hit, this.cacheControl, this.opts.corsOrigin);
    return tm.getTile(coord).then((tile) => tileResponse(req, tile, this.cacheControl, this.opts.corsOrigin));
  }

  private async featureInfo(q: TileQuery, infoFormat: string, i: string, j: string, featureCount: string | null | undefined): Promise<Response> {
    const { layer, coord } = this.resolve(q);
    const formats = this.opts.infoFormats;
    let mime: string | undefined;
    if (infoFormat.includes('/')) mime = [...formats.values()].includes(infoFormat) ? infoFormat : undefined;
    else mime = formats.get(infoFormat);
    if (!mime) throw new RequestError(`unknown infoformat: ${infoFormat}`, 400, 'InvalidParameterValue');
    if (!layer.infoSources.length) throw new RequestError(`layer ${layer.name} not queryable`, 501, 'OperationNotSupported');
    const [tw, th] = layer.grid.tileSize;
    const px = /^\d{1,9}$/.test(i) ? Number(i) : NaN;
    const py = /^\d{1,9}$/.test(j) ? Number(j) : NaN;
    if (!(px < tw) || !(py < th)) throw new RequestError(`invalid point ${i},${j}: I and J must be pixels of the tile`, 400, 'PointIJOutOfRange');
    // checked like a tile request: an unknown dimension value is an error here too
    tileManagerFor(layer, q.dimensions);
    const bbox = layer.grid.tileBbox(coord);
    const fc = featureCount != null && /^\d+$/.test(featureCount) ? Number(featureCount) : undefined;
    const docs: { body: string; mime: string }[] = [];
    for (const src of layer.infoSources) {
      const r = await src.getFeatureInfo({ bbox, size: [tw, th], srs: layer.grid.srs, pos: [px, py], infoFormat: mime, featureCount: fc });
      docs.push({ body: new TextDecoder().decode(r.body), mime: r.mime });
    }
    if (!docs.length) return new Response('', { headers: { 'Content-Type': mime } });
    // answered as the requested type, as MapProxy does
    return new Response(combineFeatureInfo(docs).body, { headers: { 'Content-Type': `${mime}; charset=utf-8` } });
  }

  private capabilities(req: Request, url: string, restful: boolean): Response {
    const dimensionKeys = new Map(this.template.dimensions.map((d) => [d.toLowerCase(), d]));
    const base = baseUrl(req);
    const xml = wmtsCapabilities({
      md: this.opts.md,
      url,
      restful,
      template: this.template.template,
      infoTemplate: this.infoTemplate.template,
      dimensionKeys: restful ? dimensionKeys : undefined,
      layers: [...this.layers.values()],
      grids: this.matrixSets,
      infoFormats: this.opts.infoFormats,
      legendUrl: (l) => {
        const fixed = restful ? l.legendUrls?.rest : l.legendUrls?.kvp;
        if (fixed) return fixed;
        if (l.hasWmsLegend && this.opts.wmsLegends) {
          return `${base}/service?service=WMS&request=GetLegendGraphic&version=1.1.1&format=image%2Fpng&style=default&layer=${encodeURIComponent(l.name)}`;
        }
        return undefined;
      },
    });
    return new Response(xml, { headers: { 'Content-Type': 'application/xml', Vary: 'X-Script-Name, X-Forwarded-Host, X-Forwarded-Proto' } });
  }

  private error(e: unknown): Response {
    const f = failure(e, log);
    const { status, msg } = f;
    const code = f.code ?? 'NoApplicableCode';
    const xml = `<?xml version="1.0"?>
<ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows/1.1" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.opengis.net/ows/1.1 http://schemas.opengis.net/ows/1.1.0/owsExceptionReport.xsd" version="1.0.0" xml:lang="en">
  <ows:Exception exceptionCode="${xmlEscape(code)}">
    <ows:ExceptionText>${xmlEscape(msg)}</ows:ExceptionText>
  </ows:Exception>
</ows:ExceptionReport>
`;
    const headers: Record<string, string> = { 'Content-Type': 'text/xml; charset=utf-8', ...NO_CACHE_HEADERS };
    if (this.opts.corsOrigin) headers['Access-Control-Allow-Origin'] = this.opts.corsOrigin;
    return new Response(xml, { status, headers });
  }
}
