/** A real upstream tile server on 127.0.0.1 for tests: PNG tiles, counted, with failure modes. */
import { serveHttp, type RunningServer } from '../../src/runtime/serve.ts';
import { encodeImage } from '../../src/image/codec.ts';
import { createRaster } from '../../src/image/raster.ts';

/** What the upstream does for a path; default: a PNG tile. */
export type UpstreamMode = 'png' | 'jpeg' | 'error500' | 'html' | 'hang' | 'notfound';

/** A running upstream with request log and a switchable mode. */
export interface Upstream {
  url: string;
  requests: string[];
  mode: UpstreamMode;
  /** Extra request headers seen (last request). */
  lastHeaders?: Headers;
  stop(): Promise<void>;
}

/** Start an upstream; tiles are 256x256, coloured by path so different tiles differ. */
export async function startUpstream(): Promise<Upstream> {
  const png = await encodeImage(createRaster(256, 256, [200, 40, 40, 255]), { format: 'png' });
  const jpeg = await encodeImage(createRaster(256, 256, [40, 200, 40, 255]), { format: 'jpeg' });
  let server: RunningServer;
  const up: Upstream = {
    url: '',
    requests: [],
    mode: 'png',
    stop: () => server.stop(),
  };
  server = await serveHttp({
    hostname: '127.0.0.1',
    port: 0,
    fetch: async (req) => {
      const u = new URL(req.url);
      up.requests.push(u.pathname + u.search);
      up.lastHeaders = req.headers;
      switch (up.mode) {
        case 'png':
          return new Response(png, { headers: { 'Content-Type': 'image/png' } });
        case 'jpeg':
          return new Response(jpeg, { headers: { 'Content-Type': 'image/jpeg' } });
        case 'error500':
          return new Response('boom', { status: 500 });
        case 'notfound':
          return new Response('nope', { status: 404 });
        case 'html':
          return new Response('<html>error page</html>', { headers: { 'Content-Type': 'text/html' } });
        case 'hang':
          await new Promise((r) => setTimeout(r, 3000));
          return new Response(png, { headers: { 'Content-Type': 'image/png' } });
      }
    },
  });
  up.url = `http://127.0.0.1:${server.port}`;
  return up;
}
