/**
 * Cache-hit throughput of TMS tiles: mapproxy-ts and (when installed) MapProxy's
 * `mapproxy-util serve-develop` serve the same file cache of several thousand
 * distinct tiles; wrk drives 32 connections at random tile URLs. Also measures
 * the startup of `dist/mapproxy serve-develop` to the first served tile.
 *
 *   npm run build && npm run bench            (wrk from Debian: apt-get install wrk)
 *   BENCH_SECONDS=20 BENCH_LEVELS=7 npm run bench
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tileRelPath } from '../src/cache/file-layout.ts';
import { encodeImage } from '../src/image/codec.ts';
import { createRaster } from '../src/image/raster.ts';
import { TMS_HITS_CONFIG } from './lib-bench.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const LEVELS = Number(process.env.BENCH_LEVELS ?? 6); // TMS levels 0..LEVELS-1 (internal 1..LEVELS) -> 5460 tiles for 6
const CONNECTIONS = 32;

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
if (!have('wrk')) {
  console.error('bench: wrk not found (apt-get install wrk)');
  process.exit(2);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapproxy-bench-'));
const children: ChildProcess[] = [];
const cleanup = () => {
  for (const c of children) if (c.pid && c.exitCode === null) c.kill('SIGTERM');
  fs.rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

fs.writeFileSync(path.join(dir, 'mapproxy.yaml'), TMS_HITS_CONFIG);

// Fill the cache: distinct tiles (each carries its own pixel values) at MapProxy's tc paths.
const urls: string[] = [];
const cacheDir = path.join(dir, 'cache_data', 'osm_cache_EPSG900913');
for (let tz = 0; tz < LEVELS; tz++) {
  const z = tz + 1; // global-mercator profile: TMS level 0 is internal level 1
  const n = 2 ** z;
  for (let x = 0; x < n; x++)
    for (let y = 0; y < n; y++) {
      urls.push(`/tms/1.0.0/osm/EPSG900913/${tz}/${x}/${y}.png`);
    }
}
const base = await encodeImage(createRaster(256, 256, [120, 160, 200, 255]), { format: 'png' });
for (let tz = 0; tz < LEVELS; tz++) {
  const z = tz + 1;
  const n = 2 ** z;
  for (let x = 0; x < n; x++)
    for (let y = 0; y < n; y++) {
      const file = path.join(cacheDir, tileRelPath('tc', [x, y, z], 'png'));
      fs.mkdirSync(path.dirname(file), { recursive: true });
      // same image, distinct bytes: a trailing tag after IEND keeps every file unique
      const tag = new TextEncoder().encode(`${z}/${x}/${y}`);
      const bytes = new Uint8Array(base.length + tag.length);
      bytes.set(base);
      bytes.set(tag, base.length);
      fs.writeFileSync(file, bytes);
    }
}
const lua = path.join(dir, 'urls.lua');
fs.writeFileSync(
  lua,
  `local paths = {${urls.map((u) => JSON.stringify(u)).join(',')}}
math.randomseed(42)
request = function() return wrk.format(nil, paths[math.random(#paths)]) end
`,
);

async function waitFor(url: string, timeoutMs: number): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < timeoutMs) {
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (r.status === 200) return performance.now() - start;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`no answer from ${url} within ${timeoutMs} ms`);
}

function start(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { cwd: dir, stdio: 'ignore' });
  children.push(c);
  return c;
}

function stop(c: ChildProcess): Promise<void> {
  return new Promise((r) => {
    if (c.exitCode !== null) return r();
    c.once('exit', () => r());
    c.kill('SIGTERM');
  });
}

function runWrk(port: number): { rps: number; p50: string; p99: string; errors: string } {
  const r = spawnSync('wrk', ['-t2', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--latency', '-s', lua, `http://127.0.0.1:${port}`], { encoding: 'utf8' });
  const out = r.stdout;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const p50 = /\s50%\s+([\d.]+\w+)/.exec(out)?.[1] ?? '?';
  const p99 = /\s99%\s+([\d.]+\w+)/.exec(out)?.[1] ?? '?';
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? '0';
  return { rps, p50, p99, errors };
}

const root = path.resolve(import.meta.dir ?? path.dirname(new URL(import.meta.url).pathname), '..');
const bin = path.join(root, 'dist', 'mapproxy');
const ours: [string, string[]] = fs.existsSync(bin) ? [bin, []] : [process.execPath, [path.join(root, 'cli', 'main.ts')]];
console.log(`bench: ${urls.length} distinct cached tiles, ${CONNECTIONS} connections, ${SECONDS}s per server, ${os.cpus().length} cores`);
console.log(`bench: mapproxy-ts = ${ours[0] === bin ? 'dist/mapproxy' : 'bun cli/main.ts (run npm run build for the executable)'}`);

// startup to first tile, best of 5
const startups: number[] = [];
for (let i = 0; i < 5; i++) {
  const port = 19000 + i;
  const t0 = performance.now();
  const c = start(ours[0], [...ours[1], 'serve-develop', 'mapproxy.yaml', '-b', `127.0.0.1:${port}`]);
  await waitFor(`http://127.0.0.1:${port}${urls[0]}`, 10000);
  startups.push(performance.now() - t0);
  await stop(c);
}
startups.sort((a, b) => a - b);
console.log(`startup to first served tile: best ${startups[0].toFixed(0)} ms, median ${startups[2].toFixed(0)} ms`);

const results: [string, ReturnType<typeof runWrk>][] = [];
{
  const port = 19010;
  const c = start(ours[0], [...ours[1], 'serve-develop', 'mapproxy.yaml', '-b', `127.0.0.1:${port}`]);
  await waitFor(`http://127.0.0.1:${port}${urls[0]}`, 10000);
  results.push(['mapproxy-ts serve-develop', runWrk(port)]);
  await stop(c);
}
if (have('mapproxy-util')) {
  const port = 19011;
  const c = start('mapproxy-util', ['serve-develop', 'mapproxy.yaml', '-b', `127.0.0.1:${port}`]);
  await waitFor(`http://127.0.0.1:${port}${urls[0]}`, 30000);
  results.push(['MapProxy 1.15 mapproxy-util serve-develop', runWrk(port)]);
  await stop(c);
} else {
  console.log('bench: mapproxy-util not found, MapProxy baseline skipped (apt-get install mapproxy)');
}
for (const [name, r] of results) {
  console.log(`${name.padEnd(44)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50.padStart(8)}  p99 ${r.p99.padStart(8)}  non-2xx ${r.errors}`);
}
if (results.length === 2) console.log(`speed-up: ${(results[0][1].rps / results[1][1].rps).toFixed(1)}x`);
