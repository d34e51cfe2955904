/**
 * The demo service (/demo/): an index of every WMS and tile layer with links
 * to all capabilities documents, map viewers per layer and service in the
 * layer's own grid and SRS, and a capabilities viewer. URLs follow MapProxy's
 * demo (?wms_layer=, ?tms_layer=, ?wmts_layer=, ?wms_capabilities, ...).
 */
import type { Proxy } from '../../core/build-proxy.ts';
import { baseUrl } from '../../server/http.ts';
import { getLogger } from '../../log/logger.ts';
import { getSrs, type Srs } from '../../srs/srs.ts';
import { capabilitiesPage } from './capabilities-page.ts';
import { demoContext, KINDS, findTileEntry, type DemoContext, type DemoWmts } from './context.ts';
import { errorPage, htmlResponse, notFound } from './html.ts';
import { indexPage } from './index-page.ts';
import { serveStatic } from './static-assets.ts';
import type { TileKind } from './tile-urls.ts';
import { tileViewerPage, wmsViewerPage } from './viewer-pages.ts';
import { demoImageFormats } from './wms-viewer.ts';

const log = getLogger('mapproxy.service.demo');

/** A fetch handler (for the internal capabilities requests). */
type Fetch = (req: Request) => Response | Promise<Response>;

/** Options of the demo service. */
export interface DemoOptions {
  proxy: Proxy;
  /** the WMTS endpoints to link; default: proxy.services.wmts */
  wmts?: DemoWmts;
  /** answers the capabilities requests the capabilities viewer shows; default: the proxy's own app */
  fetch?: Fetch;
}

const STATIC_PREFIX = '/demo/static/';

/** The demo service; `handle` answers requests under /demo. */
export class DemoService {
  private readonly ctx: DemoContext;
  private internalFetch: Promise<Fetch> | undefined;

  constructor(private readonly opts: DemoOptions) {
    this.ctx = demoContext(opts.proxy, opts.wmts);
    if (opts.fetch) this.internalFetch = Promise.resolve(opts.fetch);
  }

  /** Answer one request; `path` is the URL path (starting with /demo), `search` its query. */
  handle(req: Request, path: string, search: URLSearchParams): Promise<Response> | Response {
    if (req.method !== 'GET' && req.method !== 'HEAD') return new Response('method not allowed', { status: 405, headers: { Allow: 'GET, HEAD' } });
    // relative, so the redirect keeps any script prefix (X-Script-Name) the client sees
    if (path === '/demo') return new Response(null, { status: 301, headers: { Location: `demo/${search.size ? `?${search}` : ''}` } });
    if (path.startsWith(STATIC_PREFIX)) return this.static(req, path.slice(STATIC_PREFIX.length));
    if (path !== '/demo/') return notFound();
    return this.page(req, search);
  }

  private async static(req: Request, name: string): Promise<Response> {
    try {
      return (await serveStatic(req, name)) ?? notFound();
    } catch (e) {
      log.error(`demo viewer unavailable: ${(e as Error)?.message ?? e}`);
      return new Response('the demo viewer could not be built', { status: 500, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
    }
  }

  private async page(req: Request, q: URLSearchParams): Promise<Response> {
    const ctx = this.ctx;
    if (q.has('wms_layer')) return this.wmsViewer(q);
    if (q.has('tms_layer')) return this.tileViewer('tms', q.get('tms_layer')!, q);
    if (q.has('tiles_layer')) return this.tileViewer('tiles', q.get('tiles_layer')!, q);
    if (q.has('wmts_layer')) {
      const encoding = q.get('encoding');
      const kind: TileKind = encoding === 'kvp' || (encoding !== 'rest' && !ctx.wmts?.restful) ? 'wmts-kvp' : 'wmts-rest';
      return this.tileViewer(kind, q.get('wmts_layer')!, q);
    }
    if (q.has('wms_capabilities')) {
      if (!ctx.wms) return errorPage(404, 'the WMS is not enabled');
      return this.capabilities(req, 'WMS', '/service?REQUEST=GetCapabilities&SERVICE=WMS');
    }
    if (q.has('wmts_capabilities_kvp')) {
      if (!ctx.wmts?.kvp) return errorPage(404, 'WMTS KVP is not enabled');
      return this.capabilities(req, 'WMTS', '/service?REQUEST=GetCapabilities&SERVICE=WMTS');
    }
    if (q.has('wmts_capabilities')) {
      if (!ctx.wmts?.restful) return errorPage(404, 'WMTS RESTful is not enabled');
      return this.capabilities(req, 'WMTS', '/wmts/1.0.0/WMTSCapabilities.xml');
    }
    if (q.has('tms_capabilities')) {
      if (!ctx.tms) return errorPage(404, 'TMS is not enabled');
      const layer = q.get('layer');
      const srs = q.get('srs');
      if (layer === null || srs === null) return this.capabilities(req, 'TMS', '/tms/1.0.0/');
      // only name paths of published layers: nothing from the query becomes a path of its own
      const e = ctx.tiles.find((t) => t.namePath[0] === layer && t.namePath[1] === srs);
      if (!e) return errorPage(404, `unknown TMS layer: ${layer}/${srs}`);
      return this.capabilities(req, 'TMS', `/tms/1.0.0/${e.namePath.map(encodeURIComponent).join('/')}`);
    }
    return htmlResponse(indexPage(ctx));
  }

  private wmsViewer(q: URLSearchParams): Response {
    const wms = this.ctx.wms;
    if (!wms) return errorPage(404, 'the WMS is not enabled');
    const name = q.get('wms_layer')!;
    const layer = wms.layers.get(name);
    if (!layer) return errorPage(404, `unknown WMS layer: ${name}`);
    const formats = demoImageFormats(wms);
    const format = q.get('format') ?? formats[0];
    if (!formats.includes(format)) return errorPage(400, `unsupported image format: ${format}`);
    const code = q.get('srs') ?? wms.opts.srs[0];
    const srsCode = wms.opts.srs.find((s) => s.toUpperCase() === code.trim().toUpperCase());
    let srs: Srs | undefined;
    try {
      srs = srsCode ? getSrs(srsCode) : undefined;
    } catch {
      srs = undefined;
    }
    if (!srs) return errorPage(400, `unsupported coordinate system: ${code}`);
    return htmlResponse(wmsViewerPage(wms, layer, srs, format));
  }

  private tileViewer(kind: TileKind, name: string, q: URLSearchParams): Response {
    const enabled = kind === 'tms' || kind === 'tiles' ? !!this.ctx.tms : kind === 'wmts-rest' ? !!this.ctx.wmts?.restful : !!this.ctx.wmts?.kvp;
    if (!enabled) return errorPage(404, `${KINDS[kind].label} is not enabled`);
    const e = findTileEntry(this.ctx, name, q.get('grid'), q.get('srs'));
    if (!e) return errorPage(404, `unknown tile layer: ${name}`);
    return htmlResponse(tileViewerPage(this.ctx, kind, e));
  }

  private async capabilities(req: Request, service: string, path: string): Promise<Response> {
    const fetch = await (this.internalFetch ??= import('../../server/app.ts').then((m) => m.createHandler(this.opts.proxy)));
    // the client's headers, so the document names the URLs the client uses (Host, X-Forwarded-*, X-Script-Name)
    const headers = new Headers(req.headers);
    for (const h of ['if-none-match', 'if-modified-since', 'accept-encoding', 'content-length']) headers.delete(h);
    const resp = await fetch(new Request(new URL(path, req.url), { headers }));
    const xml = await resp.text();
    return htmlResponse(capabilitiesPage(service, `${baseUrl(req)}${path}`, resp.status, xml));
  }
}
