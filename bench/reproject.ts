// Micro benchmark: milliseconds per reprojection (mesh + resampling) and per
// same-SRS transformExtent, for the sizes a WMS GetMap typically asks for.
// Run: `bun bench/reproject.ts`. Sources are gradients at roughly the
// destination's resolution, as a cache stitches them for a request.

import { createRaster, type Raster } from '../src/image/raster.ts';
import type { ResamplingMethod } from '../src/image/resample.ts';
import { transformExtent } from '../src/image/resample.ts';
import { reprojectRaster, transformMesh } from '../src/image/transform.ts';
import { getSrs, type Bbox, type Srs } from '../src/srs/srs.ts';

function gradient(w: number, h: number): Raster {
  const r = createRaster(w, h, [0, 0, 0, 255]);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 4;
      r.data[i] = x;
      r.data[i + 1] = y;
      r.data[i + 2] = (x ^ y) & 255;
    }
  }
  return r;
}

function timeIt(fn: () => unknown): number {
  // Warm-up until the JIT has settled, then as many runs as fit in ~300 ms.
  const warm = performance.now();
  let n = 0;
  while (performance.now() - warm < 150 || n < 5) { fn(); n++; }
  const runs = Math.max(5, Math.ceil((300 / (performance.now() - warm)) * n));
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) fn();
  return (performance.now() - t0) / runs;
}

const M = 20037508.342789244;
const s3857 = getSrs('EPSG:3857');
const s4326 = getSrs('EPSG:4326');
const s25832 = getSrs('EPSG:25832');
const methods: ResamplingMethod[] = ['nearest', 'bilinear', 'bicubic'];

interface Case { name: string; dstBbox: Bbox; dstSrs: Srs; size: [number, number]; srcBbox?: Bbox }
const cases: Case[] = [
  { name: '3857->4326   256x256  (5..10E 45..50N)', dstBbox: [5, 45, 10, 50], dstSrs: s4326, size: [256, 256] },
  { name: '3857->4326  1024x768  (10W..30E 35..65N)', dstBbox: [-10, 35, 30, 65], dstSrs: s4326, size: [1024, 768] },
  { name: '3857->4326  1024x512  (whole world)', dstBbox: [-180, -90, 180, 90], dstSrs: s4326, size: [1024, 512], srcBbox: [-M, -M, M, M] },
  { name: '3857->25832  256x256  (20 km, Hannover)', dstBbox: [540000, 5800000, 560000, 5820000], dstSrs: s25832, size: [256, 256] },
  { name: '3857->25832 1024x768  (Germany)', dstBbox: [200000, 5200000, 1000000, 6100000], dstSrs: s25832, size: [1024, 768] },
];

console.log(`ms per call (${typeof Bun !== 'undefined' ? `bun ${Bun.version}` : 'node'})`);
console.log(`${'case'.padEnd(42)} ${'quads'.padStart(6)} ${'mesh'.padStart(7)} ${methods.map((m) => m.padStart(9)).join('')}`);
for (const c of cases) {
  const srcBbox = c.srcBbox ?? c.dstSrs.transformBbox(c.dstBbox, s3857);
  const srcSize: [number, number] = c.srcBbox ? [1024, 1024] : [Math.round(c.size[0] * 1.1), Math.round(c.size[1] * 1.1)];
  const src = gradient(srcSize[0], srcSize[1]);
  const quads = transformMesh(srcSize, srcBbox, s3857, c.size, c.dstBbox, c.dstSrs).length;
  const mesh = timeIt(() => transformMesh(srcSize, srcBbox, s3857, c.size, c.dstBbox, c.dstSrs));
  const times = methods.map((method) =>
    timeIt(() => reprojectRaster(src, srcBbox, s3857, c.dstBbox, c.size, c.dstSrs, { method })));
  console.log(`${c.name.padEnd(42)} ${String(quads).padStart(6)} ${mesh.toFixed(3).padStart(7)} ${times.map((t) => t.toFixed(3).padStart(9)).join('')}`);
}

// Same SRS: a 1.37x zoom between tile resolutions, and the exact-copy case.
const extentCases: { name: string; src: [number, number]; srcBbox: Bbox; dstBbox: Bbox; size: [number, number] }[] = [
  { name: 'extent  256x256  scale 0.73 (upscale)', src: [512, 512], srcBbox: [0, 0, 512, 512], dstBbox: [100, 100, 287, 287], size: [256, 256] },
  { name: 'extent 1024x768  scale 1.37 (downscale)', src: [1536, 1280], srcBbox: [0, 0, 1536, 1280], dstBbox: [50, 50, 1453, 1102], size: [1024, 768] },
  { name: 'extent 1024x768  scale 1 (crop/copy)', src: [1536, 1280], srcBbox: [0, 0, 1536, 1280], dstBbox: [256, 256, 1280, 1024], size: [1024, 768] },
];
for (const c of extentCases) {
  const src = gradient(c.src[0], c.src[1]);
  const times = methods.map((method) => timeIt(() => transformExtent(src, c.srcBbox, c.dstBbox, c.size, method)));
  console.log(`${c.name.padEnd(42)} ${''.padStart(6)} ${''.padStart(7)} ${times.map((t) => t.toFixed(3).padStart(9)).join('')}`);
}
