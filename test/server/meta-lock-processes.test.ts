/**
 * Meta tile locking across real `mapproxy serve-develop` processes on one
 * cache: concurrent requests for the tiles of one meta tile, spread over
 * several server processes (and several requests per process), cost exactly
 * one upstream GetMap; a lock file left behind by a dead or long-gone holder
 * does not block tile creation, while a live one does.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startWmsUpstream, type WmsUpstream } from '../helpers/wms-upstream.ts';
import { lockFilename } from '../../src/cache/tile-lock.ts';

const root = path.resolve(import.meta.dir, '../..');
const cli = path.join(root, 'cli', 'main.ts');

const SERVERS = 3;
const LAYER = 'meta_EPSG3857';
const CACHE = 'meta_cache';
/** Level with 32x32 tiles: room for several disjoint 4x4 meta tiles. */
const Z = 5;
const UPSTREAM_DELAY_MS = 300;
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function config(upstreamUrl: string, cacheBase: string): string {
  return `
services:
  tms:
    origin: nw
globals:
  cache:
    base_dir: ${JSON.stringify(cacheBase)}
layers:
  - name: meta
    title: Meta tiled
    sources: [${CACHE}]
caches:
  ${CACHE}:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [upstream]
    meta_size: [4, 4]
    meta_buffer: 0
sources:
  upstream:
    type: wms
    req:
      url: ${upstreamUrl}
      layers: base
`;
}

/** A serve-develop child process and what it printed. */
interface ServerProc {
  child: ChildProcess;
  pid: number;
  url: string;
  output: string[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves when the child has exited, or with false after `ms`. */
function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = () => {
      clearTimeout(t);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

/** Signals only the given pid; a process that is already gone is fine. */
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

/** SIGTERM, then SIGKILL if the process is still there after a grace period. */
async function stopProcess(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  signal(pid, 'SIGTERM');
  if (await exited(child, 3000)) return;
  signal(pid, 'SIGKILL');
  await exited(child, 3000);
}

/** Starts `serve-develop CONFIG -b 127.0.0.1:0` and waits for the port it prints. */
async function startServer(configFile: string, cwd: string, started: ChildProcess[]): Promise<ServerProc> {
  const child = spawn(process.execPath, [cli, 'serve-develop', configFile, '-b', '127.0.0.1:0'], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  if (child.pid === undefined) throw new Error('serve-develop did not start');
  const output: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => finish(new Error(`serve-develop printed no address within 10 s:\n${output.join('')}`)), 10000);
    const onData = (b: Buffer) => {
      const s = b.toString('utf8');
      output.push(s);
      seen += s;
      const m = / on (http:\/\/127\.0\.0\.1:\d+)\//.exec(seen);
      if (m) finish(undefined, m[1]);
    };
    const onExit = (code: number | null, sig: string | null) => finish(new Error(`serve-develop exited (${code ?? sig}):\n${output.join('')}`));
    function finish(err: Error | undefined, u?: string) {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(u!);
    }
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
  // keep draining both pipes so a chatty child never blocks on a full pipe
  child.stdout?.on('data', (b: Buffer) => output.push(b.toString('utf8')));
  child.stderr?.on('data', (b: Buffer) => output.push(b.toString('utf8')));
  return { child, pid: child.pid, url, output };
}

/** Polls the TMS capabilities (no upstream involved) until the server answers; bounded. */
async function waitUntilAnswering(s: ServerProc): Promise<void> {
  for (let i = 0; i < 50; i++) {
    try {
      const r = await fetch(`${s.url}/tms/1.0.0/`, { signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer();
      if (r.status === 200) return;
    } catch {
      /* not listening yet */
    }
    await sleep(100);
  }
  throw new Error(`server ${s.url} (pid ${s.pid}) does not answer:\n${s.output.join('')}`);
}

interface TileAnswer {
  status: number;
  type: string | null;
  body: Uint8Array;
  ms: number;
}

async function getTile(server: ServerProc, x: number, y: number, z: number, timeoutMs = 8000): Promise<TileAnswer> {
  const t0 = performance.now();
  const url = `${server.url}/tiles/${LAYER}/${z}/${x}/${y}.png`;
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const body = new Uint8Array(await r.arrayBuffer());
    return { status: r.status, type: r.headers.get('content-type'), body, ms: performance.now() - t0 };
  } catch (e) {
    throw new Error(`GET ${url} (server pid ${server.pid}) failed after ${Math.round(performance.now() - t0)} ms: ${(e as Error).message}`);
  }
}

function assertPng(a: TileAnswer, what: string): void {
  assert.equal(a.status, 200, `${what}: status ${a.status}: ${new TextDecoder().decode(a.body.subarray(0, 300))}`);
  assert.equal(a.type, 'image/png', what);
  assert.deepEqual([...a.body.subarray(0, 8)], PNG_SIGNATURE, `${what}: PNG bytes`);
}

/** The 16 (x, y) tiles of the 4x4 meta tile whose first tile is (mx, my). */
function metaTiles(mx: number, my: number): [number, number][] {
  const out: [number, number][] = [];
  for (let dy = 0; dy < 4; dy++) for (let dx = 0; dx < 4; dx++) out.push([mx + dx, my + dy]);
  return out;
}

/** What tile-lock.ts writes into a lock file, as this machine's tile locks see it. */
function ownerRecord(pid: number, machine: 'this' | 'other'): string {
  const read = (f: () => string) => {
    try {
      return f();
    } catch {
      return undefined;
    }
  };
  const rec =
    machine === 'this'
      ? {
          pid,
          host: os.hostname(),
          boot: read(() => fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()),
          pidns: read(() => fs.readlinkSync('/proc/self/ns/pid')),
          created: new Date().toISOString(),
        }
      : {
          pid,
          host: 'some-other-host.invalid',
          boot: '00000000-0000-4000-8000-000000000000',
          pidns: 'pid:[1]',
          created: new Date(Date.now() - 3600_000).toISOString(),
        };
  return JSON.stringify(rec) + '\n';
}

/** A pid that belonged to a process which has exited (checked; bounded retries against pid reuse). */
function deadPid(): number {
  for (let i = 0; i < 10; i++) {
    const r = spawnSync('true', [], { timeout: 5000 });
    const pid = r.pid;
    if (!pid) continue;
    try {
      process.kill(pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') return pid;
    }
  }
  throw new Error('could not find a dead pid');
}

describe('meta tile lock across serve-develop processes', { timeout: 30000 }, () => {
  let up: WmsUpstream;
  let dir: string;
  let cacheBase: string;
  let lockDir: string;
  let gridCacheDir: string;
  const started: ChildProcess[] = [];
  let servers: ServerProc[] = [];

  const getMaps = () => up.requests.filter((r) => (r.params.request ?? '').toLowerCase() === 'getmap');
  const lockPath = (mx: number, my: number) => path.join(lockDir, lockFilename(gridCacheDir, [mx, my, Z]));
  const diagnostics = () =>
    servers.map((s) => `--- server ${s.url} (pid ${s.pid}), last lines:\n${s.output.join('').split('\n').slice(-15).join('\n')}`).join('\n');

  before(async () => {
    up = await startWmsUpstream();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-meta-lock-'));
    cacheBase = path.join(dir, 'cache_data');
    // MapProxy's defaults: file cache dir <base_dir>/<cache>_<grid srs>, locks in <base_dir>/tile_locks
    gridCacheDir = path.join(cacheBase, `${CACHE}_EPSG3857`);
    lockDir = path.join(cacheBase, 'tile_locks');
    const configFile = path.join(dir, 'mapproxy.yaml');
    fs.writeFileSync(configFile, config(up.url, cacheBase));
    servers = await Promise.all(Array.from({ length: SERVERS }, () => startServer(configFile, dir, started)));
    await Promise.all(servers.map(waitUntilAnswering));
    // Warm each process up (lazy imports, codecs) on a meta tile of its own, so that in the
    // tests below every process really handles its requests while the others create tiles.
    const warm = await Promise.all(servers.map((s, i) => getTile(s, 4 * i, 28, Z)));
    warm.forEach((a, i) => assertPng(a, `warm-up tile of server ${i}`));
    assert.equal(getMaps().length, SERVERS, 'one upstream request per warm-up meta tile');
  });

  after(async () => {
    await Promise.all(started.map(stopProcess));
    await up?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves 16 tiles of one meta tile, requested twice each across all processes at once, with one GetMap', async () => {
    up.requests.length = 0;
    up.delayMs = UPSTREAM_DELAY_MS;
    const tiles = metaTiles(8, 8);
    // 2 requests per tile; consecutive requests (and the two of one tile) go to different processes
    const jobs = [...tiles, ...tiles].map(([x, y], i) => ({ server: i % SERVERS, x, y }));
    const answers = await Promise.all(jobs.map((j) => getTile(servers[j.server], j.x, j.y, Z)));
    answers.forEach((a, i) => assertPng(a, `tile ${jobs[i].x}/${jobs[i].y} from server ${jobs[i].server}`));
    for (let s = 0; s < SERVERS; s++) assert.ok(jobs.some((j) => j.server === s), `server ${s} got requests`);
    const gm = getMaps();
    assert.equal(gm.length, 1, `expected exactly one upstream GetMap, got ${gm.length}: ${gm.map((r) => r.params.bbox).join(' | ')}\n${diagnostics()}`);
    // the one request was for the whole 4x4 meta tile
    assert.equal(gm[0].params.width, '1024');
    assert.equal(gm[0].params.height, '1024');
    // every tile of the meta tile is stored; the lock is gone again
    assert.ok(fs.existsSync(gridCacheDir), 'tiles stored in <base_dir>/<cache>_EPSG3857');
    assert.ok(fs.existsSync(lockDir), 'locks live in <base_dir>/tile_locks');
    assert.ok(!fs.existsSync(lockPath(8, 8)), 'meta tile lock released');
    // and a second round is pure cache hits
    const again = await Promise.all(tiles.map(([x, y], i) => getTile(servers[i % SERVERS], x, y, Z)));
    again.forEach((a) => assertPng(a, 'cached tile'));
    assert.equal(getMaps().length, 1, 'cache hits need no upstream');
  });

  it('waits while another live process holds the meta tile lock file (control)', async () => {
    up.requests.length = 0;
    up.delayMs = 0;
    fs.mkdirSync(lockDir, { recursive: true });
    const file = lockPath(16, 8);
    // held by this test process: alive, fresh mtime
    fs.writeFileSync(file, ownerRecord(process.pid, 'this'), { flag: 'wx' });
    let removed = false;
    try {
      const pending = getTile(servers[0], 17, 9, Z);
      let settled = false;
      void pending.then(
        () => (settled = true),
        () => (settled = true),
      );
      await sleep(800);
      assert.equal(settled, false, 'request must wait for the live lock');
      assert.equal(getMaps().length, 0, 'no upstream request while the lock is held');
      fs.unlinkSync(file);
      removed = true;
      const a = await pending;
      assertPng(a, 'tile after the lock was released');
      assert.equal(getMaps().length, 1);
    } finally {
      if (!removed) fs.rmSync(file, { force: true });
    }
  });

  it('breaks a stale lock file of a dead process on this machine', async () => {
    up.requests.length = 0;
    up.delayMs = UPSTREAM_DELAY_MS;
    fs.mkdirSync(lockDir, { recursive: true });
    const file = lockPath(20, 20);
    // fresh mtime, so only the dead pid makes it stale
    fs.writeFileSync(file, ownerRecord(deadPid(), 'this'), { flag: 'wx' });
    const t0 = performance.now();
    const answers = await Promise.all([getTile(servers[0], 21, 22, Z, 5000), getTile(servers[1 % SERVERS], 23, 20, Z, 5000)]);
    const ms = performance.now() - t0;
    answers.forEach((a) => assertPng(a, 'tile behind a dead-pid lock'));
    assert.ok(ms < 4000, `took ${Math.round(ms)} ms`);
    assert.equal(getMaps().length, 1, `one GetMap for the meta tile\n${diagnostics()}`);
    assert.ok(!fs.existsSync(file), 'the stale lock file was broken (and the new one released)');
  });

  it('breaks a lock file whose mtime is far older than the stale age', async () => {
    up.requests.length = 0;
    up.delayMs = UPSTREAM_DELAY_MS;
    fs.mkdirSync(lockDir, { recursive: true });
    const file = lockPath(24, 20);
    // an owner on another machine (its pid means nothing here): only the age can free it
    fs.writeFileSync(file, ownerRecord(424242, 'other'), { flag: 'wx' });
    const old = new Date(Date.now() - 3600_000);
    fs.utimesSync(file, old, old);
    const t0 = performance.now();
    const answers = await Promise.all([getTile(servers[0], 24, 20, Z, 5000), getTile(servers[1 % SERVERS], 27, 23, Z, 5000)]);
    const ms = performance.now() - t0;
    answers.forEach((a) => assertPng(a, 'tile behind an old lock'));
    assert.ok(ms < 4000, `took ${Math.round(ms)} ms`);
    assert.equal(getMaps().length, 1, `one GetMap for the meta tile\n${diagnostics()}`);
    assert.ok(!fs.existsSync(file), 'the stale lock file was broken (and the new one released)');
  });
});
