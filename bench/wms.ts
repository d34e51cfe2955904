/**
 * WMS benchmark, mapproxy-ts against MapProxy 1.15 side by side, on the same
 * mapproxy.yaml (one text, written into a directory per server so each has
 * its own cache): a file cache (tc layout, png, meta_size 4x4) of a wms
 * source in GLOBAL_WEBMERCATOR, fed by bench/wms-upstream.ts running as its
 * own process.
 *
 *   1. GetMap from a warmed cache: 256x256 and 1024x768, image/png and
 *      image/jpeg, SRS EPSG:3857 (no reprojection), EPSG:4326 and EPSG:25832
 *      (reprojected from the 3857 tiles). BENCH_BBOXES seeded bboxes per size
 *      around 8-10E 49-51N at ~1.07x the resolution of level 12 (4-9 tiles per
 *      256x256, 20-30 per 1024x768); the same bboxes are transformed into each
 *      SRS. Every URL is requested once from both servers first (warm-up and
 *      check: 200 and the asked image type), then wrk cycles through the
 *      same URL list against each server.
 *   2. Cache misses: fresh cache directories and fresh server processes,
 *      every tile of levels BENCH_MISS_LEVELS over one area (aligned to the
 *      4x4 meta tiles), requested over TMS in row order with
 *      BENCH_MISS_CONCURRENCY requests in flight; tiles/s and upstream GetMaps.
 *   3. PNG tile sizes: the same z/x/y files written by both, size ratio and
 *      whether the pixels agree.
 *
 * MapProxy runs as `gunicorn -w 1 --threads BENCH_MP_THREADS` (gthread; the
 * docs' eventlet worker is not installed here), with a WSGI script calling
 * mapproxy.wsgiapp.make_wsgi_app. Ours is `bun cli/main.ts serve-develop`
 * (one process), or dist/mapproxy with BENCH_OURS=dist.
 *
 *   bun bench/wms.ts                       (npm run bench:wms; needs wrk, gunicorn, MapProxy)
 *   BENCH_SECONDS=8 BENCH_ONLY=getmap bun bench/wms.ts
 *
 * Environment: BENCH_SECONDS (6) per wrk run, BENCH_CONNECTIONS (8),
 * BENCH_WRK_THREADS (2), BENCH_MP_THREADS (8), BENCH_BBOXES (50),
 * BENCH_META_BUFFER (80, MapProxy's default), BENCH_MISS_LEVELS (9-10),
 * BENCH_MISS_CONCURRENCY (8), BENCH_ONLY (getmap,miss,sizes), BENCH_WORKERS (1:
 * serve-develop against gunicorn -w 1; N: serve -w N against gunicorn -w N),
 * BENCH_CELLS (substring filter on cell names, e.g. "1024x768"),
 * BENCH_BUN_FLAGS (extra bun flags for our server, e.g. "--smol"; --cpu-prof gives
 * nothing here, bun writes the profile only on a clean exit and the server is
 * stopped with SIGTERM),
 * BENCH_UPSTREAM_STYLE (map: OSM-like drawing with few colours, the paletted
 * exact-colour path; photo: imagery-like, thousands of colours, so every
 * PNG goes through the quantizer), BENCH_KEEP=1 keeps the temp dir,
 * BENCH_DIR where it goes (default the system's; /dev/shm keeps the cache-miss
 * run from paying ext4's cost of files created soon after many deletes, see
 * bench/seed.ts; the file system is printed).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeImage } from '../src/image/codec.ts';
import { getSrs } from '../src/srs/srs.ts';
import {
  cpuSeconds, freePort, fsName, have, killAllSync, logTail, mapLimit, rng, rotatingLua, runWrk, startProcess, stopProcess, waitFor,
  type Child, type WrkResult,
} from './lib-bench.ts';

/** A wrk run plus the CPU the server used during it (in cores). */
type Run = WrkResult & { cores: number };

const env = process.env;
const SECONDS = Number(env.BENCH_SECONDS ?? 6);
const CONNECTIONS = Number(env.BENCH_CONNECTIONS ?? 8);
const WRK_THREADS = Number(env.BENCH_WRK_THREADS ?? 2);
const MP_THREADS = Number(env.BENCH_MP_THREADS ?? 8);
/** Worker processes on both sides: 1 = serve-develop against gunicorn -w 1; N = serve -w N against gunicorn -w N. */
const WORKERS = Math.max(1, Number(env.BENCH_WORKERS ?? 1));
const NBBOX = Number(env.BENCH_BBOXES ?? 50);
const META_BUFFER = Number(env.BENCH_META_BUFFER ?? 80);
const [MISS_FROM, MISS_TO] = (env.BENCH_MISS_LEVELS ?? '9-10').split('-').map(Number);
const MISS_CONCURRENCY = Number(env.BENCH_MISS_CONCURRENCY ?? 8);
const ONLY = new Set((env.BENCH_ONLY ?? 'getmap,miss,sizes').split(',').map((s) => s.trim()));
const CELL_FILTER = env.BENCH_CELLS ?? '';
const BUN_FLAGS = (env.BENCH_BUN_FLAGS ?? '').split(/\s+/).filter(Boolean);
const UPSTREAM_STYLE = env.BENCH_UPSTREAM_STYLE === 'photo' ? 'photo' : 'map';
const WARM_CONCURRENCY = 4;
const TARGET_GETMAP = 3;
const TARGET_MISS = 2;
const TARGET_PNG = 0.1;

const ZOOM = 12;
const RES0 = 156543.03392804097; // GLOBAL_WEBMERCATOR level 0
const RES = (RES0 / 2 ** ZOOM) * 1.07;
const REGION = { lon: [8, 10], lat: [49, 51] };
const SIZES: [number, number][] = [[256, 256], [1024, 768]];
const FORMATS = ['image/png', 'image/jpeg'];
const SRSES = ['EPSG:3857', 'EPSG:4326', 'EPSG:25832'];
// Cache-miss area at level 9 (x 264..279, y 168..183, nw origin: ~5.6-16.9E, 45-52.5N), scaled per level.
const MISS_AREA9 = [264, 168, 280, 184];

for (const cmd of ['wrk', 'gunicorn']) {
  if (!have(cmd)) {
    console.error(`bench: ${cmd} not found (apt-get install ${cmd === 'wrk' ? 'wrk' : 'gunicorn mapproxy'})`);
    process.exit(2);
  }
}

const root = path.resolve(import.meta.dir ?? path.dirname(new URL(import.meta.url).pathname), '..');
const dir = fs.mkdtempSync(path.join(env.BENCH_DIR ?? os.tmpdir(), 'mapproxy-bench-wms-'));
let cleaned = false;
const cleanup = () => {
  if (cleaned) return;
  cleaned = true;
  killAllSync();
  if (env.BENCH_KEEP === '1') console.log(`bench: kept ${dir}`);
  else fs.rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

const bun = process.execPath;
const ourBin = path.join(root, 'dist', 'mapproxy');
const useDist = env.BENCH_OURS === 'dist';
if (useDist && !fs.existsSync(ourBin)) {
  console.error('bench: BENCH_OURS=dist but dist/mapproxy is missing (npm run build)');
  process.exit(2);
}

// ---------------------------------------------------------------- servers

function yamlFor(upstreamUrl: string): string {
  return `services:
  tms:
  wms:
    srs: ['EPSG:3857', 'EPSG:4326', 'EPSG:25832']
    image_formats: ['image/png', 'image/jpeg']
    md:
      title: wms bench
layers:
  - name: base
    title: wms bench
    sources: [wms_cache]
caches:
  wms_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [upstream]
    meta_size: [4, 4]
    meta_buffer: ${META_BUFFER}
sources:
  upstream:
    type: wms
    req:
      url: ${upstreamUrl}
      layers: base
    supported_srs: ['EPSG:3857']
globals:
  cache:
    base_dir: ./cache_data
`;
}

interface Server {
  name: 'ours' | 'mapproxy';
  base: string;
  dir: string;
  child: Child;
}

async function startOurs(yaml: string, sub: string): Promise<Server> {
  const d = path.join(dir, sub);
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, 'mapproxy.yaml'), yaml);
  const port = await freePort();
  const args = WORKERS > 1 ? ['serve', 'mapproxy.yaml', '-b', `127.0.0.1:${port}`, '-w', String(WORKERS)] : ['serve-develop', 'mapproxy.yaml', '-b', `127.0.0.1:${port}`];
  const child = useDist
    ? startProcess('mapproxy-ts', ourBin, args, { cwd: d, log: path.join(d, 'server.log') })
    : startProcess('mapproxy-ts', bun, [...BUN_FLAGS, path.join(root, 'cli', 'main.ts'), ...args], { cwd: d, log: path.join(d, 'server.log') });
  const base = `http://127.0.0.1:${port}`;
  await waitFor(`${base}/service?SERVICE=WMS&REQUEST=GetCapabilities`, 30000, child);
  return { name: 'ours', base, dir: d, child };
}

async function startMapProxy(yaml: string, sub: string): Promise<Server> {
  const d = path.join(dir, sub);
  fs.mkdirSync(d, { recursive: true });
  const conf = path.join(d, 'mapproxy.yaml');
  fs.writeFileSync(conf, yaml);
  fs.writeFileSync(path.join(d, 'app.py'), `from mapproxy.wsgiapp import make_wsgi_app\napplication = make_wsgi_app(${JSON.stringify(conf)})\n`);
  const port = await freePort();
  const child = startProcess('gunicorn', 'gunicorn', ['-w', String(WORKERS), '--threads', String(MP_THREADS), '-b', `127.0.0.1:${port}`, '--timeout', '120', '--chdir', d, 'app:application'], {
    cwd: d,
    log: path.join(d, 'server.log'),
  });
  const base = `http://127.0.0.1:${port}`;
  await waitFor(`${base}/service?SERVICE=WMS&REQUEST=GetCapabilities`, 60000, child);
  return { name: 'mapproxy', base, dir: d, child };
}

async function upstreamStats(up: string): Promise<{ getmap: number; bytes: number }> {
  return (await fetch(`${up}/stats`)).json() as Promise<{ getmap: number; bytes: number }>;
}

async function upstreamReset(up: string): Promise<void> {
  await (await fetch(`${up}/reset`)).arrayBuffer();
}

/** GET with a deadline; returns status, type and body. */
async function get(url: string, timeoutMs = 120000): Promise<{ status: number; type: string; body: Uint8Array }> {
  const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const body = new Uint8Array(await r.arrayBuffer());
  return { status: r.status, type: (r.headers.get('content-type') ?? '').split(';')[0].trim(), body };
}

function isImage(body: Uint8Array, mime: string): boolean {
  if (mime === 'image/png') return body[0] === 0x89 && body[1] === 0x50 && body[2] === 0x4e && body[3] === 0x47;
  if (mime === 'image/jpeg') return body[0] === 0xff && body[1] === 0xd8;
  return false;
}

// ---------------------------------------------------------------- requests

interface Cell {
  name: string;
  size: [number, number];
  format: string;
  srs: string;
  paths: string[];
}

function fmtNum(v: number, srs: string): string {
  return srs === 'EPSG:4326' ? v.toFixed(7) : v.toFixed(2);
}

function makeCells(): Cell[] {
  const merc = getSrs('EPSG:3857');
  const wgs = getSrs('EPSG:4326');
  const cells: Cell[] = [];
  for (const [si, size] of SIZES.entries()) {
    const rand = rng(1000 + si);
    const bboxes: number[][] = [];
    for (let i = 0; i < NBBOX; i++) {
      const lon = REGION.lon[0] + rand() * (REGION.lon[1] - REGION.lon[0]);
      const lat = REGION.lat[0] + rand() * (REGION.lat[1] - REGION.lat[0]);
      const [cx, cy] = wgs.transformPoint([lon, lat], merc);
      const hw = (size[0] * RES) / 2;
      const hh = (size[1] * RES) / 2;
      bboxes.push([cx - hw, cy - hh, cx + hw, cy + hh]);
    }
    for (const format of FORMATS) {
      for (const srsCode of SRSES) {
        const srs = getSrs(srsCode);
        const paths = bboxes.map((b) => {
          const bb = srsCode === 'EPSG:3857' ? b : merc.transformBbox(b as [number, number, number, number], srs);
          return `/service?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=base&STYLES=&SRS=${encodeURIComponent(srsCode)}`
            + `&BBOX=${bb.map((v) => fmtNum(v, srsCode)).join(',')}&WIDTH=${size[0]}&HEIGHT=${size[1]}&FORMAT=${encodeURIComponent(format)}`;
        });
        cells.push({ name: `${size[0]}x${size[1]} ${format.slice(6)} ${srsCode}`, size, format, srs: srsCode, paths });
      }
    }
  }
  return cells.filter((c) => c.name.includes(CELL_FILTER));
}

/** Request every URL once; returns failures (status, type or magic bytes wrong). */
async function warm(s: Server, cells: Cell[]): Promise<string[]> {
  const jobs = cells.flatMap((c) => c.paths.map((p) => ({ p, format: c.format })));
  const failures: string[] = [];
  await mapLimit(jobs, WARM_CONCURRENCY, async ({ p, format }) => {
    try {
      const r = await get(s.base + p);
      if (r.status !== 200 || r.type !== format || !isImage(r.body, format)) {
        failures.push(`${s.name} ${r.status} ${r.type} ${p}${r.type.startsWith('image/') ? '' : `: ${new TextDecoder().decode(r.body.subarray(0, 300))}`}`);
      }
    } catch (e) {
      failures.push(`${s.name} ${(e as Error).message} ${p}`);
    }
  });
  return failures;
}

/** Files per level in a tc cache dir. */
function levelsOf(cacheDir: string): Record<string, number> {
  const out: Record<string, number> = {};
  if (!fs.existsSync(cacheDir)) return out;
  for (const lvl of fs.readdirSync(cacheDir)) {
    if (!/^\d+$/.test(lvl)) continue;
    out[String(Number(lvl))] = listFiles(path.join(cacheDir, lvl)).length;
  }
  return out;
}

function listFiles(d: string): string[] {
  const out: string[] = [];
  const stack = [d];
  while (stack.length) {
    const cur = stack.pop()!;
    for (const e of fs.readdirSync(cur, { withFileTypes: true })) {
      const p = path.join(cur, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile() && e.name.endsWith('.png')) out.push(p);
    }
  }
  return out;
}

const cacheDirOf = (s: Server) => path.join(s.dir, 'cache_data', 'wms_cache_EPSG3857');

// ---------------------------------------------------------------- output

const pad = (s: string, n: number) => s.padStart(n);
const f0 = (v: number) => (Number.isFinite(v) ? v.toFixed(v < 10 ? 1 : 0) : '-');
const fms = (v: number) => (Number.isFinite(v) ? (v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)) : '-');

function printGetMapTable(rows: { cell: Cell; ours: Run; mp: Run }[]): void {
  console.log('');
  console.log(`1. WMS GetMap from a warmed cache (wrk -t${WRK_THREADS} -c${CONNECTIONS} -d${SECONDS}s, ${NBBOX} bboxes rotated; latency in ms; cores = CPU used by the server process(es))`);
  const head = `${'cell'.padEnd(28)}${pad('ours r/s', 10)}${pad('MP r/s', 9)}${pad('ratio', 8)}${pad('ours p50', 10)}${pad('MP p50', 9)}${pad('ours p99', 10)}${pad('MP p99', 9)}${pad('cores o/MP', 12)}  target ${TARGET_GETMAP}x`;
  console.log(head);
  console.log('-'.repeat(head.length));
  for (const { cell, ours, mp } of rows) {
    const ratio = ours.rps / mp.rps;
    const errs = ours.non2xx + ours.socketErrors + mp.non2xx + mp.socketErrors;
    console.log(
      `${cell.name.padEnd(28)}${pad(f0(ours.rps), 10)}${pad(f0(mp.rps), 9)}${pad(`${ratio.toFixed(2)}x`, 8)}${pad(fms(ours.p50), 10)}${pad(fms(mp.p50), 9)}${pad(fms(ours.p99), 10)}${pad(fms(mp.p99), 9)}${pad(`${ours.cores.toFixed(2)}/${mp.cores.toFixed(2)}`, 12)}  ${ratio >= TARGET_GETMAP ? 'ok' : 'BELOW'}`
      + (errs ? `  (errors: ours ${ours.non2xx}+${ours.socketErrors}, MP ${mp.non2xx}+${mp.socketErrors})` : ''),
    );
  }
}

// ---------------------------------------------------------------- main

const upPort = await freePort();
const metaPx = 4 * 256 + 2 * META_BUFFER;
const upstream = startProcess('wms-upstream', bun, [path.join(root, 'bench', 'wms-upstream.ts'), String(upPort), `${metaPx}x${metaPx}`, `--style=${UPSTREAM_STYLE}`], {
  cwd: dir,
  log: path.join(dir, 'upstream.log'),
});
const upBase = `http://127.0.0.1:${upPort}`;
await waitFor(`${upBase}/stats`, 60000, upstream);
const yaml = yamlFor(`${upBase}/wms`);
fs.writeFileSync(path.join(dir, 'mapproxy.yaml'), yaml);

console.log(`bench: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), load average ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
console.log(`bench: ours = ${useDist ? 'dist/mapproxy' : `bun ${[...BUN_FLAGS, 'cli/main.ts'].join(' ')}`} ${WORKERS > 1 ? `serve -w ${WORKERS}` : 'serve-develop (1 process)'}; MapProxy = gunicorn -w ${WORKERS} --threads ${MP_THREADS} (gthread) + make_wsgi_app`);
console.log(`bench: caches in ${dir} (${fsName(dir)})`);
console.log(`bench: cache GLOBAL_WEBMERCATOR png, meta_size [4, 4], meta_buffer ${META_BUFFER}; upstream bench/wms-upstream.ts (separate process, pre-encoded ${metaPx}x${metaPx} '${UPSTREAM_STYLE}' PNGs)`);

let exitCode = 0;
const getmapRows: { cell: Cell; ours: Run; mp: Run }[] = [];
const missRows: { name: string; tiles: number; seconds: number; upstream: number; p50: number; p99: number; stored: number; failures: number; cores: number }[] = [];
let warmServers: Server[] = [];
let missServers: Server[] = [];

try {
  if (ONLY.has('getmap')) {
    const cells = makeCells();
    const [ours, mp] = await Promise.all([startOurs(yaml, 'ours'), startMapProxy(yaml, 'mapproxy')]);
    warmServers = [ours, mp];
    const t0 = performance.now();
    const fails = (await Promise.all([warm(ours, cells), warm(mp, cells)])).flat();
    const warmUp = await upstreamStats(upBase);
    console.log(`bench: warm-up of ${cells.length} cells x ${NBBOX} URLs on both servers in ${((performance.now() - t0) / 1000).toFixed(1)} s, ${warmUp.getmap} upstream GetMaps; levels stored: ours ${JSON.stringify(levelsOf(cacheDirOf(ours)))}, MapProxy ${JSON.stringify(levelsOf(cacheDirOf(mp)))}`);
    if (fails.length) {
      console.log(`bench: ${fails.length} warm-up requests failed, e.g.:\n  ${fails.slice(0, 8).join('\n  ')}`);
      throw new Error('warm-up failed');
    }
    await upstreamReset(upBase);
    for (const [i, cell] of cells.entries()) {
      const lua = path.join(dir, `cell${i}.lua`);
      fs.writeFileSync(lua, rotatingLua(cell.paths));
      const run = (s: Server): Run => {
        const c0 = cpuSeconds(s.child.proc.pid);
        const r = runWrk(s.base, { lua, seconds: SECONDS, threads: WRK_THREADS, connections: CONNECTIONS });
        return { ...r, cores: (cpuSeconds(s.child.proc.pid) - c0) / SECONDS };
      };
      // alternate who goes first, so slow drift of the machine does not favour one side
      let o: Run, m: Run;
      if (i % 2 === 0) {
        o = run(ours);
        m = run(mp);
      } else {
        m = run(mp);
        o = run(ours);
      }
      for (const [n, r] of [['ours', o], ['MapProxy', m]] as const) {
        if (!Number.isFinite(r.rps)) console.log(`bench: wrk on ${n} for ${cell.name} gave no figures:\n${r.raw}`);
      }
      console.log(`  ${cell.name.padEnd(28)} ours ${f0(o.rps).padStart(6)} r/s  MapProxy ${f0(m.rps).padStart(6)} r/s  ${(o.rps / m.rps).toFixed(2)}x`);
      getmapRows.push({ cell, ours: o, mp: m });
    }
    const during = await upstreamStats(upBase);
    console.log(`bench: upstream GetMaps during the timed runs: ${during.getmap} (0 = every request was answered from the cache)`);
    await Promise.all([stopProcess(ours.child), stopProcess(mp.child)]);
  }

  if (ONLY.has('miss')) {
    // fresh directories and processes; one priming tile far away (level 4) loads codecs and threads first
    const tiles: [number, number, number][] = [];
    for (let z = MISS_FROM; z <= MISS_TO; z++) {
      const f = 2 ** (z - 9);
      const [x0, y0, x1, y1] = MISS_AREA9.map((v) => Math.floor(v * f));
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) tiles.push([z, x, y]);
    }
    const tmsPath = ([z, x, y]: [number, number, number]) => `/tms/1.0.0/base/EPSG3857/${z - 1}/${x}/${2 ** z - 1 - y}.png`;
    const [ours, mp] = await Promise.all([startOurs(yaml, 'ours-miss'), startMapProxy(yaml, 'mapproxy-miss')]);
    missServers = [ours, mp];
    for (const s of [ours, mp]) {
      const prime = await get(s.base + tmsPath([4, 3, 3]));
      if (prime.status !== 200) throw new Error(`${s.name}: priming tile answered ${prime.status}`);
    }
    for (const s of [ours, mp]) {
      await upstreamReset(upBase);
      const lat: number[] = [];
      let failures = 0;
      const c0 = cpuSeconds(s.child.proc.pid);
      const t0 = performance.now();
      await mapLimit(tiles, MISS_CONCURRENCY, async (t) => {
        const s0 = performance.now();
        try {
          const r = await get(s.base + tmsPath(t));
          if (r.status !== 200 || r.type !== 'image/png' || !isImage(r.body, 'image/png')) failures++;
        } catch {
          failures++;
        }
        lat.push(performance.now() - s0);
      });
      const seconds = (performance.now() - t0) / 1000;
      const cores = (cpuSeconds(s.child.proc.pid) - c0) / seconds;
      const up = await upstreamStats(upBase);
      lat.sort((a, b) => a - b);
      const stored = Object.entries(levelsOf(cacheDirOf(s))).reduce((a, [z, n]) => a + (Number(z) >= MISS_FROM && Number(z) <= MISS_TO ? n : 0), 0);
      missRows.push({ name: s.name, tiles: tiles.length, seconds, upstream: up.getmap, p50: lat[Math.floor(lat.length * 0.5)], p99: lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))], stored, failures, cores });
      if (failures) console.log(`bench: ${s.name}: ${failures} cache-miss requests failed\n${logTail(s.child)}`);
    }
    await Promise.all([stopProcess(ours.child), stopProcess(mp.child)]);
  }
} catch (e) {
  console.error(`bench: ${(e as Error).message}`);
  for (const s of [...warmServers, ...missServers]) {
    const t = logTail(s.child, 15);
    if (t.trim()) console.error(`--- ${s.name} log (${s.dir}):\n${t}`);
  }
  exitCode = 1;
}

if (getmapRows.length) printGetMapTable(getmapRows);

if (missRows.length === 2) {
  const [o, m] = missRows;
  const ratio = o.tiles / o.seconds / (m.tiles / m.seconds);
  console.log('');
  console.log(`2. Cache misses: ${o.tiles} distinct tiles of levels ${MISS_FROM}-${MISS_TO} over TMS, ${MISS_CONCURRENCY} in flight, fresh caches (meta 4x4, meta_buffer ${META_BUFFER})`);
  const head = `${'server'.padEnd(12)}${pad('tiles/s', 9)}${pad('seconds', 9)}${pad('upstream', 10)}${pad('stored', 8)}${pad('p50 ms', 9)}${pad('p99 ms', 9)}${pad('failed', 8)}${pad('cores', 7)}`;
  console.log(head);
  console.log('-'.repeat(head.length));
  for (const r of missRows) {
    console.log(`${r.name.padEnd(12)}${pad(f0(r.tiles / r.seconds), 9)}${pad(r.seconds.toFixed(2), 9)}${pad(String(r.upstream), 10)}${pad(String(r.stored), 8)}${pad(fms(r.p50), 9)}${pad(fms(r.p99), 9)}${pad(String(r.failures), 8)}${pad(r.cores.toFixed(2), 7)}`);
  }
  console.log(`ratio ours/MapProxy: ${ratio.toFixed(2)}x  (target ${TARGET_MISS}x: ${ratio >= TARGET_MISS ? 'ok' : 'BELOW'})`);
}

if (ONLY.has('sizes')) {
  const pairs: [string, Server | undefined, Server | undefined][] = [
    [`cache-miss tiles (levels ${MISS_FROM}-${MISS_TO})`, missServers[0], missServers[1]],
    [`GetMap warm-up tiles (level ${ZOOM} area)`, warmServers[0], warmServers[1]],
  ];
  const lines: string[] = [];
  for (const [label, o, m] of pairs) {
    if (!o || !m) continue;
    const od = cacheDirOf(o);
    const md = cacheDirOf(m);
    const rels = listFiles(od).map((p) => path.relative(od, p)).filter((r) => fs.existsSync(path.join(md, r))).sort();
    if (!rels.length) continue;
    let sumRatio = 0;
    let ob = 0;
    let mb = 0;
    let minR = Infinity;
    let maxR = 0;
    for (const r of rels) {
      const a = fs.statSync(path.join(od, r)).size;
      const b = fs.statSync(path.join(md, r)).size;
      ob += a;
      mb += b;
      const q = a / b;
      sumRatio += q;
      minR = Math.min(minR, q);
      maxR = Math.max(maxR, q);
    }
    // pixel agreement on an evenly spaced sample
    const step = Math.max(1, Math.floor(rels.length / 100));
    let same = 0;
    let sampled = 0;
    let maxDiff = 0;
    for (let i = 0; i < rels.length; i += step) {
      const [ra, rb] = await Promise.all([decodeImage(fs.readFileSync(path.join(od, rels[i]))), decodeImage(fs.readFileSync(path.join(md, rels[i])))]);
      sampled++;
      let d = 0;
      for (let k = 0; k < ra.data.length; k++) d = Math.max(d, Math.abs(ra.data[k] - rb.data[k]));
      if (d === 0) same++;
      maxDiff = Math.max(maxDiff, d);
    }
    const mean = sumRatio / rels.length;
    lines.push(
      `${label.padEnd(40)}${pad(String(rels.length), 7)}${pad((ob / rels.length / 1024).toFixed(2), 10)}${pad((mb / rels.length / 1024).toFixed(2), 9)}${pad(mean.toFixed(3), 8)}${pad((ob / mb).toFixed(3), 8)}${pad(`${minR.toFixed(2)}-${maxR.toFixed(2)}`, 12)}${pad(`${same}/${sampled}`, 9)}${pad(String(maxDiff), 6)}  ${Math.abs(mean - 1) <= TARGET_PNG ? 'ok' : mean < 1 ? 'ok (smaller)' : 'BELOW'}`,
    );
  }
  if (lines.length) {
    console.log('');
    console.log(`3. PNG tile sizes, same z/x/y files written by both (ratio = ours/MapProxy; target within ${TARGET_PNG * 100}%)`);
    const head = `${'tiles'.padEnd(40)}${pad('count', 7)}${pad('ours KiB', 10)}${pad('MP KiB', 9)}${pad('mean', 8)}${pad('total', 8)}${pad('min-max', 12)}${pad('same px', 9)}${pad('maxΔ', 6)}`;
    console.log(head);
    console.log('-'.repeat(head.length));
    for (const l of lines) console.log(l);
  }
}

await stopProcess(upstream);
cleanup();
process.exit(exitCode);
