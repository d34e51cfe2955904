/** The HTTP app of one Proxy: routes MapProxy's URLs to the services. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Hono } from 'hono';
import { metrics, renderMetrics } from '../util/metrics.ts';
import { getLogger } from '../log/logger.ts';
import type { Proxy } from '../core/build-proxy.ts';
import { xmlEscape } from '../util/py-format.ts';
import { VERSION } from '../version.ts';
import { forwardedRequest, parseTrustedProxies, type PeerAddress, type TrustedProxies } from './proxy-headers.ts';
import { DemoService } from '../service/demo/demo-service.ts';
import { adminServiceFor, isAdminPath } from '../service/admin/admin-service.ts';

const errorLog = getLogger('mapproxy.wsgiapp');

/** A fetch handler, as Bun.serve, Deno.serve and Hono use it, plus the peer address for the proxy-header trust check. */
export type FetchHandler = (req: Request, peer?: PeerAddress) => Response | Promise<Response>;

/** Options of createHandler. */
export interface HandlerOptions {
  /** Peers whose X-Forwarded-*, X-Script-Name and Forwarded headers count (default: loopback and UNIX sockets). */
  trustedProxies?: TrustedProxies;
  /** Requests answered at once; more get 503 with Retry-After (default 1024). */
  maxConcurrent?: number;
  /** Longest URL accepted (default 8192 characters, twice gunicorn's request line limit). */
  maxUrlLength?: number;
  /** Serve the seeding API below /admin when services.admin is configured (default true; false when --admin-bind serves it). */
  admin?: boolean;
}

/** The answer to a request refused before any service saw it. */
function refuse(status: number, msg: string, headers: Record<string, string> = {}): Response {
  return new Response(`${msg}\n`, { status, headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache', ...headers } });
}

/**
 * The fetch handler of one proxy. Tile paths skip Hono's router and URL
 * object: they are the hot path (thousands of cache hits per second), so a
 * tile request goes from the URL straight to its service, with the metrics
 * label known from the path.
 */
export function createHandler(proxy: Proxy, opts: HandlerOptions = {}): FetchHandler {
  const trusted = opts.trustedProxies ?? parseTrustedProxies();
  const app = createApp(proxy);
  const tms = proxy.services.tms;
  const wmts = proxy.services.wmts?.restful ? proxy.services.wmts : undefined;
  const cors = proxy.corsOrigin;
  const maxConcurrent = opts.maxConcurrent ?? 1024;
  const maxUrl = opts.maxUrlLength ?? 8192;
  // throws ConfigError when services.admin has no token
  const admin = opts.admin === false ? undefined : adminServiceFor(proxy, { adminBind: false });
  let active = 0;
  // Not async: a cache hit is answered synchronously, without a promise per request.
  return (req, peer) => {
    const started = performance.now();
    const method = req.method;
    const read = method === 'GET' || method === 'HEAD';
    // POST and DELETE only for the seeding API (checked in answer(), after X-Script-Name is stripped)
    if (!read && !admin) return refuse(405, 'method not allowed', { Allow: 'GET, HEAD' });
    if (req.url.length > maxUrl) return refuse(414, `URL longer than ${maxUrl} characters`);
    if (active >= maxConcurrent) return refuse(503, 'too many requests in progress, try again', { 'Retry-After': '1' });
    active++;
    let r: Response | Promise<Response>;
    try {
      r = answer(req, read, peer, started);
    } catch (e) {
      active--;
      throw e;
    }
    if (!(r instanceof Promise)) {
      active--;
      return r;
    }
    return r.finally(() => active--);
  };

  function answer(req: Request, read: boolean, peer: PeerAddress | undefined, started: number): Response | Promise<Response> {
    const h = req.headers;
    // proxy headers are rare per request: one check each before any work
    if (h.has('x-forwarded-host') || h.has('x-forwarded-proto') || h.has('x-script-name') || h.has('forwarded')) {
      req = forwardedRequest(req, trusted.trusts(peer?.()));
    }
    const url = req.url;
    const start = url.indexOf('/', url.indexOf('//') + 2);
    const q = url.indexOf('?', start);
    const pathname = start < 0 ? '/' : url.slice(start, q < 0 ? undefined : q);
    const query = q < 0 ? '' : url.slice(q + 1);
    if (read) {
      let service = '';
      let r: Response | Promise<Response> | undefined;
      if (tms && pathname.startsWith('/t')) {
        if (pathname.startsWith('/tiles/')) service = 'tiles';
        else if (pathname === '/tms' || pathname.startsWith('/tms/')) service = 'tms';
        if (service) r = tms.handle(req, pathname, query);
      } else if (wmts && pathname.startsWith('/wmts/')) {
        service = 'wmts';
        r = wmts.handleRest(req, pathname.slice(5));
      }
      if (r) return r instanceof Promise ? r.then((resp) => counted(service, tileCors(resp, cors), started)) : counted(service, tileCors(r, cors), started);
    }
    // the admin service sees the normalised path (dot segments resolved), as URL parsing gives it
    const isAdmin = admin !== undefined && pathname.startsWith('/admin') && isAdminPath(new URL(url).pathname);
    if (!isAdmin && !read) return refuse(405, 'method not allowed', { Allow: 'GET, HEAD' });
    const service = serviceOf(pathname, query);
    const r = isAdmin ? admin.handle(req) : app.fetch(req);
    return r instanceof Promise ? r.then((resp) => counted(service, resp, started)) : counted(service, r, started);
  }
}

/** A tile service's error answer gets the CORS header (hits and misses carry it already). */
function tileCors(resp: Response, cors: string): Response {
  if (cors && resp.status !== 200) resp.headers.set('Access-Control-Allow-Origin', cors);
  return resp;
}

/** resp, counted in the request metrics. */
function counted(service: string, resp: Response, started: number): Response {
  metrics.requests.inc([service, String(resp.status)]);
  metrics.requestDuration.observe([service], (performance.now() - started) / 1000);
  return resp;
}

/** The service a path (and query) addresses, as the metrics label it. */
function serviceOf(pathname: string, query: string): string {
  // the first path segment, without splitting the path
  const slash = pathname.indexOf('/', 1);
  const first = pathname.slice(1, slash < 0 ? undefined : slash);
  switch (first) {
    case 'tms':
    case 'tiles':
    case 'wmts':
    case 'kml':
    case 'demo':
    case 'wms':
    case 'metrics':
    case 'healthz':
    case 'admin':
      return first;
    case 'service':
    case 'ows': {
      const m = /(?:^|&)service=([a-z]+)/i.exec(query);
      return m && m[1].toLowerCase() === 'wmts' ? 'wmts' : 'wms';
    }
    default:
      return 'other';
  }
}

/** Build the Hono app serving one proxy (all routes; createHandler adds the fast tile path). */
export function createApp(proxy: Proxy): Hono {
  const app = new Hono();
  const cors = proxy.corsOrigin;
  if (cors) {
    app.use('*', async (c, next) => {
      await next();
      c.res.headers.set('Access-Control-Allow-Origin', cors);
    });
  }
  const tms = proxy.services.tms;
  if (tms) {
    const handler = (c: { req: { raw: Request } }) => {
      const url = new URL(c.req.raw.url);
      return tms.handle(c.req.raw, url.pathname, url.search.slice(1));
    };
    app.get('/tms', handler);
    app.get('/tms/*', handler);
    app.get('/tiles/*', handler);
  }
  const kml = proxy.services.kml;
  if (kml) {
    const handler = (c: { req: { raw: Request } }) => kml.handle(c.req.raw, new URL(c.req.raw.url).pathname);
    app.get('/kml', handler);
    app.get('/kml/*', handler);
  }
  const wms = proxy.services.wms;
  const wmts = proxy.services.wmts;
  if (wms || wmts?.kvp) {
    const ows = (c: { req: { raw: Request } }) => {
      const url = new URL(c.req.raw.url);
      const service = [...url.searchParams].find(([k]) => k.toLowerCase() === 'service')?.[1]?.toLowerCase();
      const hasWmtver = [...url.searchParams.keys()].some((k) => k.toLowerCase() === 'wmtver');
      const request = [...url.searchParams].find(([k]) => k.toLowerCase() === 'request')?.[1]?.toLowerCase();
      if (service === 'wmts' && wmts?.kvp) return wmts.handleKvp(c.req.raw, url.pathname, url.searchParams);
      // WMS 1.0.0 has no SERVICE parameter; MapProxy also takes a bare GetMap as WMS
      if (wms && (service === 'wms' || (!service && (hasWmtver || request === 'getmap' || request === 'map')))) return wms.handle(c.req.raw, url.searchParams);
      return owsException(service);
    };
    app.get('/service', ows);
    app.get('/ows', ows);
    if (wms) app.get('/wms', (c) => wms.handle(c.req.raw, new URL(c.req.raw.url).searchParams));
  }
  if (wmts?.restful) app.get('/wmts/*', (c) => wmts.handleRest(c.req.raw, new URL(c.req.raw.url).pathname.slice(5)));
  if (proxy.services.demo) {
    // the capabilities viewer asks this app itself (no metrics, no concurrency slot)
    const demo = new DemoService({ proxy, fetch: (req) => app.fetch(req) });
    const handler = (c: { req: { raw: Request } }) => {
      const url = new URL(c.req.raw.url);
      return demo.handle(c.req.raw, url.pathname, url.searchParams);
    };
    app.get('/demo', handler);
    app.get('/demo/*', handler);
  }
  app.get('/healthz', () => health(proxy));
  app.get('/metrics', () => new Response(renderMetrics(), { headers: { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Cache-Control': 'no-cache' } }));
  app.get('/', (c) => c.html(welcomePage(proxy)));
  app.notFound((c) => c.text('not found', 404));
  app.onError((err, c) => {
    // through the loggers, so log.ini and JSON lines get it; the client never sees the stack
    errorLog.error(`internal error for ${c.req.method} ${c.req.url}: ${err.stack ?? err.message}`);
    return c.text('internal error', 500);
  });
  return app;
}

/** /healthz: the config is loaded (there is a proxy) and the cache directory takes a file. */
function health(proxy: Proxy): Response {
  const probe = path.join(proxy.cacheDir, `.healthz-${process.pid}`);
  try {
    fs.mkdirSync(proxy.cacheDir, { recursive: true });
    fs.writeFileSync(probe, 'ok');
    fs.unlinkSync(probe);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    return Response.json({ status: 'error', reason: `cache directory not writable (${code})` }, { status: 503, headers: { 'Cache-Control': 'no-cache' } });
  }
  return Response.json({ status: 'ok' }, { headers: { 'Cache-Control': 'no-cache' } });
}

/** OWS exception for a missing or unknown SERVICE, as MapProxy answers on /service and /ows. */
function owsException(service: string | undefined): Response {
  const msg = service ? `unknown service: ${xmlEscape(service)}` : 'service parameter missing';
  const code = service ? 'InvalidParameterValue' : 'MissingParameterValue';
  const body = `<?xml version="1.0"?>
<ExceptionReport xmlns="http://www.opengis.net/ows/1.1" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.opengis.net/ows/1.1 http://schemas.opengis.net/ows/1.1.0/owsExceptionReport.xsd" version="1.1.0" xml:lang="en">
  <Exception exceptionCode="${code}" locator="service">
    <ExceptionText>${msg}</ExceptionText>
  </Exception>
</ExceptionReport>
`;
  return new Response(body, { status: 400, headers: { 'Content-Type': 'text/xml; charset=utf-8' } });
}

function welcomePage(proxy: Proxy): string {
  const links: string[] = [];
  if (proxy.services.wms) links.push('<li><a href="service?REQUEST=GetCapabilities&amp;SERVICE=WMS">WMS capabilities</a></li>');
  if (proxy.services.tms) links.push('<li><a href="tms/1.0.0/">TMS capabilities</a></li>');
  if (proxy.services.wmts?.kvp) links.push('<li><a href="service?REQUEST=GetCapabilities&amp;SERVICE=WMTS">WMTS capabilities</a></li>');
  if (proxy.services.wmts?.restful) links.push('<li><a href="wmts/1.0.0/WMTSCapabilities.xml">WMTS RESTful capabilities</a></li>');
  if (proxy.services.demo) links.push('<li><a href="demo/">demo</a></li>');
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>MapProxy</title></head>
<body><h1>Welcome to MapProxy</h1>
<p>mapproxy-ts ${xmlEscape(VERSION)}</p>
<ul>${links.join('')}</ul>
</body></html>`;
}
