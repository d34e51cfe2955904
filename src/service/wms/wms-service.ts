/**
 * The WMS service (/service, /ows, /wms): GetCapabilities, GetMap,
 * GetFeatureInfo and GetLegendGraphic for versions 1.0.0 to 1.3.0, with
 * MapProxy's checks, layer selection and exception formats.
 */
import { RequestError, SourceError, SrsError } from '../../errors.ts';
import { getLogger } from '../../log/logger.ts';
import { getSrs, isSameSrs, type Srs } from '../../srs/srs.ts';
import type { Bbox } from '../../srs/types.ts';
import { decodeImage } from '../../image/codec.ts';
import { compositeOver } from '../../image/composite.ts';
import { applyOpacity, encodeWithOptions, isMixedFormat } from '../../image/encode.ts';
import { mimeOf, sniffImageFormat } from '../../image/format.ts';
import type { GeoReference } from '../../image/tiff-encode.ts';
import type { ImageOptions } from '../../image/image-options.ts';
import { createRaster, fillRect, isOpaque as rasterIsOpaque, type Raster, type Rgba } from '../../image/raster.ts';
import { drawText, measureText, wrapText, GLYPH_HEIGHT } from '../../image/font.ts';
import { pasteRaster } from '../../image/resample.ts';
import { bboxPositionInImage, WmsSource } from '../../source/wms.ts';
import type { MapExtent, MapQuery, Source, SourceImage } from '../../source/source.ts';
import { infoSources, isOpaque, layerExtent, namedLayers, renderLayerSources, rendersQuery, type WmsLayer } from '../../layer/wms-layer.ts';
import { checkedDimensions, wmsRequestedDimensions } from '../../layer/dimensions.ts';
import { baseUrl, NO_CACHE_HEADERS } from '../../server/http.ts';
import { wmsCapabilities, wmsCapabilitiesMime, type WmsCapLayer } from './capabilities.ts';
import { tiledImage, wmscTileSets } from './wmsc.ts';
import type { TileLayer } from '../../layer/tile-layer.ts';
import { tileCacheControl, tileResponse } from '../tile-response.ts';
import { wmsExceptionXml } from './exceptions.ts';
import { infoMimeFor, infoTypeOf, mergeFeatureInfo, type InfoType } from './featureinfo.ts';
import { featureInfoBody, type XsltTransformer } from './featureinfo-xslt.ts';
import { concatLegends } from './legend.ts';
import { legendSize } from '../../source/wms-legend.ts';
import { parseMapParams, parseWmsRequest, type MapParams, type WmsParams, type WmsRequest, type WmsVersion } from './request.ts';

const log = getLogger('mapproxy.service.wms');

/** Options of `services.wms`, resolved by core. */
export interface WmsServiceOptions {
  /** top-level layers as configured (several are wrapped in an unnamed root) */
  layers: WmsLayer[];
  /** root layer title when several top-level layers exist (md.title) */
  md: Record<string, any>;
  srs: string[];
  /** bbox_srs: srs -> fixed extent (undefined = the layer extent) */
  srsExtents: Map<string, MapExtent | undefined>;
  /** offered formats: mime -> image options for encoding */
  imageFormats: Map<string, ImageOptions>;
  infoTypes: InfoType[];
  /** services.wms.featureinfo_xslt: info type -> stylesheet for the merged document */
  infoTransformers?: Map<InfoType, XsltTransformer>;
  versions: WmsVersion[];
  maxOutputPixels?: number;
  onSourceErrors: 'notify' | 'raise';
  attribution?: string;
  strict: boolean;
  /** globals.image.paletted: PNG output quantized to 8 bit unless the format says otherwise */
  paletted: boolean;
  maxTileAge: number;
  corsOrigin: string;
  /** cached layers per grid: the WMS-C TileSets of TILED=true capabilities */
  tileLayers?: TileLayer[];
  /** services.wms.inspire_md as configured (INSPIRE extended capabilities in 1.3.0) */
  inspireMd?: Record<string, any>;
}

/** One source of a GetMap with the query it is asked (its layer's dimension values in it). */
interface SourceQuery {
  source: Source;
  query: MapQuery;
}

/** Exception answer style chosen by EXCEPTIONS. */
type ExceptionStyle = 'xml' | 'inimage' | 'blank';

/** The WMS. */
export class WmsService {
  readonly layers: Map<string, WmsLayer>;
  constructor(readonly opts: WmsServiceOptions) {
    this.layers = namedLayers(opts.layers);
  }

  /** Answer one WMS request (any of the endpoints). */
  async handle(req: Request, search: URLSearchParams): Promise<Response> {
    const wreq = parseWmsRequest(search, this.opts.versions);
    let mapParams: MapParams | undefined;
    try {
      switch (wreq.type) {
        case 'capabilities':
          return await this.capabilities(req, wreq);
        case 'map':
          mapParams = parseMapParams(wreq);
          return await this.map(req, wreq, mapParams);
        case 'featureinfo':
          return await this.featureInfo(wreq);
        case 'legendgraphic':
          if (wreq.version !== '1.1.1' && wreq.version !== '1.3.0') throw new RequestError(`unknown WMS request type 'legendgraphic'`, 400, 'InvalidRequest');
          return await this.legendGraphic(wreq);
        default:
          throw new RequestError(wreq.type ? `unknown WMS request type '${wreq.type}'` : "missing parameters ['request']", 400, wreq.type ? 'InvalidRequest' : 'MissingParameterValue');
      }
    } catch (e) {
      return this.exception(e, wreq, mapParams);
    }
  }

  private exception(e: unknown, wreq: WmsRequest, mp: MapParams | undefined): Response | Promise<Response> {
    let err: RequestError;
    if (e instanceof RequestError) err = e;
    else if (e instanceof SourceError) err = new RequestError(e.message, 502);
    else if (e instanceof SrsError) err = new RequestError(e.message, 400, 'InvalidSRS');
    else {
      log.error(`internal error in WMS ${wreq.type}: ${(e as Error)?.stack ?? e}`);
      err = new RequestError('internal error', 500);
    }
    if (err.status >= 500) log.warn(`WMS ${wreq.type}: ${err.message}`);
    const style = this.exceptionStyle(wreq, err);
    if (style !== 'xml' && mp) return this.imageException(err, style, mp);
    const { body, contentType } = wmsExceptionXml(wreq.version, err.message, err.code);
    return new Response(body, { status: err.status, headers: { 'Content-Type': contentType, ...NO_CACHE_HEADERS } });
  }

  private exceptionStyle(wreq: WmsRequest, err: RequestError): ExceptionStyle {
    if (wreq.type !== 'map' || (err as RequestError & { xmlOnly?: boolean }).xmlOnly) return 'xml';
    const ex = (wreq.params.get('exceptions') ?? '').toLowerCase();
    if (ex.includes('image')) return 'inimage';
    if (ex.includes('blank')) return 'blank';
    return 'xml';
  }

  private async imageException(err: RequestError, style: ExceptionStyle, mp: MapParams): Promise<Response> {
    const { mime, opts } = this.outputFormat(mp.format, true);
    const bg = hexColor(mp.bgcolor);
    const [w, h] = [Math.min(mp.width, 4096), Math.min(mp.height, 4096)];
    const r = createRaster(w, h, mp.transparent ? [bg[0], bg[1], bg[2], 0] : bg);
    if (style === 'inimage') drawMessage(r, err.message, darkColor(bg) ? [255, 255, 255, 255] : [0, 0, 0, 255]);
    const bytes = await encodeWithOptions(r, { ...opts, transparent: mp.transparent }, { paletted: this.opts.paletted });
    const type = isMixedFormat(mime) ? mimeOf(sniffImageFormat(bytes) ?? 'png') : mime;
    return new Response(bytes as BodyInit, { status: 200, headers: { 'Content-Type': type, ...NO_CACHE_HEADERS } });
  }

  /** The configured image options for a requested format (FORMAT is matched as MapProxy does, 1.0.0 names too). */
  private outputFormat(format: string, lenient = false): { mime: string; opts: ImageOptions } {
    const f = format.trim();
    for (const [mime, opts] of this.opts.imageFormats) {
      if (mime === f || mime.toLowerCase() === f.toLowerCase()) return { mime: mime.split(';')[0].trim(), opts };
      // WMS 1.0.0 names formats without 'image/' (PNG, JPEG)
      if (!f.includes('/') && mime.split('/')[1]?.split(';')[0].toLowerCase() === f.toLowerCase()) return { mime: mime.split(';')[0].trim(), opts };
    }
    if (lenient) {
      const png = this.opts.imageFormats.get('image/png') ?? [...this.opts.imageFormats.values()][0];
      return { mime: 'image/png', opts: png };
    }
    throw new RequestError(`unsupported image format: ${format}`, 400, 'InvalidFormat');
  }

  private checkSrs(wreq: WmsRequest, code: string): Srs {
    const up = code.toUpperCase();
    if (!this.opts.srs.some((s) => s.toUpperCase() === up)) {
      const v130 = wreq.version === '1.3.0';
      throw new RequestError(`unsupported ${v130 ? 'crs' : 'srs'}: ${code}`, 400, v130 ? 'InvalidCRS' : 'InvalidSRS');
    }
    try {
      return getSrs(up);
    } catch (e) {
      throw new RequestError(`unsupported srs: ${code}`, 400, 'InvalidSRS');
    }
  }

  private checkLayers(names: string[]): WmsLayer[] {
    return names.map((n) => {
      const l = this.layers.get(n);
      if (!l) throw new RequestError(`unknown layer: ${n}`, 400, 'LayerNotDefined');
      return l;
    });
  }

  /** The request bbox in east/north order (WMS 1.3.0 uses the CRS axis order). */
  private requestBbox(wreq: WmsRequest, bbox: Bbox, srs: Srs): Bbox {
    return wreq.version === '1.3.0' && srs.axisOrderNE ? [bbox[1], bbox[0], bbox[3], bbox[2]] : bbox;
  }

  private async map(req: Request, wreq: WmsRequest, mp: MapParams): Promise<Response> {
    if (this.opts.maxOutputPixels && mp.width * mp.height > this.opts.maxOutputPixels) {
      const e = new RequestError('image size too large', 400, 'InvalidParameterValue') as RequestError & { xmlOnly?: boolean };
      e.xmlOnly = true;
      throw e;
    }
    const layers = this.checkLayers(mp.layers);
    const { mime, opts: imgOpts } = this.outputFormat(mp.format);
    const srs = this.checkSrs(wreq, mp.srs);
    const bbox = this.requestBbox(wreq, mp.bbox, srs);
    const size: [number, number] = [mp.width, mp.height];
    // dimension values are checked for every requested layer, whether it renders at this scale or not
    const dims = new Map<WmsLayer, Record<string, string> | undefined>();
    for (const l of layers) layerDimensions(l, wreq.params, dims);
    let query: MapQuery = { bbox, size, srs, format: mime.split('/')[1] ?? 'png' };
    const full = query;
    let offset: [number, number] | undefined;
    const limit = this.srsExtent(srs);
    if (limit && !(limit[0] <= bbox[0] && limit[1] <= bbox[1] && limit[2] >= bbox[2] && limit[3] >= bbox[3])) {
      const pos = bboxPositionInImage(bbox, size, limit);
      if (!pos) return this.encodeResponse(createRaster(size[0], size[1]), mp, mime, imgOpts, true, { bbox, srs });
      query = { ...query, bbox: pos.bbox, size: pos.size };
      offset = pos.offset;
    }
    let sources: SourceQuery[] = [];
    for (const l of layers) {
      if (!rendersQuery(l, query)) continue;
      if (isOpaque(l, query)) sources = [];
      for (const { layer, sources: own } of renderLayerSources(l, query)) {
        const values = layerDimensions(layer, wreq.params, dims);
        for (const s of own) sources.push({ source: s, query: sourceQuery(s, query, values, wreq.params) });
      }
    }
    let settled: PromiseSettledResult<SourceImage>[] | undefined;
    if (mp.tiled) {
      // WMS-C: caches answer with the one tile the request matches (MapProxy's tiled_only)
      const tiled = await Promise.allSettled(sources.map((s) => tiledImage(s.source, s.query)));
      const only = tiled.length === 1 && tiled[0].status === 'fulfilled' ? tiled[0].value : undefined;
      // LayerMerger hands a single opaque (or transparent as asked) layer image on unchanged
      if (only?.tile && !offset && (!sources[0].source.transparent || mp.transparent)) {
        return tileResponse(req, only.tile, tileCacheControl(this.opts.maxTileAge), this.opts.corsOrigin);
      }
      settled = tiled.map((r) => (r.status === 'fulfilled' ? { status: 'fulfilled', value: r.value.image } : r));
    }
    const { raster, cacheable } = await this.render(sources, query, settled);
    let out = raster;
    if (offset) {
      out = createRaster(full.size[0], full.size[1]);
      pasteRaster(out, raster, offset[0], offset[1]);
    }
    // tiled requests are tiles: MapProxy draws no attribution into them
    if (this.opts.attribution && !mp.tiled) drawAttribution(out, this.opts.attribution);
    return this.encodeResponse(out, mp, mime, imgOpts, cacheable, { bbox, srs });
  }

  /** bbox_srs with a fixed bbox limits GetMap to that extent. */
  private srsExtent(srs: Srs): Bbox | undefined {
    for (const [code, ext] of this.opts.srsExtents) {
      if (!ext) continue;
      const s = safeSrs(code);
      if (s && isSameSrs(s, srs) && code.toUpperCase() === srs.code.toUpperCase()) {
        return isSameSrs(ext.srs, srs) ? ext.bbox : ext.srs.transformBbox(ext.bbox, srs);
      }
    }
    return undefined;
  }

  /**
   * Renders sources and merges them bottom to top; on_source_errors decides what a failure does.
   * `settled` are the sources' answers when the caller already has them (tiled requests).
   * `q` is the query all sources share apart from their dimension values (its size is the result's).
   */
  private async render(sources: SourceQuery[], q: MapQuery, settled?: PromiseSettledResult<SourceImage>[]): Promise<{ raster: Raster; cacheable: boolean }> {
    const results = settled ?? (await Promise.allSettled(sources.map((s) => s.source.getMap(s.query))));
    const errors: string[] = [];
    let out: Raster | undefined;
    let cacheable = true;
    let rendered = 0;
    for (const [i, r] of results.entries()) {
      if (r.status === 'rejected') {
        const e = r.reason;
        if (e instanceof SourceError && this.opts.onSourceErrors === 'notify') {
          errors.push(e.message);
          cacheable = false;
          continue;
        }
        throw e;
      }
      rendered++;
      const img: SourceImage = r.value;
      if (!img.cacheable) cacheable = false;
      if (img.kind === 'blank') continue;
      let raster = img.kind === 'raster' ? img.raster : await decodeSourceImage(img.bytes);
      if (raster.width !== q.size[0] || raster.height !== q.size[1]) throw new SourceError(`source '${sources[i].source.name}' answered ${raster.width}x${raster.height}, expected ${q.size[0]}x${q.size[1]}`);
      const opacity = sources[i].source.opacity;
      if (opacity !== undefined && opacity < 1) raster = applyOpacity(raster, opacity);
      out = out ? compositeOver(out, raster) : raster;
    }
    if (sources.length && !rendered) throw new RequestError(`Could not get any sources:\n${errors.join('\n')}`, 502);
    const result = out ?? createRaster(q.size[0], q.size[1]);
    if (errors.length) {
      const msg = createRaster(q.size[0], q.size[1]);
      drawMessage(msg, errors.join('\n'), [0, 0, 0, 255]);
      return { raster: compositeOver(result, msg), cacheable: false };
    }
    return { raster: result, cacheable };
  }

  private async encodeResponse(r: Raster, mp: MapParams, mime: string, opts: ImageOptions, cacheable: boolean, georef?: GeoReference): Promise<Response> {
    let out = r;
    const transparent = mp.transparent && mime !== 'image/jpeg';
    // an opaque map needs no background: skip the full-image composite
    if (!transparent && !rasterIsOpaque(r)) {
      const bg = hexColor(mp.bgcolor);
      out = compositeOver(createRaster(r.width, r.height, bg), r);
    }
    // georef: TIFF answers carry GeoTIFF tags for the requested extent, as MapProxy's do
    const bytes = await encodeWithOptions(out, { ...opts, transparent }, { paletted: this.opts.paletted, georef });
    // image/vnd.jpeg-png answers say which of the two they are
    const type = isMixedFormat(mime) ? mimeOf(sniffImageFormat(bytes) ?? 'png') : mime;
    const headers: Record<string, string> = { 'Content-Type': type };
    // only a tile handed out as it is (tiled requests) carries tile cache headers, as in MapProxy
    if (!cacheable) Object.assign(headers, NO_CACHE_HEADERS);
    return new Response(bytes as BodyInit, { status: 200, headers });
  }

  private async capabilities(req: Request, wreq: WmsRequest): Promise<Response> {
    const url = `${baseUrl(req)}/service?`;
    const roots = this.opts.layers;
    const root: WmsLayer = roots.length === 1
      ? roots[0]
      : { title: String(this.opts.md.title ?? ''), md: {}, mapLayers: [], infoSources: [], legendSources: [], children: roots };
    const legendSizes = new Map<WmsLayer, [number, number]>();
    const collect = async (l: WmsLayer): Promise<void> => {
      if (l.name && l.legendSources.length) {
        // MapProxy reads the legends to state their size: stacked, so widest and summed height
        const sizes = (await Promise.all(l.legendSources.map((s) => legendSize(s)))).filter((x): x is [number, number] => !!x);
        if (sizes.length) legendSizes.set(l, [Math.max(...sizes.map((x) => x[0])), sizes.reduce((a, x) => a + x[1], 0)]);
      }
      await Promise.all(l.children.map(collect));
    };
    await collect(root);
    const body = wmsCapabilities({
      version: wreq.version,
      serviceUrl: url,
      md: this.opts.md,
      srs: this.opts.srs,
      imageFormats: [...this.opts.imageFormats.keys()],
      infoFormats: this.opts.infoTypes.map((t) => infoMimeFor(t, wreq.version)),
      legendGraphic: hasLegends(root),
      maxOutputPixels: this.opts.maxOutputPixels ? [Math.floor(Math.sqrt(this.opts.maxOutputPixels)), Math.floor(Math.sqrt(this.opts.maxOutputPixels))] : undefined,
      root: this.capLayer(root, url, legendSizes),
      // WMS-C: MapProxy lists the TileSets only when the client asks with TILED=true
      tileSets: (wreq.params.get('tiled') ?? 'false').toLowerCase() === 'true' ? wmscTileSets(this.opts.tileLayers ?? []) : undefined,
      inspire: this.opts.inspireMd,
    });
    const mime = wmsCapabilitiesMime(wreq.version);
    return new Response(body, { headers: { 'Content-Type': mime === 'text/xml' ? 'text/xml; charset=utf-8' : mime } });
  }

  private capLayer(l: WmsLayer, url: string, legendSizes: Map<WmsLayer, [number, number]>): WmsCapLayer {
    const ext = layerExtent(l);
    const wgs = getSrs('EPSG:4326');
    const world: MapExtent = { bbox: [-180, -90, 180, 90], srs: wgs };
    const e = ext ?? world;
    const ll = limitLlbbox(isSameSrs(e.srs, wgs) ? e.bbox : e.srs.transformBbox(e.bbox, wgs));
    const bboxes: { srs: string; bbox: Bbox }[] = [];
    const extents = this.opts.srsExtents.size ? this.opts.srsExtents : new Map<string, MapExtent | undefined>([['EPSG:4326', undefined], ['EPSG:3857', undefined], ['EPSG:900913', undefined]]);
    for (const [code, fixed] of extents) {
      if (!this.opts.srs.includes(code)) continue;
      const s = safeSrs(code);
      if (!s) continue;
      try {
        let b: Bbox;
        if (!fixed) b = isSameSrs(e.srs, s) ? e.bbox : e.srs.transformBbox(e.bbox, s);
        else if (!ext) b = isSameSrs(fixed.srs, s) ? fixed.bbox : fixed.srs.transformBbox(fixed.bbox, s);
        else {
          const a = isSameSrs(fixed.srs, wgs) ? fixed.bbox : fixed.srs.transformBbox(fixed.bbox, wgs);
          const c = ll;
          const i: Bbox = [Math.max(a[0], c[0]), Math.max(a[1], c[1]), Math.min(a[2], c[2]), Math.min(a[3], c[3])];
          if (i[0] >= i[2] || i[1] >= i[3]) continue;
          b = wgs.transformBbox(i, s);
        }
        if (b.every(Number.isFinite)) bboxes.push({ srs: code, bbox: b });
      } catch {
        // an extent that cannot be transformed is left out, as MapProxy skips it
      }
    }
    if (ext && !extents.has(ext.srs.code) && this.opts.srs.includes(ext.srs.code)) bboxes.push({ srs: ext.srs.code, bbox: ext.bbox });
    const size = legendSizes.get(l);
    const legend = l.name && size
      ? { url: `${url}style=default&version=1.1.1&service=WMS&format=image%2Fpng&layer=${encodeURIComponent(l.name)}&request=GetLegendGraphic`, format: 'image/png', width: size[0], height: size[1] }
      : undefined;
    return {
      name: l.name,
      title: l.title,
      abstract: typeof l.md.abstract === 'string' ? l.md.abstract : undefined,
      queryable: hasInfo(l),
      llbbox: ll,
      bboxes,
      minRes: l.resRange?.minRes,
      maxRes: l.resRange?.maxRes,
      legend,
      md: l.md as Record<string, any>,
      // listed where they apply: on layers that render their own sources (MapProxy names them by the lower-case key)
      dimensions: l.dimensions?.size && (l.mapLayers.length || !l.children.length) ? [...l.dimensions].map(([name, d]) => ({ name, default: d.default, values: [...d.values] })) : undefined,
      layers: l.children.map((c) => this.capLayer(c, url, legendSizes)),
    };
  }

  private async featureInfo(wreq: WmsRequest): Promise<Response> {
    const mp = parseMapParams(wreq, { forInfo: true, strict: this.opts.strict });
    const p = wreq.params;
    const queryLayers = p.getAll('query_layers').flatMap((l) => l.split(',')).filter(Boolean);
    if (!queryLayers.length) throw new RequestError("missing parameters ['query_layers']", 400, 'MissingParameterValue');
    this.checkLayers(mp.layers);
    const layers = this.checkLayers(queryLayers);
    const srs = this.checkSrs(wreq, mp.srs);
    const bbox = this.requestBbox(wreq, mp.bbox, srs);
    const xKey = wreq.version === '1.3.0' ? 'i' : 'x';
    const yKey = wreq.version === '1.3.0' ? 'j' : 'y';
    const x = Math.trunc(Number(p.get(xKey)));
    const y = Math.trunc(Number(p.get(yKey)));
    if (!p.has(xKey) || !p.has(yKey)) throw new RequestError(`missing parameters ['${xKey}', '${yKey}']`, 400, 'MissingParameterValue');
    const isPixel = (v: string | undefined) => v !== undefined && /^\s*\d+(\.0*)?\s*$/.test(v);
    if (!isPixel(p.get(xKey)) || !isPixel(p.get(yKey)) || x >= mp.width || y >= mp.height) {
      throw new RequestError(`invalid point ${p.get(xKey)},${p.get(yKey)}`, 400, wreq.version === '1.3.0' ? 'InvalidPoint' : 'InvalidParameterValue');
    }
    const fmt = p.get('info_format') ?? infoMimeFor(this.opts.infoTypes[0] ?? 'text', wreq.version);
    const type = infoTypeOf(fmt);
    // infoTypeOf falls back to text for anything: only text/plain really is text
    const unknown = type === 'text' && fmt.split(';')[0].trim().toLowerCase() !== 'text/plain';
    if (unknown || !this.opts.infoTypes.includes(type)) throw new RequestError(`unsupported info_format: ${fmt}`, 400, 'InvalidFormat');
    const q: MapQuery = { bbox, size: [mp.width, mp.height], srs, format: 'png' };
    const fc = p.get('feature_count');
    const docs: { body: string; mime: string }[] = [];
    for (const l of layers) {
      for (const src of infoSources(l, q)) {
        const r = await src.getFeatureInfo({ bbox, size: [mp.width, mp.height], srs, pos: [x, y], infoFormat: fmt, featureCount: fc ? Number(fc) : undefined });
        docs.push({ body: new TextDecoder().decode(r.body), mime: r.mime });
      }
    }
    const body = await featureInfoBody(docs, type, this.opts.infoTransformers);
    const mime = infoMimeFor(type, wreq.version);
    return new Response(body, { headers: { 'Content-Type': `${mime}; charset=utf-8` } });
  }

  private async legendGraphic(wreq: WmsRequest): Promise<Response> {
    const p = wreq.params;
    const name = p.get('layer');
    if (!name) throw new RequestError("missing parameters ['layer']", 400, 'MissingParameterValue');
    const layer = this.layers.get(name);
    if (!layer) throw new RequestError(`unknown layer: ${name}`, 400, 'LayerNotDefined');
    const sources = legendSourcesOf(layer);
    if (!sources.length) throw new RequestError(`layer ${name} has no legend graphic`, 404);
    const format = p.get('format') ?? 'image/png';
    const { mime, opts } = this.outputFormat(format);
    const scale = p.get('scale') ? Number(p.get('scale')) : undefined;
    const images: Raster[] = [];
    for (const s of sources) {
      const bytes = await s.getLegend({ format: 'image/png', scale });
      if (bytes) images.push(await decodeSourceImage(bytes));
    }
    if (!images.length) throw new RequestError(`layer ${name} has no legend graphic`, 404);
    const bytes = await encodeWithOptions(concatLegends(images), { ...opts, transparent: true }, { paletted: this.opts.paletted });
    return new Response(bytes as BodyInit, { headers: { 'Content-Type': mime } });
  }
}

/**
 * A layer's dimension values for this request (remembered in `seen`): the
 * requested ones checked against the configured values, defaults where absent
 * (InvalidDimensionValue for a value not offered); undefined without dimensions.
 */
function layerDimensions(l: WmsLayer, params: WmsParams, seen: Map<WmsLayer, Record<string, string> | undefined>): Record<string, string> | undefined {
  if (seen.has(l)) return seen.get(l);
  const dims = l.dimensions?.size ? checkedDimensions(l.dimensions, wmsRequestedDimensions(l.dimensions, (n) => params.get(n)), 'InvalidDimensionValue') : undefined;
  seen.set(l, dims);
  return dims;
}

/**
 * The query one source is asked. Caches (and use_direct_from_level layers) get
 * their layer's dimension values only: those pick the cache sub-directory, and
 * a layer without dimensions reads the cache itself, whatever TIME says. WMS
 * sources also get every request parameter named in their forward_req_params,
 * as sent (repeated ones joined with ','), as MapProxy's
 * update_query_with_fwd_params; the layer's checked values replace the raw ones.
 */
function sourceQuery(s: Source, q: MapQuery, dims: Record<string, string> | undefined, params: WmsParams): MapQuery {
  let values = dims;
  if (s instanceof WmsSource && s.opts.forwardParams?.size) {
    const fwd: Record<string, string> = {};
    for (const name of s.opts.forwardParams) if (params.has(name)) fwd[name] = params.getAll(name).join(',');
    values = { ...fwd, ...dims };
  }
  return values && Object.keys(values).length ? { ...q, dimensions: values } : q;
}

function legendSourcesOf(l: WmsLayer): WmsLayer['legendSources'] {
  if (l.legendSources.length) return l.legendSources;
  return l.children.flatMap(legendSourcesOf);
}

function hasInfo(l: WmsLayer): boolean {
  return l.infoSources.length > 0 || (!l.mapLayers.length && l.children.some(hasInfo));
}

function hasLegends(l: WmsLayer): boolean {
  return l.legendSources.length > 0 || l.children.some(hasLegends);
}

function safeSrs(code: string): Srs | undefined {
  try {
    return getSrs(code);
  } catch {
    return undefined;
  }
}

/** MapProxy's limit_llbbox: some clients cannot handle exactly +-90. */
function limitLlbbox(b: Bbox): Bbox {
  return [Math.max(-180, b[0]), Math.max(-89.999999, b[1]), Math.min(180, b[2]), Math.min(89.999999, b[3])];
}

async function decodeSourceImage(bytes: Uint8Array): Promise<Raster> {
  try {
    return await decodeImage(bytes);
  } catch (e) {
    throw new SourceError(`unreadable image from source: ${(e as Error).message}`);
  }
}

function hexColor(c: string): Rgba {
  const n = parseInt(c.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255, 255];
}

function darkColor(c: Rgba): boolean {
  return c[0] * 0.299 + c[1] * 0.587 + c[2] * 0.114 < 128;
}

/** Writes a (wrapped) message into the top-left of an image, as INIMAGE exceptions and notify errors. */
function drawMessage(r: Raster, message: string, color: Rgba): void {
  const lines = message.split('\n').flatMap((l) => wrapText(l, Math.max(20, r.width - 10)));
  let y = 5;
  for (const line of lines) {
    if (y + GLYPH_HEIGHT > r.height) break;
    drawText(r, 5, y, line, color);
    y += GLYPH_HEIGHT + 3;
  }
}

/** The attribution text in the lower right corner on a light box. */
function drawAttribution(r: Raster, text: string): void {
  const w = measureText(text) + 6;
  const h = GLYPH_HEIGHT + 6;
  const x = Math.max(0, r.width - w - 2);
  const y = Math.max(0, r.height - h - 2);
  const box = createRaster(r.width, r.height);
  fillRect(box, x, y, w, h, [255, 255, 255, 140]);
  drawText(box, x + 3, y + 3, text, [0, 0, 0, 255]);
  const merged = compositeOver(r, box);
  r.data.set(merged.data);
}
