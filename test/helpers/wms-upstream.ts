/**
 * A real upstream WMS on 127.0.0.1 for tests: draws a known pattern in the
 * requested bbox (so pixels can be checked after caching, stitching and
 * reprojection), counts requests, and can fail in the ways servers fail.
 */
import { serveHttp, type RunningServer } from '../../src/runtime/serve.ts';
import { encodeImage } from '../../src/image/codec.ts';
import { createRaster, type Raster } from '../../src/image/raster.ts';
import { getSrs } from '../../src/srs/srs.ts';

/** What the upstream answers. */
export type WmsUpstreamMode = 'ok' | 'exception' | 'error500' | 'hang' | 'truncated' | 'html' | 'jpeg';

/** A feature drawn by the upstream: a lon/lat box in a colour. */
export interface Feature {
  box: [number, number, number, number];
  color: [number, number, number, number];
}

/** Red box over western Germany and a green box in the South Atlantic. */
export const FEATURES: Feature[] = [
  { box: [8, 50, 10, 52], color: [220, 0, 0, 255] },
  { box: [-20, -30, -10, -20], color: [0, 160, 0, 255] },
];
export const BACKGROUND: [number, number, number, number] = [235, 235, 235, 255];

/** One received GetMap, parameters lower-cased. */
export interface SeenRequest {
  params: Record<string, string>;
  path: string;
}

/** A running upstream WMS. */
export interface WmsUpstream {
  url: string;
  requests: SeenRequest[];
  mode: WmsUpstreamMode;
  /** milliseconds to wait before answering (to make requests overlap) */
  delayMs: number;
  /** a text/plain (or as asked) feature info answer */
  featureInfo: string;
  stop(): Promise<void>;
}

/** Draws the pattern for a bbox/size/srs; bbox in east/north order. */
export function drawPattern(bbox: number[], width: number, height: number, srsCode: string, transparent = false): Raster {
  const r = createRaster(width, height);
  const d = r.data;
  const resx = (bbox[2] - bbox[0]) / width;
  const resy = (bbox[3] - bbox[1]) / height;
  const srs = getSrs(srsCode);
  const wgs = getSrs('EPSG:4326');
  const canonical = srs.canonical;
  const lon = new Float64Array(width);
  const lat = new Float64Array(height);
  const separable = canonical === 'EPSG:4326' || canonical === 'EPSG:3857';
  if (separable) {
    for (let i = 0; i < width; i++) {
      const x = bbox[0] + (i + 0.5) * resx;
      lon[i] = canonical === 'EPSG:4326' ? x : (x / 6378137) * (180 / Math.PI);
    }
    for (let j = 0; j < height; j++) {
      const y = bbox[3] - (j + 0.5) * resy;
      lat[j] = canonical === 'EPSG:4326' ? y : (2 * Math.atan(Math.exp(y / 6378137)) - Math.PI / 2) * (180 / Math.PI);
    }
  }
  const bg = transparent ? [0, 0, 0, 0] : BACKGROUND;
  for (let j = 0; j < height; j++) {
    let row: [number, number][] | undefined;
    if (!separable) {
      const pts: [number, number][] = [];
      for (let i = 0; i < width; i++) pts.push([bbox[0] + (i + 0.5) * resx, bbox[3] - (j + 0.5) * resy]);
      row = srs.transform(pts, wgs);
    }
    for (let i = 0; i < width; i++) {
      const lo = row ? row[i][0] : lon[i];
      const la = row ? row[i][1] : lat[j];
      let c = bg;
      for (const f of FEATURES) {
        if (lo >= f.box[0] && lo < f.box[2] && la >= f.box[1] && la < f.box[3]) c = f.color;
      }
      const k = (j * width + i) * 4;
      d[k] = c[0];
      d[k + 1] = c[1];
      d[k + 2] = c[2];
      d[k + 3] = c[3];
    }
  }
  return r;
}

/** Start the upstream WMS. */
export async function startWmsUpstream(): Promise<WmsUpstream> {
  let server: RunningServer;
  const up: WmsUpstream = {
    url: '',
    requests: [],
    mode: 'ok',
    delayMs: 0,
    featureInfo: 'feature: red box',
    stop: () => server.stop(),
  };
  server = await serveHttp({
    hostname: '127.0.0.1',
    port: 0,
    fetch: async (req) => {
      const u = new URL(req.url);
      const params: Record<string, string> = {};
      for (const [k, v] of u.searchParams) params[k.toLowerCase()] = v;
      up.requests.push({ params, path: u.pathname });
      if (up.delayMs) await new Promise((r) => setTimeout(r, up.delayMs));
      const request = (params.request ?? '').toLowerCase();
      if (up.mode === 'hang') {
        await new Promise((r) => setTimeout(r, 5000));
        return new Response('late', { status: 200 });
      }
      if (up.mode === 'error500' || u.pathname.startsWith('/fail')) return new Response('internal error', { status: 500 });
      if (up.mode === 'html') return new Response('<html><body>maintenance</body></html>', { headers: { 'Content-Type': 'text/html' } });
      if (up.mode === 'exception') {
        const xml = '<?xml version="1.0"?><ServiceExceptionReport version="1.1.1"><ServiceException code="LayerNotDefined">unknown layer</ServiceException></ServiceExceptionReport>';
        return new Response(xml, { headers: { 'Content-Type': 'application/vnd.ogc.se_xml' } });
      }
      if (request === 'getfeatureinfo') {
        return new Response(up.featureInfo, { headers: { 'Content-Type': params.info_format ?? 'text/plain' } });
      }
      if (request === 'getlegendgraphic') {
        const png = await encodeImage(createRaster(40, 20, [0, 0, 200, 255]), { format: 'png' });
        return new Response(png, { headers: { 'Content-Type': 'image/png' } });
      }
      const version = params.version ?? '1.1.1';
      const srsCode = params.crs ?? params.srs ?? 'EPSG:4326';
      const srs = getSrs(srsCode);
      let bbox = (params.bbox ?? '').split(',').map(Number);
      if (version === '1.3.0' && srs.axisOrderNE) bbox = [bbox[1], bbox[0], bbox[3], bbox[2]];
      const w = Number(params.width);
      const h = Number(params.height);
      if (bbox.length !== 4 || bbox.some((v) => !Number.isFinite(v)) || !(w > 0 && h > 0) || w * h > 16e6) {
        return new Response('bad request', { status: 400 });
      }
      const transparent = (params.transparent ?? '').toLowerCase() === 'true';
      const raster = drawPattern(bbox, w, h, srsCode, transparent);
      const jpeg = up.mode === 'jpeg' || (params.format ?? '').includes('jpeg');
      let bytes: Uint8Array = await encodeImage(raster, { format: jpeg ? 'jpeg' : 'png', pngCompression: 1 });
      if (up.mode === 'truncated') bytes = bytes.subarray(0, Math.floor(bytes.length / 2));
      return new Response(bytes as BodyInit, { headers: { 'Content-Type': jpeg ? 'image/jpeg' : 'image/png' } });
    },
  });
  up.url = `http://127.0.0.1:${server.port}/wms`;
  return up;
}

/** Whether a colour is within `tol` of another on every channel. */
export function near(a: readonly number[], b: readonly number[], tol = 8): boolean {
  return a.every((v, i) => Math.abs(v - b[i]) <= tol);
}
