/**
 * Seeding benchmark, mapproxy-ts against MapProxy 1.15's mapproxy-seed side by
 * side in one run: levels 0..N of a bbox coverage of a file cache
 * (GLOBAL_WEBMERCATOR, PNG, meta_size 4x4) seeded from a fast upstream WMS
 * into an empty cache, `-c 2` for both.
 *
 *   bun bench/seed.ts                        (needs mapproxy-seed: apt-get install mapproxy)
 *   bun bench/seed.ts --levels 12 --rounds 3 --meta-buffers 0 --tools mapproxy,ours
 *
 * Each variant (meta_buffer 0 and MapProxy's default 80) writes one
 * mapproxy.yaml and one seed.yaml; every run copies them into its own fresh
 * directory (cache_data/ below it, empty) and runs there:
 *   - MapProxy: mapproxy-seed -f mapproxy.yaml -s seed.yaml -c C
 *   - ours:     bun cli/main.ts seed -f mapproxy.yaml -s seed.yaml -c C
 *   - dist:     dist/mapproxy seed ... (the single executable, if built)
 * Rounds are interleaved (the order of the tools is reversed every round), so
 * slow drift of the machine does not favour one side. Per run: wall clock
 * from spawn to exit, user+sys CPU and peak RSS of the child (wait4's rusage:
 * the process and its reaped children, i.e. mapproxy-seed's worker
 * processes; RSS is the largest single process), files written below the
 * cache directory (per level) and GetMap requests the upstream answered,
 * plus the CPU the upstream used meanwhile (it must stay small) and the CPU
 * every other process on the machine used (from /proc/stat; other jobs on a
 * small machine skew tiles/s, tiles per CPU second much less).
 *
 * The upstream is bench/wms-upstream.ts in its own process: pre-encoded PNGs
 * per requested size (6 map-like variants, picked from the bbox, so both
 * tools get the same pixels for the same meta tile). Its sizes are rendered
 * at startup and an untimed warm-up seed of the low levels by every tool
 * makes sure no timed run pays for a first render.
 *
 * Exits 1 (FAIL) when the tools wrote different numbers of tiles (total or
 * per level, or other tile paths) or a run failed or timed out; below the
 * speed target is reported, not failed. A run past --timeout gets SIGTERM,
 * then SIGKILL, as do the worker processes it started (each by pid).
 *
 * Options: --levels N (last level, default 13: 9941 tiles, MapProxy ~25 s
 * on 2 cores), --rounds R (2), --concurrency C (2), --meta-buffers 0,80, --bbox minx,miny,maxx,maxy
 * (EPSG:4326, default 5.8,50.2,9.0,52.5), --style map|photo (upstream
 * images: map = OSM-like drawing, photo = imagery-like noise, every PNG
 * through the quantizer), --tools mapproxy,ours,dist (default: all there
 * are), --timeout S per run (600), --dir D (where the temp dir goes, default
 * the system's), --keep (keep the temp dir).
 *
 * Run directories are deleted only at the end. Deleting a run's ~10,000
 * files right before the next run made that run pay for them on ext4
 * without a journal (this machine's /): for about 60-360 s after a delete,
 * the inode allocator skips and re-reads every recently deleted inode it
 * meets (recently_deleted() in fs/ext4/ialloc.c), which cost ours ~6 of its
 * ~24 CPU seconds in `perf record`. Journalled ext4, xfs or tmpfs (--dir
 * /dev/shm) do not do this; the file system the runs use is printed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { cpuSeconds, freePort, fsName, have, killAllSync, logTail, startProcess, stopProcess, waitFor } from './lib-bench.ts';

const TARGET = 3;
const TILE = 256;
const META = 4;
const WARMUP_LEVELS = 4;

const { values: opt } = parseArgs({
  options: {
    levels: { type: 'string', default: '13' },
    rounds: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '2' },
    'meta-buffers': { type: 'string', default: '0,80' },
    bbox: { type: 'string', default: '5.8,50.2,9.0,52.5' },
    style: { type: 'string', default: 'map' },
    tools: { type: 'string' },
    timeout: { type: 'string', default: '600' },
    dir: { type: 'string', default: os.tmpdir() },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});

function usage(msg?: string): never {
  if (msg) console.error(`bench: ${msg}`);
  console.error('usage: bun bench/seed.ts [--levels N] [--rounds R] [--concurrency C] [--meta-buffers 0,80] [--bbox minx,miny,maxx,maxy] [--style map|photo] [--tools mapproxy,ours,dist] [--timeout S] [--dir D] [--keep]');
  process.exit(msg ? 2 : 0);
}
if (opt.help) usage();

const intOpt = (name: string, v: string, min: number, max: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) usage(`--${name}: expected an integer ${min}..${max}, got '${v}'`);
  return n;
};
const LEVELS = intOpt('levels', opt.levels!, 0, 18);
const ROUNDS = intOpt('rounds', opt.rounds!, 1, 20);
const CONCURRENCY = intOpt('concurrency', opt.concurrency!, 1, 64);
const TIMEOUT_S = intOpt('timeout', opt.timeout!, 10, 7200);
const META_BUFFERS = opt['meta-buffers']!.split(',').map((s) => intOpt('meta-buffers', s.trim(), 0, 512));
const BBOX = opt.bbox!.split(',').map(Number);
if (BBOX.length !== 4 || BBOX.some((v) => !Number.isFinite(v)) || BBOX[0] >= BBOX[2] || BBOX[1] >= BBOX[3]) usage(`--bbox: expected minx,miny,maxx,maxy, got '${opt.bbox}'`);
if (opt.style !== 'map' && opt.style !== 'photo') usage(`--style: map or photo, got '${opt.style}'`);
const STYLE = opt.style;

const root = path.resolve(import.meta.dir, '..');
const bun = process.execPath;
const distBin = path.join(root, 'dist', 'mapproxy');

type ToolName = 'mapproxy' | 'ours' | 'dist';
const TOOL_LABEL: Record<ToolName, string> = { mapproxy: 'mapproxy-seed', ours: 'bun cli/main.ts', dist: 'dist/mapproxy' };
const available: Record<ToolName, boolean> = { mapproxy: have('mapproxy-seed'), ours: true, dist: fs.existsSync(distBin) };
const TOOLS: ToolName[] = opt.tools
  ? opt.tools.split(',').map((s) => s.trim() as ToolName)
  : (['mapproxy', 'ours', 'dist'] as ToolName[]).filter((t) => available[t]);
for (const t of TOOLS) {
  if (!(t in available)) usage(`--tools: unknown tool '${t}' (mapproxy, ours, dist)`);
  if (!available[t]) usage(t === 'mapproxy' ? 'mapproxy-seed not found (apt-get install mapproxy)' : 'dist/mapproxy not built (npx bun build.ts)');
}
if (!TOOLS.includes('mapproxy')) console.log('bench: MapProxy not among the tools, no ratios');

/** Command line of one tool, run in the directory holding mapproxy.yaml and seed.yaml. */
function commandOf(t: ToolName): string[] {
  const flags = ['-f', 'mapproxy.yaml', '-s', 'seed.yaml', '-c', String(CONCURRENCY)];
  if (t === 'mapproxy') return ['mapproxy-seed', ...flags];
  if (t === 'ours') return [bun, path.join(root, 'cli', 'main.ts'), 'seed', ...flags];
  return [distBin, 'seed', ...flags];
}

// ---------------------------------------------------------------- temp dir, cleanup

const dir = fs.mkdtempSync(path.join(opt.dir, 'mapproxy-bench-seed-'));
/** The seed run in progress (Bun.spawn, not lib-bench's startProcess: we want its rusage). */
let running: { pid: number } | undefined;
let cleaned = false;
const cleanup = () => {
  if (cleaned) return;
  cleaned = true;
  if (running) killTree(running.pid, 'SIGKILL');
  killAllSync();
  if (opt.keep) console.log(`bench: kept ${dir}`);
  else fs.rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

/** Pids of the descendants of `pid` (from /proc), deepest last. */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const st = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      parent.set(Number(e), Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    for (const [c, pp] of parent) {
      if (pp === p && !out.includes(c)) {
        out.push(c);
        queue.push(c);
      }
    }
  }
  return out;
}

/** Start time of a process (clock ticks since boot), to tell a pid from a reused one. */
function startTime(pid: number): string | undefined {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return st.slice(st.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Processes seen below the running seed child (pid -> start time); they outlive it when it is killed. */
const seen = new Map<number, string>();

function noteDescendants(pid: number): void {
  for (const c of descendants(pid)) {
    const st = startTime(c);
    if (st !== undefined) seen.set(c, st);
  }
}

/** Signal a child we started and the processes it started (mapproxy-seed's workers), each by pid. */
function killTree(pid: number, sig: NodeJS.Signals): void {
  noteDescendants(pid);
  for (const p of [pid, ...seen.keys()]) {
    if (p !== pid && startTime(p) !== seen.get(p)) continue;
    try {
      process.kill(p, sig);
    } catch {
      /* already gone */
    }
  }
}

// ---------------------------------------------------------------- configs

function proxyYaml(upstreamUrl: string, metaBuffer: number): string {
  return `services:
  demo:
layers:
  - name: base
    title: seed bench
    sources: [seed_cache]
caches:
  seed_cache:
    grids: [GLOBAL_WEBMERCATOR]
    format: image/png
    sources: [upstream]
    meta_size: [${META}, ${META}]
    meta_buffer: ${metaBuffer}
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
    lock_dir: ./cache_data/locks
`;
}

function seedYaml(to: number): string {
  return `seeds:
  bench:
    caches: [seed_cache]
    coverages: [area]
    levels:
      from: 0
      to: ${to}
coverages:
  area:
    bbox: [${BBOX.join(', ')}]
    srs: 'EPSG:4326'
`;
}

const cacheDirOf = (runDir: string) => path.join(runDir, 'cache_data', 'seed_cache_EPSG3857');

/** Files below a cache dir, as relative paths. */
function listFiles(d: string): string[] {
  const out: string[] = [];
  if (!fs.existsSync(d)) return out;
  const stack = [d];
  while (stack.length) {
    const cur = stack.pop()!;
    for (const e of fs.readdirSync(cur, { withFileTypes: true })) {
      const p = path.join(cur, e.name);
      if (e.isDirectory()) stack.push(p);
      else out.push(path.relative(d, p));
    }
  }
  return out.sort();
}

function perLevel(files: string[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const f of files) {
    const z = Number(f.split(path.sep)[0]);
    m.set(z, (m.get(z) ?? 0) + 1);
  }
  return m;
}

// ---------------------------------------------------------------- upstream

async function upstreamStats(up: string): Promise<{ getmap: number; bytes: number }> {
  const r = await fetch(`${up}/stats`, { signal: AbortSignal.timeout(10000) });
  return (await r.json()) as { getmap: number; bytes: number };
}

async function upstreamReset(up: string): Promise<void> {
  await (await fetch(`${up}/reset`, { signal: AbortSignal.timeout(10000) })).arrayBuffer();
}

/** CPU seconds all processes on the machine used so far (busy jiffies of /proc/stat's cpu line; 100 a second); NaN off Linux. */
function machineCpu(): number {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...: everything but idle and iowait
    return (f.slice(0, 8).reduce((a, b) => a + b, 0) - f[3] - f[4]) / 100;
  } catch {
    return NaN;
  }
}

// ---------------------------------------------------------------- one run

interface Run {
  tool: ToolName;
  variant: number;
  round: number;
  code: number | null;
  seconds: number;
  user: number;
  sys: number;
  /** bytes */
  maxRss: number;
  files: string[];
  bytes: number;
  requests: number;
  upstreamCpu: number;
  /** CPU seconds used meanwhile by everything else on the machine (other jobs skew the figures) */
  otherCpu: number;
  log: string;
}

/** Run one tool in a fresh directory with the variant's configs; bounded by TIMEOUT_S. */
async function seedRun(tool: ToolName, variant: number, round: number, yaml: string, seed: string, up: string, upPid: number | undefined, label: string): Promise<Run> {
  const runDir = path.join(dir, `mb${variant}-${tool}-${label}`);
  fs.mkdirSync(runDir, { recursive: true });
  fs.writeFileSync(path.join(runDir, 'mapproxy.yaml'), yaml);
  fs.writeFileSync(path.join(runDir, 'seed.yaml'), seed);
  const log = path.join(runDir, 'seed.log');
  const fd = fs.openSync(log, 'w');
  await upstreamReset(up);
  const up0 = cpuSeconds(upPid);
  const m0 = machineCpu();
  const t0 = performance.now();
  const proc = Bun.spawn(commandOf(tool), { cwd: runDir, stdin: 'ignore', stdout: fd, stderr: fd, env: process.env });
  running = { pid: proc.pid };
  seen.clear();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killTree(proc.pid, 'SIGTERM');
    setTimeout(() => killTree(proc.pid, 'SIGKILL'), 5000).unref();
  }, TIMEOUT_S * 1000);
  // remember the workers (by pid and start time), so none can outlive a killed run
  const watch = setInterval(() => noteDescendants(proc.pid), 2000);
  const code = await proc.exited;
  const seconds = (performance.now() - t0) / 1000;
  clearTimeout(timer);
  clearInterval(watch);
  fs.closeSync(fd);
  const upCpu = cpuSeconds(upPid) - up0;
  const machine = machineCpu() - m0;
  const stats = await upstreamStats(up);
  // stragglers (a worker that outlived its parent) would distort the next run
  const left = [...seen].filter(([p, st]) => startTime(p) === st).map(([p]) => p);
  if (left.length) {
    console.log(`bench: ${TOOL_LABEL[tool]} left ${left.length} process(es) behind, killing them (pids ${left.join(' ')})`);
    killTree(proc.pid, 'SIGKILL');
  }
  running = undefined;
  const ru = proc.resourceUsage();
  const files = listFiles(cacheDirOf(runDir));
  let bytes = 0;
  for (const f of files) bytes += fs.statSync(path.join(cacheDirOf(runDir), f)).size;
  const logText = fs.readFileSync(log, 'utf8');
  if (timedOut) console.log(`bench: ${TOOL_LABEL[tool]} timed out after ${TIMEOUT_S} s`);
  // runDir stays until the end (see the header: deleting files slows the next run's creates)
  return {
    tool,
    variant,
    round,
    code: timedOut ? null : code,
    seconds,
    user: ru ? Number(ru.cpuTime.user) / 1e6 : NaN,
    sys: ru ? Number(ru.cpuTime.system) / 1e6 : NaN,
    maxRss: ru ? Number(ru.maxRSS) : NaN,
    files,
    bytes,
    requests: stats.getmap,
    upstreamCpu: upCpu,
    otherCpu: Math.max(0, machine - upCpu - (ru ? (Number(ru.cpuTime.user) + Number(ru.cpuTime.system)) / 1e6 : 0)),
    log: logText,
  };
}

// ---------------------------------------------------------------- output

const pad = (s: string, n: number) => s.padStart(n);
const fx = (v: number, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : '-');
const mib = (b: number) => (Number.isFinite(b) ? `${(b / 2 ** 20).toFixed(0)}` : '-');
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function levelsText(m: Map<number, number>): string {
  return [...m.entries()].sort((a, b) => a[0] - b[0]).map(([z, n]) => `${z}:${n}`).join(' ');
}

function rowOf(name: string, r: { tiles: number; requests: number; seconds: number; user: number; sys: number; maxRss: number; upstreamCpu: number; mb: number; other: number }, ratio: string): string {
  return `${name.padEnd(18)}${pad(String(r.tiles), 8)}${pad(String(r.requests), 9)}${pad(fx(r.seconds), 9)}${pad(fx(r.tiles / r.seconds, 0), 9)}${pad(ratio, 8)}${pad(fx(r.user + r.sys, 1), 8)}${pad(fx(r.user, 1), 7)}${pad(fx(r.sys, 1), 6)}${pad(fx((r.user + r.sys) / r.seconds), 7)}${pad(fx(r.tiles / (r.user + r.sys), 0), 11)}${pad(mib(r.maxRss), 8)}${pad(fx(r.mb, 1), 7)}${pad(fx(r.upstreamCpu, 2), 8)}${pad(fx(r.other, 2), 7)}`;
}
const HEAD = `${'tool'.padEnd(18)}${pad('tiles', 8)}${pad('requests', 9)}${pad('seconds', 9)}${pad('tiles/s', 9)}${pad('ratio', 8)}${pad('CPU s', 8)}${pad('user', 7)}${pad('sys', 6)}${pad('cores', 7)}${pad('tiles/CPUs', 11)}${pad('RSS MiB', 8)}${pad('MiB', 7)}${pad('up CPU', 8)}${pad('other', 7)}`;

// ---------------------------------------------------------------- main

let failed = false;
const fail = (msg: string) => {
  failed = true;
  console.log(`FAIL: ${msg}`);
};

const sizes = new Set<string>([`${TILE}x${TILE}`, `${2 * TILE}x${2 * TILE}`, `${META * TILE}x${META * TILE}`]);
for (const b of META_BUFFERS) for (const k of [1, 2]) sizes.add(`${META * TILE + k * b}x${META * TILE + k * b}`);
const upPort = await freePort();
const upstream = startProcess('wms-upstream', bun, [path.join(root, 'bench', 'wms-upstream.ts'), String(upPort), ...sizes, `--style=${STYLE}`], { cwd: dir, log: path.join(dir, 'upstream.log') });
const upBase = `http://127.0.0.1:${upPort}`;
const tUp = performance.now();
await waitFor(`${upBase}/stats`, 120000, upstream);
const upPid = upstream.proc.pid;

console.log(`bench: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), load average ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
console.log(`bench: runs in ${dir} (${fsName(dir)})`);
console.log(`bench: seed levels 0-${LEVELS} of bbox ${BBOX.join(',')} (EPSG:4326), GLOBAL_WEBMERCATOR, png, meta_size [${META}, ${META}], meta_buffer ${META_BUFFERS.join(' and ')}, -c ${CONCURRENCY}, ${ROUNDS} round(s), tools in alternating order`);
for (const t of TOOLS) console.log(`bench:   ${TOOL_LABEL[t].padEnd(16)} ${commandOf(t).map((a) => (a === bun ? 'bun' : a.startsWith(root) ? path.relative(root, a) : a)).join(' ')}`);
if (TOOLS.includes('dist')) {
  const built = fs.statSync(distBin).mtimeMs;
  const newer = ['src', 'cli'].flatMap((d) => fs.readdirSync(path.join(root, d), { recursive: true }).map((f) => path.join(d, String(f)))).filter((f) => f.endsWith('.ts') && fs.statSync(path.join(root, f)).mtimeMs > built);
  console.log(`bench:   dist/mapproxy built ${new Date(built).toISOString()}${newer.length ? `; older than ${newer.length} source file(s), e.g. ${newer.slice(0, 3).join(', ')} (npx bun build.ts)` : ''}`);
}
console.log(`bench: upstream bench/wms-upstream.ts (own process, pre-encoded '${STYLE}' PNGs ${[...sizes].join(' ')}) ready in ${((performance.now() - tUp) / 1000).toFixed(1)} s`);

const runs: Run[] = [];
try {
  for (const mb of META_BUFFERS) {
    const yaml = proxyYaml(`${upBase}/wms`, mb);
    const seed = seedYaml(LEVELS);
    // untimed warm-up: every tool once over the low levels (renders any upstream size not preloaded, checks the tools work)
    const warm = seedYaml(Math.min(LEVELS, WARMUP_LEVELS));
    const warmCounts: string[] = [];
    for (const t of TOOLS) {
      const w = await seedRun(t, mb, 0, yaml, warm, upBase, upPid, 'warmup');
      if (w.code !== 0) throw new Error(`${TOOL_LABEL[t]} warm-up exited ${w.code}:\n${w.log.split('\n').slice(-15).join('\n')}`);
      warmCounts.push(`${TOOL_LABEL[t]} ${w.files.length} tiles/${w.requests} req in ${w.seconds.toFixed(2)} s`);
    }
    console.log(`bench: meta_buffer ${mb}: warm-up levels 0-${Math.min(LEVELS, WARMUP_LEVELS)}: ${warmCounts.join(', ')}`);
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 === 1 ? TOOLS : [...TOOLS].reverse();
      for (const t of order) {
        const r = await seedRun(t, mb, round, yaml, seed, upBase, upPid, `r${round}`);
        runs.push(r);
        console.log(`  meta_buffer ${String(mb).padEnd(3)} round ${round}  ${TOOL_LABEL[t].padEnd(16)} ${String(r.files.length).padStart(7)} tiles ${String(r.requests).padStart(6)} req ${r.seconds.toFixed(2).padStart(7)} s ${fx(r.files.length / r.seconds, 0).padStart(6)} tiles/s  CPU ${fx(r.user + r.sys, 1)} s  upstream CPU ${fx(r.upstreamCpu)} s  other load ${fx(r.otherCpu / r.seconds)} cores${r.code === 0 ? '' : `  EXIT ${r.code}`}`);
        if (r.code !== 0) fail(`${TOOL_LABEL[t]} (meta_buffer ${mb}, round ${round}) exited ${r.code}:\n${r.log.split('\n').slice(-15).join('\n')}`);
      }
    }
  }
} catch (e) {
  fail((e as Error).message);
  const t = logTail(upstream, 10);
  if (t.trim()) console.log(`--- upstream log:\n${t}`);
}

// ---------------------------------------------------------------- checks and table

for (const mb of META_BUFFERS) {
  const vr = runs.filter((r) => r.variant === mb);
  if (!vr.length) continue;
  const ref = vr.find((r) => r.tool === 'mapproxy') ?? vr[0];
  const refLevels = perLevel(ref.files);
  for (const r of vr) {
    if (r === ref) continue;
    const who = `${TOOL_LABEL[r.tool]} round ${r.round} vs ${TOOL_LABEL[ref.tool]} round ${ref.round} (meta_buffer ${mb})`;
    if (r.files.length !== ref.files.length) {
      fail(`tile counts differ: ${who}: ${r.files.length} vs ${ref.files.length}\n  per level: ${levelsText(perLevel(r.files))}\n  reference: ${levelsText(refLevels)}`);
      continue;
    }
    const lv = perLevel(r.files);
    if (levelsText(lv) !== levelsText(refLevels)) fail(`tiles per level differ: ${who}:\n  ${levelsText(lv)}\n  ${levelsText(refLevels)}`);
    else {
      const set = new Set(ref.files);
      const other = r.files.filter((f) => !set.has(f));
      if (other.length) fail(`same counts but different tile paths: ${who}: ${other.length} differ, e.g. ${other.slice(0, 3).join(', ')}`);
    }
    if (r.requests !== ref.requests) console.log(`bench: note: upstream requests differ: ${who}: ${r.requests} vs ${ref.requests}`);
  }

  console.log('');
  console.log(`meta_buffer ${mb}: levels 0-${LEVELS}, ${ref.files.length} tiles (${levelsText(refLevels)}), mean of ${ROUNDS} round(s); ratio = ours tiles/s / MapProxy tiles/s (target ${TARGET}x)`);
  console.log('CPU s = user+sys of the child and its workers; cores = CPU s / seconds; tiles/CPUs = tiles per CPU second (less skewed by other load than tiles/s); RSS = peak of the largest process; MiB = tiles written; up CPU = upstream CPU s during the run; other = cores used by other processes meanwhile');
  console.log(HEAD);
  console.log('-'.repeat(HEAD.length));
  const agg = (t: ToolName) => {
    const rs = vr.filter((r) => r.tool === t && r.code === 0);
    if (!rs.length) return undefined;
    return {
      tiles: rs[0].files.length,
      requests: rs[0].requests,
      seconds: mean(rs.map((r) => r.seconds)),
      best: Math.min(...rs.map((r) => r.seconds)),
      user: mean(rs.map((r) => r.user)),
      sys: mean(rs.map((r) => r.sys)),
      maxRss: Math.max(...rs.map((r) => r.maxRss)),
      upstreamCpu: mean(rs.map((r) => r.upstreamCpu)),
      mb: rs[0].bytes / 2 ** 20,
      other: mean(rs.map((r) => r.otherCpu / r.seconds)),
    };
  };
  const mp = TOOLS.includes('mapproxy') ? agg('mapproxy') : undefined;
  const verdicts: string[] = [];
  for (const t of TOOLS) {
    const a = agg(t);
    if (!a) {
      console.log(`${TOOL_LABEL[t].padEnd(18)}  (no successful run)`);
      continue;
    }
    let ratio = '-';
    if (mp && t !== 'mapproxy') {
      const q = a.tiles / a.seconds / (mp.tiles / mp.seconds);
      const qBest = a.tiles / a.best / (mp.tiles / mp.best);
      ratio = `${q.toFixed(2)}x`;
      verdicts.push(`${TOOL_LABEL[t]}: ${q.toFixed(2)}x (best rounds ${qBest.toFixed(2)}x) ${q >= TARGET ? 'ok' : 'BELOW'}`);
    }
    console.log(rowOf(TOOL_LABEL[t], a, ratio));
  }
  if (verdicts.length) console.log(`target ${TARGET}x: ${verdicts.join('; ')}`);
  const upMax = Math.max(...vr.map((r) => r.upstreamCpu / r.seconds));
  console.log(`upstream: at most ${(upMax * 100).toFixed(1)}% of one core during a run${upMax > 0.25 ? ' (high: the upstream may be a bottleneck)' : ''}`);
  const other = Math.max(...vr.map((r) => r.otherCpu / r.seconds));
  if (other > 0.15) console.log(`WARNING: other processes used up to ${other.toFixed(2)} of ${os.cpus().length} cores during a run (this script included, the tools and the upstream not); the figures are skewed, rerun on an idle machine`);
}

await stopProcess(upstream);
cleanup();
if (failed) console.log('\nbench: FAILED (see above)');
process.exit(failed ? 1 : 0);
