/**
 * A proxy with the demo for the demo tests: debug source (no network) behind
 * file caches in a temp dir, grids in EPSG:3857, EPSG:4326 and EPSG:25832,
 * WMS, TMS and WMTS configured, hostile titles; served on 127.0.0.1 with
 * /demo routed to DemoService and a count of requests per path.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../../../src/config/loader.ts';
import { buildProxy, type Proxy } from '../../../src/core/build-proxy.ts';
import { serveHttp, type RunningServer } from '../../../src/runtime/serve.ts';
import { createHandler } from '../../../src/server/app.ts';
import { DemoService } from '../../../src/service/demo/demo-service.ts';

/** Titles that must never become markup. */
export const XSS_TITLE_1 = '<script>alert(1)</script>';
export const XSS_TITLE_2 = `"'><img src=x onerror=alert(2)>`;
export const XSS_WMS_TITLE = '</script><script>alert(3)</script>';

/** The test mapproxy.yaml; `cacheDir` holds the tiles. */
export function demoConfig(cacheDir: string): string {
  return `
services:
  demo:
  tms:
    use_grid_names: true
  wms:
    srs: ['EPSG:3857', 'EPSG:900913', 'EPSG:4326', 'EPSG:25832', 'EPSG:31467']
    md:
      title: ${JSON.stringify(XSS_WMS_TITLE)}
  wmts:

layers:
  - name: osm
    title: ${JSON.stringify(XSS_TITLE_1)}
    sources: [osm_cache]
  - name: utm
    title: ${JSON.stringify(XSS_TITLE_2)}
    sources: [utm_cache]

caches:
  osm_cache:
    grids: [webmercator, GLOBAL_GEODETIC]
    sources: [debug]
  utm_cache:
    grids: [utm32]
    sources: [debug]

grids:
  webmercator:
    base: GLOBAL_WEBMERCATOR
  utm32:
    srs: 'EPSG:25832'
    bbox: [280000, 5200000, 920000, 6100000]
    origin: nw
    num_levels: 12

sources:
  debug:
    type: debug

globals:
  cache:
    base_dir: ${JSON.stringify(cacheDir)}
`;
}

/** A running proxy with the demo. */
export interface DemoServer {
  url: string;
  proxy: Proxy;
  /** requests per URL path since start (or since reset) */
  hits: Map<string, number>;
  /** requests whose path starts with `prefix` */
  count(prefix: string): number;
  stop(): Promise<void>;
}

/** Build the test proxy and serve it. */
export async function startDemoServer(): Promise<DemoServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapproxy-demo-test-'));
  const file = path.join(dir, 'mapproxy.yaml');
  fs.writeFileSync(file, demoConfig(path.join(dir, 'cache_data')));
  const proxy = buildProxy(loadConfig(file));
  const app = createHandler(proxy);
  // WMTS comes from proxy.services.wmts, as the app wires it
  const demo = new DemoService({ proxy, fetch: app });
  const hits = new Map<string, number>();
  const server: RunningServer = await serveHttp({
    hostname: '127.0.0.1',
    port: 0,
    fetch: (req) => {
      const url = new URL(req.url);
      hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
      if (url.pathname === '/demo' || url.pathname.startsWith('/demo/')) return demo.handle(req, url.pathname, url.searchParams);
      return app(req);
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    proxy,
    hits,
    count: (prefix) => [...hits].reduce((n, [p, c]) => (p.startsWith(prefix) ? n + c : n), 0),
    stop: async () => {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
