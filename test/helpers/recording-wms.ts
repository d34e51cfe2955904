/**
 * A real upstream WMS on 127.0.0.1 that records how each request came: the
 * method, the Content-Type, the raw body, the URL's own query and the WMS
 * parameters (from the query for GET, from the form body for POST). It draws
 * the pattern of wms-upstream.ts for GetMap, so pixels can be checked.
 */
import { serveHttp, type RunningServer } from '../../src/runtime/serve.ts';
import { encodeImage } from '../../src/image/codec.ts';
import { createRaster } from '../../src/image/raster.ts';
import { drawPattern } from './wms-upstream.ts';

/** One received request. */
export interface RecordedRequest {
  method: string;
  contentType: string;
  /** the raw body ('' for GET) */
  body: string;
  path: string;
  /** parameters of the URL's query string, names as sent */
  query: Record<string, string>;
  /** WMS parameters (query and form body), names lower-cased */
  params: Record<string, string>;
  authorization: string;
}

/** A running recording WMS. */
export interface RecordingWms {
  /** base URL, path /wms */
  url: string;
  requests: RecordedRequest[];
  /** GetMap requests only */
  getMaps(): RecordedRequest[];
  stop(): Promise<void>;
}

/** Start the recording WMS. */
export async function startRecordingWms(): Promise<RecordingWms> {
  let server: RunningServer;
  const up: RecordingWms = {
    url: '',
    requests: [],
    getMaps: () => up.requests.filter((r) => (r.params.request ?? '').toLowerCase() === 'getmap'),
    stop: () => server.stop(),
  };
  server = await serveHttp({
    hostname: '127.0.0.1',
    port: 0,
    fetch: async (req) => {
      const u = new URL(req.url);
      const body = req.method === 'GET' ? '' : await req.text();
      const query: Record<string, string> = {};
      const params: Record<string, string> = {};
      for (const [k, v] of u.searchParams) {
        query[k] = v;
        params[k.toLowerCase()] = v;
      }
      const contentType = req.headers.get('content-type') ?? '';
      if (contentType.startsWith('application/x-www-form-urlencoded')) {
        for (const [k, v] of new URLSearchParams(body)) params[k.toLowerCase()] = v;
      }
      up.requests.push({ method: req.method, contentType, body, path: u.pathname, query, params, authorization: req.headers.get('authorization') ?? '' });
      const request = (params.request ?? '').toLowerCase();
      if (request === 'getfeatureinfo') return new Response('feature: red box', { headers: { 'Content-Type': 'text/plain' } });
      if (request === 'getlegendgraphic') {
        const png = await encodeImage(createRaster(40, 20, [0, 0, 200, 255]), { format: 'png' });
        return new Response(png, { headers: { 'Content-Type': 'image/png' } });
      }
      const bbox = (params.bbox ?? '').split(',').map(Number);
      const w = Number(params.width);
      const h = Number(params.height);
      if (bbox.length !== 4 || bbox.some((v) => !Number.isFinite(v)) || !(w > 0 && h > 0)) return new Response('bad request', { status: 400 });
      const raster = drawPattern(bbox, w, h, params.srs ?? params.crs ?? 'EPSG:4326');
      const png = await encodeImage(raster, { format: 'png', pngCompression: 1 });
      return new Response(png, { headers: { 'Content-Type': 'image/png' } });
    },
  });
  up.url = `http://127.0.0.1:${server.port}/wms`;
  return up;
}
