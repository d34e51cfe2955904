// Tile sizes and encode times of encodeWithOptions against MapProxy's own
// encoder (img_to_buf through ImageSource.as_buffer) for the same pixels.
// Run: `bun bench/png-size.ts`. MapProxy's column needs a Python with
// mapproxy and Pillow importable (MAPPROXY_PYTHON, default /usr/bin/python3,
// then python3); without one only our figures are printed.
//
// Tiles are synthetic but shaped like real ones: an OSM-like map tile with
// anti-aliased roads (hundreds of colours, so the quantizer runs), the same
// without anti-aliasing (a few fills, the exact-palette path), a transparent
// road overlay, a photo-like aerial tile, and a single-colour water tile.
// Opaque tiles go to Pillow as RGB images, as MapProxy gets them from most
// upstreams; times are the best of N runs, because shared machines are noisy.

import { spawnSync } from 'node:child_process';
import { line, rng } from './lib-bench.ts';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeImage } from '../src/image/codec.ts';
import { encodeWithOptions } from '../src/image/encode.ts';
import { drawText } from '../src/image/font.ts';
import { resolveImageOptions, type ImageOptions } from '../src/image/image-options.ts';
import { blendPixel, createRaster, fillRect, isOpaque, type Raster, type Rgba } from '../src/image/raster.ts';
import { runtimeName } from '../src/runtime/runtime.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 40);



function mapTile(antialias: boolean, transparent = false): Raster {
  const rand = rng(42);
  const r = createRaster(256, 256, transparent ? [0, 0, 0, 0] : [242, 239, 233, 255]);
  if (!transparent) {
    fillRect(r, 0, 150, 256, 106, [170, 211, 223, 255]);
    fillRect(r, 20, 20, 80, 60, [200, 250, 204, 255]);
    for (let i = 0; i < 25; i++) {
      const x = Math.floor(rand() * 230);
      const y = Math.floor(rand() * 130);
      const w = 6 + Math.floor(rand() * 18);
      const h = 6 + Math.floor(rand() * 14);
      fillRect(r, x, y, w, h, [196, 182, 171, 255]);
      fillRect(r, x + 1, y + 1, w - 2, h - 2, [217, 208, 201, 255]);
    }
  }
  for (let i = 0; i < 8; i++) {
    const [a, b, c, d, w] = [rand() * 256, rand() * 150, rand() * 256, rand() * 150, 3 + rand() * 6];
    const col: Rgba = i % 3 === 0 ? [247, 250, 191, 255] : [255, 255, 255, 255];
    if (antialias) {
      line(r, a, b, c, d, w + 2, [180, 170, 160, 255]);
      line(r, a, b, c, d, w, col);
    } else {
      const n = Math.ceil(Math.hypot(c - a, d - b));
      for (let k = 0; k <= n; k++) fillRect(r, a + ((c - a) * k) / n - w / 2, b + ((d - b) * k) / n - w / 2, w, w, col);
    }
  }
  drawText(r, 30, 100, 'Hauptstrasse', [50, 50, 50, 255]);
  drawText(r, 140, 200, 'Rhein', [60, 90, 160, 255], 2);
  return r;
}

/** Smooth colour variation plus per-pixel noise: tens of thousands of colours, like imagery. */
function aerialTile(): Raster {
  const rand = rng(7);
  const r = createRaster(256, 256, [0, 0, 0, 255]);
  const grid = 9;
  const g: number[][] = [];
  for (let i = 0; i < grid * grid; i++) g.push([rand(), rand(), rand()]);
  for (let y = 0; y < 256; y++) {
    for (let x = 0; x < 256; x++) {
      const fx = (x / 256) * (grid - 1);
      const fy = (y / 256) * (grid - 1);
      const ix = Math.floor(fx);
      const iy = Math.floor(fy);
      const tx = fx - ix;
      const ty = fy - iy;
      const i = (y * 256 + x) * 4;
      for (let k = 0; k < 3; k++) {
        const v = (g[iy * grid + ix][k] * (1 - tx) + g[iy * grid + ix + 1][k] * tx) * (1 - ty)
          + (g[(iy + 1) * grid + ix][k] * (1 - tx) + g[(iy + 1) * grid + ix + 1][k] * tx) * ty;
        r.data[i + k] = [70, 100, 60][k] + v * 90 + (rand() - 0.5) * 40;
      }
    }
  }
  return r;
}

interface Case {
  label: string;
  /** local image block, as in a cache's `image:` */
  image: Record<string, unknown>;
  format: string;
}

const tiles: [string, Raster][] = [
  ['map (anti-aliased)', mapTile(true)],
  ['map (flat fills)', mapTile(false)],
  ['overlay (transparent)', mapTile(true, true)],
  ['aerial (photo-like)', aerialTile()],
  ['single colour', createRaster(256, 256, [170, 211, 223, 255])],
];

function casesFor(r: Raster): Case[] {
  const transparent = !isOpaque(r);
  const out: Case[] = [
    { label: 'png paletted', image: transparent ? { transparent: true } : {}, format: 'image/png' },
    { label: 'png colors: 0', image: { colors: 0, ...(transparent ? { transparent: true } : {}) }, format: 'image/png' },
  ];
  if (!transparent) out.push({ label: 'jpeg q90', image: {}, format: 'image/jpeg' });
  return out;
}

async function best(fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 5; i++) await fn();
  let min = Infinity;
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await fn();
    min = Math.min(min, performance.now() - t0);
  }
  return min;
}

/** Mean absolute difference per channel, alpha-weighted, so invisible colour does not count. */
function meanError(a: Raster, b: Raster): number {
  let sum = 0;
  for (let i = 0; i < a.data.length; i += 4) {
    const wa = a.data[i + 3] / 255;
    const wb = b.data[i + 3] / 255;
    for (let k = 0; k < 3; k++) sum += Math.abs(a.data[i + k] * wa - b.data[i + k] * wb);
    sum += Math.abs(a.data[i + 3] - b.data[i + 3]);
  }
  return sum / (a.width * a.height * 4);
}

const PY = String.raw`
import json, sys, time
from PIL import Image
from mapproxy.image import ImageSource
from mapproxy.image.opts import ImageOptions
jobs = json.load(sys.stdin)
runs = int(sys.argv[1])
out = []
for job in jobs:
    img = Image.frombytes('RGBA', (job['w'], job['h']), open(job['file'], 'rb').read())
    if job['opaque']:
        img = img.convert('RGB')
    o = job['opts']
    opts = ImageOptions(format=o['format'], colors=o.get('colors'), transparent=o.get('transparent'),
                        encoding_options=o.get('encoding_options') or {})
    data = ImageSource(img, image_opts=opts).as_buffer().read()
    best = 1e9
    for i in range(runs):
        t0 = time.perf_counter()
        ImageSource(img, image_opts=opts).as_buffer().read()
        best = min(best, time.perf_counter() - t0)
    open(job['file'] + '.' + str(job['id']), 'wb').write(data)
    out.append({'id': job['id'], 'bytes': len(data), 'ms': best * 1000})
print(json.dumps(out))
`;

interface PyResult {
  id: number;
  bytes: number;
  ms: number;
}

function findPython(): string | undefined {
  const candidates = [process.env.MAPPROXY_PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => !!c);
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', 'import mapproxy, PIL'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return undefined;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'png-size-'));
const jobs: { id: number; file: string; w: number; h: number; opaque: boolean; opts: Record<string, unknown> }[] = [];
const rows: { tile: string; label: string; raster: Raster; opts: ImageOptions }[] = [];
for (const [name, r] of tiles) {
  const file = path.join(dir, `${rows.length}.rgba`);
  fs.writeFileSync(file, r.data);
  for (const c of casesFor(r)) {
    const opts = resolveImageOptions(undefined, c.image, c.format, 'bench.image');
    const id = rows.length;
    rows.push({ tile: name, label: c.label, raster: r, opts });
    jobs.push({
      id, file, w: r.width, h: r.height, opaque: isOpaque(r),
      opts: { format: opts.format, colors: opts.colors, transparent: opts.transparent ?? null },
    });
  }
}

const python = findPython();
let reference = new Map<number, PyResult & { data: Uint8Array }>();
if (python) {
  const res = spawnSync(python, ['-c', PY, String(RUNS)], { input: JSON.stringify(jobs), encoding: 'utf8', maxBuffer: 1 << 24 });
  if (res.status !== 0) {
    console.error(`MapProxy reference failed: ${res.stderr}`);
  } else {
    const parsed = JSON.parse(res.stdout) as PyResult[];
    reference = new Map(parsed.map((p) => {
      const job = jobs[p.id];
      return [p.id, { ...p, data: new Uint8Array(fs.readFileSync(`${job.file}.${p.id}`)) }];
    }));
  }
}

console.log(`runtime ${runtimeName()}, 256x256 tiles, best of ${RUNS} runs${python ? `, MapProxy via ${python}` : ', MapProxy not found'}`);
console.log(
  `${'tile'.padEnd(22)} ${'encoding'.padEnd(14)} ${'ours B'.padStart(8)} ${'MP B'.padStart(8)} ${'ratio'.padStart(6)}`
  + ` ${'ours ms'.padStart(8)} ${'MP ms'.padStart(7)} ${'err ours'.padStart(8)} ${'err MP'.padStart(7)}`,
);
for (const [id, row] of rows.entries()) {
  const bytes = await encodeWithOptions(row.raster, row.opts);
  const ms = await best(() => encodeWithOptions(row.raster, row.opts));
  const ref = reference.get(id);
  const ours = await decodeImage(bytes);
  const errOurs = meanError(row.raster, ours);
  const errRef = ref ? meanError(row.raster, await decodeImage(ref.data)) : NaN;
  const fmt = (v: number, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : '-');
  console.log(
    `${row.tile.padEnd(22)} ${row.label.padEnd(14)} ${String(bytes.length).padStart(8)} ${String(ref?.bytes ?? '-').padStart(8)}`
    + ` ${(ref ? fmt(bytes.length / ref.bytes) : '-').padStart(6)} ${fmt(ms).padStart(8)} ${(ref ? fmt(ref.ms) : '-').padStart(7)}`
    + ` ${fmt(errOurs).padStart(8)} ${fmt(errRef).padStart(7)}`,
  );
}
console.log('ratio = our bytes / MapProxy bytes; err = mean absolute difference per channel from the source pixels (0..255)');
fs.rmSync(dir, { recursive: true, force: true });
