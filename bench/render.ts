/**
 * On-demand latency while the same server seeds (issue 7's target):
 *
 *   bun bench/render.ts [--seconds 15] [--workers 2] [--delay-ms 20] [--seed-levels 10-12] [--bin dist/mapproxy]
 *
 * One `mapproxy serve` (from source, or --bin) with the seeding API on, in
 * front of bench/wms-upstream.ts (own process, --delay-ms latency per GetMap,
 * like a rendering WMS). Levels 0-6 are seeded first (5,461 cached tiles).
 * Then, twice (without and with a seed job of >100k tiles submitted to
 * POST /admin/seed running on the same server):
 *   - cached:   wrk -t1 -c16 at random cached tile URLs;
 *   - uncached: wrk -t1 -c2 at level-14 tiles never asked before (each
 *     request a new 4x4 meta tile, so each one is a full tile creation).
 * Prints p50/p99/requests per second per phase, the seed's tiles/s meanwhile,
 * and the targets: cached p99 rises by < 20 %, uncached p99 by less than one
 * tile-creation time (the uncached p50 without the seed). Below a target is
 * reported, not failed; a phase that could not run exits 1.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { freePort, have, killAllSync, logTail, rng, rotatingLua, runWrk, startProcess, stopProcess, waitFor, type Child, type WrkResult } from './lib-bench.ts';

const { values: opt } = parseArgs({
  options: {
    seconds: { type: 'string', default: '15' },
    workers: { type: 'string', default: '2' },
    'delay-ms': { type: 'string', default: '20' },
    'seed-levels': { type: 'string', default: '10-12' },
    bin: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(opt.seconds);
const TOKEN = 'bench-token';
const root = path.resolve(import.meta.dir, '..');
if (!have('wrk')) {
  console.error('bench: wrk not found (apt-get install wrk)');
  process.exit(1);
}
const bun = process.execPath;
const mapproxy = opt.bin ? [path.resolve(opt.bin)] : [bun, path.join(root, 'cli', 'main.ts')];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-render-'));
const children: Child[] = [];
process.on('exit', () => {
  killAllSync();
  if (!opt.keep) fs.rmSync(dir, { recursive: true, force: true });
});

const upPort = await freePort();
const up = startProcess('upstream', bun, [path.join(root, 'bench', 'wms-upstream.ts'), String(upPort), '1024x1024', `--delay-ms=${opt['delay-ms']}`], { cwd: dir, log: path.join(dir, 'upstream.log') });
children.push(up);
await waitFor(`http://127.0.0.1:${upPort}/stats`, 60_000, up);

fs.writeFileSync(
  path.join(dir, 'mapproxy.yaml'),
  `services:
  tms:
  admin:
    token: ${TOKEN}
globals:
  cache:
    base_dir: ${JSON.stringify(path.join(dir, 'cache_data'))}
layers:
  - name: osm
    title: OSM
    sources: [osm_cache]
caches:
  osm_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [up]
    meta_size: [4, 4]
    meta_buffer: 0
sources:
  up:
    type: wms
    req:
      url: http://127.0.0.1:${upPort}/service?
      layers: base
`,
);

// the cached set: levels 0-6
const pre = spawnSync(mapproxy[0], [...mapproxy.slice(1), 'seed', '-f', 'mapproxy.yaml', '--cache', 'osm_cache', '--levels', '0-6', '-c', '2', '-q'], { cwd: dir, encoding: 'utf8', timeout: 600_000 });
if (pre.status !== 0) {
  console.error(`bench: pre-seeding failed:\n${pre.stdout}${pre.stderr}`);
  process.exit(1);
}
const rand = rng(7);
const cached: string[] = [];
for (let z = 0; z <= 6; z++) for (let x = 0; x < 2 ** z; x++) for (let y = 0; y < 2 ** z; y++) cached.push(`/tiles/osm/EPSG3857/${z}/${x}/${y}.png`);
for (let i = cached.length - 1; i > 0; i--) {
  const j = Math.floor(rand() * (i + 1));
  [cached[i], cached[j]] = [cached[j], cached[i]];
}
const cachedLua = path.join(dir, 'cached.lua');
fs.writeFileSync(cachedLua, rotatingLua(cached));

/** Level-14 tiles, each in its own meta tile, starting at a row no other phase uses. */
function uncachedLua(row: number): string {
  const file = path.join(dir, `uncached-${row}.lua`);
  fs.writeFileSync(
    file,
    `local i = 0
request = function()
  i = i + 1
  local x = (i * 4) % 16384
  local y = ${row} + 4 * math.floor(i * 4 / 16384)
  return wrk.format(nil, "/tiles/osm/EPSG3857/14/" .. x .. "/" .. y .. ".png")
end
`,
  );
  return file;
}

const port = await freePort();
const server = startProcess('mapproxy serve', mapproxy[0], [...mapproxy.slice(1), 'serve', 'mapproxy.yaml', '-b', `127.0.0.1:${port}`, '-w', opt.workers!], { cwd: dir, log: path.join(dir, 'serve.log') });
children.push(server);
const base = `http://127.0.0.1:${port}`;
await waitFor(`${base}/tiles/osm/EPSG3857/0/0/0.png`, 60_000, server);
// warm-up: every worker has read some tiles and made some
runWrk(base, { lua: cachedLua, seconds: 2, threads: 1, connections: 8 });
runWrk(base, { lua: uncachedLua(4000), seconds: 2, threads: 1, connections: 2 });

interface Phase {
  cached: WrkResult;
  uncached: WrkResult;
  seedTilesPerS?: number;
}

function measure(row: number): { cached: WrkResult; uncached: WrkResult } {
  const c = runWrk(base, { lua: cachedLua, seconds: SECONDS, threads: 1, connections: 16 });
  const u = runWrk(base, { lua: uncachedLua(row), seconds: SECONDS, threads: 1, connections: 2 });
  for (const [n, r] of [['cached', c], ['uncached', u]] as const) {
    if (!(r.requests > 0) || r.non2xx > 0) {
      console.error(`bench: ${n} phase failed (${r.requests} requests, ${r.non2xx} non-2xx):\n${r.raw}\n${logTail(server)}`);
      process.exit(1);
    }
  }
  return { cached: c, uncached: u };
}

async function admin(method: string, p: string, body?: unknown): Promise<any> {
  const r = await fetch(base + p, { method, headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' }, body: body ? JSON.stringify(body) : undefined, signal: AbortSignal.timeout(10_000) });
  const j = await r.json();
  if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(j)}`);
  return j;
}

const without: Phase = measure(6000);

// ~300x300 tiles at level 12 (and what lies above at 10 and 11): > 100k tiles
const span = 300 * (40075016.68557849 / 4096);
const job = await admin('POST', '/admin/seed', { cache: 'osm_cache', levels: opt['seed-levels'], bbox: [0, 0, span, span], bbox_srs: 'EPSG:3857', concurrency: 2 });
let progress: any;
for (let i = 0; i < 300; i++) {
  progress = await admin('GET', `/admin/jobs/${job.id}`);
  if ((progress.progress?.done ?? 0) > 0) break;
  await new Promise((r) => setTimeout(r, 100));
}
if (!((progress?.progress?.done ?? 0) > 0)) {
  console.error(`bench: the seed job did not start: ${JSON.stringify(progress)}\n${logTail(server)}`);
  process.exit(1);
}
const d0 = progress.progress.done;
const t0 = performance.now();
const withSeed: Phase = measure(8000);
const after = await admin('GET', `/admin/jobs/${job.id}`);
withSeed.seedTilesPerS = (after.progress.done - d0) / ((performance.now() - t0) / 1000);
const total = after.progress.total;
await admin('DELETE', `/admin/jobs/${job.id}`);
for (const c of children.reverse()) await stopProcess(c);

const f = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '-');
console.log(`bench: serve -w ${opt.workers}, upstream latency ${opt['delay-ms']} ms, ${SECONDS} s per run, ${os.cpus().length} cores; seed job levels ${opt['seed-levels']}, ${total} tiles`);
console.log('phase            | cached p50 | cached p99 | cached req/s | uncached p50 | uncached p99 | uncached req/s | seed tiles/s');
for (const [name, p] of [['without seed', without], ['with seed', withSeed]] as const) {
  console.log(`${name.padEnd(16)} | ${f(p.cached.p50).padStart(10)} | ${f(p.cached.p99).padStart(10)} | ${p.cached.rps.toFixed(0).padStart(12)} | ${f(p.uncached.p50).padStart(12)} | ${f(p.uncached.p99).padStart(12)} | ${p.uncached.rps.toFixed(0).padStart(14)} | ${p.seedTilesPerS?.toFixed(0) ?? '-'}`);
}
const cachedRise = withSeed.cached.p99 / without.cached.p99 - 1;
const creation = without.uncached.p50;
const uncachedRise = withSeed.uncached.p99 - without.uncached.p99;
console.log(`cached p99 rise: ${(cachedRise * 100).toFixed(1)} % (target < 20 %): ${cachedRise < 0.2 ? 'met' : 'NOT met'}`);
console.log(`uncached p99 rise: ${uncachedRise.toFixed(1)} ms, one tile creation ${creation.toFixed(1)} ms (target: rise < one creation): ${uncachedRise < creation ? 'met' : 'NOT met'}`);
