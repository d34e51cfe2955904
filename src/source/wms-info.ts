/**
 * GetFeatureInfo of a `wms` source with `wms_opts.featureinfo: true`, as
 * MapProxy's WMSInfoSource/WMSInfoClient: the query is forwarded for the
 * source's own layers, carried into a supported SRS when needed, and skipped
 * where the source's coverage does not reach.
 */
import { SourceError } from '../errors.ts';
import { getSrs, isSameSrs, preferredSource, type Srs } from '../srs/srs.ts';
import type { WmsRequestOptions } from './wms.ts';
import type { Bbox, Point } from '../srs/types.ts';
import { mimeFromFormat } from '../image/format.ts';
import { pixelToMap, transformInfoQuery, type InfoQueryGeometry } from '../service/wms/featureinfo.ts';
import type { InfoQuery, InfoSource } from '../layer/wms-layer.ts';
import { pyFloat } from '../util/py-format.ts';
import { getLogger } from '../log/logger.ts';
import type { MapExtent } from './source.ts';

const log = getLogger('mapproxy.source.wms');

/** Options of a feature info source, from the same `wms` source config as its map source. */
export interface WmsInfoSourceOptions extends WmsRequestOptions {
  /** wms_opts.featureinfo_format: sent as INFO_FORMAT whatever the client asked, and the answer's mime. */
  infoFormat?: string;
}

// Keys this source writes itself; a same-named req entry must not be sent twice.
const OWN_KEYS = new Set([
  'service', 'request', 'version', 'wmtver', 'layers', 'query_layers', 'styles', 'srs', 'crs',
  'bbox', 'width', 'height', 'x', 'y', 'i', 'j', 'format', 'info_format', 'feature_count',
]);

/** GetFeatureInfo against an upstream WMS. */
export class WmsInfoSource implements InfoSource {
  readonly name: string;
  readonly extent?: MapExtent;
  private readonly given: Map<string, readonly [string, string]>;
  private readonly supported: Srs[];

  constructor(readonly opts: WmsInfoSourceOptions) {
    this.name = opts.name;
    this.extent = opts.coverage;
    this.given = new Map(Object.entries(opts.params).map(([k, v]) => [k.toLowerCase(), [k, String(v)] as const]));
    let supported = opts.supportedSrs;
    const reqSrs = this.given.get('srs')?.[1] ?? this.given.get('crs')?.[1];
    // MapProxy: without supported_srs, a fixed req.srs is the one SRS the server takes
    if (!supported.length && reqSrs) supported = [getSrs(reqSrs)];
    this.supported = supported;
  }

  /** The info format forced by config (featureinfo_format or req.info_format); undefined = the client's. */
  get forcedInfoFormat(): string | undefined {
    return this.opts.infoFormat ?? this.given.get('info_format')?.[1];
  }

  /** Ask the upstream; an empty document where the coverage does not reach the point. */
  async getFeatureInfo(q: InfoQuery): Promise<{ body: Uint8Array; mime: string }> {
    const forced = this.forcedInfoFormat;
    if (this.opts.coverage && !coverageContains(this.opts.coverage, pixelToMap(q.bbox, q.size, q.pos), q.srs)) {
      return { body: new Uint8Array(0), mime: forced ?? q.infoFormat };
    }
    const url = this.getFeatureInfoUrl(q);
    const run = () => this.opts.client.get(url);
    const res = await (this.opts.limiter ? this.opts.limiter.run(run) : run());
    if (isServiceException(res.contentType, res.body)) {
      const text = new TextDecoder().decode(res.body.subarray(0, 8000)).replace(/\s+/g, ' ').trim();
      log.warn(`no feature info returned from source WMS '${this.name}', response was: '${text.slice(0, 500)}'`);
      throw new SourceError(`no feature info returned from source WMS '${this.name}'${exceptionText(text)}`);
    }
    return { body: res.body, mime: forced ?? (res.contentType || q.infoFormat) };
  }

  /** The upstream GetFeatureInfo URL for a query (after the SRS change, when one is needed). */
  getFeatureInfoUrl(q: InfoQuery): string {
    const g = this.requestGeometry(q);
    const o = this.opts;
    const v130 = o.version === '1.3.0';
    const v100 = o.version === '1.0.0';
    const layers = this.given.get('layers')?.[1] ?? '';
    const p: [string, string][] = [];
    if (!v100) p.push(['service', 'WMS']);
    p.push(['request', v100 ? 'feature_info' : 'GetFeatureInfo']);
    p.push([v100 ? 'wmtver' : 'version', o.version]);
    p.push(['layers', layers]);
    p.push(['query_layers', layers]);
    p.push(['styles', this.given.get('styles')?.[1] ?? '']);
    p.push([v130 ? 'crs' : 'srs', g.srs.code]);
    const b = v130 && g.srs.axisOrderNE ? [g.bbox[1], g.bbox[0], g.bbox[3], g.bbox[2]] : g.bbox;
    p.push(['bbox', b.map(pyFloat).join(',')]);
    p.push(['width', String(g.size[0])]);
    p.push(['height', String(g.size[1])]);
    p.push([v130 ? 'i' : 'x', String(g.x)]);
    p.push([v130 ? 'j' : 'y', String(g.y)]);
    const fmt = this.given.get('format')?.[1] ?? o.format ?? (q.format ? mimeFromFormat(q.format) : 'image/png');
    p.push(['format', fmt]);
    const infoFormat = this.forcedInfoFormat ?? q.infoFormat;
    if (infoFormat) p.push(['info_format', infoFormat]);
    if (q.featureCount) p.push(['feature_count', String(q.featureCount)]);
    for (const [lk, [k, v]] of this.given) {
      if (!OWN_KEYS.has(lk)) p.push([k, v]);
    }
    const qs = p.map(([k, v]) => `${encodeParam(k)}=${encodeParam(v)}`).join('&');
    const sep = o.url.includes('?') ? (/[?&]$/.test(o.url) ? '' : '&') : '?';
    return o.url + sep + qs;
  }

  /** MapProxy's choice: the query SRS if supported, else preferred_src_proj, else same kind, else the first. */
  bestSrs(target: Srs): Srs | undefined {
    return preferredSource(target, this.supported, (s) => s, this.opts.preferredSrc);
  }

  private requestGeometry(q: InfoQuery): InfoQueryGeometry {
    const req: InfoQueryGeometry = { bbox: q.bbox, size: q.size, srs: q.srs, x: q.pos[0], y: q.pos[1] };
    const to = this.bestSrs(q.srs);
    if (!to) return req;
    // the alias the server listed (EPSG:900913 for EPSG:3857), as the map source sends it
    if (isSameSrs(to, q.srs)) return { ...req, srs: to };
    let t: InfoQueryGeometry;
    try {
      t = transformInfoQuery(req, to);
    } catch (e) {
      throw new SourceError(`could not transform feature info query from ${q.srs.code} to ${to.code}: ${(e as Error).message}`);
    }
    const ok = t.bbox.every(Number.isFinite) && t.bbox[2] > t.bbox[0] && t.bbox[3] > t.bbox[1]
      && t.size[1] > 0 && Number.isFinite(t.x) && Number.isFinite(t.y);
    if (!ok) throw new SourceError(`could not transform feature info query from ${q.srs.code} to ${to.code}`);
    return t;
  }
}

/** Python's quote(v, safe=','): keeps bbox commas readable as MapProxy sends them. */
function encodeParam(v: string): string {
  return encodeURIComponent(v)
    .replace(/%2C/gi, ',')
    .replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

/** MapProxy's coverage.contains for the query point: inside or on the border of the extent. */
function coverageContains(cov: MapExtent, coord: Point, srs: Srs): boolean {
  let p = coord;
  if (!isSameSrs(cov.srs, srs)) {
    try {
      p = srs.transformPoint(coord, cov.srs);
    } catch {
      return false;
    }
  }
  const b: Bbox = cov.bbox;
  return p[0] >= b[0] && p[0] <= b[2] && p[1] >= b[1] && p[1] <= b[3];
}

/**
 * An OGC exception instead of feature info. MapProxy passes these on as if
 * they were features; a client is better served by the service's own error.
 */
function isServiceException(contentType: string, body: Uint8Array): boolean {
  const ct = contentType.split(';', 1)[0].trim().toLowerCase();
  if (ct === 'application/vnd.ogc.se_xml' || ct === 'application/vnd.ogc.se_inimage' || ct === 'application/vnd.ogc.se_blank') return true;
  const head = new TextDecoder().decode(body.subarray(0, 2048));
  const root = /^\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--[\s\S]*?-->\s*|<!DOCTYPE[^>]*>\s*)*<([\w.-]+:)?(\w+)/.exec(head.replace(/^\uFEFF/, ''));
  return root !== null && (root[2] === 'ServiceExceptionReport' || root[2] === 'ExceptionReport');
}

/** ': message' of a ServiceException document, for error messages. */
function exceptionText(text: string): string {
  const m = /<(?:\w+:)?(?:ServiceException|ExceptionText)[^>]*>([\s\S]*?)<\/(?:\w+:)?(?:ServiceException|ExceptionText)>/i.exec(text);
  return m ? `: ${m[1].trim().slice(0, 200)}` : '';
}
