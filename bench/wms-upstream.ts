/**
 * A fast upstream WMS for benchmarks, run as its own process so it never
 * shares an event loop (or a GIL) with the servers under test:
 *
 *   bun bench/wms-upstream.ts PORT [WxH ...] [--style=map|photo] [--delay-ms=N]
 *
 * GetMap answers a pre-encoded, map-like PNG (or JPEG) of the requested size:
 * VARIANTS images per size, rendered once (sizes listed on the command line
 * at startup, any other size on first use), the variant picked from the bbox
 * rounded to whole units, so both servers get the same pixels for the same
 * meta tile even if they format the bbox differently. Per request the cost is
 * a Map lookup, which keeps the upstream far from being the bottleneck;
 * --delay-ms adds a fixed latency per GetMap, as a real rendering WMS has.
 *
 * GET /stats -> {"getmap": n, "bytes": n}; GET /reset zeroes the counters.
 * Prints "listening PORT" on stdout when ready.
 */
import { encodeImage } from '../src/image/codec.ts';
import { line, rng } from './lib-bench.ts';
import { blendPixel, createRaster, fillRect, type Raster, type Rgba } from '../src/image/raster.ts';
import { drawText } from '../src/image/font.ts';

const VARIANTS = 6;
const port = Number(process.argv[2] ?? 0);
const args = process.argv.slice(3);
const preload = args.filter((a) => !a.startsWith('--'));
const style = args.includes('--style=photo') ? 'photo' : 'map';
const delayMs = Number(args.find((a) => a.startsWith('--delay-ms='))?.slice(11) ?? 0);



/** An OSM-like map image: land, water, parks, building blocks, anti-aliased roads, labels. */
function mapImage(w: number, h: number, seed: number): Raster {
  const rand = rng(seed * 7919 + w * 31 + h);
  const r = createRaster(w, h, [242, 239, 233, 255]);
  const area = (w * h) / (256 * 256);
  // water bodies and parks
  for (let i = 0; i < Math.ceil(area * 0.6); i++) {
    fillRect(r, rand() * w, rand() * h, 20 + rand() * 120, 20 + rand() * 90, [170, 211, 223, 255]);
    fillRect(r, rand() * w, rand() * h, 15 + rand() * 70, 15 + rand() * 60, [200, 250, 204, 255]);
  }
  // building blocks
  for (let i = 0; i < Math.ceil(area * 25); i++) {
    const x = Math.floor(rand() * w);
    const y = Math.floor(rand() * h);
    const bw = 6 + Math.floor(rand() * 18);
    const bh = 6 + Math.floor(rand() * 14);
    fillRect(r, x, y, bw, bh, [196, 182, 171, 255]);
    fillRect(r, x + 1, y + 1, bw - 2, bh - 2, [217, 208, 201, 255]);
  }
  // roads
  for (let i = 0; i < Math.ceil(area * 6); i++) {
    const x0 = rand() * w;
    const y0 = rand() * h;
    const ang = rand() * Math.PI;
    const len = 80 + rand() * 220;
    const x1 = x0 + Math.cos(ang) * len;
    const y1 = y0 + Math.sin(ang) * len;
    const lw = 3 + rand() * 6;
    const col: Rgba = i % 3 === 0 ? [247, 250, 191, 255] : i % 5 === 0 ? [252, 214, 164, 255] : [255, 255, 255, 255];
    line(r, x0, y0, x1, y1, lw + 2, [180, 170, 160, 255]);
    line(r, x0, y0, x1, y1, lw, col);
  }
  for (let i = 0; i < Math.ceil(area * 1.5); i++) {
    drawText(r, Math.floor(rand() * (w - 80)), Math.floor(rand() * (h - 10)), i % 2 ? 'Hauptstrasse' : 'Rhein', [50, 50, 50, 255]);
  }
  return r;
}

/** Imagery-like: smooth colour fields plus per-pixel noise (thousands of colours), roads on top. */
function photoImage(w: number, h: number, seed: number): Raster {
  const rand = rng(seed * 104729 + w * 17 + h);
  const r = createRaster(w, h, [0, 0, 0, 255]);
  const cell = 128;
  const gx = Math.ceil(w / cell) + 2;
  const gy = Math.ceil(h / cell) + 2;
  const g = new Float64Array(gx * gy * 3);
  for (let i = 0; i < g.length; i++) g[i] = rand();
  const d = r.data;
  for (let y = 0; y < h; y++) {
    const fy = y / cell;
    const iy = Math.floor(fy);
    const ty = fy - iy;
    for (let x = 0; x < w; x++) {
      const fx = x / cell;
      const ix = Math.floor(fx);
      const tx = fx - ix;
      const i = (y * w + x) * 4;
      for (let k = 0; k < 3; k++) {
        const a = g[(iy * gx + ix) * 3 + k];
        const b = g[(iy * gx + ix + 1) * 3 + k];
        const c = g[((iy + 1) * gx + ix) * 3 + k];
        const e = g[((iy + 1) * gx + ix + 1) * 3 + k];
        const v = (a * (1 - tx) + b * tx) * (1 - ty) + (c * (1 - tx) + e * tx) * ty;
        d[i + k] = [70, 100, 60][k] + v * 90 + (rand() - 0.5) * 30;
      }
    }
  }
  for (let i = 0; i < Math.ceil(((w * h) / (256 * 256)) * 2); i++) {
    const x0 = rand() * w;
    const y0 = rand() * h;
    const ang = rand() * Math.PI;
    const len = 100 + rand() * 300;
    line(r, x0, y0, x0 + Math.cos(ang) * len, y0 + Math.sin(ang) * len, 3 + rand() * 4, [200, 195, 185, 255]);
  }
  return r;
}

type Fmt = 'png' | 'jpeg';
const images = new Map<string, Promise<Uint8Array[]>>();

function variants(w: number, h: number, fmt: Fmt): Promise<Uint8Array[]> {
  const k = `${w}x${h}.${fmt}`;
  let p = images.get(k);
  if (!p) {
    p = (async () => {
      const out: Uint8Array[] = [];
      for (let v = 0; v < VARIANTS; v++) out.push(await encodeImage((style === 'photo' ? photoImage : mapImage)(w, h, v), fmt === 'png' ? { format: 'png', pngCompression: 6 } : { format: 'jpeg', jpegQuality: 90 }));
      return out;
    })();
    images.set(k, p);
  }
  return p;
}

/** Variant index from the bbox rounded to whole units (robust against float formatting). */
function pick(bbox: string): number {
  let hsh = 2166136261;
  for (const v of bbox.split(',')) {
    const n = Math.round(Number(v));
    hsh = Math.imul(hsh ^ (n & 0xffff), 16777619);
    hsh = Math.imul(hsh ^ ((n >>> 16) & 0xffff), 16777619);
  }
  return (hsh >>> 0) % VARIANTS;
}

let getmap = 0;
let bytesOut = 0;

for (const s of preload) {
  const [w, h] = s.split('x').map(Number);
  if (w > 0 && h > 0) await variants(w, h, 'png');
}

const server = Bun.serve({
  hostname: '127.0.0.1',
  port,
  development: false,
  async fetch(req) {
    const u = new URL(req.url);
    if (u.pathname === '/stats') return Response.json({ getmap, bytes: bytesOut });
    if (u.pathname === '/reset') {
      getmap = 0;
      bytesOut = 0;
      return Response.json({ ok: true });
    }
    const p = new Map<string, string>();
    for (const [k, v] of u.searchParams) p.set(k.toLowerCase(), v);
    if ((p.get('request') ?? '').toLowerCase() !== 'getmap') return new Response('only GetMap', { status: 400 });
    const w = Number(p.get('width'));
    const h = Number(p.get('height'));
    const bbox = p.get('bbox') ?? '';
    if (!(w > 0 && h > 0 && w * h <= 16e6) || bbox.split(',').length !== 4) return new Response('bad request', { status: 400 });
    const fmt: Fmt = (p.get('format') ?? '').includes('jpeg') ? 'jpeg' : 'png';
    const body = (await variants(w, h, fmt))[pick(bbox)];
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    getmap++;
    bytesOut += body.length;
    return new Response(body as BodyInit, { headers: { 'Content-Type': `image/${fmt}` } });
  },
});
console.log(`listening ${server.port} (${style})`);
