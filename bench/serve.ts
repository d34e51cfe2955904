/**
 * `mapproxy serve --workers 2` against nginx (the same tile files, static)
 * and MapProxy 1.15 under `gunicorn -w 2`: cache-hit throughput and latency
 * with wrk (1 thread, 32 connections, random URLs out of several thousand
 * distinct tiles), RSS per worker, and startup to the first served tile.
 * Servers that are not installed are skipped.
 *
 * A third row is the floor under mapproxy-ts: bench/serve-floor.ts, a bare
 * Bun.serve compiled the same way that reads the same files and sends the
 * same hit headers and does nothing else, in as many processes as workers.
 * It splits the gap to nginx into the runtime's share and ours.
 *
 * mapproxy-ts runs with its default --tile-memory (hits answered from memory
 * after a stat of the file), with an access log, and with --tile-memory 0
 * (every hit reads its file, as nginx and the floor do).
 *
 * mapproxy-ts, nginx and the floor run BENCH_ROUNDS times, interleaved, and
 * the median run is shown (shared machines are noisy); MapProxy runs once.
 *
 *   npm run build && bun bench/serve.ts
 *   BENCH_SECONDS=20 BENCH_LEVELS=7 BENCH_ROUNDS=5 bun bench/serve.ts
 *   BENCH_WARMUP=0 bun bench/serve.ts   # measure from a cold start (default: 3 s of load first)
 *   BENCH_BIN=/tmp/mapproxy-other-build bun bench/serve.ts
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
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
const LEVELS = Number(process.env.BENCH_LEVELS ?? 6); // TMS levels 0..LEVELS-1 -> 5460 tiles for 6
const WORKERS = 2;

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
if (!have('wrk')) {
  console.error('bench: wrk not found (apt-get install wrk)');
  process.exit(2);
}
const root = path.resolve(import.meta.dir ?? path.dirname(new URL(import.meta.url).pathname), '..');
const bin = process.env.BENCH_BIN ? path.resolve(process.env.BENCH_BIN) : path.join(root, 'dist', 'mapproxy');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
if (!fs.existsSync(bin)) {
  console.error(`bench: ${bin} missing, run npm run build first`);
  process.exit(2);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapproxy-bench-serve-'));
// nginx workers run as nobody when started by root: they must be able to read the tiles
fs.chmodSync(dir, 0o755);
const children: ChildProcess[] = [];
const cleanup = () => {
  for (const c of children) if (c.pid && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

fs.writeFileSync(path.join(dir, 'mapproxy.yaml'), TMS_HITS_CONFIG);

// Fill the cache (MapProxy's tc layout) and hard-link every tile where nginx finds it under the same URL.
const urls: string[] = [];
const cacheDir = path.join(dir, 'cache_data', 'osm_cache_EPSG900913');
const staticRoot = path.join(dir, 'static');
const base = await encodeImage(createRaster(256, 256, [120, 160, 200, 255]), { format: 'png' });
for (let tz = 0; tz < LEVELS; tz++) {
  const z = tz + 1; // global-mercator profile: TMS level 0 is internal level 1
  const n = 2 ** z;
  for (let x = 0; x < n; x++)
    for (let y = 0; y < n; y++) {
      const url = `/tms/1.0.0/osm/EPSG900913/${tz}/${x}/${y}.png`;
      urls.push(url);
      const file = path.join(cacheDir, tileRelPath('tc', [x, y, z], 'png'));
      fs.mkdirSync(path.dirname(file), { recursive: true });
      // same image, distinct bytes: a trailing tag after IEND keeps every file unique
      const tag = new TextEncoder().encode(`${z}/${x}/${y}`);
      const bytes = new Uint8Array(base.length + tag.length);
      bytes.set(base);
      bytes.set(tag, base.length);
      fs.writeFileSync(file, bytes);
      const link = path.join(staticRoot, url);
      fs.mkdirSync(path.dirname(link), { recursive: true });
      fs.linkSync(file, link);
    }
}
for (let d = staticRoot; d.startsWith(dir); d = path.dirname(d)) fs.chmodSync(d, 0o755);
spawnSync('chmod', ['-R', 'a+rX', dir]);
const lua = path.join(dir, 'urls.lua');
fs.writeFileSync(
  lua,
  `local paths = {${urls.map((u) => JSON.stringify(u)).join(',')}}
math.randomseed(42)
request = function() return wrk.format(nil, paths[math.random(#paths)]) end
`,
);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
    await sleep(2);
  }
  throw new Error(`no answer from ${url} within ${timeoutMs} ms`);
}

function start(cmd: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const c = spawn(cmd, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  c.stderr!.on('data', (d) => (err += d));
  c.once('exit', (code) => {
    if (code && code !== 0 && !stopped.has(c)) console.error(`bench: ${cmd} exited with ${code}\n${err.slice(-2000)}`);
  });
  children.push(c);
  return c;
}
const stopped = new Set<ChildProcess>();

function stop(c: ChildProcess, sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  stopped.add(c);
  return new Promise((r) => {
    if (c.exitCode !== null || c.signalCode !== null) return r();
    const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
    c.once('exit', () => {
      clearTimeout(t);
      r();
    });
    c.kill(sig);
  });
}

/** Pids whose parent is pid (from /proc/PID/stat; field 4 is the ppid). */
function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(e));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** CPU time (user + system) of processes in ms: robust against other load on the machine, unlike req/s. */
function cpuMs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
    } catch {
      /* exited */
    }
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}

/** VmRSS of a process in MB. */
function rssMb(pid: number): number {
  return memOf(pid).rss;
}

/**
 * A worker's memory in MB: RSS, and what it is made of. `file` is mostly the
 * executable's pages (runtime code, embedded bundle and bytecode), shared by
 * all workers; `anon` is the worker's own heap; PSS charges each worker its
 * share of the shared pages.
 */
interface Mem { rss: number; anon: number; file: number; pss: number }
function memOf(pid: number): Mem {
  const kb = (text: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) / 1024;
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  let rollup = '';
  try {
    rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    // older kernels: PSS stays unknown
  }
  return { rss: kb(status, 'VmRSS'), anon: kb(status, 'RssAnon'), file: kb(status, 'RssFile'), pss: kb(rollup, 'Pss') };
}

interface WrkResult {
  rps: number;
  requests: number;
  /** Server CPU time per request in microseconds (all its processes). */
  cpuUs?: number;
  /** Each worker's share of the workers' CPU time in %, busiest first: SO_REUSEPORT hashes the 32 connections, and the busier worker caps req/s. */
  split?: number[];
  p50: string;
  p99: string;
  errors: string;
}

/** wrk against port; pids are the server's processes, whose CPU time is charged to the requests. */
function runWrk(port: number, pids: number[] = [], workers: number[] = []): WrkResult {
  // every server gets the same unmeasured warm-up: JIT tiers, Python's imports,
  // nginx's and the kernel's caches, and our tile memory filling up
  if (WARMUP > 0) spawnSync('wrk', ['-t1', '-c32', `-d${WARMUP}s`, '-s', lua, `http://127.0.0.1:${port}`], { encoding: 'utf8' });
  const cpu0 = cpuMs(pids);
  const w0 = workers.map((w) => cpuMs([w]));
  const r = spawnSync('wrk', ['-t1', '-c32', `-d${SECONDS}s`, '--latency', '-s', lua, `http://127.0.0.1:${port}`], { encoding: 'utf8' });
  const out = r.stdout;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const sockErr = /Socket errors: (.*)/.exec(out)?.[1];
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  return {
    requests,
    cpuUs: pids.length ? ((cpuMs(pids) - cpu0) * 1000) / requests : undefined,
    split: workerSplit(workers.map((w, i) => cpuMs([w]) - w0[i])),
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    p50: /\s50%\s+([\d.]+\w+)/.exec(out)?.[1] ?? '?',
    p99: /\s99%\s+([\d.]+\w+)/.exec(out)?.[1] ?? '?',
    errors: `${non2xx}${sockErr ? `; socket errors ${sockErr}` : ''}`,
  };
}

function workerSplit(ms: number[]): number[] | undefined {
  const total = ms.reduce((a, b) => a + b, 0);
  return ms.length > 1 && total > 0 ? ms.map((m) => (100 * m) / total).sort((a, b) => b - a) : undefined;
}

interface Row {
  name: string;
  runs: WrkResult[];
  rss: Mem[];
  note?: string;
}
const rows = new Map<string, Row>();
function record(name: string, wrk: WrkResult, rss: Mem[], note?: string): void {
  const r = rows.get(name) ?? { name, runs: [], rss, note };
  r.runs.push(wrk);
  r.rss = rss;
  if (note) r.note = note;
  rows.set(name, r);
}
/** The run with the median req/s. */
const median = (r: Row) => [...r.runs].sort((a, b) => a.rps - b.rps)[Math.floor(r.runs.length / 2)];
const line = (r: Row) => {
  const m = median(r);
  const all = r.runs.length > 1 ? `  (runs: ${r.runs.map((x) => x.rps.toFixed(0)).join(', ')})` : '';
  const split = m.split ? ` (workers ${m.split.map((v) => v.toFixed(0)).join('/')}%)` : '';
  const cpu = m.cpuUs !== undefined ? `  CPU ${m.cpuUs.toFixed(0).padStart(3)} us/req${split}` : '';
  return `${r.name.padEnd(40)} ${m.rps.toFixed(0).padStart(7)} req/s  p50 ${m.p50.padStart(8)}  p99 ${m.p99.padStart(8)}${cpu}  RSS/worker ${memText(r.rss)}  non-2xx ${m.errors}${r.note ? `  ${r.note}` : ''}${all}`;
};

const memText = (ms: Mem[]) => {
  const col = (f: (m: Mem) => number) => ms.map((m) => f(m).toFixed(0)).join('/');
  return `${col((m) => m.rss)} MB (anon ${col((m) => m.anon)}, file ${col((m) => m.file)}, PSS ${col((m) => m.pss)})`;
};

const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`bench: ${urls.length} distinct cached tiles, wrk -t1 -c32 -d${SECONDS}s after ${WARMUP} s of warm-up, ${WORKERS} workers each, ${os.cpus().length} cores, load average ${load}`);
console.log(`bench: mapproxy-ts = ${bin}`);

// startup to first served tile: supervisor, config check, worker spawn and boot
const startups: number[] = [];
for (let i = 0; i < 5; i++) {
  const port = 19100 + i;
  const t0 = performance.now();
  const c = start(bin, ['serve', 'mapproxy.yaml', '-b', `127.0.0.1:${port}`, '-w', String(WORKERS)]);
  await waitFor(`http://127.0.0.1:${port}${urls[0]}`, 10_000);
  startups.push(performance.now() - t0);
  await stop(c);
}
startups.sort((a, b) => a - b);
console.log(`mapproxy-ts serve: startup to first served tile: best ${startups[0].toFixed(0)} ms, median ${startups[2].toFixed(0)} ms`);

let nextPort = 19110;
async function benchOurs(name: string, extra: string[]): Promise<void> {
  const port = nextPort++;
  const c = start(bin, ['serve', 'mapproxy.yaml', '-b', `127.0.0.1:${port}`, '-w', String(WORKERS), ...extra]);
  await waitFor(`http://127.0.0.1:${port}${urls[0]}`, 10_000);
  await sleep(200);
  const workers = childPids(c.pid!);
  const wrk = runWrk(port, [c.pid!, ...workers], workers);
  record(name, wrk, childPids(c.pid!).map(memOf), `supervisor ${rssMb(c.pid!).toFixed(0)} MB`);
  await stop(c);
}

const nginxConf = path.join(dir, 'nginx.conf');
async function benchNginx(): Promise<void> {
  const port = nextPort++;
  fs.writeFileSync(
    nginxConf,
    `worker_processes ${WORKERS};
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log;
events { worker_connections 1024; }
http {
  types { image/png png; }
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/nginx-body;
  proxy_temp_path ${dir}/nginx-proxy;
  fastcgi_temp_path ${dir}/nginx-fastcgi;
  uwsgi_temp_path ${dir}/nginx-uwsgi;
  scgi_temp_path ${dir}/nginx-scgi;
  server {
    listen 127.0.0.1:${port};
    root ${staticRoot};
  }
}
`,
  );
  const c = start('nginx', ['-c', nginxConf, '-p', dir]);
  await waitFor(`http://127.0.0.1:${port}${urls[0]}`, 10_000);
  const workers = childPids(c.pid!);
  const wrk = runWrk(port, [c.pid!, ...workers], workers);
  record(`nginx ${WORKERS} workers, static files`, wrk, childPids(c.pid!).map(memOf));
  await stop(c, 'SIGQUIT');
}

// The floor: a bare Bun.serve doing only what a hit cannot avoid (bench/serve-floor.ts), compiled like dist/mapproxy.
const floorBin = path.join(dir, 'serve-floor');
const floorBuild = spawnSync(process.execPath.includes('bun') ? process.execPath : 'bun', ['build', '--compile', '--bytecode', path.join(root, 'bench', 'serve-floor.ts'), '--outfile', floorBin], { encoding: 'utf8' });
if (floorBuild.status !== 0) console.log(`bench: could not compile bench/serve-floor.ts, floor skipped\n${floorBuild.stderr}`);
async function benchFloor(): Promise<void> {
  const port = nextPort++;
  const procs = Array.from({ length: WORKERS }, () => start(floorBin, [String(port), cacheDir]));
  await waitFor(`http://127.0.0.1:${port}${urls[0]}`, 10_000);
  // every process bound before the load starts
  await sleep(200);
  const pids = procs.map((c) => c.pid!);
  record(`bare Bun.serve ${WORKERS} processes (floor)`, runWrk(port, pids, pids), pids.map(memOf));
  await Promise.all(procs.map((c) => stop(c)));
}

const withNginx = have('nginx');
if (!withNginx) console.log('bench: nginx not found, skipped (apt-get install nginx-light)');
for (let round = 0; round < ROUNDS; round++) {
  await benchOurs(`mapproxy-ts serve -w ${WORKERS}`, []);
  if (withNginx) await benchNginx();
  if (floorBuild.status === 0) await benchFloor();
  await benchOurs(`mapproxy-ts serve -w ${WORKERS} --access-log FILE`, ['--access-log', path.join(dir, 'access.log')]);
  // every hit read from its file, as before --tile-memory existed
  await benchOurs(`mapproxy-ts serve -w ${WORKERS} --tile-memory 0`, ['--tile-memory', '0']);
}

/** gunicorn whose Python can import MapProxy (the interpreter named in its #! line). */
function gunicornWithMapProxy(): string | undefined {
  const g = spawnSync('sh', ['-c', 'command -v gunicorn'], { encoding: 'utf8' }).stdout.trim();
  if (!g) return undefined;
  const python = /^#!\s*(\S+)/.exec(fs.readFileSync(g, 'utf8').split('\n')[0])?.[1];
  return python && spawnSync(python, ['-c', 'import mapproxy.wsgiapp']).status === 0 ? g : undefined;
}
const gunicorn = gunicornWithMapProxy();
if (gunicorn) {
  const port = nextPort++;
  fs.writeFileSync(path.join(dir, 'config.py'), "from mapproxy.wsgiapp import make_wsgi_app\napplication = make_wsgi_app('mapproxy.yaml')\n");
  const c = start(gunicorn, ['-w', String(WORKERS), '-b', `127.0.0.1:${port}`, '--chdir', dir, 'config:application']);
  const t = await waitFor(`http://127.0.0.1:${port}${urls[0]}`, 30_000);
  await sleep(500);
  record(`MapProxy 1.15 gunicorn -w ${WORKERS}`, runWrk(port, [c.pid!, ...childPids(c.pid!)], childPids(c.pid!)), childPids(c.pid!).map(memOf), `startup to first tile ${t.toFixed(0)} ms`);
  await stop(c);
} else console.log('bench: gunicorn with MapProxy not found, skipped (apt-get install gunicorn mapproxy)');

for (const r of rows.values()) console.log(line(r));
const all = [...rows.values()];
const ours = all[0];
const nginx = all.find((r) => r.name.startsWith('nginx'));
const cpu = (r: Row) => [...r.runs].map((x) => x.cpuUs ?? NaN).sort((a, b) => a - b)[Math.floor(r.runs.length / 2)];
if (nginx) {
  console.log(`mapproxy-ts / nginx: ${(median(ours).rps / median(nginx).rps).toFixed(2)}x req/s (target >= 0.75x); CPU per request ${(cpu(ours) / cpu(nginx)).toFixed(2)}x nginx's`);
}
const floor = all.find((r) => r.name.startsWith('bare Bun.serve'));
if (floor) {
  const vsNginx = nginx ? `; the floor reaches ${(median(floor).rps / median(nginx).rps).toFixed(2)}x nginx's req/s` : '';
  console.log(`mapproxy-ts / bare Bun.serve floor: ${(median(ours).rps / median(floor).rps).toFixed(2)}x req/s, CPU per request ${(cpu(ours) / cpu(floor)).toFixed(2)}x the floor's${vsNginx}`);
}
const mp = all.find((r) => r.name.startsWith('MapProxy'));
if (mp) console.log(`mapproxy-ts / MapProxy gunicorn: ${(median(ours).rps / median(mp).rps).toFixed(1)}x req/s`);
