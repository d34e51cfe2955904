/**
 * The `wms` source: a cascaded WMS 1.0.0-1.3.0 server asked with GetMap for
 * any bbox, size and SRS. Requests in an SRS the server does not support are
 * made in the best supported one and the image is reprojected; requests that
 * reach beyond the coverage ask only for the covered part. GetMap goes as
 * GET or, with `http.method: POST` (or AUTO and an `sld_body`), as a POSTed
 * form, as MapProxy's WMSClient sends it.
 */
import { clipToCoverage, coverageHits } from './clip.ts';
import { SourceError } from '../errors.ts';
import type { Bbox } from '../srs/types.ts';
import { isSameSrs, preferredSource, type PreferredSrc, type Srs } from '../srs/srs.ts';
import { decodeImage } from '../image/codec.ts';
import { looksComplete, mimeFromFormat, sniffImageFormat } from '../image/format.ts';
import { createRaster, type Raster } from '../image/raster.ts';
import { pasteRaster, type ResamplingMethod } from '../image/resample.ts';
import { reprojectRaster } from '../image/transform.ts';
import { makeColorTransparent } from '../image/encode.ts';
import type { Rgba } from '../image/parse-color.ts';
import { Semaphore } from '../util/semaphore.ts';
import type { HttpClient } from './http-client.ts';
import { errorResponseFor, type OnError } from './on-error.ts';
import { resRangeContains, type MapExtent, type MapQuery, type ResRange, type Source, type SourceImage } from './source.ts';
import { getLogger } from '../log/logger.ts';

const log = getLogger('mapproxy.source.wms');

/** What map, feature info and legend requests to one `wms` source config share. */
export interface WmsRequestOptions {
  name: string;
  /** req.url as configured: may carry query parameters and user:pass@. */
  url: string;
  /** `req` minus url: layers, styles, transparent and any extra parameter, as written. */
  params: Record<string, string>;
  /** wms_opts.version */
  version: '1.0.0' | '1.1.0' | '1.1.1' | '1.3.0';
  client: HttpClient;
  /** Mime type to request (req.format / request_format); undefined = the query's format. */
  format?: string;
  /** supported_srs in preference order; empty = any. */
  supportedSrs: Srs[];
  /** preferred_src_proj */
  preferredSrc?: PreferredSrc;
  coverage?: MapExtent;
  /** concurrent_requests, shared by all sources with the same host and limit. */
  limiter?: Semaphore;
}

/**
 * `http.method` of a wms source: GET, POST, or AUTO (MapProxy's default:
 * POST only when the request carries `sld_body`, GET otherwise).
 */
export type WmsHttpMethod = 'GET' | 'POST' | 'AUTO';

/** One GetMap as sent: the URL and, for POST, the parameters as form body. */
export interface GetMapRequest {
  url: string;
  /** url-encoded parameters to POST; undefined = GET with them in `url` */
  form?: string;
}

/** Options of a wms source after config parsing. */
export interface WmsSourceOptions extends WmsRequestOptions {
  /** supported_formats as mime types; empty = any. */
  supportedFormats: string[];
  resRange?: ResRange;
  onError?: OnError;
  transparent: boolean;
  transparentColor?: Rgba;
  transparentColorTolerance?: number;
  opacity?: number;
  resampling: ResamplingMethod;
  /** forward_req_params: dimension names passed to the server. */
  forwardParams?: Set<string>;
  /** http.method (default AUTO) */
  httpMethod?: WmsHttpMethod;
}

/** A cascaded WMS. */
export class WmsSource implements Source {
  readonly type = 'wms';
  readonly supportsMetaTiles = true;
  readonly name: string;
  readonly extent?: MapExtent;
  readonly resRange?: ResRange;
  readonly opacity?: number;
  readonly transparent: boolean;
  /** Whether GetMap is POSTed (http.method POST, or AUTO with sld_body). */
  readonly usesPost: boolean;

  constructor(readonly opts: WmsSourceOptions) {
    this.name = opts.name;
    const method = opts.httpMethod ?? 'AUTO';
    // MapProxy looks for sld_body in the request template only (its params are case-insensitive)
    this.usesPost = method === 'POST' || (method === 'AUTO' && Object.keys(opts.params).some((k) => k.toLowerCase() === 'sld_body'));
    this.extent = opts.coverage;
    this.resRange = opts.resRange;
    this.opacity = opts.opacity;
    this.transparent = opts.transparent || opts.transparentColor !== undefined;
  }

  /** Fetch the query (blank outside coverage or resolution range); on_error substitutes failures. */
  async getMap(q: MapQuery): Promise<SourceImage> {
    const o = this.opts;
    if (!resRangeContains(o.resRange, q.bbox, q.size, q.srs.isLatLong)) return { kind: 'blank', cacheable: true };
    if (o.coverage && !extentIntersects(o.coverage, q.bbox, q.srs)) return { kind: 'blank', cacheable: true };
    if (!coverageHits(o.coverage?.coverage, q.bbox, q.srs)) return { kind: 'blank', cacheable: true };
    try {
      let img = await this.fetchMap(q);
      if (o.transparentColor) {
        const raster = img.kind === 'raster' ? img.raster : img.kind === 'encoded' ? await this.decode(img.bytes) : undefined;
        if (raster) img = { kind: 'raster', raster: makeColorTransparent(raster, o.transparentColor, o.transparentColorTolerance ?? 10), cacheable: true };
      }
      return await clipToCoverage(img, o.coverage?.coverage, q.bbox, q.srs, q.size);
    } catch (e) {
      if (!(e instanceof SourceError)) throw e;
      const sub = errorResponseFor(o.onError, e.status);
      if (!sub) {
        log.warn(`could not retrieve WMS map: ${e.message}`);
        throw e;
      }
      return { kind: 'raster', raster: createRaster(q.size[0], q.size[1], sub.color), cacheable: sub.cache, authorizeStale: sub.authorizeStale };
    }
  }

  /** The GetMap URL for one request in a supported SRS (as a GET would ask it). */
  getMapUrl(bbox: Bbox, size: [number, number], srs: Srs, format: string, dimensions?: Record<string, string>): string {
    const o = this.opts;
    const qs = this.getMapQuery(bbox, size, srs, format, dimensions);
    const sep = o.url.includes('?') ? (/[?&]$/.test(o.url) ? '' : '&') : '?';
    return o.url + sep + qs;
  }

  /**
   * The GetMap as this source sends it: a URL for GET, or for POST the
   * configured URL (a trailing '?' removed, its own query kept) and every
   * parameter as form body, as MapProxy's WMSClient._query_data.
   */
  getMapRequest(bbox: Bbox, size: [number, number], srs: Srs, format: string, dimensions?: Record<string, string>): GetMapRequest {
    if (!this.usesPost) return { url: this.getMapUrl(bbox, size, srs, format, dimensions) };
    return { url: this.opts.url.replace(/\?+$/, ''), form: this.getMapQuery(bbox, size, srs, format, dimensions) };
  }

  /** The GetMap parameters, url-encoded. */
  private getMapQuery(bbox: Bbox, size: [number, number], srs: Srs, format: string, dimensions?: Record<string, string>): string {
    const o = this.opts;
    const p: [string, string][] = [];
    const given = new Map(Object.entries(o.params).map(([k, v]) => [k.toLowerCase(), [k, v] as const]));
    const v130 = o.version === '1.3.0';
    p.push(['service', 'WMS']);
    p.push(['request', o.version === '1.0.0' ? 'map' : 'GetMap']);
    p.push([o.version === '1.0.0' ? 'wmtver' : 'version', o.version]);
    p.push(['layers', given.get('layers')?.[1] ?? '']);
    p.push(['styles', given.get('styles')?.[1] ?? '']);
    p.push([v130 ? 'crs' : 'srs', srs.code]);
    const b = v130 && srs.axisOrderNE ? [bbox[1], bbox[0], bbox[3], bbox[2]] : bbox;
    p.push(['bbox', b.map(num).join(',')]);
    p.push(['width', String(size[0])]);
    p.push(['height', String(size[1])]);
    p.push(['format', format]);
    for (const [lk, [k, v]] of given) {
      if (lk === 'layers' || lk === 'styles' || lk === 'format' || lk === 'srs' || lk === 'crs' || lk === 'bbox' || lk === 'width' || lk === 'height') continue;
      p.push([k, v]);
    }
    if (dimensions && o.forwardParams) {
      for (const [k, v] of Object.entries(dimensions)) if (o.forwardParams.has(k.toLowerCase())) p.push([k, v]);
    }
    return p.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  }

  private requestFormat(q: MapQuery): string {
    const o = this.opts;
    let fmt = o.format ?? mimeFromFormat(q.format);
    if (o.supportedFormats.length && !o.supportedFormats.includes(fmt)) fmt = o.supportedFormats[0];
    return fmt;
  }

  /** MapProxy's choice: the request SRS if supported, else preferred_src_proj, else same kind (geographic/projected), else the first. */
  bestSrs(target: Srs): Srs | undefined {
    return preferredSource(target, this.opts.supportedSrs, (s) => s, this.opts.preferredSrc);
  }

  private async fetchMap(q: MapQuery): Promise<SourceImage> {
    const format = this.requestFormat(q);
    const srcSrs = this.bestSrs(q.srs);
    if (srcSrs && !isSameSrs(srcSrs, q.srs)) return this.fetchTransformed(q, srcSrs, format);
    const srs = srcSrs ?? q.srs;
    const cov = this.opts.coverage;
    if (cov) {
      const covBbox = isSameSrs(cov.srs, srs) ? cov.bbox : cov.srs.transformBbox(cov.bbox, srs);
      if (!bboxContains(covBbox, q.bbox)) {
        const raster = await this.fetchSub(q.bbox, q.size, srs, covBbox, format, q.dimensions);
        return raster ? { kind: 'raster', raster, cacheable: true } : { kind: 'blank', cacheable: true };
      }
    }
    const bytes = await this.retrieve(this.getMapRequest(q.bbox, q.size, srs, format, q.dimensions));
    return { kind: 'encoded', bytes, format: sniffImageFormat(bytes) ?? q.format, cacheable: true };
  }

  /** Only the part of the request inside the coverage, pasted into a transparent image of the full size. */
  private async fetchSub(bbox: Bbox, size: [number, number], srs: Srs, covBbox: Bbox, format: string, dims?: Record<string, string>): Promise<Raster | undefined> {
    const pos = bboxPositionInImage(bbox, size, covBbox);
    if (!pos) return undefined;
    const bytes = await this.retrieve(this.getMapRequest(pos.bbox, pos.size, srs, format, dims));
    const sub = await this.decode(bytes);
    const out = createRaster(size[0], size[1]);
    pasteRaster(out, sub, pos.offset[0], pos.offset[1]);
    return out;
  }

  private async fetchTransformed(q: MapQuery, srcSrs: Srs, format: string): Promise<SourceImage> {
    const srcBbox = q.srs.transformBbox(q.bbox, srcSrs);
    const w = srcBbox[2] - srcBbox[0];
    const h = srcBbox[3] - srcBbox[1];
    if (!(w > 0 && h > 0) || !Number.isFinite(w + h)) throw new SourceError(`could not transform ${q.srs.code} bbox to ${srcSrs.code}`);
    const ratio = w / h;
    const xres = w / q.size[0];
    const yres = h / q.size[1];
    const srcSize: [number, number] = xres < yres
      ? [q.size[0], Math.max(1, Math.trunc(q.size[0] / ratio + 0.5))]
      : [Math.max(1, Math.trunc(q.size[1] * ratio + 0.5)), q.size[1]];
    let src: Raster | undefined;
    const cov = this.opts.coverage;
    const covBbox = cov ? (isSameSrs(cov.srs, srcSrs) ? cov.bbox : cov.srs.transformBbox(cov.bbox, srcSrs)) : undefined;
    if (covBbox && !bboxContains(covBbox, srcBbox)) {
      src = await this.fetchSub(srcBbox, srcSize, srcSrs, covBbox, format, q.dimensions);
      if (!src) return { kind: 'blank', cacheable: true };
    } else {
      src = await this.decode(await this.retrieve(this.getMapRequest(srcBbox, srcSize, srcSrs, format, q.dimensions)));
    }
    const raster = reprojectRaster(src, srcBbox, srcSrs, q.bbox, q.size, q.srs, { method: this.opts.resampling });
    return { kind: 'raster', raster, cacheable: true };
  }

  /** One GetMap: anything but a complete image is a SourceError (exception XML, HTML, truncated bytes). */
  private async retrieve(req: GetMapRequest): Promise<Uint8Array> {
    const run = () => (req.form === undefined ? this.opts.client.get(req.url) : this.opts.client.post(req.url, req.form));
    const res = await (this.opts.limiter ? this.opts.limiter.run(run) : run());
    const ct = res.contentType.toLowerCase();
    if (ct && !ct.startsWith('image/')) {
      const text = new TextDecoder().decode(res.body.subarray(0, 8000)).replace(/\s+/g, ' ').trim();
      log.warn(`no image returned from source WMS '${this.name}', response was: '${text.slice(0, 500)}'`);
      throw new SourceError(`no image returned from source WMS '${this.name}'${exceptionText(text)}`);
    }
    if (!sniffImageFormat(res.body)) throw new SourceError(`no image returned from source WMS '${this.name}' (unknown image data)`);
    if (!looksComplete(res.body)) throw new SourceError(`truncated image from source WMS '${this.name}' (${res.body.length} bytes)`);
    return res.body;
  }

  private async decode(bytes: Uint8Array): Promise<Raster> {
    try {
      return await decodeImage(bytes);
    } catch (e) {
      throw new SourceError(`unreadable image from source WMS '${this.name}': ${(e as Error).message}`);
    }
  }
}

/** ': message' of a ServiceException document, for error messages. */
function exceptionText(text: string): string {
  const m = /<ServiceException[^>]*>([\s\S]*?)<\/ServiceException>/i.exec(text);
  return m ? `: ${m[1].trim().slice(0, 200)}` : '';
}

/** Python repr-like number for URLs: integers without '.0', floats in full precision. */
function num(v: number): string {
  return Number.isInteger(v) ? v.toFixed(1) : String(v);
}

function bboxContains(outer: Bbox, inner: Bbox): boolean {
  return outer[0] <= inner[0] && outer[1] <= inner[1] && outer[2] >= inner[2] && outer[3] >= inner[3];
}

/** True when the extent and bbox (in srs) overlap. */
export function extentIntersects(ext: MapExtent, bbox: Bbox, srs: Srs): boolean {
  let b = ext.bbox;
  if (!isSameSrs(ext.srs, srs)) {
    try {
      b = ext.srs.transformBbox(ext.bbox, srs);
    } catch {
      return true;
    }
  }
  return b[0] < bbox[2] && b[2] > bbox[0] && b[1] < bbox[3] && b[3] > bbox[1];
}

/**
 * MapProxy's bbox_position_in_image: the part of `bbox` inside `dst`, as a
 * sub-bbox, its pixel size and its offset in the full image (undefined when empty).
 */
export function bboxPositionInImage(bbox: Bbox, size: [number, number], dst: Bbox): { size: [number, number]; offset: [number, number]; bbox: Bbox } | undefined {
  const [w, h] = size;
  const px = (x: number) => Math.trunc(((x - bbox[0]) / (bbox[2] - bbox[0])) * w);
  const py = (y: number) => Math.trunc(h - ((y - bbox[1]) / (bbox[3] - bbox[1])) * h);
  const off = [0, h, w, 0];
  const sub: Bbox = [bbox[0], bbox[1], bbox[2], bbox[3]];
  if (dst[0] > bbox[0]) { sub[0] = dst[0]; off[0] = px(dst[0]); }
  if (dst[1] > bbox[1]) { sub[1] = dst[1]; off[1] = py(dst[1]); }
  if (dst[2] < bbox[2]) { sub[2] = dst[2]; off[2] = px(dst[2]); }
  if (dst[3] < bbox[3]) { sub[3] = dst[3]; off[3] = py(dst[3]); }
  const sw = Math.abs(off[2] - off[0]);
  const sh = Math.abs(off[1] - off[3]);
  if (sw <= 0 || sh <= 0 || sub[0] >= sub[2] || sub[1] >= sub[3]) return undefined;
  return { size: [sw, sh], offset: [off[0], off[3]], bbox: sub };
}
